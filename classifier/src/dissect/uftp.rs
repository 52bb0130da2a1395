//! UFTP, UDP-based file transfer with multicast (uftp-multicast,
//! protocol versions 4 and 5), on any port (1044 is only a hint). Every
//! datagram has a 16-byte header: version (0x40 or 0x50), message type,
//! sequence number, source id, group id, group instance, round-trip
//! time, group size, reserved; the message follows and opens with its
//! type again and its header length in 4-byte words. The server's
//! ANNOUNCE (type 1) names the public and private multicast addresses
//! and, when the session is encrypted, carries the encryption-info
//! extension (type 1) after them; the file messages of an encrypted
//! session travel inside ENCRYPTED messages, those of a plain one
//! (FILEINFO, FILESEG, DONE, ...) in clear.
//!
//! Taken on an ANNOUNCE whose header holds its addresses, or on two
//! datagrams of the same source and group. Encrypted when the ANNOUNCE
//! carries the encryption-info extension; cleartext when it does not, or
//! when plain file messages are seen.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Uftp;

const HEADER: usize = 16;
const ANNOUNCE: u8 = 1;
/// ANNOUNCE through PROXY_KEY: the message types sent in clear.
const MAX_PLAIN_TYPE: u8 = 17;
/// ANNOUNCE's fixed part before the multicast addresses.
const ANNOUNCE_FIXED: usize = 16;
const FLAG_IPV6: u8 = 0x04;
const EXT_ENC_INFO: u8 = 1;

/// A datagram's version, type, source and group ids, and its message.
fn datagram(d: &[u8]) -> Option<(u8, u8, &[u8], &[u8])> {
    if d.len() < HEADER + 4 || !matches!(d[0], 0x40 | 0x50) {
        return None;
    }
    let kind = d[1];
    let msg = &d[HEADER..];
    let hlen = usize::from(msg[1]) * 4;
    let ok = (1..=MAX_PLAIN_TYPE).contains(&kind) && msg[0] == kind && hlen >= 4 && hlen <= msg.len();
    ok.then(|| (d[0], kind, &d[4..12], msg))
}

/// For an ANNOUNCE: whether the encryption-info extension follows the
/// addresses; `None` when the header cannot hold its addresses.
fn announce_encrypted(msg: &[u8]) -> Option<bool> {
    let hlen = usize::from(msg[1]) * 4;
    let ip = if msg.get(2)? & FLAG_IPV6 != 0 { 16 } else { 4 };
    let ext = ANNOUNCE_FIXED + 2 * ip;
    if hlen < ext {
        return None;
    }
    Some(hlen > ext && msg.get(ext) == Some(&EXT_ENC_INFO))
}

impl Dissector for Uftp {
    fn name(&self) -> &'static str {
        "uftp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.len() >= HEADER + 4 && matches!(d[0], 0x40 | 0x50) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only versions 4 and 5 (`0x40`, `0x50`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x40, 0x50]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let mut chunks = p.first_side().chunks();
        let Some((version, kind, ids, msg)) = chunks.next().and_then(datagram) else {
            return Parse::NotMine;
        };
        let encrypted = if kind == ANNOUNCE {
            let Some(e) = announce_encrypted(msg) else {
                return Parse::NotMine;
            };
            Some(e)
        } else {
            match chunks.next() {
                None => return p.undecided(),
                Some(next) => match datagram(next) {
                    Some((v, _, i, _)) if v == version && i == ids => Some(false),
                    _ => return Parse::NotMine,
                },
            }
        };
        meta.protocol = Some("uftp");
        meta.set_extra("uftp_version", if version == 0x40 { "4" } else { "5" });
        meta.encryption = if encrypted == Some(true) {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// uftp_v4_v5.pcap: a version-4 ANNOUNCE without extensions (block
    /// size 1300, public 230.4.4.1, private 230.5.5.56).
    fn announce() -> Vec<u8> {
        let mut d = vec![
            0x40, 0x01, 0x00, 0x00, 0x0a, 0, 0, 1, 0x96, 0xf4, 0xc3, 0x04, 0, 0x9d, 0, 0,
        ];
        d.extend_from_slice(&[0x01, 0x06, 0x00, 0x14, 0x00, 0x00, 0x05, 0x14]);
        d.extend_from_slice(&[0x57, 0xa6, 0x5c, 0x1d, 0x00, 0x05, 0x7a, 0x51]);
        d.extend_from_slice(&[230, 4, 4, 1, 230, 5, 5, 56]);
        d
    }

    #[test]
    fn plain_announce_and_file_segments() {
        let a = announce();
        let (r, m) = check_split_udp(&Uftp, 37173, 1044, &[&a], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("uftp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("uftp_version"), Some("4"));
        // FILESEG datagrams of the same source and group.
        let mut seg = a[..HEADER].to_vec();
        seg[1] = 9;
        seg.extend_from_slice(&[9, 2, 0, 0, 0, 0, 0, 1]);
        seg.extend_from_slice(&[0x5a; 40]);
        let (r, m) = check_split_udp(&Uftp, 37173, 1044, &[&seg, &seg], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn encrypted_announce() {
        let mut a = announce();
        a[17] = 8;
        a.extend_from_slice(&[EXT_ENC_INFO, 2, 0, 0, 0, 0, 0, 0]);
        let (r, m) = check_split_udp(&Uftp, 37173, 1044, &[&a], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_uftp() {
        let a = announce();
        let mut version = a.clone();
        version[0] = 0x30;
        let mut kind = a.clone();
        kind[16] = 2;
        let mut short = a.clone();
        short[17] = 5;
        let mut other = a[..HEADER].to_vec();
        other[1] = 9;
        other.extend_from_slice(&[9, 2, 0, 0, 0, 0, 0, 1]);
        let mut stranger = other.clone();
        stranger[9] ^= 1;
        for (d, next) in [
            (&version, None),
            (&kind, None),
            (&short, None),
            (&other, Some(&stranger)),
        ] {
            let dgs: Vec<&[u8]> = std::iter::once(&d[..]).chain(next.map(|n| &n[..])).collect();
            let f = UdpFixture::new(40000, 1044, &dgs, &[]);
            let mut p = f.payloads();
            p.last = true;
            let claimed = crate::dissect::not_refused(&Uftp, &p);
            assert!(!claimed, "{d:?}");
        }
    }
}
