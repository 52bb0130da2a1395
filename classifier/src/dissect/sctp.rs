//! SCTP (RFC 9260): the transport is IP protocol 132 itself, so this is
//! not a [`super::Dissector`]; the engine calls [`identify`] on the
//! first payload of such a flow. A packet is a 12-byte common header
//! (source and destination ports, both non-zero; verification tag;
//! CRC32c checksum, not verified here) and chunks: a type, flags and a
//! length of at least 4 covering the chunk without its padding, each
//! chunk padded to 4 bytes, the chunks filling the packet exactly. The
//! first chunk must be of a type the RFCs define (RFC 9260, 4895, 4820,
//! 5061, 6525, 8260, 3758), and an INIT must travel with verification
//! tag 0 and alone.
//!
//! SCTP itself is cleartext (AUTH chunks only authenticate). The flow is
//! reported encrypted when its first DATA chunk carries a TLS or DTLS
//! record (RFC 3436, RFC 6083), cleartext otherwise.

use crate::verdict::{Encryption, Meta};

/// IP protocol number of SCTP.
pub const SCTP: u8 = 132;
const COMMON: usize = 12;
const DATA: u8 = 0;
const INIT: u8 = 1;
const I_DATA: u8 = 64;

fn known_chunk(t: u8) -> bool {
    matches!(t, 0..=15 | 64 | 128 | 130 | 132 | 192..=194)
}

fn chunk_name(t: u8) -> &'static str {
    match t {
        0 => "data",
        1 => "init",
        2 => "init_ack",
        3 => "sack",
        4 => "heartbeat",
        5 => "heartbeat_ack",
        6 => "abort",
        7 => "shutdown",
        8 => "shutdown_ack",
        9 => "error",
        10 => "cookie_echo",
        11 => "cookie_ack",
        14 => "shutdown_complete",
        15 => "auth",
        64 => "i_data",
        _ => "other",
    }
}

/// A TLS or DTLS record header: content type 20..=23 and a version
/// 3.x (TLS) or 254.x (DTLS).
fn tls_record(d: &[u8]) -> bool {
    matches!(d, [20..=23, 3 | 254, ..])
}

/// Fills `meta` when `msg`, the payload of an IP packet of protocol
/// `proto`, is an SCTP packet; true if it was.
pub fn identify(proto: u8, msg: &[u8], meta: &mut Meta) -> bool {
    if proto != SCTP {
        return false;
    }
    let Some(h) = msg.get(..COMMON) else { return false };
    let (src, dst) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
    let vtag = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if src == 0 || dst == 0 || !msg.len().is_multiple_of(4) {
        return false;
    }
    let mut rest = &msg[COMMON..];
    let mut first = None;
    let mut chunks = 0usize;
    let mut user_data: Option<&[u8]> = None;
    while !rest.is_empty() {
        let Some(c) = rest.get(..4) else { return false };
        let (kind, len) = (c[0], usize::from(u16::from_be_bytes([c[2], c[3]])));
        let Some(chunk) = rest.get(..len).filter(|_| len >= 4) else {
            return false;
        };
        if first.is_none() && !known_chunk(kind) {
            return false;
        }
        first.get_or_insert(kind);
        // DATA: TSN, stream, sequence, PPID (12 bytes); I-DATA: 16.
        let skip = match kind {
            DATA => Some(16),
            I_DATA => Some(20),
            _ => None,
        };
        if let (None, Some(s)) = (user_data, skip) {
            user_data = Some(chunk.get(s..).unwrap_or(&[]));
        }
        chunks += 1;
        // The packet's length is a multiple of 4, so the padding is there.
        rest = rest.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    let Some(first) = first else { return false };
    if first == INIT && (vtag != 0 || chunks != 1) {
        return false;
    }
    meta.protocol = Some("sctp");
    meta.encryption = if user_data.is_some_and(tls_record) {
        Encryption::Encrypted
    } else {
        Encryption::Cleartext
    };
    meta.set_extra("sctp_chunk", chunk_name(first));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // sctp.cap: a SACK (cumulative TSN, window, no gaps); a DATA chunk
    // with H.248 text (PPID 7), trimmed.
    const SACK: [u8; 28] = [
        0x0b, 0x80, 0x40, 0x00, 0x21, 0x44, 0x15, 0x23, 0x2b, 0xf2, 0x02, 0x4e, 0x03, 0x00, 0x00, 0x10, 0x28, 0x02,
        0x43, 0x45, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    const DATA_MSG: [u8; 40] = [
        0x40, 0x00, 0x0b, 0x80, 0x00, 0x01, 0x6f, 0x0a, 0x6d, 0xb0, 0x18, 0x82, 0x00, 0x03, 0x00, 0x1a, 0x28, 0x02,
        0x43, 0x45, 0x00, 0x00, 0xa0, 0xbd, 0x00, 0x00, 0x00, 0x07, b'M', b'E', b'G', b'A', b'C', b'O', b'/', b'2',
        b' ', b'<', 0x00, 0x00,
    ];

    fn sctp(msg: &[u8]) -> Option<Meta> {
        let mut m = Meta::default();
        identify(SCTP, msg, &mut m).then_some(m)
    }

    #[test]
    fn data_and_sack() {
        let m = sctp(&DATA_MSG).expect("data");
        assert_eq!(m.protocol, Some("sctp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("sctp_chunk"), Some("data"));
        let m = sctp(&SACK).expect("sack");
        assert_eq!(m.extra("sctp_chunk"), Some("sack"));
        // A TLS record in the DATA chunk.
        let mut tls = DATA_MSG;
        tls[28..33].copy_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x20]);
        assert_eq!(sctp(&tls).map(|m| m.encryption), Some(Encryption::Encrypted));
        for n in 0..DATA_MSG.len() {
            let _ = sctp(&DATA_MSG[..n]);
        }
    }

    #[test]
    fn not_sctp() {
        let mut zero_port = SACK;
        zero_port[0..2].copy_from_slice(&[0, 0]);
        let mut long_chunk = SACK;
        long_chunk[15] = 0x14;
        let mut short_chunk = SACK;
        short_chunk[15] = 0x02;
        let mut unknown = SACK;
        unknown[12] = 0x50;
        let mut init = SACK;
        init[12] = INIT;
        let cases: [&[u8]; 6] = [&zero_port, &long_chunk, &short_chunk, &unknown, &init, &SACK[..26]];
        for d in cases {
            assert!(sctp(d).is_none(), "{d:?}");
        }
        assert!(!identify(17, &SACK, &mut Meta::default()));
    }
}
