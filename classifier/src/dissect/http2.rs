//! HTTP/2 in cleartext with prior knowledge (RFC 9113 3.3, "h2c"), over
//! TCP on any port.
//!
//! The client opens with the fixed 24-byte connection preface
//! `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, followed by a SETTINGS frame: a
//! 9-byte frame header (24-bit length, type 4, flags 0, stream 0) whose
//! length is a multiple of 6 (each setting is a 16-bit id and a 32-bit
//! value). The server's first frame must be a SETTINGS frame too. The
//! preface is the evidence; the SETTINGS frames confirm it. HTTP/1.1
//! upgrades to h2c stay the HTTP dissector's, and HTTP/2 over TLS (ALPN
//! `h2`) the TLS dissector's.
//!
//! Without TLS the frames are cleartext (header blocks are HPACK-coded,
//! a compression, not an encryption).

use super::{agrees, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Http2;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADER: usize = 9;
const SETTINGS: u8 = 4;
/// The initial SETTINGS_MAX_FRAME_SIZE: no peer may send more before
/// agreeing to it.
const MAX_FRAME: usize = 16_384;
/// Setting identifiers RFC 9113 and its extensions define (1..=9).
const KNOWN_SETTINGS: std::ops::RangeInclusive<u16> = 1..=9;

/// A SETTINGS frame (not an ACK) opening `d`: `Ok(Some(number of
/// settings))`, `Ok(None)` while incomplete, `Err` when it is not one.
fn settings(d: &[u8]) -> Result<Option<usize>, ()> {
    let Some(h) = d.get(..HEADER) else {
        // Check what there is of the header.
        let want = [SETTINGS, 0, 0, 0, 0, 0];
        let ok = d.iter().skip(3).zip(want.iter()).all(|(a, b)| a == b);
        return if ok { Ok(None) } else { Err(()) };
    };
    let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
    if h[3] != SETTINGS || h[4] != 0 || h[5..9] != [0, 0, 0, 0] || len % 6 != 0 || len > MAX_FRAME {
        return Err(());
    }
    let Some(body) = d.get(HEADER..HEADER + len) else {
        return Ok(None);
    };
    // Unknown settings must be ignored by the receiver, but a client
    // sending only unknown ones is not seen; one known id is asked for
    // when there are any settings.
    let known = body
        .chunks_exact(6)
        .any(|s| KNOWN_SETTINGS.contains(&u16::from_be_bytes([s[0], s[1]])));
    if len > 0 && !known {
        return Err(());
    }
    Ok(Some(len / 6))
}

impl Dissector for Http2 {
    fn name(&self) -> &'static str {
        "http2"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let o = p.orig.stream();
        let n = o.len().min(PREFACE.len());
        if o[..n] == PREFACE[..n] {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if !agrees(o, PREFACE) {
            return Parse::NotMine;
        }
        if o.len() < PREFACE.len() {
            return p.undecided();
        }
        let client = match settings(&o[PREFACE.len()..]) {
            Ok(Some(c)) => c,
            Ok(None) => return p.undecided(),
            Err(()) => return Parse::NotMine,
        };
        let server = match settings(r) {
            Ok(s) => s,
            Err(()) => return Parse::NotMine,
        };
        meta.protocol = Some("http2");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("http2_client_settings", client.to_string());
        match server {
            Some(s) => {
                meta.set_extra("http2_server_settings", s.to_string());
                Parse::Done
            }
            None => Parse::Identified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// http2.pcapng, 127.0.0.1:37824 → 127.0.0.1:29518 (a 5G core SBI
    /// call): the preface and the client's SETTINGS (3 settings).
    const CLIENT: &str = "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a\
                          000012040000000000000200000000000400400000000600a00000";
    /// Then its WINDOW_UPDATE, ignored here.
    const CLIENT_MORE: &str = "00000408000000000040000000";
    /// The server's SETTINGS (4 settings).
    const SERVER: &str = "0000180400000000000005001000000003000000fa000600100140000400100000";

    #[test]
    fn prior_knowledge() {
        let c = [unhex(CLIENT), unhex(CLIENT_MORE)].concat();
        let s = unhex(SERVER);
        let (r, m) = check_split_tcp(&Http2, 29518, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("http2"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("http2_client_settings"), Some("3"));
        assert_eq!(m.extra("http2_server_settings"), Some("4"));
        let (r, _) = check_split_tcp(&Http2, 29518, &c, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_http2() {
        let c = unhex(CLIENT);
        let s = unhex(SERVER);
        let mut preface = c.clone();
        preface[4] = b'/';
        let mut ftype = c.clone();
        ftype[24 + 3] = 1;
        let mut stream = c.clone();
        stream[24 + 8] = 1;
        let mut odd_len = c.clone();
        odd_len[24 + 2] = 0x11;
        let mut unknown_ids = c.clone();
        for i in [0usize, 6, 12] {
            unknown_ids[33 + i + 1] = 0x77;
        }
        let cases: [(&[u8], &[u8]); 6] = [
            (&preface, &s),
            (&ftype, &s),
            (&stream, &s),
            (&odd_len, &s),
            (&unknown_ids, &s),
            (&c, b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 80, o, r, &ends);
            assert!(!not_refused(&Http2, &p), "{o:02x?}");
        }
        let pri = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        let ends = [[pri.len() as u32], [0]];
        let mut p = Payloads::tcp(40000, 80, pri, &[], &ends);
        p.last = true;
        assert!(!not_refused(&Http2, &p));
    }
}
