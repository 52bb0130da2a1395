//! RMCP, the Remote Management Control Protocol (DMTF ASF; carries IPMI
//! over LAN), on UDP port 623 (either side). A 4-byte header: version 6,
//! a reserved zero byte, a sequence number (255: no ack wanted), and the
//! class of message (bit 7: this is an ack; low bits 6 ASF, 7 IPMI, 8
//! OEM). An ack is the header alone. ASF pings and IPMI session
//! headers are in clear (RMCP+ may encrypt the IPMI payload after the
//! session is set up, not the header or the setup): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rmcp;

const PORT: u16 = 623;
const VERSION: u8 = 0x06;
const ACK: u8 = 0x80;

/// The class byte when `d` is one whole RMCP datagram.
fn class(d: &[u8]) -> Option<u8> {
    let h = d.get(..4)?;
    if h[0] != VERSION || h[1] != 0 {
        return None;
    }
    let ok = if h[3] & ACK != 0 {
        // An ack echoes the class and sequence number, nothing more.
        d.len() == 4 && matches!(h[3] & !ACK, 6..=8) && h[2] != 0xff
    } else {
        matches!(h[3], 6..=8) && d.len() > 4
    };
    ok.then_some(h[3])
}

impl Dissector for Rmcp {
    fn name(&self) -> &'static str {
        "rmcp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && class(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only version 6 (`class`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[VERSION]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let Some(c) = class(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("rmcp");
        meta.encryption = Encryption::Cleartext;
        let name = match c & !ACK {
            6 => "asf",
            7 => "ipmi",
            _ => "oem",
        };
        meta.set_extra("rmcp_class", name);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn asf_ping_and_ipmi_channel_auth() {
        let ping = [0x06u8, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x00, 0x00, 0x00];
        let (r, m) = check_split_udp(&Rmcp, 59937, PORT, &[&ping], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rmcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rmcp_class"), Some("asf"));
        // Get Channel Authentication Capabilities, IPMI 1.5 session.
        let auth = [
            0x06u8, 0x00, 0xff, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x20, 0x18, 0xc8,
            0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5,
        ];
        let (r, m) = check_split_udp(&Rmcp, 49531, PORT, &[&auth], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("rmcp_class"), Some("ipmi"));
    }

    #[test]
    fn not_rmcp() {
        let cases: [(u16, &[u8]); 5] = [
            (9999, &[0x06, 0x00, 0xff, 0x06, 0x00]),
            (PORT, &[0x05, 0x00, 0xff, 0x06, 0x00]),
            (PORT, &[0x06, 0x00, 0xff, 0x09, 0x00]),
            (PORT, &[0x06, 0x00, 0xff, 0x06]),
            (PORT, &[0x06, 0x00, 0x01, 0x86, 0x00]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Rmcp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
