//! BFCP (RFC 8855, Binary Floor Control Protocol; RFC 4582 over TCP), on
//! any port (negotiated in SDP). Every message has a 12-byte common
//! header: version 1 or 2 in the top three bits, then the R and F flags
//! and three reserved zero bits; a primitive 1..=17; the payload length
//! in 4-byte words; the conference id, transaction id and user id.
//! Attributes (7-bit type, M bit, 8-bit length of at least 2, padded to
//! 4 bytes) follow and, when present, must fill the declared payload.
//!
//! The header alone is a weak signature on an unassigned port, so a
//! flow is BFCP only when the other side's first message answers the
//! first one: the answering primitive (FloorRequest, FloorRelease and
//! FloorRequestQuery by FloorRequestStatus, UserQuery by UserStatus,
//! FloorQuery by FloorStatus, ChairAction by ChairActionAck, Hello by
//! HelloAck, FloorRequestStatus and FloorStatus by their Ack, Goodbye by
//! GoodbyeAck, anything by Error) with the same version, conference,
//! transaction and user ids. A header-only message is accepted in such a
//! pair even when it declares attributes it does not carry. Cleartext
//! (BFCP over TLS or DTLS is taken by those dissectors).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Bfcp;

const HEADER: usize = 12;
const ERROR: u8 = 13;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    version: u8,
    primitive: u8,
    /// Conference id, transaction id, user id.
    ids: [u8; 8],
}

/// The answer a primitive expects.
fn answer_to(primitive: u8) -> Option<u8> {
    Some(match primitive {
        1..=3 => 4,
        5 => 6,
        7 => 8,
        9 => 10,
        11 => 12,
        4 => 14,
        8 => 15,
        16 => 17,
        _ => return None,
    })
}

/// Whether `d` is attributes back to back, exactly.
fn attributes(mut d: &[u8]) -> bool {
    while !d.is_empty() {
        let Some(&len) = d.get(1) else { return false };
        let len = usize::from(len);
        if len < 2 {
            return false;
        }
        let Some(rest) = d.get(len.div_ceil(4) * 4..) else {
            return false;
        };
        d = rest;
    }
    true
}

/// The header of the first message of `d` when it is a BFCP message:
/// the header, and the attributes it declares if any are there.
fn message(d: &[u8]) -> Option<Header> {
    let h = d.get(..HEADER)?;
    let version = h[0] >> 5;
    let words = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if !matches!(version, 1 | 2) || h[0] & 0x07 != 0 || !matches!(h[1], 1..=17) {
        return None;
    }
    let body = &d[HEADER..];
    if !body.is_empty() && !body.get(..4 * words).is_some_and(attributes) {
        return None;
    }
    let mut ids = [0u8; 8];
    ids.copy_from_slice(&h[4..12]);
    Some(Header {
        version,
        primitive: h[1],
        ids,
    })
}

fn first(s: Side<'_>, udp: bool) -> &[u8] {
    if udp {
        s.first()
    } else {
        s.stream()
    }
}

impl Dissector for Bfcp {
    fn name(&self) -> &'static str {
        "bfcp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.first().is_none_or(|&b| matches!(b >> 5, 1 | 2) && b & 0x07 == 0) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits version 1 or 2 in the top three bits and the low
    /// three bits clear.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x20, 0x28, 0x30, 0x38, 0x40, 0x48, 0x50, 0x58]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let udp = p.transport == Transport::Udp;
        let (a, b) = (first(p.first_side(), udp), first(p.second_side(), udp));
        if a.len() < HEADER {
            return if udp && !a.is_empty() {
                Parse::NotMine
            } else {
                p.undecided()
            };
        }
        let Some(q) = message(a) else {
            return Parse::NotMine;
        };
        if b.len() < HEADER {
            return if udp && !b.is_empty() {
                Parse::NotMine
            } else {
                p.undecided()
            };
        }
        let Some(r) = message(b) else {
            return Parse::NotMine;
        };
        let answers = (answer_to(q.primitive) == Some(r.primitive) || r.primitive == ERROR)
            && (r.version, r.ids) == (q.version, q.ids);
        if !answers {
            return Parse::NotMine;
        }
        meta.protocol = Some("bfcp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("bfcp_primitive", q.primitive.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // bfcp.pcapng: a FloorRequestQuery (conference 1, transaction 2,
    // user 0x0504) answered by a FloorRequestStatus, header only.
    const QUERY: [u8; 12] = [0x20, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x05, 0x04];
    const STATUS: [u8; 12] = [0x20, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x05, 0x04];

    #[test]
    fn query_and_status() {
        let (r, m) = check_split_tcp(&Bfcp, 5070, &QUERY, &STATUS);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("bfcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("bfcp_primitive"), Some("3"));
        let (r, _) = check_split_udp(&Bfcp, 47706, 5070, &[&QUERY], &[&STATUS]);
        assert_eq!(r, Parse::Done);
        // With its FLOOR-ID attribute (type 2, length 4).
        let mut q = QUERY.to_vec();
        q.extend_from_slice(&[0x04, 0x04, 0x00, 0x07]);
        let (r, _) = check_split_udp(&Bfcp, 47706, 5070, &[&q], &[&STATUS]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_bfcp() {
        let mut other_user = STATUS;
        other_user[11] = 5;
        let mut reserved = QUERY;
        reserved[0] = 0x21;
        let mut bad_attr = QUERY.to_vec();
        bad_attr.extend_from_slice(&[0x04, 0x01, 0x00, 0x07]);
        let cases: [(&[u8], &[u8]); 5] = [
            (&QUERY, &[]),
            (&QUERY, &other_user),
            (&QUERY, &QUERY),
            (&reserved, &STATUS),
            (&bad_attr, &STATUS),
        ];
        for (o, r) in cases {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![r] };
            let f = UdpFixture::new(40000, 5070, &[o], &resp);
            let mut p = f.payloads();
            p.last = true;
            let claimed = crate::dissect::not_refused(&Bfcp, &p);
            assert!(!claimed, "{o:?} {r:?}");
        }
    }
}
