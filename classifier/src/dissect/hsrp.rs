//! HSRP, Cisco's Hot Standby Router Protocol, on UDP port 1985 (IPv4)
//! or 2029 (IPv6). Version 1 (RFC 2281) is a fixed 20-byte message:
//! version 0, an op code (0 hello, 1 coup, 2 resign), a state (0, 1, 2,
//! 4, 8 or 16), timers, priority, group, a reserved byte, 8 bytes of
//! authentication data and the virtual IPv4 address. Version 2 is a list
//! of type-length-value records: group state (type 1, 40 bytes, starting
//! with version 2), interface state (2, 4 bytes), text authentication
//! (3, 8 bytes) and MD5 authentication (4, 28 bytes). Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Hsrp;

const PORT_V4: u16 = 1985;
const PORT_V6: u16 = 2029;
const V1_LEN: usize = 20;

/// The version (1 or 2) when `d` is one whole HSRP message.
fn version(d: &[u8]) -> Option<u8> {
    if *d.first()? == 0 {
        let ok = d.len() == V1_LEN && d[1] <= 2 && matches!(d[2], 0 | 1 | 2 | 4 | 8 | 16);
        return ok.then_some(1);
    }
    let mut off = 0usize;
    while off < d.len() {
        let (&kind, &len) = (d.get(off)?, d.get(off + 1)?);
        let want = match kind {
            1 => 40,
            2 => 4,
            3 => 8,
            4 => 28,
            _ => return None,
        };
        let value = d.get(off + 2..off + 2 + usize::from(len))?;
        // A group state record: HSRP version 2, op code, state 1..=7.
        if usize::from(len) != want || (kind == 1 && (value[0] != 2 || value[1] > 2 || !(1..=7).contains(&value[2]))) {
            return None;
        }
        off += 2 + usize::from(len);
    }
    Some(2)
}

impl Dissector for Hsrp {
    fn name(&self) -> &'static str {
        "hsrp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if (p.port(PORT_V4) || p.port(PORT_V6)) && version(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits version 1's 0 or a version 2 record type 1..=4 (`version`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0, 4))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !(p.port(PORT_V4) || p.port(PORT_V6)) {
            return Parse::NotMine;
        }
        let Some(v) = version(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("hsrp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("hsrp_version", v.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    const V1_HELLO: [u8; 20] = [
        0x00, 0x00, 0x10, 0x03, 0x0a, 0x5a, 0x0a, 0x00, b'c', b'i', b's', b'c', b'o', 0, 0, 0, 10, 28, 168, 254,
    ];

    fn v2_hello() -> Vec<u8> {
        let mut d = vec![
            0x01, 0x28, 0x02, 0x00, 0x04, 0x06, 0x00, 0x10, 0xaa, 0xbb, 0xcc, 0x00, 0x01, 0x20,
        ];
        d.extend_from_slice(&[0, 0, 0, 0x69, 0, 0, 0x27, 0x10, 0, 0, 0x4e, 0x20, 0xfe, 0x80]);
        d.extend_from_slice(&[0; 13]);
        d.push(5);
        d.extend_from_slice(&[0x03, 0x08]);
        d.extend_from_slice(b"cisco\0\0\0");
        d
    }

    #[test]
    fn v1_and_v2_hellos() {
        let (r, m) = check_split_udp(&Hsrp, PORT_V4, PORT_V4, &[&V1_HELLO], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("hsrp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("hsrp_version"), Some("1"));
        let v2 = v2_hello();
        let (r, m) = check_split_udp(&Hsrp, PORT_V6, PORT_V6, &[&v2], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("hsrp_version"), Some("2"));
        let iface = [0x02u8, 0x04, 0x00, 0x00, 0x00, 0x01];
        let (r, _) = check_split_udp(&Hsrp, PORT_V6, PORT_V6, &[&iface], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_hsrp() {
        let v2 = v2_hello();
        let mut bad_state = V1_HELLO;
        bad_state[2] = 3;
        let cases: [(u16, &[u8]); 5] = [
            (9999, &V1_HELLO),
            (PORT_V4, &V1_HELLO[..19]),
            (PORT_V4, &bad_state),
            (PORT_V6, &v2[..v2.len() - 1]),
            (PORT_V6, &[0x05, 0x04, 0, 0, 0, 1]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(port, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Hsrp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
