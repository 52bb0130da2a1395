//! WhatsApp chat (TCP 5222 / 443). The client opens with an optional
//! edge-routing header, `ED 00 01` then a 3-byte length and that many
//! routing bytes, then the prologue `WA` + major + minor version, then
//! length-prefixed frames (3-byte big-endian length): the Noise Pipes
//! handshake of the current protocol (`WA 05 02`, WhatsApp Security
//! Whitepaper: Noise_XX/IK with Curve25519, AES-GCM, SHA256), or the older
//! FunXMPP stream (`WA 01 05`). Both are encrypted after the handshake.
//!
//! The shape was read from nDPI's corpus captures (whatsapp*.pcap); the
//! check asks for the prologue and a first frame header with a plausible
//! length, so a stray "WA" is not enough.

use super::{agrees, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct WhatsApp;

const EDGE: &[u8] = b"ED\x00\x01";
const PROLOGUE: &[u8] = b"WA";
/// Longest routing header accepted.
const MAX_ROUTING: usize = 64;
/// Longest first frame accepted (handshake messages are a few hundred bytes).
const MAX_FRAME: usize = 1 << 16;
/// Prologue major versions accepted (1: FunXMPP, 5: Noise seen; room for
/// the ones between and one after).
const MAJORS: std::ops::RangeInclusive<u8> = 1..=6;

#[derive(Debug, PartialEq, Eq)]
enum Step {
    NeedMore,
    No,
    Yes { major: u8, minor: u8 },
}

fn u24(b: &[u8]) -> Option<usize> {
    match b {
        [a, b, c, ..] => Some(usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c)),
        _ => None,
    }
}

/// `data` starts with `want`, or is a prefix of it.
fn starts(data: &[u8], want: &[u8]) -> Option<bool> {
    let n = data.len().min(want.len());
    if !agrees(data, want) {
        return None;
    }
    Some(n == want.len())
}

fn opening(data: &[u8]) -> Step {
    let mut rest = data;
    if rest.first() == Some(&b'E') {
        match starts(rest, EDGE) {
            None => return Step::No,
            Some(false) => return Step::NeedMore,
            Some(true) => {}
        }
        let Some(len) = rest.get(4..).and_then(u24) else {
            return Step::NeedMore;
        };
        if len == 0 || len > MAX_ROUTING {
            return Step::No;
        }
        let Some(r) = rest.get(7 + len..) else {
            return Step::NeedMore;
        };
        rest = r;
    }
    match starts(rest, PROLOGUE) {
        None => return Step::No,
        Some(false) => return Step::NeedMore,
        Some(true) => {}
    }
    let Some(&major) = rest.get(2) else {
        return Step::NeedMore;
    };
    if !MAJORS.contains(&major) {
        return Step::No;
    }
    let Some(&minor) = rest.get(3) else {
        return Step::NeedMore;
    };
    let Some(frame) = rest.get(4..).and_then(u24) else {
        return Step::NeedMore;
    };
    if frame == 0 || frame > MAX_FRAME {
        return Step::No;
    }
    Step::Yes { major, minor }
}

impl Dissector for WhatsApp {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "whatsapp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.stream().first() {
            None | Some(b'E' | b'W') => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        match opening(p.orig.stream()) {
            Step::No => Parse::NotMine,
            Step::NeedMore if p.last => Parse::NotMine,
            Step::NeedMore => Parse::NeedMore,
            Step::Yes { major, minor } => {
                meta.protocol = Some("whatsapp");
                meta.encryption = Encryption::Encrypted;
                meta.app = Some("whatsapp".to_string());
                meta.set_extra("whatsapp_version", format!("{major}.{minor}"));
                Parse::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn noise_opening() -> Vec<u8> {
        let mut v = EDGE.to_vec();
        v.extend_from_slice(&[0, 0, 4, 8, 9, 8, 2]); // routing: 4 bytes
        v.extend_from_slice(b"WA\x05\x02");
        v.extend_from_slice(&[0, 0, 40]);
        v.extend((0..40u8).map(|i| i.wrapping_mul(37)));
        v
    }

    #[test]
    fn noise_with_edge_header_every_split() {
        let (r, m) = check_split_tcp(&WhatsApp, 5222, &noise_opening(), &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("whatsapp"));
        assert_eq!(m.app.as_deref(), Some("whatsapp"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("whatsapp_version"), Some("5.2"));
    }

    #[test]
    fn funxmpp_without_edge_header() {
        let mut v = b"WA\x01\x05".to_vec();
        v.extend_from_slice(&[0, 0, 26]);
        v.extend_from_slice(&[0xf8; 26]);
        let (r, m) = check_split_tcp(&WhatsApp, 443, &v, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("whatsapp_version"), Some("1.5"));
    }

    #[test]
    fn prefixes_need_more_and_others_are_not_mine() {
        let full = noise_opening();
        for k in 0..11 {
            assert_eq!(opening(&full[..k]), Step::NeedMore, "prefix {k}");
        }
        for bad in [
            &b"WAIT for it"[..],
            b"WA\x00\x01\x00\x00\x05",
            b"WA\x05\x02\x00\x00\x00",
            b"WA\x05\x02\x02\x00\x00",
            b"ED\x00\x02\x00\x00\x04",
            b"ED\x00\x01\x00\x00\x00WA\x05\x02",
            b"ED\x00\x01\x00\x01\x00",
            b"GET / HTTP/1.1\r\n",
            b"\x16\x03\x01\x00\x05",
        ] {
            assert_eq!(opening(bad), Step::No, "{bad:?}");
        }
        // An edge header followed by something else.
        let mut v = EDGE.to_vec();
        v.extend_from_slice(&[0, 0, 1, 7]);
        v.extend_from_slice(b"XX\x05\x02");
        assert_eq!(opening(&v), Step::No);
    }

    #[test]
    fn truncated_opening_is_not_mine_at_the_end() {
        let full = noise_opening();
        let ends = [[9u32], [0]];
        let mut p = Payloads::tcp(40000, 5222, &full[..9], &[], &ends);
        p.last = true;
        assert_eq!(WhatsApp.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
