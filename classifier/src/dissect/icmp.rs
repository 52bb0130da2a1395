//! ICMP (RFC 792), ICMPv6 (RFC 4443), IGMP (RFC 2236, RFC 3376) and
//! VRRP (RFC 3768, RFC 5798) messages: the transport is the IP protocol
//! itself, so these are not [`super::Dissector`]s (which see TCP and UDP
//! payloads); the engine calls [`identify`] on the first payload of a
//! flow of IP protocol 1, 58, 2 or 112. The message header is parsed: a
//! known type with a code valid for it, and the fixed header length that
//! type needs; for VRRP, an advertisement whose length is exactly what
//! its address count and version call for. All four are cleartext
//! control protocols.

use crate::decode::ipproto;

/// IP protocol number of IGMP.
pub const IGMP: u8 = 2;
/// IP protocol number of VRRP.
pub const VRRP: u8 = 112;

/// An identified control message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub protocol: &'static str,
    /// The type (VRRP: the version).
    pub kind: u8,
    /// The code (VRRP: the virtual router id).
    pub code: u8,
}

impl Message {
    /// The names of `kind` and `code` in the flow's extra fields.
    pub fn field_names(&self) -> (&'static str, &'static str) {
        if self.protocol == "vrrp" {
            ("vrrp_version", "vrrp_vrid")
        } else {
            ("icmp_type", "icmp_code")
        }
    }
}

/// A VRRP advertisement (type 1): version 2 (IPv4 addresses, then 8
/// bytes of authentication data, auth type 0..=2) or 3 (IPv4 or IPv6
/// addresses), a virtual router id 1..=255 and at least one address.
fn vrrp(msg: &[u8]) -> Option<Message> {
    let h = msg.get(..8)?;
    let (version, kind, vrid, count) = (h[0] >> 4, h[0] & 0x0f, h[1], usize::from(h[3]));
    let ok = kind == 1
        && vrid != 0
        && count != 0
        && match version {
            2 => h[4] <= 2 && msg.len() == 8 + 4 * count + 8,
            3 => h[4] & 0xf0 == 0 && (msg.len() == 8 + 4 * count || msg.len() == 8 + 16 * count),
            _ => false,
        };
    ok.then_some(Message {
        protocol: "vrrp",
        kind: version,
        code: vrid,
    })
}

/// ICMPv4: (type, highest code, least length).
const ICMP4: &[(u8, u8, usize)] = &[
    (0, 0, 8),   // echo reply
    (3, 15, 8),  // destination unreachable
    (4, 0, 8),   // source quench
    (5, 3, 8),   // redirect
    (8, 0, 8),   // echo request
    (9, 16, 8),  // router advertisement
    (10, 0, 8),  // router solicitation
    (11, 1, 8),  // time exceeded
    (12, 2, 8),  // parameter problem
    (13, 0, 20), // timestamp
    (14, 0, 20), // timestamp reply
    (15, 0, 8),  // information request
    (16, 0, 8),  // information reply
    (17, 0, 12), // address mask request
    (18, 0, 12), // address mask reply
    (30, 1, 8),  // traceroute
    (42, 0, 8),  // extended echo request (RFC 8335)
    (43, 4, 8),  // extended echo reply
];

/// ICMPv6: (type, highest code, least length).
const ICMP6: &[(u8, u8, usize)] = &[
    (1, 8, 8),      // destination unreachable
    (2, 0, 8),      // packet too big
    (3, 1, 8),      // time exceeded
    (4, 3, 8),      // parameter problem
    (128, 0, 8),    // echo request
    (129, 0, 8),    // echo reply
    (130, 0, 24),   // multicast listener query
    (131, 0, 24),   // multicast listener report
    (132, 0, 24),   // multicast listener done
    (133, 0, 8),    // router solicitation
    (134, 0, 16),   // router advertisement
    (135, 0, 24),   // neighbor solicitation
    (136, 0, 24),   // neighbor advertisement
    (137, 0, 40),   // redirect
    (138, 255, 16), // router renumbering
    (139, 2, 16),   // node information query
    (140, 2, 16),   // node information response
    (141, 0, 8),    // inverse ND solicitation
    (142, 0, 8),    // inverse ND advertisement
    (143, 0, 8),    // multicast listener report v2
    (144, 0, 8),    // home agent address discovery request
    (145, 0, 8),    // home agent address discovery reply
    (146, 0, 8),    // mobile prefix solicitation
    (147, 0, 8),    // mobile prefix advertisement
    (151, 0, 8),    // multicast router advertisement
    (152, 0, 4),    // multicast router solicitation
    (153, 0, 4),    // multicast router termination
    (155, 0, 4),    // RPL control
    (160, 4, 8),    // extended echo request
    (161, 4, 8),    // extended echo reply
];

