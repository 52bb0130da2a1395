//! BACnet/IP (ASHRAE 135 annex J) over UDP, on any port (47808 by
//! default): every datagram starts with the BACnet Virtual Link Control
//! header: type 0x81 (BACnet/IP), a function 0x00..=0x0c and the 16-bit
//! length of the whole datagram, which must match exactly.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Bacnet;

const BVLC_IP: u8 = 0x81;
const HEADER: usize = 4;

/// The BVLC function when `d` is one whole BACnet/IP datagram.
fn function(d: &[u8]) -> Option<u8> {
    let (&kind, &function) = (d.first()?, d.get(1)?);
    let len = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
    (kind == BVLC_IP && function <= 0x0c && len == d.len() && len >= HEADER).then_some(function)
}

fn function_name(f: u8) -> &'static str {
    match f {
        0x00 => "result",
        0x01 => "write_bdt",
        0x02 => "read_bdt",
        0x03 => "read_bdt_ack",
        0x04 => "forwarded_npdu",
        0x05 => "register_foreign_device",
        0x06 => "read_fdt",
        0x07 => "read_fdt_ack",
        0x08 => "delete_fdt_entry",
        0x09 => "distribute_broadcast",
        0x0a => "original_unicast",
        0x0b => "original_broadcast",
        _ => "secure_bvll",
    }
}

impl Dissector for Bacnet {
    fn name(&self) -> &'static str {
        "bacnet"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if function(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// `function` admits only the BVLC type of BACnet/IP, 0x81.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[BVLC_IP]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(f) = function(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("bacnet");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("bvlc_function", function_name(f));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn who_is_broadcast() {
        let d = [0x81u8, 0x0b, 0x00, 0x0c, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08];
        let (r, m) = check_split_udp(&Bacnet, 47808, 47808, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("bacnet"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("bvlc_function"), Some("original_broadcast"));
    }

    #[test]
    fn not_bacnet() {
        let cases: [&[u8]; 4] = [
            &[0x81, 0x0b, 0x00, 0x0d, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08],
            &[0x81, 0x0d, 0x00, 0x04],
            &[0x82, 0x0a, 0x00, 0x04],
            &[0x81, 0x0a, 0x00],
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 47808, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Bacnet, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
