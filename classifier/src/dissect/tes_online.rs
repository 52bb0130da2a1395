//! The Elder Scrolls Online's login connection (ZeniMax; TCP 24100-24131
//! in the captures). There is no published description; what is checked
//! is the structure the client's first message shows (teso.pcapng):
//!
//! - an outer frame: a 32-bit big-endian length of what follows;
//! - inside it two 16-bit words (1 and 1 in the captures, not checked)
//!   and an inner frame whose 32-bit big-endian length is the outer one
//!   minus those eight bytes, so the two lengths agree;
//! - the inner frame opens with a 16-bit value and a 16-bit-length
//!   string of printable text (an account name, a UUID), then the client
//!   version (`eso.live.9.3.6.2849903`) and zlib streams.
//!
//! The zlib streams hold 128-byte blocks stored uncompressed (random,
//! RSA-1024-sized: the credentials and keys), but the message's framing,
//! names and version are readable, as in a Kerberos request: the class
//! is `cleartext`.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct TesOnline;

/// Where the first string's length sits.
const STRING_AT: usize = 14;
/// Largest frame taken, and shortest (header words, inner length, the
/// value, a string length).
const MAX_FRAME: usize = 1 << 20;
const MIN_FRAME: usize = 12;
/// Shortest and longest first string.
const STRING_MIN: usize = 2;
const STRING_MAX: usize = 256;

fn be32(d: &[u8], at: usize) -> Option<usize> {
    let b = d.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

enum Verdict {
    Yes,
    Short,
    No,
}

/// Whether `d` opens with the login frame, as far as it goes.
fn login(d: &[u8]) -> Verdict {
    let Some(outer) = be32(d, 0) else {
        return if d.first().is_none_or(|&b| b == 0) {
            Verdict::Short
        } else {
            Verdict::No
        };
    };
    if !(MIN_FRAME..=MAX_FRAME).contains(&outer) {
        return Verdict::No;
    }
    let Some(inner) = be32(d, 8) else {
        return Verdict::Short;
    };
    if inner + 8 != outer {
        return Verdict::No;
    }
    let Some(len) = d.get(STRING_AT..STRING_AT + 2) else {
        return Verdict::Short;
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if !(STRING_MIN..=STRING_MAX).contains(&len) || STRING_AT + 2 + len > outer + 4 {
        return Verdict::No;
    }
    let text = &d[STRING_AT + 2..d.len().min(STRING_AT + 2 + len)];
    if !text.iter().all(|b| b.is_ascii_graphic()) {
        return Verdict::No;
    }
    if text.len() < len {
        Verdict::Short
    } else {
        Verdict::Yes
    }
}

impl Dissector for TesOnline {
    fn name(&self) -> &'static str {
        "tes_online"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match login(p.orig.stream()) {
            Verdict::No => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        match login(p.orig.stream()) {
            Verdict::No => Parse::NotMine,
            Verdict::Short => p.undecided(),
            Verdict::Yes => {
                meta.protocol = Some("tes_online");
                meta.encryption = Encryption::Cleartext;
                meta.app = Some("tes_online".to_string());
                Parse::Identified
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_tcp, Payloads};

    /// teso.pcapng, the second connection's first segment (835 bytes),
    /// cut after the client version string; the outer length (0x33F)
    /// and inner length (0x337) are the capture's.
    const LOGIN: &str = "0000033f00010001000003372bf0002437386461663639362d616331322d346536302d613361372d38656132393766656437653300001665736f2e6c6976652e392e332e362e323834393930330006b50ae0000000800000008b789c0180007fff";

    #[test]
    fn login_frame() {
        let d = hex(LOGIN);
        let (r, m) = check_split_tcp(&TesOnline, 24504, &d, &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("tes_online"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // Up to the end of the first string it waits.
        for k in [3, 11, 15, 40] {
            let ends = [[k as u32], [0]];
            let p = Payloads::tcp(40000, 24504, &d[..k], &[], &ends);
            assert_eq!(TesOnline.parse(&p, &mut Meta::default()), Parse::NeedMore, "{k}");
        }
    }

    #[test]
    fn not_tes_online() {
        let d = hex(LOGIN);
        let mut inner = d.clone();
        inner[11] ^= 1; // the two lengths disagree
        let mut huge = d.clone();
        huge[0] = 0x7f;
        let mut text = d.clone();
        text[20] = 0x01; // a control byte in the string
        let mut long = d.clone();
        long[14] = 0x10; // a 4,132-byte string
        let cases: [&[u8]; 5] = [
            &inner,
            &huge,
            &text,
            &long,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ];
        for c in cases {
            let ends = [[c.len() as u32], [0]];
            let p = Payloads::tcp(40000, 24504, c, &[], &ends);
            assert!(!crate::dissect::not_refused(&TesOnline, &p), "{c:?}");
        }
    }
}
