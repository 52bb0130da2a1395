//! Roughtime, the signed coarse time protocol, over UDP (2002 is only a
//! hint). A message is a tag/offset table, all little-endian 32-bit
//! words: the number of tags N, N-1 offsets into the value area, N tags,
//! then the values. Offsets are multiples of 4 and never decrease; tags
//! are four-character names (`NONC`, `PAD\xff`, `SIG\0`, `SREP`, `CERT`,
//! `INDX`, `PATH`, `MIDP`, `RADI`, `ROOT`, `DELE`, `PUBK`, `MINT`,
//! `MAXT`, `VER\0`, `ZZZZ`, ...) in strictly increasing numeric order;
//! the message length is a multiple of 4. The IETF drafts put the 8-byte
//! `ROUGHTIM` magic and a 32-bit length in front.
//!
//! Taken on a first datagram that is such a message with at least two
//! tags. Requests carry a nonce, responses a signed time: signed, not
//! sealed, so cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Roughtime;

const MAGIC: &[u8] = b"ROUGHTIM";
const MAX_TAGS: usize = 64;
const NONC: u32 = u32::from_le_bytes(*b"NONC");
const SREP: u32 = u32::from_le_bytes(*b"SREP");

/// A tag byte: an uppercase letter, a digit, or NUL/0xff padding.
fn tag_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == 0 || b == 0xff
}

