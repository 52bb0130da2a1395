//! PFCP (3GPP TS 29.244), the 5G/EPC control-to-user-plane protocol, on
//! UDP port 8805 (either side). A message starts with a header: version
//! 1 in the top three bits, spare bits, the FO, MP and S flags; a message
//! type (node messages 1..=17, session messages 50..=57); a 16-bit
//! length of what follows the first 4 bytes; with S set, a 64-bit SEID;
//! a 24-bit sequence number and a spare or priority byte. Information
//! elements (16-bit type, 16-bit length) fill the rest exactly. A
//! datagram is one message, or several back to back when FO is set.
//! Cleartext (PFCP relies on the network domain's IPsec, if any).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Pfcp;

const PORT: u16 = 8805;

fn known_type(t: u8) -> bool {
    matches!(t, 1..=17 | 50..=57)
}

/// The length of the whole PFCP message at the start of `d` and its
/// type, when it is one.
fn message(d: &[u8]) -> Option<(usize, u8)> {
    let h = d.get(..4)?;
    let (flags, kind) = (h[0], h[1]);
    let len = 4 + usize::from(u16::from_be_bytes([h[2], h[3]]));
    let header = if flags & 0x01 != 0 { 16 } else { 8 };
    if flags >> 5 != 1 || flags & 0x18 != 0 || !known_type(kind) || len < header {
        return None;
    }
    let mut ies = d.get(header..len)?;
    while !ies.is_empty() {
        let ie = ies.get(..4)?;
        let n = 4 + usize::from(u16::from_be_bytes([ie[2], ie[3]]));
        ies = ies.get(n..)?;
    }
    Some((len, kind))
}

/// The first message's type when `d` is whole PFCP messages.
fn datagram(d: &[u8]) -> Option<u8> {
    let (mut len, kind) = message(d)?;
    let mut follow = d[0] & 0x04 != 0;
    while len != d.len() {
        if !follow {
            return None;
        }
        let rest = &d[len..];
        let (n, _) = message(rest)?;
        follow = rest[0] & 0x04 != 0;
        len += n;
    }
    Some(kind)
}

impl Dissector for Pfcp {
    fn name(&self) -> &'static str {
        "pfcp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().first().is_none_or(|&f| f >> 5 == 1) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only version 1 in the top three bits.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x20, 0x3f))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = p.first_payload();
        if d.is_empty() {
            return p.undecided();
        }
        let Some(kind) = datagram(d) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("pfcp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("pfcp_message_type", kind.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // pfcp.pcapng: a session deletion response (S set, one Cause IE).
    const DELETION: [u8; 24] = [
        0x21, 0x37, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68,
        0x00, 0x04, 0x00, 0x00, 0x00, 0x12,
    ];
    // A heartbeat request: no SEID, a Recovery Time Stamp IE.
    const HEARTBEAT: [u8; 16] = [
        0x20, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x00, 0x60, 0x00, 0x04, 0xe6, 0x1f, 0x5a, 0x10,
    ];

    #[test]
    fn deletion_and_heartbeat() {
        let (r, m) = check_split_udp(&Pfcp, PORT, PORT, &[&DELETION], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("pfcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("pfcp_message_type"), Some("55"));
        let (r, m) = check_split_udp(&Pfcp, 40000, PORT, &[&HEARTBEAT], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("pfcp_message_type"), Some("1"));
        // FO set: a second message follows.
        let mut two = DELETION.to_vec();
        two[0] |= 0x04;
        two.extend_from_slice(&HEARTBEAT);
        let (r, _) = check_split_udp(&Pfcp, 40000, PORT, &[&two], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_pfcp() {
        let mut version = DELETION;
        version[0] = 0x41;
        let mut kind = DELETION;
        kind[1] = 30;
        let mut ie = DELETION;
        ie[19] = 5;
        let mut long = DELETION.to_vec();
        long.push(0);
        let cases: [(u16, &[u8]); 5] = [
            (8806, &DELETION),
            (PORT, &version),
            (PORT, &kind),
            (PORT, &ie),
            (PORT, &long),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Pfcp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
