//! Ceph's messenger (the wire protocol between Ceph clients, monitors
//! and OSDs) over TCP, on any port (6789 and 3300 for monitors, 6800+
//! for OSDs; none is checked).
//!
//! Both peers open with a banner: `ceph v027` for msgr1, or `ceph v2\n`
//! for msgr2, followed there by a 16-bit little-endian length of 16 and
//! two 64-bit feature masks (supported, required). The banner of each
//! side that has spoken must be one of these, and the same on both.
//!
//! Encryption: msgr1 has no encryption (cephx signs messages at most):
//! cleartext. msgr2 runs in crc mode (cleartext) or secure mode
//! (AES-GCM), chosen later in the authentication exchange, so from the
//! banner a msgr2 flow is identified with encryption left unknown.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ceph;

const V1: &[u8] = b"ceph v027";
const V2: &[u8] = b"ceph v2\n";

/// The messenger version a banner at the start of `d` announces;
/// `Err(true)` when too short to say.
fn banner(d: &[u8]) -> Result<u8, bool> {
    let n = d.len().min(V1.len());
    if agrees(d, V1) {
        return if n == V1.len() { Ok(1) } else { Err(true) };
    }
    if !agrees(d, V2) {
        return Err(false);
    }
    match d.get(V2.len()..V2.len() + 2) {
        Some([16, 0]) => Ok(2),
        Some(_) => Err(false),
        None => Err(true),
    }
}

impl Dissector for Ceph {
    fn name(&self) -> &'static str {
        "ceph"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match banner(p.first_side().stream()) {
            Err(false) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// The `c` of the `ceph v` banner (`banner` on whoever spoke first).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[V1[0], V2[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let mut version = None;
        for side in [p.orig, p.resp] {
            if side.is_empty() {
                continue;
            }
            match banner(side.stream()) {
                Ok(v) if version.is_none_or(|x| x == v) => version = Some(v),
                Err(true) => return p.undecided(),
                _ => return Parse::NotMine,
            }
        }
        let Some(v) = version else {
            return p.undecided();
        };
        meta.protocol = Some("ceph");
        meta.encryption = if v == 1 {
            Encryption::Cleartext
        } else {
            Encryption::Unknown
        };
        meta.set_extra("ceph_msgr", if v == 1 { "1" } else { "2" });
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// ceph.pcap frames 4 and 6: the monitor's and the client's msgr1
    /// banners, then (frame 8) the monitor's address, cut here.
    const MON: &[u8] = b"ceph v027\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x1a\x85\x0a\x00\x03\x43";
    const CLIENT: &[u8] = b"ceph v027";

    #[test]
    fn msgr1_banners() {
        let (v, m) = check_split_tcp(&Ceph, 6789, CLIENT, MON);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("ceph"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ceph_msgr"), Some("1"));
        // The server's banner alone, first on the connection.
        let ends = [[0], [MON.len() as u32]];
        let p = Payloads::tcp(40000, 6789, &[], MON, &ends);
        assert_eq!(Ceph.parse(&p, &mut Meta::default()), Parse::Done);
    }

    #[test]
    fn msgr2_banner() {
        let b = b"ceph v2\n\x10\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        let (v, m) = check_split_tcp(&Ceph, 3300, b, b);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.encryption, Encryption::Unknown);
        assert_eq!(m.extra("ceph_msgr"), Some("2"));
    }

    #[test]
    fn near_misses() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"ceph v026", b""),
            (b"Ceph v027", b""),
            (b"ceph v2\n\x11\x00", b""),
            (CLIENT, b"ceph v2\n\x10\x00"),
            (CLIENT, b"HTTP/1.1 400 Bad Request\r\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 6789, o, r, &ends);
            assert!(!not_refused(&Ceph, &p), "{o:?} {r:?}");
        }
    }
}
