//! Zoom media over UDP. Zoom's wire format is not published; what is
//! checked here is what the captures show, and each check is exact.
//!
//! - Through Zoom's servers (UDP 8801..=8810, the range Zoom's firewall
//!   guide gives for media): the client opens with a datagram of type
//!   0x01 and the server answers with type 0x02 echoing the 16 bytes at
//!   offsets 3..19 (a session identifier); media follows as type 0x05
//!   datagrams.
//! - Peer to peer (any ports): the first datagrams are a hello of type
//!   0x1f 0x02 carrying two length-prefixed strings at offset 24, the
//!   peer's IP address in ASCII and a 36-character identifier, ending
//!   exactly at the datagram's end.
//!
//! Encryption: `encrypted`. The handshake above is cleartext, but Zoom
//! encrypts meeting media (AES-256-GCM, per Zoom's encryption
//! whitepaper), which is what the flow carries.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Zoom;

const PORTS: std::ops::RangeInclusive<u16> = 8801..=8810;
const HELLO: u8 = 0x01;
const ANSWER: u8 = 0x02;
const P2P: [u8; 2] = [0x1f, 0x02];

fn be32(d: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?)).ok()
}

/// A peer-to-peer hello: two length-prefixed strings that end the
/// datagram, the first an IPv4 or IPv6 address.
fn p2p_hello(d: &[u8]) -> bool {
    if d.get(..2) != Some(&P2P[..]) || [3, 5, 7, 9].iter().any(|&i| d.get(i) != Some(&0)) {
        return false;
    }
    let Some(ip_len) = be32(d, 24) else { return false };
    if !(7..=45).contains(&ip_len) {
        return false;
    }
    let Some(ip) = d.get(28..28 + ip_len) else { return false };
    if !ip.iter().all(|b| b.is_ascii_hexdigit() || *b == b'.' || *b == b':') {
        return false;
    }
    let at = 28 + ip_len;
    let Some(id_len) = be32(d, at) else { return false };
    if !(1..=64).contains(&id_len) {
        return false;
    }
    match d.get(at + 4..at + 4 + id_len) {
        // What follows the identifier is a 4-byte field.
        Some(id) => id.iter().all(|b| b.is_ascii_graphic()) && d.len() == at + 4 + id_len + 4,
        None => false,
    }
}

/// The server-path session identifier of a type-`kind` datagram.
fn session(d: &[u8], kind: u8) -> Option<&[u8]> {
    if *d.first()? != kind {
        return None;
    }
    d.get(3..19).filter(|s| s.iter().any(|&b| b != 0))
}

impl Zoom {
    fn server_port(p: &Payloads<'_>) -> bool {
        PORTS.contains(&p.resp_port) || PORTS.contains(&p.orig_port)
    }
}

impl Dissector for Zoom {
    fn name(&self) -> &'static str {
        "zoom"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let first = p.first_payload();
        if first.is_empty() || p2p_hello(first) || (Zoom::server_port(p) && p.orig.first().first() == Some(&HELLO)) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a P2P hello (`1f 02`) or, from the
    /// originator, a server hello (`HELLO`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[P2P[0], HELLO]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_payload();
        let path = if p2p_hello(first) {
            "p2p"
        } else if Zoom::server_port(p) {
            let Some(id) = session(p.orig.first(), HELLO) else {
                return Parse::NotMine;
            };
            match p.resp.first() {
                [] => return p.undecided(),
                a if session(a, ANSWER) == Some(id) => "server",
                _ => return Parse::NotMine,
            }
        } else if first.is_empty() {
            return p.undecided();
        } else {
            return Parse::NotMine;
        };
        meta.protocol = Some("zoom");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("zoom".to_string());
        meta.set_extra("zoom_path", path);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn hello(kind: u8, id: &[u8; 16], len: usize) -> Vec<u8> {
        let mut v = vec![kind, 0, 3];
        v.extend_from_slice(id);
        v.resize(len, 0);
        v
    }

    fn p2p(ip: &[u8], id: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x1f, 2, 1, 0, 8, 0, 1, 0, 4, 0, 0x4c, 0xf4, 0x5c, 0xe0, 0, 0, 0, 7, 0, 0, 0, 0x63, 0xc1, 0xb2,
        ];
        v.extend_from_slice(&(ip.len() as u32).to_be_bytes());
        v.extend_from_slice(ip);
        v.extend_from_slice(&(id.len() as u32).to_be_bytes());
        v.extend_from_slice(id);
        v.extend_from_slice(&[0, 0, 0, 1]);
        v
    }

    const ID: [u8; 16] = *b"\xc8\x4a\xc4\x52\x87\x18\xcd\xa2\xb8\x47\x7a\x1b\x89\x9f\x33\x83";

    #[test]
    fn server_hello_and_answer() {
        let q = hello(HELLO, &ID, 123);
        let a = hello(ANSWER, &ID, 44);
        let (r, m) = check_split_udp(&Zoom, 60653, 8801, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("zoom"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.app.as_deref(), Some("zoom"));
        assert_eq!(m.extra("zoom_path"), Some("server"));
        let (r, _) = check_split_udp(&Zoom, 60653, 8801, &[&q], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn peer_to_peer_hello() {
        let h = p2p(b"10.78.14.178", b"C5EADF00-1111-2222-3333-444455556666");
        let (r, m) = check_split_udp(&Zoom, 49579, 49586, &[&h], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("zoom_path"), Some("p2p"));
    }

    #[test]
    fn not_zoom() {
        let q = hello(HELLO, &ID, 123);
        let mut other = ID;
        other[15] ^= 1;
        let good = p2p(b"192.168.1.226", b"C5EADF00-1111-2222-3333-444455556666");
        let mut long = good.clone();
        long.push(0);
        let mut not_ip = good.clone();
        not_ip[30] = b'z';
        let cases: [(u16, Vec<u8>, Vec<u8>); 6] = [
            (8801, q.clone(), hello(ANSWER, &other, 44)), // another session
            (8801, q.clone(), hello(HELLO, &ID, 44)),     // not an answer
            (9999, q.clone(), hello(ANSWER, &ID, 44)),    // not Zoom's port
            (8801, hello(HELLO, &[0; 16], 40), hello(ANSWER, &[0; 16], 44)),
            (9999, long, vec![]),
            (9999, not_ip, vec![]),
        ];
        for (port, o, r) in cases {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![&r] };
            let f = UdpFixture::new(40000, port, &[&o], &resp);
            let mut p = f.payloads();
            p.last = true;
            let claimed =
                Zoom.probe(&p) != Probe::NotMine && matches!(Zoom.parse(&p, &mut Meta::default()), Parse::Done);
            assert!(!claimed, "{port} {o:?}");
        }
    }
}
