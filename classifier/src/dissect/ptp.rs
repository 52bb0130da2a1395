//! PTPv2, the Precision Time Protocol (IEEE 1588-2008 and -2019) over
//! UDP (Annex D, IPv4, and Annex E, IPv6): event messages on port 319,
//! general messages on 320. One of those ports on either side is
//! required (a hint that narrows the check, not the check).
//!
//! The first datagram must be one whole PTP message: the 34-byte common
//! header with messageType in the low nibble of byte 0 (0..=3 event,
//! 8..=0xD general), versionPTP 2 in the low nibble of byte 1 (the high
//! nibble, minorVersionPTP, 0 or 1), messageLength equal to the
//! datagram's length, or two less (over IPv6, Annex E appends two
//! octets a transparent clock may change to keep the UDP checksum
//! right), and at least the type's fixed body (Sync 44,
//! Announce 64, ...), and the controlField the standard assigns to the
//! type (Sync 0, Delay_Req 1, Follow_Up 2, Delay_Resp 3, Management 4,
//! all others 5).
//!
//! PTP has an optional authentication TLV but no encryption: cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ptp;

const PORTS: [u16; 2] = [319, 320];
const HEADER: usize = 34;

/// (name, least message length, controlField) of each message type.
fn kind(t: u8) -> Option<(&'static str, usize, u8)> {
    Some(match t {
        0x0 => ("sync", 44, 0),
        0x1 => ("delay_req", 44, 1),
        0x2 => ("pdelay_req", 54, 5),
        0x3 => ("pdelay_resp", 54, 5),
        0x8 => ("follow_up", 44, 2),
        0x9 => ("delay_resp", 54, 3),
        0xa => ("pdelay_resp_follow_up", 54, 5),
        0xb => ("announce", 64, 5),
        0xc => ("signaling", 44, 5),
        0xd => ("management", 48, 4),
        _ => return None,
    })
}

/// The message type name, domain and clock identity of a whole message.
fn message(d: &[u8]) -> Option<(&'static str, u8, &[u8])> {
    let h = d.get(..HEADER)?;
    let (name, least, control) = kind(h[0] & 0x0f)?;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let ok = h[1] & 0x0f == 2
        && h[1] >> 4 <= 1
        && (len == d.len() || len + 2 == d.len())
        && len >= least
        && h[32] == control;
    ok.then(|| (name, h[4], &h[20..28]))
}

impl Dissector for Ptp {
    fn name(&self) -> &'static str {
        "ptp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if PORTS.iter().any(|&x| p.port(x)) && d.len() >= HEADER && d[1] & 0x0f == 2 {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !PORTS.iter().any(|&x| p.port(x)) {
            return Parse::NotMine;
        }
        let Some((name, domain, clock)) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("ptp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ptp_message", name);
        meta.set_extra("ptp_domain", domain.to_string());
        let hex: String = clock.iter().map(|b| format!("{b:02x}")).collect();
        meta.set_extra("ptp_clock_id", hex);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    /// ptpv2.pcap (over IPv6: every message is followed by the two
    /// Annex E octets, `0000`) frame 1 (port 320): a Signaling message
    /// with a TLV.
    const SIGNALING: &str = "0c 02 0036 00 00 0400 0000000000000000 00000000 002094fffe00000d 0001 0001 05 ff
        ffffffffffffffffffff 0004 0006 b0000000012c 0000";
    /// Frame 4: the answer, also Signaling.
    const SIGNALING_ANSWER: &str = "0c 02 0038 00 00 0400 0000000000000000 00000000 00b0aefffe01f920 0001 0001 05 7f
        002094fffe00000d 0001 0005 0008 b0000000012c0001 0000";
    /// Frame 14 (port 319): a two-step Sync.
    const SYNC: &str = "00 02 002c 00 00 0400 0000000000000000 00000000 00b0aefffe01f920 0001 0001 00 7f
        000041bf41700b2d17820000";

    #[test]
    fn signaling_and_sync() {
        let (s, a) = (unhex(SIGNALING), unhex(SIGNALING_ANSWER));
        let (v, m) = check_split_udp(&Ptp, 320, 320, &[&s], &[&a]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("ptp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ptp_message"), Some("signaling"));
        assert_eq!(m.extra("ptp_domain"), Some("0"));
        assert_eq!(m.extra("ptp_clock_id"), Some("002094fffe00000d"));
        let y = unhex(SYNC);
        let (v, m) = check_split_udp(&Ptp, 319, 319, &[&y], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("ptp_message"), Some("sync"));
        // Over IPv4 (Annex D) without the two octets.
        let (v, _) = check_split_udp(&Ptp, 319, 319, &[&y[..44]], &[]);
        assert_eq!(v, Parse::Done);
    }

    #[test]
    fn near_misses() {
        let y = unhex(SYNC);
        let f = UdpFixture::new(40000, 9000, &[&y], &[]);
        assert!(!not_refused(&Ptp, &f.payloads()));
        // Reserved type, PTPv1, minor version 2, a length one past the
        // datagram or three short of it, a Sync too short for its body,
        // another control field.
        for (at, v) in [(0, 0x04), (1, 0x01), (1, 0x22), (3, 0x2f), (3, 0x2b), (32, 5)] {
            let mut x = y.clone();
            x[at] = v;
            let f = UdpFixture::new(319, 319, &[&x], &[]);
            assert!(!not_refused(&Ptp, &f.payloads()), "{at} {v}");
        }
        let mut short = y[..42].to_vec();
        short[3] = 40;
        let f = UdpFixture::new(319, 319, &[&short], &[]);
        assert!(!not_refused(&Ptp, &f.payloads()));
    }
}
