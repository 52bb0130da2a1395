//! GE Ethernet Global Data (EGD), the producer/consumer exchange of GE
//! PLCs, on UDP port 18246 (either side; the port narrows the check, the
//! header decides). Each datagram opens with a 32-byte header, integers
//! little-endian: PDU type 13 and version 1 (one byte each), a 16-bit
//! request id the producer advances by one per sample, the 4-byte
//! producer id (by convention its IPv4 address), a 32-bit exchange id,
//! a timestamp (32-bit seconds, 32-bit nanoseconds below 10^9), a
//! status, a configuration signature and 4 reserved bytes; the exchange's
//! data follow.
//!
//! The first datagram decides; when the same side has sent a second
//! one, it must carry the same producer and exchange and the next
//! request id. Cleartext: the samples are plain process data.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Egd;

const PORT: u16 = 18246;
const HEADER: usize = 32;
const PDU_TYPE: u8 = 13;
const VERSION: u8 = 1;

fn le32(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// Request id, producer id and exchange id of a production datagram.
fn header(d: &[u8]) -> Option<(u16, [u8; 4], u32)> {
    if d.len() < HEADER || d[0] != PDU_TYPE || d[1] != VERSION || le32(d, 16) >= 1_000_000_000 {
        return None;
    }
    Some((u16::from_le_bytes([d[2], d[3]]), [d[4], d[5], d[6], d[7]], le32(d, 8)))
}

impl Dissector for Egd {
    fn name(&self) -> &'static str {
        "egd"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().first() == Some(&PDU_TYPE) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only PDU type 13.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[PDU_TYPE]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let mut chunks = p.first_side().chunks();
        let Some((id, producer, exchange)) = chunks.next().and_then(header) else {
            return Parse::NotMine;
        };
        if let Some(next) = chunks.next() {
            if header(next) != Some((id.wrapping_add(1), producer, exchange)) {
                return Parse::NotMine;
            }
        }
        meta.protocol = Some("egd");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("egd_producer", std::net::Ipv4Addr::from(producer).to_string());
        meta.set_extra("egd_exchange", exchange.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// egd.pcapng, 192.168.8.77:18246 → 192.168.8.169:18246: request ids
    /// 0xf0d4 and 0xf0d5 of exchange 123 from producer 192.168.8.77, the
    /// data (zeros) cut to 8 bytes.
    const FIRST: &str = "0d01d4f0 c0a8084d 7b000000 be8a7e38 00811b2c 00000000 00000000 00000000 0000000000000000";
    const SECOND: &str = "0d01d5f0 c0a8084d 7b000000 bf8a7e38 00811b2c 00000000 00000000 00000000 0000000000000000";

    #[test]
    fn production() {
        let (a, b) = (unhex(FIRST), unhex(SECOND));
        let (r, m) = check_split_udp(&Egd, PORT, PORT, &[&a, &b], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("egd"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("egd_producer"), Some("192.168.8.77"));
        assert_eq!(m.extra("egd_exchange"), Some("123"));
        let (r, _) = check_split_udp(&Egd, PORT, PORT, &[&a], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_egd() {
        let (a, b) = (unhex(FIRST), unhex(SECOND));
        let mut version = a.clone();
        version[1] = 2;
        let mut nanos = a.clone();
        nanos[19] = 0x3c;
        let mut other_exchange = b.clone();
        other_exchange[8] = 0x7c;
        let cases: [(u16, &[&[u8]]); 5] = [
            (PORT, &[&version]),
            (PORT, &[&nanos]),
            (PORT, &[&a[..31]]),
            (PORT, &[&a, &other_exchange]),
            (18247, &[&a]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, d, &[]);
            assert!(!crate::dissect::not_refused(&Egd, &f.payloads()), "{port}");
        }
        // The same sample twice is not the next one.
        let f = UdpFixture::new(PORT, PORT, &[&a, &a], &[]);
        assert!(!crate::dissect::not_refused(&Egd, &f.payloads()));
    }
}
