//! DLMS/COSEM (IEC 62056) over IP, TCP or UDP. Two framings:
//! - the wrapper (IEC 62056-47, port 4059): version 0x0001, source and
//!   destination wPorts, a 16-bit length of the APDU that follows, the
//!   APDU opening with an xDLMS or ACSE tag;
//! - HDLC frames (IEC 62056-46) carried over TCP or UDP: flag 0x7E, a frame
//!   format field (type 0xA, segmentation bit, 11-bit length counting
//!   the bytes between the flags), destination and source addresses
//!   (1, 2 or 4 bytes, the last with bit 0 set), a control byte, and the
//!   closing flag 0x7E; frames follow each other back to back (and
//!   fill a datagram exactly).
//!
//! The wrapper needs port 4059; HDLC frames need port 4059 or a whole
//! frame from each side (meters are often reached through other ports).
//! Cleartext, unless an APDU is a ciphered one (glo-, ded- or general
//! ciphering, DLMS security suites): then encrypted.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Dlms;

const PORT: u16 = 4059;
const FLAG: u8 = 0x7e;
const WRAPPER_VERSION: [u8; 2] = [0x00, 0x01];
const WRAPPER: usize = 8;

/// The APDU tags DLMS/COSEM defines that may open an APDU: ACSE (AARQ,
/// AARE, RLRQ, RLRE), xDLMS services, their ciphered forms.
fn known_apdu(tag: u8) -> bool {
    matches!(tag, 0x01 | 0x08 | 0x0e | 0x0f | 0x21 | 0x28 | 0x60..=0x63 | 0xc0..=0xdd)
}

fn ciphered_apdu(tag: u8) -> bool {
    matches!(tag, 0x21 | 0x28 | 0xc8..=0xd7 | 0xdb..=0xdd)
}

/// Skips an HDLC address (1, 2 or 4 bytes, the last with bit 0 set).
fn address(d: &[u8]) -> Option<&[u8]> {
    let n = d.iter().take(4).position(|&b| b & 1 == 1)? + 1;
    if n == 3 {
        return None;
    }
    d.get(n..)
}

/// `Some(Some((frame length, ciphered)))` for a whole HDLC frame at the
/// start of `d`, `Some(None)` for a prefix, `None` when it is not one.
fn hdlc_frame(d: &[u8]) -> Option<Option<(usize, bool)>> {
    if *d.first()? != FLAG || d.get(1).is_some_and(|&b| b >> 4 != 0xa) {
        return None;
    }
    let Some(f) = d.get(1..3) else { return Some(None) };
    let len = usize::from(u16::from_be_bytes([f[0] & 0x07, f[1]]));
    // Format (2), two addresses (>= 1 each), control, check sequence (2).
    if len < 7 {
        return None;
    }
    let Some(frame) = d.get(1..1 + len + 1) else {
        return Some(None);
    };
    if frame[len] != FLAG {
        return None;
    }
    let body = &frame[2..len];
    let rest = address(address(body)?)?;
    let control = *rest.first()?;
    // An I-frame with information: HCS (2), LLC (E6 E6/E7 00), the APDU.
    let ciphered = control & 1 == 0
        && rest.get(3..6).is_some_and(|llc| llc[0] == 0xe6 && llc[2] == 0x00)
        && rest.get(6).is_some_and(|&t| ciphered_apdu(t));
    Some(Some((len + 2, ciphered)))
}

/// HDLC frames back to back: `Some(Some(ciphered))` once at least one is
/// whole and every one so far is valid, `Some(None)` a prefix, `None`
/// not HDLC. With `exact` (a datagram) the frames must fill `d`.
fn hdlc(d: &[u8], exact: bool) -> Option<Option<bool>> {
    let mut rest = d;
    let mut seen: Option<bool> = None;
    while !rest.is_empty() {
        match hdlc_frame(rest)? {
            None if exact => return None,
            None => break,
            Some((n, c)) => {
                seen = Some(seen.unwrap_or(false) | c);
                rest = &rest[n..];
            }
        }
    }
    Some(seen)
}

