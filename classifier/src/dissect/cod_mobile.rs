//! Call of Duty: Mobile (Activision / TiMi) over UDP, described from
//! codm.pcap (no public specification): the latency ping to UDP 7500
//! (the port is the hint that narrows the check), a 12-byte datagram of
//! an 8-byte id and the ASCII word `ping`, which the server sends back
//! byte for byte. The echo is required. Ids and a word: `cleartext`.
//!
//! Not taken: the game session itself (codm.pcap's flow to UDP 7948),
//! whose only marker is a loadout label deep inside a later game-state
//! datagram; searching every UDP flow's datagrams for it would keep
//! this dissector a candidate on all of them.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct CodMobile;

const PING_PORT: u16 = 7500;
const PING_LEN: usize = 12;
const PING: &[u8; 4] = b"ping";

fn is_ping(d: &[u8]) -> bool {
    d.len() == PING_LEN && d.ends_with(PING)
}

impl Dissector for CodMobile {
    fn name(&self) -> &'static str {
        "cod_mobile"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PING_PORT) && is_ping(p.first_payload()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let q = p.first_payload();
        if !p.port(PING_PORT) || !is_ping(q) {
            return Parse::NotMine;
        }
        match p.second_side().first() {
            [] => p.undecided(),
            a if a == q => {
                meta.protocol = Some("cod_mobile");
                meta.encryption = Encryption::Cleartext;
                meta.set_extra("cod_mobile_message", "ping");
                Parse::Done
            }
            _ => Parse::NotMine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    // codm.pcap, 10.215.173.1:40282 <-> 23.248.172.158:7500.
    const PING_HEX: &str = "bbb653ea96fdbb0370696e67";

    #[test]
    fn ping_echo() {
        let q = unhex(PING_HEX);
        let (r, m) = check_split_udp(&CodMobile, 40282, 7500, &[&q], &[&q]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("cod_mobile"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("cod_mobile_message"), Some("ping"));
    }

    #[test]
    fn near_misses() {
        let q = unhex(PING_HEX);
        let mut other = q.clone();
        other[0] ^= 1;
        let f = UdpFixture::new(40282, 7500, &[&q], &[&other]);
        assert_eq!(CodMobile.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
        // The ping shape on another port is not taken.
        let f = UdpFixture::new(40282, 7501, &[&q], &[&q]);
        assert_ne!(CodMobile.parse(&f.payloads(), &mut Meta::default()), Parse::Done);
        // Not a ping: another length or word.
        let mut word = q.clone();
        word[11] = b'h';
        for d in [word, q[1..].to_vec()] {
            let f = UdpFixture::new(40282, 7500, &[&d], &[&d]);
            assert!(!crate::dissect::not_refused(&CodMobile, &f.payloads()));
        }
    }
}
