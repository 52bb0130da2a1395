//! Apache Thrift RPC messages, over TCP or UDP on any port.
//!
//! Two encodings of the message header are recognised (Thrift's binary
//! and compact protocol specifications):
//! - binary, strict: `0x80 0x01`, `0x00`, the message type (1 call,
//!   2 reply, 3 exception, 4 oneway), the method name as a 32-bit length
//!   and its bytes, a 32-bit sequence id; on TCP possibly framed (a
//!   32-bit length of the message first);
//! - compact: `0x82`, a byte holding the type (high 3 bits) and version
//!   1 (low 5 bits), the sequence id and the name length as varints, the
//!   name.
//!
//! The arguments struct follows: its first byte must be a field header
//! of a known type, or the stop byte. The method name must be 1 to 128
//! identifier characters (letters, digits, `_`, `.`, `:`). Taken as
//! Thrift: the opener's first message is a call or a oneway call with
//! such a header; on TCP, when the other side has answered, its first
//! message must be a reply or an exception for the same method and
//! sequence id.
//!
//! Thrift has no encryption of its own (Thrift over TLS is the TLS
//! dissector's): cleartext.

use super::text::to_string;
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Thrift;

const CALL: u8 = 1;
const REPLY: u8 = 2;
const EXCEPTION: u8 = 3;
const ONEWAY: u8 = 4;
const MAX_NAME: usize = 128;
/// Largest frame accepted (the default limit of Thrift's servers).
const MAX_FRAME: u32 = 16 << 20;
const VALUE_MAX: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Header<'a> {
    kind: u8,
    name: &'a [u8],
    seq: u32,
    compact: bool,
    framed: bool,
}

/// `Err(true)`: a prefix of a header, more bytes needed.
type Res<T> = Result<T, bool>;

fn byte(d: &[u8], i: usize) -> Res<u8> {
    d.get(i).copied().ok_or(true)
}

fn be32(d: &[u8], i: usize) -> Res<u32> {
    let b = d.get(i..i + 4).ok_or(true)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// An unsigned varint of at most 5 bytes at `*off`.
fn varint(d: &[u8], off: &mut usize) -> Res<u32> {
    let mut v = 0u32;
    for i in 0..5 {
        let b = byte(d, *off + i)?;
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *off += i + 1;
            return Ok(v);
        }
    }
    Err(false)
}

/// The name of `len` bytes at `off`, checked as far as it has arrived.
fn name_at(d: &[u8], off: usize, len: usize) -> Res<&[u8]> {
    if len == 0 || len > MAX_NAME {
        return Err(false);
    }
    let have = &d[off.min(d.len())..d.len().min(off + len)];
    if !have
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
    {
        return Err(false);
    }
    if have.len() < len {
        return Err(true);
    }
    Ok(have)
}

/// The binary protocol header at `off`; the offset after it.
fn binary(d: &[u8], off: usize, framed: bool) -> Res<(Header<'_>, usize)> {
    if byte(d, off)? != 0x80 || byte(d, off + 1)? != 0x01 || byte(d, off + 2)? != 0 {
        return Err(false);
    }
    let kind = byte(d, off + 3)?;
    if !(CALL..=ONEWAY).contains(&kind) {
        return Err(false);
    }
    let len = be32(d, off + 4)? as usize;
    let name = name_at(d, off + 8, len)?;
    let seq = be32(d, off + 8 + len)?;
    let end = off + 12 + len;
    // The struct's first field type (or the stop byte).
    let t = byte(d, end)?;
    if !matches!(t, 0 | 2 | 3 | 4 | 6 | 8 | 10 | 11 | 12 | 13 | 14 | 15) {
        return Err(false);
    }
    let h = Header {
        kind,
        name,
        seq,
        compact: false,
        framed,
    };
    Ok((h, end))
}

/// The compact protocol header at the start of `d`.
fn compact(d: &[u8]) -> Res<Header<'_>> {
    if byte(d, 0)? != 0x82 {
        return Err(false);
    }
    let b = byte(d, 1)?;
    let kind = b >> 5;
    if b & 0x1f != 1 || !(CALL..=ONEWAY).contains(&kind) {
        return Err(false);
    }
    let mut off = 2;
    let seq = varint(d, &mut off)?;
    let len = varint(d, &mut off)? as usize;
    let name = name_at(d, off, len)?;
    // The struct's first field header: a type of 1 to 12, or stop.
    let f = byte(d, off + len)?;
    if f != 0 && !(1..=12).contains(&(f & 0x0f)) {
        return Err(false);
    }
    Ok(Header {
        kind,
        name,
        seq,
        compact: true,
        framed: false,
    })
}

