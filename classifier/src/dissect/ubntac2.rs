//! Ubiquiti's device discovery protocol (UBNT, nDPI's UBNTAC2) over UDP
//! port 10001. A packet is a 4-byte header (version 1 or 2, a command
//! byte, a big-endian 16-bit length counting the rest of the datagram
//! exactly), then type/length/value fields (one type byte, a big-endian
//! 16-bit length) that tile the rest: MAC and IP addresses, uptime,
//! hostname, model, firmware. A version 1 request is the bare header
//! `01 00 00 00`.
//!
//! Taken on port 10001 when the first datagram of each side that has
//! spoken is such a packet and one of them carries at least two fields
//! (a bare request alone is too short to tell). Names and versions are in
//! clear: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ubntac2;

const PORT: u16 = 10001;
const HEADER: usize = 4;
/// Highest field type taken (the known ones stay below this).
const MAX_TYPE: u8 = 0x30;
/// Field types of the hostname and the short model name.
const HOSTNAME: u8 = 0x0b;
const MODEL: u8 = 0x0c;

/// A discovery packet: the number of fields, and the hostname and model
/// fields if present.
#[derive(Debug, Default)]
struct Packet<'a> {
    fields: usize,
    hostname: Option<&'a [u8]>,
    model: Option<&'a [u8]>,
}

/// `Ok(None)` for a datagram cut short (not expected on UDP, but a
/// prefix in tests), `Err` for anything else that is not a packet.
fn packet(d: &[u8]) -> Result<Packet<'_>, ()> {
    if d.len() < HEADER || !matches!(d[0], 1 | 2) {
        return Err(());
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    if len != d.len() - HEADER {
        return Err(());
    }
    let mut p = Packet::default();
    let mut rest = &d[HEADER..];
    while !rest.is_empty() {
        let [t, a, b, ..] = *rest else {
            return Err(());
        };
        let n = usize::from(u16::from_be_bytes([a, b]));
        if t == 0 || t > MAX_TYPE {
            return Err(());
        }
        let v = rest.get(3..3 + n).ok_or(())?;
        match t {
            HOSTNAME => p.hostname = Some(v),
            MODEL => p.model = Some(v),
            _ => {}
        }
        p.fields += 1;
        rest = &rest[3 + n..];
    }
    Ok(p)
}

fn printable(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
}

impl Dissector for Ubntac2 {
    fn name(&self) -> &'static str {
        "ubntac2"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && packet(p.first_payload()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only version 1 or 2 (`packet`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[1, 2]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let mut rich: Option<Packet<'_>> = None;
        for side in [p.orig, p.resp] {
            if side.is_empty() {
                continue;
            }
            let Ok(pk) = packet(side.first()) else {
                return Parse::NotMine;
            };
            if pk.fields >= 2 && rich.is_none() {
                rich = Some(pk);
            }
        }
        let Some(pk) = rich else {
            return p.undecided();
        };
        meta.protocol = Some("ubntac2");
        meta.encryption = Encryption::Cleartext;
        if let Some(h) = pk.hostname.filter(|h| printable(h)) {
            meta.set_extra("ubnt_hostname", super::text::to_string(h, 64));
        }
        if let Some(m) = pk.model.filter(|m| printable(m)) {
            meta.set_extra("ubnt_model", super::text::to_string(m, 32));
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // ubntac2.pcap, 192.168.1.1:34085 -> 255.255.255.255:10001.
    const ANNOUNCE: &[u8] = b"\x02\x06\x00\xab\x02\x00\x0a\x80\x2a\xa8\x8d\x69\x2b\xc0\xa8\x02\x15\x02\x00\x0a\x80\x2a\xa8\x8d\x69\x2c\xc0\xa8\x01\x01\x01\x00\x06\x80\x2a\xa8\x8d\x69\x2b\x0a\x00\x04\x00\x00\xde\x60\x0b\x00\x04ubnt\x0c\x00\x04UGW3\x03\x00\x38UniFiSecurityGateway.ER-e120.v4.3.33.4936086.161203.2031\x16\x00\x0e4.3.33.4936086\x15\x00\x04UGW3\x17\x00\x01\x00\x18\x00\x01\x00\x13\x00\x06\x80\x2a\xa8\x8d\x69\x2b\x12\x00\x04\x00\x00\x15\xcf\x1b\x00\x054.0.0";

    #[test]
    fn announcement() {
        assert_eq!(ANNOUNCE.len(), 175);
        let (r, m) = check_split_udp(&Ubntac2, 34085, 10001, &[ANNOUNCE], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ubntac2"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ubnt_hostname"), Some("ubnt"));
        assert_eq!(m.extra("ubnt_model"), Some("UGW3"));
        // A bare request answered by an announcement.
        let (r, _) = check_split_udp(&Ubntac2, 40000, 10001, &[b"\x01\x00\x00\x00"], &[ANNOUNCE]);
        assert_eq!(r, Parse::Done);
        // The request alone says too little.
        let (r, _) = check_split_udp(&Ubntac2, 40000, 10001, &[b"\x01\x00\x00\x00"], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn not_ubntac2() {
        let mut long = ANNOUNCE.to_vec();
        long.push(0);
        let mut bad_field = ANNOUNCE.to_vec();
        bad_field[4] = 0x7f;
        let mut overrun = ANNOUNCE.to_vec();
        overrun[6] = 0x0b;
        let mut version = ANNOUNCE.to_vec();
        version[0] = 3;
        for (d, port) in [
            (&long[..], 10001),
            (&bad_field[..], 10001),
            (&overrun[..], 10001),
            (&version[..], 10001),
            (ANNOUNCE, 10002),
        ] {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Ubntac2, &f.payloads()), "{d:?}");
        }
    }
}