/// `Some(Some(ciphered))` for a whole wrapped APDU, `Some(None)` a
/// prefix, `None` not the wrapper. With `exact`, `d` must end with it.
fn wrapper(d: &[u8], exact: bool) -> Option<Option<bool>> {
    let n = d.len().min(2);
    if d[..n] != WRAPPER_VERSION[..n] {
        return None;
    }
    let Some(h) = d.get(..WRAPPER) else {
        return (!exact).then_some(None);
    };
    let len = usize::from(u16::from_be_bytes([h[6], h[7]]));
    if len == 0 || (exact && WRAPPER + len != d.len()) {
        return None;
    }
    let Some(&tag) = d.get(WRAPPER) else { return Some(None) };
    if !known_apdu(tag) {
        return None;
    }
    Some((d.len() >= WRAPPER + len).then_some(ciphered_apdu(tag)))
}

/// A side's first datagram (UDP) or its stream (TCP).
fn side(s: Side<'_>, udp: bool) -> &[u8] {
    if udp {
        s.first()
    } else {
        s.stream()
    }
}

impl Dissector for Dlms {
    fn name(&self) -> &'static str {
        "dlms"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        let wrapped = p.port(PORT) && wrapper(d, false).is_some();
        if wrapped || hdlc_frame(d).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits the wrapper version's 0 (`wrapper`) or the HDLC
    /// flag 0x7e (`hdlc_frame`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[WRAPPER_VERSION[0], FLAG]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let udp = p.transport == Transport::Udp;
        let d = side(p.first_side(), udp);
        if d.is_empty() {
            return p.undecided();
        }
        let (framing, ciphered) = if d.first() == Some(&FLAG) {
            let first = match hdlc(d, udp) {
                None => return Parse::NotMine,
                Some(None) => return p.undecided(),
                Some(Some(c)) => c,
            };
            if p.port(PORT) {
                ("hdlc", first)
            } else {
                match hdlc(side(p.second_side(), udp), udp) {
                    Some(Some(c)) => ("hdlc", first | c),
                    None => return Parse::NotMine,
                    Some(None) => return p.undecided(),
                }
            }
        } else {
            if !p.port(PORT) {
                return Parse::NotMine;
            }
            match wrapper(d, udp) {
                None => return Parse::NotMine,
                Some(None) => return p.undecided(),
                Some(Some(c)) => ("wrapper", c),
            }
        };
        meta.protocol = Some("dlms");
        meta.encryption = if ciphered {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        meta.set_extra("dlms_framing", framing);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // dlms.pcap: the client's SNRM and the meter's UA (with its HDLC
    // parameters), on TCP port 4060.
    const SNRM: [u8; 9] = [0x7e, 0xa0, 0x07, 0x03, 0x21, 0x93, 0x0f, 0x01, 0x7e];
    const UA: [u8; 32] = [
        0x7e, 0xa0, 0x1e, 0x21, 0x03, 0x73, 0xc3, 0x7a, 0x81, 0x80, 0x12, 0x05, 0x01, 0x80, 0x06, 0x01, 0x80, 0x07,
        0x04, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00, 0x00, 0x01, 0x53, 0x3b, 0x7e,
    ];
    // A wrapped get-request (client wPort 16, logical device 1).
    const GET: [u8; 21] = [
        0x00, 0x01, 0x00, 0x10, 0x00, 0x01, 0x00, 0x0d, 0xc0, 0x01, 0xc1, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00,
        0xff, 0x02, 0x00,
    ];

    #[test]
    fn hdlc_and_wrapper() {
        let (r, m) = check_split_tcp(&Dlms, 4060, &SNRM, &UA);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dlms"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dlms_framing"), Some("hdlc"));
        // dlms.pcap also has HDLC frames in datagrams to 4059.
        let (r, _) = check_split_udp(&Dlms, 40000, PORT, &[&SNRM], &[]);
        assert_eq!(r, Parse::Done);
        let (r, m) = check_split_udp(&Dlms, 40000, PORT, &[&GET], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("dlms_framing"), Some("wrapper"));
        let mut glo = GET;
        glo[8] = 0xc8;
        let (_, m) = check_split_udp(&Dlms, 40000, PORT, &[&glo], &[]);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_dlms() {
        let mut flag = UA;
        flag[31] = 0x7f;
        let mut format = UA;
        format[1] = 0xb0;
        let mut tag = GET;
        tag[8] = 0x99;
        // HDLC off the port without an answer; the answer not HDLC.
        for (port, o, r) in [
            (4060, &SNRM[..], &[][..]),
            (4060, &SNRM[..], &flag[..]),
            (PORT, &format[..], &[][..]),
        ] {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, port, o, r, &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Dlms, &p);
            assert!(!claimed, "{port} {o:?}");
        }
        for (port, d) in [(4060, &GET[..]), (PORT, &tag[..]), (PORT, &GET[..20])] {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Dlms, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