/// IGMP: (type, least length). The code byte is the max response time
/// (queries) or zero.
const IGMP_TYPES: &[(u8, usize)] = &[
    (0x11, 8), // membership query
    (0x12, 8), // v1 membership report
    (0x16, 8), // v2 membership report
    (0x17, 8), // leave group
    (0x22, 8), // v3 membership report
];

fn lookup(table: &[(u8, u8, usize)], kind: u8, code: u8, len: usize) -> bool {
    table
        .iter()
        .any(|&(t, max_code, min_len)| t == kind && code <= max_code && len >= min_len)
}

/// Identifies the message `msg` carried by IP protocol `proto`.
pub fn identify(proto: u8, msg: &[u8]) -> Option<Message> {
    if proto == VRRP {
        return vrrp(msg);
    }
    let (&kind, &code) = (msg.first()?, msg.get(1)?);
    let protocol = match proto {
        ipproto::ICMP if lookup(ICMP4, kind, code, msg.len()) => "icmp",
        ipproto::ICMPV6 if lookup(ICMP6, kind, code, msg.len()) => "icmpv6",
        IGMP => {
            let ok = IGMP_TYPES.iter().any(|&(t, min_len)| t == kind && msg.len() >= min_len);
            // Only queries carry a max response time.
            if !ok || (kind != 0x11 && kind != 0x22 && code != 0) {
                return None;
            }
            "igmp"
        }
        _ => return None,
    };
    Some(Message { protocol, kind, code })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_and_errors() {
        let mut echo = vec![8, 0, 0xf7, 0xff, 0, 1, 0, 1];
        echo.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
        assert_eq!(
            identify(ipproto::ICMP, &echo),
            Some(Message {
                protocol: "icmp",
                kind: 8,
                code: 0
            })
        );
        let unreachable = [3u8, 3, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 28];
        assert_eq!(identify(ipproto::ICMP, &unreachable).map(|m| m.code), Some(3));
        let ns = [
            135u8, 0, 0x12, 0x34, 0, 0, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        assert_eq!(identify(ipproto::ICMPV6, &ns).map(|m| m.protocol), Some("icmpv6"));
        let query = [0x11u8, 100, 0xee, 0x9b, 0, 0, 0, 0];
        assert_eq!(identify(IGMP, &query).map(|m| m.protocol), Some("igmp"));
        let report = [0x16u8, 0, 0xfa, 0x04, 239, 255, 255, 250];
        assert_eq!(identify(IGMP, &report).map(|m| m.kind), Some(0x16));
    }

    #[test]
    fn vrrp_advertisements() {
        // Version 3 over IPv6: VRID 36, priority 100, one link-local address.
        let mut v3 = vec![0x31u8, 0x24, 0x64, 0x01, 0x03, 0xe8, 0x34, 0x1b, 0xfe, 0x80];
        v3.extend_from_slice(&[0; 13]);
        v3.push(0x66);
        let m = identify(VRRP, &v3);
        assert_eq!(m.map(|m| (m.protocol, m.kind, m.code)), Some(("vrrp", 3, 0x24)));
        assert_eq!(m.map(|m| m.field_names().0), Some("vrrp_version"));
        // Version 2, simple text password.
        let v2 = [
            0x21u8, 0x01, 0x64, 0x01, 0x01, 0x01, 0xba, 0x52, 192, 168, 0, 1, b'p', b'a', b's', b's', 0, 0, 0, 0,
        ];
        assert_eq!(identify(VRRP, &v2).map(|m| m.kind), Some(2));
        // Wrong type, version, length, no address.
        let mut bad = v3.clone();
        bad[0] = 0x32;
        assert_eq!(identify(VRRP, &bad), None);
        bad[0] = 0x71;
        assert_eq!(identify(VRRP, &bad), None);
        assert_eq!(identify(VRRP, &v3[..23]), None);
        assert_eq!(identify(VRRP, &[0x31, 0x24, 0x64, 0, 0x03, 0xe8, 0, 0]), None);
        assert_eq!(identify(ipproto::ICMP, &v2).map(|m| m.protocol), None);
    }

    #[test]
    fn not_a_control_message() {
        // Unknown type, a code past the type's range, too short, wrong
        // protocol, a report with a response time.
        assert_eq!(identify(ipproto::ICMP, &[77, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(identify(ipproto::ICMP, &[8, 1, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(identify(ipproto::ICMP, &[13, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(identify(ipproto::ICMP, &[8]), None);
        assert_eq!(identify(ipproto::ICMPV6, &[8, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(identify(ipproto::TCP, &[8, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(identify(IGMP, &[0x16, 5, 0, 0, 239, 1, 1, 1]), None);
        for n in 0..9 {
            let _ = identify(ipproto::ICMPV6, &[128u8; 9][..n]);
        }
    }
}
