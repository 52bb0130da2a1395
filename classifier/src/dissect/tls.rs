//! TLS over TCP: the ClientHello (SNI, ALPN, JA3, JA4), the server's
//! first flight (ServerHello, certificate names in TLS <= 1.2) and the
//! shape of that flight (record and handshake message types).
//!
//! Both directions are parsed from the stream prefix on every call:
//! records (content type, version 3.0..3.4, length up to 2^14 + 2048),
//! the handshake bytes of the leading handshake records concatenated
//! (a ClientHello with a post-quantum key share spans several records or
//! segments), capped at [`MAX_HS`] bytes.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::fingerprint::client_hello::{self, ext, handshake_header, printable, version_name, ClientHello, Reader};
use crate::fingerprint::ja3;
use crate::verdict::{Encryption, Meta};

/// TLS over TCP.
pub struct Tls;

/// Largest record length accepted (TLSCiphertext: 2^14 + 2048).
const MAX_RECORD: usize = 16384 + 2048;
/// Cap on the handshake bytes reassembled per direction.
const MAX_HS: usize = 64 * 1024;
/// Server records and handshake messages listed in `server_records` /
/// `server_hs`.
const MAX_LISTED: usize = 8;
/// Certificate names kept.
const MAX_NAMES: usize = 64;

const CT_CCS: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPDATA: u8 = 23;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_HELLO_DONE: u8 = 14;

/// How far a byte prefix agrees with a TLS record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Head {
    /// Consistent so far, too short to tell.
    Partial,
    /// A complete, sane header.
    Ok {
        ctype: u8,
        len: usize,
    },
    Bad,
}

fn record_head(b: &[u8]) -> Head {
    let ctype = match b.first() {
        None => return Head::Partial,
        Some(&c @ CT_CCS..=CT_APPDATA) => c,
        Some(_) => return Head::Bad,
    };
    match b.get(1) {
        None => return Head::Partial,
        Some(3) => {}
        Some(_) => return Head::Bad,
    }
    match b.get(2) {
        None => return Head::Partial,
        Some(0..=4) => {}
        Some(_) => return Head::Bad,
    }
    let (Some(&h), Some(&l)) = (b.get(3), b.get(4)) else {
        return Head::Partial;
    };
    let len = usize::from(u16::from_be_bytes([h, l]));
    if len == 0 || len > MAX_RECORD {
        return Head::Bad;
    }
    Head::Ok { ctype, len }
}

/// The record layer of one direction's stream prefix.
#[derive(Debug, Default)]
struct Records {
    /// Content types of the first records whose header is complete.
    types: Vec<u8>,
    /// Handshake bytes of the leading handshake records (before any other
    /// content type), the last record possibly partial; capped.
    hs: Vec<u8>,
    /// A record of another type followed the leading handshake records.
    past_handshake: bool,
    /// An invalid record header was met.
    bad: bool,
}

fn records(stream: &[u8]) -> Records {
    let mut r = Records::default();
    let mut rest = stream;
    let mut in_hs = true;
    while !rest.is_empty() {
        let (ctype, len) = match record_head(rest) {
            Head::Partial => break,
            Head::Bad => {
                r.bad = true;
                break;
            }
            Head::Ok { ctype, len } => (ctype, len),
        };
        if r.types.len() < MAX_LISTED {
            r.types.push(ctype);
        }
        let body = rest.get(5..).unwrap_or(&[]);
        let take = len.min(body.len());
        let payload = &body[..take];
        if ctype != CT_HANDSHAKE {
            in_hs = false;
            r.past_handshake = true;
        } else if in_hs {
            let room = MAX_HS.saturating_sub(r.hs.len());
            r.hs.extend_from_slice(&payload[..payload.len().min(room)]);
        }
        rest = &body[take..];
        // Enough records listed, and the handshake part is over: stop.
        if r.types.len() >= MAX_LISTED && !in_hs {
            break;
        }
    }
    r
}

/// The client side: where the first ClientHello stands.
#[derive(Debug)]
enum Client {
    Empty,
    /// TLS so far, the hello is not complete yet.
    Partial {
        hello_started: bool,
    },
    Hello(Box<ClientHello>),
    /// Not a TLS ClientHello (or a malformed one).
    NotHello,
}

