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
//! DTLS, so a flow that carries a DTLS record is encrypted. (The data
//! channel's frames are decapsulated by the decoder, see `decode::tunnel`.)

use super::{Dissector, Parse, Payloads, Probe, Transport};
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
            _ => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side();
        if first.is_empty() {
            return p.undecided();
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
    use crate::dissect::check_split_udp;

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
