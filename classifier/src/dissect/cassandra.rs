//! Apache Cassandra over TCP, on any port (9042 clients, 7000 nodes are
//! only hints):
//! - the CQL native protocol (Cassandra's `native_protocol_v3..v5.spec`):
//!   every frame has a 9-byte header, version (3..=5; the high bit set
//!   in responses), flags, a 16-bit stream id, an opcode and a 32-bit
//!   body length. Taken when a request is answered by a response of the
//!   same version and stream id, or when the client's STARTUP body names
//!   `CQL_VERSION`;
//! - the internode messaging between nodes, which opens with the 32-bit
//!   protocol magic `CA 55 2D FA`.
//!
//! Both travel in clear unless TLS is configured, which the TLS
//! dissector takes first: cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Cassandra;

const INTERNODE_MAGIC: [u8; 4] = [0xca, 0x55, 0x2d, 0xfa];
const HEADER: usize = 9;
const RESPONSE: u8 = 0x80;
const MAX_BODY: u32 = 256 << 20;
const STARTUP: u8 = 0x01;
/// Request opcodes: STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE,
/// REGISTER, BATCH, AUTH_RESPONSE.
const REQUESTS: [u8; 8] = [0x01, 0x05, 0x07, 0x09, 0x0a, 0x0b, 0x0d, 0x0f];
/// Response opcodes: ERROR, READY, AUTHENTICATE, SUPPORTED, RESULT,
/// EVENT, AUTH_CHALLENGE, AUTH_SUCCESS.
const RESPONSES: [u8; 8] = [0x00, 0x02, 0x03, 0x06, 0x08, 0x0c, 0x0e, 0x10];

/// A CQL frame header: version, stream id, opcode, body length.
fn frame(d: &[u8], response: bool) -> Option<(u8, [u8; 2], u8, u32)> {
    let h = d.get(..HEADER)?;
    let version = h[0] & !RESPONSE;
    let len = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
    let ops: &[u8] = if response { &RESPONSES } else { &REQUESTS };
    let ok = (h[0] & RESPONSE != 0) == response
        && (3..=5).contains(&version)
        && h[1] & 0xe0 == 0
        && ops.contains(&h[4])
        && len <= MAX_BODY;
    ok.then_some((version, [h[2], h[3]], h[4], len))
}

/// Could `d` still grow into a request header (or the internode magic)?
fn could_open(d: &[u8]) -> bool {
    let n = d.len().min(4);
    if d[..n] == INTERNODE_MAGIC[..n] {
        return true;
    }
    match d.len() {
        0 => true,
        1..HEADER => d[0] & RESPONSE == 0 && (3..=5).contains(&d[0]),
        _ => frame(d, false).is_some(),
    }
}

impl Dissector for Cassandra {
    fn name(&self) -> &'static str {
        "cassandra"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if could_open(p.orig.stream()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = p.orig.stream();
        if !could_open(c) {
            return Parse::NotMine;
        }
        if c.starts_with(&INTERNODE_MAGIC) {
            meta.protocol = Some("cassandra");
            meta.encryption = Encryption::Cleartext;
            meta.set_extra("cassandra_protocol", "internode");
            return Parse::Done;
        }
        let Some((version, stream, op, len)) = frame(c, false) else {
            return p.undecided();
        };
        let s = p.resp.stream();
        let answered = match frame(s, true) {
            Some((v, st, _, _)) => v == version && st == stream,
            None if s.len() >= HEADER => return Parse::NotMine,
            None => false,
        };
        let body = c
            .get(HEADER..)
            .map(|b| &b[..b.len().min(len as usize)])
            .unwrap_or_default();
        let startup = op == STARTUP && body.windows(11).any(|w| w == b"CQL_VERSION");
        if !answered && !startup {
            return p.undecided();
        }
        meta.protocol = Some("cassandra");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("cassandra_protocol", "cql");
        meta.set_extra("cql_version", version.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    #[test]
    fn cql_options_and_startup() {
        // cassandra.pcap: OPTIONS (v4, stream 0) answered by SUPPORTED.
        let options = b"\x04\x00\x00\x00\x05\x00\x00\x00\x00";
        let supported = b"\x84\x00\x00\x00\x06\x00\x00\x00\x34\x00\x02\x00\x0bCOMPRESSION";
        let (r, m) = check_split_tcp(&Cassandra, 9042, options, supported);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("cassandra"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("cassandra_protocol"), Some("cql"));
        assert_eq!(m.extra("cql_version"), Some("4"));
        // STARTUP alone names the CQL version.
        let startup = b"\x04\x00\x00\x01\x01\x00\x00\x00\x16\x00\x01\x00\x0bCQL_VERSION\x00\x053.3.1";
        let (r, _) = check_split_tcp(&Cassandra, 9042, startup, b"");
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn internode() {
        // cassandra.pcap, 198.18.0.2 -> 198.18.0.3:7000.
        let c = b"\xca\x55\x2d\xfa\x0c\x0a\x0c\x11\x06\xc6\x12\x00\x02\x1b\x58\xf3\xcb\x19\xb3";
        let (r, m) = check_split_tcp(&Cassandra, 7000, c, b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("cassandra_protocol"), Some("internode"));
    }

    #[test]
    fn not_cassandra() {
        let options = b"\x04\x00\x00\x00\x05\x00\x00\x00\x00";
        let cases: [(&[u8], &[u8]); 4] = [
            (b"\x02\x00\x00\x00\x05\x00\x00\x00\x00", b""),
            (b"\x04\x00\x00\x00\x06\x00\x00\x00\x00", b""),
            (options, b"\x84\x00\x00\x01\x06\x00\x00\x00\x00"),
            (options, b"HTTP/1.1 400 Bad Request\r\n"),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let mut p = Payloads::tcp(40000, 9042, c, s, &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Cassandra, &p);
            assert!(!claimed, "{c:?}");
        }
        // OPTIONS alone waits for the answer.
        let ends = [[9], [0]];
        let p = Payloads::tcp(40000, 9042, options, &[], &ends);
        assert_eq!(Cassandra.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }
}
