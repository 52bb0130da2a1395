//! WireGuard (whitepaper section 5.4): four message types, each a type
//! byte followed by three zero bytes, with fixed sizes: handshake
//! initiation 148, handshake response 92, cookie reply 64, transport data
//! 32 or more (16-byte header + ciphertext padded to 16 + 16-byte tag).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Wireguard;

const INITIATION: u8 = 1;
const RESPONSE: u8 = 2;
const COOKIE: u8 = 3;
const TRANSPORT: u8 = 4;

/// The message type when `d` is a well-formed WireGuard message.
fn kind(d: &[u8]) -> Option<u8> {
    let (&t, rest) = d.split_first()?;
    if rest.get(..3)? != [0, 0, 0] {
        return None;
    }
    let ok = match t {
        INITIATION => d.len() == 148,
        RESPONSE => d.len() == 92,
        COOKIE => d.len() == 64,
        TRANSPORT => d.len() >= 32 && d.len().is_multiple_of(16),
        _ => false,
    };
    ok.then_some(t)
}

fn le32(d: &[u8], at: usize) -> Option<[u8; 4]> {
    d.get(at..at + 4)?.try_into().ok()
}

impl Dissector for Wireguard {
    fn name(&self) -> &'static str {
        "wireguard"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let first = p.first_payload();
        if kind(first).is_some() {
            Probe::Mine
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_payload();
        let Some(t) = kind(first) else {
            return Parse::NotMine;
        };
        // A lone transport message of a flow seen mid-way is weaker: wait
        // for a second well-formed one before claiming it.
        if t == TRANSPORT {
            let more = p
                .orig
                .chunks()
                .chain(p.resp.chunks())
                .filter(|d| kind(d).is_some())
                .count();
            if more < 2 {
                return Parse::NeedMore;
            }
        }
        meta.protocol = Some("wireguard");
        meta.encryption = Encryption::Encrypted;
        let names = ["", "initiation", "response", "cookie", "transport"];
        meta.set_extra("wg_first", names[usize::from(t)]);
        // Initiation answered by a response naming the initiator's index.
        if t == INITIATION {
            if let (Some(sender), Some(r)) = (le32(first, 4), p.resp.chunks().find(|d| kind(d) == Some(RESPONSE))) {
                if le32(r, 8) == Some(sender) {
                    meta.set_extra("wg_handshake", "complete");
                    return Parse::Done;
                }
            }
        }
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn msg(t: u8, len: usize, fill: u8) -> Vec<u8> {
        let mut v = vec![fill; len];
        v[..4].copy_from_slice(&[t, 0, 0, 0]);
        v
    }

    #[test]
    fn handshake() {
        let mut init = msg(1, 148, 0xa5);
        init[4..8].copy_from_slice(&[1, 2, 3, 4]);
        let mut resp = msg(2, 92, 0x5a);
        resp[8..12].copy_from_slice(&[1, 2, 3, 4]);
        let (r, m) = check_split_udp(&Wireguard, 51820, 51820, &[&init], &[&resp]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("wireguard"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        // Wrong receiver index: identified, but not complete.
        resp[8] = 9;
        let (r, m) = check_split_udp(&Wireguard, 51820, 51820, &[&init], &[&resp]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("wg_handshake"), None);
    }

    #[test]
    fn transport_needs_two() {
        let t1 = msg(4, 96, 0x11);
        let t2 = msg(4, 32, 0x22);
        let f = UdpFixture::new(1, 2, &[&t1], &[]);
        assert_eq!(Wireguard.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let (r, _) = check_split_udp(&Wireguard, 1, 2, &[&t1], &[&t2]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn wrong_sizes_and_reserved_not_mine() {
        for d in [
            msg(1, 147, 0),
            msg(2, 93, 0),
            msg(3, 63, 0),
            msg(4, 33, 0),
            msg(5, 148, 0),
            vec![1, 0, 1, 0],
        ] {
            let mut d = d;
            let f = UdpFixture::new(1, 2, &[&d], &[]);
            assert_eq!(Wireguard.probe(&f.payloads()), Probe::NotMine);
            d.clear();
        }
        let mut bad = msg(1, 148, 0);
        bad[2] = 1;
        let (r, _) = check_split_udp(&Wireguard, 1, 2, &[&bad], &[]);
        assert_eq!(r, Parse::NotMine);
    }
}
