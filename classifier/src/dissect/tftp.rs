//! TFTP (RFC 1350, options RFC 2347..2349, 7440). Requests go to UDP
//! port 69: op code 1 (read) or 2 (write), a file name and a transfer
//! mode (`netascii`, `octet` or `mail`, any case), each NUL-terminated,
//! then option name/value pairs. The transfer itself runs between two
//! other ports, so it is recognised by its shape alone: an option
//! acknowledgement (op code 6, known option names only), or the first
//! data block (op code 3, block 1, at most 512 bytes + header unless
//! `blksize` was negotiated) answered by its 4-byte ack (op code 4,
//! block 1), or the ack of block 0 that opens a write, answered by data
//! block 1. Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Tftp;

const PORT: u16 = 69;
const RRQ: u8 = 1;
const WRQ: u8 = 2;
const DATA: u8 = 3;
const ACK: u8 = 4;
const ERROR: u8 = 5;
const OACK: u8 = 6;
const MODES: [&str; 3] = ["netascii", "octet", "mail"];
const OPTIONS: [&str; 5] = ["blksize", "tsize", "timeout", "windowsize", "multicast"];
/// Largest block (`blksize` may go up to 65464) plus the 4-byte header.
const MAX_DATA: usize = 65464 + 4;
const NAME_MAX: usize = 128;

/// Splits `d` into NUL-terminated printable strings; `None` when a
/// string is not printable ASCII or the last is not terminated.
fn strings(d: &[u8]) -> Option<Vec<&str>> {
    if d.last() != Some(&0) {
        return None;
    }
    d[..d.len() - 1]
        .split(|&b| b == 0)
        .map(|s| {
            s.iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ')
                .then(|| std::str::from_utf8(s).ok())
                .flatten()
        })
        .collect()
}

/// Option pairs with known names and non-empty values.
fn options(o: &[&str]) -> bool {
    o.len().is_multiple_of(2)
        && o.chunks(2)
            .all(|kv| OPTIONS.iter().any(|n| n.eq_ignore_ascii_case(kv[0])) && !kv[1].is_empty())
}

/// A read or write request: the file name.
fn request(d: &[u8]) -> Option<&str> {
    let s = strings(d.get(2..)?)?;
    let (file, mode) = (s.first()?, s.get(1)?);
    let ok = matches!(d[..2], [0, RRQ] | [0, WRQ])
        && !file.is_empty()
        && MODES.iter().any(|m| m.eq_ignore_ascii_case(mode))
        && options(&s[2..]);
    ok.then_some(*file)
}

fn is_oack(d: &[u8]) -> bool {
    d.len() > 2 && d[..2] == [0, OACK] && strings(&d[2..]).is_some_and(|s| !s.is_empty() && options(&s))
}

fn is_error(d: &[u8]) -> bool {
    d.len() > 4 && d[..2] == [0, ERROR] && d[2] == 0 && d[3] <= 8 && strings(&d[4..]).is_some_and(|s| s.len() == 1)
}

fn is_data(d: &[u8], block: u16) -> bool {
    (4..=MAX_DATA).contains(&d.len()) && d[..2] == [0, DATA] && d[2..4] == block.to_be_bytes()
}

fn is_ack(d: &[u8], block: u16) -> bool {
    d.len() == 4 && d[..2] == [0, ACK] && d[2..4] == block.to_be_bytes()
}

/// What the first datagram could open, before any answer.
#[derive(PartialEq)]
enum Opening {
    Request,
    Oack,
    Error,
    Data,
    Ack0,
}

fn opening(d: &[u8], port69: bool) -> Option<Opening> {
    if port69 && request(d).is_some() {
        Some(Opening::Request)
    } else if port69 && is_error(d) {
        Some(Opening::Error)
    } else if is_oack(d) {
        Some(Opening::Oack)
    } else if is_data(d, 1) {
        Some(Opening::Data)
    } else if is_ack(d, 0) {
        Some(Opening::Ack0)
    } else {
        None
    }
}

