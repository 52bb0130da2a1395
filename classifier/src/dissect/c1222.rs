//! ANSI C12.22 (IEEE 1703), metering messages over IP, on port 1153
//! (either side; UDP or TCP). A message is an ACSE APDU: BER tag 0x60
//! and a length that covers the rest exactly; inside, context-tagged
//! ACSE elements (application context, called and calling AP titles,
//! AE qualifiers, invocation ids, the calling authentication value)
//! whose BER lengths tile the APDU, one of them the user information
//! (0xBE) holding an EXTERNAL (0x28) with an octet-aligned (0x81)
//! EPSEM. The EPSEM's first byte carries the security mode (bits 3-2):
//! 0 cleartext, 1 cleartext with authentication, 2 ciphertext with
//! authentication. The flow is encrypted in mode 2, cleartext otherwise.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct C1222;

const PORT: u16 = 1153;
const ACSE: u8 = 0x60;
const USER_INFORMATION: u8 = 0xbe;

/// A BER tag-length header at the start of `d`: (tag, header length,
/// content length). Definite lengths up to two length bytes.
fn tlv(d: &[u8]) -> Option<(u8, usize, usize)> {
    let (&tag, &l) = (d.first()?, d.get(1)?);
    match l {
        0..=0x7f => Some((tag, 2, usize::from(l))),
        0x81 => Some((tag, 3, usize::from(*d.get(2)?))),
        0x82 => Some((tag, 4, usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?])))),
        _ => None,
    }
}

/// The element's content when `d` is exactly one element of tag `tag`.
fn only(d: &[u8], tag: u8) -> Option<&[u8]> {
    let (t, h, n) = tlv(d)?;
    (t == tag && h.checked_add(n)? == d.len()).then(|| &d[h..])
}

/// The ACSE elements C12.22 uses (ANSI C12.22 / IEEE 1703 table).
fn acse_element(tag: u8) -> bool {
    matches!(tag, 0xa1..=0xa4 | 0xa6..=0xa9 | 0x8a | 0x8b | 0xac | USER_INFORMATION)
}

/// The EPSEM flags byte when `apdu` is one whole C12.22 ACSE APDU.
fn epsem_flags(apdu: &[u8]) -> Option<u8> {
    let mut body = only(apdu, ACSE)?;
    let mut flags = None;
    while !body.is_empty() {
        let (tag, h, n) = tlv(body)?;
        let end = h.checked_add(n)?;
        let element = body.get(..end)?;
        if !acse_element(tag) {
            return None;
        }
        if tag == USER_INFORMATION {
            let external = only(element, USER_INFORMATION)?;
            let octets = only(only(external, 0x28)?, 0x81)?;
            // Bit 7 of the EPSEM control byte is always set.
            flags = Some(*octets.first().filter(|&&f| f & 0x80 != 0)?);
        }
        body = &body[end..];
    }
    flags
}

/// `Some(Some(flags))` for a whole first APDU, `Some(None)` for a prefix
/// of one, `None` when `d` is not C12.22.
fn first_apdu(d: &[u8], exact: bool) -> Option<Option<u8>> {
    if d.first().is_some_and(|&t| t != ACSE) {
        return None;
    }
    let Some((_, h, n)) = tlv(d) else {
        return (!exact && d.len() < 4).then_some(None);
    };
    let end = h.checked_add(n)?;
    if exact && end != d.len() {
        return None;
    }
    match d.get(..end) {
        Some(apdu) => epsem_flags(apdu).map(Some),
        None => Some(None),
    }
}

impl Dissector for C1222 {
    fn name(&self) -> &'static str {
        "c1222"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().first().is_none_or(|&t| t == ACSE) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the ACSE tag 0x60.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[ACSE]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let exact = p.transport == Transport::Udp;
        let d = if exact {
            p.first_payload()
        } else {
            p.first_side().stream()
        };
        if d.is_empty() {
            return p.undecided();
        }
        let flags = match first_apdu(d, exact) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(f)) => f,
        };
        let mode = (flags >> 2) & 3;
        meta.protocol = Some("c1222");
        meta.encryption = if mode == 2 {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        let name = match mode {
            0 => "cleartext",
            1 => "authenticated",
            2 => "ciphertext",
            _ => "reserved",
        };
        meta.set_extra("c1222_security_mode", name);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // c1222.pcapng, UDP: called and calling AP titles, calling AP
    // invocation id, then a cleartext EPSEM (flags 0x80, one service).
    const UDP_MSG: [u8; 50] = [
        0x60, 0x30, 0xa2, 0x0f, 0x06, 0x0d, 0x60, 0x7c, 0x86, 0xf7, 0x54, 0x01, 0x16, 0x00, 0x01, 0x01, 0x40, 0xce,
        0x11, 0xa6, 0x0e, 0x06, 0x0c, 0x60, 0x7c, 0x86, 0xf7, 0x54, 0x01, 0x16, 0x00, 0x01, 0x01, 0x40, 0x21, 0xa8,
        0x04, 0x02, 0x02, 0x0f, 0x89, 0xbe, 0x07, 0x28, 0x05, 0x81, 0x03, 0x80, 0x01, 0x20,
    ];
    // c1222.pcapng, TCP: the same elements plus a calling authentication
    // value (key id, IV), and an EPSEM in ciphertext mode (flags 0x88).
    const TCP_MSG: [u8; 73] = [
        0x60, 0x47, 0xa2, 0x11, 0x06, 0x0f, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x85, 0x63, 0x8e, 0x7f, 0x85, 0xf1,
        0xc2, 0x4e, 0x00, 0xa6, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x85, 0x63, 0xa8, 0x06, 0x02,
        0x04, 0x13, 0xe8, 0x14, 0x21, 0xac, 0x0f, 0xa2, 0x0d, 0xa0, 0x0b, 0xa1, 0x09, 0x80, 0x01, 0x00, 0x81, 0x04,
        0x4c, 0x97, 0xf4, 0x89, 0xbe, 0x0d, 0x28, 0x0b, 0x81, 0x09, 0x88, 0x65, 0xf1, 0xe2, 0x71, 0xa7, 0x1f, 0x7f,
        0x27,
    ];

    #[test]
    fn cleartext_and_ciphertext_epsem() {
        let (r, m) = check_split_udp(&C1222, 55092, PORT, &[&UDP_MSG], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("c1222"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("c1222_security_mode"), Some("cleartext"));
        let (r, m) = check_split_tcp(&C1222, PORT, &TCP_MSG, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("c1222_security_mode"), Some("ciphertext"));
    }

    #[test]
    fn not_c1222() {
        let mut long = UDP_MSG.to_vec();
        long.push(0);
        let mut element = UDP_MSG;
        element[2] = 0xa5;
        let mut tiling = UDP_MSG;
        tiling[3] = 0x10;
        let mut external = UDP_MSG;
        external[43] = 0x30;
        let mut flags = UDP_MSG;
        flags[47] = 0x00;
        let cases: [(u16, &[u8]); 6] = [
            (1154, &UDP_MSG),
            (PORT, &long),
            (PORT, &element),
            (PORT, &tiling),
            (PORT, &external),
            (PORT, &flags),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&C1222, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
