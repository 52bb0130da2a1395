//! GTPv2-C (3GPP TS 29.274), the control plane between EPC nodes, on
//! UDP port 2123 (either side; the port narrows the check, the message
//! decides). The header: flags (version 2 in the top three bits, P for
//! a piggybacked message, T for a TEID), the message type, a 16-bit
//! length counting what follows the first four bytes, the TEID when T
//! is set, a 24-bit sequence number and a spare byte. The body is a run
//! of information elements, each a type, a 16-bit length, a spare /
//! instance byte and the value, which must tile the message exactly.
//! With P set, a second GTPv2-C message follows in the same datagram
//! (checked the same way); otherwise the message is the datagram.
//!
//! The first datagram of whoever spoke first decides. Cleartext: the
//! elements (IMSI, MSISDN, bearer contexts) are plain binary values.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct GtpC;

const PORT: u16 = 2123;
const IE_HEADER: usize = 4;

/// The message type of the GTPv2-C message(s) spanning `d` exactly.
fn message(d: &[u8]) -> Option<u8> {
    let (&flags, &kind) = (d.first()?, d.get(1)?);
    if flags >> 5 != 2 || flags & 0x07 != 0 || kind == 0 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
    let end = 4 + len;
    let header = if flags & 0x08 != 0 { 12 } else { 8 };
    if end < header || end > d.len() {
        return None;
    }
    let mut off = header;
    while off < end {
        let ie = d.get(off..off + IE_HEADER)?;
        off += IE_HEADER + usize::from(u16::from_be_bytes([ie[1], ie[2]]));
    }
    if off != end {
        return None;
    }
    let piggybacked = flags & 0x10 != 0;
    match (piggybacked, end == d.len()) {
        (false, true) => Some(kind),
        (true, false) => message(&d[end..]).map(|_| kind),
        _ => None,
    }
}

/// TS 29.274 table 6.1-1, the common messages by name.
fn message_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        1 => "echo_request",
        2 => "echo_response",
        32 => "create_session_request",
        33 => "create_session_response",
        34 => "modify_bearer_request",
        35 => "modify_bearer_response",
        36 => "delete_session_request",
        37 => "delete_session_response",
        _ => return None,
    })
}

impl Dissector for GtpC {
    fn name(&self) -> &'static str {
        "gtp_c"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            Some(b) if p.port(PORT) && b >> 5 == 2 => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only GTP version 2 (`b >> 5 == 2`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x40, 0x5f))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let Some(kind) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("gtp_c");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("gtp_version", "2");
        match message_name(kind) {
            Some(name) => meta.set_extra("gtp_message", name),
            None => meta.set_extra("gtp_message", kind.to_string()),
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// gtp_c.pcap, 10.101.0.2:1024 → 10.102.0.2:2123: a Delete Session
    /// Request (0x24) with TEID 0x35529206, sequence 0x4b5462 and an EPS
    /// bearer id element, and the answer (0x25) with its cause.
    const DELETE: &str = "4824001e 35529206 4b546200 49000100 05 56000d00 18987654123498765412345678";
    const ANSWER: &str = "48250013 35529204 4b546200 02000200 1000 03000100 01";

    #[test]
    fn delete_session() {
        let (q, a) = (unhex(DELETE), unhex(ANSWER));
        let (r, m) = check_split_udp(&GtpC, 1024, PORT, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("gtp_c"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("gtp_message"), Some("delete_session_request"));
        let (r, m) = check_split_udp(&GtpC, PORT, 1024, &[&a], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("gtp_message"), Some("delete_session_response"));
        // Piggybacked: the request with P set, the answer after it.
        let mut both = q.clone();
        both[0] |= 0x10;
        both.extend_from_slice(&a);
        let (r, _) = check_split_udp(&GtpC, 1024, PORT, &[&both], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_gtp_c() {
        let q = unhex(DELETE);
        let mut v1 = q.clone();
        v1[0] = 0x32;
        let mut long = q.clone();
        long[3] += 1;
        let mut ie = q.clone();
        ie[14] = 2;
        let mut trailing = q.clone();
        trailing.push(0);
        let mut p_flag = q.clone();
        p_flag[0] |= 0x10;
        let cases: [(u16, &[u8]); 6] = [
            (PORT, &v1),
            (PORT, &long),
            (PORT, &ie),
            (PORT, &trailing),
            (PORT, &p_flag),
            (2152, &q),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(1024, port, &[d], &[]);
            assert!(!crate::dissect::not_refused(&GtpC, &f.payloads()), "{d:?}");
        }
    }
}
