//! TLS over TCP: the ClientHello (SNI, ALPN, JA3, JA4), the server's
//! first flight (ServerHello, certificate names in TLS <= 1.2) and the
//! shape of that flight (record and handshake message types).
//!
//! Both directions are parsed from the stream prefix on every call:
//! records (content type 20..23, version 3.0..3.4, length 1..2^14+2048),
//! the handshake bytes of the leading handshake records concatenated
//! (a ClientHello with a post-quantum key share spans several records or
//! segments), capped at 64 KiB.
//!
//! Verdicts:
//! - NeedMore until the ClientHello is complete; then Identified with
//!   `sni`, `alpn`, `ja3`, `ja4`, `ja4_r` and the extras
//!   `tls_version_offered`, `ech`; Done once the server's first flight is
//!   over (ServerHello and the first encrypted record in 1.3;
//!   ServerHelloDone or CCS in <= 1.2; a fatal alert).
//! - Server extras: `ja3s`, `tls_version`, `tls_cipher` (4 hex digits),
//!   `alpn_selected`, `cert_names` (leaf subject CN and SAN DNS names,
//!   TLS <= 1.2), `server_records` (content types of the first flight's
//!   records, e.g. `22,20,23`), `server_hs` (its handshake message types,
//!   e.g. `2,11,12,14`), `tls_hrr` when the ServerHello is a
//!   HelloRetryRequest.
//! - Only the server side seen (or a gap in the client's): Identified
//!   from a ServerHello.
//! - Behind a SOCKS4/4a or SOCKS5 CONNECT preamble: the same, plus
//!   `proxy` (`socks4`, `socks5`).
//! - Captured mid-stream (records but no hello): Done with
//!   `tls_midstream`, `tls_record_version`, `tls_first_record` once two
//!   record headers (or one per side) are seen.
//! - `Payloads::last` with a ClientHello cut short: Identified without
//!   fingerprints (`tls_hello` = `truncated`).
//! - A whole ClientHello in well-formed records, with a 3.x client
//!   version, whose body does not parse (e.g. an odd cipher-suite length,
//!   as in nDPI's `tls_cipher_lens.pcap`): Identified without fingerprints
//!   (`tls_hello` = `malformed`).

use std::borrow::Cow;

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
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
/// Certificate names kept, and their total length: a CDN certificate
/// can carry hundreds of SAN names; the first ones say enough.
const MAX_NAMES: usize = 64;
const MAX_NAMES_LEN: usize = 1024;

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

/// Up to [`MAX_LISTED`] values, held in place: both sides are parsed
/// again at every packet of an undecided flow, and vectors here were three
/// allocations a parse.
#[derive(Clone, Copy, Debug, Default)]
struct Listed<T> {
    v: [T; MAX_LISTED],
    n: usize,
}

impl<T: Copy> Listed<T> {
    /// Adds `x` if there is room.
    fn push(&mut self, x: T) {
        if let Some(slot) = self.v.get_mut(self.n) {
            *slot = x;
            self.n += 1;
        }
    }
    fn truncate(&mut self, n: usize) {
        self.n = self.n.min(n);
    }
}

impl<T> std::ops::Deref for Listed<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.v[..self.n]
    }
}

/// The record layer of one direction's stream prefix.
#[derive(Debug, Default)]
struct Records<'a> {
    /// Content types of the first records whose header is complete.
    types: Listed<u8>,
    /// For each record in `types`: the length of `hs` after it.
    hs_end: Listed<usize>,
    /// Handshake bytes of the leading handshake records (before any other
    /// content type), the last record possibly partial; capped. Borrowed
    /// from the stream while they come from one record, as a flight in
    /// one record does; copied when a second record adds to them.
    hs: Cow<'a, [u8]>,
    /// A record of another type (alerts aside) followed the leading
    /// handshake records.
    past_handshake: bool,
    /// Index in `types` of the first fatal alert record.
    fatal_alert: Option<usize>,
    /// An invalid record header was met.
    bad: bool,
    /// Declared length of the first application-data record.
    first_appdata_len: Option<usize>,
}

fn records(stream: &[u8]) -> Records<'_> {
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
        let body = rest.get(5..).unwrap_or(&[]);
        let take = len.min(body.len());
        let payload = &body[..take];
        if ctype == CT_APPDATA && r.first_appdata_len.is_none() {
            r.first_appdata_len = Some(len);
        }
        if ctype == CT_ALERT {
            // A warning (e.g. unrecognized_name before the ServerHello)
            // does not end the handshake; a fatal alert ends the flow.
            if payload.first() == Some(&2) && r.fatal_alert.is_none() {
                r.fatal_alert = Some(r.types.len());
            }
        } else if ctype != CT_HANDSHAKE {
            in_hs = false;
            r.past_handshake = true;
        } else if in_hs {
            let room = MAX_HS.saturating_sub(r.hs.len());
            let add = &payload[..payload.len().min(room)];
            if r.hs.is_empty() {
                r.hs = Cow::Borrowed(add);
            } else if !add.is_empty() {
                r.hs.to_mut().extend_from_slice(add);
            }
        }
        if r.types.len() < MAX_LISTED {
            r.types.push(ctype);
            r.hs_end.push(r.hs.len());
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
    Hello {
        /// `None` when the caller already holds this hello's fingerprints
        /// and asked [`client`] not to parse it again.
        hello: Option<Box<ClientHello>>,
        /// Length of the client's first application-data record: in TLS
        /// 1.3 its wrapped Finished (53 or 69 bytes from real clients),
        /// which MTProxy fake-TLS replaces with a much longer payload.
        first_appdata_len: Option<usize>,
    },
    /// A whole ClientHello message in well-formed records, with a TLS
    /// client version, whose body does not parse (e.g. an odd cipher-suite
    /// length): TLS, without fingerprints.
    Malformed,
    /// Not a TLS ClientHello.
    NotHello,
}

