//! CAPWAP control channel (RFC 5415), between wireless access points and
//! their controller.
//!
//! Every datagram opens with the CAPWAP preamble: version 0 and type 0
//! (a CAPWAP header follows) or type 1 (a 4-byte DTLS header, then a
//! DTLS record). A cleartext control message is the CAPWAP header (HLEN
//! in 4-byte words, at least 2; not a fragment, not a keep-alive) and the
//! control header: message type (enterprise number and type; IETF types
//! 1..=26), sequence number, and a message element length that counts
//! exactly the bytes after the sequence number. Discovery (and, on some
//! access points, Join) runs in the clear; the rest of the session is
//! DTLS, so a flow that carries a DTLS record is encrypted.
//!
//! The data channel (UDP 5247; the port narrows the check) carries the
//! same CAPWAP header with a frame behind it. The decoder decapsulates
//! the 802.3 and 802.11 data frames it can (see `decode::tunnel`); the
//! outer flow is named here when its first two datagrams (and any
//! others kept) are data-channel headers: preamble 0, HLEN at least 2
//! words and within the datagram, a wireless binding of IEEE 802.11 (1)
//! or EPCGlobal (3), the three reserved flag bits zero; or DTLS-wrapped.
//! Cleartext unless DTLS-wrapped.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Capwap;

/// What one datagram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Datagram {
    /// A cleartext control message of this type.
    Control(u32),
    /// A DTLS record behind the CAPWAP DTLS header.
    Dtls,
}

fn datagram(d: &[u8]) -> Option<Datagram> {
    match *d.first()? {
        0x00 => control(d).map(Datagram::Control),
        0x01 => {
            // DTLS header: preamble and 24 reserved bits, then a record
            // (content type 20..=25, DTLS 1.0 or 1.2, 13-byte header).
            let h = d.get(..4 + 13)?;
            let known = (20..=25).contains(&h[4]) && h[5] == 0xfe && matches!(h[6], 0xff | 0xfd);
            (h[1..4] == [0, 0, 0] && known).then_some(Datagram::Dtls)
        }
        _ => None,
    }
}

/// A control message: its type (IETF types only: enterprise 0, 1..=26).
fn control(d: &[u8]) -> Option<u32> {
    let h = d.first_chunk::<8>()?;
    let bits = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    let hlen = (bits >> 19) as usize * 4;
    let (t, f, k) = (bits & 0x100 != 0, bits & 0x80 != 0, bits & 0x08 != 0);
    if hlen < 8 || t || f || k {
        return None;
    }
    let c = d.get(hlen..)?.first_chunk::<8>()?;
    let ty = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    let len = usize::from(u16::from_be_bytes([c[5], c[6]]));
    // The length counts itself, the flags and the elements.
    let after_seq = d.len() - hlen - 5;
    ((1..=26).contains(&ty) && len == after_seq).then_some(ty)
}

const DATA_PORT: u16 = 5247;

/// A data-channel datagram: `Some(false)` a CAPWAP header (see the
/// module docs) with something behind it, `Some(true)` a DTLS record.
fn data(d: &[u8]) -> Option<bool> {
    if d.first() == Some(&0x01) {
        return (datagram(d)? == Datagram::Dtls).then_some(true);
    }
    let h = d.first_chunk::<4>()?;
    let bits = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    let hlen = (bits >> 19) as usize * 4;
    let wbid = (bits >> 9) & 0x1f;
    let ok = h[0] == 0 && hlen >= 8 && hlen <= d.len() && matches!(wbid, 1 | 3) && bits & 0x07 == 0;
    ok.then_some(false)
}

/// The data channel: `Some(dtls)` when the datagrams kept are all data-
/// channel ones and there are two at least.
fn data_channel(p: &Payloads<'_>) -> Option<bool> {
    let mut n = 0;
    let mut dtls = false;
    for d in p.first_side().chunks().chain(p.second_side().chunks()) {
        dtls |= data(d)?;
        n += 1;
    }
    (n >= 2).then_some(dtls)
}

