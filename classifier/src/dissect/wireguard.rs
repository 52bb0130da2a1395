//! WireGuard (whitepaper section 5.4): four message types, each a type
//! byte followed by three zero bytes, with fixed sizes: handshake
//! initiation 148, handshake response 92, cookie reply 64, transport data
//! 32 or more (16-byte header + ciphertext padded to 16 + 16-byte tag).
//!
//! Some VPN services send longer handshake messages (tunnelbear.pcap:
//! a 204-byte initiation, a 100-byte response, extra bytes appended).
//! Such a flow is taken only on the whole chain of indices: the
//! response's receiver index is the initiation's sender index, and a
//! standard transport message of the initiator is addressed to the
//! response's sender index (two 32-bit matches).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
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

/// A message of type `t` with the zero reserved bytes, longer than
/// `min` bytes (the handshake of a lengthened variant).
fn longer(d: &[u8], t: u8, min: usize) -> bool {
    d.len() > min && d.get(..4) == Some(&[t, 0, 0, 0])
}

/// A lengthened handshake, linked by its indices to a transport
/// message: `None` while the linking messages have not arrived.
fn linked(p: &Payloads<'_>) -> Option<bool> {
    let init = p.orig.first();
    if !longer(init, INITIATION, 148) {
        return Some(false);
    }
    let resp = p.resp.first();
    if resp.is_empty() {
        return None;
    }
    if !longer(resp, RESPONSE, 92) || le32(resp, 8) != le32(init, 4) {
        return Some(false);
    }
    let to_responder = le32(resp, 4);
    p.orig
        .chunks()
        .find(|d| kind(d) == Some(TRANSPORT))
        .map(|d| le32(d, 4) == to_responder)
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
        } else if longer(first, INITIATION, 148) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// A message type, 1 to 4 (`kind`, `longer`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(INITIATION, TRANSPORT))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_payload();
        let Some(t) = kind(first) else {
            return match linked(p) {
                Some(true) => {
                    meta.protocol = Some("wireguard");
                    meta.encryption = Encryption::Encrypted;
                    meta.set_extra("wg_first", "initiation");
                    meta.set_extra("wg_handshake", "complete");
                    meta.set_extra("wg_handshake_len", first.len().to_string());
                    Parse::Done
                }
                Some(false) => Parse::NotMine,
                None => p.undecided(),
            };
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

    /// tunnelbear.pcap, 10.0.2.15:57636 → 142.93.78.79:51820: a 204-byte
    /// initiation (sender index 316618ac), a 100-byte response (sender
    /// 02ca1a00, receiver 316618ac) and a keep-alive to 02ca1a00; the
    /// keys and MACs stand in by a fill.
    #[test]
    fn lengthened_handshake_by_its_indices() {
        let mut init = msg(1, 204, 0xa5);
        init[4..8].copy_from_slice(&[0x31, 0x66, 0x18, 0xac]);
        let mut resp = msg(2, 100, 0x5a);
        resp[4..8].copy_from_slice(&[0x02, 0xca, 0x1a, 0x00]);
        resp[8..12].copy_from_slice(&[0x31, 0x66, 0x18, 0xac]);
        let mut keep = msg(4, 32, 0xd1);
        keep[4..8].copy_from_slice(&[0x02, 0xca, 0x1a, 0x00]);
        keep[8..16].copy_from_slice(&[0; 8]);
        let (r, m) = check_split_udp(&Wireguard, 57636, 51820, &[&init, &keep], &[&resp]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("wireguard"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("wg_handshake_len"), Some("204"));
        // Without the transport message it waits; a broken link refuses.
        let f = UdpFixture::new(57636, 51820, &[&init], &[&resp]);
        assert_eq!(Wireguard.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let mut other = keep.clone();
        other[4] = 3;
        let mut unlinked = resp.clone();
        unlinked[8] = 0x30;
        for (o, r) in [(&other, &resp), (&keep, &unlinked)] {
            let f = UdpFixture::new(57636, 51820, &[&init, o], &[r]);
            assert!(!crate::dissect::not_refused(&Wireguard, &f.payloads()));
        }
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
