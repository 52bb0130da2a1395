//! tinc VPN meta connections over TCP, on any port (655 by default;
//! none is checked).
//!
//! Both nodes open with an ID request, one text line: request number 0,
//! the node name (letters, digits and `_`), and the protocol version,
//! major 17 with an optional `.minor` (tinc 1.1 sends one), e.g.
//! `0 alpha 17\n`. The first line of each side that has spoken must be
//! one; a side still inside its first 64 bytes without a newline waits.
//!
//! Encryption: only the ID lines are clear. In protocol 17.0 and 17.1
//! (tinc 1.0) the nodes then send METAKEY (request 1: an RSA-encrypted
//! session key, in hex) and everything after it on the connection is
//! encrypted with the negotiated cipher; from 17.2 on (tinc 1.1) the
//! ID line is followed by the SPTPS handshake (ECDH, then
//! ChaCha20-Poly1305). Either way the connection carries encrypted
//! data, so a tinc flow is encrypted, as an SSH flow is despite its
//! clear banners.
//! tinc's UDP packets have no clear structure and are not claimed.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Tinc;

/// The longest first line waited for.
const LINE_MAX: usize = 96;
const NAME_MAX: usize = 64;

/// An ID line at the start of `d`: `Ok((name, version))`; `Err(true)`
/// when it could still become one.
fn id_line(d: &[u8]) -> Result<(&str, &str), bool> {
    let Some(end) = d.iter().take(LINE_MAX).position(|&c| c == b'\n') else {
        let prefix_ok = d.len() < LINE_MAX
            && d.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b' ' || c == b'_' || c == b'.');
        let start_ok = d.first().is_none_or(|&c| c == b'0') && d.get(1).is_none_or(|&c| c == b' ');
        return Err(prefix_ok && start_ok);
    };
    let line = std::str::from_utf8(&d[..end]).map_err(|_| false)?;
    let mut parts = line.split(' ');
    let (Some("0"), Some(name), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(false);
    };
    let name_ok = (1..=NAME_MAX).contains(&name.len()) && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    let minor_ok = (1..=3).contains(&minor.len()) && minor.bytes().all(|c| c.is_ascii_digit());
    if name_ok && major == "17" && minor_ok {
        Ok((name, version))
    } else {
        Err(false)
    }
}

impl Dissector for Tinc {
    fn name(&self) -> &'static str {
        "tinc"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_side().stream() {
            [] | [b'0'] | [b'0', b' ', ..] => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only an ID line's request number `0`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"0"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let mut found = None;
        for side in [p.first_side(), p.second_side()] {
            if side.is_empty() {
                continue;
            }
            match id_line(side.stream()) {
                Ok(id) => {
                    found.get_or_insert(id);
                }
                Err(true) => return p.undecided(),
                Err(false) => return Parse::NotMine,
            }
        }
        let Some((name, version)) = found else {
            return p.undecided();
        };
        meta.protocol = Some("tinc");
        meta.encryption = Encryption::Encrypted;
        meta.set_extra("tinc_node", name);
        meta.set_extra("tinc_protocol", version);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// tinc.pcap frames 5 and 10: the two ID lines, then (frame 12) the
    /// start of the client's METAKEY line.
    const CLIENT: &[u8] = b"0 think 17\n1 429 672 0 0 2CDA99D7120FD6DEBC0BE0B08528876B4AB6";
    const SERVER: &[u8] = b"0 iniz 17\n";

    #[test]
    fn id_exchange() {
        let (v, m) = check_split_tcp(&Tinc, 55655, CLIENT, SERVER);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("tinc"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("tinc_node"), Some("think"));
        assert_eq!(m.extra("tinc_protocol"), Some("17"));
        // tinc 1.1 with a minor version.
        let (v, m) = check_split_tcp(&Tinc, 655, b"0 node_2 17.7\n", b"");
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("tinc_protocol"), Some("17.7"));
        // A line not yet ended waits.
        let ends = [[7], [0]];
        let p = Payloads::tcp(40000, 655, &CLIENT[..7], &[], &ends);
        assert_eq!(Tinc.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let cases: [(&[u8], &[u8]); 8] = [
            (b"0 think 16\n", b""),
            (b"0 think 17.\n", b""),
            (b"0 th-nk 17\n", b""),
            (b"0  17\n", b""),
            (b"0 think 17 x\n", b""),
            (b"1 think 17\n", b""),
            (b"0 think 17\n", b"220 mail ESMTP\r\n"),
            (b"0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 ", b""),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 655, o, r, &ends);
            assert!(!not_refused(&Tinc, &p), "{o:?} {r:?}");
        }
    }
}
