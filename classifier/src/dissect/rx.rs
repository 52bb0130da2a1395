//! Rx, the remote procedure call transport of AFS (OpenAFS, AuriStor,
//! kAFS), over UDP on any port (the AFS services sit on 7000..7009, but
//! the port is not checked: callbacks and clients use any port).
//!
//! Every datagram opens with the 28-byte Rx header, big-endian: the
//! connection epoch (4), the connection id (4; its low two bits are the
//! call channel), the call number (4), the sequence number (4), the
//! serial number (4), the packet type (1; 1 DATA .. 13 VERSION), flags
//! (1; the two top bits are unused), the user status (1), the security
//! index (1; 0 rxnull, 1 rxvab, 2 rxkad, 4/5 rxgk), a checksum or spare
//! field (2) and the service id (2). A DATA packet has non-zero call,
//! sequence and serial numbers; DATA, ACK, CHALLENGE and RESPONSE have a
//! non-zero serial.
//!
//! One header shape is loose, so a flow is Rx when its first datagram is
//! a valid header and a second one confirms it: either the other side's
//! first datagram, on the same connection (same epoch and connection id
//! but for the channel bits) with the client-initiated flag flipped, or
//! a later datagram of the same side on the same connection, same
//! direction flag, with a higher serial number (serials grow per
//! connection and sender).
//!
//! Encryption: Rx itself is cleartext; the security class of the call
//! decides for its payload. rxnull (0) carries the call in the clear;
//! rxkad and rxgk may sign only or encrypt, and which one is negotiated
//! inside the encrypted challenge response, so no header tells: such a
//! flow is identified with encryption left unknown.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rx;

const HEADER: usize = 28;
const DATA: u8 = 1;
const CLIENT_INITIATED: u8 = 0x01;

/// The fields of a valid Rx header at the start of `d`.
#[derive(Clone, Copy)]
struct Header {
    epoch: u32,
    cid: u32,
    call: u32,
    serial: u32,
    kind: u8,
    flags: u8,
    security: u8,
    service: u16,
}

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

fn header(d: &[u8]) -> Option<Header> {
    let h = d.get(..HEADER)?;
    let h = Header {
        epoch: be32(h, 0),
        cid: be32(h, 4),
        call: be32(h, 8),
        serial: be32(h, 16),
        kind: h[20],
        flags: h[21],
        security: h[23],
        service: u16::from_be_bytes([h[26], h[27]]),
    };
    let seq = be32(d, 12);
    let ok = (1..=13).contains(&h.kind)
        && h.flags & 0xc0 == 0
        && h.security <= 5
        && (h.kind != DATA || (h.call != 0 && seq != 0))
        && (!matches!(h.kind, 1 | 2 | 6 | 7) || h.serial != 0);
    ok.then_some(h)
}

/// Same connection: same epoch, same connection id but for the channel.
fn same_connection(a: &Header, b: &Header) -> bool {
    a.epoch == b.epoch && a.cid & !3 == b.cid & !3
}

fn security_name(i: u8) -> &'static str {
    match i {
        0 => "rxnull",
        1 => "rxvab",
        2 => "rxkad",
        3 => "rxkad_k5",
        4 => "rxgk",
        _ => "yfs_rxgk",
    }
}

