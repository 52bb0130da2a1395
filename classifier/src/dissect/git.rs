//! The Git protocol's native transport (git://, TCP; 9418 is a hint
//! only), named from the client's first pkt-line (gitprotocol-pack).
//!
//! A pkt-line is four lowercase hexadecimal digits giving its whole
//! length (the four included), then the payload. The client opens with
//! `git-upload-pack `, `git-receive-pack ` or `git-upload-archive `, the
//! repository path, a NUL, and `host=<host>[:port]` with its NUL (then,
//! for protocol v2, extra parameters): checked are the length (at most
//! 65520, covering the bytes that follow), the service, a path free of
//! control bytes, the NUL, and `host=` after it. The server's answer,
//! when there, must be pkt-lines too (four hexadecimal digits).
//!
//! git:// has no encryption (ssh:// and https:// are other flows):
//! cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Git;

const SERVICES: [&[u8]; 3] = [b"git-upload-pack ", b"git-receive-pack ", b"git-upload-archive "];
const MAX_PKT: usize = 65520;
const HOST_MAX: usize = 255;

fn hex4(d: &[u8]) -> Option<usize> {
    let h = d.get(..4)?;
    if !h.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
        return None;
    }
    usize::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
}

/// The service and host of the request at the start of `d`.
/// `Err(true)`: more bytes needed.
fn request(d: &[u8]) -> Result<(&'static [u8], &[u8]), bool> {
    if d.len() < 4 {
        let ok = d.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        return Err(ok);
    }
    let len = hex4(d).ok_or(false)?;
    if !(4 + 18..=MAX_PKT).contains(&len) {
        return Err(false);
    }
    let body = &d[4..d.len().min(len)];
    let could_be = SERVICES.iter().any(|s| agrees(body, s));
    if !could_be {
        return Err(false);
    }
    if d.len() < len {
        return Err(true);
    }
    // Complete: the service must be there in full, not only the part of
    // it that fit (`0016git-upload-archive` is 18 bytes of a 19-byte one).
    let &service = SERVICES.iter().find(|s| body.starts_with(s)).ok_or(false)?;
    let rest = &body[service.len()..];
    let nul = rest.iter().position(|&b| b == 0).ok_or(false)?;
    let path = &rest[..nul];
    if path.is_empty() || path.iter().any(|b| b.is_ascii_control()) {
        return Err(false);
    }
    let host = rest[nul + 1..].strip_prefix(b"host=").ok_or(false)?;
    let end = host.iter().position(|&b| b == 0).ok_or(false)?;
    let host = &host[..end];
    if host.is_empty() || host.len() > HOST_MAX || !host.iter().all(u8::is_ascii_graphic) {
        return Err(false);
    }
    Ok((service, host))
}

impl Dissector for Git {
    fn name(&self) -> &'static str {
        "git"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        p.client_opens_with(|b| b == b'0')
    }
    /// The client must open with a pkt-line length's `0` (`client_opens_with`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"0"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (service, host) = match request(p.orig.stream()) {
            Ok(x) => x,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let r = p.resp.stream();
        let answered = match hex4(r) {
            Some(_) => true,
            None if r.len() >= 4 => return Parse::NotMine,
            None => false,
        };
        meta.protocol = Some("git");
        meta.encryption = Encryption::Cleartext;
        let service = String::from_utf8_lossy(service.strip_suffix(b" ").unwrap_or(service));
        meta.set_extra("git_service", service);
        meta.set_extra("git_host", super::text::to_string(host, HOST_MAX));
        if answered {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    // git.pcap, 192.168.0.77:47991 -> 5.153.231.21:9418.
    const REQ: &[u8] = b"0045git-upload-pack /collab-maint/wotsap.git\0host=anonscm.debian.org\0";

    #[test]
    fn upload_pack() {
        assert_eq!(REQ.len(), 0x45);
        let s = b"00c9348534c760d2f56ecf93f8d67b84c5f0aba077c1 HEAD\0multi_ack";
        for port in [9418, 40001] {
            let (r, m) = check_split_tcp(&Git, port, REQ, s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("git"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("git_service"), Some("git-upload-pack"));
            assert_eq!(m.extra("git_host"), Some("anonscm.debian.org"));
        }
        let (r, _) = check_split_tcp(&Git, 9418, REQ, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_git() {
        let mutate = |i: usize, v: u8| {
            let mut d = REQ.to_vec();
            d[i] = v;
            d
        };
        let cases: [Vec<u8>; 7] = [
            mutate(3, b'6'),  // length past the bytes sent
            mutate(0, b'X'),  // not hexadecimal
            mutate(6, b'x'),  // another service
            mutate(20, 0x01), // control byte in the path
            mutate(45, b'H'), // not host=
            b"0000".to_vec(),
            // Shorter than the service it starts: found by the fuzz smoke.
            b"0016git-upload-archive".to_vec(),
        ];
        for d in &cases {
            let ends = [[d.len() as u32], [0]];
            let mut p = Payloads::tcp(40000, 9418, d, &[], &ends);
            p.last = true;
            assert!(!not_refused(&Git, &p), "{d:?}");
        }
        let ends = [[REQ.len() as u32], [9]];
        let p = Payloads::tcp(40000, 9418, REQ, b"HTTP/1.1 ", &ends);
        assert!(!not_refused(&Git, &p));
    }
}
