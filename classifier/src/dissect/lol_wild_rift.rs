//! League of Legends: Wild Rift (Riot Games' mobile MOBA) over UDP,
//! described from the capture lol_wild_rift_udp.pcap (no public
//! specification). Two exchanges are recognised, both on exact sizes:
//!
//! - the connect exchange of a game server (UDP 15004/15007 there): a
//!   69-byte datagram whose first 32-bit word is `04 00 00 00`, answered
//!   by a 359-byte datagram whose first word is `10 00 00 00`. Past that
//!   word both are random bytes (no structure, no text, no repeated
//!   bytes): a key exchange and sealed data, so the class is `encrypted`.
//!   (A WireGuard data message also opens with `04 00 00 00`, but its
//!   length is 16 + a multiple of 16, never 69, and its answer is not
//!   type 16.) The answer is required: the request alone is too loose.
//! - the 22-byte probe to UDP 18001: `01 02 c8 41`, then small counters
//!   and fields, and the ASCII tag `A0B1` at the end. Nothing hidden:
//!   `cleartext`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct LolWildRift;

const CONNECT_LEN: usize = 69;
const CONNECT: [u8; 4] = [0x04, 0, 0, 0];
const ACCEPT_LEN: usize = 359;
const ACCEPT: [u8; 4] = [0x10, 0, 0, 0];
const PROBE_LEN: usize = 22;
const PROBE: [u8; 4] = [0x01, 0x02, 0xc8, 0x41];
const PROBE_TAG: &[u8; 4] = b"A0B1";

fn is_probe(d: &[u8]) -> bool {
    d.len() == PROBE_LEN && d.starts_with(&PROBE) && d.ends_with(PROBE_TAG)
}

fn is_connect(d: &[u8]) -> bool {
    d.len() == CONNECT_LEN && d.starts_with(&CONNECT)
}

impl Dissector for LolWildRift {
    fn name(&self) -> &'static str {
        "lol_wild_rift"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if is_probe(d) || is_connect(d) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a probe (`01`) or a connect (`04`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[PROBE[0], CONNECT[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        if is_probe(d) {
            meta.protocol = Some("lol_wild_rift");
            meta.encryption = Encryption::Cleartext;
            meta.set_extra("lol_wild_rift_message", "probe");
            return Parse::Done;
        }
        if !is_connect(d) {
            return Parse::NotMine;
        }
        match p.second_side().first() {
            [] => p.undecided(),
            a if a.len() == ACCEPT_LEN && a.starts_with(&ACCEPT) => {
                meta.protocol = Some("lol_wild_rift");
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("lol_wild_rift_message", "connect");
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

    // lol_wild_rift_udp.pcap, 10.215.173.1:44513 -> 13.53.58.18:18001.
    const PROBE_HEX: &str = "0102c8410000000100010000001e0004000441304231";
    // lol_wild_rift_udp.pcap, 10.215.173.1:47462 <-> 51.20.230.207:15004.
    const CONNECT_HEX: &str = "04000000a1f57415bf29e6de395315ecdf659ab27d9a17c99b130868cc2f28ecf98ded08
        01147de15cbd3ff2296a92b1d8c6354bc006303d0836609c7de0ca4773b29d2381";

    /// The server's 359-byte answer: its first word and 355 bytes from
    /// the capture's first 64 (repeated; only the length and the word are
    /// checked).
    fn accept() -> Vec<u8> {
        let body = unhex(
            "d3287b425bcb515dc91555090ba53fda59f6e0d4b9b1ee572e95706fe14d1d41
             065cc7ccd4feadb8889b575fbb0612ea4b6f1dc68c2ea67ee9d640f8a208da8f",
        );
        let mut v = ACCEPT.to_vec();
        v.extend(body.iter().cycle().take(ACCEPT_LEN - 4));
        v
    }

    #[test]
    fn probe_is_cleartext() {
        let q = unhex(PROBE_HEX);
        let (r, m) = check_split_udp(&LolWildRift, 44513, 18001, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("lol_wild_rift"));
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn connect_needs_the_answer() {
        let q = unhex(CONNECT_HEX);
        assert_eq!(q.len(), CONNECT_LEN);
        let a = accept();
        let (r, m) = check_split_udp(&LolWildRift, 47462, 15004, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        let f = UdpFixture::new(47462, 15004, &[&q], &[]);
        assert_eq!(LolWildRift.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let q = unhex(PROBE_HEX);
        let mut bad_tag = q.clone();
        bad_tag[21] = b'2';
        let mut bad_magic = q.clone();
        bad_magic[2] = 0xc9;
        let mut long = q.clone();
        long.push(0);
        for d in [&bad_tag, &bad_magic, &long, &q[..21].to_vec()] {
            let f = UdpFixture::new(44513, 18001, &[d], &[]);
            assert!(!not_refused(&LolWildRift, &f.payloads()), "{d:?}");
        }
        let c = unhex(CONNECT_HEX);
        let a = accept();
        let mut bad_a = a.clone();
        bad_a[0] = 0x11;
        let short_c = &c[..68];
        for (o, r) in [(&c[..], &bad_a[..]), (&c[..], &a[..358]), (short_c, &a[..])] {
            let f = UdpFixture::new(47462, 15004, &[o], &[r]);
            assert!(!not_refused(&LolWildRift, &f.payloads()));
        }
    }
}
