//! FIX, the Financial Information eXchange protocol (FIX Trading
//! Community, tag=value encoding) over TCP, on any port. Every message
//! starts with the same three fields, in this order, each ended by SOH
//! (0x01): BeginString `8=` (`FIX.4.x`, `FIXT.1.1`, or a venue's own
//! string), BodyLength `9=` (decimal) and MsgType `35=`. In the
//! standard encoding the BodyLength counts the bytes from after the
//! `9=` field up to the CheckSum field `10=nnn`, which ends the
//! message. Fields are in clear (a compressed or binary body is not a
//! cipher): cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Fix;

const SOH: u8 = 0x01;
const MAX_BEGIN: usize = 16;
const MAX_LENGTH_DIGITS: usize = 7;
const MAX_TYPE: usize = 4;

/// A field's value and the bytes after its SOH (or, for a header,
/// BeginString and MsgType).
type Pair<'a> = (&'a [u8], &'a [u8]);
/// `Ok(Some)` when complete, `Ok(None)` for a prefix, `Err` otherwise.
type Read<'a> = Result<Option<Pair<'a>>, ()>;

/// Reads `tag=value` + SOH at the start of `d` where the value satisfies
/// `ok` and has at most `max` bytes: `Ok(Some((value, rest)))`,
/// `Ok(None)` for a prefix of such a field, `Err` otherwise.
fn field<'a>(d: &'a [u8], tag: &[u8], max: usize, ok: fn(u8) -> bool) -> Read<'a> {
    if !agrees(d, tag) {
        return Err(());
    }
    let Some(rest) = d.get(tag.len()..) else {
        return Ok(None);
    };
    let v = rest.iter().take_while(|&&b| b != SOH).count();
    if v > max || !rest[..v].iter().all(|&b| ok(b)) {
        return Err(());
    }
    match rest.get(v) {
        None => Ok(None),
        Some(_) if v == 0 => Err(()),
        Some(_) => Ok(Some((&rest[..v], &rest[v + 1..]))),
    }
}

/// The header of a message opening `d`: BeginString and MsgType.
fn header(d: &[u8]) -> Read<'_> {
    let Some((begin, rest)) = field(d, b"8=", MAX_BEGIN, |b| b.is_ascii_graphic())? else {
        return Ok(None);
    };
    let Some((length, body)) = field(rest, b"9=", MAX_LENGTH_DIGITS, |b| b.is_ascii_digit())? else {
        return Ok(None);
    };
    let Some((kind, _)) = field(body, b"35=", MAX_TYPE, |b| b.is_ascii_alphanumeric())? else {
        return Ok(None);
    };
    // Standard FIX: the CheckSum field where BodyLength says.
    if begin.starts_with(b"FIX.") || begin.starts_with(b"FIXT.") {
        let len = length.iter().fold(0usize, |a, &c| a * 10 + usize::from(c - b'0'));
        if let Some(trailer) = body.get(len..) {
            let n = trailer.len().min(3);
            if trailer[..n] != b"10="[..n] {
                return Err(());
            }
        }
    }
    Ok(Some((begin, kind)))
}

impl Dissector for Fix {
    fn name(&self) -> &'static str {
        "fix"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if header(p.first_side().stream()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// `header` requires the BeginString tag `8=` first.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"8"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (begin, kind) = match header(p.first_side().stream()) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(x)) => x,
        };
        let other = p.second_side().stream();
        if !other.is_empty() && header(other).is_err() {
            return Parse::NotMine;
        }
        meta.protocol = Some("fix");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("fix_begin_string", String::from_utf8_lossy(begin).into_owned());
        meta.set_extra("fix_msg_type", String::from_utf8_lossy(kind).into_owned());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    #[test]
    fn logon_and_venue_variant() {
        // fix.pcap: a FIX.4.1 heartbeat-sized message with its checksum.
        let m = b"8=FIX.4.1\x019=14\x0135=1\x01112=farm\x0110=217\x01";
        let (r, meta) = check_split_tcp(&Fix, 4000, m, b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(meta.protocol, Some("fix"));
        assert_eq!(meta.encryption, Encryption::Cleartext);
        assert_eq!(meta.extra("fix_begin_string"), Some("FIX.4.1"));
        assert_eq!(meta.extra("fix_msg_type"), Some("1"));
        // fix.pcap's venue messages: BeginString "O", a binary body.
        let v = b"8=O\x019=0014\x0135=P\x01\x00\x38\x00\x00\x14\x8c\x51\x06\x83";
        let (r, meta) = check_split_tcp(&Fix, 4000, v, b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(meta.extra("fix_begin_string"), Some("O"));
    }

    #[test]
    fn not_fix() {
        let cases: [&[u8]; 5] = [
            b"8=FIX.4.1\x019=5\x0135=1\x01abcde11=x\x01",
            b"8=FIX.4.1\x0135=1\x01",
            b"8=FIX.4.1\x019=x\x0135=1\x01",
            b"9=12\x0135=1\x01",
            b"8=\x019=1\x0135=1\x01",
        ];
        for d in cases {
            let ends = [[d.len() as u32], [0]];
            let mut p = Payloads::tcp(40000, 4000, d, &[], &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Fix, &p);
            assert!(!claimed, "{d:?}");
        }
    }
}
