//! DHCP (RFC 2131, options RFC 2132) on UDP ports 67/68: a BOOTP message
//! (op 1 request / 2 reply, hardware address length at most 16) with the
//! magic cookie 0x63825363 at offset 236, then options. Reports the
//! message type and the client's host name (option 12).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Dhcp;

const COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
const OPTIONS: usize = 240;
const HOSTNAME: u8 = 12;
const MSG_TYPE: u8 = 53;
const VENDOR_CLASS: u8 = 60;

fn message(d: &[u8]) -> bool {
    d.len() >= OPTIONS && matches!(d[0], 1 | 2) && d[2] <= 16 && d[236..240] == COOKIE
}

/// Options as (code, value), bounded by the bytes present.
fn options(d: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut off = OPTIONS;
    std::iter::from_fn(move || loop {
        let code = *d.get(off)?;
        match code {
            0 => off += 1,
            255 => return None,
            _ => {
                let len = usize::from(*d.get(off + 1)?);
                let v = d.get(off + 2..off + 2 + len)?;
                off += 2 + len;
                return Some((code, v));
            }
        }
    })
    .take(128)
}

fn type_name(t: u8) -> String {
    let n = match t {
        1 => "discover",
        2 => "offer",
        3 => "request",
        4 => "decline",
        5 => "ack",
        6 => "nak",
        7 => "release",
        8 => "inform",
        _ => return t.to_string(),
    };
    n.to_string()
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(&v[..v.len().min(255)])
        .trim_matches(char::from(0))
        .to_string()
}

impl Dissector for Dhcp {
    fn name(&self) -> &'static str {
        "dhcp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let first = p.first_payload();
        if (p.port(67) || p.port(68)) && message(first) {
            Probe::Mine
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only op 1 (request) or 2 (reply) (`message`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[1, 2]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_payload();
        if !(p.port(67) || p.port(68)) || !message(first) {
            return Parse::NotMine;
        }
        meta.protocol = Some("dhcp");
        meta.encryption = Encryption::Cleartext;
        let mut hostname = false;
        for d in p.orig.chunks().chain(p.resp.chunks()).take(8).filter(|d| message(d)) {
            for (code, v) in options(d) {
                match code {
                    MSG_TYPE if meta.extra("dhcp_msg_type").is_none() => {
                        if let Some(&t) = v.first() {
                            meta.set_extra("dhcp_msg_type", type_name(t));
                        }
                    }
                    HOSTNAME if !hostname && !v.is_empty() => {
                        meta.set_extra("dhcp_hostname", text(v));
                        hostname = true;
                    }
                    VENDOR_CLASS if meta.extra("dhcp_vendor_class").is_none() => {
                        meta.set_extra("dhcp_vendor_class", text(v));
                    }
                    _ => {}
                }
            }
        }
        if hostname {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn discover(opts: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; OPTIONS];
        v[..4].copy_from_slice(&[1, 1, 6, 0]);
        v[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        v[28..34].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        v[236..240].copy_from_slice(&COOKIE);
        v.extend_from_slice(opts);
        v
    }

    #[test]
    fn discover_with_hostname() {
        let d = discover(&[
            53, 1, 1, 0, 12, 6, b'l', b'a', b'p', b't', b'o', b'p', 60, 3, b'M', b'S', b'F', 255, 0, 0,
        ]);
        let (r, m) = check_split_udp(&Dhcp, 68, 67, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dhcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dhcp_msg_type"), Some("discover"));
        assert_eq!(m.extra("dhcp_hostname"), Some("laptop"));
        assert_eq!(m.extra("dhcp_vendor_class"), Some("MSF"));
    }

    #[test]
    fn truncated_options_and_no_hostname() {
        let d = discover(&[53, 1, 3, 12, 200, b'x']);
        let (r, m) = check_split_udp(&Dhcp, 68, 67, &[&d], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("dhcp_msg_type"), Some("request"));
        assert_eq!(m.extra("dhcp_hostname"), None);
    }

    #[test]
    fn not_dhcp() {
        let mut no_cookie = discover(&[255]);
        no_cookie[236] = 0;
        let mut bad_op = discover(&[255]);
        bad_op[0] = 3;
        for (oport, port, d) in [(68, 67, no_cookie), (68, 67, bad_op), (40000, 5000, discover(&[255]))] {
            let f = UdpFixture::new(oport, port, &[&d], &[]);
            assert_eq!(Dhcp.probe(&f.payloads()), Probe::NotMine);
            assert_eq!(Dhcp.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
        }
    }
}
