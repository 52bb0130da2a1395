//! BGP-4 (RFC 4271) over TCP, on any port (179 is not checked: the
//! marker says more than the port).
//!
//! Every message opens with a 19-byte header: a 16-byte marker of all
//! ones, the message length (19..=4096, or up to 65535 with extended
//! messages, RFC 8654) and the type, 1 OPEN .. 5 ROUTE-REFRESH, whose
//! length has a floor (OPEN 29, UPDATE 23, NOTIFICATION 21) or is exact
//! (KEEPALIVE 19, ROUTE-REFRESH 23). The first header of the side that
//! spoke first decides; when the other side has sent 16 bytes or more,
//! they must be a marker too. An OPEN, once whole, must say version 4
//! and a hold time of 0 or at least 3 seconds, and its optional
//! parameters must fill it; it gives the speaker's AS (the 4-octet AS
//! capability, RFC 6793, when present), hold time and BGP identifier.
//!
//! BGP has no encryption (TCP MD5 or TCP-AO only authenticate):
//! cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Bgp;

const MARKER: [u8; 16] = [0xff; 16];
const HEADER: usize = 19;
const OPEN: u8 = 1;

/// A valid header at the start of `d`: (length, type).
fn header(d: &[u8]) -> Option<(usize, u8)> {
    let h = d.get(..HEADER)?;
    if h[..16] != MARKER {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let kind = h[18];
    let ok = match kind {
        1 => len >= 29,
        2 => len >= 23,
        3 => len >= 21,
        4 => len == 19,
        5 => len == 23,
        _ => false,
    };
    ok.then_some((len, kind))
}

/// What a whole OPEN says: (AS, hold time, BGP identifier).
fn open(m: &[u8]) -> Option<(u32, u16, [u8; 4])> {
    let b = m.get(HEADER..)?;
    let b = b.get(..10)?;
    let (version, hold) = (b[0], u16::from_be_bytes([b[3], b[4]]));
    let mut asn = u32::from(u16::from_be_bytes([b[1], b[2]]));
    if version != 4 || hold == 1 || hold == 2 {
        return None;
    }
    let id = [b[5], b[6], b[7], b[8]];
    let (mut at, end) = if b[9] == 255 && m.get(HEADER + 10) == Some(&255) {
        // RFC 9072: extended optional parameters, 16-bit lengths.
        let l = m.get(HEADER + 11..HEADER + 13)?;
        (HEADER + 13, HEADER + 13 + usize::from(u16::from_be_bytes([l[0], l[1]])))
    } else {
        (HEADER + 10, HEADER + 10 + usize::from(b[9]))
    };
    if end != m.len() {
        return None;
    }
    let wide = b[9] == 255;
    while at < end {
        let kind = *m.get(at)?;
        let (len, body) = if wide {
            let l = m.get(at + 1..at + 3)?;
            (usize::from(u16::from_be_bytes([l[0], l[1]])), at + 3)
        } else {
            (usize::from(*m.get(at + 1)?), at + 2)
        };
        let params = m.get(body..body + len)?;
        if kind == 2 {
            // Capabilities: code, length, value.
            let mut c = 0;
            while c < params.len() {
                let code = params[c];
                let l = usize::from(*params.get(c + 1)?);
                let v = params.get(c + 2..c + 2 + l)?;
                if code == 65 && l == 4 {
                    asn = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
                }
                c += 2 + l;
            }
        }
        at = body + len;
    }
    (at == end).then_some((asn, hold, id))
}

impl Dissector for Bgp {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "bgp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_side().stream();
        let n = d.len().min(16);
        if n > 0 && d[..n] == MARKER[..n] {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The all-ones marker, on whoever spoke first.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[MARKER[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_side().stream();
        let other = p.second_side().stream();
        if other.len() >= 16 && other[..16] != MARKER {
            return Parse::NotMine;
        }
        if d.len() < HEADER {
            let n = d.len().min(16);
            return if d[..n] == MARKER[..n] {
                p.undecided()
            } else {
                Parse::NotMine
            };
        }
        let Some((len, kind)) = header(d) else {
            return Parse::NotMine;
        };
        let opened = if kind == OPEN {
            match d.get(..len) {
                Some(m) => match open(m) {
                    Some(o) => Some(o),
                    None => return Parse::NotMine,
                },
                None if !p.last => return Parse::NeedMore,
                None => None,
            }
        } else {
            None
        };
        meta.protocol = Some("bgp");
        meta.encryption = Encryption::Cleartext;
        let names = ["open", "update", "notification", "keepalive", "route_refresh"];
        meta.set_extra("bgp_message", names[usize::from(kind - 1)]);
        if let Some((asn, hold, id)) = opened {
            meta.set_extra("bgp_as", asn.to_string());
            meta.set_extra("bgp_hold_time", hold.to_string());
            meta.set_extra("bgp_id", std::net::Ipv4Addr::from(id).to_string());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// BGP_Cisco_hdlc_slarp.pcap frame 4: the client's OPEN (AS 1, hold
    /// 180, id 11.11.11.11; multiprotocol, route refresh and 4-octet AS
    /// capabilities).
    const OPEN_C: &str = "ffffffffffffffffffffffffffffffff 0039 01 04 0001 00b4 0b0b0b0b 1c
        02 06 01 04 00010001 02 02 80 00 02 02 02 00 02 02 46 00 02 06 41 04 00000001";
    /// Frame 6: the server's OPEN, AS 64512.
    const OPEN_S: &str = "ffffffffffffffffffffffffffffffff 0039 01 04 fc00 00b4 6e6e6e6e 1c
        02 06 01 04 00010001 02 02 80 00 02 02 02 00 02 02 46 00 02 06 41 04 0000fc00";
    /// BGP_redist.pcap frame 1: an UPDATE seen without the connection's
    /// start.
    const UPDATE: &str = "ffffffffffffffffffffffffffffffff 0073 02 0000 005c 40010102 4002008004040000
        005640050400000064c010200002006400000457000500000001020080000000000003008001ac1002010000800e
        210001800c00000000000000000202020200780001910000006400000064 aa000000";

    #[test]
    fn open_exchange() {
        let (c, s) = (unhex(OPEN_C), unhex(OPEN_S));
        let (v, m) = check_split_tcp(&Bgp, 179, &c, &s);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("bgp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("bgp_message"), Some("open"));
        assert_eq!(m.extra("bgp_as"), Some("1"));
        assert_eq!(m.extra("bgp_hold_time"), Some("180"));
        assert_eq!(m.extra("bgp_id"), Some("11.11.11.11"));
        // The 4-octet AS capability wins over the 2-byte field.
        let mut c4 = c.clone();
        let n = c4.len();
        c4[n - 4..].copy_from_slice(&70000u32.to_be_bytes());
        c4[20..22].copy_from_slice(&23456u16.to_be_bytes());
        let (v, m) = check_split_tcp(&Bgp, 179, &c4, &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("bgp_as"), Some("70000"));
        // Cut short: wait.
        let ends = [[30], [0]];
        let p = Payloads::tcp(40000, 179, &c[..30], &[], &ends);
        assert_eq!(Bgp.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn update_mid_connection() {
        let u = unhex(UPDATE);
        let (v, m) = check_split_tcp(&Bgp, 63535, &u, &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("bgp_message"), Some("update"));
        assert_eq!(m.extra("bgp_as"), None);
        let keepalive = unhex("ffffffffffffffffffffffffffffffff 0013 04");
        let (v, m) = check_split_tcp(&Bgp, 179, &keepalive, &keepalive);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("bgp_message"), Some("keepalive"));
    }

    #[test]
    fn near_misses() {
        let c = unhex(OPEN_C);
        // A marker byte, a length below the type's floor, a type, the
        // version, hold time 2, an optional parameter length that does not
        // fill the message, a capability running past its parameter.
        for (at, v) in [
            (5, 0xfe),
            (17, 0x1c),
            (18, 6),
            (18, 0),
            (19, 3),
            (23, 2),
            (28, 0x1b),
            (30, 7),
        ] {
            let mut x = c.clone();
            x[at] = v;
            let ends = [[x.len() as u32], [0]];
            let p = Payloads::tcp(40000, 179, &x, &[], &ends);
            assert!(!not_refused(&Bgp, &p), "{at} {v}");
        }
        // A keepalive of the wrong length; an answer without a marker.
        let k = unhex("ffffffffffffffffffffffffffffffff 0014 04 00");
        let ends = [[k.len() as u32], [0]];
        assert!(!not_refused(&Bgp, &Payloads::tcp(40000, 179, &k, &[], &ends)));
        let r = [0x41u8; 20];
        let ends = [[c.len() as u32], [20]];
        assert!(!not_refused(&Bgp, &Payloads::tcp(40000, 179, &c, &r, &ends)));
    }
}
