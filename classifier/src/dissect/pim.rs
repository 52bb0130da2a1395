//! PIM (RFC 7761, PIM-SM version 2): the transport is IP protocol 103
//! itself, so this is not a [`super::Dissector`]; the engine calls
//! [`identify`] on the first payload of such a flow. The 4-byte header:
//! version 2 and a message type 0..=12 in the first byte, a reserved
//! byte, a checksum. The bodies of the two periodic messages are walked:
//! a Hello is option TLVs (type, length) that fill it exactly; a
//! Join/Prune is an encoded upstream neighbor, a group count and a hold
//! time, then per group an encoded group address and the joined and
//! pruned source counts followed by that many encoded sources, ending
//! exactly at the end. Other types need only their least length.
//! Cleartext.

use crate::verdict::{Encryption, Evidence, Meta};

/// IP protocol number of PIM.
pub const PIM: u8 = 103;
const HELLO: u8 = 0;
const JOIN_PRUNE: u8 = 3;

/// The address length of an encoded address's family (1 IPv4, 2 IPv6)
/// with the native encoding (0).
fn address_len(family: u8, encoding: u8) -> Option<usize> {
    match (family, encoding) {
        (1, 0) => Some(4),
        (2, 0) => Some(16),
        _ => None,
    }
}

/// Skips an encoded address with `extra` bytes between the header and
/// the address (unicast 0; group and source 2: flags, mask length).
fn skip_address(d: &[u8], extra: usize) -> Option<&[u8]> {
    let n = address_len(*d.first()?, *d.get(1)?)?;
    d.get(2 + extra + n..)
}

fn join_prune(body: &[u8]) -> Option<()> {
    let d = skip_address(body, 0)?;
    let (&groups, rest) = (d.get(1)?, d.get(4..)?);
    let mut d = rest;
    for _ in 0..groups {
        d = skip_address(d, 2)?;
        let c = d.get(..4)?;
        let sources = usize::from(u16::from_be_bytes([c[0], c[1]])) + usize::from(u16::from_be_bytes([c[2], c[3]]));
        d = &d[4..];
        for _ in 0..sources {
            d = skip_address(d, 2)?;
        }
    }
    d.is_empty().then_some(())
}

fn hello(body: &[u8]) -> Option<()> {
    let mut d = body;
    while !d.is_empty() {
        let o = d.get(..4)?;
        d = d.get(4 + usize::from(u16::from_be_bytes([o[2], o[3]]))..)?;
    }
    Some(())
}

/// Least length of each type's message, header included.
fn least_len(t: u8) -> usize {
    match t {
        1 => 8,      // register: flags, then the encapsulated packet
        2 => 4 + 12, // register-stop: group and source
        4 => 4 + 8,  // bootstrap
        5 => 4 + 20, // assert
        _ => 4,
    }
}

/// Fills `meta` when `msg`, the payload of an IP packet of protocol
/// `proto`, is a PIM version 2 message; true if it was.
pub fn identify(proto: u8, msg: &[u8], meta: &mut Meta) -> bool {
    if proto != PIM || msg.len() < 4 {
        return false;
    }
    let (version, kind) = (msg[0] >> 4, msg[0] & 0x0f);
    let body = &msg[4..];
    let ok = version == 2
        && kind <= 12
        && msg.len() >= least_len(kind)
        && match kind {
            HELLO => hello(body).is_some(),
            JOIN_PRUNE => join_prune(body).is_some(),
            _ => true,
        };
    if !ok {
        return false;
    }
    meta.protocol = Some("pim");
    meta.encryption = Encryption::Cleartext;
    meta.evidence.insert(Evidence::DPI);
    meta.set_extra("pim_type", kind.to_string());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // pim.pcap: a Join/Prune to 224.0.0.13, upstream 192.168.203.233,
    // two groups each with one joined source.
    const JOIN: [u8; 54] = [
        0x23, 0x00, 0x20, 0x4c, 0x01, 0x00, 0xc0, 0xa8, 0xcb, 0xe9, 0x00, 0x02, 0x00, 0xd2, 0x01, 0x00, 0x00, 0x20,
        0xe6, 0x3e, 0x42, 0xfc, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x07, 0x20, 0x0a, 0xa5, 0xe6, 0x02, 0x01, 0x00,
        0x00, 0x20, 0xe6, 0x3c, 0x2b, 0x03, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x07, 0x20, 0x0a, 0xa5, 0xe6, 0x02,
    ];

    fn pim(msg: &[u8]) -> Option<Meta> {
        let mut m = Meta::default();
        identify(PIM, msg, &mut m).then_some(m)
    }

    #[test]
    fn join_prune_and_hello() {
        let m = pim(&JOIN).expect("join/prune");
        assert_eq!(m.protocol, Some("pim"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("pim_type"), Some("3"));
        // Hello with a hold time option and a DR priority option.
        let hello = [0x20u8, 0, 0x12, 0x34, 0, 1, 0, 2, 0, 105, 0, 19, 0, 4, 0, 0, 0, 1];
        assert_eq!(
            pim(&hello)
                .and_then(|m| m.extra("pim_type").map(str::to_owned))
                .as_deref(),
            Some("0")
        );
        for n in 0..JOIN.len() {
            let _ = pim(&JOIN[..n]);
        }
    }

    #[test]
    fn not_pim() {
        let mut version = JOIN;
        version[0] = 0x13;
        let mut kind = JOIN;
        kind[0] = 0x2d;
        let mut groups = JOIN;
        groups[11] = 3;
        let mut family = JOIN;
        family[4] = 3;
        for d in [&version, &kind, &groups, &family] {
            assert!(pim(d).is_none(), "{d:?}");
        }
        assert!(pim(&JOIN[..53]).is_none());
        assert!(pim(&[0x20, 0, 0, 0, 0, 1, 0, 9, 0]).is_none());
        assert!(!identify(17, &JOIN, &mut Meta::default()));
    }
}
