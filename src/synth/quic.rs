//! QUIC v1: client Initial(s) protected per RFC 9001 carrying a
//! ClientHello with the chosen server name in CRYPTO frames, padded to
//! 1200 bytes, sometimes split over two Initials; a server Initial
//! (ServerHello, protected with the server Initial keys) coalesced with a
//! Handshake packet; then 1-RTT short-header packets both ways.

use anyhow::Result;

use super::names;
use super::net::{Capture, Place, Udp};
use super::quic_crypto::{self, varint, Keys};
use super::rng::Rng;
use super::tls_msg::{self, HelloSpec};
use super::truth::{Enc, Kind, Truth};

/// Smallest client Initial datagram (RFC 9000 §14.1).
pub const MIN_INITIAL: usize = 1200;

fn transport_params(scid: &[u8]) -> Vec<u8> {
    let mut tp = Vec::new();
    let mut param = |id: u64, v: &[u8]| {
        varint(id, &mut tp);
        varint(v.len() as u64, &mut tp);
        tp.extend_from_slice(v);
    };
    let num = |x: u64| {
        let mut b = Vec::new();
        varint(x, &mut b);
        b
    };
    param(0x01, &num(30_000)); // max_idle_timeout
    param(0x04, &num(15_728_640)); // initial_max_data
    param(0x05, &num(6_291_456)); // initial_max_stream_data_bidi_local
    param(0x06, &num(6_291_456));
    param(0x07, &num(6_291_456));
    param(0x08, &num(100)); // initial_max_streams_bidi
    param(0x09, &num(103));
    param(0x0f, scid); // initial_source_connection_id
    tp
}

fn crypto_frame(offset: usize, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    varint(offset as u64, &mut f);
    varint(data.len() as u64, &mut f);
    f.extend_from_slice(data);
    f
}

/// A protected Initial packet with `frames`, padded (PADDING frames) so the
/// packet is `pad_to` bytes long when given.
pub fn initial(
    keys: &Keys,
    dcid: &[u8],
    scid: &[u8],
    pn: u64,
    frames: &[u8],
    pad_to: Option<usize>,
) -> Result<Vec<u8>> {
    let pn_len = if pn < 256 { 1 } else { 2 };
    let mut h = vec![0xc0 | (pn_len as u8 - 1)];
    h.extend_from_slice(&1u32.to_be_bytes());
    h.push(dcid.len() as u8);
    h.extend_from_slice(dcid);
    h.push(scid.len() as u8);
    h.extend_from_slice(scid);
    h.push(0); // token length
               // Length is written as a 2-byte varint: header size known up front.
    let fixed = h.len() + 2 + pn_len + 16;
    let mut payload = frames.to_vec();
    if let Some(t) = pad_to {
        if fixed + payload.len() < t {
            payload.resize(t - fixed, 0);
        }
    }
    // A header protection sample needs 4 + 16 bytes after the pn.
    if payload.len() + pn_len < 4 {
        payload.resize(4 - pn_len, 0);
    }
    let len = (pn_len + payload.len() + 16) as u16;
    h.extend_from_slice(&(len | 0x4000).to_be_bytes());
    h.extend_from_slice(&pn.to_be_bytes()[8 - pn_len..]);
    quic_crypto::protect(keys, &h, pn, pn_len, &payload)
}

/// A Handshake packet whose payload is opaque (its keys come from the
/// TLS key exchange, which a passive observer cannot follow).
fn handshake_packet(rng: &mut Rng, dcid: &[u8], scid: &[u8], len: usize) -> Vec<u8> {
    let mut p = vec![0xe0 | (rng.u8() & 0x0f)];
    p.extend_from_slice(&1u32.to_be_bytes());
    p.push(dcid.len() as u8);
    p.extend_from_slice(dcid);
    p.push(scid.len() as u8);
    p.extend_from_slice(scid);
    varint(len as u64, &mut p);
    p.extend_from_slice(&rng.bytes(len));
    p
}

/// A 1-RTT short-header packet.
fn short_packet(rng: &mut Rng, dcid: &[u8], len: usize) -> Vec<u8> {
    let mut p = vec![0x40 | (rng.u8() & 0x3f)];
    p.extend_from_slice(dcid);
    p.extend_from_slice(&rng.bytes(len));
    p
}

