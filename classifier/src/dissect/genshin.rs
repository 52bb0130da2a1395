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

impl Dissector for Genshin {
    fn name(&self) -> &'static str {
        "genshin"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if handshake(p.orig.first(), CONNECT) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
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
