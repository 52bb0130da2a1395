//! RakNet, the game networking library (Minecraft Bedrock and others),
//! over UDP (any port). Unconnected ("offline") messages carry the
//! 16-byte magic `00 ff ff 00 fe fe fe fe fd fd fd fd 12 34 56 78` at a
//! place fixed by their id: right after it for the open-connection and
//! refusal messages, after a time stamp in pings (ids 1, 2), after the
//! time and a GUID in pongs (0x1c), after a protocol byte in 0x19.
//! Connected datagrams have no magic: an ACK (0xc0) or NACK (0xa0) is a
//! record count then single numbers or ranges (a flag byte and 24-bit
//! little-endian numbers), and a frame set (0x84, 0x8c, 0x94, 0x9c) is a 24-bit
//! sequence number then frames (flags with the reliability in the top
//! three bits and bit 4 for a split, the body length in bits, then the
//! indices the reliability and split need, then the body). Both must fill
//! the datagram exactly; a frame set needs a second RakNet datagram
//! (same side or the answer). RakNet has no encryption of its own:
//! cleartext.
//!
//! Roblox runs RakNet with its own message ids (roblox.pcapng: 0x7b,
//! 0x78 from the client, 0x7e, 0x7d from the server), so the two first
//! handshake messages are also taken by layout whatever their id: the
//! magic at offset 1, then either the protocol version and zero padding
//! up to the probed MTU (open-connection request 1, at least 64 bytes),
//! or the server's 64-bit GUID, a security flag (0 or 1) and an MTU of
//! 400..=1500 (reply 1, exactly 28 bytes). Roblox may put a relay header
//! in front: `01 00 00`, then the header's length in its fourth byte;
//! the RakNet message starts there.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Raknet;

const MAGIC: [u8; 16] = [
    0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78,
];
/// Largest datagram RakNet sends (its MTU discovery tops out at 1500).
const MTU: usize = 1500;

/// Offline message ids and where their magic sits.
fn magic_offset(id: u8) -> Option<usize> {
    match id {
        0x01 | 0x02 => Some(9),
        0x1c => Some(17),
        0x19 => Some(2),
        0x05..=0x08 | 0x10 | 0x11 | 0x12 | 0x14 | 0x17 | 0x1a => Some(1),
        _ => None,
    }
}

fn offline(d: &[u8]) -> bool {
    let Some(off) = d.first().and_then(|&id| magic_offset(id)) else {
        return false;
    };
    d.get(off..off + MAGIC.len()) == Some(&MAGIC[..])
}

/// Open-connection request 1 or reply 1 under an id of the game's own
/// (see the module documentation).
fn remapped(d: &[u8]) -> bool {
    if d.get(1..17) != Some(&MAGIC[..]) {
        return false;
    }
    let request1 = d.len() >= 64 && d[17] != 0 && d[18..].iter().all(|&b| b == 0);
    let reply1 = d.len() == 28 && d[25] <= 1 && (400..=MTU as u16).contains(&u16::from_be_bytes([d[26], d[27]]));
    request1 || reply1
}

/// The RakNet message behind a relay header `01 00 00 LEN`, if any.
fn relayed(d: &[u8]) -> Option<&[u8]> {
    if d.get(..3) != Some(&[1, 0, 0][..]) {
        return None;
    }
    let len = usize::from(*d.get(3)?);
    d.get(len..).filter(|_| len >= 4)
}

fn u24(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at + 3)?;
    Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
}

/// An ACK or NACK: records filling the datagram exactly.
fn ack(d: &[u8]) -> bool {
    let (Some(&flags), Some(count)) = (d.first(), d.get(1..3)) else {
        return false;
    };
    let count = u16::from_be_bytes([count[0], count[1]]);
    if !matches!(flags, 0xc0 | 0xa0) || count == 0 {
        return false;
    }
    let mut off = 3usize;
    for _ in 0..count {
        let (single, first) = (d.get(off).copied(), u24(d, off + 1));
        off += match (single, first) {
            (Some(1), Some(_)) => 4,
            (Some(0), Some(first)) => match u24(d, off + 4) {
                Some(last) if last >= first => 7,
                _ => return false,
            },
            _ => return false,
        };
    }
    off == d.len()
}

