//! Steam Datagram Relay (Valve's relay network for game traffic): the
//! client's ping to a relay (UDP 27045 in steam.pcapng), described from
//! that capture. The datagram opens with the message byte `01`, a flag
//! byte, the ASCII tag `sdping`, then a ping id, a time stamp and the
//! client's ids, and is padded with zeros to a fixed size (100 bytes
//! there). The tag is the check (with the opening byte and a length of
//! 32..=1200 bytes); the fields are ids and times in the clear and the
//! padding zeros: `cleartext`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct SteamSdr;

const TAG: &[u8; 6] = b"sdping";
const MIN_LEN: usize = 32;
const MAX_LEN: usize = 1200;

fn is_ping(d: &[u8]) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&d.len()) && d[0] == 0x01 && &d[2..8] == TAG
}

impl Dissector for SteamSdr {
    fn name(&self) -> &'static str {
        "steam_datagram_relay"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if is_ping(p.orig.first()) {
            Probe::Mine
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the originator's ping, `01` first (`is_ping`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x01]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !is_ping(p.orig.first()) {
            return Parse::NotMine;
        }
        meta.protocol = Some("steam_datagram_relay");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("steam".to_string());
        meta.set_extra("steam_sdr_message", "ping");
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    /// steam.pcapng, 192.168.88.231:46604 -> 155.133.252.86:27045: the
    /// 100-byte ping (its first 31 bytes, then the zero padding).
    fn ping() -> Vec<u8> {
        let mut v = unhex("0181736470696e677ebe627ec7288817000000000659566591d40d8c62410b");
        v.resize(100, 0);
        v
    }

    #[test]
    fn relay_ping() {
        let q = ping();
        let (r, m) = check_split_udp(&SteamSdr, 46604, 27045, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("steam_datagram_relay"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.app.as_deref(), Some("steam"));
    }

    #[test]
    fn near_misses() {
        let q = ping();
        let mut tag = q.clone();
        tag[7] = b'h';
        let mut first = q.clone();
        first[0] = 0x02;
        let mut long = q.clone();
        long.resize(MAX_LEN + 1, 0);
        for d in [tag, first, long, q[..MIN_LEN - 1].to_vec()] {
            let f = UdpFixture::new(46604, 27045, &[&d], &[]);
            assert!(!not_refused(&SteamSdr, &f.payloads()));
        }
    }
}
