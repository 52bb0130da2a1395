//! DHCPv6 (RFC 8415) over UDP. Clients send from 546 to 547 and servers
//! and relays answer on those ports; the ports are part of the protocol
//! (there is no magic number), so one of them is required here, and the
//! message must be well formed: a known message type (1..13, and the
//! later RFCs' 14..36), then a 3-byte transaction id (client and server
//! messages) or a hop count and two IPv6 addresses (relay messages),
//! then options (code, length, value) with nonzero codes that tile the
//! rest of the datagram exactly, at least one of them. Cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Dhcpv6;

const CLIENT_PORT: u16 = 546;
const SERVER_PORT: u16 = 547;
const RELAY_FORW: u8 = 12;
const RELAY_REPL: u8 = 13;
const MAX_OPTIONS: usize = 64;

fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "solicit",
        2 => "advertise",
        3 => "request",
        4 => "confirm",
        5 => "renew",
        6 => "rebind",
        7 => "reply",
        8 => "release",
        9 => "decline",
        10 => "reconfigure",
        11 => "information_request",
        RELAY_FORW => "relay_forward",
        RELAY_REPL => "relay_reply",
        14..=36 => "other",
        _ => return None,
    })
}

/// Whether options tile `d` exactly (at least one).
fn options_tile(mut d: &[u8]) -> bool {
    for _ in 0..MAX_OPTIONS {
        let [c0, c1, l0, l1, ..] = *d else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if [c0, c1] == [0, 0] || 4 + len > d.len() {
            return false;
        }
        d = &d[4 + len..];
        if d.is_empty() {
            return true;
        }
    }
    false
}

/// The message type's name, if `d` is a DHCPv6 message.
fn message(d: &[u8]) -> Option<&'static str> {
    let name = type_name(*d.first()?)?;
    let head = if matches!(d[0], RELAY_FORW | RELAY_REPL) { 34 } else { 4 };
    options_tile(d.get(head..)?).then_some(name)
}

impl Dissector for Dhcpv6 {
    fn name(&self) -> &'static str {
        "dhcpv6"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(CLIENT_PORT) || p.port(SERVER_PORT) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !(p.port(CLIENT_PORT) || p.port(SERVER_PORT)) {
            return Parse::NotMine;
        }
        let Some(kind) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("dhcpv6");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("dhcpv6_message", kind);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// 1kxun.pcap: an Information-request (client id, option request,
    /// elapsed time).
    const INFO: &str = "0b27731d0001000e000100011db8e6fb703eacf0f0070006000400170018000800020000";
    /// android.pcap: a Solicit.
    const SOLICIT: &str =
        "01d8e4fe0001000e0001000125e5148e4c6af69ff6270003000c0e0008ca00000000000000000008000200000006000400170018";

    #[test]
    fn client_messages() {
        let d = hex(INFO);
        let (r, m) = check_split_udp(&Dhcpv6, 546, 547, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dhcpv6"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dhcpv6_message"), Some("information_request"));
        let d = hex(SOLICIT);
        let (r, m) = check_split_udp(&Dhcpv6, 546, 547, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("dhcpv6_message"), Some("solicit"));
    }

    #[test]
    fn not_dhcpv6() {
        let d = hex(INFO);
        let mut ty = d.clone();
        ty[0] = 0x40;
        let mut len = d.clone();
        len[7] = 0x0f;
        let mut longer = d.clone();
        longer.push(0);
        let cases: [(u16, &[u8]); 5] = [(547, &ty), (547, &len), (547, &longer), (547, &d[..4]), (5000, &d)];
        for (port, x) in cases {
            let f = UdpFixture::new(40000, port, &[x], &[]);
            assert!(!crate::dissect::not_refused(&Dhcpv6, &f.payloads()), "{x:?}");
        }
    }
}
