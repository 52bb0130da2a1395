//! The Bitcoin peer-to-peer protocol over TCP, on any port (8333 is only
//! a hint). Every message opens with a 24-byte header: the network's
//! 4-byte magic (main, testnet3, testnet4, signet, regtest), a 12-byte
//! command (lowercase ASCII letters and digits, padded with NUL bytes),
//! a little-endian 32-bit payload length and a checksum: the first four
//! bytes of SHA-256 applied twice to the payload. Nodes before protocol
//! version 209 sent `version` and `verack` with a 20-byte header, without
//! the checksum.
//!
//! Taken as Bitcoin: a message whose checksum matches its payload, or a
//! checksum-less `version`/`verack` followed by another message header
//! on the same side or answered by one. The messages (version, inventory,
//! blocks, transactions) travel in clear: cleartext. (The BIP 324 v2
//! transport, which is encrypted, has no magic and is not taken.)

use sha2::{Digest, Sha256};

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Bitcoin;

const MAGICS: [([u8; 4], &str); 5] = [
    ([0xf9, 0xbe, 0xb4, 0xd9], "main"),
    ([0x0b, 0x11, 0x09, 0x07], "testnet3"),
    ([0x1c, 0x16, 0x3f, 0x28], "testnet4"),
    ([0x0a, 0x03, 0xcf, 0x40], "signet"),
    ([0xfa, 0xbf, 0xb5, 0xda], "regtest"),
];
/// Magic, command, length.
const SHORT: usize = 20;
/// Magic, command, length, checksum.
const HEADER: usize = 24;
/// Largest payload taken as evidence (the protocol's limit is 32 MiB; a
/// connection opens with small messages).
const MAX_PAYLOAD: usize = 1 << 20;
/// Messages walked per side.
const MAX_MESSAGES: usize = 8;

/// Does `d` open with (a prefix of) a known magic? The network's name
/// when all four bytes are there.
fn magic(d: &[u8]) -> Result<Option<&'static str>, ()> {
    let n = d.len().min(4);
    let m = MAGICS.iter().find(|(m, _)| m[..n] == d[..n]).ok_or(())?;
    Ok((n == 4).then_some(m.1))
}

/// A command field: 1 to 12 lowercase letters or digits, then NULs only.
fn command(c: &[u8]) -> Option<&[u8]> {
    let n = c.iter().position(|&b| b == 0).unwrap_or(c.len());
    let ok =
        n > 0 && c[..n].iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit()) && c[n..].iter().all(|&b| b == 0);
    ok.then_some(&c[..n])
}

/// What one side's messages show.
#[derive(Debug, Default, PartialEq)]
struct Walk {
    network: Option<&'static str>,
    /// A message with a matching checksum.
    checked: bool,
    /// A checksum-less `version`/`verack` message.
    short: bool,
    /// Whole messages seen.
    messages: usize,
    /// The first command.
    first: Option<String>,
}

