//! Viber's TCP channel to its servers (ports 4244 and 5242 in the
//! captures; Viber's help pages list TCP 4244, 5242, 5243 and 9785),
//! described from the captures. Every client message opens with a
//! little-endian 16-bit length (the whole message), a 4-byte id, the
//! marker `fc ff` and a little-endian 16-bit message type with the high
//! bit set.
//!
//! The class follows the message type:
//! - 0x8003, the session on port 4244: after a short sub-header the body
//!   is structureless, and so is everything the server sends back;
//!   Viber's security overview describes its client-server transport as
//!   encrypted: encrypted.
//! - 0x8005, a lookup on port 5242: the server answers with a plain list
//!   of its addresses and ports (IPv4 and port, little-endian): cleartext.
//!
//! Other types are identified without a class.
//!
//! Viber calls over UDP (ports 7985 and 7987 in the captures), also
//! described from the captures: every datagram of a flow opens with the
//! same two bytes (a per-call value), then a little-endian 16-bit message
//! type (small numbers: 1, 9, 0x0b, 0x0c, 0x19, 0x1a), and the server's
//! answers repeat what the requests carried: an 8-byte call token, or the
//! client's 8-byte timestamp, at the same offset (4 or 6). A flow is taken
//! as Viber when all its datagrams share the opening bytes and a type in
//! range and an answer repeats such 8 bytes of a request. Around plain
//! fields (token, counters, millisecond timestamps, a 20-byte id that is
//! the same in every call of a client, the platform and version as text)
//! the relay's join message (type 1) carries a 128-byte block that
//! changes from message to message while the fields around it repeat:
//! sealed content, and Viber describes its calls as end-to-end
//! encrypted. The call's flows are called encrypted.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Viber;

const MARKER: [u8; 2] = [0xfc, 0xff];
const HEADER: usize = 10;
const SESSION: u16 = 0x8003;
const LOOKUP: u16 = 0x8005;
/// Viber's documented TCP ports.
const PORTS: [u16; 4] = [4244, 5242, 5243, 9785];
/// The UDP ports of Viber's call servers in the captures.
const UDP_PORTS: [u16; 2] = [7985, 7987];
/// Shortest call datagram: opening bytes, type and an 8-byte token.
const UDP_MIN: usize = 12;
/// Message types above this are not taken.
const UDP_MAX_TYPE: u16 = 0x40;

/// Whether `d` is a call datagram opening with `lead`.
fn call_datagram(d: &[u8], lead: &[u8]) -> bool {
    d.len() >= UDP_MIN && d[..2] == *lead && (1..UDP_MAX_TYPE).contains(&u16::from_le_bytes([d[2], d[3]]))
}

/// Whether answer `a` repeats 8 non-zero bytes of request `r` at offset
/// 4 or 6.
fn echoes(r: &[u8], a: &[u8]) -> bool {
    [4usize, 6].iter().any(|&o| match (r.get(o..o + 8), a.get(o..o + 8)) {
        (Some(x), Some(y)) => x == y && x.iter().any(|&b| b != 0),
        _ => false,
    })
}

impl Viber {
    fn parse_udp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !UDP_PORTS.contains(&p.resp_port) {
            return Parse::NotMine;
        }
        let first = p.orig.first();
        let Some(lead) = first.get(..2) else {
            return p.undecided();
        };
        for d in p.orig.chunks().chain(p.resp.chunks()) {
            if !call_datagram(d, lead) {
                return Parse::NotMine;
            }
        }
        let echoed = p.resp.chunks().any(|a| p.orig.chunks().any(|r| echoes(r, a)));
        if !echoed {
            return p.undecided();
        }
        meta.protocol = Some("viber");
        meta.app = Some("viber".to_string());
        meta.encryption = Encryption::Encrypted;
        meta.set_extra(
            "viber_message",
            format!("0x{:04x}", u16::from_le_bytes([first[2], first[3]])),
        );
        Parse::Done
    }
}

/// The message type of the client's first message, when `d` (the whole
/// stream so far) holds its header; `Err` when it cannot be Viber.
fn first_message(d: &[u8]) -> Result<Option<u16>, ()> {
    let Some(h) = d.get(..HEADER) else {
        // Check what there is of the marker.
        return match d.get(6..) {
            Some(m) if !MARKER.starts_with(m) => Err(()),
            _ => Ok(None),
        };
    };
    let len = usize::from(u16::from_le_bytes([h[0], h[1]]));
    let kind = u16::from_le_bytes([h[8], h[9]]);
    if h[6..8] != MARKER || len < HEADER || kind & 0x8000 == 0 {
        return Err(());
    }
    // Wait for the whole first message.
    Ok((d.len() >= len).then_some(kind))
}

