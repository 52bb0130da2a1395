//! Pia, Nintendo's peer-to-peer game networking library (Switch, Wii U,
//! 3DS), over UDP (any port). Every packet opens with an unencrypted
//! header: the magic `32 ab 98 64`, then a byte that says whether the
//! messages after the header are encrypted (AES-GCM, session keys). Up
//! to Pia 5.10 it is 1 (no) or 2 (yes); from 5.11 on it is a header
//! version (3 and up) with bit 7 set when encryption is on. The
//! encryption class follows that flag, except towards UDP port 34343:
//! the P2P monitoring server, whose reports ride in unencrypted Pia
//! packets but are themselves compressed and encrypted.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Pia;

const MAGIC: [u8; 4] = [0x32, 0xab, 0x98, 0x64];
/// The shortest header (up to 5.6: magic, flag, connection id, packet
/// id, two timers).
const LEAST: usize = 12;
/// Nintendo's Pia monitoring servers.
const MONITORING_PORT: u16 = 34343;

/// Whether the messages are encrypted, when `d` is a Pia packet.
fn encrypted(d: &[u8]) -> Option<bool> {
    if d.len() < LEAST || d[..4] != MAGIC {
        return None;
    }
    match d[4] {
        1 => Some(false),
        2 => Some(true),
        b if b & 0x7f >= 3 => Some(b & 0x80 != 0),
        _ => None,
    }
}

impl Dissector for Pia {
    fn name(&self) -> &'static str {
        "nintendo_pia"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if encrypted(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the PIA magic (`encrypted`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[MAGIC[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        let Some(enc) = encrypted(d) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("nintendo_pia");
        let monitoring = p.port(MONITORING_PORT);
        meta.encryption = if enc || monitoring {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        let format = match d[4] {
            1 | 2 => "legacy".to_string(),
            b => (b & 0x7f).to_string(),
        };
        meta.set_extra("pia_header_version", format);
        if monitoring {
            meta.set_extra("pia_monitoring", "true");
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn packet(flag: u8) -> Vec<u8> {
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(&[flag, 0x56, 0x03, 0xcb, 0x96, 0x01, 0x33, 0xe0]);
        d.extend((0..56).map(|i: u8| i.wrapping_mul(151)));
        d
    }

    #[test]
    fn encrypted_and_clear_headers() {
        let (r, m) = check_split_udp(&Pia, 52119, 49432, &[&packet(2)], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("nintendo_pia"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("pia_header_version"), Some("legacy"));
        let (_, m) = check_split_udp(&Pia, 52119, 49432, &[&packet(1)], &[]);
        assert_eq!(m.encryption, Encryption::Cleartext);
        let (_, m) = check_split_udp(&Pia, 52119, 49432, &[&packet(0x89)], &[]);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("pia_header_version"), Some("9"));
        let (_, m) = check_split_udp(&Pia, 52119, 49432, &[&packet(0x0b)], &[]);
        assert_eq!(m.encryption, Encryption::Cleartext);
        // A monitoring report: clear Pia header, encrypted report.
        let (_, m) = check_split_udp(&Pia, 52119, MONITORING_PORT, &[&packet(1)], &[]);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("pia_monitoring"), Some("true"));
    }

    #[test]
    fn not_pia() {
        let mut wrong_magic = packet(2);
        wrong_magic[3] = 0x65;
        let p0 = packet(0);
        let p82 = packet(0x82);
        let cases: [&[u8]; 4] = [&wrong_magic, &p0, &p82, &packet(2)[..LEAST - 1]];
        for d in cases {
            let f = UdpFixture::new(52119, 49432, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Pia, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