/// A frame set: frames filling the datagram exactly.
fn frame_set(d: &[u8]) -> bool {
    // Valid (0x80) and needs-B-and-AS (0x04), maybe continuous send
    // (0x08) or packet pair (0x10); the low two bits are unused. (RTP's
    // usual first byte, 0x80, is not one of these.)
    if !matches!(d.first(), Some(0x84 | 0x8c | 0x94 | 0x9c)) || d.len() < 4 {
        return false;
    }
    let mut off = 4usize;
    while off < d.len() {
        let (Some(&flags), Some(bits)) = (d.get(off), d.get(off + 1..off + 3)) else {
            return false;
        };
        let bits = u16::from_be_bytes([bits[0], bits[1]]);
        let reliability = flags >> 5;
        let split = flags & 0x10 != 0;
        if flags & 0x0f != 0 || bits == 0 {
            return false;
        }
        off += 3;
        if matches!(reliability, 2 | 3 | 4 | 6 | 7) {
            off += 3;
        }
        if matches!(reliability, 1 | 4) {
            off += 3;
        }
        if matches!(reliability, 1 | 3 | 4 | 7) {
            off += 4;
        }
        if split {
            let Some(s) = d.get(off..off + 10) else { return false };
            let count = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
            let index = u32::from_be_bytes([s[6], s[7], s[8], s[9]]);
            if index >= count {
                return false;
            }
            off += 10;
        }
        off += usize::from(bits).div_ceil(8);
    }
    off == d.len()
}

/// The kind of the first datagram, when it is RakNet.
fn kind(d: &[u8]) -> Option<&'static str> {
    if d.len() > MTU {
        None
    } else if offline(d) || remapped(d) {
        Some("offline")
    } else if relayed(d).is_some_and(|r| offline(r) || remapped(r)) {
        Some("offline_relayed")
    } else if ack(d) {
        Some(if d[0] == 0xc0 { "ack" } else { "nack" })
    } else if frame_set(d) {
        Some("frame_set")
    } else {
        None
    }
}