/// The client's side. With `parse_hello` false a complete ClientHello
/// message is not parsed (`Hello { hello: None, .. }`): the caller knows
/// these bytes parsed before (see [`parse`]).
fn client(stream: &[u8], parse_hello: bool) -> Client {
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
        Some(_) if !parse_hello => Client::Hello {
            hello: None,
            first_appdata_len: rec.first_appdata_len,
        },
        Some(msg) => match client_hello::parse_handshake(msg) {
            Ok(ch) => Client::Hello {
                hello: Some(Box::new(ch)),
                first_appdata_len: rec.first_appdata_len,
            },
            // The framing (record and handshake headers with consistent
            // lengths, a 3.x client version) is what random bytes almost
            // never have; only the body is broken.
            Err(_) if !rec.bad && matches!(msg.get(4..6), Some(&[3, 0..=4])) => Client::Malformed,
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
    /// A HelloRetryRequest (RFC 8446 4.1.3: a ServerHello with a fixed
    /// random): the client will send a second ClientHello.
    hrr: bool,
}

/// The ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

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
    sh.hrr = r.take(32)? == HRR_RANDOM;
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
///
/// Only the path to these names is walked (DER elements read with
/// `asn1-rs`, borrowing): TBSCertificate, its subject and its
/// extensions. A full X.509 parse (every extension decoded, allocated)
/// cost ~7% of the whole pipeline on the bench capture; the names are all
/// the verdict uses. The subject's CN is taken when it is a
/// PrintableString, UTF8String, IA5String or NumericString, SAN entries
/// when they are dNSName; other entries are skipped. An element that does
/// not parse ends the walk with the names found so far.
fn certificate_names(body: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut r = Reader::new(body);
    let Some(list) = r.vec24() else { return names };
    let Some(der) = Reader::new(list).vec24() else {
        return names;
    };
    let mut total = 0usize;
    let mut add = |b: &[u8]| {
        let s = printable(b);
        if names.len() < MAX_NAMES && total + s.len() < MAX_NAMES_LEN && !names.contains(&s) {
            total += s.len() + 1;
            names.push(s);
        }
    };
    let Some(tbs) = x509::tbs(der) else { return names };
    for cn in x509::common_names(tbs.subject) {
        add(cn);
    }
    if let Some(ext) = tbs.extensions {
        for dns in x509::san_dns_names(ext) {
            add(dns);
        }
    }
    names
}

/// The few parts of an X.509 certificate (RFC 5280, section 4.1) the
/// verdict reads, found by walking DER elements.
mod x509 {
    use asn1_rs::{Any, Class, FromDer, Tag};

    /// OID 2.5.4.3 (id-at-commonName), content octets.
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    /// OID 2.5.29.17 (id-ce-subjectAltName), content octets.
    const SAN: &[u8] = &[0x55, 0x1d, 0x11];

    fn any(i: &[u8]) -> Option<(Any<'_>, &[u8])> {
        Any::from_der(i).ok().map(|(rest, a)| (a, rest))
    }

    /// The elements of a constructed value, one by one, until the end or
    /// the first that does not parse.
    fn items(mut i: &[u8]) -> impl Iterator<Item = Any<'_>> {
        std::iter::from_fn(move || {
            let (a, rest) = any(i)?;
            i = rest;
            Some(a)
        })
    }

    /// The element has this tag number. Like the X.509 crates, the walk
    /// does not insist on the universal class for the structure's own
    /// elements (a test holds it to a full parse's answers).
    fn universal(a: &Any<'_>, tag: Tag) -> bool {
        a.tag() == tag
    }

    pub(super) struct Tbs<'a> {
        /// Contents of the subject Name (a SEQUENCE OF RDN).
        pub subject: &'a [u8],
        /// Contents of the Extensions SEQUENCE, when present.
        pub extensions: Option<&'a [u8]>,
    }

    /// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }.
    /// TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
    /// signature, issuer, validity, subject, subjectPublicKeyInfo,
    /// [1] issuerUniqueID OPTIONAL, [2] subjectUniqueID OPTIONAL,
    /// [3] extensions OPTIONAL }.
    pub(super) fn tbs(der: &[u8]) -> Option<Tbs<'_>> {
        let (cert, _) = any(der)?;
        if !universal(&cert, Tag::Sequence) {
            return None;
        }
        let (tbs, _) = any(cert.data)?;
        if !universal(&tbs, Tag::Sequence) {
            return None;
        }
        let mut it = items(tbs.data).peekable();
        if it.peek().is_some_and(|a| a.tag() == Tag(0)) {
            it.next();
        }
        // serialNumber, signature, issuer, validity.
        let serial = it.next()?;
        if !universal(&serial, Tag::Integer) {
            return None;
        }
        for _ in 0..3 {
            if !universal(&it.next()?, Tag::Sequence) {
                return None;
            }
        }
        let subject = it.next()?;
        if !universal(&subject, Tag::Sequence) {
            return None;
        }
        let extensions = it
            .find(|a| a.tag() == Tag(3))
            .and_then(|e| any(e.data))
            .filter(|(seq, _)| universal(seq, Tag::Sequence))
            .map(|(seq, _)| seq.data);
        Some(Tbs {
            subject: subject.data,
            extensions,
        })
    }

    /// The commonName values of a Name: RDN ::= SET OF
    /// AttributeTypeAndValue ::= SEQUENCE { type OID, value }.
    pub(super) fn common_names(name: &[u8]) -> impl Iterator<Item = &[u8]> {
        items(name)
            .filter(|rdn| universal(rdn, Tag::Set))
            .flat_map(|rdn| items(rdn.data))
            .filter_map(|atv| {
                let mut f = items(atv.data);
                let (typ, value) = (f.next()?, f.next()?);
                let is_cn = typ.data == CN;
                let text = [
                    Tag::PrintableString,
                    Tag::Utf8String,
                    Tag::Ia5String,
                    Tag::NumericString,
                ]
                .iter()
                .any(|&t| universal(&value, t));
                (is_cn && text).then_some(value.data)
            })
    }

    /// dNSName entries ([2] IMPLICIT IA5String) of every subjectAltName
    /// extension: Extension ::= SEQUENCE { extnID, critical BOOLEAN
    /// DEFAULT FALSE, extnValue OCTET STRING (GeneralNames) }.
    pub(super) fn san_dns_names(extensions: &[u8]) -> impl Iterator<Item = &[u8]> {
        items(extensions)
            .filter_map(|e| {
                let mut f = items(e.data);
                let id = f.next()?;
                if id.data != SAN {
                    return None;
                }
                let value = f.find(|a| universal(a, Tag::OctetString))?;
                let (names, _) = any(value.data)?;
                universal(&names, Tag::Sequence).then_some(names.data)
            })
            .flat_map(items)
            .filter(|g| g.class() == Class::ContextSpecific && g.tag() == Tag(2) && !g.header.is_constructed())
            .map(|g| g.data)
    }
}

/// The server side: its first flight.
#[derive(Debug, Default)]
struct Server {
    hello: Option<ServerHello>,
    records: Listed<u8>,
    hs_types: Listed<u8>,
    /// The leaf certificate's names, joined by commas.
    cert_names: String,
    /// The Certificate message was seen and its names are those `prev`
    /// holds (`KnownServer::cert_names`): taken from it, not copied.
    cert_names_known: bool,
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

/// What an earlier parse of the same flow derived from the server's
/// flight, at a shorter length of the same bytes (see
/// [`Dissector::parse_again`]): taken as it is, not derived again.
#[derive(Clone, Copy, Default)]
struct KnownServer<'a> {
    /// JA3S, an MD5 of the ServerHello.
    ja3s: Option<&'a str>,
    /// The certificate's names (`cert_names`), a walk over its DER.
    cert_names: Option<&'a str>,
}

impl<'a> KnownServer<'a> {
    fn from_prev(prev: &'a Meta) -> KnownServer<'a> {
        KnownServer {
            ja3s: prev.ja3s.as_deref(),
            cert_names: prev.extra("cert_names"),
        }
    }
}

fn server(stream: &[u8], known: KnownServer<'_>) -> Server {
    let rec = records(stream);
    let mut s = Server {
        not_tls: rec.bad && rec.types.is_empty(),
        alert: rec.fatal_alert.is_some(),
        past_handshake: rec.past_handshake,
        records: rec.types,
        ..Server::default()
    };
    // The first flight ends with the first application data or fatal
    // alert record, or (TLS <= 1.2) with the record that ends ServerHelloDone;
    // what follows answers the client's next flight and is not listed.
    let mut keep = s
        .records
        .iter()
        .position(|&t| t == CT_APPDATA)
        .into_iter()
        .chain(rec.fatal_alert)
        .min()
        .map_or(s.records.len(), |i| i + 1);
    let mut r = Reader::new(&rec.hs);
    while let Some((typ, len)) = r.take(4).and_then(handshake_header) {
        if s.hs_types.is_empty() && typ != HS_SERVER_HELLO {
            s.not_tls = true;
        }
        s.hs_types.push(typ);
        let Some(body) = r.take(len) else { break };
        match typ {
            HS_SERVER_HELLO if s.hello.is_none() => s.hello = parse_server_hello(body),
            // The first Certificate message with names gives them; a
            // known value came from that message, complete then.
            HS_CERTIFICATE if s.cert_names.is_empty() && !s.cert_names_known => match known.cert_names {
                Some(_) => s.cert_names_known = true,
                None => s.cert_names = certificate_names(body).join(","),
            },
            HS_SERVER_HELLO_DONE => {
                s.hello_done = true;
                let end = rec.hs.len() - r.remaining();
                if let Some(i) = rec.hs_end.iter().position(|&e| e >= end) {
                    keep = keep.min(i + 1);
                }
                break;
            }
            _ => {}
        }
    }
    s.records.truncate(keep);
    s
}

/// One step of parsing a proxy preamble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Complete, this many bytes long.
    Len(usize),
    Partial,
    Bad,
}

/// A NUL-terminated string of at most 255 bytes starting at `at`:
/// the offset just past the NUL.
fn cstr_end(b: &[u8], at: usize) -> Step {
    let rest = b.get(at..).unwrap_or(&[]);
    match rest.iter().take(256).position(|&c| c == 0) {
        Some(i) => Step::Len(at + i + 1),
        None if rest.len() < 256 => Step::Partial,
        None => Step::Bad,
    }
}

