//! NetEase Games' UDP game connections, described from the capture
//! netease_games.pcapng (no public specification). Three openings are
//! recognised, each only with the server's answer, which must match the
//! client's datagram:
//!
//! - a 12-byte hello: `01`, a byte, `d0 01`, a 4-byte id, `00 01 01 01`;
//!   the server answers 12 bytes opening with `01` and repeating the id
//!   (bytes 4..8). Ids and counters only: `cleartext`.
//! - Naraka: Bladepoint: datagrams of more than 30 bytes opening with
//!   `07 08 08 0c` (both sides), then a per-datagram word and the two
//!   ends' connection ids; the messages carry readable protobuf fields
//!   (a hex session id, a platform name): `cleartext`.
//! - Lost Light: datagrams of at least 30 bytes opening with
//!   `b3 af 8d e8` (both sides); the client's body is a base64 token in
//!   the clear, the server's random bytes. Nothing shows whether what
//!   follows is sealed, so the class stays `unknown`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct NetEaseGames;

const NARAKA: [u8; 4] = [0x07, 0x08, 0x08, 0x0c];
const LOST_LIGHT: [u8; 4] = [0xb3, 0xaf, 0x8d, 0xe8];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hello,
    Naraka,
    LostLight,
}

fn kind(d: &[u8]) -> Option<Kind> {
    if d.len() == 12 && d[0] == 0x01 && d[2..4] == [0xd0, 0x01] && d[8..12] == [0, 1, 1, 1] {
        Some(Kind::Hello)
    } else if d.len() > 30 && d.starts_with(&NARAKA) {
        Some(Kind::Naraka)
    } else if d.len() >= 30 && d.starts_with(&LOST_LIGHT) {
        Some(Kind::LostLight)
    } else {
        None
    }
}

/// Whether `a` answers the opening `q` of kind `k`.
fn answers(k: Kind, q: &[u8], a: &[u8]) -> bool {
    match k {
        Kind::Hello => a.len() == 12 && a[0] == 0x01 && a[4..8] == q[4..8],
        Kind::Naraka => a.len() > 30 && a.starts_with(&NARAKA),
        Kind::LostLight => a.len() >= 30 && a.starts_with(&LOST_LIGHT),
    }
}

impl Dissector for NetEaseGames {
    fn name(&self) -> &'static str {
        "netease_games"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match kind(p.orig.first()) {
            Some(_) => Probe::Maybe,
            None => Probe::NotMine,
        }
    }
    /// The probe admits only the originator's hello (`01`), Naraka or
    /// Lost Light datagram (`kind`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x01, NARAKA[0], LOST_LIGHT[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let q = p.orig.first();
        let Some(k) = kind(q) else {
            return Parse::NotMine;
        };
        let a = p.resp.first();
        if a.is_empty() {
            return p.undecided();
        }
        if !answers(k, q, a) {
            return Parse::NotMine;
        }
        meta.protocol = Some("netease_games");
        let (game, enc) = match k {
            Kind::Hello => ("hello", Encryption::Cleartext),
            Kind::Naraka => ("naraka_bladepoint", Encryption::Cleartext),
            Kind::LostLight => ("lost_light", Encryption::Unknown),
        };
        meta.encryption = enc;
        meta.set_extra("netease_games_kind", game);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    // netease_games.pcapng, 192.168.88.231:56588 <-> 35.246.207.19:4513.
    const HELLO: &str = "01b5d001112a3d0300010101";
    const HELLO_ANSWER: &str = "0114d301112a3d0348411701";
    // 192.168.88.231:58951 <-> 34.141.75.90:28203 (the first 40 bytes).
    const NARAKA_Q: &str = "0708080c626386180000000000000001000003acf8458b4d1029d41406772df0cb1407d40e32";
    const NARAKA_A: &str = "0708080c53da16090000000100007e040003000052008000aa890000000000000100000000000000";
    // 192.168.88.231:41040 <-> 35.228.32.209:4170.
    const LOST_Q: &str = "b3af8de8ff007257355c5c6e6663716a492f545a6763747455537a69422b";
    const LOST_A: &str = "b3af8de8ff000328c2069a1fe90cf50601008c3c14ec43f579faae16f601";

    fn run(q: &str, a: &str) -> (Parse, Meta) {
        check_split_udp(&NetEaseGames, 40000, 4513, &[&unhex(q)], &[&unhex(a)])
    }

    #[test]
    fn openings() {
        let (r, m) = run(HELLO, HELLO_ANSWER);
        assert_eq!((r, m.encryption), (Parse::Done, Encryption::Cleartext));
        assert_eq!(m.protocol, Some("netease_games"));
        let (r, m) = run(NARAKA_Q, NARAKA_A);
        assert_eq!((r, m.encryption), (Parse::Done, Encryption::Cleartext));
        assert_eq!(m.extra("netease_games_kind"), Some("naraka_bladepoint"));
        let (r, m) = run(LOST_Q, LOST_A);
        assert_eq!((r, m.encryption), (Parse::Done, Encryption::Unknown));
        let f = UdpFixture::new(40000, 4513, &[&unhex(HELLO)], &[]);
        assert_eq!(NetEaseGames.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let h = unhex(HELLO);
        let ha = unhex(HELLO_ANSWER);
        let mut bad_id = ha.clone();
        bad_id[5] ^= 1;
        let mut bad_tail = h.clone();
        bad_tail[11] = 2;
        let n = unhex(NARAKA_Q);
        let na = unhex(NARAKA_A);
        let l = unhex(LOST_Q);
        let la = unhex(LOST_A);
        let cases: [(&[u8], &[u8]); 6] = [
            (&h, &bad_id),
            (&bad_tail, &ha),
            (&n[..30], &na),
            (&n, &la),
            (&l, &na),
            (&l[..29], &la),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(40000, 4513, &[o], &[r]);
            assert!(!not_refused(&NetEaseGames, &f.payloads()));
        }
    }
}
