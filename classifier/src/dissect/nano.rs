//! The Nano cryptocurrency's node protocol (TCP and UDP 7075 on the live
//! network), from Nano's published protocol description. Every message
//! starts with an 8-byte header: the magic `R`, a network byte (`A` dev,
//! `B` beta, `C` live, `X` test), three version bytes (maximum, in use,
//! minimum, so max ≥ using ≥ min), the message type and 16 bits of
//! extensions (little-endian). The body's size follows from the type and
//! the extensions:
//!
//! - keepalive (2): eight peers of 18 bytes (IPv6 address and port);
//! - frontier request (8): a start account (32), age and count (4 each);
//! - node ID handshake (10): extension bit 0 says a 32-byte cookie (the
//!   query) follows, bit 1 a response, bit 2 the second version of that
//!   response: a node id and a signature (32 + 64), in version 2 also a
//!   salt and the genesis block hash (32 + 32 more);
//! - telemetry request (12): nothing.
//!
//! What is checked: the first message of whoever spoke first is whole
//! (header consistent, body exactly what its type and extensions say),
//! and the answer, when there is one, has a header of the same network.
//! Accounts, cookies and signatures travel in the clear: the node
//! protocol signs, it does not encrypt, so the class is `cleartext`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Nano;

const HEADER: usize = 8;
const MAGIC: u8 = b'R';
const KEEPALIVE: u8 = 2;
const FRONTIER_REQ: u8 = 8;
const NODE_ID_HANDSHAKE: u8 = 10;
const TELEMETRY_REQ: u8 = 12;
/// Extension bits of a node ID handshake.
const QUERY: u16 = 1;
const RESPONSE: u16 = 2;
const V2: u16 = 4;
/// Highest version byte taken as plausible (live nodes speak 18-21).
const MAX_VERSION: u8 = 63;

/// The header's network name, type and extensions, when `d` starts with
/// a consistent header.
fn header(d: &[u8]) -> Option<(&'static str, u8, u16)> {
    let h = d.get(..HEADER)?;
    let network = match h[1] {
        b'A' => "dev",
        b'B' => "beta",
        b'C' => "live",
        b'X' => "test",
        _ => return None,
    };
    let (max, using, min) = (h[2], h[3], h[4]);
    let ok = h[0] == MAGIC && max <= MAX_VERSION && max >= using && using >= min && min > 0;
    ok.then_some((network, h[5], u16::from_le_bytes([h[6], h[7]])))
}

/// Size of the body a message of this type and extensions carries, for
/// the types with a fixed one.
fn body_len(kind: u8, ext: u16) -> Option<usize> {
    match kind {
        KEEPALIVE => Some(8 * 18),
        FRONTIER_REQ => Some(40),
        NODE_ID_HANDSHAKE => {
            if ext & !(QUERY | RESPONSE | V2) != 0 || ext & (QUERY | RESPONSE) == 0 {
                return None;
            }
            let query = if ext & QUERY != 0 { 32 } else { 0 };
            let response = match (ext & RESPONSE != 0, ext & V2 != 0) {
                (false, _) => 0,
                (true, false) => 96,
                (true, true) => 160,
            };
            Some(query + response)
        }
        TELEMETRY_REQ => Some(0),
        _ => None,
    }
}

