//! Epic Games' UDP game connections (Fortnite and other Unreal Engine
//! games; UDP 9011/15011 in epicgames.pcapng), described from the
//! capture; the shape is that of a stateless connection handshake.
//!
//! The client opens with a datagram of at least 34 bytes whose first
//! 32-bit word has bit 3 clear, and whose bytes 10..34 are all zero (the
//! empty cookie of a first handshake packet); the server's first
//! datagram repeats that word with bit 3 set. Both checks are needed:
//! the zero block alone is too common. Past the handshake, the game
//! datagrams are random bytes from their second byte on (no text, no
//! repeated bytes), and the handshake packets themselves end in random
//! bytes: the traffic is sealed, so the class is `encrypted`.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct EpicGames;

const MIN_LEN: usize = 34;
const ZEROS: std::ops::Range<usize> = 10..34;
const ANSWER_BIT: u32 = 0x08;

fn word(d: &[u8]) -> Option<u32> {
    let b: [u8; 4] = d.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// The opening handshake packet: its first word, if it is one.
fn opening(d: &[u8]) -> Option<u32> {
    let w = word(d)?;
    (d.len() >= MIN_LEN && w & ANSWER_BIT == 0 && d[ZEROS].iter().all(|&b| b == 0)).then_some(w)
}

impl Dissector for EpicGames {
    fn name(&self) -> &'static str {
        "epicgames"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match opening(p.first_payload()) {
            Some(_) => Probe::Maybe,
            None => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(w) = opening(p.first_payload()) else {
            return Parse::NotMine;
        };
        match p.second_side().first() {
            [] => p.undecided(),
            a if a.len() > 4 && word(a) == Some(w | ANSWER_BIT) => {
                meta.protocol = Some("epicgames");
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("epicgames_handshake", format!("{w:08x}"));
                Parse::Done
            }
            _ => Parse::NotMine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    // epicgames.pcapng, 192.168.12.156:39322 <-> 18.157.15.184:9011.
    const CLIENT: &str = "471a2000089822657404000000000000000000000000000000000000000000000000000000
        000070550f8a268e79a2dd77c0e828b018";
    const SERVER: &str = "471a20080898226574040000406229fcaa0d0e84170067c3a4ae7427cc594cbcec2daa8a95
        0b50486e75ce62f581f2d72aea173079c7151a";

    #[test]
    fn handshake() {
        let (q, a) = (unhex(CLIENT), unhex(SERVER));
        let (r, m) = check_split_udp(&EpicGames, 39322, 9011, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("epicgames"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("epicgames_handshake"), Some("471a2000"));
        // Resent openings before the answer change nothing.
        let (r, _) = check_split_udp(&EpicGames, 39322, 9011, &[&q, &q], &[&a]);
        assert_eq!(r, Parse::Done);
        let f = UdpFixture::new(39322, 9011, &[&q], &[]);
        assert_eq!(EpicGames.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let (q, a) = (unhex(CLIENT), unhex(SERVER));
        let mut not_zero = q.clone();
        not_zero[20] = 1;
        let mut bit_set = q.clone();
        bit_set[3] |= 0x08;
        let mut other_word = a.clone();
        other_word[1] ^= 0x40;
        let mut no_bit = a.clone();
        no_bit[3] = 0;
        for (o, r) in [
            (&not_zero, &a),
            (&bit_set, &a),
            (&q, &other_word),
            (&q, &no_bit),
            (&q[..33].to_vec(), &a),
        ] {
            let f = UdpFixture::new(39322, 9011, &[o], &[r]);
            assert!(!not_refused(&EpicGames, &f.payloads()));
        }
    }
}
