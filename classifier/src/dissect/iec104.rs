//! IEC 60870-5-104 (telecontrol over TCP) on port 2404 (either side).
//! Every APDU starts with 0x68 and a length of 4..=253 covering the
//! four control bytes and the ASDU. The control field is an I-format
//! (bit 0 clear), an S-format (0x01, 0x00, then the receive sequence
//! number) or a U-format frame (STARTDT, STOPDT or TESTFR, act or con,
//! and three zero bytes; no ASDU).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Iec104;

const PORT: u16 = 2404;
const START: u8 = 0x68;

/// `Some(Some(format))` for a whole first APDU, `Some(None)` for a
/// prefix of one, `None` when `d` is not IEC 104.
fn apdu(d: &[u8]) -> Option<Option<&'static str>> {
    if *d.first()? != START {
        return None;
    }
    let Some(&len) = d.get(1) else { return Some(None) };
    let len = usize::from(len);
    if !(4..=253).contains(&len) {
        return None;
    }
    let Some(ctrl) = d.get(2..6) else {
        return Some(None);
    };
    let format = if ctrl[0] & 0x01 == 0 {
        (len > 4).then_some("i")
    } else if ctrl[0] & 0x03 == 0x01 {
        (ctrl[0] == 0x01 && ctrl[1] == 0 && len == 4).then_some("s")
    } else {
        let function = matches!(ctrl[0], 0x07 | 0x0b | 0x13 | 0x23 | 0x43 | 0x83);
        (function && ctrl[1..] == [0, 0, 0] && len == 4).then_some("u")
    }?;
    Some((d.len() >= 2 + len).then_some(format))
}

impl Dissector for Iec104 {
    fn name(&self) -> &'static str {
        "iec104"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let s = p.first_side().stream();
        if p.port(PORT) && (s.is_empty() || apdu(s).is_some()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only an APDU's start byte 0x68 (`apdu`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[START]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let s = p.first_side().stream();
        let format = match apdu(s) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(f)) => f,
        };
        meta.protocol = Some("iec104");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("iec104_format", format);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    #[test]
    fn startdt_and_interrogation() {
        let startdt = [0x68u8, 0x04, 0x07, 0x00, 0x00, 0x00];
        let (r, m) = check_split_tcp(&Iec104, PORT, &startdt, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("iec104"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("iec104_format"), Some("u"));
        // I-format C_IC_NA_1 (general interrogation).
        let gi = [
            0x68u8, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x64, 0x01, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x14,
        ];
        let (r, m) = check_split_tcp(&Iec104, PORT, &gi, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("iec104_format"), Some("i"));
    }

    #[test]
    fn not_iec104() {
        let cases: [(u16, &[u8]); 5] = [
            (9999, &[0x68, 0x04, 0x07, 0, 0, 0]),
            (PORT, &[0x68, 0x02, 0x07, 0, 0, 0]),
            (PORT, &[0x68, 0x04, 0x0f, 0, 0, 0]),
            (PORT, &[0x68, 0x04, 0x01, 0x01, 0, 0]),
            (PORT, b"GET / HTTP/1.1\r\n"),
        ];
        for (port, d) in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, port, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Iec104, &p);
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
