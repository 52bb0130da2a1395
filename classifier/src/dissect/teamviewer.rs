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
//!
//! Over UDP (the hole-punched peer link, any ports) every datagram is one
//! `17 24` frame behind an 11-byte prefix (two little-endian 32-bit
//! counters, two bytes and a kind byte), the frame's 16-bit length
//! covering exactly the rest of the datagram. A flow is taken as
//! TeamViewer over UDP when its first two datagrams (either side) are such
//! frames and none of its datagrams is anything else. The session
//! messages among them (command 0x6b) carry structureless bodies, as the
//! TCP channel does: encrypted.

use super::{agrees, Dissector, Parse, Payloads, Probe, Transport};
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

/// The prefix before a UDP datagram's frame.
const UDP_PREFIX: usize = 11;

/// The command of a UDP datagram that is one whole frame behind the
/// prefix; `Err` when it is not one, `Ok(None)` when too short to tell.
fn udp_frame(d: &[u8]) -> Result<Option<u8>, ()> {
    if d.is_empty() {
        return Ok(None);
    }
    // Datagrams come whole: a short one is not a frame.
    let Some(f) = d.get(UDP_PREFIX..) else {
        return Err(());
    };
    if !agrees(f, &V1) {
        return Err(());
    }
    let Some(h) = f.get(..V1_HEADER) else {
        return Err(());
    };
    let body = usize::from(u16::from_le_bytes([h[3], h[4]]));
    if f.len() != V1_HEADER + body {
        return Err(());
    }
    Ok(Some(h[2]))
}

impl TeamViewer {
    fn parse_udp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = match udp_frame(p.first_payload()) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(c)) => c,
        };
        let mut frames = 0usize;
        for d in p.orig.chunks().chain(p.resp.chunks()) {
            match udp_frame(d) {
                Err(()) => return Parse::NotMine,
                Ok(None) => {}
                Ok(Some(_)) => frames += 1,
            }
        }
        if frames < 2 {
            return p.undecided();
        }
        meta.protocol = Some("teamviewer");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("teamviewer".to_string());
        meta.set_extra("teamviewer_command", format!("0x{first:02x}"));
        Parse::Done
    }
}

fn start(d: &[u8]) -> Start {
    let magic = if agrees(d, &V1) {
        V1
    } else if agrees(d, &V2) {
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
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.transport == Transport::Udp {
            return match udp_frame(p.first_payload()) {
                Err(()) => Probe::NotMine,
                _ => Probe::Maybe,
            };
        }
        match start(p.first_side().stream()) {
            Start::No => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Udp {
            return self.parse_udp(p, meta);
        }
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
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

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

    /// A UDP datagram: counters, two bytes, kind, then one frame.
    fn udp(kind: u8, cmd: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0, 2, 0, 0, 0, 0x44, 0x26, kind];
        v.extend(v1(cmd, body));
        v
    }

    #[test]
    fn udp_datagrams() {
        // teamviewer.pcap, the UDP flow: the client's 96-byte hello (an
        // address in the clear), the peer's answer, a session message.
        let mut hello = vec![0u8; 10];
        hello.push(3);
        let mut body = vec![0u8; 80];
        body[0] = 5;
        body[12..25].copy_from_slice(b"93.47.224.241");
        body[28..30].copy_from_slice(&[0xc5, 0x8c]);
        hello.extend(v1(0x47, &body));
        assert_eq!(hello.len(), 96);
        let answer = udp(3, 0x73, &[4, 0, 0, 0]);
        let session = udp(
            0x0b,
            0x6b,
            &[0x0c, 0, 0x80, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0xe5, 0x9f, 0x89, 0xc7],
        );
        let (r, m) = check_split_udp(&TeamViewer, 34417, 36037, &[&hello], &[&answer, &session]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("teamviewer"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("teamviewer_command"), Some("0x47"));
        // One datagram is not enough.
        let f = UdpFixture::new(34417, 36037, &[&hello], &[]);
        assert_eq!(TeamViewer.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_teamviewer_udp() {
        let good = udp(3, 0x73, &[4, 0, 0, 0]);
        // The length one byte off, the magic broken, a stray datagram.
        let mut long = good.clone();
        long.push(0);
        let mut magic = good.clone();
        magic[12] = 0x25;
        let cases: [(&[u8], &[u8]); 3] = [
            (&good, &long),
            (&magic, &good),
            (&good, b"\x01\x02\x03 random datagram"),
        ];
        for (a, b) in cases {
            let mut f = UdpFixture::new(40000, 5938, &[a], &[b]);
            f.orig_port = 40001;
            let mut p = f.payloads();
            p.last = true;
            assert!(!crate::dissect::not_refused(&TeamViewer, &p), "{a:?} {b:?}");
        }
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
