//! CAN frames carried over UDP ("CAN over Ethernet", Wireshark's caneth;
//! 11898 is its usual port, any port is taken). A datagram opens with
//! the 8-byte magic `ISO11898`, a version byte (1) and a frame count,
//! then that many CAN frames of 17 bytes (a 32-bit identifier, a data
//! length of at most 8, the data padded to 8 bytes, the extended and
//! remote flags, two padding bytes).
//!
//! Taken on a first datagram with the magic, version 1, 1 to 32 frames,
//! room for all of them and a first frame of at most 8 data bytes. Bus
//! traffic is carried as it is on the wire: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Can;

const MAGIC: &[u8] = b"ISO11898";
const HEADER: usize = 10;
const FRAME: usize = 17;
const MAX_FRAMES: u8 = 32;

/// `Some(frames)` for a datagram of the format.
fn datagram(d: &[u8]) -> Option<u8> {
    if !d.starts_with(MAGIC) || *d.get(8)? != 1 {
        return None;
    }
    let count = *d.get(9)?;
    let ok =
        (1..=MAX_FRAMES).contains(&count) && d.len() >= HEADER + FRAME * usize::from(count) && *d.get(HEADER + 4)? <= 8;
    ok.then_some(count)
}

impl Dissector for Can {
    fn name(&self) -> &'static str {
        "can"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if datagram(p.first_payload()).is_some() {
            Probe::Mine
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the `ISO11898` magic (`datagram`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"I"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(n) = datagram(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("can");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("can_frames", n.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // can.pcap, 36251 -> 11898.
    const TWO: &[u8] = b"ISO11898\x01\x02\x6a\x12\xf1\x09\x08\x3b\x20\xd6\x70\x00\x00\xff\x7f\xfd\x10\x00\x6a\x13\xf1\x09\x08\x3b\x20\x20\x6e\xff\xff\xff\xff\xff\x10\x00\x01\x60\xff";

    #[test]
    fn frames() {
        assert_eq!(TWO.len(), 45);
        let (r, m) = check_split_udp(&Can, 36251, 11898, &[TWO], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("can"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("can_frames"), Some("2"));
    }

    #[test]
    fn not_can() {
        let mut version = TWO.to_vec();
        version[8] = 2;
        let mut many = TWO.to_vec();
        many[9] = 3;
        let mut none = TWO.to_vec();
        none[9] = 0;
        let mut dlc = TWO.to_vec();
        dlc[14] = 9;
        let mut magic = TWO.to_vec();
        magic[3] = b'2';
        for d in [version, many, none, dlc, magic] {
            let f = UdpFixture::new(40000, 11898, &[&d], &[]);
            assert!(!crate::dissect::not_refused(&Can, &f.payloads()), "{d:?}");
        }
    }
}