/// The client's first flight: one or two Initial datagrams of 1200 bytes.
pub fn client_initials(rng: &mut Rng, sni: &str, dcid: &[u8], scid: &[u8], split: bool) -> Result<Vec<Vec<u8>>> {
    let spec = HelloSpec {
        sni,
        alpn: &["h3"],
        quic_tp: Some(transport_params(scid)),
        pad_to: None,
    };
    let ch = tls_msg::client_hello(rng, &spec);
    let keys = quic_crypto::initial_keys(dcid, true)?;
    let parts: Vec<(usize, &[u8])> = if split {
        let cut = rng.usize(40, ch.len() - 20);
        vec![(0, &ch[..cut]), (cut, &ch[cut..])]
    } else {
        vec![(0, &ch[..])]
    };
    let mut out = Vec::new();
    for (pn, (off, data)) in parts.into_iter().enumerate() {
        out.push(initial(
            &keys,
            dcid,
            scid,
            pn as u64,
            &crypto_frame(off, data),
            Some(MIN_INITIAL),
        )?);
    }
    Ok(out)
}

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place) -> Result<Truth> {
    let (sni, app) = names::site(rng);
    let ends = cap.ends(rng, place, 443, false);
    let mut u = Udp::new(cap, rng, ends, place.t0_ns);
    let dcid = rng.array::<8>();
    let scid = rng.array::<8>();
    let server_cid = rng.array::<8>();
    let split = rng.chance(0.3);
    let initials = client_initials(rng, &sni, &dcid, &scid, split)?;
    let n_initials = initials.len() as u64;
    for d in &initials {
        u.send(true, d)?;
    }
    // Server: Initial (ACK + ServerHello) coalesced with a Handshake packet.
    let skeys = quic_crypto::initial_keys(&dcid, false)?;
    let mut frames = vec![0x02];
    varint(n_initials - 1, &mut frames); // largest acknowledged
    frames.extend_from_slice(&[0x00, 0x00]); // ack delay, range count
    varint(n_initials - 1, &mut frames); // first range
    let sh = tls_msg::server_hello(rng, &[]);
    frames.extend_from_slice(&crypto_frame(0, &sh));
    let mut dgram = initial(&skeys, &scid, &server_cid, 0, &frames, None)?;
    let hs_len = MIN_INITIAL.saturating_sub(dgram.len() + 30).max(40);
    dgram.extend_from_slice(&handshake_packet(rng, &scid, &server_cid, hs_len));
    u.send(false, &dgram)?;
    if rng.chance(0.5) {
        let n = rng.usize(300, 1100);
        u.send(false, &handshake_packet(rng, &scid, &server_cid, n))?;
    }
    // Client Handshake (Finished), then 1-RTT traffic.
    let n = rng.usize(60, 120);
    u.send(true, &handshake_packet(rng, &server_cid, &scid, n))?;
    for _ in 0..rng.range(1, 3) {
        let n = rng.usize(30, 400);
        u.send(true, &short_packet(rng, &server_cid, n))?;
        for _ in 0..rng.range(1, 4) {
            let n = rng.usize(30, 900);
            u.send(false, &short_packet(rng, &scid, n))?;
        }
        u.pause(80);
    }
    let mut tr = Truth::new(Kind::Quic, &ends, false, "quic", Enc::Encrypted)
        .app(app, app.is_some())
        .pkts(u.pkts);
    tr.sni = Some(sni);
    Ok(tr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our Initials decrypt with the RFC 9001 keys and carry the
    /// ClientHello (with the server name) in CRYPTO frames.
    #[test]
    fn initials_decrypt_to_the_client_hello() {
        let mut rng = Rng::new(21);
        for split in [false, true] {
            let dcid = rng.array::<8>();
            let scid = rng.array::<8>();
            let ds = client_initials(&mut rng, "quic.example.net", &dcid, &scid, split).unwrap();
            assert_eq!(ds.len(), if split { 2 } else { 1 });
            let keys = quic_crypto::initial_keys(&dcid, true).unwrap();
            let mut crypto = Vec::new();
            for (i, d) in ds.iter().enumerate() {
                assert_eq!(d.len(), MIN_INITIAL);
                let (pn, plain) = quic_crypto::unprotect_initial(d, &keys).unwrap();
                assert_eq!(pn, i as u64);
                assert_eq!(plain[0], 0x06);
                let (off, n1) = quic_crypto::read_varint(&plain[1..]).unwrap();
                let (len, n2) = quic_crypto::read_varint(&plain[1 + n1..]).unwrap();
                assert_eq!(off as usize, crypto.len());
                let start = 1 + n1 + n2;
                crypto.extend_from_slice(&plain[start..start + len as usize]);
                assert!(plain[start + len as usize..].iter().all(|&b| b == 0));
            }
            assert_eq!(crypto[0], 1);
            let needle = b"quic.example.net";
            assert!(crypto.windows(needle.len()).any(|w| w == needle));
            let ch_len = u32::from_be_bytes([0, crypto[1], crypto[2], crypto[3]]) as usize;
            assert_eq!(ch_len + 4, crypto.len());
        }
    }
}
