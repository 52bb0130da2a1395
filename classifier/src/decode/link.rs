//! Link layers: from a frame to the bytes of the IP packet it carries.
//!
//! Every path is bounded: VLAN tags and MPLS labels by count, nested frames
//! (MPLS pseudowire → Ethernet, PPI → inner link type) by depth.

use super::tunnel::Inner;
use super::{LinkType, Skip};

/// Most VLAN tags / LLC headers / MPLS labels walked in one frame.
const MAX_TAGS: usize = 8;
const MAX_LABELS: usize = 16;
/// Most nested link layers (MPLS pseudowire → Ethernet → ...).
const MAX_DEPTH: u8 = 4;

pub(super) mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD1: u16 = 0x9100;
    pub const QINQ_OLD2: u16 = 0x9200;
    pub const QINQ_OLD3: u16 = 0x9300;
    pub const MPLS_UC: u16 = 0x8847;
    pub const MPLS_MC: u16 = 0x8848;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const TEB: u16 = 0x6558;
    pub const PPP: u16 = 0x880b;
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// The IP packet inside a frame of link type `lt`.
pub(super) fn to_ip(lt: LinkType, f: &[u8]) -> Result<&[u8], Skip> {
    link(lt, f, 0)
}

/// The IP packet inside a tunnel's payload.
pub(super) fn inner_to_ip(inner: Inner<'_>) -> Result<&[u8], Skip> {
    match inner {
        Inner::Ip(b) => Ok(b),
        Inner::Ethernet(b) => ethernet(b, 1),
        Inner::EtherType(et, b) => by_ethertype(et, b, 1),
        Inner::Ppp(b) => ppp(b, 1),
    }
}

fn link(lt: LinkType, f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    match lt {
        LinkType::ETHERNET => ethernet(f, depth),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => Ok(f),
        LinkType::NULL | LinkType::LOOP => null(f),
        LinkType::LINUX_SLL => sll(f, depth),
        LinkType::LINUX_SLL2 => sll2(f, depth),
        LinkType::PPP | LinkType::PPP_HDLC => ppp(f, depth),
        LinkType::PPP_ETHER => pppoe(f, depth),
        LinkType::C_HDLC => chdlc(f, depth),
        LinkType::PPI if depth == 0 => ppi(f),
        other => Err(Skip::LinkType(other.0)),
    }
}

/// Ethernet II (or 802.3 with LLC/SNAP).
pub(super) fn ethernet(f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    match (be16(f, 12), f.get(14..)) {
        (Some(et), Some(rest)) => by_ethertype(et, rest, depth),
        _ => Err(Skip::Malformed),
    }
}

/// Follows an EtherType through VLAN tags and LLC/SNAP to IP, MPLS or PPPoE.
fn by_ethertype(mut et: u16, mut rest: &[u8], depth: u8) -> Result<&[u8], Skip> {
    use ethertype::*;
    for _ in 0..MAX_TAGS {
        match et {
            IPV4 | IPV6 => return Ok(rest),
            VLAN | QINQ | QINQ_OLD1 | QINQ_OLD2 | QINQ_OLD3 => {
                // 2 bytes TCI, 2 bytes EtherType
                et = be16(rest, 2).ok_or(Skip::Malformed)?;
                rest = rest.get(4..).ok_or(Skip::Malformed)?;
            }
            MPLS_UC | MPLS_MC => return mpls(rest, depth),
            PPPOE_SESSION => return pppoe(rest, depth),
            TEB if depth < MAX_DEPTH => return ethernet(rest, depth + 1),
            // An 802.3 length: LLC follows; only SNAP with OUI 0 carries an EtherType.
            len if len <= 1500 => match rest.first_chunk::<8>() {
                Some(&[0xaa, 0xaa, 0x03, 0, 0, 0, a, b]) => {
                    et = u16::from_be_bytes([a, b]);
                    rest = rest.get(8..).ok_or(Skip::Malformed)?;
                }
                _ => return Err(Skip::NotIp),
            },
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::Malformed)
}

/// An MPLS label stack; after the bottom-of-stack label the payload is
/// IPv4 or IPv6 by its first nibble, or (nibble 0) a pseudowire control
/// word followed by an Ethernet frame.
fn mpls(mut rest: &[u8], depth: u8) -> Result<&[u8], Skip> {
    for _ in 0..MAX_LABELS {
        let Some(label) = rest.first_chunk::<4>() else {
            return Err(Skip::Malformed);
        };
        let bottom = label[2] & 1 != 0;
        rest = rest.get(4..).ok_or(Skip::Malformed)?;
        if bottom {
            return match rest.first().map(|b| b >> 4) {
                Some(4 | 6) => Ok(rest),
                Some(0) if depth < MAX_DEPTH => ethernet(rest.get(4..).ok_or(Skip::Malformed)?, depth + 1),
                Some(_) => Err(Skip::NotIp),
                None => Err(Skip::Malformed),
            };
        }
    }
    Err(Skip::Malformed)
}

/// PPPoE session stage: 6-byte header, then PPP.
fn pppoe(f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    match f.first_chunk::<6>() {
        Some(&[0x11, 0x00, ..]) => ppp_protocol(f.get(6..).ok_or(Skip::Malformed)?, depth),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Malformed),
    }
}

/// Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control, EtherType.
fn chdlc(f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    match (f.get(4..), be16(f, 2)) {
        (Some(rest), Some(proto)) => by_ethertype(proto, rest, depth),
        _ => Err(Skip::Malformed),
    }
}

/// PPP with optional HDLC address/control bytes. Captures labelled PPP
/// sometimes hold Cisco HDLC frames (address 0x0f/0x8f); those are
/// recognised too (no PPP protocol number starts with 0x0f00/0x8f00).
fn ppp(f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    match f {
        [0xff, 0x03, rest @ ..] => ppp_protocol(rest, depth),
        [0x0f | 0x8f, 0x00, ..] => chdlc(f, depth),
        _ => ppp_protocol(f, depth),
    }
}

/// A PPP protocol field (1 byte when compressed: odd first byte) and its payload.
fn ppp_protocol(f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    let (proto, rest) = match f {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => return Err(Skip::Malformed),
    };
    match proto {
        0x0021 | 0x0057 => Ok(rest),
        0x0281 | 0x0283 => mpls(rest, depth),
        _ => Err(Skip::NotIp),
    }
}

/// BSD null/loopback: a 4-byte address family in the capturing host's byte
/// order (LOOP: network order); both orders are accepted.
fn null(f: &[u8]) -> Result<&[u8], Skip> {
    let (Some(af), Some(rest)) = (f.first_chunk::<4>(), f.get(4..)) else {
        return Err(Skip::Malformed);
    };
    let le = u32::from_le_bytes(*af);
    let be = u32::from_be_bytes(*af);
    let known = |v: u32| matches!(v, 2 | 24 | 28 | 30);
    if known(le) || known(be) {
        Ok(rest)
    } else {
        Err(Skip::NotIp)
    }
}

/// ARPHRD_NETLINK: netlink messages, never IP.
const ARPHRD_NETLINK: u16 = 824;

/// Linux cooked capture v1: 16-byte header, protocol last.
fn sll(f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    let (Some(hatype), Some(proto), Some(rest)) = (be16(f, 2), be16(f, 14), f.get(16..)) else {
        return Err(Skip::Malformed);
    };
    sll_payload(hatype, proto, rest, depth)
}

/// Linux cooked capture v2: 20-byte header, protocol first.
fn sll2(f: &[u8], depth: u8) -> Result<&[u8], Skip> {
    let (Some(proto), Some(hatype), Some(rest)) = (be16(f, 0), be16(f, 8), f.get(20..)) else {
        return Err(Skip::Malformed);
    };
    sll_payload(hatype, proto, rest, depth)
}

fn sll_payload(hatype: u16, proto: u16, rest: &[u8], depth: u8) -> Result<&[u8], Skip> {
    match proto {
        _ if hatype == ARPHRD_NETLINK => Err(Skip::NotIp),
        // LINUX_SLL_P_802_2: an LLC header follows.
        0x0004 => by_ethertype(0, rest, depth),
        // Other Linux pseudo protocols below 0x0600 (802.3 raw, CAN, ...).
        p if p < 0x0600 => Err(Skip::NotIp),
        p => by_ethertype(p, rest, depth),
    }
}

/// PPI: version 0, header length (LE), inner link type (LE), then the frame.
fn ppi(f: &[u8]) -> Result<&[u8], Skip> {
    let Some(h) = f.first_chunk::<8>() else {
        return Err(Skip::Malformed);
    };
    let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    let dlt = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if h[0] != 0 || len < 8 {
        return Err(Skip::Malformed);
    }
    link(LinkType(dlt), f.get(len..).ok_or(Skip::Malformed)?, 1)
}