impl Dissector for Tftp {
    fn name(&self) -> &'static str {
        "tftp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.len() >= 4 && d[0] == 0 && (1..=6).contains(&d[1]) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the op code's high byte 0.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let side = p.first_side();
        let other = p.second_side();
        let d = side.first();
        let Some(open) = opening(d, p.port(PORT)) else {
            return Parse::NotMine;
        };
        // Data and ack-0 openings need the matching answer.
        let answer = other.first();
        match open {
            Opening::Data | Opening::Ack0 if answer.is_empty() => return p.undecided(),
            Opening::Data if !is_ack(answer, 1) => return Parse::NotMine,
            Opening::Ack0 if !is_data(answer, 1) => return Parse::NotMine,
            _ => {}
        }
        meta.protocol = Some("tftp");
        meta.encryption = Encryption::Cleartext;
        let op = match open {
            Opening::Request if d[1] == RRQ => "read_request",
            Opening::Request => "write_request",
            Opening::Oack => "option_ack",
            Opening::Error => "error",
            Opening::Data => "data",
            Opening::Ack0 => "ack",
        };
        meta.set_extra("tftp_opcode", op);
        if let Some(file) = request(d) {
            let end = file.char_indices().nth(NAME_MAX).map_or(file.len(), |(i, _)| i);
            meta.set_extra("tftp_file", &file[..end]);
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn requests() {
        let rrq = b"\x00\x01rfc1350.txt\x00octet\x00";
        let (r, m) = check_split_udp(&Tftp, 50618, PORT, &[rrq], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tftp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("tftp_opcode"), Some("read_request"));
        assert_eq!(m.extra("tftp_file"), Some("rfc1350.txt"));
        let wrq = b"\x00\x02empty100KB\x00octet\x00blksize\x001468\x00tsize\x00102400\x00";
        let (r, m) = check_split_udp(&Tftp, 35840, PORT, &[wrq], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("tftp_opcode"), Some("write_request"));
    }

    #[test]
    fn transfers_between_other_ports() {
        let oack = b"\x00\x06blksize\x001468\x00tsize\x00100000\x00";
        let (r, m) = check_split_udp(&Tftp, 47649, 35840, &[oack], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("tftp_opcode"), Some("option_ack"));
        let mut data = b"\x00\x03\x00\x01".to_vec();
        data.extend_from_slice(&[0x1f; 512]);
        let ack0 = [0u8, 4, 0, 0];
        let (r, m) = check_split_udp(&Tftp, 62058, 44618, &[&ack0], &[&data]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("tftp_opcode"), Some("ack"));
        let (r, m) = check_split_udp(&Tftp, 3445, 50618, &[&data], &[&[0, 4, 0, 1]]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("tftp_opcode"), Some("data"));
    }

    #[test]
    fn not_tftp() {
        let data = b"\x00\x03\x00\x01hello";
        let cases: [(u16, &[u8], &[u8]); 6] = [
            (5000, b"\x00\x01a.txt\x00octet\x00", b""),
            (PORT, b"\x00\x01a.txt\x00binary\x00", b""),
            (PORT, b"\x00\x01a.txt\x00octet", b""),
            (5000, b"\x00\x06colour\x00red\x00", b""),
            (5000, data, b"\x00\x04\x00\x02"),
            (5000, &[0, 4, 0, 0], b"\x00\x03\x00\x02abc"),
        ];
        for (port, d, a) in cases {
            let resp: Vec<&[u8]> = if a.is_empty() { vec![] } else { vec![a] };
            let f = UdpFixture::new(40000, port, &[d], &resp);
            let claimed = crate::dissect::not_refused(&Tftp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
        // A data block alone waits for its ack, and is dropped at the end.
        let fixture = UdpFixture::new(40000, 5000, &[data], &[]);
        let mut f = fixture.payloads();
        assert_eq!(Tftp.parse(&f, &mut Meta::default()), Parse::NeedMore);
        f.last = true;
        assert_eq!(Tftp.parse(&f, &mut Meta::default()), Parse::NotMine);
    }
}