/// The tags of the message `d`, when it is one.
fn message(d: &[u8]) -> Option<Vec<u32>> {
    let d = match d.strip_prefix(MAGIC) {
        Some(rest) => {
            let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let m = rest.get(4..)?;
            if m.len() != len {
                return None;
            }
            m
        }
        None => d,
    };
    if d.len() % 4 != 0 {
        return None;
    }
    let word = |i: usize| {
        d.get(4 * i..4 * i + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    let n = word(0)? as usize;
    if !(2..=MAX_TAGS).contains(&n) {
        return None;
    }
    let header = 4 * (2 * n);
    let values = d.len().checked_sub(header)?;
    let mut last = 0u32;
    for i in 1..n {
        let off = word(i)?;
        if off % 4 != 0 || off < last || off as usize > values {
            return None;
        }
        last = off;
    }
    let mut tags = Vec::with_capacity(n);
    for i in n..2 * n {
        let t = word(i)?;
        if tags.last().is_some_and(|&p| p >= t) || !t.to_le_bytes().iter().all(|&b| tag_byte(b)) {
            return None;
        }
        tags.push(t);
    }
    Some(tags)
}

impl Dissector for Roughtime {
    fn name(&self) -> &'static str {
        "roughtime"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        let n = d.len().min(MAGIC.len());
        // The IETF magic, or a tag count of 2 to 64.
        let plausible = d[..n] == MAGIC[..n] || d.get(1..4) == Some(&[0, 0, 0][..]) && (2..=64).contains(&d[0]);
        if plausible {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits the `ROUGHTIM` magic or a tag count of 2..=64.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(2, 64).with(b'R'))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(tags) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("roughtime");
        meta.encryption = Encryption::Cleartext;
        let kind = if tags.contains(&NONC) {
            "request"
        } else if tags.contains(&SREP) {
            "response"
        } else {
            "other"
        };
        meta.set_extra("roughtime_message", kind);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // roughtime.pcap, 192.168.2.100:36225 -> 64.233.164.158:2002: the
    // request's table and nonce; the rest of its 1024 bytes is zero.
    const REQUEST_HEAD: &[u8] = b"\x02\x00\x00\x00\x40\x00\x00\x00NONCPAD\xff\x45\x9c\xab\x6f\x48\x34\xcd\xa9\xb7\xb3\xc9\x83\xe3\xb5\x04\x8e\x16\x25\x6e\x65\xec\x96\x3e\x60\xbf\x8c\xa3\x69\xad\x3c\xb4\x93\xd5\x90\x9e\x68\xd8\xf8\xbd\x49\x9e\x99\x07\xc4\xd0\xda\x2e\xdc";
    // roughtime.pcap, 35.192.98.51:2002 -> 192.168.2.100:57626.
    const RESPONSE: &[u8] = b"\x05\x00\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00\xa4\x00\x00\x00\x3c\x01\x00\x00\x53\x49\x47\x00\x50\x41\x54\x48\x53\x52\x45\x50\x43\x45\x52\x54\x49\x4e\x44\x58\x5e\xf6\xc2\x84\xc4\xe0\x4e\x66\xe2\x99\xee\xa2\x3d\x60\xf3\x64\x37\x8a\xdf\x91\xc7\x59\x48\x42\xb0\x5a\xfb\xcc\x3b\x1c\x0d\xb4\x97\xa0\xb3\x45\xc0\xc4\x5e\x4a\xf2\xa8\xdd\xb0\x4f\xf3\xfe\x6f\x79\x88\xcb\xa1\xc8\x97\xf6\x8c\xcd\x43\x9a\x0d\x25\x4b\x11\x0b\x03\x00\x00\x00\x04\x00\x00\x00\x0c\x00\x00\x00\x52\x41\x44\x49\x4d\x49\x44\x50\x52\x4f\x4f\x54\x40\x42\x0f\x00\xc0\xd8\x69\x34\xa5\xff\x05\x00\x7b\x8e\x27\x07\x13\x1b\x82\x5e\xf0\x4d\x70\xb1\xb8\x46\xa8\xb1\x65\x03\x9a\x83\xdb\xea\x34\xb6\x2e\x98\xbb\x85\xdf\x7d\x7b\x13\xa4\x3c\x9a\xbe\x2d\x1b\xe3\x2b\x64\x8f\x3b\x67\xd0\xfa\xe8\xbc\xbd\x04\x50\x8e\x52\x61\xbc\x1d\x40\xb8\x0a\x60\xc4\x04\x33\x2c\x02\x00\x00\x00\x40\x00\x00\x00\x53\x49\x47\x00\x44\x45\x4c\x45\xcd\xf8\xd4\x90\x9d\xfc\x5e\xcc\xca\xa8\x6f\x6d\xa1\xa7\xf5\xf0\x5b\x37\x79\x7a\x3a\xe7\xe0\x78\xc4\xd5\xb8\x75\x23\xa6\x09\xf2\x40\x00\x32\x4c\x38\xcb\x9d\x3d\xaf\x68\x61\x39\x66\xf4\xf9\x97\x34\x3f\xa2\xad\xeb\x70\xd7\x28\x08\x36\x65\xba\x5a\x41\xb1\x00\x03\x00\x00\x00\x20\x00\x00\x00\x28\x00\x00\x00\x50\x55\x42\x4b\x4d\x49\x4e\x54\x4d\x41\x58\x54\x42\xaa\x18\xa5\x5d\x45\x46\x31\xe7\x99\xaa\xa4\xa0\xb3\xab\x20\xab\xa1\x00\x5e\xe4\x3f\x7d\xfc\xb3\x71\x5a\x14\xae\x00\xc0\xa6\x90\x8b\x3b\x27\x9f\xff\x05\x00\x90\xeb\x12\x45\xb3\xff\x05\x00\x00\x00\x00\x00";

    fn request() -> Vec<u8> {
        let mut r = REQUEST_HEAD.to_vec();
        r.resize(1024, 0);
        r
    }

    #[test]
    fn request_and_response() {
        let req = request();
        let (r, m) = check_split_udp(&Roughtime, 36225, 2002, &[&req], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("roughtime"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("roughtime_message"), Some("request"));
        assert_eq!(RESPONSE.len(), 360);
        let (r, m) = check_split_udp(&Roughtime, 2002, 57626, &[RESPONSE], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("roughtime_message"), Some("response"));
        // The IETF framing.
        let mut ietf = b"ROUGHTIM".to_vec();
        ietf.extend_from_slice(&(RESPONSE.len() as u32).to_le_bytes());
        ietf.extend_from_slice(RESPONSE);
        let (r, _) = check_split_udp(&Roughtime, 40000, 2002, &[&ietf], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_roughtime() {
        let mut order = RESPONSE.to_vec();
        order[24..28].copy_from_slice(b"ZZZZ");
        let mut offset = RESPONSE.to_vec();
        offset[8] = 0x3c;
        let mut odd = RESPONSE.to_vec();
        odd.push(0);
        let mut tag = RESPONSE.to_vec();
        tag[20] = b's';
        let mut one = RESPONSE.to_vec();
        one[0] = 1;
        let mut ietf = b"ROUGHTIM".to_vec();
        ietf.extend_from_slice(&(RESPONSE.len() as u32 + 4).to_le_bytes());
        ietf.extend_from_slice(RESPONSE);
        for d in [order, offset, odd, tag, one, ietf] {
            let f = UdpFixture::new(2002, 40000, &[&d], &[]);
            assert!(
                !crate::dissect::not_refused(&Roughtime, &f.payloads()),
                "{:?}",
                &d[..24]
            );
        }
    }
}
