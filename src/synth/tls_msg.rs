//! TLS messages: a realistic ClientHello (GREASE, SNI, ALPN,
//! supported_versions, key_share, ...), a TLS 1.3 ServerHello, records.
//! Shared by the TLS, fake-TLS and QUIC flows.

use super::rng::Rng;

pub const HANDSHAKE: u8 = 0x16;
pub const CHANGE_CIPHER_SPEC: u8 = 0x14;
pub const APPLICATION_DATA: u8 = 0x17;

/// A TLS record.
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(body.len() + 5);
    r.push(content_type);
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// Records of random bytes (encrypted handshake / application data),
/// `total` payload bytes cut into records of at most 16 KiB.
pub fn app_data(rng: &mut Rng, total: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(total + 16);
    let mut left = total.max(1);
    while left > 0 {
        let n = left.min(16384);
        out.extend_from_slice(&record(APPLICATION_DATA, 0x0303, &rng.bytes(n)));
        left -= n;
    }
    out
}

/// The ChangeCipherSpec record of TLS 1.3 middlebox compatibility.
pub fn ccs() -> Vec<u8> {
    record(CHANGE_CIPHER_SPEC, 0x0303, &[1])
}

/// A handshake message: type, u24 length, body.
pub fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 4);
    m.push(ty);
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn u16s(prefix_len_bytes: usize, vals: &[u16]) -> Vec<u8> {
    let mut v = Vec::new();
    let n = vals.len() * 2;
    if prefix_len_bytes == 1 {
        v.push(n as u8);
    } else {
        v.extend_from_slice(&(n as u16).to_be_bytes());
    }
    for x in vals {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

/// A GREASE value (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa.
pub fn grease(rng: &mut Rng) -> u16 {
    let n = rng.below(16) as u16;
    (n << 12) | 0x0a00 | (n << 4) | 0x0a
}

/// What a ClientHello should carry.
pub struct HelloSpec<'a> {
    pub sni: &'a str,
    pub alpn: &'a [&'a str],
    /// QUIC transport parameters: a QUIC ClientHello (TLS 1.3 only, no
    /// session id, no GREASE).
    pub quic_tp: Option<Vec<u8>>,
    /// Pad (padding extension) so that the handshake message is this long.
    pub pad_to: Option<usize>,
}

