//! XDMCP, the X Display Manager Control Protocol (X Consortium, XDMCP
//! 1.1) over UDP, on any port (177 is only a hint). Every packet has a
//! 6-byte header: version (16 bits, 1), opcode (16 bits, 1..=14: BroadcastQuery,
//! Query, IndirectQuery, ForwardQuery, Willing, Unwilling,
//! Request, Accept, Decline, Manage, Refuse, Failed, KeepAlive, Alive)
//! and the length of the data that follows, which must fill the
//! datagram. The display manager's status and the authorization names
//! travel in clear: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Xdmcp;

const VERSION: u16 = 1;
const HEADER: usize = 6;
const OPCODES: [&str; 14] = [
    "broadcast_query",
    "query",
    "indirect_query",
    "forward_query",
    "willing",
    "unwilling",
    "request",
    "accept",
    "decline",
    "manage",
    "refuse",
    "failed",
    "keep_alive",
    "alive",
];

/// The opcode name of an XDMCP packet filling `d`.
fn packet(d: &[u8]) -> Option<&'static str> {
    if d.len() < HEADER {
        return None;
    }
    let be16 = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    let op = usize::from(be16(2));
    let ok = be16(0) == VERSION && usize::from(be16(4)) == d.len() - HEADER && (1..=OPCODES.len()).contains(&op);
    ok.then(|| OPCODES[op - 1])
}

impl Dissector for Xdmcp {
    fn name(&self) -> &'static str {
        "xdmcp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.len() >= HEADER && d[..2] == VERSION.to_be_bytes() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only version 1 (big-endian: a zero first byte).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(op) = packet(p.first_payload()) else {
            return Parse::NotMine;
        };
        // A one-byte Query body is an empty authentication-name list: the
        // header alone is little evidence, so an answer must follow
        // unless the packet carries data of its own.
        let answer = p.second_side().first();
        if p.first_payload().len() <= HEADER + 1 {
            if answer.is_empty() {
                return p.undecided();
            }
            if packet(answer).is_none() {
                return Parse::NotMine;
            }
        }
        meta.protocol = Some("xdmcp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("xdmcp_opcode", op);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // xdmcp.pcap: Query (no authentication names) and the Willing answer.
    const QUERY: &[u8] = b"\x00\x01\x00\x02\x00\x01\x00";
    const WILLING: &[u8] = b"\x00\x01\x00\x05\x00\x17\x00\x00\x00\x00\x00\x11Willing to manage";

    #[test]
    fn query_and_willing() {
        let (r, m) = check_split_udp(&Xdmcp, 61426, 177, &[QUERY], &[WILLING]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("xdmcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("xdmcp_opcode"), Some("query"));
        // The query alone waits for its answer.
        let f = UdpFixture::new(61426, 177, &[QUERY], &[]);
        let mut p = f.payloads();
        assert_eq!(Xdmcp.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Xdmcp.parse(&p, &mut Meta::default()), Parse::NotMine);
        let (r, m) = check_split_udp(&Xdmcp, 177, 61426, &[WILLING], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("xdmcp_opcode"), Some("willing"));
    }

    #[test]
    fn not_xdmcp() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"\x00\x02\x00\x05\x00\x01\x00", b""),
            (b"\x00\x01\x00\x0f\x00\x01\x00", b""),
            (b"\x00\x01\x00\x05\x00\x02\x00", b""),
            (QUERY, b"\x00\x01\x00\x05\x00\x09abc"),
        ];
        for (d, a) in cases {
            let resp: Vec<&[u8]> = if a.is_empty() { vec![] } else { vec![a] };
            let f = UdpFixture::new(40000, 177, &[d], &resp);
            let p = f.payloads();
            let claimed = crate::dissect::not_refused(&Xdmcp, &p);
            assert!(!claimed, "{d:?}");
        }
    }
}
