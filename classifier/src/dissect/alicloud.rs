//! AliCloud's device link (TCP, port 8999 in the captures), described from
//! the captures: each side sends frames of an 8-byte header, the magic
//! `ce fa be ba` (0xbabeface little-endian) and a little-endian 32-bit
//! body length, then the body. The client opens with a 128-byte body, the
//! server answers with 48 bytes; the bodies carry no structure at all
//! (no length fields, no text, byte values spread evenly): they are
//! ciphertext, and the flow is encrypted.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct AliCloud;

const MAGIC: [u8; 4] = [0xce, 0xfa, 0xbe, 0xba];
const HEADER: usize = 8;
/// Largest body taken as plausible (the captures' are at most 208 bytes).
const MAX_BODY: u32 = 1 << 20;

/// What a side's stream says: `Some(true)` when it opens with a frame
/// header, `Some(false)` when it cannot, `None` when too short to tell.
fn opens_with_frame(d: &[u8]) -> Option<bool> {
    if !agrees(d, &MAGIC) {
        return Some(false);
    }
    let len = d.get(4..HEADER)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
    Some(len > 0 && len <= MAX_BODY)
}

impl Dissector for AliCloud {
    fn name(&self) -> &'static str {
        "alicloud"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match opens_with_frame(p.first_side().stream()) {
            Some(false) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// The frame's magic (`opens_with_frame` on whoever spoke first).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[MAGIC[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side().stream();
        match opens_with_frame(first) {
            Some(false) => return Parse::NotMine,
            None => return p.undecided(),
            Some(true) => {}
        }
        // The other side, once it speaks, must frame the same way.
        let other = p.second_side();
        match opens_with_frame(other.stream()) {
            Some(false) if !other.is_empty() => return Parse::NotMine,
            _ => {}
        }
        meta.protocol = Some("alicloud");
        meta.encryption = Encryption::Encrypted;
        if let Some(l) = first.get(4..HEADER) {
            let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]);
            meta.set_extra("alicloud_first_body", len.to_string());
        }
        if other.stream().len() >= HEADER {
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

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn client_and_server_frames() {
        let c = frame(&[0x72; 128]);
        let s = frame(&[0x68; 48]);
        let (r, m) = check_split_tcp(&AliCloud, 8999, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("alicloud"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("alicloud_first_body"), Some("128"));
        // The client header alone already identifies the flow.
        let ends = [[8], [0]];
        let p = Payloads::tcp(40000, 8999, &c[..8], &[], &ends);
        assert_eq!(AliCloud.parse(&p, &mut Meta::default()), Parse::Identified);
    }

    #[test]
    fn not_alicloud() {
        let empty_body = MAGIC.iter().copied().chain([0, 0, 0, 0]).collect::<Vec<_>>();
        let huge = MAGIC.iter().copied().chain([0, 0, 0, 0x40]).collect::<Vec<_>>();
        for d in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            &empty_body,
            &huge,
            &[0xce, 0xfa, 0xbe, 0xbb, 0x80, 0, 0, 0],
        ] {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 8999, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&AliCloud, &p);
            assert!(!claimed, "{d:?}");
        }
        // A server that answers something else.
        let c = frame(&[1; 16]);
        let ends = [[c.len() as u32], [5]];
        let p = Payloads::tcp(40000, 8999, &c, b"hello", &ends);
        assert_eq!(AliCloud.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
