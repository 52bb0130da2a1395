//! FastCGI (the FastCGI 1.0 specification, Open Market 1996) over TCP,
//! between a web server and an application server, on any port (9000 is
//! a convention only).
//!
//! Every record opens with an 8-byte header: version 1, a type (1 to
//! 11), a request id and a content length (16 bits each, big-endian), a
//! padding length and a reserved zero byte. A request opens with
//! BEGIN_REQUEST (type 1, request id not 0, content length 8): a role
//! (1 responder, 2 authorizer, 3 filter), flags (only KEEP_CONN, bit 0)
//! and five reserved zero bytes. Taken as FastCGI: that record first,
//! confirmed by the next record of the same request, the client's
//! PARAMS or STDIN (type 4 or 5) or the server's STDOUT, STDERR or
//! END_REQUEST (type 6, 7 or 3). The PARAMS name-value pairs give the
//! script asked for.
//!
//! FastCGI has no encryption: cleartext.

use super::text::to_string;
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct FastCgi;

const HEADER: usize = 8;
const VERSION: u8 = 1;
const BEGIN_REQUEST: u8 = 1;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const STDERR: u8 = 7;
const VALUE_MAX: usize = 128;
/// Name-value pairs looked at in the first PARAMS record.
const MAX_PAIRS: usize = 64;

/// A record header: (type, request id, content length, padding length).
fn header(h: &[u8]) -> Option<(u8, u16, usize, usize)> {
    let h = h.get(..HEADER)?;
    (h[0] == VERSION && (1..=11).contains(&h[1]) && h[7] == 0).then(|| {
        (
            h[1],
            u16::from_be_bytes([h[2], h[3]]),
            usize::from(u16::from_be_bytes([h[4], h[5]])),
            usize::from(h[6]),
        )
    })
}

/// Whether `d` can still become (or is) a BEGIN_REQUEST record, and its
/// (request id, role) once whole.
fn begin_request(d: &[u8]) -> Result<Option<(u16, u16)>, ()> {
    const SHAPE: [Option<u8>; 16] = [
        Some(VERSION),
        Some(BEGIN_REQUEST),
        None,
        None,
        Some(0),
        Some(8),
        None,
        Some(0),
        Some(0),
        None,
        None,
        Some(0),
        Some(0),
        Some(0),
        Some(0),
        Some(0),
    ];
    if !d.iter().zip(SHAPE.iter()).all(|(b, s)| s.is_none_or(|s| *b == s)) {
        return Err(());
    }
    let (Some(&role), Some(&flags)) = (d.get(9), d.get(10)) else {
        return Ok(None);
    };
    if !(1..=3).contains(&role) || flags > 1 {
        return Err(());
    }
    let id = u16::from_be_bytes([d[2], d[3]]);
    if id == 0 {
        return Err(());
    }
    Ok((d.len() >= 16).then_some((id, u16::from(role))))
}

/// A name-value pair length: one byte below 128, else four with the top
/// bit set.
fn nv_len(d: &[u8], off: &mut usize) -> Option<usize> {
    let b = *d.get(*off)?;
    if b & 0x80 == 0 {
        *off += 1;
        return Some(usize::from(b));
    }
    let l = d.get(*off..*off + 4)?;
    *off += 4;
    Some((u32::from_be_bytes([l[0] & 0x7f, l[1], l[2], l[3]])) as usize)
}

/// The script named in a PARAMS body: REQUEST_URI, else SCRIPT_NAME.
fn script(body: &[u8]) -> Option<&[u8]> {
    let mut off = 0;
    let mut name_hit = None;
    for _ in 0..MAX_PAIRS {
        let n = nv_len(body, &mut off)?;
        let v = nv_len(body, &mut off)?;
        let name = body.get(off..off.checked_add(n)?)?;
        let value = body.get(off + n..(off + n).checked_add(v)?)?;
        off += n + v;
        match name {
            b"REQUEST_URI" => return Some(value),
            b"SCRIPT_NAME" => name_hit = Some(value),
            _ => {}
        }
    }
    name_hit
}

