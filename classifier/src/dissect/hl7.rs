//! HL7 version 2 messages over MLLP, the Minimal Lower Layer Protocol
//! (HL7 v2.x, Appendix C), over TCP on any port (2575 is registered,
//! 6661 and others are common; none is used here).
//!
//! MLLP wraps each message in a start byte 0x0b and the end bytes
//! 0x1c 0x0d. An HL7 v2 message opens with its MSH segment: `MSH`, the
//! field separator (MSH-1, usually `|`), four encoding characters
//! (MSH-2, usually `^~\&`: component, repetition, escape, subcomponent
//! separators), then fields up to the segment's end (CR). Taken as HL7:
//! a first message of the flow's first speaker that opens that way, with
//! separators that are distinct punctuation, whose MSH segment is whole
//! and carries a message type (MSH-9, e.g. `ADT^A01`: three upper-case
//! letters, then a trigger event) and a version (MSH-12) of 2.x. When
//! the other side has answered, its first bytes must be an MLLP-framed
//! MSH segment too (the ACK).
//!
//! HL7 v2 and MLLP have no encryption: cleartext.

use super::text::to_string;
use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Hl7;

const START: u8 = 0x0b;
/// Longest MSH segment waited for.
const MAX_MSH: usize = 2048;
const VALUE_MAX: usize = 32;

/// Whether `d` could still grow into (or starts with) the MLLP start, `MSH`
/// and the five separator characters.
fn opening(d: &[u8]) -> bool {
    const HEAD: &[u8] = &[START, b'M', b'S', b'H'];
    if !agrees(d, HEAD) {
        return false;
    }
    let seps = d.get(4..d.len().min(9)).unwrap_or_default();
    let distinct = seps.iter().enumerate().all(|(i, a)| !seps[..i].contains(a));
    distinct && seps.iter().all(|&b| b.is_ascii_punctuation())
}

/// The MSH segment's (message type, version), `Err(true)` while the
/// segment is incomplete.
fn msh(d: &[u8]) -> Result<(&[u8], &[u8]), bool> {
    if !opening(d) {
        return Err(false);
    }
    let window = &d[..d.len().min(MAX_MSH)];
    let Some(end) = window.iter().position(|&b| b == b'\r' || b == 0x1c) else {
        return Err(d.len() < MAX_MSH);
    };
    let seg = &d[1..end];
    let Some(&sep) = seg.get(3) else { return Err(false) };
    let Some(&component) = seg.get(4) else {
        return Err(false);
    };
    // Fields from MSH-2 on: split()[k] is MSH-(k+1).
    let fields: Vec<&[u8]> = seg.split(|&b| b == sep).take(12).collect();
    let (Some(kind), Some(version)) = (fields.get(8), fields.get(11)) else {
        return Err(false);
    };
    let mut parts = kind.split(|&b| b == component);
    let code = parts.next().unwrap_or_default();
    let code_ok = code.len() == 3 && code.iter().all(u8::is_ascii_uppercase);
    let version_ok = version.starts_with(b"2.") && version.len() <= 8;
    if !code_ok || !version_ok || !kind.iter().all(u8::is_ascii_graphic) {
        return Err(false);
    }
    Ok((kind, version))
}

impl Dissector for Hl7 {
    fn name(&self) -> &'static str {
        "hl7"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if opening(p.first_payload()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The MLLP start byte (`opening`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[START]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (kind, version) = match msh(p.first_side().stream()) {
            Ok(x) => x,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let answer = p.second_side().stream();
        let answered = match msh(answer) {
            Ok(_) => true,
            Err(_) if !opening(answer) => return Parse::NotMine,
            Err(_) => false,
        };
        meta.protocol = Some("hl7");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("hl7_message_type", to_string(kind, VALUE_MAX));
        meta.set_extra("hl7_version", to_string(version, VALUE_MAX));
        if answered {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// hl7.pcap, 10.0.0.155:49242 → 10.0.0.126:6661: the start of an
    /// ADT^A01 (MSH and EVN segments), and the whole ACK.
    const ADT: &[u8] = b"\x0bMSH|^~\\&|SENDING_APPLICATION|SENDING_FACILITY|RECEIVING_APPLICATION|RECEIVING_FACILITY|20110613083617||ADT^A01|934576120110613083617|P|2.3||||\rEVN|A01|20110613083617|||\r";
    const ACK: &[u8] = b"\x0bMSH|^~\\&|RECEIVING_APPLICATION|RECEIVING_FACILITY|SENDING_APPLICATION|SENDING_FACILITY|20180129192342.245||ACK|20180129192342.245|P|2.3\rMSA|AA|934576120110613083617\r\x1c\r";

    #[test]
    fn adt_and_ack() {
        let (r, m) = check_split_tcp(&Hl7, 6661, ADT, ACK);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("hl7"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("hl7_message_type"), Some("ADT^A01"));
        assert_eq!(m.extra("hl7_version"), Some("2.3"));
        let (r, _) = check_split_tcp(&Hl7, 6661, ADT, b"");
        assert_eq!(r, Parse::Identified);
        // The ACK's message type has no trigger event.
        let (r, m) = check_split_tcp(&Hl7, 6661, ACK, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("hl7_message_type"), Some("ACK"));
    }

    #[test]
    fn not_hl7() {
        let s = String::from_utf8_lossy(ADT);
        let no_start = ADT[1..].to_vec();
        let same_seps = s.replace("^~\\&", "^^\\&").into_bytes();
        let letter_sep = s.replace("^~\\&", "^~X&").into_bytes();
        let kind = s.replace("ADT^A01", "adt^A01").into_bytes();
        let version = s.replace("|P|2.3|", "|P|3.0|").into_bytes();
        let short = s.replace("|P|2.3||||", "").into_bytes();
        let cases: [(&[u8], &[u8]); 7] = [
            (&no_start, b""),
            (&same_seps, b""),
            (&letter_sep, b""),
            (&kind, b""),
            (&version, b""),
            (&short, b""),
            (ADT, b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 6661, o, r, &ends);
            assert!(!not_refused(&Hl7, &p), "{}", String::from_utf8_lossy(o));
        }
    }
}
