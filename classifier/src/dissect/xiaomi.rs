//! Xiaomi's push channel (TCP, port 5222 in the captures), described from
//! the captures. Each frame is the magic `c2 fe`, a 16-bit version (5),
//! a big-endian 32-bit body length, the body and a 4-byte trailer
//! (a checksum). The first frame each way is the `CONN` handshake, whose
//! body is in the clear: two 16-bit fields, a 32-bit header length and a
//! protobuf header (domain `xiaomi.com`, command `CONN`, the device model
//! and MIUI version from the client). The frames that follow carry no
//! structure at all: they are ciphertext, keyed by the handshake. So the
//! flow is encrypted, as for TLS, whose handshake is also in the clear.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Xiaomi;

const MAGIC: [u8; 4] = [0xc2, 0xfe, 0x00, 0x05];
const HEADER: usize = 8;
const TRAILER: usize = 4;
/// Largest body taken as plausible.
const MAX_BODY: u32 = 1 << 20;

/// `Some(true)` when `d` opens with a frame header, `Some(false)` when it
/// cannot, `None` when too short to tell.
fn opens_with_frame(d: &[u8]) -> Option<bool> {
    if !agrees(d, &MAGIC) {
        return Some(false);
    }
    let l = d.get(4..HEADER)?;
    let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]);
    Some(len > 0 && len <= MAX_BODY)
}

/// The command of a whole cleartext handshake frame at the start of `d`:
/// the protobuf header's field 5 (a short string such as `CONN`).
fn command(d: &[u8]) -> Option<&str> {
    let l = d.get(4..HEADER)?;
    let body_len = usize::try_from(u32::from_be_bytes([l[0], l[1], l[2], l[3]])).ok()?;
    let body = d.get(HEADER..HEADER.checked_add(body_len)?)?;
    let hlen = usize::try_from(u32::from_be_bytes(body.get(4..8)?.try_into().ok()?)).ok()?;
    let mut pb = body.get(8..8usize.checked_add(hlen)?)?;
    // Walk the protobuf fields: varints and length-delimited only.
    while let Some((&key, rest)) = pb.split_first() {
        let (value, rest) = match key & 7 {
            0 => {
                let n = rest.iter().position(|b| b & 0x80 == 0)? + 1;
                (&[][..], rest.get(n..)?)
            }
            2 => {
                let (&len, rest) = rest.split_first()?;
                if len & 0x80 != 0 {
                    return None;
                }
                let len = usize::from(len);
                (rest.get(..len)?, rest.get(len..)?)
            }
            _ => return None,
        };
        if key == (5 << 3 | 2) {
            let s = std::str::from_utf8(value).ok()?;
            return (!s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric())).then_some(s);
        }
        pb = rest;
    }
    None
}

impl Dissector for Xiaomi {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "xiaomi"
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
        let other = p.second_side();
        if opens_with_frame(other.stream()) == Some(false) {
            return Parse::NotMine;
        }
        meta.protocol = Some("xiaomi");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("xiaomi".to_string());
        // The handshake frame is whole once its trailer has arrived.
        let l = first
            .get(4..HEADER)
            .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]));
        let whole = l.and_then(|l| usize::try_from(l).ok()).map(|l| HEADER + l + TRAILER);
        match command(first) {
            Some(c) => {
                meta.set_extra("xiaomi_command", c);
                Parse::Done
            }
            None if whole.is_some_and(|w| first.len() >= w) || p.last => Parse::Done,
            None => Parse::Identified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&[0x7e, 0x29, 0x0b, 0x78]);
        v
    }

    fn conn(model: &[u8]) -> Vec<u8> {
        let mut pb = vec![0x08, 0x00, 0x1a, 10];
        pb.extend_from_slice(b"xiaomi.com");
        pb.extend_from_slice(&[0x2a, 4]);
        pb.extend_from_slice(b"CONN");
        pb.extend_from_slice(&[0x48, 0x00, 0x08, 0x6a, 0x12, model.len() as u8]);
        pb.extend_from_slice(model);
        let mut body = vec![0, 2, 0, 0x16];
        body.extend_from_slice(&(pb.len() as u32).to_be_bytes());
        body.extend_from_slice(&pb);
        body.extend_from_slice(&[0x55; 0x16]);
        frame(&body)
    }

    #[test]
    fn conn_handshake_then_ciphertext() {
        let mut c = conn(b"Redmi Note 8T");
        c.extend(frame(&[0x30, 0x31, 0xe7, 0x3f, 0x41, 0x1b, 0x6d, 0xbc]));
        let s = conn(b"");
        let (r, m) = check_split_tcp(&Xiaomi, 5222, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("xiaomi"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.app.as_deref(), Some("xiaomi"));
        assert_eq!(m.extra("xiaomi_command"), Some("CONN"));
        // The header alone identifies the flow and waits for the command.
        let ends = [[8], [0]];
        let p = Payloads::tcp(40000, 5222, &c[..8], &[], &ends);
        assert_eq!(Xiaomi.parse(&p, &mut Meta::default()), Parse::Identified);
    }

    #[test]
    fn not_xiaomi() {
        let zero = MAGIC.iter().copied().chain([0, 0, 0, 0]).collect::<Vec<_>>();
        let other_version = [0xc2, 0xfe, 0, 6, 0, 0, 0, 9];
        for d in [&b"<stream:stream to='a'>"[..], &zero, &other_version] {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 5222, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Xiaomi, &p);
            assert!(!claimed, "{d:?}");
        }
        let c = conn(b"x");
        let ends = [[c.len() as u32], [4]];
        let p = Payloads::tcp(40000, 5222, &c, b"<?xm", &ends);
        assert_eq!(Xiaomi.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