impl Dissector for FastCgi {
    fn name(&self) -> &'static str {
        "fastcgi"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match begin_request(p.orig.stream()) {
            Ok(_) => Probe::Maybe,
            Err(()) => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let (id, role) = match begin_request(o) {
            Ok(Some(x)) => x,
            Ok(None) => return p.undecided(),
            Err(()) => return Parse::NotMine,
        };
        let next = o.get(16..).unwrap_or_default();
        let client = match header(next) {
            Some((t @ (PARAMS | STDIN), i, len, _)) if i == id => Some((t, len)),
            Some(_) => return Parse::NotMine,
            None if next.len() >= HEADER => return Parse::NotMine,
            None => None,
        };
        let server = match header(r) {
            Some((END_REQUEST | STDOUT | STDERR, i, _, _)) if i == id => true,
            Some(_) => return Parse::NotMine,
            None if r.len() >= HEADER => return Parse::NotMine,
            None => false,
        };
        if client.is_none() && !server {
            return p.undecided();
        }
        meta.protocol = Some("fastcgi");
        meta.encryption = Encryption::Cleartext;
        let role = match role {
            1 => "responder",
            2 => "authorizer",
            _ => "filter",
        };
        meta.set_extra("fastcgi_role", role);
        if let Some((PARAMS, len)) = client {
            let body = next.get(HEADER..).unwrap_or_default();
            let body = &body[..body.len().min(len)];
            if let Some(s) = script(body).filter(|s| !s.is_empty()) {
                meta.set_extra("fastcgi_script", to_string(s, VALUE_MAX));
            }
        }
        if server {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// fastcgi.pcap, 10.0.0.9:38254 → 10.0.0.11:9000: BEGIN_REQUEST
    /// (responder, KEEP_CONN clear) and the first name-value pairs of the
    /// PARAMS record (content length 0x0417 in the capture, cut here).
    const BEGIN: &str = "01010001000800000001010000000000";
    const PARAMS_HEAD: &str = "0104000104170000\
        0a0c5343524950545f55524c2f6170692f302e362f6d6170\
        0a285343524950545f555249687474703a2f2f6170692e6f70656e7374726565746d61702e6f72672f6170692f302e362f6d6170";
    /// The server's first STDOUT header and the start of its body.
    const STDOUT_HEAD: &str = "010600011ff800005374617475733a20323030204f4b0d0a";

    fn params_with_uri() -> Vec<u8> {
        let mut body = unhex(&PARAMS_HEAD[16..]);
        body.extend_from_slice(&[11, 14]);
        body.extend_from_slice(b"REQUEST_URI/api/0.6/map?x");
        let mut rec = vec![1, 4, 0, 1, 0, body.len() as u8, 0, 0];
        rec.extend_from_slice(&body);
        rec
    }

    #[test]
    fn begin_params_stdout() {
        let c = [unhex(BEGIN), unhex(PARAMS_HEAD)].concat();
        let s = unhex(STDOUT_HEAD);
        let (r, m) = check_split_tcp(&FastCgi, 9000, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("fastcgi"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("fastcgi_role"), Some("responder"));
        // The capture's record is cut: no REQUEST_URI, SCRIPT_NAME absent.
        assert_eq!(m.extra("fastcgi_script"), None);
        let c = [unhex(BEGIN), params_with_uri()].concat();
        let (r, m) = check_split_tcp(&FastCgi, 9000, &c, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("fastcgi_script"), Some("/api/0.6/map?x"));
    }

    #[test]
    fn not_fastcgi() {
        let b = unhex(BEGIN);
        let p = unhex(PARAMS_HEAD);
        let s = unhex(STDOUT_HEAD);
        let mutate = |i: usize, v: u8| {
            let mut x = b.clone();
            x[i] = v;
            [x, p.clone()].concat()
        };
        let good = [b.clone(), p.clone()].concat();
        let mut other_id = p.clone();
        other_id[3] = 2;
        let other_id = [b.clone(), other_id].concat();
        let mut srv_id = s.clone();
        srv_id[3] = 9;
        let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (mutate(0, 2), vec![]),
            (mutate(5, 9), vec![]),
            (mutate(9, 4), vec![]),
            (mutate(10, 2), vec![]),
            (mutate(13, 1), vec![]),
            (
                mutate(2, 0)
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| if i == 3 { 0 } else { v })
                    .collect(),
                vec![],
            ),
            (other_id, vec![]),
            (good, srv_id),
        ];
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 9000, o, r, &ends);
            assert!(!not_refused(&FastCgi, &p), "{o:02x?}");
        }
        // BEGIN_REQUEST alone, at the end of the flow.
        let ends = [[b.len() as u32], [0]];
        let mut p = Payloads::tcp(40000, 9000, &b, &[], &ends);
        p.last = true;
        assert!(!not_refused(&FastCgi, &p));
    }
}