impl Dissector for Viber {
    fn name(&self) -> &'static str {
        "viber"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.transport == Transport::Udp {
            let first = p.orig.first();
            return match first.get(..2) {
                _ if !UDP_PORTS.contains(&p.resp_port) => Probe::NotMine,
                Some(lead) if !call_datagram(first, lead) => Probe::NotMine,
                _ => Probe::Maybe,
            };
        }
        if !PORTS.contains(&p.resp_port) {
            return Probe::NotMine;
        }
        match first_message(p.orig.stream()) {
            Err(()) => Probe::NotMine,
            Ok(_) => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Udp {
            return self.parse_udp(p, meta);
        }
        if !PORTS.contains(&p.resp_port) {
            return Parse::NotMine;
        }
        let kind = match first_message(p.orig.stream()) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(k)) => k,
        };
        meta.protocol = Some("viber");
        meta.app = Some("viber".to_string());
        meta.encryption = match kind {
            SESSION => Encryption::Encrypted,
            LOOKUP => Encryption::Cleartext,
            _ => Encryption::Unknown,
        };
        meta.set_extra("viber_message", format!("0x{kind:04x}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, UdpFixture};

    // viber.pcap, a call to a relay on UDP 7985: the client's ping (type
    // 9, a millisecond timestamp, the call token) and the relay's answer
    // (type 0x0b, the timestamp repeated, its own, zeros).
    const PING: &[u8] = b"\xed\xf6\x09\x00\x9e\x3d\x92\x91\x63\x01\x00\x00\xac\x19\x35\x8c\x8f\x64\xe4\x47";
    const PONG: &[u8] = b"\xed\xf6\x0b\x00\x9e\x3d\x92\x91\x63\x01\x00\x00\x6b\x42\x92\x91\x63\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    // The same call on 7987: the token at offset 4 both ways.
    const HELLO: &[u8] = b"\xed\xf6\x19\x00\xac\x19\x35\x8c\x8f\x64\xe4\x47\x25\xdf\x4d\x4e\xe1\xcd\x37\x1b\x5c\x9a\xbc\x26\xd9\xd3\x0b\x4b\x01\xbb\x39\xb3\x00\x00";
    const HELLO_ACK: &[u8] = b"\xed\xf6\x1a\x00\xac\x19\x35\x8c\x8f\x64\xe4\x47\x32\x43\x7c\x5e\x43\xb8\x00\xc8";

    #[test]
    fn udp_call() {
        let (r, m) = check_split_udp(&Viber, 47171, 7985, &[PING], &[PONG]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("viber"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("viber_message"), Some("0x0009"));
        let (r, m) = check_split_udp(&Viber, 47171, 7987, &[HELLO], &[HELLO_ACK]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("viber_message"), Some("0x0019"));
        // No answer yet.
        let f = UdpFixture::new(47171, 7985, &[PING], &[]);
        assert_eq!(Viber.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_viber_udp() {
        let mut other_lead = PONG.to_vec();
        other_lead[0] = 0x05;
        let mut no_echo = PONG.to_vec();
        no_echo[4] = 0x9f;
        let mut big_type = PONG.to_vec();
        big_type[3] = 0x01;
        let cases: [(u16, &[u8]); 4] = [(7985, &other_lead), (7985, &no_echo), (7985, &big_type), (5004, PONG)];
        for (port, a) in cases {
            let f = UdpFixture::new(47171, port, &[PING], &[a]);
            let mut p = f.payloads();
            p.last = true;
            assert!(!not_refused(&Viber, &p), "{port} {a:?}");
        }
    }

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut v = ((HEADER + body.len()) as u16).to_le_bytes().to_vec();
        v.extend_from_slice(&[0xad, 0xd4, 0xdc, 0x17]);
        v.extend_from_slice(&MARKER);
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn session_and_lookup() {
        let c = message(SESSION, &[0x59, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0xa9, 0xfc, 0xbd, 0xe6]);
        let (r, m) = check_split_tcp(&Viber, 4244, &c, &[0xda, 0x0a, 0x12, 0]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("viber"));
        assert_eq!(m.app.as_deref(), Some("viber"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("viber_message"), Some("0x8003"));
        let c = message(LOOKUP, &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x33]);
        let (r, m) = check_split_tcp(&Viber, 5242, &c, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn not_viber() {
        let mut no_marker = message(SESSION, &[0; 4]);
        no_marker[7] = 0xfe;
        let mut low_type = message(SESSION, &[0; 4]);
        low_type[9] = 0x00;
        let mut short_len = message(SESSION, &[0; 4]);
        short_len[0] = 4;
        let good = message(SESSION, &[0; 4]);
        let cases = [
            (4244, &no_marker),
            (4244, &low_type),
            (4244, &short_len),
            (4244, &b"GET / HTTP/1.1\r\n".to_vec()),
            (443, &good),
        ];
        for (port, d) in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, port, d, &[], &ends);
            let claimed = not_refused(&Viber, &p);
            assert!(!claimed, "{d:?}");
        }
        // The first message must be whole.
        let ends = [[good.len() as u32 - 1], [0]];
        let p = Payloads::tcp(40000, 4244, &good[..good.len() - 1], &[], &ends);
        assert_eq!(Viber.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }
}