/// A ClientHello handshake message (type 1), Chrome-like.
pub fn client_hello(rng: &mut Rng, s: &HelloSpec<'_>) -> Vec<u8> {
    let quic = s.quic_tp.is_some();
    let mut b = Vec::with_capacity(600);
    b.extend_from_slice(&0x0303u16.to_be_bytes());
    b.extend_from_slice(&rng.array::<32>());
    if quic {
        b.push(0);
    } else {
        b.push(32);
        b.extend_from_slice(&rng.array::<32>());
    }
    let g = [grease(rng), grease(rng), grease(rng), grease(rng)];
    let suites: Vec<u16> = if quic {
        vec![0x1301, 0x1302, 0x1303]
    } else {
        vec![
            g[0], 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
            0x009d, 0x002f, 0x0035,
        ]
    };
    b.extend_from_slice(&u16s(2, &suites));
    b.extend_from_slice(&[1, 0]);

    let mut e = Vec::with_capacity(512);
    if !quic {
        ext(&mut e, g[1], &[]);
    }
    // server_name
    let mut sn = Vec::new();
    sn.extend_from_slice(&((s.sni.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(s.sni.len() as u16).to_be_bytes());
    sn.extend_from_slice(s.sni.as_bytes());
    ext(&mut e, 0x0000, &sn);
    if !quic {
        ext(&mut e, 0x0017, &[]); // extended_master_secret
        ext(&mut e, 0xff01, &[0]); // renegotiation_info
    }
    let groups: Vec<u16> = if quic {
        vec![0x001d, 0x0017, 0x0018]
    } else {
        vec![g[2], 0x001d, 0x0017, 0x0018]
    };
    ext(&mut e, 0x000a, &u16s(2, &groups));
    if !quic {
        ext(&mut e, 0x000b, &[1, 0]); // ec_point_formats
        ext(&mut e, 0x0023, &[]); // session_ticket
    }
    // ALPN
    let mut al = Vec::new();
    let list: usize = s.alpn.iter().map(|a| a.len() + 1).sum();
    al.extend_from_slice(&(list as u16).to_be_bytes());
    for a in s.alpn {
        al.push(a.len() as u8);
        al.extend_from_slice(a.as_bytes());
    }
    ext(&mut e, 0x0010, &al);
    if !quic {
        ext(&mut e, 0x0005, &[1, 0, 0, 0, 0]); // status_request
    }
    ext(
        &mut e,
        0x000d,
        &u16s(2, &[0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]),
    );
    if !quic {
        ext(&mut e, 0x0012, &[]); // signed_certificate_timestamp
    }
    // key_share: GREASE share (TLS only) and x25519.
    let mut ks = Vec::new();
    if !quic {
        ks.extend_from_slice(&g[2].to_be_bytes());
        ks.extend_from_slice(&[0, 1, 0]);
    }
    ks.extend_from_slice(&0x001du16.to_be_bytes());
    ks.extend_from_slice(&32u16.to_be_bytes());
    ks.extend_from_slice(&rng.array::<32>());
    let mut kse = (ks.len() as u16).to_be_bytes().to_vec();
    kse.extend_from_slice(&ks);
    ext(&mut e, 0x0033, &kse);
    ext(&mut e, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
    let versions: Vec<u16> = if quic { vec![0x0304] } else { vec![g[3], 0x0304, 0x0303] };
    ext(&mut e, 0x002b, &u16s(1, &versions));
    if !quic {
        ext(&mut e, 0x001b, &[2, 0, 2]); // compress_certificate: brotli
    }
    if let Some(tp) = &s.quic_tp {
        ext(&mut e, 0x0039, tp);
    }
    if !quic {
        ext(&mut e, g[1] ^ 0x1010, &[0]); // trailing GREASE extension, distinct from the first
    }
    if let Some(target) = s.pad_to {
        // Message = 4 (hs header) + body + 2 (ext len) + e; a padding
        // extension costs 4 bytes of header.
        let now = 4 + b.len() + 2 + e.len();
        if target >= now + 4 {
            let n = target - now - 4;
            ext(&mut e, 0x0015, &vec![0u8; n]);
        }
    }
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    handshake(1, &b)
}

/// A TLS 1.3 ServerHello handshake message echoing `session_id`
/// (supported_versions, then key_share).
pub fn server_hello(rng: &mut Rng, session_id: &[u8]) -> Vec<u8> {
    server_hello_ordered(rng, session_id, false)
}

/// The ServerHello of MTProxy's fake-TLS: the same fields with key_share
/// first, as MTProxy writes it (JA3S "771,4865,51-43").
pub fn server_hello_mtproxy(rng: &mut Rng, session_id: &[u8]) -> Vec<u8> {
    server_hello_ordered(rng, session_id, true)
}

fn server_hello_ordered(rng: &mut Rng, session_id: &[u8], key_share_first: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(&0x0303u16.to_be_bytes());
    b.extend_from_slice(&rng.array::<32>());
    b.push(session_id.len() as u8);
    b.extend_from_slice(session_id);
    b.extend_from_slice(&0x1301u16.to_be_bytes());
    b.push(0);
    let mut ks = 0x001du16.to_be_bytes().to_vec();
    ks.extend_from_slice(&32u16.to_be_bytes());
    ks.extend_from_slice(&rng.array::<32>());
    let mut e = Vec::new();
    if key_share_first {
        ext(&mut e, 0x0033, &ks);
        ext(&mut e, 0x002b, &0x0304u16.to_be_bytes());
    } else {
        ext(&mut e, 0x002b, &0x0304u16.to_be_bytes());
        ext(&mut e, 0x0033, &ks);
    }
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    handshake(2, &b)
}

/// A TLS 1.2 ServerHello (ECDHE-RSA-AES128-GCM-SHA256, extended master
/// secret, renegotiation_info, ALPN when given).
pub fn server_hello_12(rng: &mut Rng, session_id: &[u8], alpn: Option<&str>) -> Vec<u8> {
    let mut b = Vec::with_capacity(96);
    b.extend_from_slice(&0x0303u16.to_be_bytes());
    b.extend_from_slice(&rng.array::<32>());
    b.push(session_id.len() as u8);
    b.extend_from_slice(session_id);
    b.extend_from_slice(&0xc02fu16.to_be_bytes());
    b.push(0);
    let mut e = Vec::new();
    ext(&mut e, 0xff01, &[0]);
    ext(&mut e, 0x0017, &[]);
    if let Some(a) = alpn {
        let mut al = ((a.len() + 1) as u16).to_be_bytes().to_vec();
        al.push(a.len() as u8);
        al.extend_from_slice(a.as_bytes());
        ext(&mut e, 0x0010, &al);
    }
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    handshake(2, &b)
}

/// TLS 1.2 server messages after the ServerHello: Certificate (one opaque
/// certificate of `cert_len` bytes: not a parseable X.509 structure),
/// ServerKeyExchange (x25519), ServerHelloDone.
pub fn server_cert_flight_12(rng: &mut Rng, cert_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut c = Vec::with_capacity(cert_len + 6);
    c.extend_from_slice(&((cert_len + 3) as u32).to_be_bytes()[1..]);
    c.extend_from_slice(&(cert_len as u32).to_be_bytes()[1..]);
    c.extend_from_slice(&rng.bytes(cert_len));
    out.extend_from_slice(&handshake(11, &c));
    let mut k = vec![3, 0x00, 0x1d, 32];
    k.extend_from_slice(&rng.array::<32>());
    k.extend_from_slice(&0x0804u16.to_be_bytes());
    k.extend_from_slice(&256u16.to_be_bytes());
    k.extend_from_slice(&rng.bytes(256));
    out.extend_from_slice(&handshake(12, &k));
    out.extend_from_slice(&handshake(14, &[]));
    out
}

/// The session id of a ClientHello message (for the ServerHello echo).
pub fn session_id_of(client_hello: &[u8]) -> &[u8] {
    // type(1) len(3) version(2) random(32) sid_len(1)
    let n = client_hello.get(38).copied().unwrap_or(0) as usize;
    client_hello.get(39..39 + n).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_parses_with_tls_parser() {
        let mut rng = Rng::new(5);
        let spec = HelloSpec {
            sni: "www.example.org",
            alpn: &["h2", "http/1.1"],
            quic_tp: None,
            pad_to: Some(512),
        };
        let ch = client_hello(&mut rng, &spec);
        assert_eq!(ch.len(), 512);
        let rec = record(HANDSHAKE, 0x0301, &ch);
        let (rest, parsed) = tls_parser::parse_tls_plaintext(&rec).expect("parses");
        assert!(rest.is_empty());
        let tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ClientHello(h)) = &parsed.msg[0] else {
            panic!("not a ClientHello: {parsed:?}");
        };
        let exts = tls_parser::parse_tls_client_hello_extensions(h.ext.expect("extensions"))
            .expect("extensions parse")
            .1;
        let sni = exts.iter().find_map(|e| match e {
            tls_parser::TlsExtension::SNI(v) => Some(v[0].1),
            _ => None,
        });
        assert_eq!(sni, Some(&b"www.example.org"[..]));
        assert!(exts
            .iter()
            .any(|e| matches!(e, tls_parser::TlsExtension::SupportedVersions(v) if v.len() == 3)));
        assert_eq!(session_id_of(&ch).len(), 32);
        let sh = server_hello(&mut rng, session_id_of(&ch));
        let rec = record(HANDSHAKE, 0x0303, &sh);
        let (_, parsed) = tls_parser::parse_tls_plaintext(&rec).expect("server hello parses");
        assert!(matches!(
            parsed.msg[0],
            tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ServerHelloV13Draft18(_))
                | tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ServerHello(_))
        ));
    }

    #[test]
    fn tls12_server_flight_parses() {
        let mut rng = Rng::new(6);
        let mut m = server_hello_12(&mut rng, &[7; 32], Some("h2"));
        m.extend_from_slice(&server_cert_flight_12(&mut rng, 900));
        let rec = record(HANDSHAKE, 0x0303, &m);
        let (rest, parsed) = tls_parser::parse_tls_plaintext(&rec).expect("parses");
        assert!(rest.is_empty());
        assert_eq!(parsed.msg.len(), 4, "{parsed:?}");
        assert!(matches!(
            parsed.msg[3],
            tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ServerDone(_))
        ));
    }
}
