//! CryNetwork, the UDP transport of CryEngine games. The format is not
//! published; what is checked is what the captures show, exactly:
//!
//! - the client opens with a 70-byte datagram: 0x3c, two zero bytes, two
//!   bytes that vary by build, eleven zero bytes, then the fixed
//!   `01 00 00 00 07 00 00 00 03 07 00 00 00`, then a counter and random
//!   bytes;
//! - the server answers with 133 bytes: 0x87, 31 zero bytes, then random
//!   bytes (key material, by its look).
//!
//! Every datagram after that exchange is random, so the session is
//! encrypted: the class is `encrypted`.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct CryNetwork;

const HELLO_LEN: usize = 70;
const ANSWER_LEN: usize = 133;
const FIXED: [u8; 13] = [1, 0, 0, 0, 7, 0, 0, 0, 3, 7, 0, 0, 0];

fn hello(d: &[u8]) -> bool {
    d.len() == HELLO_LEN
        && d.first() == Some(&0x3c)
        && d.get(1..3) == Some(&[0, 0][..])
        && d.get(5..16).is_some_and(|z| z.iter().all(|&b| b == 0))
        && d.get(16..29) == Some(&FIXED[..])
}

fn answer(d: &[u8]) -> bool {
    d.len() == ANSWER_LEN && d.first() == Some(&0x87) && d.get(1..32).is_some_and(|z| z.iter().all(|&b| b == 0))
}

impl Dissector for CryNetwork {
    fn name(&self) -> &'static str {
        "crynetwork"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.first() {
            [] => Probe::Maybe,
            d if hello(d) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !hello(p.orig.first()) {
            return Parse::NotMine;
        }
        match p.resp.first() {
            [] => p.undecided(),
            a if answer(a) => {
                meta.protocol = Some("crynetwork");
                meta.encryption = Encryption::Encrypted;
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

    fn hello_pkt(build: [u8; 2], n: u8) -> Vec<u8> {
        let mut v = vec![0x3c, 0, 0, build[0], build[1]];
        v.resize(16, 0);
        v.extend_from_slice(&FIXED);
        v.extend_from_slice(&[n, 0, 0, 0, 0, 0, 0, n]);
        v.extend((0..HELLO_LEN - v.len()).map(|i| (i as u8).wrapping_mul(71)));
        v
    }

    fn answer_pkt() -> Vec<u8> {
        let mut v = vec![0x87];
        v.resize(32, 0);
        v.push(2);
        v.extend((0..ANSWER_LEN - v.len()).map(|i| (i as u8).wrapping_mul(13).wrapping_add(5)));
        v
    }

    #[test]
    fn hello_answered() {
        let (q, a) = (hello_pkt([8, 0xed], 4), answer_pkt());
        let (r, m) = check_split_udp(&CryNetwork, 61837, 25383, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("crynetwork"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, _) = check_split_udp(&CryNetwork, 61837, 25383, &[&q], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn not_crynetwork() {
        let (q, a) = (hello_pkt([0x0b, 0xf6], 7), answer_pkt());
        let mut bad_fixed = q.clone();
        bad_fixed[20] = 8;
        let mut bad_answer = a.clone();
        bad_answer[31] = 1;
        let cases = [
            (bad_fixed, a.clone()),
            (q[..69].to_vec(), a.clone()),
            (q.clone(), bad_answer),
            (q.clone(), a[..132].to_vec()),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(40000, 25383, &[&o], &[&r]);
            let claimed = CryNetwork.probe(&f.payloads()) != Probe::NotMine
                && CryNetwork.parse(&f.payloads(), &mut Meta::default()) == Parse::Done;
            assert!(!claimed);
        }
    }
}