/// SOCKS4/4a CONNECT request (RFC-less, the SOCKS4 protocol note).
fn socks4_request(b: &[u8]) -> Step {
    match (b.first(), b.get(1)) {
        (Some(4), None) => return Step::Partial,
        (Some(4), Some(1)) => {}
        _ => return Step::Bad,
    }
    let Some(ip) = b.get(4..8) else { return Step::Partial };
    let end = match cstr_end(b, 8) {
        Step::Len(n) => n,
        other => return other,
    };
    // SOCKS4a: IP 0.0.0.x (x != 0), then a host name.
    if ip[..3] == [0, 0, 0] && ip[3] != 0 {
        cstr_end(b, end)
    } else {
        Step::Len(end)
    }
}

fn socks4_reply(b: &[u8]) -> Step {
    match (b.first(), b.get(1)) {
        (Some(0), None) | (None, _) => Step::Partial,
        (Some(0), Some(0x5a)) if b.len() >= 8 => Step::Len(8),
        (Some(0), Some(0x5a)) => Step::Partial,
        _ => Step::Bad,
    }
}

/// A SOCKS5 address (type, address, port) at `at`: the offset past it.
fn socks5_addr(b: &[u8], at: usize) -> Step {
    let Some(&atyp) = b.get(at) else { return Step::Partial };
    let len = match atyp {
        1 => 4,
        4 => 16,
        3 => match b.get(at + 1) {
            None => return Step::Partial,
            Some(&n) => 1 + usize::from(n),
        },
        _ => return Step::Bad,
    };
    let end = at + 1 + len + 2;
    if b.len() >= end {
        Step::Len(end)
    } else {
        Step::Partial
    }
}

/// SOCKS5 (RFC 1928, RFC 1929): greeting, optional username/password,
/// CONNECT request.
fn socks5_request(b: &[u8]) -> Step {
    match (b.first(), b.get(1)) {
        (Some(5), None) => return Step::Partial,
        (Some(5), Some(&n)) if n >= 1 => {}
        _ => return Step::Bad,
    }
    let mut at = 2 + usize::from(b[1]);
    match b.get(at) {
        None => return Step::Partial,
        Some(1) => {
            // Username/password sub-negotiation.
            let Some(&ulen) = b.get(at + 1) else {
                return Step::Partial;
            };
            let p = at + 2 + usize::from(ulen);
            let Some(&plen) = b.get(p) else { return Step::Partial };
            at = p + 1 + usize::from(plen);
        }
        Some(5) => {}
        Some(_) => return Step::Bad,
    }
    match (b.get(at), b.get(at + 1), b.get(at + 2)) {
        (None, _, _) | (Some(5), None, _) | (Some(5), Some(1), None) => Step::Partial,
        (Some(5), Some(1), Some(0)) => socks5_addr(b, at + 3),
        _ => Step::Bad,
    }
}

fn socks5_reply(b: &[u8]) -> Step {
    let mut at = match (b.first(), b.get(1)) {
        (None, _) | (Some(5), None) => return Step::Partial,
        (Some(5), Some(0)) => 2,
        (Some(5), Some(2)) => match (b.get(2), b.get(3)) {
            (None, _) | (Some(1), None) => return Step::Partial,
            (Some(1), Some(0)) => 4,
            _ => return Step::Bad,
        },
        _ => return Step::Bad,
    };
    match (b.get(at), b.get(at + 1), b.get(at + 2)) {
        (None, _, _) | (Some(5), None, _) | (Some(5), Some(0), None) => Step::Partial,
        (Some(5), Some(0), Some(0)) => {
            at += 3;
            socks5_addr(b, at)
        }
        _ => Step::Bad,
    }
}

/// Where TLS starts in each direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Preamble {
    /// TLS from the first byte.
    None,
    /// A proxy preamble, not complete yet.
    Partial,
    /// A SOCKS preamble of `orig` bytes; `resp` once the server's reply
    /// is complete.
    Socks {
        kind: &'static str,
        orig: usize,
        resp: Option<usize>,
    },
    Bad,
}

fn preamble(orig: &[u8], resp: &[u8]) -> Preamble {
    let (kind, req, rep) = match orig.first() {
        Some(4) => ("socks4", socks4_request(orig), socks4_reply(resp)),
        Some(5) => ("socks5", socks5_request(orig), socks5_reply(resp)),
        _ => return Preamble::None,
    };
    match (req, rep) {
        (Step::Bad, _) | (_, Step::Bad) => Preamble::Bad,
        (Step::Partial, _) => Preamble::Partial,
        (Step::Len(o), r) => Preamble::Socks {
            kind,
            orig: o,
            resp: match r {
                Step::Len(n) => Some(n),
                _ => None,
            },
        },
    }
}

fn join(v: &[u8]) -> String {
    let mut s = String::with_capacity(v.len() * 3);
    crate::fingerprint::fmt::push_dec_list(&mut s, v.iter().map(|&x| u16::from(x)), ',');
    s
}

/// Fills `meta` from the server's flight; `s` gives up its certificate
/// names (a parse fills one meta).
fn fill_server(s: &mut Server, known: KnownServer<'_>, meta: &mut Meta, takes: &mut Takes) {
    if let Some(sh) = &s.hello {
        // A known JA3S is that of this ServerHello: it was complete then.
        match known.ja3s {
            Some(_) => takes.ja3s = true,
            None => meta.ja3s = Some(ja3::ja3s(sh.legacy_version, sh.cipher, &sh.extensions)),
        }
        meta.set_extra("tls_version", version_name(sh.version()));
        let mut cipher = String::with_capacity(4);
        crate::fingerprint::fmt::push_hex4(&mut cipher, sh.cipher);
        meta.set_extra("tls_cipher", cipher);
        if let Some(a) = &sh.alpn {
            meta.set_extra("alpn_selected", a.clone());
        }
        if sh.hrr {
            meta.set_extra("tls_hrr", "true");
        }
    }
    if s.cert_names_known {
        // In its place among the extras; the value comes from `prev`.
        meta.set_extra("cert_names", String::new());
        takes.cert_names = true;
    } else if !s.cert_names.is_empty() {
        meta.set_extra("cert_names", std::mem::take(&mut s.cert_names));
    }
    if !s.records.is_empty() {
        meta.set_extra("server_records", join(&s.records));
    }
    if !s.hs_types.is_empty() {
        meta.set_extra("server_hs", join(&s.hs_types));
    }
}

/// The stream starts with a handshake record carrying (as far as the
/// bytes go) a handshake message of type `hs_type`.
fn starts_hello(stream: &[u8], hs_type: u8) -> bool {
    match record_head(stream) {
        Head::Bad => false,
        Head::Partial => stream.first().is_none_or(|&c| c == CT_HANDSHAKE),
        Head::Ok { ctype, .. } => ctype == CT_HANDSHAKE && stream.get(5).is_none_or(|&t| t == hs_type),
    }
}

/// A flow seen from the middle: `first` (the side that spoke first in
/// the capture) must start with a record header, and either hold a
/// second one or the other side must start with one too; with `last`,
/// a single complete record that is all of `first` will do.
fn midstream(first: &[u8], other: &[u8], last: bool, meta: &mut Meta) -> Parse {
    let r1 = records(first);
    let Some(&t1) = r1.types.first() else {
        return if r1.bad || last {
            Parse::NotMine
        } else {
            Parse::NeedMore
        };
    };
    let r2 = records(other);
    let other_tls = !r2.types.is_empty() && !r2.bad;
    let single_whole = matches!(record_head(first), Head::Ok { len, .. } if len + 5 == first.len());
    if r1.types.len() >= 2 || other_tls || (last && single_whole && !r1.bad) {
        mark_tls(meta);
        meta.set_extra("tls_midstream", "true");
        // The version of the first record, as sent (0x0303 after a
        // TLS 1.2 or 1.3 handshake).
        if let (Some(&a), Some(&b)) = (first.get(1), first.get(2)) {
            meta.set_extra("tls_record_version", version_name(u16::from_be_bytes([a, b])));
        }
        meta.set_extra("tls_first_record", t1.to_string());
        return Parse::Done;
    }
    if r1.bad || last {
        Parse::NotMine
    } else {
        Parse::NeedMore
    }
}

