//! TLS over TCP with a chosen server name: ClientHello (sometimes cut over
//! 2-3 segments); TLS 1.3 (ServerHello + ChangeCipherSpec + encrypted
//! handshake, client Finished) or, for 30%, TLS 1.2 (cleartext
//! Certificate, ServerKeyExchange, ServerHelloDone); application data.

use anyhow::Result;

use super::names;
use super::net::{Capture, Place, Tcp};
use super::rng::Rng;
use super::tls_msg::{self, HelloSpec};
use super::truth::{Enc, Kind, Truth};

/// Cut points that split `len` bytes into 1..=3 pieces (mostly 1).
pub fn cuts(rng: &mut Rng, len: usize) -> Vec<usize> {
    match rng.below(5) {
        0 if len > 10 => vec![rng.usize(1, len)],
        1 if len > 10 => {
            let a = rng.usize(1, len / 2);
            vec![a, rng.usize(a + 1, len)]
        }
        _ => vec![],
    }
}

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place) -> Result<Truth> {
    let (sni, app) = names::site(rng);
    let port = if rng.chance(0.9) { 443 } else { 8443 };
    let ends = cap.ends(rng, place, port, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    let alpn: &[&str] = if rng.chance(0.8) {
        &["h2", "http/1.1"]
    } else {
        &["http/1.1"]
    };
    let spec = HelloSpec {
        sni: &sni,
        alpn,
        quic_tp: None,
        pad_to: rng.chance(0.5).then_some(512),
    };
    let ch = tls_msg::client_hello(rng, &spec);
    let rec = tls_msg::record(tls_msg::HANDSHAKE, 0x0301, &ch);
    let c = cuts(rng, rec.len());
    t.send_cut(true, &rec, &c)?;
    if rng.chance(0.3) {
        // TLS 1.2: cleartext Certificate, ServerKeyExchange, ServerHelloDone;
        // client key exchange, CCS and Finished; server CCS and Finished.
        let sh = tls_msg::server_hello_12(rng, tls_msg::session_id_of(&ch), alpn.first().copied());
        let mut msgs = sh;
        let cert_len = rng.usize(700, 2000);
        msgs.extend_from_slice(&tls_msg::server_cert_flight_12(rng, cert_len));
        t.send(false, &tls_msg::record(tls_msg::HANDSHAKE, 0x0303, &msgs))?;
        let mut cke = vec![32];
        cke.extend_from_slice(&rng.array::<32>());
        let mut c = tls_msg::record(tls_msg::HANDSHAKE, 0x0303, &tls_msg::handshake(16, &cke));
        c.extend_from_slice(&tls_msg::ccs());
        c.extend_from_slice(&tls_msg::record(tls_msg::HANDSHAKE, 0x0303, &rng.bytes(40)));
        t.send(true, &c)?;
        let mut f = tls_msg::ccs();
        f.extend_from_slice(&tls_msg::record(tls_msg::HANDSHAKE, 0x0303, &rng.bytes(40)));
        t.send(false, &f)?;
    } else {
        // TLS 1.3: ServerHello, CCS, encrypted handshake records.
        let sh = tls_msg::server_hello(rng, tls_msg::session_id_of(&ch));
        let mut flight = tls_msg::record(tls_msg::HANDSHAKE, 0x0303, &sh);
        flight.extend_from_slice(&tls_msg::ccs());
        for _ in 0..rng.range(1, 4) {
            let n = rng.usize(60, 1800);
            flight.extend_from_slice(&tls_msg::app_data(rng, n));
        }
        t.send(false, &flight)?;
        let mut fin = tls_msg::ccs();
        fin.extend_from_slice(&tls_msg::app_data(rng, 53));
        t.send(true, &fin)?;
    }
    for _ in 0..rng.range(1, 3) {
        let n = rng.usize(80, 700);
        t.send(true, &tls_msg::app_data(rng, n))?;
        let n = rng.usize(100, 3000);
        t.send(false, &tls_msg::app_data(rng, n))?;
        t.ack(true)?;
        t.pause(100);
    }
    let pk = t.close()?;
    let mut tr = Truth::new(Kind::Tls, &ends, true, "tls", Enc::Encrypted)
        .app(app, app.is_some())
        .pkts(pk);
    tr.sni = Some(sni);
    Ok(tr)
}