/// Walks the messages opening `d`. `Err` when `d` cannot be Bitcoin.
fn walk(d: &[u8]) -> Result<Walk, ()> {
    let mut w = Walk::default();
    let mut off = 0usize;
    while w.messages < MAX_MESSAGES && off < d.len() {
        let m = &d[off..];
        w.network = magic(m)?.or(w.network);
        let Some(head) = m.get(..SHORT) else {
            // The command so far must be able to grow into one.
            let c = m.get(4..).unwrap_or(&[]);
            let n = c.iter().position(|&b| b == 0).unwrap_or(c.len());
            let ok = c[..n].iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && c[n..].iter().all(|&b| b == 0)
                && (n > 0 || c.is_empty());
            return if ok { Ok(w) } else { Err(()) };
        };
        let cmd = command(&head[4..16]).ok_or(())?;
        let len = u32::from_le_bytes([head[16], head[17], head[18], head[19]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(());
        }
        if w.first.is_none() {
            w.first = Some(String::from_utf8_lossy(cmd).into_owned());
        }
        let old = cmd == b"version" || cmd == b"verack";
        // A checksum-less message: its payload ends where the data does,
        // or where the next magic starts.
        let short_fits = old
            && match m.get(SHORT + len..) {
                Some(rest) => rest.is_empty() || magic(rest).is_ok(),
                None => false,
            };
        if let Some(payload) = m.get(HEADER..HEADER + len) {
            let sum = Sha256::digest(Sha256::digest(payload));
            if sum[..4] == m[SHORT..HEADER] {
                w.checked = true;
                w.messages += 1;
                off += HEADER + len;
                continue;
            }
        }
        if short_fits {
            w.short = true;
            w.messages += 1;
            off += SHORT + len;
            continue;
        }
        if m.len() < HEADER + len {
            // The rest of the message has not arrived.
            return Ok(w);
        }
        return Err(());
    }
    Ok(w)
}

impl Dissector for Bitcoin {
    fn name(&self) -> &'static str {
        "bitcoin"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if magic(p.first_payload()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The first byte of a network magic (`magic`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(MAGICS.iter().fold(ByteSet::default(), |s, (m, _)| s.with(m[0])))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side().stream();
        let second = p.second_side().stream();
        let Ok(a) = walk(first) else {
            return Parse::NotMine;
        };
        let b = if second.is_empty() {
            Ok(Walk::default())
        } else {
            walk(second)
        };
        let Ok(b) = b else {
            return Parse::NotMine;
        };
        let checked = a.checked || b.checked;
        // Checksum-less messages: two in a row, or one on each side.
        let short = (a.short || b.short) && a.messages + b.messages >= 2;
        if !checked && !short {
            return p.undecided();
        }
        meta.protocol = Some("bitcoin");
        meta.encryption = Encryption::Cleartext;
        if let Some(n) = a.network.or(b.network) {
            meta.set_extra("bitcoin_network", n);
        }
        if let Some(c) = &a.first {
            meta.set_extra("bitcoin_command", c.clone());
        }
        if checked && b.messages > 0 {
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

    // bitcoin.pcap, 192.168.1.142:55317 -> 188.165.213.169:8333: the
    // client's checksum-less version and verack, then getaddr (checksum
    // of the empty payload); the server's version.
    const CLIENT: &[u8] = b"\xf9\xbe\xb4\xd9\x76\x65\x72\x73\x69\x6f\x6e\x00\x00\x00\x00\x00\x55\x00\x00\x00\x01\x7d\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x41\xb0\x90\x4d\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xbc\xa5\xd5\xa9\x20\x8d\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xc0\xa8\x01\x8e\x20\x8d\xd9\x30\x3a\xcf\x1b\x10\x1e\x0c\x00\xfa\xbd\x01\x00\xf9\xbe\xb4\xd9\x76\x65\x72\x61\x63\x6b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf9\xbe\xb4\xd9\x67\x65\x74\x61\x64\x64\x72\x00\x00\x00\x00\x00\x00\x00\x00\x00\x5d\xf6\xe0\xe2";
    const SERVER: &[u8] = b"\xf9\xbe\xb4\xd9\x76\x65\x72\x73\x69\x6f\x6e\x00\x00\x00\x00\x00\x55\x00\x00\x00\x9c\x7c\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x6a\xb0\x90\x4d\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x26\x60\x84\x1e\xd8\x15\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xbc\xa5\xd5\xa9\x20\x8d\x4c\x2d\xc9\xc0\xae\xff\x17\x96\x00\x06\xc3\x01\x00";
    const VERSION_LEN: usize = 105;

    #[test]
    fn old_handshake() {
        let (r, m) = check_split_tcp(&Bitcoin, 8333, CLIENT, SERVER);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("bitcoin"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("bitcoin_network"), Some("main"));
        assert_eq!(m.extra("bitcoin_command"), Some("version"));
        // The two version messages alone.
        let (r, _) = check_split_tcp(&Bitcoin, 8333, &CLIENT[..VERSION_LEN], SERVER);
        assert_eq!(r, Parse::Identified);
        // One checksum-less version alone is not enough.
        let (r, _) = check_split_tcp(&Bitcoin, 8333, &CLIENT[..VERSION_LEN], b"");
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn checksummed_message() {
        let getaddr = &CLIENT[VERSION_LEN + 20..];
        let (r, m) = check_split_tcp(&Bitcoin, 18333, getaddr, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("bitcoin_command"), Some("getaddr"));
    }

    #[test]
    fn not_bitcoin() {
        let getaddr = &CLIENT[VERSION_LEN + 20..];
        let mut bad_sum = getaddr.to_vec();
        bad_sum[23] ^= 1;
        let mut upper = getaddr.to_vec();
        upper[4] = b'G';
        let mut gap = getaddr.to_vec();
        gap[9] = 0;
        let mut other_magic = getaddr.to_vec();
        other_magic[0] = 0xf8;
        // A checksum-less version not followed by a header.
        let mut trailing = CLIENT[..VERSION_LEN].to_vec();
        trailing.extend_from_slice(b"\x00\x00\x00\x00");
        let cases: [(&[u8], &[u8]); 5] = [
            (&bad_sum, b""),
            (&upper, b""),
            (&gap, b""),
            (&other_magic, b""),
            (&trailing, SERVER),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let p = Payloads::tcp(40000, 8333, c, s, &ends);
            assert!(!crate::dissect::not_refused(&Bitcoin, &p), "{c:?}");
        }
    }
}
