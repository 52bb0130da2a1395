//! MTProxy fake-TLS: a ClientHello naming a popular non-Telegram domain
//! (padded to a 517-byte record, as MTProxy clients send it), then the
//! fixed server flight ServerHello, ChangeCipherSpec and one application
//! data record in one burst; then obfuscated2 inside application data
//! records. Telegram, but only heuristically: nothing in the payload
//! proves it without the proxy secret.

use anyhow::Result;

use super::names;
use super::net::{Capture, Place, Tcp};
use super::obfs2;
use super::rng::Rng;
use super::tls_msg::{self, HelloSpec};
use super::truth::{Enc, Kind, Truth};

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place) -> Result<Truth> {
    let sni = *rng.pick(&names::FRONTING);
    let port = if rng.chance(0.7) {
        443
    } else {
        rng.range(1024, 65535) as u16
    };
    let ends = cap.ends(rng, place, port, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    let spec = HelloSpec {
        sni,
        alpn: &["h2", "http/1.1"],
        quic_tp: None,
        pad_to: Some(512),
    };
    let ch = tls_msg::client_hello(rng, &spec);
    t.send(true, &tls_msg::record(tls_msg::HANDSHAKE, 0x0301, &ch))?;
    let mut flight = tls_msg::record(
        tls_msg::HANDSHAKE,
        0x0303,
        &tls_msg::server_hello_mtproxy(rng, tls_msg::session_id_of(&ch)),
    );
    flight.extend_from_slice(&tls_msg::ccs());
    let n = rng.usize(1024, 2900);
    flight.extend_from_slice(&tls_msg::record(tls_msg::APPLICATION_DATA, 0x0303, &rng.bytes(n)));
    t.send(false, &flight)?;
    // Client: CCS, then the obfuscated2 stream in application data records.
    let tag = *rng.pick(&[obfs2::TAG_ABRIDGED, obfs2::TAG_INTERMEDIATE, obfs2::TAG_PADDED]);
    let (c2s, s2c) = obfs2::stream(rng, tag)?;
    let mut first = tls_msg::ccs();
    if let Some(m) = c2s.first() {
        first.extend_from_slice(&tls_msg::record(tls_msg::APPLICATION_DATA, 0x0303, m));
    }
    t.send(true, &first)?;
    for i in 0..s2c.len().max(c2s.len()) {
        if let Some(m) = s2c.get(i) {
            t.send(false, &tls_msg::record(tls_msg::APPLICATION_DATA, 0x0303, m))?;
        }
        if let Some(m) = c2s.get(i + 1) {
            t.send(true, &tls_msg::record(tls_msg::APPLICATION_DATA, 0x0303, m))?;
        }
        t.pause(60);
    }
    let pk = t.close()?;
    let mut tr = Truth::new(Kind::FakeTls, &ends, true, "tls", Enc::Encrypted)
        .app(Some("telegram"), false)
        .pkts(pk);
    tr.sni = Some(sni.to_string());
    Ok(tr)
}
