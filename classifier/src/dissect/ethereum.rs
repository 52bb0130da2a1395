//! Ethereum node discovery v4 (devp2p discv4) over UDP.
//!
//! A packet is a 32-byte hash, a 65-byte signature, a packet type
//! (1 ping, 2 pong, 3 find-node, 4 neighbors, 5 ENR request, 6 ENR
//! response) and the packet data as one RLP list. The hash and signature
//! look random (the Wu et al. rules would call the packet fully
//! encrypted), but the data is cleartext: the list header must announce
//! exactly the bytes that follow, or, on the discovery port, at most
//! them (EIP-8 lets senders append data).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ethereum;

/// Hash and signature.
const PREFIX: usize = 97;
const PORT: u16 = 30303;

/// (payload offset, payload length) of the RLP list starting `d`.
fn rlp_list(d: &[u8]) -> Option<(usize, usize)> {
    let b0 = *d.first()?;
    match b0 {
        0xc0..=0xf7 => Some((1, usize::from(b0 - 0xc0))),
        0xf8..=0xff => {
            let n = usize::from(b0 - 0xf7);
            let bytes = d.get(1..1 + n)?;
            // No leading zero byte; the long form holds 56 bytes or more.
            if n > 3 || bytes.first() == Some(&0) {
                return None;
            }
            let len = bytes.iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
            (len >= 56).then_some((1 + n, len))
        }
        _ => None,
    }
}

fn packet_type(d: &[u8], on_port: bool) -> Option<u8> {
    let kind = *d.get(PREFIX)?;
    if !(1..=6).contains(&kind) {
        return None;
    }
    let data = d.get(PREFIX + 1..)?;
    let (off, len) = rlp_list(data)?;
    let end = off.checked_add(len)?;
    let fits = if on_port { end <= data.len() } else { end == data.len() };
    (fits && len > 0).then_some(kind)
}

fn type_name(k: u8) -> &'static str {
    match k {
        1 => "ping",
        2 => "pong",
        3 => "findnode",
        4 => "neighbors",
        5 => "enrrequest",
        _ => "enrresponse",
    }
}

impl Dissector for Ethereum {
    fn name(&self) -> &'static str {
        "ethereum"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if packet_type(p.first_payload(), p.port(PORT)).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(kind) = packet_type(p.first_payload(), p.port(PORT)) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("ethereum");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("discv4_type", type_name(kind));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn packet(kind: u8, list: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = (0..PREFIX as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        v.push(kind);
        v.extend_from_slice(list);
        v
    }

    #[test]
    fn ping_and_long_list() {
        // ping: [version 4, from, to, expiration] (29 bytes of list).
        let mut list = vec![
            0xdd, 0x04, 0xcb, 0x84, 0x7f, 0, 0, 1, 0x82, 0x76, 0x5f, 0x82, 0x76, 0x5f,
        ];
        list.extend_from_slice(&[0xc9, 0x84, 0x4f, 0x16, 0xce, 0xbd, 0x82, 0xe9, 0xf7, 0x80]);
        list.extend_from_slice(&[0x84, 0x5e, 0x16, 0x20, 0x5e, 0x05]);
        assert_eq!(list.len(), 30);
        let p = packet(1, &list);
        let (r, m) = check_split_udp(&Ethereum, 56693, 30303, &[&p], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ethereum"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("discv4_type"), Some("ping"));
        // find-node with a long-form list of 73 bytes, off port: exact.
        let mut long = vec![0xf8, 73, 0xb8, 64];
        long.extend_from_slice(&[0x97; 64]);
        long.extend_from_slice(&[0x84, 0x5e, 0x16, 0x20, 0x5e, 0xc0, 0x80]);
        assert_eq!(long.len(), 2 + 73);
        let p = packet(3, &long);
        let (r, m) = check_split_udp(&Ethereum, 40000, 41000, &[&p], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("discv4_type"), Some("findnode"));
    }

    #[test]
    fn not_discovery() {
        let list = [0xc3, 0x01, 0x02, 0x03];
        let mut trailing = packet(2, &list);
        trailing.push(0);
        let cases: [Vec<u8>; 5] = [
            packet(0, &list),
            packet(9, &list),
            packet(2, &[0xc5, 1, 2]),
            packet(2, &[0xf8, 3, 1, 2, 3]),
            trailing,
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 41000, &[&d], &[]);
            let claimed = crate::dissect::not_refused(&Ethereum, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
        // EIP-8 trailing data is accepted on the discovery port.
        let mut t = packet(2, &list);
        t.push(0);
        let (r, _) = check_split_udp(&Ethereum, 40000, 30303, &[&t], &[]);
        assert_eq!(r, Parse::Done);
    }
}
