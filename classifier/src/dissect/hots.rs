//! Heroes of the Storm's game connection (Blizzard; UDP 1119 and 3724 on
//! the server side in the captures). There is no published description;
//! what is checked is the 16-byte header every datagram of hots.pcapng
//! shows:
//!
//! - bytes 0-3: a connection id the client repeats in every datagram,
//!   followed by ten bytes that change from datagram to datagram (a
//!   per-datagram check value); the server's datagrams carry zeros in
//!   all fourteen;
//! - bytes 14-15: `40 00`, or `40 10` on a datagram sent again
//!   unchanged;
//! - bytes 16-17: a big-endian sequence number that never goes back and
//!   moves by small steps (equal on a resent datagram); bytes 18-19
//!   another counter, not checked.
//!
//! Three datagrams of one side in this shape (and the first datagram of
//! the other side, when there is one) are asked for. The bodies after
//! the header have no structure, no repeated bytes and no text, resent
//! datagrams aside: they are sealed or at least scrambled, so the class
//! is `encrypted`.

use super::{Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Hots;

/// Shortest datagram: the header and the second counter.
const MIN_LEN: usize = 20;
const ID: usize = 4;
const ZEROS: usize = 14;
const FLAGS: [[u8; 2]; 2] = [[0x40, 0x00], [0x40, 0x10]];
/// Largest step of the sequence number between two datagrams.
const MAX_STEP: u16 = 0x400;
/// Datagrams of one side that must agree.
const NEED: usize = 3;
/// Datagrams per side looked at.
const LOOK: usize = 8;

/// Whether `d` has the header's shape on its own.
fn shaped(d: &[u8]) -> bool {
    d.len() >= MIN_LEN && FLAGS.iter().any(|f| d[14..16] == f[..]) && {
        let server = d[..ZEROS].iter().all(|&b| b == 0);
        server || d[..ID] != [0; ID]
    }
}

fn seq(d: &[u8]) -> u16 {
    u16::from_be_bytes([d[16], d[17]])
}

/// How far the side's datagrams agree: `Some(n)` for `n` shaped
/// datagrams with one id and a sequence that moves forward by small
/// steps, `None` when one breaks the pattern.
fn side(s: Side<'_>) -> Option<usize> {
    let mut prev: Option<&[u8]> = None;
    let mut n = 0;
    for d in s.chunks().take(LOOK) {
        if !shaped(d) {
            return None;
        }
        if let Some(p) = prev {
            if p[..ID] != d[..ID] || seq(d).wrapping_sub(seq(p)) > MAX_STEP {
                return None;
            }
        }
        prev = Some(d);
        n += 1;
    }
    Some(n)
}

impl Dissector for Hots {
    fn name(&self) -> &'static str {
        "heroes_of_the_storm"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if shaped(p.first_payload()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(n) = side(p.first_side()) else {
            return Parse::NotMine;
        };
        let answer = p.second_side().first();
        if !answer.is_empty() && !shaped(answer) {
            return Parse::NotMine;
        }
        if n < NEED {
            return p.undecided();
        }
        meta.protocol = Some("heroes_of_the_storm");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("heroes_of_the_storm".to_string());
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// hots.pcapng, the client of 54598 -> 3724: its first three
    /// datagrams.
    const CLIENT: [&str; 3] = [
        "e65d3400972714f73f95aae03e3640001abc63b32ac9fda5",
        "e65d34002f9dbb1381e6d076796440001ac063bf",
        "e65d340001b319e263dcd5ea329a40001ac063bfb908990d",
    ];
    /// The server's first datagram on that flow.
    const SERVER: &str = "00000000000000000000000000004000bcb64a77d8dde9c9e6be094ffa5330ea";
    /// The first three datagrams of 1119 -> 50609 (server only), cut
    /// after 12 body bytes; the second is the first resent.
    const ONE_WAY: [&str; 3] = [
        "0000000000000000000000000000400009ef65de",
        "0000000000000000000000000000400009ef65de5a0c7ba63097d80b838040b5",
        "0000000000000000000000000000401009ef65de5a0c7ba63097d80b838040b5",
    ];

    #[test]
    fn client_and_server() {
        let c: Vec<Vec<u8>> = CLIENT.iter().map(|s| hex(s)).collect();
        let s = hex(SERVER);
        let cs: Vec<&[u8]> = c.iter().map(|v| &v[..]).collect();
        let (r, m) = check_split_udp(&Hots, 54598, 3724, &cs, &[&s]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("heroes_of_the_storm"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        // Two datagrams are not enough yet.
        let (r, _) = check_split_udp(&Hots, 54598, 3724, &cs[..2], &[&s]);
        assert_eq!(r, Parse::NeedMore);
        // The server alone, with a resent datagram.
        let o: Vec<Vec<u8>> = ONE_WAY.iter().map(|s| hex(s)).collect();
        let os: Vec<&[u8]> = o.iter().map(|v| &v[..]).collect();
        let (r, _) = check_split_udp(&Hots, 1119, 50609, &os, &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_hots() {
        let c: Vec<Vec<u8>> = CLIENT.iter().map(|s| hex(s)).collect();
        let mut other_id = c[2].clone();
        other_id[0] ^= 1;
        let mut flags = c[2].clone();
        flags[15] = 0x01;
        let mut back = c[2].clone();
        back[17] = 0xb0; // the sequence goes back
        let mut zero_id = c[2].clone();
        zero_id[..4].fill(0);
        let short = &c[1][..19];
        let third: [&[u8]; 5] = [&other_id, &flags, &back, &zero_id, short];
        for d in third {
            let f = UdpFixture::new(54598, 3724, &[&c[0], &c[1], d], &[]);
            assert!(!crate::dissect::not_refused(&Hots, &f.payloads()), "{d:?}");
        }
        // Answered by something else.
        let mut s = hex(SERVER);
        s[14] = 0x41;
        let f = UdpFixture::new(54598, 3724, &[&c[0], &c[1], &c[2]], &[&s]);
        assert!(!crate::dissect::not_refused(&Hots, &f.payloads()));
    }
}
