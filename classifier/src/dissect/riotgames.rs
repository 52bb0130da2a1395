//! Riot Games' UDP latency probes (League of Legends, Valorant: ports
//! 8181 and 7998 in the captures), described from the captures. A probe
//! is exactly 36 bytes: the client's 4-byte token, a 4-byte request id,
//! 20 bytes of client data, and the filler `aa aa aa aa bb bb bb bb`. The
//! server echoes it as the request id, four zero bytes, the same 20
//! bytes and the same filler. Nothing is hidden: the flow is cleartext.
//!
//! The game connection (UDP 7194 in riotgames.pcap) opens with a 53-byte
//! datagram: the client's 4-byte id, the 4-byte id of the connection, a
//! type word, zeros or the server's cookie, and a 17-byte trailer whose
//! last eight bytes are `3c b1 1f 2d ea 23 46 0c` in every session. The
//! server's datagrams open with the connection id. Past the handshake
//! every datagram is the two ids, a counter and random bytes: the game
//! traffic is sealed, so such a flow is `encrypted`.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct RiotGames;

const LEN: usize = 36;
const FILLER: [u8; 8] = [0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb];

const CONNECT_LEN: usize = 53;
const CONNECT_TRAILER: [u8; 8] = [0x3c, 0xb1, 0x1f, 0x2d, 0xea, 0x23, 0x46, 0x0c];

fn is_connect(d: &[u8]) -> bool {
    d.len() == CONNECT_LEN && d.ends_with(&CONNECT_TRAILER)
}

fn is_probe(d: &[u8]) -> bool {
    d.len() == LEN && d.get(LEN - FILLER.len()..) == Some(&FILLER[..])
}

impl Dissector for RiotGames {
    fn name(&self) -> &'static str {
        "riotgames"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if is_probe(p.first_payload()) || is_connect(p.orig.first()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = p.orig.first();
        if is_connect(c) {
            // The server's datagrams open with the connection id.
            let a = p.resp.first();
            if !a.is_empty() && a.get(..4) != c.get(4..8) {
                return Parse::NotMine;
            }
            meta.protocol = Some("riotgames");
            meta.encryption = Encryption::Encrypted;
            meta.app = Some("riotgames".to_string());
            meta.set_extra("riotgames_message", "connect");
            return Parse::Done;
        }
        let q = p.first_payload();
        if !is_probe(q) {
            return Parse::NotMine;
        }
        // An echo must carry the request id first and the client data.
        if !p.orig.is_empty() {
            if let Some(a) = p.resp.chunks().next() {
                if !is_probe(a) || a.get(..4) != q.get(4..8) || a.get(8..28) != q.get(8..28) {
                    return Parse::NotMine;
                }
            }
        }
        meta.protocol = Some("riotgames");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("riotgames".to_string());
        meta.set_extra("riotgames_message", "ping");
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn ping() -> Vec<u8> {
        let mut v = vec![0x73, 0x74, 0xf6, 0x0c, 0x72, 0x32, 0x42, 0x04];
        v.extend((0..20u8).map(|i| i.wrapping_mul(29).wrapping_add(0xab)));
        v.extend_from_slice(&FILLER);
        v
    }

    fn echo(q: &[u8]) -> Vec<u8> {
        let mut v = q[4..8].to_vec();
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&q[8..]);
        v
    }

    #[test]
    fn ping_and_echo() {
        let q = ping();
        let a = echo(&q);
        let (r, m) = check_split_udp(&RiotGames, 62854, 8181, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("riotgames"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.app.as_deref(), Some("riotgames"));
        let (r, _) = check_split_udp(&RiotGames, 62854, 8181, &[&q], &[]);
        assert_eq!(r, Parse::Done);
    }

    // riotgames.pcap, 192.168.2.100:49298 <-> 162.249.72.1:7194.
    const CONNECT: &str = "cdc6fb40fc32f903010000000000000000000000000000000000000000000000000000
        0098b99eebc2e012d8953cb11f2dea23460c";
    const COOKIE: &str = "fc32f90301000000bc1702fc390c2a77fcf2c2d7c25f3c6580c2c4b77f0e54110a";

    #[test]
    fn game_connect() {
        let (q, a) = (crate::dissect::unhex(CONNECT), crate::dissect::unhex(COOKIE));
        let (r, m) = check_split_udp(&RiotGames, 49298, 7194, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("riotgames_message"), Some("connect"));
        let (r, _) = check_split_udp(&RiotGames, 49298, 7194, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        let mut other = a.clone();
        other[0] ^= 1;
        let mut trailer = q.clone();
        trailer[52] ^= 1;
        let cases: [(&[u8], &[u8]); 3] = [(&q, &other), (&trailer, &a), (&q[1..], &a)];
        for (o, r) in cases {
            let f = UdpFixture::new(49298, 7194, &[o], &[r]);
            assert!(!crate::dissect::not_refused(&RiotGames, &f.payloads()));
        }
    }

    #[test]
    fn not_riotgames() {
        let q = ping();
        let mut bad = q.clone();
        bad[35] = 0xbc;
        let mut long = q.clone();
        long.insert(0, 0);
        for d in [&bad, &long, &q[1..].to_vec()] {
            let f = UdpFixture::new(40000, 8181, &[d], &[]);
            let claimed = crate::dissect::not_refused(&RiotGames, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
        // An answer that does not echo the request.
        let mut a = echo(&q);
        a[0] ^= 1;
        let f = UdpFixture::new(40000, 8181, &[&q], &[&a]);
        assert_eq!(RiotGames.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
    }
}
