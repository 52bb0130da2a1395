//! Monero's peer-to-peer protocol (the levin framing of its node code)
//! over TCP, on any port (18080 is only a hint). Every message opens
//! with a 33-byte header, little-endian: the 8-byte signature
//! 0x0101010101012101, the body size (64 bits), a have-to-return flag
//! (0 or 1), the command (32 bits: 1001 handshake, 1002 timed sync, 1003
//! ping, 200x the chain notifications), a return code (32 bits), flags
//! (32 bits: request 1, response 2, and the fragment start/end bits 4
//! and 8) and the protocol version (1). A body in the "portable storage"
//! format opens with its own 9-byte signature.
//!
//! Taken as Monero: a first message header that is consistent (known
//! flags, version 1, a body within bounds opening with the storage
//! signature when it is long enough), and an answer, if any, to the same
//! command. Peer lists, heights and transactions travel in clear:
//! cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Monero;

const SIGNATURE: [u8; 8] = [0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01];
const HEADER: usize = 33;
/// The portable storage signatures and format version.
const STORAGE: [u8; 9] = [0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01];
/// The node's default limit on a levin packet.
const MAX_BODY: u64 = 100 << 20;
const FLAGS: u32 = 1 | 2 | 4 | 8;

/// A message header opening `d`: `Ok(None)` for a prefix of one, `Err`
/// when `d` cannot open one. The command and the flags.
fn header(d: &[u8]) -> Result<Option<(u32, u32)>, ()> {
    if !agrees(d, &SIGNATURE) {
        return Err(());
    }
    let Some(h) = d.get(..HEADER) else {
        return Ok(None);
    };
    let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let mut size = [0u8; 8];
    size.copy_from_slice(&h[8..16]);
    let size = u64::from_le_bytes(size);
    let (ret, command, flags, version) = (h[16], le32(17), le32(25), le32(29));
    if size > MAX_BODY || ret > 1 || flags & !FLAGS != 0 || flags & 3 == 0 || flags & 3 == 3 || version != 1 {
        return Err(());
    }
    // A body long enough to hold the storage signature must open with it.
    let body = &d[HEADER..];
    let m = body.len().min(STORAGE.len());
    if size >= STORAGE.len() as u64 && body[..m] != STORAGE[..m] {
        return Err(());
    }
    Ok(Some((command, flags)))
}

fn command_name(c: u32) -> &'static str {
    match c {
        1001 => "handshake",
        1002 => "timed_sync",
        1003 => "ping",
        1007 => "support_flags",
        2001..=2010 => "notify",
        _ => "other",
    }
}

impl Dissector for Monero {
    fn name(&self) -> &'static str {
        "monero"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if header(p.first_payload()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The Levin signature (`header`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[SIGNATURE[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (p.first_side().stream(), p.second_side().stream());
        let x = match header(a) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(x)) => x,
        };
        let y = if b.is_empty() { Ok(None) } else { header(b) };
        let Ok(y) = y else {
            return Parse::NotMine;
        };
        // A request's answer is about the same command.
        if let Some((command, flags)) = y {
            if x.1 & 1 != 0 && flags & 2 != 0 && command != x.0 {
                return Parse::NotMine;
            }
        }
        meta.protocol = Some("monero");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("monero_command", command_name(x.0));
        if y.is_some() {
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

    // monero.pcap, 192.168.2.100:48882 -> 159.69.36.66:18080: the start
    // of the handshake request and of its answer.
    const REQUEST: &[u8] = b"\x01\x21\x01\x01\x01\x01\x01\x01\x06\x01\x00\x00\x00\x00\x00\x00\x01\xe9\x03\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x11\x01\x01\x01\x01\x02\x01\x01\x08\x09node_data\x0c\x10\x07my_port\x06\xa0\x46";
    const ANSWER: &[u8] = b"\x01\x21\x01\x01\x01\x01\x01\x01\x6c\x42\x00\x00\x00\x00\x00\x00\x00\xe9\x03\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x01\x11\x01\x01\x01\x01\x02\x01\x01\x0c\x12local_peerlist_new";

    #[test]
    fn handshake() {
        let (r, m) = check_split_tcp(&Monero, 18080, REQUEST, ANSWER);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("monero"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("monero_command"), Some("handshake"));
        let (r, _) = check_split_tcp(&Monero, 18080, REQUEST, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_monero() {
        let mut flags = REQUEST.to_vec();
        flags[25] = 3;
        let mut version = REQUEST.to_vec();
        version[29] = 2;
        let mut body = REQUEST.to_vec();
        body[34] = 0x12;
        let mut huge = REQUEST.to_vec();
        huge[15] = 1;
        let mut other = ANSWER.to_vec();
        other[17] = 0xea;
        let cases: [(&[u8], &[u8]); 5] = [
            (&flags, b""),
            (&version, b""),
            (&body, b""),
            (&huge, b""),
            (REQUEST, &other),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let p = Payloads::tcp(40000, 18080, c, s, &ends);
            assert!(!crate::dissect::not_refused(&Monero, &p), "{c:?} {s:?}");
        }
    }
}