fn client(stream: &[u8]) -> Client {
    if stream.is_empty() {
        return Client::Empty;
    }
    let rec = records(stream);
    let first_is_hs = rec.types.first().is_none_or(|&t| t == CT_HANDSHAKE);
    if !first_is_hs || (rec.bad && rec.types.is_empty()) {
        return Client::NotHello;
    }
    let Some((typ, len)) = handshake_header(&rec.hs) else {
        return if rec.bad || rec.past_handshake {
            Client::NotHello
        } else {
            Client::Partial {
                hello_started: rec.hs.first() == Some(&HS_CLIENT_HELLO),
            }
        };
    };
    if typ != HS_CLIENT_HELLO || len + 4 > MAX_HS {
        return Client::NotHello;
    }
    match rec.hs.get(..len + 4) {
        Some(msg) => match client_hello::parse_handshake(msg) {
            Ok(ch) => Client::Hello(Box::new(ch)),
            Err(_) => Client::NotHello,
        },
        None if rec.bad || rec.past_handshake => Client::NotHello,
        None => Client::Partial { hello_started: true },
    }
}

/// The ServerHello fields baikal reports.
#[derive(Debug, Default)]
struct ServerHello {
    legacy_version: u16,
    cipher: u16,
    extensions: Vec<u16>,
    selected_version: Option<u16>,
    alpn: Option<String>,
}

impl ServerHello {
    fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
    /// TLS 1.3 (or a 1.3 draft): everything after the ServerHello is
    /// encrypted.
    fn is_13(&self) -> bool {
        matches!(self.version(), 0x0304 | 0x7f00..=0x7fff)
    }
}

fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader::new(body);
    let mut sh = ServerHello {
        legacy_version: r.u16()?,
        ..ServerHello::default()
    };
    r.take(32)?;
    r.vec8()?;
    sh.cipher = r.u16()?;
    r.u8()?;
    if r.is_empty() {
        return Some(sh);
    }
    let mut er = Reader::new(r.vec16()?);
    while !er.is_empty() {
        let typ = er.u16()?;
        let data = er.vec16()?;
        sh.extensions.push(typ);
        let mut d = Reader::new(data);
        match typ {
            ext::SUPPORTED_VERSIONS => sh.selected_version = d.u16(),
            ext::ALPN => sh.alpn = d.vec16().and_then(|l| Reader::new(l).vec8()).map(printable),
            _ => {}
        }
    }
    Some(sh)
}

/// Subject CN and SAN DNS names of the first (leaf) certificate of a
/// Certificate message body (TLS <= 1.2 layout).
fn certificate_names(body: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut r = Reader::new(body);
    let Some(list) = r.vec24() else { return names };
    let Some(der) = Reader::new(list).vec24() else {
        return names;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return names;
    };
    let mut add = |s: &str| {
        if names.len() < MAX_NAMES && !names.iter().any(|n| n == s) {
            names.push(printable(s.as_bytes()));
        }
    };
    for cn in cert.subject().iter_common_name() {
        if let Ok(s) = cn.as_str() {
            add(s);
        }
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(s) = n {
                add(s);
            }
        }
    }
    names
}

/// The server side: its first flight.
#[derive(Debug, Default)]
struct Server {
    hello: Option<ServerHello>,
    records: Vec<u8>,
    hs_types: Vec<u8>,
    cert_names: Vec<String>,
    hello_done: bool,
    past_handshake: bool,
    alert: bool,
    /// The stream does not start like a TLS server flight.
    not_tls: bool,
}

impl Server {
    /// Nothing more to learn from the server's first flight.
    fn done(&self) -> bool {
        if self.alert || self.records.len() >= MAX_LISTED {
            return true;
        }
        match &self.hello {
            None => false,
            Some(sh) if sh.is_13() => self.records.contains(&CT_APPDATA),
            Some(_) => self.hello_done || self.past_handshake,
        }
    }
}

