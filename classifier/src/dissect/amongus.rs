//! Among Us, over Innersloth's Hazel UDP transport (servers on port
//! 22023 in the captures), from the community's protocol descriptions.
//! A Hazel datagram starts with its send option; the client's first one
//! is a Hello (0x08): a 16-bit big-endian reliable id, the Hazel version
//! (0 or 1), then the game's hello: its 32-bit little-endian version,
//! encoded as `year * 25000 + month * 1800 + day * 50 + revision`, and
//! the player's name (a packed length, then UTF-8). Later game versions
//! append more fields after the name.
//!
//! What is checked: the Hello option and Hazel version, a version that
//! decodes to a real date, and a printable name that fits. Hazel and
//! the game messages carry no cipher: the class is `cleartext`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct AmongUs;

const HELLO: u8 = 0x08;
/// Send option, reliable id, Hazel version, game version, name length.
const MIN_LEN: usize = 1 + 2 + 1 + 4 + 1;
const MAX_NAME: usize = 32;

/// The game version as (year, month, day, revision), when it is one.
fn version(v: u32) -> Option<(u32, u32, u32, u32)> {
    let year = v / 25000;
    let rest = v % 25000;
    let (month, day, revision) = (rest / 1800, rest % 1800 / 50, rest % 50);
    ((2018..=2035).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day))
        .then_some((year, month, day, revision))
}

/// The client's Hello: `Some(version)` when `d` is one.
fn hello(d: &[u8]) -> Option<(u32, u32, u32, u32)> {
    if d.len() < MIN_LEN || d[0] != HELLO || d[3] > 1 {
        return None;
    }
    let v = version(u32::from_le_bytes([d[4], d[5], d[6], d[7]]))?;
    let n = usize::from(d[8]);
    let name = d.get(9..9 + n)?;
    if n == 0 || n > MAX_NAME {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    if name.chars().any(char::is_control) {
        return None;
    }
    Some(v)
}

impl Dissector for AmongUs {
    fn name(&self) -> &'static str {
        "amongus"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.first() {
            [] => Probe::NotMine,
            d if hello(d).is_some() => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only the originator's hello (`HELLO`, `hello`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[HELLO]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some((y, m, d, r)) = hello(p.orig.first()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("amongus");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("amongus".to_string());
        meta.set_extra("amongus_version", format!("{y}.{m}.{d}.{r}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// among_us.pcap frame 1: Hello, id 1, Hazel 0, version 50518400
    /// (2020.10.8), name "AAAAAA".
    const HELLO_PKT: [u8; 15] = [
        0x08, 0x00, 0x01, 0x00, 0x80, 0xd9, 0x02, 0x03, 0x06, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    ];

    #[test]
    fn hello_from_capture() {
        let (r, m) = check_split_udp(&AmongUs, 64260, 22023, &[&HELLO_PKT], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("amongus"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("amongus_version"), Some("2020.10.8.0"));
        // Later versions add fields after the name.
        let mut longer = HELLO_PKT.to_vec();
        longer.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
        let (r, _) = check_split_udp(&AmongUs, 64260, 22023, &[&longer], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_amongus() {
        let mut ping = HELLO_PKT;
        ping[0] = 0x0c;
        let mut hazel = HELLO_PKT;
        hazel[3] = 2;
        let mut month = HELLO_PKT;
        // 2020 with month 13: 50500000 + 13 * 1800.
        month[4..8].copy_from_slice(&(50_500_000u32 + 13 * 1800 + 50).to_le_bytes());
        let mut name_long = HELLO_PKT;
        name_long[8] = 7;
        let mut name_ctl = HELLO_PKT;
        name_ctl[10] = 0x01;
        let mut empty = HELLO_PKT;
        empty[8] = 0;
        let cases: [&[u8]; 7] = [&ping, &hazel, &month, &name_long, &name_ctl, &empty, &HELLO_PKT[..8]];
        for d in cases {
            let f = UdpFixture::new(40000, 22023, &[d], &[]);
            let claimed = crate::dissect::not_refused(&AmongUs, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
