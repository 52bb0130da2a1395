//! Mumble's UDP port (64738 by default), from Mumble's protocol
//! documentation. Before (or instead of) voice, a client may ping the
//! server in the clear, as its server browser does: 12 bytes, a zero
//! 32-bit type and an 8-byte identifier; the server answers with 24
//! bytes: its version (big-endian, `00 01 03 04` for 1.3.4), the same
//! identifier, then the connected users, the user limit and the allowed
//! bandwidth (32-bit big-endian each). Voice datagrams are sealed with
//! OCB-AES128 under keys from the TLS control channel.
//!
//! What is checked: a ping answered with the same identifier, a 1.x
//! version and users within the limit. A flow of nothing but pings is
//! `cleartext`; any other datagram on it is voice, and the flow is
//! `encrypted`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Mumble;

const PING_LEN: usize = 12;
const PONG_LEN: usize = 24;
/// Datagrams per side looked at for voice.
const LOOK: usize = 8;

fn be32(d: &[u8], at: usize) -> u32 {
    d.get(at..at + 4)
        .map_or(u32::MAX, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn ping(d: &[u8]) -> bool {
    d.len() == PING_LEN && d[..4] == [0, 0, 0, 0]
}

/// `a` answers a ping; `q`, when given, is the ping it must echo.
fn pong(a: &[u8], q: Option<&[u8]>) -> bool {
    a.len() == PONG_LEN
        && a[..2] == [0, 1]
        && q.is_none_or(|q| a.get(4..12) == q.get(4..12))
        && be32(a, 12) <= be32(a, 16)
}

impl Dissector for Mumble {
    fn name(&self) -> &'static str {
        "mumble"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if ping(p.orig.first()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the originator's ping, four zero bytes first
    /// (`ping`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let q = p.orig.first();
        if !ping(q) {
            return Parse::NotMine;
        }
        match p.resp.first() {
            [] => return p.undecided(),
            a if pong(a, Some(q)) => {}
            _ => return Parse::NotMine,
        }
        let voice = p.orig.chunks().take(LOOK).any(|d| !ping(d)) || p.resp.chunks().take(LOOK).any(|d| !pong(d, None));
        meta.protocol = Some("mumble");
        meta.encryption = if voice {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        meta.app = Some("mumble".to_string());
        let r = p.resp.first();
        meta.set_extra("mumble_version", format!("{}.{}.{}", r[1], r[2], r[3]));
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// mumble.pcapng frames 1 and 3: a ping and the 1.3.4 server's answer
    /// (no users, 100 allowed, 72000 bit/s).
    const PING: [u8; 12] = [0, 0, 0, 0, 0x03, 0xd7, 0x20, 0x00, 0xfa, 0x76, 0x28, 0x7e];
    const PONG: [u8; 24] = [
        0x00, 0x01, 0x03, 0x04, 0x03, 0xd7, 0x20, 0x00, 0xfa, 0x76, 0x28, 0x7e, 0, 0, 0, 0, 0, 0, 0, 0x64, 0x00, 0x01,
        0x19, 0x40,
    ];

    #[test]
    fn ping_answered() {
        let (r, m) = check_split_udp(&Mumble, 50085, 64738, &[&PING], &[&PONG]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("mumble"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("mumble_version"), Some("1.3.4"));
        // Voice after the ping: sealed.
        let voice = [0x20u8, 0x9c, 0x41, 0x07, 0xde, 0x55, 0x13, 0x8a, 0x61, 0xf0];
        let (r, m) = check_split_udp(&Mumble, 50085, 64738, &[&PING, &voice], &[&PONG]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, _) = check_split_udp(&Mumble, 50085, 64738, &[&PING], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn not_mumble() {
        let mut other_id = PONG;
        other_id[8] ^= 1;
        let mut v2 = PONG;
        v2[1] = 2;
        let mut too_many = PONG;
        too_many[15] = 0x65;
        let mut typed = PING;
        typed[0] = 1;
        let cases: [(&[u8], &[u8]); 5] = [
            (&PING, &other_id),
            (&PING, &v2),
            (&PING, &too_many),
            (&typed, &PONG),
            (&PING, &PONG[..23]),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(40000, 64738, &[o], &[r]);
            let claimed = crate::dissect::not_refused(&Mumble, &f.payloads());
            assert!(!claimed, "{o:?} {r:?}");
        }
    }
}