enum First {
    /// A whole message: its network, type and length.
    Whole(&'static str, u8, usize),
    /// A consistent header whose body has not all arrived.
    Short,
    No,
}

fn first_message(d: &[u8]) -> First {
    if d.len() < HEADER {
        return if d.first().is_none_or(|&b| b == MAGIC) {
            First::Short
        } else {
            First::No
        };
    }
    let Some((network, kind, ext)) = header(d) else {
        return First::No;
    };
    let Some(n) = body_len(kind, ext) else {
        return First::No;
    };
    if d.len() < HEADER + n {
        First::Short
    } else {
        First::Whole(network, kind, HEADER + n)
    }
}

impl Dissector for Nano {
    fn name(&self) -> &'static str {
        "nano"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match first_message(p.first_payload()) {
            First::No => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// `first_message` admits only the magic `R`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[MAGIC]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_payload();
        let (network, kind) = match first_message(first) {
            First::No => return Parse::NotMine,
            // A datagram is whole: a short one is not a message.
            First::Short if p.transport == Transport::Udp && !first.is_empty() => return Parse::NotMine,
            First::Short => return p.undecided(),
            // A UDP datagram is one message.
            First::Whole(_, _, len) if p.transport == Transport::Udp && len != first.len() => return Parse::NotMine,
            First::Whole(n, k, _) => (n, k),
        };
        let answer = p.second_side().first();
        if !answer.is_empty() {
            match header(answer) {
                Some((n, _, _)) if n == network => {}
                None if answer.len() < HEADER && answer[0] == MAGIC => return p.undecided(),
                _ => return Parse::NotMine,
            }
        }
        meta.protocol = Some("nano");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("nano_network", network);
        let message = match kind {
            KEEPALIVE => "keepalive",
            FRONTIER_REQ => "frontier_req",
            NODE_ID_HANDSHAKE => "node_id_handshake",
            _ => "telemetry_req",
        };
        meta.set_extra("nano_message", message);
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_tcp, check_split_udp, Payloads, UdpFixture};

    /// nano.pcapng: the client's node ID handshake query (live network,
    /// versions 20/20/18, extensions query and v2, a 32-byte cookie).
    const QUERY_MSG: &str = "52431414120a0500f0269f5e0110da0ffa6fb70e5c70c46ec3bd3de37cc66ac1395fdde101f35544";
    /// The server's answer: its own query and a v2 response (node id,
    /// salt, the live genesis hash, signature).
    const ANSWER: &str = "52431414120a0700d73fab5664f5ce71165f19708aaa74ce954cc05cb5bc0a47bd71d33156b0c4966e048d22752fcd947d0deb117bed5bbd6afe743e809e6ad6df1e70a87789f607fae17911662136dce08c0a39656503b00c718b38e27de263a3b3b6ac665f57dd991cf190094c00f0b68e2e5f75f6bee95a2e0bd93ceaa4a6734db9f19b728948d8a51575317409fb13d30bd0053016efde5d9dfd8b78dceea7e09becccf78c3511e7334ed769eef826e7cfa324639e6c8f141fb065b1d43ae7d9ea4ff992fa03";

    #[test]
    fn node_id_handshake() {
        let (q, a) = (hex(QUERY_MSG), hex(ANSWER));
        assert_eq!(a.len(), 200);
        let (r, m) = check_split_tcp(&Nano, 7075, &q, &a);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("nano"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("nano_network"), Some("live"));
        assert_eq!(m.extra("nano_message"), Some("node_id_handshake"));
        // Unanswered: identified on the whole query alone.
        let (r, _) = check_split_tcp(&Nano, 7075, &q, &[]);
        assert_eq!(r, Parse::Identified);
        // A query cut short waits.
        let ends = [[20], [0]];
        let p = Payloads::tcp(40000, 7075, &q[..20], &[], &ends);
        assert_eq!(Nano.parse(&p, &mut Meta::default()), Parse::NeedMore);
        // Over UDP a datagram is exactly one message.
        let (r, m) = check_split_udp(&Nano, 40000, 7075, &[&q], &[&a]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("nano_network"), Some("live"));
    }

    #[test]
    fn not_nano() {
        let q = hex(QUERY_MSG);
        let mut versions = q.clone();
        versions[3] = 0x15; // in use above the maximum
        let mut kind = q.clone();
        kind[5] = 0x03; // publish: no fixed size, not taken
        let mut ext = q.clone();
        ext[6] = 0x08; // unknown extension bit
        let mut network = q.clone();
        network[1] = b'D';
        let mut long = q.clone();
        long.push(0);
        for d in [&versions, &kind, &ext, &network] {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 7075, d, &[], &ends);
            assert!(!crate::dissect::not_refused(&Nano, &p), "{d:?}");
        }
        // A datagram longer than its message.
        let f = UdpFixture::new(40000, 7075, &[&long], &[]);
        assert!(!crate::dissect::not_refused(&Nano, &f.payloads()));
        // Answered by something that is not a Nano header.
        let a = hex(ANSWER);
        let mut other = a.clone();
        other[1] = b'B';
        let ends = [[q.len() as u32], [other.len() as u32]];
        let p = Payloads::tcp(40000, 7075, &q, &other, &ends);
        assert_eq!(Nano.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