fn mark_tls(meta: &mut Meta) {
    meta.protocol = Some("tls");
    meta.encryption = Encryption::Encrypted;
}

impl Dissector for Tls {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
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
            match preamble(p.orig.stream(), p.resp.stream()) {
                Preamble::None => (p.orig.stream(), HS_CLIENT_HELLO),
                Preamble::Bad => return Probe::NotMine,
                Preamble::Partial | Preamble::Socks { .. } => return Probe::Maybe,
            }
        };
        match record_head(s) {
            Head::Bad => Probe::NotMine,
            Head::Ok {
                ctype: CT_HANDSHAKE, ..
            } if s.get(5) == Some(&hs_type) => Probe::Mine,
            // Mid-stream records, or too short to tell.
            Head::Ok { .. } | Head::Partial => Probe::Maybe,
        }
    }

    /// A record's content type (`record_head`, `CT_CCS..=CT_APPDATA`), or
    /// the SOCKS version (4, 5) of a proxied handshake (`preamble`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(CT_CCS, CT_APPDATA).with(4).with(5))
    }

    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        parse(p, None, meta, &mut Takes::default())
    }

    /// The flow grew (the server's flight, or the client's next records):
    /// the ClientHello, complete when `prev` was filled, is the one `prev`
    /// was filled from, so its fingerprints (JA3, JA4: sorting, hashing,
    /// formatting) come from `prev`, not computed again: moved out of it
    /// when this parse identifies the flow (the engine then drops `prev`),
    /// and `prev` left as it was otherwise.
    fn parse_again(&self, p: &Payloads<'_>, prev: &mut Meta, meta: &mut Meta) -> Parse {
        let mut takes = Takes::default();
        let r = parse(p, Some(prev), meta, &mut takes);
        if matches!(r, Parse::Identified | Parse::Done) {
            takes.apply(prev, meta);
        }
        r
    }
    fn reuses_prev(&self) -> bool {
        true
    }
}

/// The fields a parse again takes from `prev` when it identifies the
/// flow ([`Dissector::parse_again`]): `prev` is then dropped, so they are
/// moved, not copied (a string allocated and freed for each, on every
/// packet of the server's flight).
#[derive(Default)]
struct Takes {
    /// What `client_hello::fill_meta` wrote into `prev`.
    client: bool,
    /// The server's JA3S.
    ja3s: bool,
    /// The `cert_names` extra.
    cert_names: bool,
}

impl Takes {
    /// Moves the fields from `prev` into `meta`: the named ones, and the
    /// extras' values into the places kept for them.
    fn apply(&self, prev: &mut Meta, meta: &mut Meta) {
        if self.client {
            meta.sni = prev.sni.take();
            meta.alpn = prev.alpn.take();
            meta.ja4 = prev.ja4.take();
            meta.ja4_r = prev.ja4_r.take();
            meta.ja3 = prev.ja3.take();
            move_extra(prev, meta, "tls_version_offered");
            move_extra(prev, meta, "ech");
        }
        if self.ja3s {
            meta.ja3s = prev.ja3s.take();
        }
        if self.cert_names {
            move_extra(prev, meta, "cert_names");
        }
    }
}

/// Moves the value of extra `key` from `prev` into the place `meta` kept
/// for it, if both have one.
fn move_extra(prev: &mut Meta, meta: &mut Meta, key: &str) {
    let from = prev.extra.iter_mut().find(|(k, _)| *k == key);
    let to = meta.extra.iter_mut().find(|(k, _)| *k == key);
    if let (Some((_, from)), Some((_, to))) = (from, to) {
        *to = std::mem::take(from);
    }
}

/// Keeps the places of what `client_hello::fill_meta` wrote into `prev`,
/// in the same order, for [`Takes::apply`] to fill. False when `prev`
/// holds no ClientHello fingerprints.
fn reuse_client_fields(prev: &Meta, meta: &mut Meta) -> bool {
    if prev.ja4.is_none() || prev.extra("tls_version_offered").is_none() {
        return false;
    }
    meta.set_extra("tls_version_offered", String::new());
    if prev.extra("ech").is_some() {
        meta.set_extra("ech", String::new());
    }
    true
}

