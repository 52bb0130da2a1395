//! Parsing a TLS ClientHello handshake message into the fields the
//! fingerprints and the verdict need.
//!
//! CONTRACT (used by `dissect::tls` and `dissect::quic`):
//! - [`parse_handshake`] takes one complete Handshake message of type 1
//!   (4-byte header included), as reassembled from TLS records or QUIC
//!   CRYPTO frames.
//! - [`fill_meta`] writes sni, alpn, ja3 (TLS only), ja4/ja4_r, the
//!   offered version and ECH presence into a [`Meta`].
//!
//! The parser is by hand, with every length checked against the bytes
//! present: code points stay integers (odd and reserved values are kept),
//! and a malformed extension body does not reject the whole hello (the
//! extension type is still listed, as the fingerprints need).

use crate::verdict::Meta;

use super::{ja3, ja4};

/// The ClientHello fields baikal uses. Code points stay integers, so odd
/// values are kept rather than rejected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub cipher_suites: Vec<u16>,
    /// Extension types in the order sent (GREASE included).
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    /// Offered ALPN values for display: printable ASCII kept, other bytes
    /// as `\xNN`.
    pub alpn: Vec<String>,
    pub supported_versions: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    pub supported_groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    /// encrypted_client_hello (0xfe0d) present.
    pub ech: bool,
    /// The first offered ALPN value as raw bytes (JA4 needs its first and
    /// last byte exactly); `None` without an ALPN extension.
    pub alpn_first_raw: Option<Vec<u8>>,
}

/// Why a ClientHello could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    #[error("incomplete: {needed} more bytes needed")]
    Incomplete { needed: usize },
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
}

/// Extension code points baikal reads.
pub mod ext {
    pub const SERVER_NAME: u16 = 0x0000;
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    pub const ALPN: u16 = 0x0010;
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub const ECH: u16 = 0xfe0d;
}

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// A bounds-checked big-endian reader over a byte slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }
    /// A vector with a 1-byte length prefix.
    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    /// A vector with a 2-byte length prefix.
    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    /// A vector with a 3-byte length prefix.
    pub(crate) fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
}

/// The u16 values of a list body (a trailing odd byte is ignored).
pub(crate) fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()
}

/// Printable ASCII kept, other bytes as `\xNN`; so are `\` and `,`
/// (values are joined into comma-separated lists).
pub(crate) fn printable(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if (0x20..0x7f).contains(&c) && c != b'\\' && c != b',' {
            s.push(char::from(c));
        } else {
            s.push_str("\\x");
            super::fmt::push_hex2(&mut s, c);
        }
    }
    s
}

/// The 4-byte handshake header: (type, body length).
pub(crate) fn handshake_header(msg: &[u8]) -> Option<(u8, usize)> {
    let mut r = Reader::new(msg);
    let t = r.u8()?;
    let n = r.u24()?;
    Some((t, n))
}

/// Parses one complete ClientHello handshake message (header included).
pub fn parse_handshake(msg: &[u8]) -> Result<ClientHello, HelloError> {
    if msg.len() < 4 {
        return Err(HelloError::Incomplete { needed: 4 - msg.len() });
    }
    let (typ, len) = handshake_header(msg).ok_or(HelloError::Malformed("short header"))?;
    if typ != 1 {
        return Err(HelloError::Malformed("not a ClientHello"));
    }
    let have = msg.len() - 4;
    if have < len {
        return Err(HelloError::Incomplete { needed: len - have });
    }
    let body = msg.get(4..4 + len).ok_or(HelloError::Malformed("length"))?;
    parse_body(body)
}