impl Dissector for Raknet {
    fn name(&self) -> &'static str {
        "raknet"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        let id = d.first().copied().unwrap_or(0);
        if magic_offset(id).is_some()
            || matches!(id, 0x84 | 0x8c | 0x94 | 0x9c | 0xa0 | 0xc0)
            || d.get(1..17) == Some(&MAGIC[..])
        {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let side = p.first_side();
        let Some(k) = kind(side.first()) else {
            return Parse::NotMine;
        };
        // A frame set's shape alone is too weak (random bytes fit it now
        // and then): a second datagram, either way, must be RakNet too.
        if k == "frame_set" {
            let other = p.second_side();
            let second = side.chunks().nth(1).or_else(|| other.chunks().next());
            match second {
                None => return p.undecided(),
                Some(d) if kind(d).is_none() => return Parse::NotMine,
                Some(_) => {}
            }
        }
        meta.protocol = Some("raknet");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("raknet_message", k);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn offline_handshake() {
        let mut req1 = vec![0x05];
        req1.extend_from_slice(&MAGIC);
        req1.push(0x06);
        req1.resize(1464, 0);
        let reply1 = hex("0600ffff00fefefefefdfdfdfd12345678000591a5360522200005d4");
        let (r, m) = check_split_udp(&Raknet, 44501, 60030, &[&req1], &[&reply1]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("raknet"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("raknet_message"), Some("offline"));
        let mut ping = vec![0x01, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
        ping.extend_from_slice(&MAGIC);
        ping.extend_from_slice(&[7; 8]);
        let (r, _) = check_split_udp(&Raknet, 44501, 19132, &[&ping], &[]);
        assert_eq!(r, Parse::Done);
    }

    /// roblox.pcapng, 192.168.12.156:42965 <-> 128.116.89.113:63862: the
    /// request (id 0x7b, version 5, zero padding to 1356 bytes) and the
    /// reply (id 0x7e, GUID, no security, MTU 1396); and the same request
    /// behind the 31-byte relay header of 192.168.12.156:45693.
    #[test]
    fn roblox_remapped_ids() {
        let mut req1 = vec![0x7b];
        req1.extend_from_slice(&MAGIC);
        req1.push(0x05);
        req1.resize(1356, 0);
        let reply1 = hex("7e00ffff00fefefefefdfdfdfd1234567898d5573af066c42d000574");
        let (r, m) = check_split_udp(&Raknet, 42965, 63862, &[&req1], &[&reply1]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("raknet_message"), Some("offline"));
        let mut relayed = hex("0100001f011101a3022e4b808da3c9e85a9525d3b8fdad02060a090090d089");
        relayed.extend_from_slice(&req1[..1325]);
        let (r, m) = check_split_udp(&Raknet, 45693, 53385, &[&relayed], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("raknet_message"), Some("offline_relayed"));
        // Near misses: padding not zero, a reply of another length or
        // MTU, a relay length pointing elsewhere.
        let mut dirty = req1.clone();
        dirty[500] = 1;
        let mut mtu = reply1.clone();
        mtu[26] = 0x10;
        let mut off = relayed.clone();
        off[3] = 0x1e;
        for d in [&dirty, &reply1[..27].to_vec(), &mtu, &off] {
            let f = UdpFixture::new(42965, 63862, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Raknet, &f.payloads()));
        }
    }

    #[test]
    fn connected_datagrams() {
        let cases = [
            ("840000004000900000000900000000490f027c000000000015e93b00", "frame_set"),
            ("8402000000008803000000000015e95e000000130c201546", "frame_set"),
            ("c0000100010000020000", "ack"),
            ("c000050100000001000000010000000100000001000000", "ack"),
        ];
        for (h, want) in cases {
            let d = hex(h);
            let (r, m) = check_split_udp(&Raknet, 60022, 32951, &[&d, &d], &[]);
            assert_eq!(r, Parse::Done, "{h}");
            assert_eq!(m.extra("raknet_message"), Some(want));
        }
    }

    #[test]
    fn not_raknet() {
        let cases = [
            // Magic one byte off, wrong id for it.
            "0500ffff00fefefefefdfdfdfd123456",
            "0400ffff00fefefefefdfdfdfd12345678",
            // Frame one byte short or long, low flag bits set.
            "8402000000008803000000000015e95e000000130c2015",
            "8402000000008803000000000015e95e000000130c20154600",
            "8402000001008803000000000015e95e000000130c201546",
            // RTP (version 2, payload type 102) whose bytes happen to
            // walk like frames.
            "806655c20001285c205e00000000000000000000000000000000000000000000000000000000000000000000",
            // Ack: range backwards, a record too many.
            "c0000100020000010000",
            "c00002010000000100",
        ];
        for h in cases {
            let d = hex(h);
            let f = UdpFixture::new(40000, 19132, &[&d, &d], &[]);
            let claimed = crate::dissect::not_refused(&Raknet, &f.payloads());
            assert!(!claimed, "{h}");
        }
        // One frame set alone waits for a second datagram, then gives up.
        let d = hex("8402000000008803000000000015e95e000000130c201546");
        let fixture = UdpFixture::new(60022, 32951, &[&d], &[]);
        let mut f = fixture.payloads();
        assert_eq!(Raknet.parse(&f, &mut Meta::default()), Parse::NeedMore);
        f.last = true;
        assert_eq!(Raknet.parse(&f, &mut Meta::default()), Parse::NotMine);
        let fixture = UdpFixture::new(60022, 32951, &[&d], &[b"\x17\x03\x03"]);
        assert_eq!(Raknet.parse(&fixture.payloads(), &mut Meta::default()), Parse::NotMine);
    }
}
