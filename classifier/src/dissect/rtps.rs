//! RTPS, the wire protocol of DDS (OMG DDSI-RTPS), over UDP on any port
//! (7400 and up by the spec's port formula). A message starts with the
//! magic `RTPS`, the protocol version (major 2, minor 0..=5; or 1.x)
//! and a vendor id; then a 12-byte GUID prefix and submessages, each a
//! 4-byte header (id, flags whose bit 0 gives the byte order, octets to
//! the next header; 0 only for the last) that must tile the message.
//! RTI Connext's 16-byte liveliness ping (the header with `NDDSPING` in
//! place of the GUID prefix) is accepted as it is.
//!
//! Cleartext, unless DDS Security protects the content: a SEC_BODY
//! submessage (0x30) carries ciphertext, so such a flow is encrypted.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rtps;

const MAGIC: &[u8; 4] = b"RTPS";
const HEADER: usize = 20;
const PING: &[u8; 8] = b"NDDSPING";
const SEC_BODY: u8 = 0x30;

fn known_submessage(id: u8) -> bool {
    matches!(id, 0x01 | 0x06..=0x09 | 0x0c..=0x0f | 0x12 | 0x13 | 0x15 | 0x16 | 0x30..=0x34)
}

/// `Some(true)` when `d` is one RTPS message with ciphertext in it,
/// `Some(false)` one without, `None` when it is not RTPS.
fn message(d: &[u8]) -> Option<bool> {
    let h = d.get(..8)?;
    let version_ok = matches!((h[4], h[5]), (2, 0..=5) | (1, _));
    if &h[..4] != MAGIC || !version_ok {
        return None;
    }
    if d.len() == 16 && &d[8..] == PING {
        return Some(false);
    }
    let mut rest = d.get(HEADER..)?;
    if rest.is_empty() {
        return None;
    }
    let mut secure = false;
    while !rest.is_empty() {
        let s = rest.get(..4)?;
        let (id, flags) = (s[0], s[1]);
        let next = if flags & 1 != 0 {
            u16::from_le_bytes([s[2], s[3]])
        } else {
            u16::from_be_bytes([s[2], s[3]])
        };
        if !known_submessage(id) {
            return None;
        }
        secure |= id == SEC_BODY;
        if next == 0 {
            // The last submessage runs to the end of the message (PAD and
            // INFO_TS may be empty).
            break;
        }
        rest = rest.get(4 + usize::from(next)..)?;
    }
    Some(secure)
}

impl Dissector for Rtps {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "rtps"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.len() >= 4 && d.starts_with(MAGIC) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the `RTPS` magic.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"R"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_payload();
        if first.is_empty() {
            return p.undecided();
        }
        if message(first).is_none() {
            return Parse::NotMine;
        }
        // Any protected message on either side makes the flow encrypted.
        let secure = [p.orig, p.resp]
            .iter()
            .flat_map(|s| s.chunks())
            .any(|d| message(d) == Some(true));
        meta.protocol = Some("rtps");
        meta.encryption = if secure {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        if p.last {
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

    // rtps.pcap: RTI's ping, then a message with INFO_TS and DATA
    // (trimmed to the DATA's header and first parameter).
    const PING_MSG: [u8; 16] = *b"RTPS\x02\x01\x01\x01NDDSPING";
    const DATA_MSG: [u8; 48] = [
        0x52, 0x54, 0x50, 0x53, 0x02, 0x01, 0x01, 0x01, 0xc0, 0xa8, 0x7a, 0x01, 0x00, 0x00, 0x3a, 0x4c, 0x00, 0x00,
        0x00, 0x01, 0x09, 0x01, 0x08, 0x00, 0x8f, 0x0b, 0x4a, 0x59, 0x47, 0x0a, 0xf3, 0xa6, 0x15, 0x05, 0x00, 0x00,
        0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];

    #[test]
    fn ping_and_data() {
        let (r, m) = check_split_udp(&Rtps, 28108, 7410, &[&PING_MSG, &DATA_MSG], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("rtps"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // DDS Security: SEC_PREFIX, SEC_BODY, SEC_POSTFIX.
        let mut sec = DATA_MSG[..20].to_vec();
        sec.extend_from_slice(&[0x31, 0x01, 0x04, 0x00, 1, 2, 3, 4]);
        sec.extend_from_slice(&[0x30, 0x01, 0x08, 0x00, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a]);
        sec.extend_from_slice(&[0x32, 0x01, 0x00, 0x00, 9, 9, 9, 9]);
        let (_, m) = check_split_udp(&Rtps, 28108, 7410, &[&sec], &[]);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_rtps() {
        let mut version = DATA_MSG;
        version[4] = 3;
        let mut sub = DATA_MSG;
        sub[20] = 0x02;
        let mut over = DATA_MSG;
        over[34] = 0x40;
        let cases: [&[u8]; 5] = [&version, &sub, &over, &DATA_MSG[..20], b"RTPX\x02\x01\x01\x01NDDSPING"];
        for d in cases {
            let f = UdpFixture::new(40000, 7400, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Rtps, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