fn parse_body(body: &[u8]) -> Result<ClientHello, HelloError> {
    use HelloError::Malformed;
    let mut r = Reader::new(body);
    let mut ch = ClientHello {
        legacy_version: r.u16().ok_or(Malformed("truncated version"))?,
        ..ClientHello::default()
    };
    r.take(32).ok_or(Malformed("truncated random"))?;
    r.vec8().ok_or(Malformed("bad session id"))?;
    let suites = r.vec16().ok_or(Malformed("bad cipher suites"))?;
    if suites.len() % 2 != 0 {
        return Err(Malformed("odd cipher suites length"));
    }
    ch.cipher_suites = u16_list(suites);
    r.vec8().ok_or(Malformed("bad compression methods"))?;
    if r.is_empty() {
        // No extensions block (SSL 3.0 style hello).
        return Ok(ch);
    }
    let exts = r.vec16().ok_or(Malformed("bad extensions length"))?;
    // One allocation of the right size, not a doubling every few
    // extensions (a browser sends 15-20); QUIC keeps the hello a while.
    ch.extensions.reserve_exact(count_extensions(exts));
    let mut er = Reader::new(exts);
    while !er.is_empty() {
        let typ = er.u16().ok_or(Malformed("truncated extension"))?;
        let data = er.vec16().ok_or(Malformed("extension overruns block"))?;
        let first = !ch.extensions.contains(&typ);
        ch.extensions.push(typ);
        if first {
            read_extension(&mut ch, typ, data);
        }
    }
    Ok(ch)
}

/// How many extension headers the block holds, up to the first that
/// overruns it (which the parse then lists before it stops).
fn count_extensions(exts: &[u8]) -> usize {
    let (mut n, mut pos) = (0, 0);
    while let Some(h) = exts.get(pos..pos + 4) {
        n += 1;
        pos += 4 + usize::from(u16::from_be_bytes([h[2], h[3]]));
    }
    n
}

/// Reads the body of one extension; a malformed body leaves the fields
/// as far as they parsed.
fn read_extension(ch: &mut ClientHello, typ: u16, data: &[u8]) {
    let mut r = Reader::new(data);
    match typ {
        ext::SERVER_NAME => {
            let Some(list) = r.vec16() else { return };
            let mut l = Reader::new(list);
            while let (Some(kind), Some(name)) = (l.u8(), l.vec16()) {
                if kind == 0 {
                    ch.sni = Some(printable(name));
                    break;
                }
            }
        }
        ext::ALPN => {
            let Some(list) = r.vec16() else {
                ch.alpn_first_raw = Some(Vec::new());
                return;
            };
            let mut l = Reader::new(list);
            while let Some(p) = l.vec8() {
                if ch.alpn_first_raw.is_none() {
                    ch.alpn_first_raw = Some(p.to_vec());
                }
                ch.alpn.push(printable(p));
            }
            if ch.alpn_first_raw.is_none() {
                ch.alpn_first_raw = Some(Vec::new());
            }
        }
        ext::SUPPORTED_VERSIONS => {
            if let Some(l) = r.vec8() {
                ch.supported_versions = u16_list(l);
            }
        }
        ext::SIGNATURE_ALGORITHMS => {
            if let Some(l) = r.vec16() {
                ch.signature_algorithms = u16_list(l);
            }
        }
        ext::SUPPORTED_GROUPS => {
            if let Some(l) = r.vec16() {
                ch.supported_groups = u16_list(l);
            }
        }
        ext::EC_POINT_FORMATS => {
            if let Some(l) = r.vec8() {
                ch.ec_point_formats = l.to_vec();
            }
        }
        ext::ECH => ch.ech = true,
        _ => {}
    }
}

