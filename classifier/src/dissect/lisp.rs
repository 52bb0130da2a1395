//! LISP, the Locator/ID Separation Protocol (RFC 9301 control plane),
//! in its two control transports.
//!
//! UDP, with port 4342 on either side (the control port; a hint that
//! narrows the check): one control message per datagram, parsed to its
//! last byte. The type is the top nibble of the first byte:
//! - Map-Request (1): nonce, source EID, ITR-RLOC count + 1 RLOCs and
//!   the EID records (a Map-Reply record after them with the M bit);
//! - Map-Reply (2), Map-Register (3), Map-Notify (4), Map-Notify-Ack (5):
//!   nonce, (3..5) key id, authentication data length and data, then
//!   `record count` (non-zero) mapping records, each a TTL, locator
//!   count, EID mask length (within the EID's address length), EID and
//!   locators, each address an AFI (none, IPv4, IPv6, MAC, or an LCAF
//!   whose length is respected) and its bytes; the xTR-ID and site-ID
//!   follow when the I bit says so;
//! - Encapsulated Control Message (8): an IPv4 or IPv6 header whose
//!   length fits, UDP to or from 4342, and one of the messages above.
//!
//! The datagram must end exactly where the message does.
//!
//! TCP (the reliable transport between xTRs and map servers,
//! draft-ietf-lisp-map-server-reliable-transport, port 4342 in
//! practice but not checked): every message is a type (16 bits, high
//! byte zero), a length counting the whole message, a message id, the
//! body, and the end marker 0x9FACADE9 in its last four bytes. The
//! first message of each side that has spoken is checked; one complete
//! message decides.
//!
//! LISP control messages are authenticated (HMAC) but never encrypted:
//! cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Lisp;

const CONTROL_PORT: u16 = 4342;
const END_MARKER: [u8; 4] = [0x9f, 0xac, 0xad, 0xe9];
/// Smallest reliable-transport message: type, length, id, end marker.
const TCP_MIN: usize = 12;
const AFI_LCAF: u16 = 16387;

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// An AFI-prefixed address at `at`: (bits of the address, or 128 when
/// an LCAF other than an instance id does not say, offset past it).
fn address(d: &[u8], at: usize) -> Option<(u32, usize)> {
    afi_address(d, at, true)
}

/// [`address`]; an LCAF only when `lcaf` (an instance id holds a plain
/// address, so nesting stops at one level).
fn afi_address(d: &[u8], at: usize, lcaf: bool) -> Option<(u32, usize)> {
    let afi = be16(d, at)?;
    let at = at + 2;
    let (bits, len) = match afi {
        0 => (0, 0),
        1 => (32, 4),
        2 => (128, 16),
        6 => (48, 6),
        AFI_LCAF if lcaf => {
            let h = d.get(at..at + 6)?;
            let (kind, len) = (h[2], usize::from(u16::from_be_bytes([h[4], h[5]])));
            let body = at + 6;
            d.get(body..body + len)?;
            let bits = if kind == 2 {
                // Instance id: the id, then the address it qualifies.
                let (bits, end) = afi_address(d, body + 4, false)?;
                if end != body + len {
                    return None;
                }
                bits
            } else {
                128
            };
            return Some((bits, body + len));
        }
        _ => return None,
    };
    d.get(at..at + len)?;
    Some((bits, at + len))
}

/// `count` mapping records from `at`: the offset past them.
fn records(d: &[u8], mut at: usize, count: u8) -> Option<usize> {
    for _ in 0..count {
        let h = d.get(at..at + 10)?;
        let (locators, mask) = (h[4], u32::from(h[5]));
        let (bits, mut next) = address(d, at + 10)?;
        if mask > bits {
            return None;
        }
        for _ in 0..locators {
            d.get(next..next + 6)?;
            next = address(d, next + 6)?.1;
        }
        at = next;
    }
    Some(at)
}