/// The first message header of `d`, in whichever encoding it is.
fn header(d: &[u8], tcp: bool) -> Res<Header<'_>> {
    match byte(d, 0)? {
        0x80 => binary(d, 0, false).map(|x| x.0),
        0x82 => compact(d),
        // A frame length: at most MAX_FRAME, so its first byte is 0.
        0 if tcp => {
            let n = be32(d, 0)?;
            if !(13..=MAX_FRAME).contains(&n) {
                return Err(false);
            }
            let (h, end) = binary(d, 4, true)?;
            if end - 4 >= n as usize {
                return Err(false);
            }
            Ok(h)
        }
        _ => Err(false),
    }
}

impl Dissector for Thrift {
    fn name(&self) -> &'static str {
        "thrift"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            None | Some(0x80 | 0x82) => Probe::Maybe,
            Some(0) if p.transport == Transport::Tcp => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    /// A compact (0x82) or strict binary (0x80) message, or, on TCP, the
    /// zero top byte of a framed message's length.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0, 0x80, 0x82]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let tcp = p.transport == Transport::Tcp;
        let first = if tcp {
            p.first_side().stream()
        } else {
            p.first_payload()
        };
        let h = match header(first, tcp) {
            Ok(h) if h.kind == CALL || h.kind == ONEWAY => h,
            Ok(_) | Err(false) => return Parse::NotMine,
            Err(true) => return p.undecided(),
        };
        let answered = if tcp {
            match header(p.second_side().stream(), tcp) {
                Ok(a) if matches!(a.kind, REPLY | EXCEPTION) && a.name == h.name && a.seq == h.seq => true,
                Ok(_) | Err(false) => return Parse::NotMine,
                Err(true) => false,
            }
        } else {
            false
        };
        meta.protocol = Some("thrift");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("thrift_method", to_string(h.name, VALUE_MAX));
        meta.set_extra("thrift_encoding", if h.compact { "compact" } else { "binary" });
        if h.framed {
            meta.set_extra("thrift_framed", "true");
        }
        if answered || !tcp {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, unhex, UdpFixture};

    /// thrift.pcap, 169.254.59.247:53387 → 169.254.46.4:11010: a call of
    /// `anonymous_command_on` (binary protocol) and its reply.
    const CALL_HEX: &str = "8001000100000014616e6f6e796d6f75735f636f6d6d616e645f6f6e000000000800010000000000";
    const REPLY_HEX: &str =
        "8001000200000014616e6f6e796d6f75735f636f6d6d616e645f6f6e000000000b00000000000845584a6567645a4100";
    /// thrift.pcap, 127.0.0.1:49164 → 127.0.0.1:6831 (UDP, a Jaeger
    /// agent): the start of a compact-protocol oneway `emitBatch`.
    const EMIT_HEX: &str = "8281b2810109656d697442617463681c1c18186d61747269782e6f726720746573745f776f726b65722d31193c";

    #[test]
    fn binary_call_and_reply() {
        let c = unhex(CALL_HEX);
        let s = unhex(REPLY_HEX);
        let (r, m) = check_split_tcp(&Thrift, 11010, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("thrift"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("thrift_method"), Some("anonymous_command_on"));
        assert_eq!(m.extra("thrift_encoding"), Some("binary"));
        assert_eq!(m.extra("thrift_framed"), None);
        let (r, _) = check_split_tcp(&Thrift, 11010, &c, b"");
        assert_eq!(r, Parse::Identified);
        // Framed: the same messages behind their lengths.
        let frame = |m: &[u8]| [(m.len() as u32).to_be_bytes().as_slice(), m].concat();
        let (r, m) = check_split_tcp(&Thrift, 9090, &frame(&c), &frame(&s));
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("thrift_framed"), Some("true"));
    }

    #[test]
    fn compact_oneway_over_udp() {
        let d = unhex(EMIT_HEX);
        let (r, m) = check_split_udp(&Thrift, 49164, 6831, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("thrift_method"), Some("emitBatch"));
        assert_eq!(m.extra("thrift_encoding"), Some("compact"));
    }

    #[test]
    fn not_thrift() {
        let c = unhex(CALL_HEX);
        let s = unhex(REPLY_HEX);
        let m = |i: usize, v: u8| {
            let mut x = c.clone();
            x[i] = v;
            x
        };
        let mut other_seq = s.clone();
        other_seq[31] = 7;
        let cases: [(Vec<u8>, Vec<u8>); 8] = [
            (m(1, 2), vec![]),
            (m(3, 2), vec![]),
            (m(3, 5), vec![]),
            (m(7, 0), vec![]),
            (m(10, b' '), vec![]),
            (m(32, 0x07), vec![]),
            (c.clone(), c.clone()),
            (c.clone(), other_seq),
        ];
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 11010, o, r, &ends);
            assert!(!not_refused(&Thrift, &p), "{o:02x?}");
        }
        let d = unhex(EMIT_HEX);
        let mut version = d.clone();
        version[1] = 0x82;
        let mut field = d.clone();
        field[15] = 0x1e;
        for x in [version, field] {
            let f = UdpFixture::new(49164, 6831, &[&x], &[]);
            assert!(!not_refused(&Thrift, &f.payloads()), "{x:02x?}");
        }
    }
}
