//! collectd's binary network protocol over UDP port 25826. A datagram is
//! a sequence of parts that tile it exactly: a big-endian 16-bit type, a
//! 16-bit length counting the 4-byte part header, then the value. Types:
//! host, time, plugin, plugin instance, type, type instance, values,
//! interval, the high-resolution time and interval, message, severity,
//! signature (an HMAC over the rest, which stays readable) and
//! encryption (a user name, an IV and AES-256-OFB ciphertext holding the
//! other parts). A values part holds a 16-bit count, that many type
//! bytes and that many 8-byte values.
//!
//! Taken on port 25826 when the first datagram tiles into known parts,
//! with at least two parts or one encryption part. A part of an unknown
//! type is skipped, as collectd's own receiver does, unless it is the
//! first; known parts must then number three at least and twice the
//! unknown ones (collectd.pcap holds a datagram with a part of type
//! 0xffff after the host, time and interval). Cleartext, or
//! encrypted when the datagram is an encryption part.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Collectd;

const PORT: u16 = 25826;
const PART_HEADER: usize = 4;
const HOST: u16 = 0x0000;
const VALUES: u16 = 0x0006;
const SIGNATURE: u16 = 0x0200;
const ENCRYPTION: u16 = 0x0210;
/// Encryption part: header, user name length, IV (16), at least the
/// 20-byte SHA-1 checksum inside the ciphertext.
const ENCRYPTION_MIN: usize = PART_HEADER + 2 + 16 + 20;

/// What the datagram's parts show: how many, whether sealed, the host.
struct Parts<'a> {
    count: usize,
    sealed: bool,
    host: Option<&'a [u8]>,
}

fn parts(d: &[u8]) -> Option<Parts<'_>> {
    let mut p = Parts {
        count: 0,
        sealed: false,
        host: None,
    };
    let mut unknown = 0usize;
    let mut rest = d;
    while !rest.is_empty() {
        let [a, b, c, e, ..] = *rest else {
            return None;
        };
        let kind = u16::from_be_bytes([a, b]);
        let len = usize::from(u16::from_be_bytes([c, e]));
        if len < PART_HEADER || len > rest.len() {
            return None;
        }
        let value = &rest[PART_HEADER..len];
        match kind {
            // Strings: NUL-terminated.
            HOST | 0x0002..=0x0005 | 0x0100 => {
                if value.last() != Some(&0) {
                    return None;
                }
                if kind == HOST {
                    p.host = Some(&value[..value.len() - 1]);
                }
            }
            // Numbers: 64 bits.
            0x0001 | 0x0007..=0x0009 | 0x0101 => {
                if value.len() != 8 {
                    return None;
                }
            }
            VALUES => {
                let n = usize::from(u16::from_be_bytes([*value.first()?, *value.get(1)?]));
                if value.len() != 2 + 9 * n || n == 0 {
                    return None;
                }
                // Data source types: counter, gauge, derive, absolute.
                if value[2..2 + n].iter().any(|&t| t > 3) {
                    return None;
                }
            }
            // HMAC-SHA-256 then the user name.
            SIGNATURE => {
                if value.len() < 32 {
                    return None;
                }
            }
            ENCRYPTION => {
                let user = usize::from(u16::from_be_bytes([*value.first()?, *value.get(1)?]));
                if len < ENCRYPTION_MIN + user || p.count > 0 || len != rest.len() {
                    return None;
                }
                p.sealed = true;
            }
            // collectd skips a part of a type it does not know; so does
            // this walk, but not as the first part.
            _ if p.count > 0 => {
                unknown += 1;
                rest = &rest[len..];
                continue;
            }
            _ => return None,
        }
        p.count += 1;
        rest = &rest[len..];
    }
    // Known parts must still make most of the datagram.
    (unknown == 0 || p.count >= 3 && p.count >= 2 * unknown).then_some(p)
}

impl Dissector for Collectd {
    fn name(&self) -> &'static str {
        "collectd"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && parts(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits a first part of a known type, whose high byte is 0, 1 or 2 (`parts`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0, 1, 2]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let Some(x) = parts(p.first_payload()) else {
            return Parse::NotMine;
        };
        if x.count < 2 && !x.sealed {
            return Parse::NotMine;
        }
        meta.protocol = Some("collectd");
        if x.sealed {
            meta.encryption = Encryption::Encrypted;
        } else {
            meta.encryption = Encryption::Cleartext;
            if let Some(h) = x.host.filter(|h| !h.is_empty() && h.iter().all(u8::is_ascii_graphic)) {
                meta.set_extra("collectd_host", super::text::to_string(h, 64));
            }
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // collectd.pcap, 127.0.0.1:35988 -> 127.0.0.1:25826, the first parts
    // (host, high-resolution time and interval, plugin, type, type
    // instance, values).
    const METRICS: &[u8] = b"\x00\x00\x00\x15devlap.fritz.box\x00\x00\x08\x00\x0c\x18\xaa\x86\xd9\xff\xbb\xca\xa3\x00\x09\x00\x0c\x00\x00\x00\x02\x80\x00\x00\x00\x00\x02\x00\x0bmemory\x00\x00\x04\x00\x0bmemory\x00\x00\x05\x00\x09used\x00\x00\x06\x00\x0f\x00\x01\x01\x00\x00\x00\x00\x96\x1f\xed\x41";

    #[test]
    fn metrics() {
        let (r, m) = check_split_udp(&Collectd, 35988, 25826, &[METRICS], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("collectd"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("collectd_host"), Some("devlap.fritz.box"));
    }

    #[test]
    fn sealed() {
        // The shape of collectd.pcap's encrypted datagrams (user "user").
        let mut d = b"\x02\x10\x00\x3a\x00\x04user".to_vec();
        d.extend_from_slice(&[0x5c; 48]);
        let (r, m) = check_split_udp(&Collectd, 39577, 25826, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_collectd() {
        let mut long = METRICS.to_vec();
        long.push(0);
        let mut unknown = METRICS.to_vec();
        unknown[1] = 0x0a;
        let mut values = METRICS.to_vec();
        let n = values.len();
        values[n - 9] = 7;
        // Unknown types after known parts: skipped while the known ones
        // dominate.
        let mut later = METRICS.to_vec();
        let at = 4 + usize::from(later[3]);
        later[at] = 0xff;
        later[at + 1] = 0xff;
        let f = UdpFixture::new(36064, 25826, &[&later], &[]);
        assert!(crate::dissect::not_refused(&Collectd, &f.payloads()));
        let mut mostly = later.clone();
        let mut at = 0;
        while at + 4 <= mostly.len() {
            let len = usize::from(u16::from_be_bytes([mostly[at + 2], mostly[at + 3]]));
            if at > 0 {
                mostly[at] = 0xff;
            }
            at += len.max(4);
        }
        for (d, port) in [
            (&mostly[..], 25826),
            (&long[..], 25826),
            (&unknown[..], 25826),
            (&values[..], 25826),
            (&METRICS[..21], 25826),
            (METRICS, 25827),
        ] {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Collectd, &f.payloads()), "{d:?}");
        }
    }
}
