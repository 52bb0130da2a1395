//! Service Location Protocol on port 427 (either side), UDP or TCP.
//!
//! Version 2 (RFC 2608 section 8): version 2, function id 1..=11, a
//! 24-bit length of the whole message, flags (three bits, the rest
//! zero), a 24-bit next-extension offset, XID, and a language tag with
//! its 16-bit length. Version 1 (RFC 2165 section 7): version 1, function
//! id 1..=10, a 16-bit length, flags (the low three bits zero), dialect
//! 0, a two-letter language code, character encoding, XID. Over UDP the
//! length must be the datagram's; over TCP the message must fit what the
//! stream carried once complete.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Slp;

const PORT: u16 = 427;
const V2_HEADER: usize = 14;
const V1_HEADER: usize = 12;

/// What the header says: (version, function, message length).
fn header(d: &[u8]) -> Option<(u8, u8, usize)> {
    match *d.first()? {
        2 => {
            let function = *d.get(1)?;
            let len = usize::from(*d.get(2)?) << 16 | usize::from(*d.get(3)?) << 8 | usize::from(*d.get(4)?);
            let flags = u16::from_be_bytes([*d.get(5)?, *d.get(6)?]);
            let lang_len = usize::from(u16::from_be_bytes([*d.get(12)?, *d.get(13)?]));
            let lang = d.get(V2_HEADER..V2_HEADER + lang_len)?;
            let lang_ok = (1..=64).contains(&lang_len)
                && lang.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                && lang[0].is_ascii_alphabetic();
            let ok = (1..=11).contains(&function) && flags & 0x1fff == 0 && lang_ok && len >= V2_HEADER + lang_len;
            ok.then_some((2, function, len))
        }
        1 => {
            let function = *d.get(1)?;
            let len = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
            let flags = *d.get(4)?;
            let dialect = *d.get(5)?;
            let lang = d.get(6..8)?;
            let ok = (1..=10).contains(&function)
                && flags & 0x07 == 0
                && dialect == 0
                && lang.iter().all(u8::is_ascii_alphabetic)
                && len >= V1_HEADER
                && d.len() >= V1_HEADER;
            ok.then_some((1, function, len))
        }
        _ => None,
    }
}

/// `Some(true)`: a whole SLP message; `Some(false)`: a TCP prefix that
/// may still become one; `None`: not SLP.
fn message(d: &[u8], transport: Transport) -> Option<bool> {
    if transport == Transport::Tcp && d.len() < V2_HEADER {
        // Too short to tell yet; the version byte must still fit.
        return matches!(d.first(), None | Some(1 | 2)).then_some(false);
    }
    let (_, _, len) = match header(d) {
        Some(h) => h,
        // A TCP v2 header whose language tag has not arrived yet.
        None if transport == Transport::Tcp && d.first() == Some(&2) && d.len() < V2_HEADER + 64 => {
            return header_prefix_ok(d).then_some(false);
        }
        None => return None,
    };
    match transport {
        Transport::Udp => (len == d.len()).then_some(true),
        Transport::Tcp => Some(d.len() >= len),
    }
}

/// The fixed part of a v2 header is sane (the language tag is cut off).
fn header_prefix_ok(d: &[u8]) -> bool {
    let function_ok = d.get(1).is_some_and(|f| (1..=11).contains(f));
    let flags_ok = d
        .get(5..7)
        .is_some_and(|f| u16::from_be_bytes([f[0], f[1]]) & 0x1fff == 0);
    function_ok && flags_ok
}

fn function_name(f: u8) -> &'static str {
    match f {
        1 => "SrvRqst",
        2 => "SrvRply",
        3 => "SrvReg",
        4 => "SrvDeReg",
        5 => "SrvAck",
        6 => "AttrRqst",
        7 => "AttrRply",
        8 => "DAAdvert",
        9 => "SrvTypeRqst",
        10 => "SrvTypeRply",
        11 => "SAAdvert",
        _ => "other",
    }
}

fn opening<'a>(p: &Payloads<'a>) -> &'a [u8] {
    match p.transport {
        Transport::Udp => p.first_payload(),
        Transport::Tcp => p.first_side().stream(),
    }
}

impl Dissector for Slp {
    fn name(&self) -> &'static str {
        "slp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && message(opening(p), p.transport).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// `message` and `header` admit only versions 1 and 2.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[1, 2]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = opening(p);
        match message(d, p.transport) {
            None => return Parse::NotMine,
            Some(false) => return p.undecided(),
            Some(true) => {}
        }
        let Some((version, function, _)) = header(d) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("slp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("slp_version", version.to_string());
        meta.set_extra("slp_function", function_name(function));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// A v2 message: header with language tag "en", then `body`.
    fn v2(function: u8, body: &[u8]) -> Vec<u8> {
        let len = V2_HEADER + 2 + body.len();
        let mut v = vec![
            2,
            function,
            0,
            (len >> 8) as u8,
            len as u8,
            0x20,
            0,
            0,
            0,
            0,
            0x12,
            0x34,
            0,
            2,
        ];
        v.extend_from_slice(b"en");
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn v2_request_over_udp_and_tcp() {
        let q = v2(1, b"\x00\x00\x00\x0eservice:printer\x00\x07DEFAULT\x00\x00\x00\x00");
        let (r, m) = check_split_udp(&Slp, 40000, 427, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("slp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("slp_version"), Some("2"));
        assert_eq!(m.extra("slp_function"), Some("SrvRqst"));
        let (r, m) = check_split_tcp(&Slp, 427, &q, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("slp_function"), Some("SrvRqst"));
    }

    #[test]
    fn v1_attribute_request() {
        let mut q = vec![1, 6, 0, 0, 0, 0, b'e', b'n', 0, 3, 0x1d, 0x79];
        q.extend_from_slice(b"\x00\x05(x=1)");
        let len = q.len() as u16;
        q[2..4].copy_from_slice(&len.to_be_bytes());
        let (r, m) = check_split_udp(&Slp, 40000, 427, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("slp_version"), Some("1"));
        assert_eq!(m.extra("slp_function"), Some("AttrRqst"));
    }

    #[test]
    fn not_slp() {
        let good = v2(9, b"\xff\xff\x00\x07DEFAULT");
        let mut short_len = good.clone();
        short_len[4] -= 1;
        let mut bad_flags = good.clone();
        bad_flags[6] = 1;
        let mut bad_function = good.clone();
        bad_function[1] = 12;
        let mut bad_lang = good.clone();
        bad_lang[14] = 0xc3;
        let cases: [(u16, Vec<u8>); 6] = [
            (9999, good.clone()),
            (427, short_len),
            (427, bad_flags),
            (427, bad_function),
            (427, bad_lang),
            (427, b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[&d], &[]);
            let claimed = crate::dissect::not_refused(&Slp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
        let (r, _) = check_split_udp(&Slp, 40000, 427, &[&good], &[]);
        assert_eq!(r, Parse::Done);
    }
}
