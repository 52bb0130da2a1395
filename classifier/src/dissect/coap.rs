//! CoAP (RFC 7252) on UDP port 5683 (either side). The 4-byte header:
//! version 1, type, token length 0..=8, a code of class 0 (request),
//! 2, 4 or 5 (response), a message id; then the token and options, each
//! option a delta/length byte (nibble 15 reserved, 13 and 14 extended by
//! one or two bytes), up to the end or the payload marker 0xFF. The
//! options must walk to exactly one of those. An empty message (code
//! 0.00) is the header alone.

use super::{Dissector, Parse, Payloads, Probe, Transport};
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

impl Dissector for Coap {
    fn name(&self) -> &'static str {
        "coap"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && message(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
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
    use crate::dissect::{check_split_udp, UdpFixture};

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

    #[test]
    fn not_coap() {
        let cases: [(u16, &[u8]); 6] = [
            (9999, &[0x40, 0x01, 0, 1]),
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
