//! NAT-PMP (RFC 6886) on UDP port 5351 (either side): version 0, then
//! an opcode. Requests: opcode 0 (external address, 2 bytes), 1 or 2
//! (UDP or TCP mapping, 12 bytes with two reserved zero bytes). Answers:
//! opcode + 128, a result code 0..=5, the epoch, then the address
//! (12 bytes in all) or the mapping (16 bytes). PCP (version 2, RFC 6887)
//! shares the port and is left out.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct NatPmp;

const PORT: u16 = 5351;

/// The opcode when `d` is a whole NAT-PMP message.
fn opcode(d: &[u8]) -> Option<u8> {
    let (&version, &op) = (d.first()?, d.get(1)?);
    if version != 0 {
        return None;
    }
    let ok = match op {
        0 => d.len() == 2,
        1 | 2 => d.len() == 12 && d.get(2..4) == Some(&[0, 0][..]),
        128..=130 => {
            let result = u16::from_be_bytes([*d.get(2)?, *d.get(3)?]);
            result <= 5 && d.len() == if op == 128 { 12 } else { 16 }
        }
        _ => false,
    };
    ok.then_some(op)
}

impl Dissector for NatPmp {
    fn name(&self) -> &'static str {
        "nat_pmp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && opcode(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// `opcode` admits only version 0.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let Some(op) = opcode(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("nat_pmp");
        meta.encryption = Encryption::Cleartext;
        let name = match op & 0x7f {
            0 => "external_address",
            1 => "map_udp",
            _ => "map_tcp",
        };
        meta.set_extra("natpmp_opcode", name);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn address_request_and_mapping() {
        let q = [0u8, 0];
        let a = [0u8, 128, 0, 0, 0, 0, 0x1c, 0x20, 192, 0, 2, 7];
        let (r, m) = check_split_udp(&NatPmp, 40000, PORT, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("nat_pmp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("natpmp_opcode"), Some("external_address"));
        let map = [0u8, 2, 0, 0, 0x1f, 0x90, 0x1f, 0x90, 0, 0, 0x0e, 0x10];
        let (_, m) = check_split_udp(&NatPmp, 40000, PORT, &[&map], &[]);
        assert_eq!(m.extra("natpmp_opcode"), Some("map_tcp"));
    }

    #[test]
    fn not_nat_pmp() {
        let cases: [(u16, &[u8]); 5] = [
            (9999, &[0, 0]),
            (PORT, &[2, 1, 0, 0]),
            (PORT, &[0, 0, 0]),
            (PORT, &[0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            (PORT, &[0, 128, 0, 9, 0, 0, 0, 0, 1, 2, 3, 4]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&NatPmp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