fn server(stream: &[u8]) -> Server {
    let rec = records(stream);
    let mut s = Server {
        not_tls: rec.bad && rec.types.is_empty(),
        alert: rec.types.contains(&CT_ALERT),
        past_handshake: rec.past_handshake,
        records: rec.types,
        ..Server::default()
    };
    let mut r = Reader::new(&rec.hs);
    while let Some((typ, len)) = r.take(4).and_then(handshake_header) {
        if s.hs_types.is_empty() && typ != HS_SERVER_HELLO {
            s.not_tls = true;
        }
        if s.hs_types.len() < MAX_LISTED {
            s.hs_types.push(typ);
        }
        let Some(body) = r.take(len) else { break };
        match typ {
            HS_SERVER_HELLO if s.hello.is_none() => s.hello = parse_server_hello(body),
            HS_CERTIFICATE if s.cert_names.is_empty() => s.cert_names = certificate_names(body),
            HS_SERVER_HELLO_DONE => s.hello_done = true,
            _ => {}
        }
    }
    s
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn fill_server(s: &Server, meta: &mut Meta) {
    if let Some(sh) = &s.hello {
        meta.ja3s = Some(ja3::ja3s(sh.legacy_version, sh.cipher, &sh.extensions));
        meta.set_extra("tls_version", version_name(sh.version()));
        meta.set_extra("tls_cipher", format!("{:04x}", sh.cipher));
        if let Some(a) = &sh.alpn {
            meta.set_extra("alpn_selected", a.clone());
        }
    }
    if !s.cert_names.is_empty() {
        meta.set_extra("cert_names", s.cert_names.join(","));
    }
    if !s.records.is_empty() {
        meta.set_extra("server_records", join(&s.records));
    }
    if !s.hs_types.is_empty() {
        meta.set_extra("server_hs", join(&s.hs_types));
    }
}

fn mark_tls(meta: &mut Meta) {
    meta.protocol = Some("tls");
    meta.encryption = Encryption::Encrypted;
}

impl Dissector for Tls {
    fn name(&self) -> &'static str {
        "tls"
    }

    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }

    fn probe(&self, p: &Payloads<'_>) -> Probe {
        // The client speaks first; only a server-only flow is probed on
        // the server's bytes.
        let (s, hs_type) = if p.orig.is_empty() {
            (p.resp.stream(), HS_SERVER_HELLO)
        } else {
            (p.orig.stream(), HS_CLIENT_HELLO)
        };
        match record_head(s) {
            Head::Bad => Probe::NotMine,
            Head::Ok { ctype, .. } if ctype != CT_HANDSHAKE => Probe::NotMine,
            Head::Partial => Probe::Maybe,
            Head::Ok { .. } => match s.get(5) {
                None => Probe::Maybe,
                Some(&t) if t == hs_type => Probe::Mine,
                Some(_) => Probe::NotMine,
            },
        }
    }

    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = client(p.orig.stream());
        let s = (!p.resp.is_empty()).then(|| server(p.resp.stream()));
        let server_hello = s.as_ref().is_some_and(|s| s.hello.is_some() && !s.not_tls);
        let server_done = s.as_ref().is_some_and(|s| !s.not_tls && s.done());
        let fill = |meta: &mut Meta| {
            mark_tls(meta);
            if let Some(s) = s.as_ref().filter(|s| !s.not_tls) {
                fill_server(s, meta);
            }
        };
        match c {
            Client::Hello(ch) => {
                client_hello::fill_meta(&ch, 't', meta);
                fill(meta);
                if server_done {
                    Parse::Done
                } else {
                    Parse::Identified
                }
            }
            // Only the server side is seen (or the client's stream has a
            // gap): the ServerHello alone identifies the flow.
            Client::Empty | Client::Partial { .. } if server_hello => {
                fill(meta);
                Parse::Identified
            }
            Client::NotHello if server_hello => {
                fill(meta);
                if server_done {
                    Parse::Done
                } else {
                    Parse::Identified
                }
            }
            Client::Partial { hello_started: true } if p.last => {
                // A record header and a ClientHello header, cut short:
                // TLS, without fingerprints.
                mark_tls(meta);
                meta.set_extra("tls_hello", "truncated");
                Parse::Identified
            }
            Client::Empty | Client::Partial { .. } => {
                if p.last || s.as_ref().is_some_and(|s| s.not_tls) {
                    Parse::NotMine
                } else {
                    Parse::NeedMore
                }
            }
            Client::NotHello => Parse::NotMine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;
    use crate::fingerprint::client_hello::fixture::{alpn, be16, chrome, sni, Hello};

    /// Wraps a handshake message in records of at most `max` bytes.
    fn wrap(ctype: u8, msg: &[u8], max: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for chunk in msg.chunks(max) {
            v.extend_from_slice(&[ctype, 3, 1]);
            be16(&mut v, chunk.len());
            v.extend_from_slice(chunk);
        }
        v
    }

    fn hs(typ: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![typ];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }

    fn server_hello(version: u16, cipher: u16, exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&version.to_be_bytes());
        b.extend([0x11u8; 32]);
        b.push(32);
        b.extend([0x22u8; 32]);
        b.extend_from_slice(&cipher.to_be_bytes());
        b.push(0);
        let mut e = Vec::new();
        for (t, d) in exts {
            e.extend_from_slice(&t.to_be_bytes());
            be16(&mut e, d.len());
            e.extend_from_slice(d);
        }
        be16(&mut b, e.len());
        b.extend(e);
        hs(HS_SERVER_HELLO, &b)
    }

    /// A TLS 1.3 server flight: ServerHello, CCS, one application record.
    fn flight13() -> Vec<u8> {
        let sh = server_hello(0x0303, 0x1301, &[(0x002b, vec![3, 4]), (0x0033, vec![0; 36])]);
        let mut v = wrap(CT_HANDSHAKE, &sh, 16384);
        v.extend_from_slice(&[CT_CCS, 3, 3, 0, 1, 1]);
        v.extend_from_slice(&[CT_APPDATA, 3, 3, 0, 40]);
        v.extend([0x99u8; 40]);
        v
    }

    /// A DER certificate with CN=cn.example and SAN DNS a.example,
    /// b.example (hand-assembled; the signature is not checked).
    fn cert_der() -> Vec<u8> {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            if content.len() < 128 {
                v.push(content.len() as u8);
            } else {
                v.push(0x82);
                v.extend_from_slice(&(content.len() as u16).to_be_bytes());
            }
            v.extend_from_slice(content);
            v
        }
        let cat = |parts: &[Vec<u8>]| parts.concat();
        let oid_cn = tlv(0x06, &[0x55, 0x04, 0x03]);
        let name = tlv(0x30, &tlv(0x31, &tlv(0x30, &cat(&[oid_cn, tlv(0x0c, b"cn.example")]))));
        let alg = tlv(
            0x30,
            &cat(&[tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]),
        );
        let validity = tlv(0x30, &cat(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z")]));
        let mut point = vec![0x04];
        point.extend([0x01u8; 64]);
        let mut bits = vec![0u8];
        bits.extend(point);
        let spki = tlv(
            0x30,
            &cat(&[
                tlv(
                    0x30,
                    &cat(&[
                        tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                        tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
                    ]),
                ),
                tlv(0x03, &bits),
            ]),
        );
        let san_names = tlv(0x30, &cat(&[tlv(0x82, b"a.example"), tlv(0x82, b"b.example")]));
        let san = tlv(0x30, &cat(&[tlv(0x06, &[0x55, 0x1d, 0x11]), tlv(0x04, &san_names)]));
        let exts = tlv(0xa3, &tlv(0x30, &san));
        let version = tlv(0xa0, &tlv(0x02, &[2]));
        let tbs = tlv(
            0x30,
            &cat(&[
                version,
                tlv(0x02, &[1]),
                alg.clone(),
                name.clone(),
                validity,
                name,
                spki,
                exts,
            ]),
        );
        let sig = tlv(0x03, &[0, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]);
        tlv(0x30, &cat(&[tbs, alg, sig]))
    }

    /// A TLS 1.2 server flight: ServerHello (ALPN h2), Certificate,
    /// ServerKeyExchange, ServerHelloDone, in one record.
    fn flight12() -> Vec<u8> {
        let sh = server_hello(
            0x0303,
            0xc02f,
            &[(0xff01, vec![0]), alpn(&[b"h2"]), (0x000b, vec![1, 0])],
        );
        let der = cert_der();
        let mut entry = Vec::new();
        entry.extend_from_slice(&(der.len() as u32).to_be_bytes()[1..]);
        entry.extend(der);
        let mut body = Vec::new();
        body.extend_from_slice(&(entry.len() as u32).to_be_bytes()[1..]);
        body.extend(entry);
        let mut msgs = sh;
        msgs.extend(hs(HS_CERTIFICATE, &body));
        msgs.extend(hs(12, &[3, 0, 0x1d, 4, 1, 2, 3, 4]));
        msgs.extend(hs(HS_SERVER_HELLO_DONE, &[]));
        wrap(CT_HANDSHAKE, &msgs, 16384)
    }

    fn run(orig: &[u8], resp: &[u8], last: bool) -> (Parse, Meta) {
        let ends = [[orig.len() as u32], [resp.len() as u32]];
        let mut p = Payloads::tcp(40000, 443, orig, resp, &ends);
        p.last = last;
        let mut m = Meta::default();
        let r = Tls.parse(&p, &mut m);
        (r, m)
    }

    #[test]
    fn client_hello_in_three_records_with_tls13_server() {
        let msg = chrome("www.example.com");
        assert!(msg.len() > 1200);
        // Spread over three records, as a PQ hello often is.
        let orig = wrap(CT_HANDSHAKE, &msg, 700);
        assert_eq!(orig.len(), msg.len() + 15);
        let resp = flight13();
        let (r, m) = check_split_tcp(&Tls, 443, &orig, &resp);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tls"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.sni.as_deref(), Some("www.example.com"));
        assert_eq!(m.alpn.as_deref(), Some("h2,http/1.1"));
        assert_eq!(m.ja4.as_deref(), Some("t13d1516h2_8daaf6152771_e5627efa2ab1"));
        assert_eq!(m.extra("tls_version"), Some("1.3"));
        assert_eq!(m.extra("tls_cipher"), Some("1301"));
        assert_eq!(m.extra("server_records"), Some("22,20,23"));
        assert_eq!(m.extra("server_hs"), Some("2"));
        let js = ja3::ja3s_string(0x0303, 0x1301, &[0x002b, 0x0033]);
        assert_eq!(js, "771,4865,43-51");
        assert_eq!(m.ja3s, Some(ja3::ja3s(0x0303, 0x1301, &[0x002b, 0x0033])));
        // The same hello in one record gives the same fingerprints.
        let (_, one) = run(&wrap(CT_HANDSHAKE, &msg, 16384), &[], false);
        assert_eq!((one.ja4, one.ja3), (m.ja4.clone(), m.ja3.clone()));
    }

    #[test]
    fn every_prefix_needs_more_until_the_hello_is_complete() {
        let orig = wrap(CT_HANDSHAKE, &chrome("x.example"), 600);
        for k in 0..orig.len() {
            let ends = [[k as u32], [0]];
            let p = Payloads::tcp(40000, 443, &orig[..k], &[], &ends);
            assert_ne!(Tls.probe(&p), Probe::NotMine, "prefix {k}");
            let mut m = Meta::default();
            assert_eq!(Tls.parse(&p, &mut m), Parse::NeedMore, "prefix {k}");
            assert_eq!(m, Meta::default());
        }
        let (r, m) = run(&orig, &[], false);
        assert_eq!(r, Parse::Identified);
        assert!(m.ja4.is_some());
    }

    #[test]
    fn tls12_server_flight_gives_cert_names_and_alpn() {
        let orig = wrap(CT_HANDSHAKE, &chrome("a.example"), 16384);
        let resp = flight12();
        let (r, m) = check_split_tcp(&Tls, 443, &orig, &resp);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("tls_version"), Some("1.2"));
        assert_eq!(m.extra("tls_cipher"), Some("c02f"));
        assert_eq!(m.extra("alpn_selected"), Some("h2"));
        assert_eq!(m.extra("cert_names"), Some("cn.example,a.example,b.example"));
        assert_eq!(m.extra("server_records"), Some("22"));
        assert_eq!(m.extra("server_hs"), Some("2,11,12,14"));
        assert_eq!(m.ja3s, Some(ja3::ja3s(0x0303, 0xc02f, &[0xff01, 0x0010, 0x000b])));
        // Before the ServerHelloDone the flow is identified, not done.
        let (r, _) = run(&orig, &resp[..resp.len() - 2], false);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn server_only_flow() {
        let resp = flight13();
        let ends = [[0], [resp.len() as u32]];
        let p = Payloads::tcp(40000, 443, &[], &resp, &ends);
        assert_eq!(Tls.probe(&p), Probe::Mine);
        let (r, m) = run(&[], &resp, false);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("tls"));
        assert_eq!(m.extra("tls_version"), Some("1.3"));
        assert_eq!(m.sni, None);
        assert_eq!(run(&[], &resp, true).0, Parse::Identified);
        // Partial server records: need more, and never a panic.
        for k in 0..resp.len() {
            let r = run(&[], &resp[..k], false).0;
            assert!(matches!(r, Parse::NeedMore | Parse::Identified), "{k}: {r:?}");
        }
        assert_eq!(run(&[], b"HTTP/1.1 200 OK\r\n", false).0, Parse::NotMine);
    }

    #[test]
    fn not_tls() {
        for orig in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"\x16\x02\x01",
            b"\x16\x03\x09",
            b"\x17\x03\x03\x00\x10",
        ] {
            let ends = [[orig.len() as u32], [0]];
            let p = Payloads::tcp(40000, 443, orig, &[], &ends);
            assert_eq!(Tls.probe(&p), Probe::NotMine, "{orig:?}");
            assert_eq!(run(orig, &[], false).0, Parse::NotMine, "{orig:?}");
        }
        // A handshake record that is not a ClientHello.
        let orig = wrap(CT_HANDSHAKE, &hs(2, &[0; 40]), 100);
        let ends = [[orig.len() as u32], [0]];
        assert_eq!(Tls.probe(&Payloads::tcp(1, 443, &orig, &[], &ends)), Probe::NotMine);
        assert_eq!(run(&orig, &[], false).0, Parse::NotMine);
    }

    #[test]
    fn absurd_lengths() {
        // Record length 0 and > 2^14 + 2048.
        for len in [0u16, 0x4801, 0xffff] {
            let mut orig = vec![0x16, 3, 1];
            orig.extend_from_slice(&len.to_be_bytes());
            orig.extend([1u8, 0, 0, 10]);
            assert_eq!(run(&orig, &[], false).0, Parse::NotMine, "{len}");
        }
        // Handshake length beyond the cap: not a hello we will ever see.
        let orig = [0x16, 3, 1, 0, 8, 1, 0xff, 0xff, 0xff, 3, 3, 0, 0];
        assert_eq!(run(&orig, &[], false).0, Parse::NotMine);
        // A hello whose inner lengths lie.
        let mut msg = Hello {
            version: 0x0303,
            ciphers: vec![0x1301],
            exts: vec![sni("a.b")],
            ..Hello::default()
        }
        .build();
        msg[38] = 200; // session id length past the end
        assert_eq!(run(&wrap(CT_HANDSHAKE, &msg, 16384), &[], false).0, Parse::NotMine);
        // A record of another type before the hello completes.
        let full = chrome("a.example");
        let mut orig = wrap(CT_HANDSHAKE, &full[..100], 16384);
        orig.extend_from_slice(&[CT_APPDATA, 3, 3, 0, 2, 0, 0]);
        assert_eq!(run(&orig, &[], false).0, Parse::NotMine);
        // Garbage server bytes and garbage certificates never panic.
        let mut resp = flight12();
        for i in (0..resp.len()).step_by(7) {
            resp[i] ^= 0x5a;
            let _ = run(&full, &resp, true);
        }
    }

    #[test]
    fn truncated_hello_at_the_end_is_still_tls() {
        let orig = wrap(CT_HANDSHAKE, &chrome("a.example"), 16384);
        let (r, m) = run(&orig[..900], &[], true);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("tls"));
        assert_eq!(m.ja4, None);
        assert_eq!(run(&orig[..3], &[], true).0, Parse::NotMine);
    }

    #[test]
    fn gap_in_client_stream_still_identifies_from_server() {
        let orig = wrap(CT_HANDSHAKE, &chrome("a.example"), 16384);
        let (r, m) = run(&orig[..700], &flight13(), false);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("tls_version"), Some("1.3"));
    }

    #[test]
    fn tls10_hello_without_sigalgs() {
        let msg = Hello {
            version: 0x0301,
            ciphers: vec![0x0039, 0x0038, 0x0035, 0x00ff],
            exts: vec![sni("old.example")],
            ..Hello::default()
        }
        .build();
        let (r, m) = check_split_tcp(&Tls, 443, &wrap(CT_HANDSHAKE, &msg, 16384), &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.ja4_r.as_deref(), Some("t10d040100_0035,0038,0039,00ff_"));
        assert_eq!(m.extra("tls_version_offered"), Some("1.0"));
    }

    #[test]
    fn registered_first() {
        assert_eq!(crate::dissect::DISSECTORS.first().map(|d| d.name()), Some("tls"));
    }
}
