//! RADIUS (RFC 2865, accounting RFC 2866, dynamic authorization RFC
//! 5176) over UDP, on any port (1812/1813, legacy 1645/1646, 3799 are
//! hints only). A packet is a code (1..5 access and accounting, 11..13
//! challenge and status, 40..45 disconnect and CoA), an identifier, a
//! 16-bit length equal to the datagram's, a 16-byte authenticator, then
//! attributes (type, length >= 2, value) that tile the rest exactly.
//! The attributes travel in clear (only User-Password and a few others
//! are hidden with the shared secret): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Radius;

const HEADER: usize = 20;
const MAX_LEN: usize = 4096;
const USER_NAME: u8 = 1;
const NAME_MAX: usize = 128;

fn code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "access_request",
        2 => "access_accept",
        3 => "access_reject",
        4 => "accounting_request",
        5 => "accounting_response",
        11 => "access_challenge",
        12 => "status_server",
        13 => "status_client",
        40 => "disconnect_request",
        41 => "disconnect_ack",
        42 => "disconnect_nak",
        43 => "coa_request",
        44 => "coa_ack",
        45 => "coa_nak",
        _ => return None,
    })
}

/// The header of a RADIUS packet filling `d`: a known code and a length
/// field equal to the datagram's. Its code name.
fn header(d: &[u8]) -> Option<&'static str> {
    if d.len() < HEADER || d.len() > MAX_LEN {
        return None;
    }
    let code = code_name(d[0])?;
    (usize::from(u16::from_be_bytes([d[2], d[3]])) == d.len()).then_some(code)
}

/// The attributes after the header tile the packet exactly: the
/// User-Name, if any (`Some(None)` without one).
fn attributes(d: &[u8]) -> Option<Option<&[u8]>> {
    let mut user = None;
    let mut rest = d.get(HEADER..)?;
    while let [t, l, ..] = *rest {
        let l = usize::from(l);
        if l < 2 || l > rest.len() {
            return None;
        }
        if t == USER_NAME && user.is_none() {
            user = Some(&rest[2..l]);
        }
        rest = &rest[l..];
    }
    rest.is_empty().then_some(user)
}

/// Authentication, accounting (and their legacy numbers) and dynamic
/// authorization.
const RADIUS_PORTS: [u16; 5] = [1812, 1813, 1645, 1646, 3799];

impl Dissector for Radius {
    fn name(&self) -> &'static str {
        "radius"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.len() >= HEADER && code_name(d[0]).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a known code (`code_name`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[1, 2, 3, 4, 5, 11, 12, 13]).union(ByteSet::range(40, 45)))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        let Some(code) = header(d) else {
            return Parse::NotMine;
        };
        // On a RADIUS port, a packet whose header holds (a known code, the
        // length field equal to the datagram's) but whose attributes do not
        // tile the rest is a damaged packet (fuzzers, broken clients)
        // rather than another protocol: the code and the exact 16-bit
        // length on the port are the evidence. Its attributes are not
        // trusted.
        let user = match attributes(d) {
            Some(user) => user,
            None if RADIUS_PORTS.iter().any(|&port| p.port(port)) => {
                meta.set_extra("radius_malformed", "attributes");
                None
            }
            None => return Parse::NotMine,
        };
        meta.protocol = Some("radius");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("radius_code", code);
        if let Some(u) = user {
            let u = &u[..u.len().min(NAME_MAX)];
            meta.set_extra("radius_user", String::from_utf8_lossy(u).into_owned());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// An Access-Request as in fuzz-2020-02-16-11740.pcap, trimmed to a
    /// User-Name, an NAS-Port-Type and a Calling-Station-Id.
    fn request() -> Vec<u8> {
        let mut d = vec![1u8, 0x0a, 0, 0];
        d.extend_from_slice(&[
            0x5e, 0x0e, 0x2b, 0x78, 0x77, 0x33, 0x14, 0x62, 0x8a, 0xe3, 0xd5, 0xea, 0x0e, 0xfe, 0x91, 0x5e,
        ]);
        d.extend_from_slice(b"\x01\x1e0503114802715164@wlan.mnc480");
        d.extend_from_slice(&[61, 6, 0, 0, 0, 19]);
        d.extend_from_slice(b"\x1f\x0a00-24-D7");
        let n = d.len() as u16;
        d[2..4].copy_from_slice(&n.to_be_bytes());
        d
    }

    #[test]
    fn access_request_and_accounting_response() {
        let req = request();
        let (r, m) = check_split_udp(&Radius, 29200, 1812, &[&req], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("radius"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("radius_code"), Some("access_request"));
        assert_eq!(m.extra("radius_user"), Some("0503114802715164@wlan.mnc480"));
        let mut resp = vec![5u8, 0x0b, 0, 20];
        resp.extend_from_slice(&[0x42; 16]);
        let (r, m) = check_split_udp(&Radius, 1813, 29200, &[&resp], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("radius_code"), Some("accounting_response"));
        assert_eq!(m.extra("radius_user"), None);
    }

    #[test]
    fn not_radius() {
        let req = request();
        let mut code = req.clone();
        code[0] = 6;
        let mut len = req.clone();
        len[3] += 1;
        let mut attr = req.clone();
        attr[21] = 1;
        let mut over = req.clone();
        over[21] = 0x40;
        let mut padded = req.clone();
        padded.push(0);
        // A bad code, a length field that is not the datagram's, or a cut
        // header: not RADIUS, even on its port.
        let cases: [&[u8]; 4] = [&code, &len, &padded, &req[..19]];
        for d in cases {
            let f = UdpFixture::new(40000, 1812, &[d], &[]);
            let p = f.payloads();
            let claimed = crate::dissect::not_refused(&Radius, &p);
            assert!(!claimed, "{d:?}");
        }
        // Attributes that do not tile the packet: not RADIUS off its ports.
        for d in [&attr, &over] {
            let f = UdpFixture::new(40000, 5000, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Radius, &f.payloads()), "{d:?}");
        }
    }

    /// On a RADIUS port, a packet whose header holds but whose attributes
    /// were damaged (as in nDPI's fuzz-2020-02-16-11740.pcap) is RADIUS,
    /// marked malformed; the User-Name is not trusted.
    #[test]
    fn damaged_attributes_on_radius_ports() {
        let mut attr = request();
        attr[21] = 1;
        for port in RADIUS_PORTS {
            let (r, m) = check_split_udp(&Radius, 29200, port, &[&attr], &[]);
            assert_eq!(r, Parse::Done, "{port}");
            assert_eq!(m.protocol, Some("radius"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("radius_code"), Some("access_request"));
            assert_eq!(m.extra("radius_malformed"), Some("attributes"));
            assert_eq!(m.extra("radius_user"), None);
        }
        // A whole packet is not marked.
        let (_, m) = check_split_udp(&Radius, 29200, 1812, &[&request()], &[]);
        assert_eq!(m.extra("radius_malformed"), None);
    }
}