/// A whole control message: its type name and record count.
fn control(d: &[u8], nested: bool) -> Option<(&'static str, u8)> {
    let h = d.get(..4)?;
    let (kind, count) = (h[0] >> 4, h[3]);
    let end = match kind {
        1 => {
            let irc = usize::from(h[2] & 0x1f);
            let mut at = address(d, 12)?.1;
            for _ in 0..=irc {
                at = address(d, at)?.1;
            }
            for _ in 0..count {
                let mask = u32::from(*d.get(at + 1)?);
                let (bits, next) = address(d, at + 2)?;
                if mask > bits {
                    return None;
                }
                at = next;
            }
            // M bit: a Map-Reply record follows.
            if h[0] & 0x04 != 0 {
                at = records(d, at, 1)?;
            }
            (count > 0).then_some(at)?
        }
        2 => (count > 0).then_some(records(d, 12, count)?)?,
        3..=5 => {
            let auth = usize::from(be16(d, 14)?);
            let end = records(d, 16 + auth, count)?;
            let id_bit = if kind == 3 { 0x02 } else { 0x08 };
            let trailer = if h[0] & id_bit != 0 { 24 } else { 0 };
            (count > 0).then_some(end + trailer)?
        }
        8 if !nested => return encapsulated(d.get(4..)?),
        _ => return None,
    };
    let name = [
        "map_request",
        "map_reply",
        "map_register",
        "map_notify",
        "map_notify_ack",
    ][usize::from(kind - 1)];
    (end == d.len()).then_some((name, count))
}

/// The IP and UDP headers of an Encapsulated Control Message, then the
/// message they carry.
fn encapsulated(d: &[u8]) -> Option<(&'static str, u8)> {
    let udp_at = match d.first()? >> 4 {
        4 => {
            let ihl = usize::from(d[0] & 0x0f) * 4;
            let ok = ihl >= 20 && usize::from(be16(d, 2)?) == d.len() && *d.get(9)? == 17;
            ok.then_some(ihl)?
        }
        6 => {
            let ok = usize::from(be16(d, 4)?) + 40 == d.len() && *d.get(6)? == 17;
            ok.then_some(40)?
        }
        _ => return None,
    };
    let udp = d.get(udp_at..udp_at + 8)?;
    let ports = [be16(udp, 0)?, be16(udp, 2)?];
    if !ports.contains(&CONTROL_PORT) || usize::from(be16(udp, 4)?) != d.len() - udp_at {
        return None;
    }
    control(&d[udp_at + 8..], true).map(|(_, c)| ("encapsulated_control", c))
}

/// The first reliable-transport message of a TCP stream: `Ok(Some)`
/// its type when whole and valid, `Ok(None)` a valid start still cut
/// short, `Err` not one.
fn tcp_message(d: &[u8]) -> Result<Option<u16>, ()> {
    if d.is_empty() {
        return Ok(None);
    }
    if d[0] != 0 {
        return Err(());
    }
    let (Some(kind), Some(len)) = (be16(d, 0), be16(d, 2)) else {
        return Ok(None);
    };
    let len = usize::from(len);
    if kind == 0 || len < TCP_MIN {
        return Err(());
    }
    match d.get(len - 4..len) {
        None => Ok(None),
        Some(m) if m == END_MARKER => Ok(Some(kind)),
        Some(_) => Err(()),
    }
}

fn tcp_type_name(kind: u16) -> &'static str {
    match kind {
        17 => "registration",
        18 => "registration_ack",
        19 => "registration_nack",
        20 => "registration_refresh",
        21 => "mapping_notification",
        _ => "other",
    }
}

