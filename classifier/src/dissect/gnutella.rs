//! Gnutella over UDP, on any port (peers pick their own).
//!
//! Two framings:
//! - Gnutella 0.6 descriptors (and the Mojito DHT, which reuses them):
//!   a 16-byte message id, a payload type, TTL and hops (Mojito: a
//!   version), and a little-endian 32-bit payload length that must
//!   account for the rest of the datagram exactly.
//! - Gnutella2 (G2) UDP: `GND`, flags (deflate, acknowledge, ...; the top
//!   three bits zero), a sequence number, part number and part count
//!   (`part <= count`; an acknowledgement has count 0).
//!
//! Gnutella over TCP opens with the text handshake `GNUTELLA CONNECT/`:
//! left to the cleartext heuristic.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Gnutella;

const HEADER: usize = 23;
/// Largest TTL + hops of a descriptor.
const MAX_TTL: u8 = 16;

/// The framing `d` is, if any.
fn framing(d: &[u8]) -> Option<&'static str> {
    if d.starts_with(b"GND") {
        let (&flags, &part, &count) = (d.get(3)?, d.get(6)?, d.get(7)?);
        return (flags & 0xe0 == 0 && part >= 1 && (count == 0 || part <= count)).then_some("g2");
    }
    let kind = *d.get(16)?;
    let (ttl, hops) = (*d.get(17)?, *d.get(18)?);
    let len = u32::from_le_bytes([*d.get(19)?, *d.get(20)?, *d.get(21)?, *d.get(22)?]);
    let exact = usize::try_from(len).ok()? == d.len() - HEADER;
    let descriptor = match kind {
        // Ping, pong, bye, push, query, query hit, (route table) update.
        0x00 | 0x01 | 0x02 | 0x30 | 0x31 | 0x40 | 0x80 | 0x81 => {
            ttl <= MAX_TTL && hops <= MAX_TTL && ttl.saturating_add(hops) <= MAX_TTL && ttl + hops > 0
        }
        // Mojito DHT: the two bytes are a version.
        0x44 => true,
        _ => false,
    };
    (exact && descriptor).then_some(if kind == 0x44 { "mojito" } else { "gnutella" })
}

impl Dissector for Gnutella {
    fn name(&self) -> &'static str {
        "gnutella"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if framing(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(kind) = framing(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("gnutella");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("gnutella_framing", kind);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn descriptor(kind: u8, ttl: u8, hops: u8, payload: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        v.extend_from_slice(&[kind, ttl, hops]);
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn pong_g2_and_mojito() {
        let pong = descriptor(0x01, 1, 0, &[0x09, 0x18, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let (r, m) = check_split_udp(&Gnutella, 40000, 6346, &[&pong], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("gnutella"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("gnutella_framing"), Some("gnutella"));
        let g2 = b"GND\x10\x3e\xae\x01\x01T\x0bQKRP\x06RNA]/\xe25\x09p";
        let (r, m) = check_split_udp(&Gnutella, 28681, 37580, &[g2], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("gnutella_framing"), Some("g2"));
        let dht = descriptor(0x44, 0, 0, &[0x21; 60]);
        let (_, m) = check_split_udp(&Gnutella, 28681, 5000, &[&dht], &[]);
        assert_eq!(m.extra("gnutella_framing"), Some("mojito"));
    }

    #[test]
    fn not_gnutella() {
        let mut long = descriptor(0x80, 3, 2, b"query");
        long.push(0);
        let cases: [Vec<u8>; 6] = [
            long,
            descriptor(0x55, 3, 2, b"x"),
            descriptor(0x00, 40, 2, b""),
            descriptor(0x00, 0, 0, b""),
            b"GND\x80\x00\x01\x01\x01".to_vec(),
            b"GND\x00\x00\x01\x03\x02".to_vec(),
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 6346, &[&d], &[]);
            let claimed = crate::dissect::not_refused(&Gnutella, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
