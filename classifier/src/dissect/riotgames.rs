//! Riot Games' UDP latency probes (League of Legends, Valorant: ports
//! 8181 and 7998 in the captures), described from the captures. A probe
//! is exactly 36 bytes: the client's 4-byte token, a 4-byte request id,
//! 20 bytes of client data, and the filler `aa aa aa aa bb bb bb bb`. The
//! server echoes it as the request id, four zero bytes, the same 20
//! bytes and the same filler. Nothing is hidden: the flow is cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct RiotGames;

const LEN: usize = 36;
const FILLER: [u8; 8] = [0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb];

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
        if is_probe(p.first_payload()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
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
