//! TeamViewer over TCP (port 5938, also tunnelled elsewhere), framing
//! described from the captures. Two framings share a connection:
//! - `17 24`, a command byte and a little-endian 16-bit body length
//!   (5-byte header), used by the first messages;
//! - `11 30`, a command byte, a flags byte and a little-endian 32-bit body
//!   length, then a sequence number and more header (24 bytes in all).
//!
//! A flow is taken as TeamViewer when its first frame is whole and is
//! followed by another frame with one of the two magics, on either side.
//! TeamViewer's security statement describes every session as end-to-end
//! encrypted (RSA key exchange, AES session keys), and the bulk segments
//! after the first frames carry no structure: the flow is encrypted.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct TeamViewer;

const V1: [u8; 2] = [0x17, 0x24];
const V2: [u8; 2] = [0x11, 0x30];
const V1_HEADER: usize = 5;
const V2_HEADER: usize = 24;
/// Largest body taken as plausible.
const MAX_BODY: usize = 1 << 20;

/// What the start of a stream says.
enum Start {
    /// Cannot be TeamViewer.
    No,
    /// Too short to tell.
    Short,
    /// A frame header: command byte and whole frame length.
    Frame(u8, usize),
}

fn start(d: &[u8]) -> Start {
    let n = d.len().min(2);
    let magic = if d.get(..n) == V1.get(..n) {
        V1
    } else if d.get(..n) == V2.get(..n) {
        V2
    } else {
        return Start::No;
    };
    let (Some(&cmd), header) = (d.get(2), if magic == V1 { V1_HEADER } else { V2_HEADER }) else {
        return Start::Short;
    };
    let body = if magic == V1 {
        d.get(3..5).map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
    } else {
        d.get(4..8)
            .and_then(|l| usize::try_from(u32::from_le_bytes([l[0], l[1], l[2], l[3]])).ok())
    };
    match body {
        None => Start::Short,
        Some(b) if b > MAX_BODY => Start::No,
        Some(b) => Start::Frame(cmd, header + b),
    }
}

impl Dissector for TeamViewer {
    fn name(&self) -> &'static str {
        "teamviewer"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match start(p.first_side().stream()) {
            Start::No => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side().stream();
        let (cmd, len) = match start(first) {
            Start::No => return Parse::NotMine,
            Start::Short => return p.undecided(),
            Start::Frame(c, l) => (c, l),
        };
        // A second frame: after the first on the same side, or the first
        // of the other side.
        let other = p.second_side();
        let next = first.get(len..).unwrap_or_default();
        let confirmed = match (start(next), start(other.stream())) {
            (Start::Frame(..), _) | (_, Start::Frame(..)) => true,
            (Start::No, _) if !next.is_empty() => return Parse::NotMine,
            (_, Start::No) if !other.is_empty() => return Parse::NotMine,
            _ => false,
        };
        if !confirmed {
            return p.undecided();
        }
        meta.protocol = Some("teamviewer");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("teamviewer".to_string());
        meta.set_extra("teamviewer_command", format!("0x{cmd:02x}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn v1(cmd: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![V1[0], V1[1], cmd];
        v.extend_from_slice(&(body.len() as u16).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    fn v2(cmd: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![V2[0], V2[1], cmd, 0];
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0x1b, 0, 0, 0, 0x18, 0, 0, 0]);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn two_frames_on_one_side_or_both() {
        let mut c = v1(0x0a, &[0x20; 32]);
        c.extend(v1(0x28, &[0; 24]));
        let (r, m) = check_split_tcp(&TeamViewer, 5938, &c, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("teamviewer"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("teamviewer_command"), Some("0x0a"));
        let c = v1(0x0a, &[0x20; 32]);
        let s = v2(0x36, &[0x8c; 24]);
        let (r, _) = check_split_tcp(&TeamViewer, 5938, &c, &s);
        assert_eq!(r, Parse::Done);
        // One frame alone is not enough.
        let ends = [[c.len() as u32], [0]];
        let p = Payloads::tcp(40000, 5938, &c, &[], &ends);
        assert_eq!(TeamViewer.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_teamviewer() {
        let mut c = v1(0x0a, &[0x20; 32]);
        c.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let ends = [[c.len() as u32], [0]];
        let p = Payloads::tcp(40000, 5938, &c, &[], &ends);
        assert_eq!(TeamViewer.parse(&p, &mut Meta::default()), Parse::NotMine);
        let huge = [0x11, 0x30, 1, 0, 0, 0, 0, 0x40];
        for d in [&b"SSH-2.0-x\r\n"[..], &huge] {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 5938, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&TeamViewer, &p);
            assert!(!claimed, "{d:?}");
        }
    }
}