/// [`Tls::parse`]; with `prev`, the originator's bytes begin with those
/// `prev` was filled from (see [`Dissector::parse_again`]). What comes
/// from `prev` is left to `takes`, with its places kept in `meta`.
fn parse(p: &Payloads<'_>, prev: Option<&Meta>, meta: &mut Meta, takes: &mut Takes) -> Parse {
    {
        let (orig, resp) = (p.orig.stream(), p.resp.stream());
        let (orig, resp, proxy) = match preamble(orig, resp) {
            Preamble::None => (orig, resp, None),
            Preamble::Bad => return Parse::NotMine,
            Preamble::Partial if p.last => return Parse::NotMine,
            Preamble::Partial => return Parse::NeedMore,
            Preamble::Socks { kind, orig: o, resp: r } => (
                orig.get(o..).unwrap_or(&[]),
                r.and_then(|r| resp.get(r..)).unwrap_or(&[]),
                Some(kind),
            ),
        };
        // A flow whose start was not captured: records, no hello.
        if proxy.is_none() {
            if !orig.is_empty() && !starts_hello(orig, HS_CLIENT_HELLO) {
                return midstream(orig, resp, p.last, meta);
            }
            if orig.is_empty() && !resp.is_empty() && !starts_hello(resp, HS_SERVER_HELLO) {
                return midstream(resp, orig, p.last, meta);
            }
        }
        // Without a proxy preamble the hello starts the stream, whose
        // bytes `prev` was filled from a prefix of (a side only grows): a
        // `prev` with the ClientHello's fingerprints means the whole hello
        // was there and parsed, and to the same fields, so it is neither
        // parsed nor fingerprinted again.
        let known = prev.filter(|pm| proxy.is_none() && pm.ja4.is_some() && pm.extra("tls_version_offered").is_some());
        let c = client(orig, known.is_none());
        // Without a preamble the server's side starts at its first byte,
        // as it did for `prev`.
        let known_server = prev
            .filter(|_| proxy.is_none())
            .map(KnownServer::from_prev)
            .unwrap_or_default();
        let mut s = (!resp.is_empty()).then(|| server(resp, known_server));
        let server_hello = s.as_ref().is_some_and(|s| s.hello.is_some() && !s.not_tls);
        let server_done = s.as_ref().is_some_and(|s| !s.not_tls && s.done());
        let mut fill = |meta: &mut Meta, takes: &mut Takes| {
            mark_tls(meta);
            if let Some(kind) = proxy {
                meta.set_extra("proxy", kind);
            }
            if let Some(s) = s.as_mut().filter(|s| !s.not_tls) {
                fill_server(s, known_server, meta, takes);
            }
        };
        match c {
            Client::Hello {
                hello,
                first_appdata_len,
            } => {
                match (hello, known) {
                    (Some(hello), _) => client_hello::fill_meta(&hello, 't', meta),
                    (None, Some(pm)) => takes.client = reuse_client_fields(pm, meta),
                    // `client` parses the hello unless it is known.
                    (None, None) => {}
                }
                fill(meta, takes);
                if let Some(n) = first_appdata_len {
                    meta.set_extra("client_appdata_first_len", n.to_string());
                }
                // After a TLS 1.3 server flight, wait for the client's first
                // encrypted record too (one or two packets more).
                let server_13 = s
                    .as_ref()
                    .and_then(|s| s.hello.as_ref())
                    .is_some_and(ServerHello::is_13);
                if server_done && (!server_13 || first_appdata_len.is_some()) {
                    Parse::Done
                } else {
                    Parse::Identified
                }
            }
            // Only the server side is seen (or the client's stream has a
            // gap): the ServerHello alone identifies the flow.
            Client::Empty | Client::Partial { .. } if server_hello && proxy.is_none() => {
                fill(meta, takes);
                Parse::Identified
            }
            Client::NotHello if server_hello && proxy.is_none() => {
                fill(meta, takes);
                if server_done {
                    Parse::Done
                } else {
                    Parse::Identified
                }
            }
            Client::Malformed if proxy.is_none() => {
                fill(meta, takes);
                meta.set_extra("tls_hello", "malformed");
                if server_done {
                    Parse::Done
                } else {
                    Parse::Identified
                }
            }
            Client::Partial { hello_started: true } if p.last => {
                // A record header and a ClientHello header, cut short:
                // TLS, without fingerprints.
                fill(meta, takes);
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
            Client::NotHello | Client::Malformed => Parse::NotMine,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;
    use crate::fingerprint::client_hello::fixture::{alpn, be16, chrome, ech, sni, Hello};

    /// Wraps a handshake message in records of at most `max` bytes.
    pub(crate) fn wrap(ctype: u8, msg: &[u8], max: usize) -> Vec<u8> {
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
        server_hello_random(version, [0x11; 32], cipher, exts)
    }

    fn server_hello_random(version: u16, random: [u8; 32], cipher: u16, exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&version.to_be_bytes());
        b.extend(random);
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
    /// The client's ChangeCipherSpec and wrapped Finished (TLS 1.3).
    fn client_finished13(len: usize) -> Vec<u8> {
        [wrap(CT_CCS, &[1], 16384), wrap(CT_APPDATA, &vec![0x5a; len], 16384)].concat()
    }

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

    /// ftp-start-tls.pcap (nDPI corpus): the server's leaf certificate
    /// after AUTH TLS (subject CN "OSS Certificate", SAN DNS OSS.huawei.com).
    const FTP_CERT: &str = concat!(
        "308204623082034aa0030201020211762e27537a6d9bfccd8e1fe988ce6225be300d06092a864886f70d01010b050030",
        "73310b300906035504061302434e310f300d060355040a130648756177656931263024060355040b131d576972656c65",
        "7373204e6574776f726b2050726f64756374204c696e65312b30290603550403132248756177656920576972656c6573",
        "73204e6574776f726b2050726f64756374204341301e170d3132303331323038353433335a170d323730333039303835",
        "3433335a305e310b300906035504061302434e310f300d060355040a130648756177656931243022060355040b131b48",
        "7561776569204e6574776f726b2050726f64756374204c696e65311830160603550403130f4f53532043657274696669",
        "6361746530820122300d06092a864886f70d01010105000382010f003082010a0282010100a713012998449fc9b36f9c",
        "1b815611859433eb68203c103cb4296eae9292a0fcd31985b77f1e8cd6061718e46c9b4188ed1fe26349180e05519180",
        "571f212737b570ecf0a2ffc133df8145c0535622f96d385e98ea21c07670785606f3e113bf99913ee6596a2ea5fc2bd8",
        "bff5cc87c86cf193ef33730b1f2c8ea9cf1e5743aa4b83d86fc34fa74c6282d496eee56cdff389cb1fc94078da04e9d5",
        "de675ac0055010f0b2e5b4e33b00b80d6274dc277860dd588a614004b5ac8dc0fbc378e171815389e4140ecdca519794",
        "ba0eb7ca7bcae29bcbe70e2e9253dbcfabc9116323173d0b701b6d87778083283ed8fdea6c255f56aa680dd415b4855e",
        "309d0d56e30203010001a382010430820100301f0603551d230418301680145e7017dc6fa40748033787fe3db4c720d6",
        "36b8d030460603551d20043f303d303b0604551d20003033303106082b060105050702011625687474703a2f2f737570",
        "706f72742e6875617765692e636f6d2f737570706f72742f706b6930090603551d130402300030400603551d1f043930",
        "373035a033a031862f687474703a2f2f737570706f72742e6875617765692e636f6d2f737570706f72742f706b692f63",
        "726c31322e63726c30190603551d1104123010820e4f53532e6875617765692e636f6d300e0603551d0f0101ff040403",
        "0203f8301d0603551d0e04160414371a9f4cd031d5f15b567576676c522f953449c6300d06092a864886f70d01010b05",
        "0003820101000986cd572ba482b84b3a42f6f37532c70fe76173b9f5ce865daee609ffbcd21c5368a289fb56f1a6984a",
        "f26910edd91b08d236af2d207d5a3de9d04bb3e2126db6bc617136d4a1b56912b4d377b7e1fc4d58e3098fce49a3084b",
        "f37ae282f804847e232e7b8ca796a66f7389801bcaced7be0d9ea9a4f5322104772e9d4149761d004244cec9753b0cd7",
        "dd941a204404b5d5b276397d8fd08955b6106a00ea3f025d392ea46708ce78cf77c7d45e51f1139fad05e588d3b9ea1c",
        "b176a16c17367aedd01adbf453629711513cf3a3469a891d744c09187e69b90e293c3588e1aafc46cda7a8b578a37909",
        "6e924103d7a77da7033cfe50e0a6ef654a374c949c75",
    );

    /// The names as a full X.509 parse gives them: the oracle the DER
    /// walk in `certificate_names` must agree with.
    fn names_by_x509_parser(der: &[u8]) -> Option<Vec<String>> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let mut names: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            let s = printable(s.as_bytes());
            if !names.contains(&s) {
                names.push(s);
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
        Some(names)
    }

    fn cert_body(der: &[u8]) -> Vec<u8> {
        let mut entry = (der.len() as u32).to_be_bytes()[1..].to_vec();
        entry.extend_from_slice(der);
        let mut body = (entry.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend(entry);
        body
    }

    #[test]
    fn certificate_names_agree_with_a_full_x509_parse() {
        let real = crate::dissect::unhex(FTP_CERT);
        for (der, want) in [
            (real, &["OSS Certificate", "OSS.huawei.com"][..]),
            (cert_der(), &["cn.example", "a.example", "b.example"][..]),
        ] {
            assert_eq!(certificate_names(&cert_body(&der)), want);
            assert_eq!(names_by_x509_parser(&der).unwrap_or_default(), want);
            // A cut certificate can only lose names, never invent one.
            for n in 0..der.len() {
                let got = certificate_names(&cert_body(&der[..n]));
                assert!(got.iter().all(|g| want.contains(&g.as_str())), "cut at {n}: {got:?}");
            }
            // Every single-byte change: no panic, and where the full parse
            // still accepts the certificate, mostly its names, and almost
            // never fewer. Where they differ the walk mostly finds more: it
            // keeps the CN when another attribute of the subject is broken,
            // and keeps a name whose bytes are not UTF-8 (escaped). It finds
            // fewer where the full parse is lenient, e.g. reading the
            // extensions past an explicit [3] whose length is too short.
            let (mut accepted, mut same, mut missed) = (0, 0, 0);
            for i in 0..der.len() {
                for x in [0x01, 0x80, 0xff] {
                    let mut v = der.clone();
                    v[i] ^= x;
                    let ours = certificate_names(&cert_body(&v));
                    if let Some(theirs) = names_by_x509_parser(&v) {
                        accepted += 1;
                        same += usize::from(ours == theirs);
                        missed += usize::from(theirs.iter().any(|t| !ours.contains(t)));
                    }
                }
            }
            assert!(accepted > 300, "only {accepted} variants parsed");
            assert!(
                same * 100 >= accepted * 80,
                "the same names on only {same} of {accepted}"
            );
            assert!(missed * 100 <= accepted, "{missed} of {accepted} with a name missed");
        }
    }

    /// A TLS 1.2 server flight: ServerHello (ALPN h2), Certificate,
    /// ServerKeyExchange, ServerHelloDone, in one record.
    pub(crate) fn flight12() -> Vec<u8> {
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

    /// `Listed` keeps the first `MAX_LISTED` values, as the vectors it
    /// replaced did with their length checks.
    #[test]
    fn listed_keeps_the_first_values() {
        let mut l = Listed::<u8>::default();
        assert!(l.is_empty());
        for x in 0..20u8 {
            l.push(x);
        }
        assert_eq!(&*l, &[0, 1, 2, 3, 4, 5, 6, 7][..MAX_LISTED]);
        l.truncate(3);
        assert_eq!(&*l, &[0, 1, 2]);
        l.truncate(10);
        assert_eq!(l.len(), 3);
        l.push(9);
        assert_eq!(l.last(), Some(&9));
    }

    fn run(orig: &[u8], resp: &[u8], last: bool) -> (Parse, Meta) {
        let ends = [[orig.len() as u32], [resp.len() as u32]];
        let mut p = Payloads::tcp(40000, 443, orig, resp, &ends);
        p.last = last;
        let mut m = Meta::default();
        let r = Tls.parse(&p, &mut m);
        (r, m)
    }

    /// `Tls.parse_again` on a copy of `prev`, as the engine calls it: the
    /// copy is checked against `prev` afterwards. A verdict that does not
    /// identify the flow leaves it as it was (it stays the flow's
    /// verdict); one that does may have taken fields out of it.
    fn again(p: &Payloads<'_>, prev: &Meta, meta: &mut Meta) -> Parse {
        let mut copy = prev.clone();
        let r = Tls.parse_again(p, &mut copy, meta);
        if !matches!(r, Parse::Identified | Parse::Done) {
            assert_eq!(&copy, prev, "prev changed by a parse that did not identify the flow");
        }
        r
    }

    /// On a parse that identifies the flow, `parse_again` moves the
    /// hello's fields, the JA3S and the certificate names out of `prev`
    /// (the engine drops it then); on one that does not, `prev` is left as
    /// it was.
    #[test]
    fn parse_again_takes_from_prev_only_when_it_identifies() {
        let hello = wrap(CT_HANDSHAKE, &chrome("www.example.com"), 700);
        let flight = flight12();
        let ends = [[hello.len() as u32], [flight.len() as u32]];
        let p = Payloads::tcp(40000, 443, &hello, &flight, &ends);
        let mut prev = Meta::default();
        assert!(matches!(Tls.parse(&p, &mut prev), Parse::Identified | Parse::Done));
        assert!(prev.ja4.is_some() && prev.ja3s.is_some() && prev.extra("cert_names").is_some());
        let mut want = Meta::default();
        let r = Tls.parse(&p, &mut want);
        let (mut taken, mut got) = (prev.clone(), Meta::default());
        assert_eq!(Tls.parse_again(&p, &mut taken, &mut got), r);
        assert_eq!(got, want);
        assert!(taken.sni.is_none() && taken.ja3.is_none() && taken.ja4.is_none() && taken.ja3s.is_none());
        assert_eq!(taken.extra("tls_version_offered"), Some(""));
        assert_eq!(taken.extra("cert_names"), Some(""));
        // Not a TLS stream: no verdict, and `prev` untouched.
        let junk = [0xffu8; 40];
        let ends = [[junk.len() as u32], [flight.len() as u32]];
        let q = Payloads::tcp(40000, 443, &junk, &flight, &ends);
        let (mut kept, mut m) = (prev.clone(), Meta::default());
        let r = Tls.parse_again(&q, &mut kept, &mut m);
        assert!(matches!(r, Parse::NotMine | Parse::NeedMore), "{r:?}");
        assert_eq!(kept, prev);
    }

    /// `parse_again` (the ClientHello's fields, and the server's JA3S and
    /// certificate names once known, taken from the previous meta) gives
    /// what `parse` gives, at every length of the server's flight, for
    /// TLS 1.2 and 1.3 flights, with and without ECH, and with `last`;
    /// and it really takes them from `prev`.
    #[test]
    fn resp_grew_reuses_the_hello_and_agrees_with_parse() {
        let mut ech = Hello {
            version: 0x0303,
            ciphers: vec![0x1301, 0xc02f],
            exts: vec![sni("e.example"), alpn(&[b"h2"]), (0x002b, vec![2, 3, 4]), ech()],
            ..Hello::default()
        }
        .build();
        ech = wrap(CT_HANDSHAKE, &ech, 16384);
        let plain = wrap(CT_HANDSHAKE, &chrome("www.example.com"), 700);
        let (mut reused, mut server_reused, mut names_reused) = (0, 0, 0);
        for hello in [plain, ech] {
            for flight in [flight12(), flight13()] {
                let mut prev: Option<Meta> = None;
                for k in 0..=flight.len() {
                    for last in [false, true] {
                        let ends = [[hello.len() as u32], [k as u32]];
                        let mut p = Payloads::tcp(40000, 443, &hello, &flight[..k], &ends);
                        p.last = last;
                        let (mut want, mut got) = (Meta::default(), Meta::default());
                        let r = Tls.parse(&p, &mut want);
                        if let Some(pm) = &prev {
                            assert_eq!(again(&p, pm, &mut got), r, "k {k}");
                            assert_eq!(got, want, "k {k}");
                            // A different hello in `prev` shows through: the
                            // fields are taken from it, not recomputed.
                            let mut other = pm.clone();
                            other.ja4 = Some("copied".into());
                            if other.ja3s.is_some() {
                                other.ja3s = Some("copied ja3s".into());
                                server_reused += 1;
                            }
                            if other.extra("cert_names").is_some() {
                                other.set_extra("cert_names", "copied.example");
                                names_reused += 1;
                            }
                            let mut m = Meta::default();
                            again(&p, &other, &mut m);
                            assert_eq!(m.ja4.as_deref(), Some("copied"));
                            assert_eq!(m.ja3s.is_some(), want.ja3s.is_some(), "k {k}");
                            if pm.ja3s.is_some() {
                                assert_eq!(m.ja3s.as_deref(), Some("copied ja3s"), "k {k}");
                            }
                            if pm.extra("cert_names").is_some() {
                                assert_eq!(m.extra("cert_names"), Some("copied.example"), "k {k}");
                            }
                            reused += 1;
                        }
                        if !last && matches!(r, Parse::Identified | Parse::Done) {
                            prev = Some(want);
                        }
                    }
                }
            }
        }
        assert!(reused > 100, "{reused}");
        assert!(
            server_reused > 100 && names_reused > 10,
            "{server_reused} {names_reused}"
        );
    }

    /// The client's side grows after its hello (ChangeCipherSpec, then its
    /// first encrypted records, split anywhere): `parse_again` with the
    /// meta of every earlier length gives what `parse` gives, and takes
    /// the hello's fields from `prev` (a different JA4 there shows through).
    #[test]
    fn orig_grew_reuses_the_hello_and_agrees_with_parse() {
        let hello = wrap(CT_HANDSHAKE, &chrome("www.example.com"), 700);
        let mut more = wrap(CT_CCS, &[1], 16384);
        more.extend(wrap(CT_APPDATA, &[0x5a; 53], 16384));
        more.extend(wrap(CT_APPDATA, &[0xa5; 200], 16384));
        let mut reused = 0;
        for flight in [flight12(), flight13()] {
            let mut metas: Vec<Meta> = Vec::new();
            for k in 0..=more.len() {
                let orig = [hello.as_slice(), &more[..k]].concat();
                for last in [false, true] {
                    let ends = [[orig.len() as u32], [flight.len() as u32]];
                    let mut p = Payloads::tcp(40000, 443, &orig, &flight, &ends);
                    p.last = last;
                    let mut want = Meta::default();
                    let r = Tls.parse(&p, &mut want);
                    assert!(matches!(r, Parse::Identified | Parse::Done), "k {k}: {r:?}");
                    for (j, pm) in metas.iter().enumerate().step_by(7) {
                        let mut got = Meta::default();
                        assert_eq!(again(&p, pm, &mut got), r, "k {k}, prev from {j}");
                        assert_eq!(got, want, "k {k}, prev from {j}");
                        reused += 1;
                    }
                    if let Some(pm) = metas.first() {
                        let mut other = pm.clone();
                        other.ja4 = Some("copied".into());
                        let mut m = Meta::default();
                        again(&p, &other, &mut m);
                        assert_eq!(m.ja4.as_deref(), Some("copied"), "k {k}");
                    }
                    if !last {
                        metas.push(want);
                    }
                }
            }
        }
        assert!(reused > 1000, "{reused}");
    }

    #[test]
    fn client_hello_in_three_records_with_tls13_server() {
        let msg = chrome("www.example.com");
        assert!(msg.len() > 1200);
        // Spread over three records, as a PQ hello often is.
        let hello = wrap(CT_HANDSHAKE, &msg, 700);
        assert_eq!(hello.len(), msg.len() + 15);
        let resp = flight13();
        // Until the client's first encrypted record, a TLS 1.3 flow is
        // identified but not done (MTProxy fake-TLS shows there).
        let (r, m) = run(&hello, &resp, false);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("client_appdata_first_len"), None);
        let orig = [hello, client_finished13(53)].concat();
        let (r, m) = check_split_tcp(&Tls, 443, &orig, &resp);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("client_appdata_first_len"), Some("53"));
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
    fn server_records_list_the_first_flight_only() {
        // TLS 1.3: later application records are not listed.
        let mut resp = flight13();
        resp.extend_from_slice(&[CT_APPDATA, 3, 3, 0, 3, 1, 2, 3]);
        let (_, m) = run(&[], &resp, false);
        assert_eq!(m.extra("server_records"), Some("22,20,23"));
        // TLS 1.2, server side only: the second flight (NewSessionTicket,
        // CCS, Finished) is not listed.
        let mut resp = flight12();
        resp.extend(wrap(CT_HANDSHAKE, &hs(4, &[0; 10]), 16384));
        resp.extend_from_slice(&[CT_CCS, 3, 3, 0, 1, 1]);
        resp.extend_from_slice(&[CT_HANDSHAKE, 3, 3, 0, 4, 9, 9, 9, 9]);
        let (_, m) = run(&[], &resp, false);
        assert_eq!(m.extra("server_records"), Some("22"));
        assert_eq!(m.extra("server_hs"), Some("2,11,12,14"));
        // The same flight in one record per message.
        let sh = server_hello(0x0303, 0xc02f, &[]);
        let mut resp = wrap(CT_HANDSHAKE, &sh, 16384);
        resp.extend(wrap(CT_HANDSHAKE, &hs(HS_SERVER_HELLO_DONE, &[]), 16384));
        resp.extend(wrap(CT_HANDSHAKE, &hs(4, &[0; 10]), 16384));
        let (_, m) = run(&[], &resp, false);
        assert_eq!(m.extra("server_records"), Some("22,22"));
        assert_eq!(m.extra("server_hs"), Some("2,14"));
        // A warning alert before the ServerHello is listed and skipped.
        let mut resp = vec![CT_ALERT, 3, 3, 0, 2, 1, 112];
        resp.extend(flight12());
        let orig = wrap(CT_HANDSHAKE, &chrome("a.example"), 16384);
        let (r, m) = run(&orig, &resp, false);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("server_records"), Some("21,22"));
        assert_eq!(m.extra("server_hs"), Some("2,11,12,14"));
        assert_eq!(m.extra("tls_cipher"), Some("c02f"));
        // A fatal alert ends the listing.
        let mut resp = wrap(CT_HANDSHAKE, &sh, 16384);
        resp.extend_from_slice(&[CT_ALERT, 3, 3, 0, 2, 2, 40, CT_APPDATA, 3, 3, 0, 1, 0]);
        let (r, m) = run(&orig, &resp, false);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("server_records"), Some("22,21"));
    }

    #[test]
    fn hello_retry_request() {
        let hrr = server_hello_random(
            0x0303,
            HRR_RANDOM,
            0x1302,
            &[(0x002b, vec![3, 4]), (0x0033, vec![0, 0x1d])],
        );
        let mut resp = wrap(CT_HANDSHAKE, &hrr, 16384);
        resp.extend_from_slice(&[CT_CCS, 3, 3, 0, 1, 1]);
        let orig = wrap(CT_HANDSHAKE, &chrome("a.example"), 16384);
        let (r, m) = run(&orig, &resp, false);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("tls_hrr"), Some("true"));
        assert_eq!(m.extra("tls_cipher"), Some("1302"));
        let (_, m) = run(&orig, &flight13(), false);
        assert_eq!(m.extra("tls_hrr"), None);
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
            b"\x17\x03\x03\x48\x01",
        ] {
            let ends = [[orig.len() as u32], [0]];
            let p = Payloads::tcp(40000, 443, orig, &[], &ends);
            assert_eq!(Tls.probe(&p), Probe::NotMine, "{orig:?}");
            assert_eq!(run(orig, &[], false).0, Parse::NotMine, "{orig:?}");
        }
        // A handshake record that is not a ClientHello, alone: not
        // enough for a mid-stream verdict.
        let orig = wrap(CT_HANDSHAKE, &hs(2, &[0; 40]), 100);
        let ends = [[orig.len() as u32], [0]];
        assert_eq!(Tls.probe(&Payloads::tcp(1, 443, &orig, &[], &ends)), Probe::Maybe);
        assert_eq!(run(&orig, &[], false).0, Parse::NeedMore);
        let mut bad = orig.clone();
        bad.extend_from_slice(b"\x17\x09");
        assert_eq!(run(&bad, &[], false).0, Parse::NotMine);
    }

    #[test]
    fn midstream_records() {
        // Application data records in both directions, start not seen.
        let rec = |n: usize| {
            let mut v = vec![CT_APPDATA, 3, 3];
            be16(&mut v, n);
            v.extend((0..n).map(|i| i as u8));
            v
        };
        let mut orig = rec(300);
        orig.extend(rec(40));
        let resp = rec(90);
        let (r, m) = check_split_tcp(&Tls, 443, &orig, &resp);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tls"));
        assert_eq!(m.extra("tls_midstream"), Some("true"));
        assert_eq!(m.extra("tls_record_version"), Some("1.2"));
        assert_eq!(m.extra("tls_first_record"), Some("23"));
        // One record each way is enough; one record alone is not, until
        // the flow ends.
        assert_eq!(run(&rec(300), &resp, false).0, Parse::Done);
        assert_eq!(run(&rec(300), &[], false).0, Parse::NeedMore);
        assert_eq!(run(&rec(300), &[], true).0, Parse::Done);
        assert_eq!(run(&rec(300)[..200], &[], true).0, Parse::NotMine);
        // Only the server side, mid-stream.
        assert_eq!(run(&[], &orig, false).0, Parse::Done);
        // Prefixes never claim the flow before two headers are seen.
        for k in 0..305 {
            assert_ne!(run(&orig[..k], &[], false).0, Parse::Done, "{k}");
        }
        // A record header followed by garbage is not TLS.
        let mut bad = rec(10);
        bad.extend_from_slice(b"GET / HTTP/1.1");
        assert_eq!(run(&bad, &[], false).0, Parse::NotMine);
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
        // Session id length past the end. The records and the handshake
        // header are sound: TLS, flagged malformed, no fingerprints read
        // from the lying body.
        msg[38] = 200;
        let (r, m) = run(&wrap(CT_HANDSHAKE, &msg, 16384), &[], false);
        assert_eq!(
            (r, m.extra("tls_hello"), m.ja4.as_deref()),
            (Parse::Identified, Some("malformed"), None)
        );
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
    fn malformed_hello_in_good_records_is_tls_without_fingerprints() {
        // Cipher-suite length made odd (one byte of the last suite is
        // then read as the compression length): the body cannot parse.
        let mut msg = Hello {
            version: 0x0301,
            ciphers: vec![0x0039, 0x0038, 0x0035, 0x00ff],
            exts: vec![sni("odd.example")],
            ..Hello::default()
        }
        .build();
        let at = 4 + 2 + 32 + 1;
        assert_eq!(&msg[at..at + 2], &[0, 8]);
        msg[at + 1] = 7;
        assert!(client_hello::parse_handshake(&msg).is_err());
        let (r, m) = check_split_tcp(&Tls, 443, &wrap(CT_HANDSHAKE, &msg, 16384), &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("tls"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("tls_hello"), Some("malformed"));
        assert_eq!((m.ja4, m.ja3, m.sni), (None, None, None));
        // Without a TLS client version it is not claimed.
        msg[4] = 2;
        let (r, _) = check_split_tcp(&Tls, 443, &wrap(CT_HANDSHAKE, &msg, 16384), &[]);
        assert_eq!(r, Parse::NotMine);
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
    fn tls_after_socks4a_and_socks5() {
        let hello = [
            wrap(CT_HANDSHAKE, &chrome("inner.example"), 16384),
            client_finished13(69),
        ]
        .concat();
        let flight = flight13();
        // SOCKS4a: port 443, IP 0.0.0.1, user "u", host name.
        let mut o4 = vec![4, 1, 1, 0xbb, 0, 0, 0, 1, b'u', 0];
        o4.extend_from_slice(b"inner.example\0");
        let r4 = vec![0, 0x5a, 1, 0xbb, 1, 2, 3, 4];
        // SOCKS5 with username/password, CONNECT to a domain.
        let mut o5 = vec![5, 2, 0, 2, 1, 1, b'u', 2, b'p', b'w', 5, 1, 0, 3, 13];
        o5.extend_from_slice(b"inner.example");
        o5.extend_from_slice(&[1, 0xbb]);
        let r5 = vec![5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90];
        for (kind, mut orig, mut resp) in [("socks4", o4, r4), ("socks5", o5, r5)] {
            let pre = orig.len();
            orig.extend_from_slice(&hello);
            resp.extend_from_slice(&flight);
            for k in 0..pre {
                let (r, _) = run(&orig[..k], &[], false);
                assert_eq!(r, Parse::NeedMore, "{kind} prefix {k}");
            }
            let (r, m) = check_split_tcp(&Tls, 1080, &orig, &resp);
            assert_eq!(r, Parse::Done, "{kind}");
            assert_eq!(m.extra("proxy"), Some(kind));
            assert_eq!(m.sni.as_deref(), Some("inner.example"));
            assert_eq!(m.ja4.as_deref(), Some("t13d1516h2_8daaf6152771_e5627efa2ab1"));
            assert_eq!(m.extra("tls_version"), Some("1.3"));
            // The proxy answered, then no TLS: not mine.
            let mut plain = orig[..pre].to_vec();
            plain.extend_from_slice(b"GET / HTTP/1.1\r\n");
            assert_eq!(run(&plain, &[], false).0, Parse::NotMine, "{kind}");
        }
        // DCE/RPC also starts with 5: not SOCKS, not TLS.
        let dce = [5u8, 0, 0x0b, 3, 0x10, 0, 0, 0];
        let ends = [[8], [0]];
        assert_eq!(Tls.probe(&Payloads::tcp(1, 135, &dce, &[], &ends)), Probe::NotMine);
        assert_eq!(run(&dce, &[], false).0, Parse::NotMine);
        // A refused SOCKS4 request: not mine.
        let o = [4u8, 1, 1, 0xbb, 1, 2, 3, 4, 0];
        assert_eq!(run(&o, &[0, 0x5b, 0, 0, 0, 0, 0, 0], false).0, Parse::NotMine);
    }

    /// Runs TCP segments through the engine: SYN, SYN-ACK, then `segs`
    /// (orig?, seq offset, bytes) in the given order, then FIN.
    fn engine_run(segs: &[(bool, usize, &[u8])]) -> crate::record::FlowRecord {
        use crate::decode::{Addr, PacketView, TcpMeta, Tuple};
        use crate::engine::Engine;
        use crate::flow::FlowConfig;
        const ISN: [u32; 2] = [1000, 9000];
        fn view(ts: u64, orig: bool, off: usize, flags: u8, payload: &[u8]) -> PacketView<'_> {
            let (a, b) = (Addr::from_v4([192, 0, 2, 1]), Addr::from_v4([198, 51, 100, 7]));
            let (src, dst, sport, dport) = if orig { (a, b, 40000, 443) } else { (b, a, 443, 40000) };
            let isn = ISN[usize::from(!orig)];
            // SYNs carry the ISN, data starts at ISN + 1.
            let seq = if flags & 0x02 != 0 {
                isn
            } else {
                isn.wrapping_add(1).wrapping_add(off as u32)
            };
            PacketView {
                ts_ns: ts,
                wire_len: 54 + payload.len() as u32,
                tuple: Tuple {
                    src,
                    dst,
                    sport,
                    dport,
                    proto: 6,
                },
                tcp: Some(TcpMeta { seq, ack: 0, flags }),
                payload,
            }
        }
        let mut e = Engine::new(FlowConfig::default(), None);
        let src: std::sync::Arc<str> = std::sync::Arc::from("t");
        let mut out = Vec::new();
        e.process(&view(1, true, 0, 0x02, &[]), &src, &mut |r| out.push(r));
        e.process(&view(2, false, 0, 0x12, &[]), &src, &mut |r| out.push(r));
        for (i, &(orig, off, bytes)) in segs.iter().enumerate() {
            e.process(&view(3 + i as u64, orig, off, 0x18, bytes), &src, &mut |r| out.push(r));
        }
        e.finish(&src, &mut |r| out.push(r));
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn engine_reassembles_a_hello_split_anywhere() {
        let hello = wrap(CT_HANDSHAKE, &chrome("split.example"), 1000);
        let flight = flight13();
        let want = "t13d1516h2_8daaf6152771_e5627efa2ab1";
        for cut in (1..hello.len()).step_by(7).chain([5, 6, 1004, 1005, hello.len() - 1]) {
            let (x, y) = hello.split_at(cut);
            // In order, and with the second piece first.
            for segs in [
                vec![(true, 0, x), (true, cut, y), (false, 0, &flight[..])],
                vec![(true, cut, y), (true, 0, x), (false, 0, &flight[..])],
            ] {
                let r = engine_run(&segs);
                assert_eq!(r.protocol, "tls", "cut {cut}");
                assert_eq!(r.ja4.as_deref(), Some(want), "cut {cut}");
                assert_eq!(r.sni.as_deref(), Some("split.example"));
                assert_eq!(
                    r.extra
                        .iter()
                        .find(|(k, _)| *k == "server_records")
                        .map(|(_, v)| v.as_str()),
                    Some("22,20,23")
                );
            }
        }
        // Three segments, as a PQ hello over a 1400-byte path.
        let (x, rest) = hello.split_at(600);
        let (y, z) = rest.split_at(700);
        let r = engine_run(&[(true, 0, x), (true, 600, y), (true, 1300, z), (false, 0, &flight[..])]);
        assert_eq!(r.ja4.as_deref(), Some(want));
        assert_eq!(r.ja4_r.as_deref().map(|s| s.len() > 100), Some(true));
    }

    #[test]
    fn mutations_never_panic() {
        let orig = wrap(CT_HANDSHAKE, &chrome("m.example"), 900);
        let resp = flight13();
        for i in 0..orig.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut o = orig.clone();
                o[i] ^= x;
                for last in [false, true] {
                    let _ = run(&o, &resp, last);
                }
                let ends = [[o.len() as u32], [0]];
                let _ = Tls.probe(&Payloads::tcp(1, 443, &o, &[], &ends));
            }
        }
        // Every length byte of the SOCKS5 preamble set to extremes.
        let pre = [5u8, 1, 0, 5, 1, 0, 3, 4, b'a', b'.', b'b', b'c', 1, 0xbb];
        for i in 0..pre.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut o = pre.to_vec();
                o[i] = v;
                o.extend_from_slice(&orig);
                let _ = run(&o, &[5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0], true);
            }
        }
    }

    #[test]
    fn registered_first() {
        assert_eq!(crate::dissect::DISSECTORS.first().map(|d| d.name()), Some("tls"));
    }
}
