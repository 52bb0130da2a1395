//! SSH (RFC 4253 section 4.2): each side opens with a version line
//! `SSH-protoversion-softwareversion [comments]\r\n`. The server may send
//! other lines before its version line. Everything after the key exchange
//! is encrypted.

use super::text::{could_start_with_ci, is_printable, lines_with_end, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ssh;

/// The identification string is at most 255 bytes with CR LF.
const MAX_LINE: usize = 255;
/// How far into the server's stream its version line may be.
const MAX_SERVER_PREAMBLE: usize = 1024;

/// Finds a version line in `data`: `Some(Some(line))` found,
/// `Some(None)` not yet, `None` cannot be SSH.
fn banner(data: &[u8], allow_preamble: bool) -> Option<Option<&[u8]>> {
    let mut end = 0usize;
    for (line, e) in lines_with_end(data, 32) {
        if line.starts_with(b"SSH-") {
            return valid(line).then_some(Some(line));
        }
        if !allow_preamble || !is_printable(line) || line.len() > MAX_LINE || e > MAX_SERVER_PREAMBLE {
            return None;
        }
        end = e;
    }
    // No version line yet: the pending bytes must still look right.
    let rest = data.get(end..).unwrap_or_default();
    if rest.len() > MAX_LINE || !is_printable(rest.strip_suffix(b"\r").unwrap_or(rest)) {
        return None;
    }
    if !allow_preamble && !could_start_with_ci(rest, b"SSH-") {
        return None;
    }
    Some(None)
}

/// `SSH-<digits>.<digits>-<software>`, printable.
fn valid(line: &[u8]) -> bool {
    if line.len() > MAX_LINE || !is_printable(line) {
        return false;
    }
    let rest = &line[4..];
    let Some(dash) = rest.iter().position(|&b| b == b'-') else {
        return false;
    };
    let ver = &rest[..dash];
    let ok_ver = matches!(ver, b"2.0" | b"1.99" | b"1.5" | b"1.3");
    ok_ver && rest.len() > dash + 1
}

impl Dissector for Ssh {
    fn name(&self) -> &'static str {
        "ssh"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let o = p.orig.stream();
        let r = p.resp.stream();
        let o_ok = o.is_empty() || could_start_with_ci(o, b"SSH-");
        // The server may send preamble lines, but they are text.
        let r_ok = r.is_empty() || could_start_with_ci(r, b"SSH-") || r.first().is_some_and(|b| b.is_ascii_graphic());
        if !o_ok || !r_ok {
            return Probe::NotMine;
        }
        if o.starts_with(b"SSH-") || r.starts_with(b"SSH-") {
            Probe::Mine
        } else {
            Probe::Maybe
        }
    }
    /// The client's `S`/`s` (`SSH-`), or, when only the server spoke,
    /// any graphic ASCII (a preamble line).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x21, 0x7e))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (Some(c), Some(s)) = (banner(p.orig.stream(), false), banner(p.resp.stream(), true)) else {
            return Parse::NotMine;
        };
        if c.is_none() && s.is_none() {
            return Parse::NeedMore;
        }
        meta.protocol = Some("ssh");
        meta.encryption = Encryption::Encrypted;
        if let Some(c) = c {
            meta.set_extra("ssh_client", to_string(c, MAX_LINE));
        }
        if let Some(s) = s {
            meta.set_extra("ssh_server", to_string(s, MAX_LINE));
        }
        if c.is_some() && s.is_some() {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    const C: &[u8] = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n\x00\x00\x05\xdc\x06\x14";
    const S: &[u8] = b"SSH-2.0-OpenSSH_8.9\r\n\x00\x00\x04\x3c\x0a\x14";

    #[test]
    fn both_banners() {
        let (r, m) = check_split_tcp(&Ssh, 22, C, S);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ssh"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("ssh_client"), Some("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13"));
        assert_eq!(m.extra("ssh_server"), Some("SSH-2.0-OpenSSH_8.9"));
    }

    #[test]
    fn server_first_with_preamble() {
        let s = b"Welcome to the box\r\nSSH-1.99-Cisco-1.25\r\n";
        let (r, m) = check_split_tcp(&Ssh, 2222, b"", s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("ssh_server"), Some("SSH-1.99-Cisco-1.25"));
        assert_eq!(m.extra("ssh_client"), None);
    }

    #[test]
    fn partial_is_need_more_and_others_not_mine() {
        let ends = [[6], [0]];
        let p = Payloads::tcp(1, 22, b"SSH-2.", b"", &ends);
        assert_eq!(Ssh.parse(&p, &mut Meta::default()), Parse::NeedMore);
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let ends = [[req.len() as u32], [0]];
        let p = Payloads::tcp(1, 22, req, b"", &ends);
        assert_eq!(Ssh.probe(&p), Probe::NotMine);
        assert_eq!(Ssh.parse(&p, &mut Meta::default()), Parse::NotMine);
        let bad = b"SSH-9.9-x\r\n";
        let ends = [[bad.len() as u32], [0]];
        let p = Payloads::tcp(1, 22, bad, b"", &ends);
        assert_eq!(Ssh.parse(&p, &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn absurd_lengths() {
        let long = [b'A'; 3000];
        let mut c = b"SSH-2.0-".to_vec();
        c.extend_from_slice(&long);
        let (r, _) = check_split_tcp(&Ssh, 22, &c, &long);
        assert_eq!(r, Parse::NotMine);
    }
}
