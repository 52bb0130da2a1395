//! CoAP (RFC 7252). The 4-byte header: version 1, type, token length
//! 0..=8, a code of class 0 (request), 2, 4 or 5 (response), a message
//! id; then the token and options, each option a delta/length byte
//! (nibble 15 reserved, 13 and 14 extended by one or two bytes), up to
//! the end or the payload marker 0xFF. The options must walk to exactly
//! one of those. An empty message (code 0.00) is the header alone.
//!
//! On UDP port 5683 (either side) the first message decides. On any
//! other port one well-formed message is too weak a shape, so the
//! exchange must be seen: the originator's first datagram a confirmable
//! request (type CON, a method code) and the responder's first an
//! acknowledgement (type ACK) carrying the same message id and, unless
//! it is an empty ACK, the same token (RFC 7252 §4.2, §5.2.1). That is
//! how coap_mqtt.pcap's CoAP server on UDP 17500 is named (nDPI calls
//! those flows Dropbox: its rule matches the text "Bus17Cmd" in a
//! datagram from port 17500, here a CoAP Uri-Path). Cleartext (DTLS-
//! secured CoAP is DTLS on the wire, taken by the DTLS dissector).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Coap;

const PORT: u16 = 5683;
const HEADER: usize = 4;

/// Reads an option's extended nibble at `off`: (value, next offset).
fn extended(d: &[u8], nibble: u8, off: usize) -> Option<(usize, usize)> {
    match nibble {
        0..=12 => Some((usize::from(nibble), off)),
        13 => Some((usize::from(*d.get(off)?) + 13, off + 1)),
        14 => Some((
            usize::from(u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?])) + 269,
            off + 2,
        )),
        _ => None,
    }
}

/// Message types (RFC 7252 §3).
const CON: u8 = 0;
const ACK: u8 = 2;

/// The code (class, detail) when `d` is a whole CoAP message.
fn message(d: &[u8]) -> Option<(u8, u8)> {
    let b0 = *d.first()?;
    let code = *d.get(1)?;
    d.get(..HEADER)?;
    let (version, tkl) = (b0 >> 6, usize::from(b0 & 0x0f));
    let (class, detail) = (code >> 5, code & 0x1f);
    if version != 1 || tkl > 8 || !matches!(class, 0 | 2 | 4 | 5) {
        return None;
    }
    if code == 0 {
        return (tkl == 0 && d.len() == HEADER).then_some((0, 0));
    }
    if class == 0 && !(1..=7).contains(&detail) {
        return None;
    }
    let mut off = HEADER + tkl;
    if off > d.len() {
        return None;
    }
    while off < d.len() {
        let b = d[off];
        if b == 0xff {
            // A payload marker must be followed by a payload.
            return (off + 1 < d.len()).then_some((class, detail));
        }
        let (_, o) = extended(d, b >> 4, off + 1)?;
        let (len, o) = extended(d, b & 0x0f, o)?;
        off = o.checked_add(len)?;
    }
    (off == d.len()).then_some((class, detail))
}

/// The type, message id and token of a whole message `d`.
fn ids(d: &[u8]) -> Option<(u8, u16, &[u8])> {
    let tkl = usize::from(*d.first()? & 0x0f);
    let id = u16::from_be_bytes([*d.get(2)?, *d.get(3)?]);
    Some(((d[0] >> 4) & 3, id, d.get(HEADER..HEADER + tkl)?))
}

/// Off the CoAP port: the originator's first message is a confirmable
/// request and the responder's first acknowledges it (same message id;
/// same token unless empty). `None`: no answer yet.
fn exchange(p: &Payloads<'_>) -> Option<bool> {
    let q = p.orig.first();
    let (Some((0, 1..)), Some((CON, q_id, q_token))) = (message(q), ids(q)) else {
        return Some(false);
    };
    let a = p.resp.first();
    if a.is_empty() {
        return None;
    }
    let (Some((a_class, _)), Some((ACK, a_id, a_token))) = (message(a), ids(a)) else {
        return Some(false);
    };
    // An empty ACK (the response to follow on its own) has no token.
    let empty = a_class == 0 && a.len() == HEADER;
    Some(a_id == q_id && (empty || a_class != 0 && a_token == q_token))
}

/// The first bytes `message` admits: version 1, any type, a token
/// length of at most 8.
const FIRST: ByteSet = ByteSet::range(0x40, 0x48)
    .union(ByteSet::range(0x50, 0x58))
    .union(ByteSet::range(0x60, 0x68))
    .union(ByteSet::range(0x70, 0x78));