impl Dissector for Rx {
    fn name(&self) -> &'static str {
        "rx"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if header(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side();
        let mut own = first.chunks();
        let Some(h) = own.next().and_then(header) else {
            return Parse::NotMine;
        };
        let answer = p.second_side().chunks().next();
        let confirmed = match answer {
            Some(a) => match header(a) {
                Some(a) => same_connection(&h, &a) && (a.flags ^ h.flags) & CLIENT_INITIATED != 0,
                None => return Parse::NotMine,
            },
            None => own
                .filter_map(header)
                .any(|b| same_connection(&h, &b) && (b.flags ^ h.flags) & CLIENT_INITIATED == 0 && b.serial > h.serial),
        };
        if !confirmed {
            // An answer on another connection is not Rx; a lone side may
            // still be confirmed by a later datagram.
            return if answer.is_some() {
                Parse::NotMine
            } else {
                p.undecided()
            };
        }
        meta.protocol = Some("rx");
        meta.encryption = if h.security == 0 {
            Encryption::Cleartext
        } else {
            Encryption::Unknown
        };
        meta.set_extra("rx_security", security_name(h.security));
        meta.set_extra("rx_service_id", h.service.to_string());
        if h.kind == DATA && h.flags & CLIENT_INITIATED != 0 {
            if let Some(op) = first.first().get(HEADER..HEADER + 4) {
                meta.set_extra("rx_opcode", be32(op, 0).to_string());
            }
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    /// rx.pcap frame 1: a PT (service 73) name-to-id request, DATA,
    /// client-initiated, last packet (trailing zero names cut off).
    const REQUEST: &str = "570fb560 5c3fc988 00000001 00000001 00000001 01 05 00 00 0000 0049
                           000001f8 00000001 00000067 00000069 0000006f 00000000";
    /// rx.pcap frame 2: its reply.
    const REPLY: &str = "570fb560 5c3fc988 00000001 00000001 00000001 01 04 00 00 0000 0049
                         00000001 00002711";
    /// rx.pcap frame 3: the client's ACK of the reply.
    const ACK: &str = "570fb560 5c3fc988 00000001 00000000 00000002 02 21 00 00 0000 0049
                       00000000 00000002 00000001 00 00 0008 00000000 0000163c";
    /// rx.pcap frame 38: an FS call under rxkad, and frame 39 the
    /// server's CHALLENGE (call 0).
    const RXKAD: &str = "a739eb10 8217f8bc 00000001 00000001 00000001 01 05 00 02 938c 0001
                         cd79af3a 21643bb7 8f131e1e ea7b55a7 f35a6163 462a8ebf";
    const CHALLENGE: &str = "a739eb10 8217f8bc 00000000 00000000 00000001 06 00 00 02 0000 0001
                             00000002 03547f2b 00000000 00000000";

    #[test]
    fn call_and_reply() {
        let (q, r) = (unhex(REQUEST), unhex(REPLY));
        let (v, m) = check_split_udp(&Rx, 41559, 7002, &[&q], &[&r]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("rx"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rx_security"), Some("rxnull"));
        assert_eq!(m.extra("rx_service_id"), Some("73"));
        assert_eq!(m.extra("rx_opcode"), Some("504"));
    }

    #[test]
    fn one_side_confirmed_by_its_next_datagram() {
        let (q, a) = (unhex(REQUEST), unhex(ACK));
        let (v, m) = check_split_udp(&Rx, 41559, 7002, &[&q, &a], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("rx"));
        // One datagram alone waits, then gives up.
        let f = UdpFixture::new(41559, 7002, &[&q], &[]);
        assert_eq!(Rx.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let mut p = f.payloads();
        p.last = true;
        assert_eq!(Rx.parse(&p, &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn rxkad_call_leaves_encryption_open() {
        let (q, c) = (unhex(RXKAD), unhex(CHALLENGE));
        let (v, m) = check_split_udp(&Rx, 7001, 7000, &[&q], &[&c]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.encryption, Encryption::Unknown);
        assert_eq!(m.extra("rx_security"), Some("rxkad"));
        assert_eq!(m.extra("rx_service_id"), Some("1"));
    }

    #[test]
    fn near_misses() {
        let (q, r) = (unhex(REQUEST), unhex(REPLY));
        // (datagram, byte, value): another epoch or connection in the
        // answer, the same direction flag, a bad type, flags, security
        // index, a DATA packet with call or sequence 0.
        let cases: [(bool, usize, u8); 9] = [
            (false, 3, 0x61),
            (false, 6, 0xca),
            (false, 21, 0x05),
            (true, 20, 0),
            (true, 20, 14),
            (true, 21, 0x85),
            (true, 23, 6),
            (true, 11, 0),
            (true, 15, 0),
        ];
        for (in_request, at, v) in cases {
            let (mut q2, mut r2) = (q.clone(), r.clone());
            if in_request {
                q2[at] = v;
            } else {
                r2[at] = v;
            }
            let f = UdpFixture::new(41559, 7002, &[&q2], &[&r2]);
            assert!(!not_refused(&Rx, &f.payloads()), "{in_request} {at} {v}");
        }
        // The channel bits may differ; a short datagram is not a header.
        let mut r2 = r.clone();
        r2[7] ^= 2;
        let f = UdpFixture::new(41559, 7002, &[&q], &[&r2]);
        assert!(not_refused(&Rx, &f.payloads()));
        let f = UdpFixture::new(41559, 7002, &[&q[..27]], &[&r]);
        assert!(!not_refused(&Rx, &f.payloads()));
        // A later datagram of the same side with a lower serial.
        let mut a = unhex(ACK);
        a[19] = 0;
        let f = UdpFixture::new(41559, 7002, &[&q, &a], &[]);
        assert!(Rx.parse(&f.payloads(), &mut Meta::default()) != Parse::Done);
    }
}
