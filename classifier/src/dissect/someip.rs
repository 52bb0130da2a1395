//! SOME/IP (AUTOSAR "Scalable service-Oriented MiddlewarE over IP"), UDP
//! or TCP on any port (service discovery on 30490). Every message has a
//! 16-byte header: message id (service, method), a 32-bit length
//! counting the 8 header bytes after it plus the payload, request id
//! (client, session), protocol version 1, an interface version, a
//! message type (request, request without return, notification,
//! response, error; bit 5 marks a SOME/IP-TP segment) and a return code
//! (0x00..=0x5e; 0 in requests and notifications). A UDP datagram holds
//! whole messages that fill it exactly; on TCP the first message must be
//! whole. Cleartext (SOME/IP has no encryption of its own; secured
//! deployments run it inside TLS/DTLS, which their dissectors take).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct SomeIp;

const HEADER: usize = 16;
const PROTOCOL_VERSION: u8 = 1;
/// Service discovery's message id: service 0xffff, method 0x8100.
const SD: [u8; 4] = [0xff, 0xff, 0x81, 0x00];

/// The message type when `h` (16 bytes) is a valid header, with the
/// whole message's length.
fn header(h: &[u8]) -> Option<(u8, usize)> {
    let h = h.get(..HEADER)?;
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let (version, kind, code) = (h[12], h[14], h[15]);
    let base = kind & !0x20;
    let request = matches!(base, 0x00..=0x02);
    let ok = version == PROTOCOL_VERSION
        && len >= 8
        && matches!(base, 0x00..=0x02 | 0x80 | 0x81)
        && code <= 0x5e
        && !(request && code != 0)
        // Errors carry a non-zero return code.
        && !(base == 0x81 && code == 0);
    let len = usize::try_from(len).ok()?.checked_add(8)?;
    ok.then_some((kind, len))
}

/// `Some(Some((message id, type)))` when `d` starts with a whole valid
/// message and every message after it is valid too, `Some(None)` for a
/// prefix of one, `None` otherwise. With `exact`, `d` must be whole
/// messages back to back (a UDP datagram); without, the last may be cut
/// short (a TCP stream prefix).
fn first_message(d: &[u8], exact: bool) -> Option<Option<(u32, u8)>> {
    let mut at = 0usize;
    let mut first = None;
    while at < d.len() {
        let rest = &d[at..];
        let Some((kind, len)) = header(rest) else {
            // A cut header: what is there must not refute it.
            let v = rest.get(12).is_none_or(|&v| v == PROTOCOL_VERSION);
            return (!exact && rest.len() < HEADER && v).then_some(first);
        };
        if rest.len() < len {
            return (!exact).then_some(first);
        }
        if first.is_none() {
            first = Some((u32::from_be_bytes([d[0], d[1], d[2], d[3]]), kind));
        }
        at += len;
    }
    Some(first)
}

impl Dissector for SomeIp {
    fn name(&self) -> &'static str {
        "someip"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        let prefix_ok = match d.get(12) {
            Some(&v) => v == PROTOCOL_VERSION,
            None => p.transport == Transport::Tcp,
        };
        if prefix_ok {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (d, exact) = match p.transport {
            Transport::Tcp => (p.first_side().stream(), false),
            Transport::Udp => (p.first_payload(), true),
        };
        if d.is_empty() {
            return p.undecided();
        }
        let (id, kind) = match first_message(d, exact) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(m)) => m,
        };
        meta.protocol = Some("someip");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("someip_message_id", format!("0x{id:08x}"));
        meta.set_extra("someip_message_type", format!("0x{kind:02x}"));
        if id.to_be_bytes() == SD {
            meta.set_extra("someip_sd", "true");
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // someip-udp-method-call.pcapng: a request and its response.
    const CALL: [u8; 25] = [
        0x12, 0x34, 0x00, 0x08, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x05, 0xab, 0xab, 0xab, 0xab, 0xab,
    ];
    const ANSWER: [u8; 25] = [
        0x12, 0x34, 0x00, 0x08, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x80, 0x00, 0x00, 0x00,
        0x00, 0x05, 0xab, 0xab, 0xab, 0xab, 0xab,
    ];
    // someip_sd_sample.pcap: a service discovery message (trimmed to
    // its header, an empty entries array and an empty options array).
    const SD_MSG: [u8; 28] = [
        0xff, 0xff, 0x81, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00, 0xc0, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn method_call_and_discovery() {
        let (r, m) = check_split_udp(&SomeIp, 49191, 49201, &[&CALL], &[&ANSWER]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("someip"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("someip_message_id"), Some("0x12340008"));
        let (r, m) = check_split_udp(&SomeIp, 30490, 30490, &[&SD_MSG], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("someip_sd"), Some("true"));
        // Two messages in one datagram; a TCP stream.
        let two = [CALL, CALL].concat();
        let (r, _) = check_split_udp(&SomeIp, 40000, 40001, &[&two], &[]);
        assert_eq!(r, Parse::Done);
        let (r, m) = check_split_tcp(&SomeIp, 30501, &two, &ANSWER);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("someip_message_type"), Some("0x00"));
    }

    #[test]
    fn not_someip() {
        let mut long = CALL.to_vec();
        long.push(0);
        let mut version = CALL;
        version[12] = 2;
        let mut kind = CALL;
        kind[14] = 0x03;
        let mut code = CALL;
        code[15] = 1;
        let cases: [&[u8]; 5] = [&long, &version, &kind, &code, &CALL[..24]];
        for d in cases {
            let f = UdpFixture::new(40000, 30490, &[d], &[]);
            let claimed = crate::dissect::not_refused(&SomeIp, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