impl Dissector for Coap {
    fn name(&self) -> &'static str {
        "coap"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if message(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// `message` admits only version 1 and a token length of 0..=8
    /// (`FIRST`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(FIRST)
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            match exchange(p) {
                Some(true) => {}
                Some(false) => return Parse::NotMine,
                None => return p.undecided(),
            }
        }
        let Some((class, detail)) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("coap");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("coap_code", format!("{class}.{detail:02}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    #[test]
    fn get_with_uri_path() {
        // CON GET, token 2 bytes, Uri-Path "sensors" (option 11), "temp".
        let mut d = vec![0x42, 0x01, 0x12, 0x34, 0xaa, 0xbb, 0xb7];
        d.extend_from_slice(b"sensors");
        d.push(0x04);
        d.extend_from_slice(b"temp");
        let (r, m) = check_split_udp(&Coap, 40000, PORT, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("coap"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("coap_code"), Some("0.01"));
        // ACK 2.05 Content with a payload.
        let a = [0x60u8, 0x45, 0x12, 0x34, 0xc1, 0x00, 0xff, b'2', b'2'];
        let (_, m) = check_split_udp(&Coap, PORT, 40000, &[&a], &[]);
        assert_eq!(m.extra("coap_code"), Some("2.05"));
        let (_, m) = check_split_udp(&Coap, 40000, PORT, &[&[0x70, 0, 0, 1]], &[]);
        assert_eq!(m.extra("coap_code"), Some("0.00"));
    }

    /// coap_mqtt.pcap, 192.168.56.1:50311 → 192.168.56.101:17500: a CON
    /// PUT (token 6f524d, Uri-Port 17500, Uri-Path "r" "Bus17Cmd",
    /// Content-Format 50, a JSON payload) and its piggybacked ACK 2.04
    /// (Location-Path "/r/Bus17Cmd").
    fn bus_put() -> Vec<u8> {
        let mut d = unhex("43033501 6f524d 72445c 4172 08 4275733137436d64 1132 ff");
        d.extend_from_slice(br#"{"messageType":"UPDATE","messageContent":"Fri Feb 19 20:41:11 EET 2016"}"#);
        d
    }
    const BUS_ACK: &str = "63443501 6f524d 8b 2f722f4275733137436d64";

    #[test]
    fn exchange_off_port() {
        let (q, a) = (bus_put(), unhex(BUS_ACK));
        let (r, m) = check_split_udp(&Coap, 50311, 17500, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("coap"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("coap_code"), Some("0.03"));
        // An empty ACK (separate response to follow) also answers it.
        let (r, _) = check_split_udp(&Coap, 50311, 17500, &[&q], &[&[0x60, 0, 0x35, 0x01]]);
        assert_eq!(r, Parse::Done);
        // The request alone waits for the answer, and is let go at the end.
        let f = UdpFixture::new(50311, 17500, &[&q], &[]);
        assert_eq!(Coap.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let mut last = f.payloads();
        last.last = true;
        assert_eq!(Coap.parse(&last, &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn not_an_exchange_off_port() {
        let (q, a) = (bus_put(), unhex(BUS_ACK));
        let mut other_id = a.clone();
        other_id[3] ^= 1;
        let mut other_token = a.clone();
        other_token[6] ^= 1;
        let mut con_answer = a.clone();
        con_answer[0] = 0x43;
        let mut non_request = q.clone();
        non_request[0] = 0x53;
        let mut response_first = a.clone();
        response_first[0] = 0x43;
        let cases: [(&[u8], &[u8]); 5] = [
            (&q, &other_id),
            (&q, &other_token),
            (&q, &con_answer),
            (&non_request, &a),
            (&response_first, &q),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(50311, 17500, &[o], &[r]);
            assert!(!crate::dissect::not_refused(&Coap, &f.payloads()), "{o:?} {r:?}");
        }
        // The same exchange on the CoAP port needs no answer.
        let f = UdpFixture::new(50311, PORT, &[&non_request], &[]);
        assert!(crate::dissect::not_refused(&Coap, &f.payloads()));
    }

    #[test]
    fn not_coap() {
        let cases: [(u16, &[u8]); 6] = [
            (PORT, &[0x40, 0x02, 0, 1, 0xf0]),
            (PORT, &[0x80, 0x01, 0, 1]),
            (PORT, &[0x49, 0x01, 0, 1]),
            (PORT, &[0x40, 0x61, 0, 1]),
            (PORT, &[0x40, 0x01, 0, 1, 0xb7, b'a']),
            (PORT, &[0x40, 0x01, 0, 1, 0xff]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Coap, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
