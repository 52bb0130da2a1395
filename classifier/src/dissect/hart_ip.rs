//! HART-IP (FieldComm Group HCF_SPEC-085), UDP or TCP. Every message has
//! an 8-byte header: version (1 or 2), message type (0 request,
//! 1 response, 2 publish, 3 error, 15 NAK), message id (0 session
//! initiate, 1 session close, 2 keep-alive, 3 token-passing PDU,
//! 4 discovery), a status byte, a 16-bit sequence number and the 16-bit
//! byte count of the whole message, header included. A UDP datagram is
//! one message, exactly; on TCP the first message must be whole.
//!
//! The header alone is a weak signature, so it needs one of: the
//! registered port 5094 on either side, or a request whose answer (the
//! first message the other side sends) repeats its version, message id
//! and sequence number with a response, error or NAK type (servers
//! answer a session from another port, e.g. 5095). Cleartext: version 2
//! secures sessions with TLS/DTLS, which those dissectors take first.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct HartIp;

const PORT: u16 = 5094;
const HEADER: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    version: u8,
    kind: u8,
    id: u8,
    seq: u16,
}

/// What the start of `d` says: `None` not HART-IP, `Some(None)` a
/// prefix, `Some(Some(h))` a whole first message. With `exact` (a UDP
/// datagram) the message must fill `d`.
fn message(d: &[u8], exact: bool) -> Option<Option<Header>> {
    let ok = |i: usize, f: fn(u8) -> bool| d.get(i).is_none_or(|&b| f(b));
    if !(ok(0, |v| matches!(v, 1 | 2)) && ok(1, |t| matches!(t, 0..=3 | 15)) && ok(2, |m| m <= 4)) {
        return None;
    }
    let Some(h) = d.get(..HEADER) else {
        return (!exact).then_some(None);
    };
    let len = usize::from(u16::from_be_bytes([h[6], h[7]]));
    if len < HEADER || (exact && len != d.len()) {
        return None;
    }
    let header = Header {
        version: h[0],
        kind: h[1],
        id: h[2],
        seq: u16::from_be_bytes([h[4], h[5]]),
    };
    Some((d.len() >= len).then_some(header))
}

/// Calls `f` on each whole message of a side (UDP: each datagram, which
/// must be one message; TCP: the messages of the stream, the last may be
/// cut short). False when something is not HART-IP.
fn each(s: Side<'_>, exact: bool, mut f: impl FnMut(Header)) -> bool {
    if exact {
        return s.chunks().all(|d| match message(d, true) {
            Some(Some(h)) => {
                f(h);
                true
            }
            _ => false,
        });
    }
    let mut d = s.stream();
    while !d.is_empty() {
        match message(d, false) {
            None => return false,
            Some(None) => return true,
            Some(Some(h)) => {
                f(h);
                let len = usize::from(u16::from_be_bytes([d[6], d[7]]));
                d = &d[len..];
            }
        }
    }
    true
}

/// Some request of `req` is answered in `resp`: the same version,
/// message id and sequence number with a response, error or NAK type.
fn answered(req: Side<'_>, resp: Side<'_>, exact: bool) -> bool {
    let mut found = false;
    each(req, exact, |q| {
        if q.kind == 0 && !found {
            each(resp, exact, |r| {
                found |= matches!(r.kind, 1 | 3 | 15) && (r.version, r.id, r.seq) == (q.version, q.id, q.seq);
            });
        }
    });
    found
}

impl Dissector for HartIp {
    fn name(&self) -> &'static str {
        "hart_ip"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if message(p.first_payload(), false).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only version 1 or 2 (`message`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[1, 2]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let exact = p.transport == Transport::Udp;
        let (a, b) = (p.first_side(), p.second_side());
        let mut first = None;
        let valid = each(a, exact, |h| {
            first.get_or_insert(h);
        }) && each(b, exact, |_| ());
        if !valid {
            return Parse::NotMine;
        }
        let Some(first) = first else {
            return p.undecided();
        };
        // Off the port: a request and its answer.
        if !p.port(PORT) && !answered(a, b, exact) && !answered(b, a, exact) {
            return p.undecided();
        }
        meta.protocol = Some("hart_ip");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("hart_ip_message_id", first.id.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // hart_ip.pcap: session initiate and its answer on 5094 (TCP), a
    // token-passing request and answer on the server's session port.
    const INITIATE: [u8; 13] = [1, 0, 0, 0, 0, 2, 0, 0x0d, 1, 0, 0, 0x75, 0x30];
    const INITIATED: [u8; 13] = [1, 1, 0, 0, 0, 2, 0, 0x0d, 1, 0, 0, 0xea, 0x60];
    const PDU: [u8; 17] = [1, 0, 3, 0, 0, 4, 0, 0x11, 0x82, 0x26, 0x4e, 0, 0, 0xd2, 1, 0, 0x39];
    const PDU_ANSWER: [u8; 24] = [
        1, 1, 3, 0, 0, 4, 0, 0x18, 0x86, 0x26, 0x4e, 0, 0, 0xd2, 1, 7, 0, 0xd0, 0xfb, 0, 0, 0, 0, 0x11,
    ];

    #[test]
    fn session_and_token_passing() {
        let (r, m) = check_split_tcp(&HartIp, PORT, &INITIATE, &INITIATED);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("hart_ip"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("hart_ip_message_id"), Some("0"));
        let (r, m) = check_split_udp(&HartIp, 49905, 5095, &[&PDU], &[&PDU_ANSWER]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("hart_ip_message_id"), Some("3"));
        // As the corpus flow goes: the server's answer to a session
        // initiate sent from another flow, then a request and its answer.
        let (r, m) = check_split_udp(&HartIp, 5095, 49905, &[&INITIATED, &PDU_ANSWER], &[&PDU]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("hart_ip_message_id"), Some("0"));
        let (r, _) = check_split_udp(&HartIp, 49905, PORT, &[&INITIATE], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_hart_ip() {
        let mut long = PDU.to_vec();
        long.push(0);
        let mut other_seq = PDU_ANSWER;
        other_seq[5] = 5;
        let cases: [(u16, &[u8], &[u8]); 5] = [
            (PORT, &long, &[]),
            (PORT, &[3, 0, 3, 0, 0, 4, 0, 8], &[]),
            (PORT, &[1, 7, 3, 0, 0, 4, 0, 8], &[]),
            (5095, &PDU, &other_seq),
            (5095, &PDU_ANSWER, &INITIATED),
        ];
        for (port, o, r) in cases {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![r] };
            let f = UdpFixture::new(40000, port, &[o], &resp);
            let mut p = f.payloads();
            p.last = true;
            let claimed = crate::dissect::not_refused(&HartIp, &p);
            assert!(!claimed, "{port} {o:?}");
        }
    }
}
