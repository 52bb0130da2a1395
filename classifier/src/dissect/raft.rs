//! Raft as spoken by the C library canonical/raft (libraft, the
//! consensus layer of dqlite) over its TCP transport, on any port.
//! Raft itself is an algorithm, not a wire format: this is that
//! library's format, the one nDPI names Raft.
//!
//! Each node opens a connection to each peer and only sends on it. The
//! sender starts with a handshake, little-endian 64-bit words: the
//! transport protocol version 1, its server id (non-zero), the address
//! length (8..=256, a multiple of 8), then its address, `host:port`
//! text padded with one to eight NULs. Then come messages, each a
//! 16-byte header (type 1 AppendEntries .. 6 TimeoutNow, then the body
//! length, a multiple of 8) and the body. The handshake must hold, and
//! the first message header too once it has arrived.
//!
//! The transport has no encryption (dqlite can run it inside TLS, which
//! the TLS dissector names): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Raft;

const PROTOCOL: [u8; 8] = 1u64.to_le_bytes();
const ADDRESS_MAX: usize = 256;
/// The longest message body taken as plausible (the library's own
/// bound is larger; a first message this long is not expected).
const BODY_MAX: u64 = 1 << 24;

fn le64(d: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The handshake at the start of `d`: `Ok((server id, address, length
/// of the handshake))`; `Err(true)` when it could still become one.
fn handshake(d: &[u8]) -> Result<(u64, &str, usize), bool> {
    let n = d.len().min(8);
    if d[..n] != PROTOCOL[..n] {
        return Err(false);
    }
    let h = d.get(..24).ok_or(true)?;
    let (id, len) = (le64(h, 8), le64(h, 16));
    if id == 0 || !(8..=ADDRESS_MAX as u64).contains(&len) || len % 8 != 0 {
        return Err(false);
    }
    let len = len as usize;
    let a = d.get(24..24 + len).ok_or(true)?;
    let text = a.iter().position(|&c| c == 0).ok_or(false)?;
    if len - text > 8 || a[text..].iter().any(|&c| c != 0) {
        return Err(false);
    }
    let addr = std::str::from_utf8(&a[..text]).map_err(|_| false)?;
    let (host, port) = addr.rsplit_once(':').ok_or(false)?;
    let ok = !host.is_empty()
        && host.bytes().all(|c| c.is_ascii_graphic())
        && (1..=5).contains(&port.len())
        && port.bytes().all(|c| c.is_ascii_digit());
    if ok {
        Ok((id, addr, 24 + len))
    } else {
        Err(false)
    }
}

impl Dissector for Raft {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "raft"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.orig.stream();
        let n = d.len().min(8);
        if d[..n] == PROTOCOL[..n] && p.resp.is_empty() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The client's protocol version (1, little-endian); the server
    /// alone is not probed.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[PROTOCOL[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        // The receiving end never sends.
        if !p.resp.is_empty() {
            return Parse::NotMine;
        }
        let d = p.orig.stream();
        let (id, addr, end) = match handshake(d) {
            Ok(h) => h,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let message = match d.get(end..end + 16) {
            Some(m) => {
                let (kind, len) = (le64(m, 0), le64(m, 8));
                if !(1..=6).contains(&kind) || len % 8 != 0 || len > BODY_MAX {
                    return Parse::NotMine;
                }
                Some(kind)
            }
            None if !p.last => return Parse::NeedMore,
            None => None,
        };
        meta.protocol = Some("raft");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("raft_server_id", id.to_string());
        meta.set_extra("raft_address", addr.chars().take(64).collect::<String>());
        if let Some(k) = message {
            let names = [
                "append_entries",
                "append_entries_result",
                "request_vote",
                "request_vote_result",
                "install_snapshot",
                "timeout_now",
            ];
            meta.set_extra("raft_message", names[(k - 1) as usize]);
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// raft.pcap frames 4 and 6 (to 127.0.0.1:9002): server 1's
    /// handshake from 127.0.0.1:9001, then a RequestVote (term 6, last
    /// log index 198, term 4).
    const STREAM: &str = "0100000000000000 0100000000000000 1000000000000000 3132372e302e302e313a393030310000
        0300000000000000 2800000000000000 0600000000000000 0100000000000000 c600000000000000
        0400000000000000 0200000000000000";

    #[test]
    fn handshake_and_request_vote() {
        let d = unhex(STREAM);
        let (v, m) = check_split_tcp(&Raft, 9002, &d, &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("raft"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("raft_server_id"), Some("1"));
        assert_eq!(m.extra("raft_address"), Some("127.0.0.1:9001"));
        assert_eq!(m.extra("raft_message"), Some("request_vote"));
        // The handshake alone waits for the first message header.
        let ends = [[40], [0]];
        let p = Payloads::tcp(46286, 9002, &d[..40], &[], &ends);
        assert_eq!(Raft.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let d = unhex(STREAM);
        // Protocol 2, server id 0, an address length not a multiple of 8,
        // no port, a non-digit port, a byte after the NUL, message type 7,
        // a body length not a multiple of 8.
        for (at, v) in [
            (0, 2),
            (8, 0),
            (16, 0x0f),
            (33, b'x'),
            (36, b'a'),
            (39, 1),
            (40, 7),
            (48, 0x29),
        ] {
            let mut x = d.clone();
            x[at] = v;
            let ends = [[x.len() as u32], [0]];
            assert!(!not_refused(&Raft, &Payloads::tcp(40000, 9002, &x, &[], &ends)), "{at}");
        }
        // The receiving end answering.
        let ends = [[d.len() as u32], [4]];
        assert!(!not_refused(
            &Raft,
            &Payloads::tcp(40000, 9002, &d, b"\x01\0\0\0", &ends)
        ));
    }
}