impl Dissector for Capwap {
    fn name(&self) -> &'static str {
        "capwap"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload() {
            [] => Probe::Maybe,
            d if datagram(d).is_some() => Probe::Maybe,
            d if p.port(DATA_PORT) && data(d).is_some() => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only the CAPWAP preamble: version 0, type 0
    /// (cleartext header) or 1 (DTLS header) (`datagram`, `data`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x00, 0x01]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side();
        if first.is_empty() {
            return p.undecided();
        }
        if p.port(DATA_PORT) && first.chunks().all(|d| datagram(d).is_none()) {
            if first.chunks().any(|d| data(d).is_none()) {
                return Parse::NotMine;
            }
            let Some(dtls) = data_channel(p) else {
                return p.undecided();
            };
            meta.protocol = Some("capwap");
            meta.set_extra("capwap_channel", "data");
            meta.encryption = if dtls {
                Encryption::Encrypted
            } else {
                Encryption::Cleartext
            };
            return Parse::Done;
        }
        let mut dtls = false;
        let mut first_type = None;
        for d in first.chunks().chain(p.second_side().chunks()) {
            match datagram(d) {
                None => return Parse::NotMine,
                Some(Datagram::Dtls) => dtls = true,
                Some(Datagram::Control(ty)) => {
                    first_type.get_or_insert(ty);
                }
            }
        }
        meta.protocol = Some("capwap");
        if let Some(ty) = first_type {
            meta.set_extra("capwap_message_type", ty.to_string());
        }
        if dtls {
            meta.encryption = Encryption::Encrypted;
            meta.set_extra("capwap_dtls", "true");
            return Parse::Done;
        }
        meta.encryption = Encryption::Cleartext;
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// A Discovery Request (type 1) with a radio MAC in the header (HLEN 4).
    fn discovery_request() -> Vec<u8> {
        let mut d = vec![
            0x00, 0x20, 0x02, 0x10, 0, 0, 0, 0, 6, 0x58, 0x0a, 0x20, 0x69, 0x0e, 0x20, 0xe8,
        ];
        let elements = [0u8, 20, 0, 1, 0];
        d.extend_from_slice(&[0, 0, 0, 1, 0]);
        d.extend_from_slice(&((elements.len() + 3) as u16).to_be_bytes());
        d.push(0);
        d.extend_from_slice(&elements);
        d
    }

    /// A Discovery Response (type 2), HLEN 2.
    fn discovery_response() -> Vec<u8> {
        let mut d = vec![0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0];
        let elements = [0u8, 1, 0, 4, 0, 0, 3, 0xe8];
        d.extend_from_slice(&[0, 0, 0, 2, 0]);
        d.extend_from_slice(&((elements.len() + 3) as u16).to_be_bytes());
        d.push(0);
        d.extend_from_slice(&elements);
        d
    }

    fn dtls_hello() -> Vec<u8> {
        let mut d = vec![0x01, 0, 0, 0, 0x16, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2c];
        d.extend_from_slice(&[1; 44]);
        d
    }

    #[test]
    fn discovery_is_cleartext() {
        let (r, m) = check_split_udp(&Capwap, 12380, 5246, &[&discovery_request()], &[&discovery_response()]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("capwap"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("capwap_message_type"), Some("1"));
    }

    #[test]
    fn dtls_session_is_encrypted() {
        let (r, m) = check_split_udp(
            &Capwap,
            12380,
            5246,
            &[&discovery_request(), &dtls_hello()],
            &[&discovery_response()],
        );
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, m) = check_split_udp(&Capwap, 5246, 12379, &[&dtls_hello()], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("capwap_dtls"), Some("true"));
    }

    /// capwap.pcap, 192.168.10.10:12380 → 192.168.10.9:5247: data-channel
    /// datagrams (HLEN 4, IEEE 802.11 binding, T and W set) carrying
    /// 802.11 management frames, cut to 24 bytes.
    const DATA_1: &str = "00200320 00000000 01040000 00000000 00400000 580a2069";
    const DATA_2: &str = "00204320 00000000 01040000 00010000 02080000 ffffffff";

    #[test]
    fn data_channel_is_named() {
        let (a, b) = (unhex(DATA_1), unhex(DATA_2));
        let (r, m) = check_split_udp(&Capwap, 12380, DATA_PORT, &[&a, &b], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("capwap"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("capwap_channel"), Some("data"));
        // One datagram is not enough; another port or binding is not it.
        let f = UdpFixture::new(12380, DATA_PORT, &[&a], &[]);
        assert_eq!(Capwap.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let f = UdpFixture::new(12380, 5248, &[&a, &b], &[]);
        assert!(!crate::dissect::not_refused(&Capwap, &f.payloads()));
        let mut wbid = b.clone();
        wbid[2] = 0x05;
        let mut flags = b.clone();
        flags[3] = 0x21;
        for bad in [&wbid, &flags] {
            let f = UdpFixture::new(12380, DATA_PORT, &[&a, bad], &[]);
            assert!(!crate::dissect::not_refused(&Capwap, &f.payloads()));
        }
    }

    #[test]
    fn not_capwap() {
        // Length off by one, unknown type, a keep-alive flag, a stray datagram.
        let mut bad = discovery_request();
        bad.push(0);
        assert_eq!(datagram(&bad), None);
        let mut bad = discovery_request();
        bad[19] = 40;
        assert_eq!(datagram(&bad), None);
        let mut bad = discovery_request();
        bad[3] |= 0x08;
        assert_eq!(datagram(&bad), None);
        let mut bad = dtls_hello();
        bad[5] = 0x03;
        assert_eq!(datagram(&bad), None);
        let (r, _) = check_split_udp(&Capwap, 1, 5246, &[&discovery_request(), b"hello world"], &[]);
        assert_eq!(r, Parse::NotMine);
        for d in [discovery_request(), discovery_response(), dtls_hello()] {
            for k in 0..d.len() {
                let _ = datagram(&d[..k]);
            }
        }
    }
}
