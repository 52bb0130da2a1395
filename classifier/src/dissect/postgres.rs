//! PostgreSQL's frontend/backend protocol (port 5432 by default; any
//! port accepted). The client's first message has no type byte: a
//! 32-bit big-endian length, then a code: 196608 + minor (protocol 3.x)
//! for a startup message (NUL-terminated parameter names and values,
//! then a NUL), 80877103 for SSLRequest, 80877104 for GSSENCRequest,
//! 80877102 for CancelRequest (16 bytes). The server answers SSLRequest
//! with one byte, `S` (TLS follows) or `N`, and GSSENCRequest with `G`
//! (GSSAPI encryption follows) or `N`. Cleartext, unless the server
//! accepted TLS or GSSAPI encryption (or the client goes on with a TLS
//! handshake): then the rest of the session is encrypted.

use super::text::tls_follows;
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Postgres;

const PROTOCOL_3: u32 = 3 << 16;
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
const LONGEST_STARTUP: usize = 10_000;
/// Startup bytes enough to decide (a length, a code and `user`).
const ENOUGH: usize = 16;

#[derive(Clone, Copy, PartialEq)]
enum First {
    Startup,
    Ssl,
    Gss,
    Cancel,
}

/// `Some(Some((kind, length)))` for a recognised first message,
/// `Some(None)` for a prefix of one, `None` when it is not PostgreSQL.
fn first(d: &[u8]) -> Option<Option<(First, usize)>> {
    let Some(h) = d.get(..8) else {
        // Every first message is shorter than 16 MiB: the top byte is zero.
        return (d.first().is_none_or(|&b| b == 0)).then_some(None);
    };
    let len = usize::try_from(u32::from_be_bytes([h[0], h[1], h[2], h[3]])).ok()?;
    let code = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let kind = match code {
        SSL_REQUEST if len == 8 => First::Ssl,
        GSSENC_REQUEST if len == 8 => First::Gss,
        CANCEL_REQUEST if len == 16 => First::Cancel,
        c if c >> 16 == 3 && c - PROTOCOL_3 <= 2 && (ENOUGH..=LONGEST_STARTUP).contains(&len) => First::Startup,
        _ => return None,
    };
    if kind == First::Startup {
        // Parameter names and values: printable text and NULs.
        let body = &d[8..d.len().min(len)];
        if !body.iter().all(|&b| b == 0 || b.is_ascii_graphic() || b == b' ') || body.first() == Some(&0) {
            return None;
        }
        if d.len() < ENOUGH {
            return Some(None);
        }
        return Some(Some((kind, len)));
    }
    Some((d.len() >= len).then_some((kind, len)))
}

impl Dissector for Postgres {
    fn name(&self) -> &'static str {
        "postgresql"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.orig.is_empty() && !p.resp.is_empty() {
            return Probe::NotMine;
        }
        if first(p.orig.stream()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The client speaks first, and its first message's length (`first`)
    /// is under 16 MiB: the top byte is zero.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let o = p.orig.stream();
        if o.is_empty() && !p.resp.is_empty() {
            return Parse::NotMine;
        }
        let (kind, len) = match first(o) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(k)) => k,
        };
        meta.protocol = Some("postgresql");
        meta.encryption = Encryption::Cleartext;
        let name = match kind {
            First::Startup => "startup",
            First::Ssl => "ssl_request",
            First::Gss => "gssenc_request",
            First::Cancel => "cancel_request",
        };
        meta.set_extra("postgresql_first", name);
        if !matches!(kind, First::Ssl | First::Gss) {
            return Parse::Done;
        }
        let accept = if kind == First::Ssl { b'S' } else { b'G' };
        match p.resp.stream().first() {
            Some(&b) if b == accept => {
                meta.encryption = Encryption::Encrypted;
                Parse::Done
            }
            Some(b'N') => Parse::Done,
            Some(_) => Parse::NotMine,
            // No answer yet: a TLS handshake after the request tells.
            None if kind == First::Ssl && tls_follows(o, len) => {
                meta.encryption = Encryption::Encrypted;
                Parse::Done
            }
            None => Parse::Identified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    const SSL: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    const GSS: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];

    #[test]
    fn startup_in_clear() {
        let s = b"\x00\x00\x00\x26\x00\x03\x00\x00user\x00orx\x00database\x00mailstore\x00\x00";
        let (r, m) = check_split_tcp(&Postgres, 5432, s, b"R\x00\x00\x00\x0c\x00\x00\x00\x05");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("postgresql"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("postgresql_first"), Some("startup"));
    }

    #[test]
    fn ssl_and_gssapi_requests() {
        let (r, m) = check_split_tcp(&Postgres, 5432, &SSL, b"N");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("postgresql_first"), Some("ssl_request"));
        let (r, m) = check_split_tcp(&Postgres, 5432, &SSL, b"S");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, m) = check_split_tcp(&Postgres, 5432, &GSS, b"G");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("postgresql_first"), Some("gssenc_request"));
        let (r, m) = check_split_tcp(&Postgres, 5432, &GSS, b"N");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
        let mut then_tls = SSL.to_vec();
        then_tls.extend_from_slice(&[0x16, 0x03, 0x01, 0x02, 0x00]);
        let (r, m) = check_split_tcp(&Postgres, 5432, &then_tls, b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, _) = check_split_tcp(&Postgres, 5432, &SSL, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_postgres() {
        let cases: [(&[u8], &[u8]); 5] = [
            (&[0, 0, 0, 9, 0x04, 0xd2, 0x16, 0x2f, 0], b""),
            (&SSL, b"X"),
            (b"\x00\x00\x00\x26\x00\x02\x00\x00user\x00orx\x00\x00", b""),
            (b"\x00\x00\x00\x26\x00\x03\x00\x00us\x01r\x00orx\x00\x00", b""),
            (b"GET / HTTP/1.1\r\n", b""),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 5432, o, r, &ends);
            let claimed = crate::dissect::not_refused(&Postgres, &p);
            assert!(!claimed, "{o:?}");
        }
    }
}