impl ClientHello {
    /// The highest offered version: from supported_versions (GREASE
    /// ignored) when present, else the legacy version.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// Human name of a TLS version code point: "1.3", "1.2", ... .
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "1.3".into(),
        0x0303 => "1.2".into(),
        0x0302 => "1.1".into(),
        0x0301 => "1.0".into(),
        0x0300 => "ssl3".into(),
        0x0002 => "ssl2".into(),
        0x7f00..=0x7fff => format!("1.3-draft{}", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

/// Writes what the verdict needs from `ch` into `meta`; `transport` is
/// `'t'` for TLS over TCP, `'q'` for QUIC (JA4's first character).
pub fn fill_meta(ch: &ClientHello, transport: char, meta: &mut Meta) {
    meta.sni = ch.sni.clone();
    meta.alpn = (!ch.alpn.is_empty()).then(|| ch.alpn.join(","));
    let (j4, j4r) = ja4::ja4(ch, transport);
    meta.ja4 = Some(j4);
    meta.ja4_r = Some(j4r);
    if transport == 't' {
        meta.ja3 = Some(ja3::ja3(ch));
    }
    meta.set_extra("tls_version_offered", version_name(ch.max_version()));
    if ch.ech {
        meta.set_extra("ech", "true");
    }
}

/// Test fixtures shared by the fingerprint and dissector tests.
#[cfg(test)]
pub(crate) mod fixture {
    /// Builds a ClientHello handshake message (header included).
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Hello {
        pub version: u16,
        pub session_id: Vec<u8>,
        pub ciphers: Vec<u16>,
        /// (type, body) in order.
        pub exts: Vec<(u16, Vec<u8>)>,
        /// Omit the extensions block entirely.
        pub no_ext_block: bool,
    }

    pub(crate) fn be16(v: &mut Vec<u8>, x: usize) {
        v.extend_from_slice(&(x as u16).to_be_bytes());
    }

    pub(crate) fn sni(name: &str) -> (u16, Vec<u8>) {
        let mut b = Vec::new();
        be16(&mut b, name.len() + 3);
        b.push(0);
        be16(&mut b, name.len());
        b.extend_from_slice(name.as_bytes());
        (0, b)
    }
    pub(crate) fn alpn(protos: &[&[u8]]) -> (u16, Vec<u8>) {
        let mut l = Vec::new();
        for p in protos {
            l.push(p.len() as u8);
            l.extend_from_slice(p);
        }
        let mut b = Vec::new();
        be16(&mut b, l.len());
        b.extend(l);
        (0x0010, b)
    }
    pub(crate) fn list16(typ: u16, vals: &[u16]) -> (u16, Vec<u8>) {
        let mut b = Vec::new();
        be16(&mut b, vals.len() * 2);
        for v in vals {
            b.extend_from_slice(&v.to_be_bytes());
        }
        (typ, b)
    }
    pub(crate) fn versions(vals: &[u16]) -> (u16, Vec<u8>) {
        let mut b = vec![(vals.len() * 2) as u8];
        for v in vals {
            b.extend_from_slice(&v.to_be_bytes());
        }
        (0x002b, b)
    }
    pub(crate) fn point_formats(vals: &[u8]) -> (u16, Vec<u8>) {
        let mut b = vec![vals.len() as u8];
        b.extend_from_slice(vals);
        (0x000b, b)
    }

    impl Hello {
        pub(crate) fn build(&self) -> Vec<u8> {
            let mut body = Vec::new();
            body.extend_from_slice(&self.version.to_be_bytes());
            body.extend((0..32u8).map(|i| i.wrapping_mul(7)));
            body.push(self.session_id.len() as u8);
            body.extend_from_slice(&self.session_id);
            be16(&mut body, self.ciphers.len() * 2);
            for c in &self.ciphers {
                body.extend_from_slice(&c.to_be_bytes());
            }
            body.extend_from_slice(&[1, 0]);
            if !self.no_ext_block {
                let mut e = Vec::new();
                for (t, d) in &self.exts {
                    e.extend_from_slice(&t.to_be_bytes());
                    be16(&mut e, d.len());
                    e.extend_from_slice(d);
                }
                be16(&mut body, e.len());
                body.extend(e);
            }
            let mut msg = vec![1];
            msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            msg.extend(body);
            msg
        }
    }

    /// A Chrome-shaped ClientHello message, see [`chrome_hello`].
    pub(crate) fn chrome(name: &str) -> Vec<u8> {
        chrome_hello(name).build()
    }

    /// An ECH extension body (outer, of the usual size).
    pub(crate) fn ech() -> (u16, Vec<u8>) {
        let mut b = vec![0, 0, 1, 0, 1, 0x7b];
        be16(&mut b, 32);
        b.extend([9u8; 32]);
        be16(&mut b, 144);
        b.extend([0x55u8; 144]);
        (0xfe0d, b)
    }

    /// A Chrome-shaped ClientHello: GREASE in ciphers, extensions,
    /// groups and versions; ALPN h2,http/1.1; an X25519MLKEM768 key
    /// share of 1216 bytes, so the message is well over 1500 bytes.
    /// The cipher, extension and signature algorithm sets are the ones of
    /// the JA4 spec example (`t13d1516h2_8daaf6152771_e5627efa2ab1`).
    pub(crate) fn chrome_hello(name: &str) -> Hello {
        let mut key_share = Vec::new();
        let mut ks = Vec::new();
        // GREASE share, then X25519MLKEM768 (1216 bytes), then X25519.
        ks.extend_from_slice(&[0x1a, 0x1a, 0x00, 0x01, 0x00]);
        ks.extend_from_slice(&0x11ecu16.to_be_bytes());
        be16(&mut ks, 1216);
        ks.extend((0..1216u32).map(|i| (i * 31 % 251) as u8));
        ks.extend_from_slice(&0x001du16.to_be_bytes());
        be16(&mut ks, 32);
        ks.extend([0x42u8; 32]);
        be16(&mut key_share, ks.len());
        key_share.extend(ks);
        Hello {
            version: 0x0303,
            session_id: vec![0xab; 32],
            ciphers: vec![
                0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
                0x009d, 0x002f, 0x0035,
            ],
            exts: vec![
                (0x8a8a, vec![]),
                (0x001b, vec![2, 0, 2]),
                sni(name),
                (0x0033, key_share),
                alpn(&[b"h2", b"http/1.1"]),
                (0x4469, vec![0, 3, 2, b'h', b'2']),
                (0x0017, vec![]),
                (0x002d, vec![1, 1]),
                list16(
                    0x000d,
                    &[0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
                ),
                (0x0005, vec![1, 0, 0, 0, 0]),
                (0x0023, vec![]),
                (0x0012, vec![]),
                versions(&[0x7a7a, 0x0304, 0x0303]),
                (0xff01, vec![0]),
                point_formats(&[0]),
                list16(0x000a, &[0x4a4a, 0x11ec, 0x001d, 0x0017, 0x0018]),
                (0x0015, vec![0; 40]),
                (0xbaba, vec![0]),
            ],
            ..Hello::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;

    #[test]
    fn parses_chrome_shaped_hello() {
        let mut h = chrome_hello("www.example.com");
        h.exts.insert(17, ech());
        let msg = h.build();
        assert!(msg.len() > 1500, "{}", msg.len());
        let ch = parse_handshake(&msg).unwrap();
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.cipher_suites.len(), 16);
        assert_eq!(ch.cipher_suites[0], 0x2a2a);
        assert_eq!(ch.extensions.len(), 19);
        // Sized once, exactly (QUIC keeps the hello while it waits).
        assert_eq!(ch.extensions.capacity(), 19);
        assert_eq!(ch.extensions[0], 0x8a8a);
        assert_eq!(ch.sni.as_deref(), Some("www.example.com"));
        assert_eq!(ch.alpn, ["h2", "http/1.1"]);
        assert_eq!(ch.alpn_first_raw.as_deref(), Some(&b"h2"[..]));
        assert_eq!(ch.supported_versions, [0x7a7a, 0x0304, 0x0303]);
        assert_eq!(ch.max_version(), 0x0304);
        assert_eq!(ch.supported_groups, [0x4a4a, 0x11ec, 0x001d, 0x0017, 0x0018]);
        assert_eq!(ch.ec_point_formats, [0]);
        assert_eq!(ch.signature_algorithms.len(), 8);
        assert!(ch.ech);
    }

    #[test]
    fn extensions_are_counted_up_to_the_first_that_overruns() {
        assert_eq!(count_extensions(&[]), 0);
        // Two empty extensions, then one of 2 bytes.
        let block = [0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 2, 9, 9];
        assert_eq!(count_extensions(&block), 3);
        // The last header overruns the block: still counted; a partial
        // header is not.
        assert_eq!(count_extensions(&block[..13]), 3);
        assert_eq!(count_extensions(&block[..11]), 2);
        assert_eq!(count_extensions(&[0, 1, 0xff, 0xff]), 1);
    }

    #[test]
    fn fill_meta_writes_everything() {
        let ch = parse_handshake(&chrome("a.example")).unwrap();
        let mut m = Meta::default();
        fill_meta(&ch, 't', &mut m);
        assert_eq!(m.sni.as_deref(), Some("a.example"));
        assert_eq!(m.alpn.as_deref(), Some("h2,http/1.1"));
        assert_eq!(m.ja4.as_deref(), Some("t13d1516h2_8daaf6152771_e5627efa2ab1"));
        assert!(m.ja4_r.as_deref().unwrap().starts_with("t13d1516h2_002f,0035,"));
        assert_eq!(m.ja3.as_ref().map(String::len), Some(32));
        assert_eq!(m.extra("tls_version_offered"), Some("1.3"));
        assert_eq!(m.extra("ech"), None);
        let mut h = chrome_hello("a.example");
        h.exts.push(ech());
        fill_meta(&parse_handshake(&h.build()).unwrap(), 't', &mut m);
        assert_eq!(m.extra("ech"), Some("true"));
        assert_eq!(m.ja4.as_deref().map(|s| &s[..10]), Some("t13d1517h2"));
        let mut q = Meta::default();
        fill_meta(&ch, 'q', &mut q);
        assert!(q.ja4.as_deref().unwrap().starts_with("q13d1516h2_"));
        assert_eq!(q.ja3, None);
    }

    #[test]
    fn every_prefix_is_incomplete_never_a_panic() {
        let msg = chrome("x.example");
        for k in 0..msg.len() {
            match parse_handshake(&msg[..k]) {
                Err(HelloError::Incomplete { needed }) => assert!(needed > 0 && k + needed <= msg.len()),
                other => panic!("prefix {k}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_lengths_are_rejected() {
        let good = Hello {
            version: 0x0303,
            ciphers: vec![0x1301],
            exts: vec![sni("a.b")],
            ..Hello::default()
        }
        .build();
        assert!(parse_handshake(&good).is_ok());
        // Session id length past the end.
        let mut m = good.clone();
        m[4 + 34] = 0xff;
        assert!(matches!(parse_handshake(&m), Err(HelloError::Malformed(_))));
        // Cipher suites length odd.
        let mut m = good.clone();
        m[4 + 35 + 1] = 3;
        assert!(matches!(parse_handshake(&m), Err(HelloError::Malformed(_))));
        // Extension length overruns its block.
        let mut m = good.clone();
        let n = m.len();
        m[n - 9] = 0x7f;
        assert!(matches!(parse_handshake(&m), Err(HelloError::Malformed(_))));
        // Absurd handshake length: incomplete, asks for the rest, no allocation.
        let mut m = good.clone();
        m[1..4].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert!(matches!(parse_handshake(&m), Err(HelloError::Incomplete { .. })));
        // Wrong handshake type.
        let mut m = good;
        m[0] = 2;
        assert_eq!(parse_handshake(&m), Err(HelloError::Malformed("not a ClientHello")));
        // All-zero and all-ff bodies never panic.
        for b in [0u8, 0xff] {
            let mut m = vec![1, 0, 1, 0];
            m.extend(vec![b; 256]);
            let _ = parse_handshake(&m);
        }
    }

    #[test]
    fn odd_values_and_malformed_extension_bodies_are_kept() {
        let msg = Hello {
            version: 0x0305,
            ciphers: vec![0xfeff, 0x5600],
            exts: vec![
                (0x0000, vec![0xff]),
                alpn(&[b"\x01x"]),
                (0x1234, vec![1, 2, 3]),
                (0x0000, vec![]),
            ],
            ..Hello::default()
        }
        .build();
        let ch = parse_handshake(&msg).unwrap();
        assert_eq!(ch.cipher_suites, [0xfeff, 0x5600]);
        assert_eq!(ch.extensions, [0x0000, 0x0010, 0x1234, 0x0000]);
        assert_eq!(ch.sni, None);
        assert_eq!(ch.alpn, ["\\x01x"]);
        assert_eq!(printable(b"a,b\\c\xff"), "a\\x2cb\\x5cc\\xff");
        assert_eq!(version_name(ch.max_version()), "0x0305");
    }

    #[test]
    fn no_extension_block() {
        let msg = Hello {
            version: 0x0300,
            ciphers: vec![0x000a],
            no_ext_block: true,
            ..Hello::default()
        }
        .build();
        let ch = parse_handshake(&msg).unwrap();
        assert!(ch.extensions.is_empty());
        assert_eq!(version_name(ch.max_version()), "ssl3");
    }

    #[test]
    fn grease() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && is_grease(0x3a3a));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301) && !is_grease(0xeeee));
    }
}
