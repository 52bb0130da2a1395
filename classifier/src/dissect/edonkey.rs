//! eDonkey2000 / eMule client-to-client protocol over TCP, on any port
//! (4662 is the usual one; not used here).
//!
//! Every message is a protocol byte (0xe3 eDonkey, 0xc5 eMule
//! extensions), a 32-bit little-endian length of what follows, and an
//! opcode. A client-to-client session opens with HELLO (opcode 0x01):
//! a hash size byte of 16, the 16-byte user hash, a client id (32 bits),
//! a TCP port (16 bits), a tag list (a 32-bit count, then tags: a type
//! byte, a 16-bit name length and name, or with the high bit of the type
//! set a one-byte name, then a value of the type's size) and the 6-byte
//! address of the client's server. Taken as eDonkey: a first message
//! that is such a HELLO whose tags end exactly 6 bytes before the
//! announced end; when the other side has answered, its first message
//! must be a HELLO ANSWER (opcode 0x4c) with the same framing.
//!
//! The protocol is cleartext (eMule's optional obfuscation is not this
//! framing, and is not recognised here).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Edonkey;

const EDONKEY: u8 = 0xe3;
const EMULE: u8 = 0xc5;
const HELLO: u8 = 0x01;
const HELLO_ANSWER: u8 = 0x4c;
/// Longest HELLO accepted (real ones are a few hundred bytes).
const MAX_HELLO: usize = 4096;
const MAX_TAGS: u32 = 64;

/// A message header: (opcode, length of what follows the length field).
/// `Err(true)` while incomplete.
fn message(d: &[u8]) -> Result<(u8, usize), bool> {
    let proto = *d.first().ok_or(true)?;
    if proto != EDONKEY && proto != EMULE {
        return Err(false);
    }
    let l = d.get(1..5).ok_or(true)?;
    let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
    if len == 0 || len > MAX_HELLO {
        return Err(false);
    }
    Ok((*d.get(5).ok_or(true)?, len))
}

/// Skips a tag list at `off` within `body`; the offset after it.
fn tags(body: &[u8], mut off: usize) -> Option<usize> {
    let c = body.get(off..off + 4)?;
    let count = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    if count > MAX_TAGS {
        return None;
    }
    off += 4;
    for _ in 0..count {
        let t = *body.get(off)?;
        off += 1;
        if t & 0x80 != 0 {
            off += 1;
        } else {
            let n = body.get(off..off + 2)?;
            off += 2 + usize::from(u16::from_le_bytes([n[0], n[1]]));
        }
        let size = match t & 0x7f {
            // Hash.
            1 => 16,
            // String: a 16-bit length first.
            2 => {
                let n = body.get(off..off + 2)?;
                2 + usize::from(u16::from_le_bytes([n[0], n[1]]))
            }
            // uint32, float.
            3 | 4 => 4,
            // bool, uint8.
            5 | 9 => 1,
            // uint16.
            8 => 2,
            // uint64.
            0x0b => 8,
            // Short strings 1..16 bytes (eMule): the type says the length.
            t @ 0x11..=0x20 => usize::from(t - 0x10),
            _ => return None,
        };
        off += size;
        if off > body.len() {
            return None;
        }
    }
    Some(off)
}

/// Whether `d` opens with a whole HELLO (`hash` byte present) or HELLO
/// ANSWER whose fields fill it exactly. `Err(true)` while incomplete.
fn hello(d: &[u8], opcode: u8) -> Result<(), bool> {
    let (op, len) = message(d)?;
    if op != opcode {
        return Err(false);
    }
    let body = d.get(6..5 + len).ok_or(true)?;
    let mut off = 0;
    if opcode == HELLO {
        if body.first() != Some(&16) {
            return Err(false);
        }
        off = 1;
    }
    // User hash, client id, port.
    off += 16 + 4 + 2;
    match tags(body, off) {
        Some(end) if end + 6 == body.len() => Ok(()),
        _ => Err(false),
    }
}

impl Dissector for Edonkey {
    fn name(&self) -> &'static str {
        "edonkey"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.stream().first() {
            None | Some(&EDONKEY | &EMULE) => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        match hello(p.orig.stream(), HELLO) {
            Ok(()) => {}
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        }
        let answered = match hello(p.resp.stream(), HELLO_ANSWER) {
            Ok(()) => true,
            Err(true) => false,
            Err(false) => return Parse::NotMine,
        };
        meta.protocol = Some("edonkey");
        meta.encryption = Encryption::Cleartext;
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
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// edonkey.pcap, 201.15.177.227:1754 → 135.192.214.240:7551: the
    /// client's HELLO (8 tags) and the peer's HELLO ANSWER.
    const HELLO_HEX: &str = "e37700000001101b42cd5b940ed779c20ab755fe256f977d4967e38a4d08000000020100010f005b43484e5d5b5665727943445d7866030100113c000000020100550a00786c206275696c643631030100ee0ce98914030100f9a24ba24b030100fa14421334030100fb00c00000030100fe940000005511ac22e110";
    const ANSWER_HEX: &str = "e37f0000004c3a3544a8310e281d51ed5182f4cf6fd48c71f4cf7f1d080000000201000115005b43484e5d5b5665727943445d796f75726e616d65030100113c000000030100f9891d891d030100fa1b421334030100feb4010000030100fb00c00000020100550d0056657279434420303930333034030100ee0ce98914d43fce239210";

    #[test]
    fn hello_and_answer() {
        let h = unhex(HELLO_HEX);
        let a = unhex(ANSWER_HEX);
        let (r, m) = check_split_tcp(&Edonkey, 7551, &h, &a);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("edonkey"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        let (r, _) = check_split_tcp(&Edonkey, 7551, &h, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_edonkey() {
        let h = unhex(HELLO_HEX);
        let m = |i: usize, v: u8| {
            let mut x = h.clone();
            x[i] = v;
            x
        };
        let cases: [(Vec<u8>, Vec<u8>); 7] = [
            (m(0, 0xd4), vec![]),
            (m(1, 0x76), vec![]),
            (m(5, 0x02), vec![]),
            (m(6, 0x20), vec![]),
            // A tag count one too many, a tag of an unknown type.
            (m(29, 9), vec![]),
            (m(33, 0x07), vec![]),
            (h.clone(), h.clone()),
        ];
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 7551, o, r, &ends);
            assert!(!not_refused(&Edonkey, &p), "{o:02x?}");
        }
    }
}
