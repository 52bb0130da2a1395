//! LDP, the Label Distribution Protocol of MPLS (RFC 5036): Hello
//! discovery over UDP and sessions over TCP, both on port 646 (required
//! on either side: a hint that narrows the check).
//!
//! Every LDP PDU is a 10-byte header, version 1, the PDU length (the
//! bytes after that field: at least the 6 of the LDP identifier plus one
//! message, at most 4096, the largest a session may negotiate), the
//! sender's LSR id and label space, then messages: a U bit and 15-bit
//! type (one RFC 5036 and its extensions define: Notification 0x0001,
//! Hello 0x0100, Initialization 0x0200, KeepAlive 0x0201, Capability
//! 0x0202, Address 0x0300 and Withdraw 0x0301, the Label messages
//! 0x0400..=0x0404), a length, a message id and TLVs (a U and F bit,
//! 14-bit type, length) that fill the message exactly. The messages must
//! fill the PDU exactly. Over UDP the first datagram is one PDU; over
//! TCP the first PDU of the side that spoke first, once whole, decides.
//!
//! LDP has TCP MD5 authentication but no encryption: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ldp;

const PORT: u16 = 646;
const HEADER: usize = 10;
const MAX_PDU: usize = 4096;

fn be16(d: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([d[at], d[at + 1]]))
}

fn message_name(t: usize) -> Option<&'static str> {
    Some(match t {
        0x0001 => "notification",
        0x0100 => "hello",
        0x0200 => "initialization",
        0x0201 => "keepalive",
        0x0202 => "capability",
        0x0300 => "address",
        0x0301 => "address_withdraw",
        0x0400 => "label_mapping",
        0x0401 => "label_request",
        0x0402 => "label_withdraw",
        0x0403 => "label_release",
        0x0404 => "label_abort_request",
        _ => return None,
    })
}

/// The PDU length (after the length field) when `d` opens with a valid
/// PDU header; `Err(true)` when too short to say.
fn pdu_len(d: &[u8]) -> Result<usize, bool> {
    if d.len() < 4 {
        let ok = d.first().is_none_or(|&b| b == 0) && d.get(1).is_none_or(|&b| b == 1);
        return Err(ok);
    }
    let len = be16(d, 2);
    if be16(d, 0) != 1 || !(6 + 8..=MAX_PDU).contains(&len) {
        return Err(false);
    }
    Ok(len)
}

/// A whole PDU: the LSR id and the first message's name.
fn pdu(d: &[u8]) -> Option<([u8; 4], &'static str)> {
    let lsr = [d[4], d[5], d[6], d[7]];
    let mut at = HEADER;
    let mut first = None;
    while at < d.len() {
        let m = d.get(at..at + 8)?;
        let kind = be16(m, 0) & 0x7fff;
        let name = message_name(kind)?;
        let end = at + 4 + be16(m, 2);
        let body = d.get(at + 8..end)?;
        // TLVs fill the message.
        let mut t = 0;
        while t < body.len() {
            let h = body.get(t..t + 4)?;
            t += 4 + be16(h, 2);
        }
        if t != body.len() {
            return None;
        }
        first.get_or_insert(name);
        at = end;
    }
    first.map(|n| (lsr, n))
}

impl Dissector for Ldp {
    fn name(&self) -> &'static str {
        "ldp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && matches!(pdu_len(p.first_payload()), Ok(_) | Err(true)) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only version 1 (big-endian: a zero first byte)
    /// (`pdu_len`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = match p.transport {
            Transport::Udp => p.first_payload(),
            Transport::Tcp => p.first_side().stream(),
        };
        let len = match pdu_len(d) {
            Ok(l) => l,
            Err(true) if p.transport == Transport::Tcp => return p.undecided(),
            Err(_) => return Parse::NotMine,
        };
        let whole = match (p.transport, d.get(..4 + len)) {
            (Transport::Udp, _) if d.len() != 4 + len => return Parse::NotMine,
            (_, Some(w)) => w,
            (_, None) => return p.undecided(),
        };
        let Some((lsr, first)) = pdu(whole) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("ldp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ldp_message", first);
        meta.set_extra("ldp_lsr_id", std::net::Ipv4Addr::from(lsr).to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, unhex, UdpFixture};

    /// ldp.pcap frame 1: a link Hello to 224.0.0.2 (hold time 15 s,
    /// transport address 10.0.0.6).
    const HELLO: &str = "0001 001e 0a000006 0000 0100 0014 00000000 0400 0004 000f 0000 0401 0004 0a000006";
    /// Frame 4: the session's Initialization from the active LSR.
    const INIT: &str = "0001 0020 0a000101 0000 0200 0016 00000002 0500 000e 0001 00b4 00 00 0000 0a000006 0000";
    /// Frame 5: the passive LSR's Initialization and KeepAlive.
    const INIT_KEEPALIVE: &str =
        "0001 0028 0a000006 0000 0200 0016 00000001 0500 000e 0001 00b4 00 00 0000 0a000101 0000
        0201 0004 00000002";

    #[test]
    fn udp_hello() {
        let h = unhex(HELLO);
        let (v, m) = check_split_udp(&Ldp, 646, 646, &[&h], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("ldp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ldp_message"), Some("hello"));
        assert_eq!(m.extra("ldp_lsr_id"), Some("10.0.0.6"));
    }

    #[test]
    fn tcp_session() {
        let (c, s) = (unhex(INIT), unhex(INIT_KEEPALIVE));
        let (v, m) = check_split_tcp(&Ldp, 646, &c, &s);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("ldp_message"), Some("initialization"));
        assert_eq!(m.extra("ldp_lsr_id"), Some("10.0.1.1"));
        let ends = [[20], [0]];
        let p = Payloads::tcp(40000, 646, &c[..20], &[], &ends);
        assert_eq!(Ldp.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let h = unhex(HELLO);
        let f = UdpFixture::new(40000, 647, &[&h], &[]);
        assert!(!not_refused(&Ldp, &f.payloads()));
        // Version 2, PDU length off by one, unknown message type, message
        // length past the PDU, a TLV running past its message.
        for (at, v) in [(1, 2), (3, 0x1d), (3, 0x1f), (11, 0x05), (13, 0x15), (21, 0x05)] {
            let mut x = h.clone();
            x[at] = v;
            let f = UdpFixture::new(646, 646, &[&x], &[]);
            assert!(!not_refused(&Ldp, &f.payloads()), "{at} {v}");
        }
        let k = unhex(INIT_KEEPALIVE);
        let mut x = k.clone();
        x[36] = 0x02;
        x[37] = 0x03;
        let ends = [[x.len() as u32], [0]];
        assert!(!not_refused(&Ldp, &Payloads::tcp(40000, 646, &x, &[], &ends)));
    }
}