impl Dissector for Lisp {
    fn name(&self) -> &'static str {
        "lisp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let first = p.first_payload();
        let ok = match p.transport {
            Transport::Udp => p.port(CONTROL_PORT) && matches!(first.first().map(|b| b >> 4), Some(1..=5 | 8)),
            Transport::Tcp => first.first() == Some(&0),
        };
        if ok {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only, on UDP, control types 1..=5 and 8 in the
    /// top nibble; on TCP, a zero first byte.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(
            ByteSet::of(&[0])
                .union(ByteSet::range(0x10, 0x5f))
                .union(ByteSet::range(0x80, 0x8f)),
        )
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        match p.transport {
            Transport::Udp => {
                if !p.port(CONTROL_PORT) {
                    return Parse::NotMine;
                }
                let Some((name, count)) = control(p.first_payload(), false) else {
                    return Parse::NotMine;
                };
                meta.protocol = Some("lisp");
                meta.encryption = Encryption::Cleartext;
                meta.set_extra("lisp_message", name);
                meta.set_extra("lisp_records", count.to_string());
                Parse::Done
            }
            Transport::Tcp => {
                let mut found = None;
                for side in [p.orig, p.resp] {
                    match tcp_message(side.stream()) {
                        Err(()) => return Parse::NotMine,
                        Ok(Some(k)) if found.is_none() => found = Some(k),
                        Ok(_) => {}
                    }
                }
                let Some(kind) = found else {
                    return p.undecided();
                };
                meta.protocol = Some("lisp");
                meta.encryption = Encryption::Cleartext;
                meta.set_extra("lisp_message", tcp_type_name(kind));
                Parse::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, unhex, UdpFixture};

    /// lisp_registration.pcap frame 1: Map-Register for 10.0.0.2/32,
    /// HMAC-SHA-1 authentication, one locator, xTR-ID and site-ID.
    const REGISTER: &str = "32000101 67ab931f9e8b974a 0001 0014 b746d6876088e5becff44020ab541826a234ed10
        000005a0 01 20 1000 0000 0001 0a000002 16161616 0005 0001 0a007b02
        d0f4d45814b6d3e32183c9432e4b58f2 0000000000000000";
    /// Frame 3: an EID in an instance-id LCAF, 192.168.102.0/26 in IID 100.
    const REGISTER_LCAF: &str = "32000101 e70430fca1809623 0001 0014 b47b80b8442dd074e55d0866f0b4e03bb74f0c5e
        000005a0 01 1a 1000 0000 4003 00 00 02 20 000a 00000064 0001 c0a86600
        16161616 0005 0001 0a007b02 d0f4d45814b6d3e32183c9432e4b58f2 0000000000000000";
    /// Frame 6: the map server's Map-Notify for frame 1.
    const NOTIFY: &str = "48000001 67ab931f9e8b974a 0001 0014 6b468cc06d9d2acaf27ada1e3f25c8dc3892d757
        000005a0 01 20 0000 0000 0001 0a000002 16161616 0001 0001 0a007b02
        d0f4d45814b6d3e32183c9432e4b58f2 0000000000000000";
    /// Frame 12 (TCP): the map server's Registration Refresh, first on
    /// the connection.
    const REFRESH: &str = "0014 000f 00000000 000000 9facade9";
    /// Frame 13: the xTR's first Registration (the other three of the
    /// segment left out).
    const REGISTRATION: &str = "0011 0064 00000000 32000101 67ab931f9e8b974a 0001 0014
        b746d6876088e5becff44020ab541826a234ed10 000005a0 01 20 1000 0000 0001 0a000002
        16161616 0005 0001 0a007b02 d0f4d45814b6d3e32183c9432e4b58f2 0000000000000000 9facade9";

    #[test]
    fn udp_register_and_notify() {
        let (r, n) = (unhex(REGISTER), unhex(NOTIFY));
        let (v, m) = check_split_udp(&Lisp, 4342, 4342, &[&r], &[&n]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("lisp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("lisp_message"), Some("map_register"));
        assert_eq!(m.extra("lisp_records"), Some("1"));
        let l = unhex(REGISTER_LCAF);
        let (v, _) = check_split_udp(&Lisp, 4342, 4342, &[&l], &[]);
        assert_eq!(v, Parse::Done);
        let (v, m) = check_split_udp(&Lisp, 4342, 40000, &[&n], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("lisp_message"), Some("map_notify"));
    }

    #[test]
    fn udp_request_reply_and_encapsulated() {
        // Map-Request from 192.0.2.1 (one ITR-RLOC) for 10.1.0.0/16.
        let req = unhex("10000001 0102030405060708 0001 c0000201 0001 c0000201 00 10 0001 0a010000");
        let (v, m) = check_split_udp(&Lisp, 40000, 4342, &[&req], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("lisp_message"), Some("map_request"));
        // Its Map-Reply: one record, one locator.
        let reply =
            unhex("20000001 0102030405060708 000005a0 01 10 0000 0000 0001 0a010000 01640164 0005 0001 c0000202");
        let (v, m) = check_split_udp(&Lisp, 4342, 40000, &[&reply], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("lisp_message"), Some("map_reply"));
        // The request in an ECM, IPv4 + UDP 4342.
        let mut ecm = unhex("80000000 4500 0000 0000 0000 4011 0000 c0000201 c0000202 9c40 10f6 0000 0000");
        let ip_len = (ecm.len() - 4 + req.len()) as u16;
        ecm[6..8].copy_from_slice(&ip_len.to_be_bytes());
        ecm[28..30].copy_from_slice(&(8 + req.len() as u16).to_be_bytes());
        ecm.extend_from_slice(&req);
        let (v, m) = check_split_udp(&Lisp, 40000, 4342, &[&ecm], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("lisp_message"), Some("encapsulated_control"));
    }

    #[test]
    fn tcp_reliable_transport() {
        let (s, c) = (unhex(REFRESH), unhex(REGISTRATION));
        let (v, m) = check_split_tcp(&Lisp, 4342, &c, &s);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("lisp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("lisp_message"), Some("registration"));
        // The server alone, first to speak.
        let ends = [[0], [s.len() as u32]];
        let p = Payloads::tcp(40000, 4342, &[], &s, &ends);
        let mut m = Meta::default();
        assert_eq!(Lisp.parse(&p, &mut m), Parse::Done);
        assert_eq!(m.extra("lisp_message"), Some("registration_refresh"));
        // Cut short: wait.
        let ends = [[20], [0]];
        let p = Payloads::tcp(40000, 4342, &c[..20], &[], &ends);
        assert_eq!(Lisp.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let r = unhex(REGISTER);
        // Not on the control port.
        let f = UdpFixture::new(40000, 4000, &[&r], &[]);
        assert!(!not_refused(&Lisp, &f.payloads()));
        // One byte more or less, another type, no records, a mask longer
        // than the address, an unknown AFI, a longer authentication field.
        let mut cases: Vec<Vec<u8>> = vec![r[..r.len() - 1].to_vec(), [&r[..], &[0]].concat()];
        for (at, v) in [(0, 0x62), (0, 0x72), (3, 0), (41, 33), (47, 3), (15, 0x18)] {
            let mut x = r.clone();
            x[at] = v;
            cases.push(x);
        }
        for x in &cases {
            let f = UdpFixture::new(4342, 4342, &[x], &[]);
            assert!(!not_refused(&Lisp, &f.payloads()), "{x:02x?}");
        }
        // An instance id nested in an instance id (whose length counts
        // it): well-formed, but nesting stops at one level.
        let mut nested = unhex(REGISTER_LCAF);
        let tail = nested.split_off(58);
        nested.extend_from_slice(&unhex("4003 00 00 02 20 000a 00000064"));
        nested.extend_from_slice(&tail);
        nested[53] = 0x16;
        let f = UdpFixture::new(4342, 4342, &[&nested], &[]);
        assert!(!not_refused(&Lisp, &f.payloads()));
        // TCP: a wrong end marker, a length past the marker, a type with
        // a high byte.
        let s = unhex(REFRESH);
        for (at, v) in [(14, 0xe8), (3, 0x0e), (0, 1)] {
            let mut x = s.clone();
            x[at] = v;
            let ends = [[x.len() as u32], [0]];
            let p = Payloads::tcp(40000, 4342, &x, &[], &ends);
            assert!(!not_refused(&Lisp, &p), "{at}");
        }
    }
}
