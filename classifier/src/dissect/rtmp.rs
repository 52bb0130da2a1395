//! RTMP (Adobe's Real-Time Messaging Protocol specification, 2012) over
//! TCP, on any port (1935 is only a hint). The handshake: the client
//! sends C0, the version byte 3, and C1, 1536 bytes (time, four more
//! bytes, 1528 random ones); the server answers S0 = 3, S1 and S2
//! (1536 bytes each, S2 echoing C1), and the client sends C2 (echoing
//! S1). In the simple handshake the echoes are verbatim from byte 8 on;
//! in the digest variant (Flash Player) they are not, but the client's
//! first chunk after C2 carries the AMF0 command `connect`. Either
//! proves RTMP: the random handshake bytes alone would not. After the
//! handshake the chunk stream and its AMF commands are in clear (the
//! encrypted variant, RTMPE, uses version byte 6 and is not taken
//! here): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rtmp;

const VERSION: u8 = 3;
const HANDSHAKE: usize = 1536;
/// C0 + C1 (or S0 + S1).
const HELLO: usize = 1 + HANDSHAKE;
/// C0 + C1 + C2 (or S0 + S1 + S2).
const FULL: usize = 1 + 2 * HANDSHAKE;
/// Where the AMF0 `connect` string may sit in the first chunk: after a
/// basic header of up to 3 bytes and a message header of 11.
const CONNECT: &[u8] = b"\x02\x00\x07connect";
const CONNECT_WINDOW: usize = 3 + 11 + CONNECT.len();

/// The 1528 bytes after time and the second field, of C1/S1 or C2/S2.
fn random_part(d: &[u8], start: usize) -> Option<&[u8]> {
    d.get(start + 8..start + HANDSHAKE)
}

impl Dissector for Rtmp {
    fn name(&self) -> &'static str {
        "rtmp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let c = p.orig.stream();
        let s = p.resp.stream();
        let c_ok = c.first().is_none_or(|&b| b == VERSION);
        let s_ok = s.first().is_none_or(|&b| b == VERSION);
        if c_ok && s_ok && !c.is_empty() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The client's C0 version byte; the server alone is not probed.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[VERSION]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = p.orig.stream();
        let s = p.resp.stream();
        if c.first().is_some_and(|&b| b != VERSION) || s.first().is_some_and(|&b| b != VERSION) {
            return Parse::NotMine;
        }
        // The server's S0 must wait for the whole C0 + C1... and C2 for
        // S1: a peer that talks sooner is not RTMP.
        if (s.len() > FULL && c.len() < HELLO) || c.len() > HELLO && c.len() < FULL && s.len() < HELLO {
            return Parse::NotMine;
        }
        let s2_echo = matches!((random_part(c, 1), random_part(s, HELLO)), (Some(a), Some(b)) if a == b);
        let c2_echo = matches!((random_part(s, 1), random_part(c, HELLO)), (Some(a), Some(b)) if a == b);
        let connect = c
            .get(FULL..)
            .map(|rest| &rest[..rest.len().min(CONNECT_WINDOW)])
            .is_some_and(|w| w.windows(CONNECT.len()).any(|x| x == CONNECT));
        if s2_echo || c2_echo || connect {
            meta.protocol = Some("rtmp");
            meta.encryption = Encryption::Cleartext;
            meta.set_extra("rtmp_handshake", if s2_echo || c2_echo { "simple" } else { "digest" });
            return Parse::Done;
        }
        // Everything needed to decide is in: no echo and no connect.
        if s.len() >= FULL && c.len() >= FULL + CONNECT_WINDOW {
            return Parse::NotMine;
        }
        p.undecided()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    /// A handshake block: time, a second field, then `fill`-derived bytes.
    fn block(time: u32, second: u32, seed: u8) -> Vec<u8> {
        let mut b = time.to_be_bytes().to_vec();
        b.extend_from_slice(&second.to_be_bytes());
        let mut x = seed;
        b.extend((0..HANDSHAKE - 8).map(|_| {
            x = x.wrapping_mul(181).wrapping_add(59);
            x
        }));
        b
    }

    #[test]
    fn simple_handshake_echoes() {
        // As in rtmp.pcap (192.168.43.1:1177 -> 1935): the echoed blocks
        // differ from the originals in their second field only.
        let c1 = block(0x07aa_5700, 0, 7);
        let s1 = block(0x3dd5_b700, 0, 99);
        let mut c = vec![VERSION];
        c.extend_from_slice(&c1);
        let mut c2 = s1.clone();
        c2[4..8].copy_from_slice(&0x9f_u32.to_be_bytes());
        c.extend_from_slice(&c2);
        let mut s = vec![VERSION];
        s.extend_from_slice(&s1);
        let mut s2 = c1.clone();
        s2[4..8].copy_from_slice(&1u32.to_be_bytes());
        s.extend_from_slice(&s2);
        let (r, m) = check_split_tcp(&Rtmp, 1935, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rtmp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rtmp_handshake"), Some("simple"));
    }

    #[test]
    fn digest_handshake_then_connect() {
        // rtmp.pcap (10.140.80.204:49757 -> 1935): no verbatim echoes; the
        // first chunk after C2 is the connect command.
        let mut c = vec![VERSION];
        c.extend_from_slice(&block(0, 0x0900_7c02, 3));
        c.extend_from_slice(&block(0x6350_5fdd, 0x0100_0504, 4));
        c.extend_from_slice(b"\x03\x00\x00\x00\x00\x00\xd4\x14\x00\x00\x00\x00\x02\x00\x07connect\x00\x3f\xf0");
        let mut s = vec![VERSION];
        s.extend_from_slice(&block(0x6350_5fdd, 0x0100_0504, 5));
        s.extend_from_slice(&block(0, 0x0900_7c02, 6));
        let (r, m) = check_split_tcp(&Rtmp, 1935, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("rtmp_handshake"), Some("digest"));
        // Without the connect command it is not proven.
        let ends = [[(FULL + 30) as u32], [s.len() as u32]];
        let mut other = c[..FULL].to_vec();
        other.extend_from_slice(&[0x55; 30]);
        let p = Payloads::tcp(40000, 1935, &other, &s, &ends);
        assert_eq!(Rtmp.parse(&p, &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn not_rtmp() {
        let ends = [[4], [0]];
        let p = Payloads::tcp(40000, 1935, b"\x06abc", &[], &ends);
        assert_eq!(Rtmp.probe(&p), Probe::NotMine);
        // A prefix waits, and is given up at the end.
        let ends = [[4], [0]];
        let mut p = Payloads::tcp(40000, 1935, b"\x03abc", &[], &ends);
        assert_eq!(Rtmp.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Rtmp.parse(&p, &mut Meta::default()), Parse::NotMine);
        // A server that answers before C1 is complete.
        let c = [VERSION; 100];
        let s = [VERSION; FULL + 1];
        let ends = [[100], [s.len() as u32]];
        let p = Payloads::tcp(40000, 1935, &c, &s, &ends);
        assert_eq!(Rtmp.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
