//! Genshin Impact's game connection (HoYoverse; UDP 22101/22102 in the
//! captures), from the community's descriptions of the protocol. It is
//! KCP with an 8-byte conversation (conv and token) opened by a 20-byte
//! handshake of five big-endian 32-bit words:
//!
//! - client: `0x000000FF`, 0, 0 (or a token), a value, `0xFFFFFFFF`;
//! - server: `0x00000145`, the conv, the token, the same value,
//!   `0x14514545`.
//!
//! The KCP segments that follow carry the game messages XOR-ed with a
//! key stream: first a key shipped with the client, then one seeded per
//! session from a value the server sends under RSA. The bodies are
//! unreadable on the wire (the same first bytes across sessions show the
//! shared first key), so the class is `encrypted`.
//!
//! Over TCP (ports 80 and 10012 in genshin-impact.pcap) the same game
//! runs a framed variant, described from that capture: each message is
//! `01`, its whole length (32-bit big-endian), a type byte, a 32-bit
//! sequence number and the 8-byte session (conv and token), then the
//! body. The client opens with type 7 and sequence 0, the server answers
//! type 8, sequence 1, echoing the session. The game messages that follow
//! carry KCP-like segment headers and ids in the clear and then random
//! bodies, the same XOR-ed game messages as over UDP: `encrypted`.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Genshin;

const LEN: usize = 20;
const CONNECT: (u32, u32) = (0x0000_00ff, 0xffff_ffff);
const ESTABLISH: (u32, u32) = (0x0000_0145, 0x1451_4545);

fn word(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn handshake(d: &[u8], magic: (u32, u32)) -> bool {
    d.len() == LEN && word(d, 0) == Some(magic.0) && word(d, 16) == Some(magic.1)
}

/// Least TCP message: the header and session.
const TCP_HEAD: usize = 18;
/// Largest first TCP message taken (the capture's are 42 and 50 bytes).
const TCP_FIRST_MAX: u32 = 1024;
const TCP_OPEN: u8 = 7;
const TCP_ACCEPT: u8 = 8;

/// A TCP message head of type `ty` and sequence `seq` (`Err(())`: too
/// short to say).
fn tcp_message(d: &[u8], ty: u8, seq: u32) -> Result<bool, ()> {
    if d.len() < TCP_HEAD {
        return if d.first().is_none_or(|&b| b == 1) {
            Err(())
        } else {
            Ok(false)
        };
    }
    let len = word(d, 1).unwrap_or(0);
    Ok(d[0] == 1 && (TCP_HEAD as u32..=TCP_FIRST_MAX).contains(&len) && d[5] == ty && word(d, 6) == Some(seq))
}

fn parse_tcp(p: &Payloads<'_>, meta: &mut Meta) -> Parse {
    let (q, a) = (p.orig.stream(), p.resp.stream());
    match tcp_message(q, TCP_OPEN, 0) {
        Ok(true) => {}
        Ok(false) => return Parse::NotMine,
        Err(()) => return p.undecided(),
    }
    match tcp_message(a, TCP_ACCEPT, 1) {
        Ok(true) if a.get(10..18) == q.get(10..18) => {
            meta.protocol = Some("genshin");
            meta.encryption = Encryption::Encrypted;
            meta.app = Some("genshinimpact".to_string());
            meta.set_extra("genshin_transport", "tcp");
            Parse::Done
        }
        Ok(_) => Parse::NotMine,
        Err(()) => p.undecided(),
    }
}

impl Dissector for Genshin {
    fn name(&self) -> &'static str {
        "genshin"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.transport == Transport::Tcp {
            return match p.orig.stream().first() {
                None | Some(1) => Probe::Maybe,
                Some(_) => Probe::NotMine,
            };
        }
        if handshake(p.orig.first(), CONNECT) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Tcp {
            return parse_tcp(p, meta);
        }
        let q = p.orig.first();
        if !handshake(q, CONNECT) {
            return Parse::NotMine;
        }
        match p.resp.first() {
            [] => p.undecided(),
            a if handshake(a, ESTABLISH) && a.get(12..16) == q.get(12..16) => {
                meta.protocol = Some("genshin");
                meta.encryption = Encryption::Encrypted;
                meta.app = Some("genshinimpact".to_string());
                Parse::Done
            }
            _ => Parse::NotMine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// genshin-impact.pcap frames 1 and 2.
    const CLIENT: [u8; 20] = [
        0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x49, 0x96, 0x02, 0xd2, 0xff, 0xff, 0xff, 0xff,
    ];
    const SERVER: [u8; 20] = [
        0, 0, 0x01, 0x45, 0x00, 0x03, 0x18, 0x32, 0x3a, 0x0d, 0xa2, 0x15, 0x49, 0x96, 0x02, 0xd2, 0x14, 0x51, 0x45,
        0x45,
    ];

    #[test]
    fn handshake_answered() {
        let (r, m) = check_split_udp(&Genshin, 58766, 22101, &[&CLIENT], &[&SERVER]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("genshin"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, _) = check_split_udp(&Genshin, 58766, 22101, &[&CLIENT], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    // genshin-impact.pcap, 192.168.2.100:45246 <-> 49.51.181.168:10012.
    const TCP_CLIENT: &str = "010000002a0700000000aec675e100004da6000000000000000000000000000000000000000062a5f615";
    const TCP_SERVER: &str =
        "01000000320800000001aec675e100004da615f6a562b88f04000013f600ea5291cc1b9bf53eb23bd56fda45a1becefa3612";

    #[test]
    fn tcp_open_and_accept() {
        let (q, a) = (crate::dissect::unhex(TCP_CLIENT), crate::dissect::unhex(TCP_SERVER));
        let (r, m) = crate::dissect::check_split_tcp(&Genshin, 10012, &q, &a);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("genshin"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("genshin_transport"), Some("tcp"));
        let mut session = a.clone();
        session[12] ^= 1;
        let mut ty = a.clone();
        ty[5] = 7;
        let mut seq = q.clone();
        seq[9] = 1;
        let mut huge = q.clone();
        huge[1] = 1;
        for (o, r) in [(&q, &session), (&q, &ty), (&seq, &a), (&huge, &a)] {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 10012, o, r, &ends);
            assert!(!crate::dissect::not_refused(&Genshin, &p));
        }
    }

    #[test]
    fn not_genshin() {
        let mut other_value = SERVER;
        other_value[15] ^= 1;
        let mut bad_magic = SERVER;
        bad_magic[19] = 0x46;
        let mut bad_client = CLIENT;
        bad_client[3] = 0xfe;
        let cases: [(&[u8], &[u8]); 4] = [
            (&CLIENT, &other_value),
            (&CLIENT, &bad_magic),
            (&bad_client, &SERVER),
            (&CLIENT[..19], &SERVER),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(40000, 22101, &[o], &[r]);
            let claimed = Genshin.probe(&f.payloads()) != Probe::NotMine
                && Genshin.parse(&f.payloads(), &mut Meta::default()) == Parse::Done;
            assert!(!claimed, "{o:?} {r:?}");
        }
    }
}
