//! BJNP, Canon's printer and scanner network protocol, over UDP (ports
//! 8611..=8614 by default; any port accepted). A 16-byte header: the
//! magic `BJNP` (or `BJNB`, `BJNM`, `BJNS`), a device type (0x01
//! printer, 0x02 scanner, 0x80 added on answers), a command code, an
//! error code, a sequence number, a session id and the 32-bit length of
//! the payload that follows, which must fill the datagram exactly.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Bjnp;

const HEADER: usize = 16;

/// The device type when `d` is one whole BJNP datagram.
fn device(d: &[u8]) -> Option<u8> {
    let magic = d.get(..4)?;
    if !matches!(magic, b"BJNP" | b"BJNB" | b"BJNM" | b"BJNS") {
        return None;
    }
    let device = *d.get(4)?;
    let len = u32::from_be_bytes([*d.get(12)?, *d.get(13)?, *d.get(14)?, *d.get(15)?]);
    let exact = usize::try_from(len).is_ok_and(|l| l == d.len() - HEADER);
    (matches!(device & 0x7f, 0x01 | 0x02) && exact).then_some(device)
}

impl Dissector for Bjnp {
    fn name(&self) -> &'static str {
        "bjnp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if device(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// `device` admits only the magics `BJN*`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"B"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(dev) = device(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("bjnp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("bjnp_device", if dev & 0x7f == 1 { "printer" } else { "scanner" });
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn scanner_discovery() {
        let d = b"BJNP\x02\x01\x00\x00\x17\xa4\x00\x00\x00\x00\x00\x00";
        let (r, m) = check_split_udp(&Bjnp, 50087, 8612, &[d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("bjnp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("bjnp_device"), Some("scanner"));
        let mut answer = b"BJNP\x81\x01\x00\x00\x17\xa4\x00\x00\x00\x00\x00\x04".to_vec();
        answer.extend_from_slice(b"abcd");
        let (_, m) = check_split_udp(&Bjnp, 8611, 50087, &[&answer], &[]);
        assert_eq!(m.extra("bjnp_device"), Some("printer"));
    }

    #[test]
    fn not_bjnp() {
        let cases: [&[u8]; 4] = [
            b"BJNP\x02\x01\x00\x00\x17\xa4\x00\x00\x00\x00\x00\x01",
            b"BJNX\x02\x01\x00\x00\x17\xa4\x00\x00\x00\x00\x00\x00",
            b"BJNP\x05\x01\x00\x00\x17\xa4\x00\x00\x00\x00\x00\x00",
            b"BJNP\x02\x01\x00",
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 8612, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Bjnp, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
