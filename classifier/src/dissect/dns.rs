//! DNS (RFC 1035) over UDP and over TCP (2-byte length prefix, RFC 1035
//! section 4.2.2), multicast DNS (RFC 6762, UDP 5353) reported as
//! `mdns`, and LLMNR (RFC 4795, port 5355, same format) as `llmnr`.
//!
//! The probe is strict so random UDP is not claimed: a sane header (Z bit
//! clear, opcode in use, question count 1..=4, record counts small), a
//! question that parses (labels, qclass IN/CH/HS/ANY) and, off the DNS
//! ports, a message that parses to its exact end.

use std::fmt::Write as _;

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Dns;

const HEADER: usize = 12;
const MAX_NAME: usize = 255;
/// Most compression jumps followed in one name.
const MAX_JUMPS: usize = 16;
const MAX_QD: u16 = 4;
/// mDNS queries bundle many questions (one per service type).
const MAX_QD_MDNS: u16 = 64;
const MAX_RR: u16 = 64;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads a possibly compressed name at `off` in `msg`. Returns the name
/// (lowercase, dotted, no trailing dot) and the offset after it in the
/// original position. Pointers must point strictly backwards, so loops
/// are impossible; jumps are bounded anyway.
fn read_name(msg: &[u8], off: usize) -> Option<(String, usize)> {
    let mut name = String::with_capacity(64);
    let end = walk_name(msg, off, Some(&mut name))?;
    Some((name, end))
}

/// Where the name at `off` ends, checked as [`read_name`] checks it, with
/// the name built into `out` only when given: most records' names are
/// only stepped over.
fn walk_name(msg: &[u8], mut off: usize, mut out: Option<&mut String>) -> Option<usize> {
    // The length of the name as built (odd bytes take four characters).
    let mut len = 0usize;
    let mut end = None;
    let mut jumps = 0;
    loop {
        let n = *msg.get(off)?;
        match n & 0xc0 {
            0x00 => {
                if n == 0 {
                    return Some(end.unwrap_or(off + 1));
                }
                let label = msg.get(off + 1..off + 1 + usize::from(n))?;
                if len > 0 {
                    len += 1;
                    if let Some(o) = out.as_deref_mut() {
                        o.push('.');
                    }
                }
                for &b in label {
                    let c = b.to_ascii_lowercase();
                    let plain = c.is_ascii_graphic() && c != b'.';
                    len += if plain { 1 } else { 4 };
                    if let Some(o) = out.as_deref_mut() {
                        if plain {
                            o.push(char::from(c));
                        } else {
                            // Keep odd bytes visible without breaking the string.
                            let _ = write!(o, "\\{b:03}");
                        }
                    }
                }
                if len > MAX_NAME * 4 {
                    return None;
                }
                off += 1 + usize::from(n);
            }
            0xc0 => {
                let ptr = usize::from(be16(msg, off)? & 0x3fff);
                if ptr >= off || jumps >= MAX_JUMPS {
                    return None;
                }
                jumps += 1;
                end.get_or_insert(off + 2);
                off = ptr;
            }
            _ => return None,
        }
    }
}

fn qtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        252 => "AXFR",
        255 => "ANY",
        _ => return t.to_string(),
    };
    s.to_string()
}

fn rcode_name(r: u16) -> String {
    let s = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => return r.to_string(),
    };
    s.to_string()
}

/// A parsed message, as far as we need it.
struct Msg {
    response: bool,
    rcode: u16,
    /// First question (or, for an mDNS announcement, first answer).
    name: Option<String>,
    qtype: Option<u16>,
    /// The message parsed to exactly its end.
    exact: bool,
    /// The first answer is a DNSCrypt certificate (a TXT record whose
    /// text starts with the certificate magic `DNSC`).
    dnscrypt_cert: bool,
}

/// DNSCrypt: a client fetches the resolver's certificate with a plain
/// TXT query for `2.dnscrypt-cert.<provider>` (the provider name may be
/// any name; the answer's text starts with `DNSC`); every later query
/// and answer of the flow is encrypted.
fn is_dnscrypt(m: &Msg) -> bool {
    const TXT: u16 = 16;
    const PREFIX: &str = "2.dnscrypt-cert.";
    let cert_query = m.qtype == Some(TXT)
        && m.name
            .as_deref()
            .and_then(|n| n.get(..PREFIX.len()))
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX));
    cert_query || m.dnscrypt_cert
}

/// One question at `off`: name, type (not 0) and class (IN, CH, HS, NONE
/// or ANY; mDNS uses the top bit for unicast-response), and the offset
/// after it.
fn question(msg: &[u8], off: usize, mdns: bool) -> Option<(String, u16, usize)> {
    let (n, e) = read_name(msg, off)?;
    let t = be16(msg, e)?;
    let class = be16(msg, e + 2)? & if mdns { 0x7fff } else { 0xffff };
    (matches!(class, 1 | 3 | 4 | 254 | 255) && t != 0).then_some((n, t, e + 4))
}

/// Parses `msg`; `None` when it is not a sane DNS message.
fn parse_msg(msg: &[u8], mdns: bool) -> Option<Msg> {
    let flags = be16(msg, 2)?;
    let (qd, an, ns, ar) = (be16(msg, 4)?, be16(msg, 6)?, be16(msg, 8)?, be16(msg, 10)?);
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let rcode = flags & 0xf;
    // Z must be zero; opcodes QUERY, IQUERY, STATUS, NOTIFY, UPDATE.
    if flags & 0x0040 != 0 || !matches!(opcode, 0 | 1 | 2 | 4 | 5) {
        return None;
    }
    if qd > if mdns { MAX_QD_MDNS } else { MAX_QD } || an > MAX_RR || ns > MAX_RR || ar > MAX_RR {
        return None;
    }
    if !response && (rcode != 0 || flags & 0x0080 != 0 && !mdns) {
        // Queries carry no rcode and no RA.
        return None;
    }
    // Unicast DNS needs a question; mDNS answers/announcements may not.
    // An inverse query (opcode 1, RFC 1035 6.4, obsolete) carries an
    // answer and no question.
    if qd == 0 && !(mdns && response && an > 0) && !(opcode == 1 && !response && an == 1) {
        return None;
    }
    let (mut name, mut qtype, mut off) = (None, None, HEADER);
    for i in 0..qd {
        let (n, t, e) = question(msg, off, mdns)?;
        if i == 0 {
            name = Some(n);
            qtype = Some(t);
        }
        off = e;
    }
    // Resource records: name, type, class, ttl, rdlength, rdata.
    let mut exact = true;
    let mut dnscrypt_cert = false;
    for i in 0..(u32::from(an) + u32::from(ns) + u32::from(ar)) {
        let mut n = String::new();
        let want = i == 0 && name.is_none();
        let Some(e) = walk_name(msg, off, want.then_some(&mut n)) else {
            exact = false;
            break;
        };
        let Some(rdlen) = be16(msg, e + 8) else {
            exact = false;
            break;
        };
        let next = e + 10 + usize::from(rdlen);
        if next > msg.len() {
            exact = false;
            break;
        }
        if want {
            name = Some(n);
            qtype = be16(msg, e);
        }
        if i == 0 && an > 0 && be16(msg, e) == Some(16) {
            dnscrypt_cert = msg.get(e + 11..next).is_some_and(|t| t.starts_with(b"DNSC"));
        }
        off = next;
    }
    exact &= off == msg.len();
    Some(Msg {
        response,
        rcode,
        name,
        qtype,
        exact,
        dnscrypt_cert,
    })
}

/// The DNS messages of one side: UDP datagrams, or TCP length-prefixed
/// messages (a truncated last one is left out, and `partial` set).
fn messages<'a>(p: &Payloads<'a>, side: super::Side<'a>) -> (Vec<&'a [u8]>, bool) {
    let mut out = Vec::new();
    match p.transport {
        Transport::Udp => {
            out.extend(side.chunks().take(8));
            (out, false)
        }
        Transport::Tcp => {
            let s = side.stream();
            let mut off = 0usize;
            while out.len() < 8 && off < s.len() {
                let Some(len) = be16(s, off) else {
                    return (out, true);
                };
                let Some(m) = s.get(off + 2..off + 2 + usize::from(len)) else {
                    return (out, true);
                };
                out.push(m);
                off += 2 + usize::from(len);
            }
            (out, false)
        }
    }
}

fn is_mdns(p: &Payloads<'_>) -> bool {
    p.transport == Transport::Udp && p.resp_port == 5353
}

/// NetBIOS name and datagram services (137, 138) use the DNS message
/// format with their own meaning: not DNS.
fn netbios_port(p: &Payloads<'_>) -> bool {
    p.port(137) || p.port(138)
}

fn dns_port(p: &Payloads<'_>) -> bool {
    p.port(53) || p.port(5353) || p.port(5355)
}

/// A query to port 53 whose question does not parse (a label length or
/// pointer runs off the message, a class out of range), under a header
/// that is exactly a standard query's: QR 0, opcode QUERY, AA, TC, Z and
/// RCODE clear, one question, no answer or authority records, at most one
/// additional (EDNS). Wireshark shows such a datagram as a malformed DNS
/// query; with the port, those ~44 constrained header bits are the
/// evidence, so the flow is DNS (cleartext) with `dns_malformed` set, not
/// unknown. Damaged or hand-made queries (fuzzers, broken stubs, scanners)
/// look like this; random bytes do not.
fn malformed_query(msg: &[u8], p: &Payloads<'_>) -> bool {
    const MIN_QUESTION: usize = 6; // root name, type, class
    if !p.port(53) || msg.len() < HEADER + MIN_QUESTION {
        return false;
    }
    let (Some(flags), Some(qd), Some(an), Some(ns), Some(ar)) =
        (be16(msg, 2), be16(msg, 4), be16(msg, 6), be16(msg, 8), be16(msg, 10))
    else {
        return false;
    };
    // Only RD, AD and CD may be set in a standard query.
    flags & !0x0130 == 0 && qd == 1 && an == 0 && ns == 0 && ar <= 1
}

/// A query to port 53 whose question parses but whose header has bits a
/// query never carries (RA, an rcode) or record counts beyond any real
/// query's (more than [`MAX_RR`], or records announced that are not
/// there), or a question count that is not 1. The header's QR, opcode
/// QUERY and Z, a question count that is not 0, with a
/// question that parses to a name, a type and a known class, are the
/// evidence; the damage is reported as `dns_malformed` = `header`.
/// Damaged queries (fuzzers, broken stubs) look like this; random bytes
/// do not: they fail the six fixed header bits or the question's shape (a
/// name of labels ending in a zero byte, a type, one of five classes).
fn damaged_header(msg: &[u8], p: &Payloads<'_>) -> Option<(String, u16)> {
    if !p.port(53) {
        return None;
    }
    let flags = be16(msg, 2)?;
    // QR 0, opcode QUERY, Z clear; a question announced (the count may be
    // damaged too: the question itself is checked).
    if flags & 0xf840 != 0 || be16(msg, 4)? == 0 {
        return None;
    }
    let (n, t, _) = question(msg, HEADER, false)?;
    Some((n, t))
}

/// A first query that the strict parse refused, read anyway on port 53:
/// its question under a damaged header (`header`), or a later message of
/// the same transaction id that parses, a retry of the query or the
/// server's answer (`message`). `Err` is the parse's answer otherwise:
/// wait for the next message while nothing follows a first message that
/// may be a query (QR 0, opcode QUERY, or cut before its flags), else not
/// DNS.
fn damaged_opening(q: &[&[u8]], r: &[&[u8]], p: &Payloads<'_>, mdns: bool) -> Result<(Msg, &'static str), Parse> {
    let first = q.first().copied().unwrap_or_default();
    if let Some((name, qtype)) = damaged_header(first, p) {
        let m = Msg {
            response: false,
            rcode: 0,
            name: Some(name),
            qtype: Some(qtype),
            exact: false,
            dnscrypt_cert: false,
        };
        return Ok((m, "header"));
    }
    let Some(id) = first.get(..2).filter(|_| p.port(53) && !mdns) else {
        return Err(Parse::NotMine);
    };
    let later = q.iter().skip(1).chain(r.iter()).filter(|m| m.get(..2) == Some(id));
    if let Some(m) = later.filter_map(|m| parse_msg(m, false)).find(|m| m.name.is_some()) {
        return Ok((m, "message"));
    }
    if q.len() == 1 && r.is_empty() && be16(first, 2).is_none_or(|f| f & 0xf800 == 0) {
        Err(Parse::NeedMore)
    } else {
        Err(Parse::NotMine)
    }
}

/// Is this (first) message acceptable as the flow's opening?
fn acceptable(m: &Msg, p: &Payloads<'_>) -> bool {
    m.name.is_some() && (dns_port(p) || m.exact)
}

impl Dissector for Dns {
    fn name(&self) -> &'static str {
        "dns"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if netbios_port(p) {
            return Probe::NotMine;
        }
        let side = p.first_side();
        let data = match p.transport {
            Transport::Udp => side.first(),
            Transport::Tcp => side.stream().get(2..).unwrap_or_default(),
        };
        if p.transport == Transport::Tcp {
            if let Some(len) = be16(side.stream(), 0) {
                if usize::from(len) < HEADER {
                    return Probe::NotMine;
                }
            }
        }
        if data.len() < HEADER {
            // A cut query to port 53 may be followed by a whole one (see
            // `parse`).
            return if p.transport == Transport::Tcp || p.port(53) && data.len() >= 2 && !is_mdns(p) {
                Probe::Maybe
            } else {
                Probe::NotMine
            };
        }
        let mdns = is_mdns(p);
        let flags = be16(data, 2).unwrap_or(0);
        let qd = be16(data, 4).unwrap_or(0);
        let iquery = (flags >> 11) & 0xf == 1;
        let sane_qd = qd <= if mdns { MAX_QD_MDNS } else { MAX_QD } && (qd > 0 || mdns || iquery);
        // A damaged count on port 53 is left to the parse (see
        // `damaged_header`).
        if flags & 0x0040 != 0 || !(sane_qd || qd > 0 && p.port(53) && !mdns) {
            return Probe::NotMine;
        }
        Probe::Maybe
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if netbios_port(p) {
            return Parse::NotMine;
        }
        let mdns = is_mdns(p);
        let (q, q_partial) = messages(p, p.orig);
        let (r, _) = messages(p, p.resp);
        let first_q = q.first().map(|m| parse_msg(m, mdns));
        let first_r = r.first().map(|m| parse_msg(m, mdns));
        let from_orig = first_q.is_some();
        // What was damaged in a first message read anyway (`dns_malformed`).
        let mut salvaged = None;
        // The opening, and the responder's first message when it is not
        // the opening (parsed once: it is the answer if a response).
        let (opening, first_r) = match (first_q, first_r) {
            (Some(None), _) if q.first().is_some_and(|m| malformed_query(m, p)) => {
                meta.protocol = Some("dns");
                meta.encryption = Encryption::Cleartext;
                meta.set_extra("dns_malformed", "question");
                return Parse::Done;
            }
            (Some(None), r0) => match damaged_opening(&q, &r, p, mdns) {
                Ok((m, what)) => {
                    salvaged = Some(what);
                    (m, r0)
                }
                Err(verdict) => return verdict,
            },
            (Some(Some(m)), r0) => (m, r0),
            (None, Some(Some(m))) => (m, None),
            (None, Some(None)) => return Parse::NotMine,
            (None, None) => {
                return if p.transport == Transport::Tcp && (q_partial || p.orig.is_empty()) {
                    Parse::NeedMore
                } else {
                    Parse::NotMine
                };
            }
        };
        if !acceptable(&opening, p) {
            return Parse::NotMine;
        }
        // Unicast DNS opens with a query; mDNS may open with an answer.
        if from_orig && opening.response && !mdns && !dns_port(p) {
            return Parse::NotMine;
        }
        // The responder's first response.
        let answer = if opening.response {
            None
        } else {
            match first_r {
                Some(Some(m)) if m.response => Some(m),
                _ => r.iter().skip(1).filter_map(|m| parse_msg(m, mdns)).find(|m| m.response),
            }
        };
        let dnscrypt = !mdns && (is_dnscrypt(&opening) || answer.as_ref().is_some_and(is_dnscrypt));
        meta.protocol = Some(if dnscrypt {
            "dnscrypt"
        } else if mdns {
            "mdns"
        } else if p.port(5355) {
            "llmnr"
        } else {
            "dns"
        });
        meta.encryption = if dnscrypt {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        // The root name (e.g. `. NS` priming queries) is left empty.
        if let Some(n) = opening.name.as_deref().filter(|n| !n.is_empty()) {
            meta.dns_query = Some(n.trim_end_matches('.').chars().take(MAX_NAME * 4).collect());
        }
        if let Some(t) = opening.qtype {
            meta.set_extra("dns_qtype", qtype_name(t));
        }
        if let Some(what) = salvaged {
            meta.set_extra("dns_malformed", what);
        }
        let rcode = if opening.response {
            Some(opening.rcode)
        } else {
            answer.map(|a| a.rcode)
        };
        match rcode {
            Some(rc) => {
                meta.set_extra("dns_rcode", rcode_name(rc));
                Parse::Done
            }
            None => Parse::Identified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    fn query(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
        for l in name.split('.') {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v.extend_from_slice(&qtype.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        if edns {
            v.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        }
        v
    }

    /// The answer to `q`, with one A record whose name is a compression
    /// pointer to the question.
    fn answer(q: &[u8], rcode: u8) -> Vec<u8> {
        let mut v = q.to_vec();
        v[2] = 0x81;
        v[3] = 0x80 | rcode;
        v[7] = 1;
        v[11] = 0;
        let qend = v.len() - if q[11] == 1 { 11 } else { 0 };
        v.truncate(qend);
        v.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34]);
        v
    }

    /// The answer to `q` with one TXT record holding `text`.
    fn txt_answer(q: &[u8], text: &[u8]) -> Vec<u8> {
        let mut v = q.to_vec();
        v[2] = 0x81;
        v[3] = 0x80;
        v[7] = 1;
        v.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0]);
        v.extend_from_slice(&(text.len() as u16 + 1).to_be_bytes());
        v.push(text.len() as u8);
        v.extend_from_slice(text);
        v
    }

    #[test]
    fn dnscrypt_certificate_query() {
        let q = query(7, "2.DNSCrypt-Cert.resolver.example", 16, false);
        let (r, m) = check_split_udp(&Dns, 40000, 443, &[&q], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("dnscrypt"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        // Any provider name: the certificate in the answer tells.
        let q = query(8, "2.SecureDNS.example", 16, false);
        let mut cert = b"DNSC\x00\x01\x00\x00".to_vec();
        cert.extend_from_slice(&[0x5a; 100]);
        let a = txt_answer(&q, &cert);
        let (r, m) = check_split_udp(&Dns, 40000, 443, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dnscrypt"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        // A TXT answer without the magic, or another name, is plain DNS.
        let a = txt_answer(&q, b"v=spf1 -all");
        let (_, m) = check_split_udp(&Dns, 40000, 53, &[&q], &[&a]);
        assert_eq!(m.protocol, Some("dns"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        let q = query(9, "3.dnscrypt-cert.example", 16, false);
        let (_, m) = check_split_udp(&Dns, 40000, 53, &[&q], &[]);
        assert_eq!(m.protocol, Some("dns"));
    }

    #[test]
    fn udp_query_and_answer() {
        let q = query(0xbeef, "WWW.Example.COM", 1, true);
        let a = answer(&q, 0);
        let (r, m) = check_split_udp(&Dns, 53000, 53, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dns"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.dns_query.as_deref(), Some("www.example.com"));
        assert_eq!(m.extra("dns_qtype"), Some("A"));
        assert_eq!(m.extra("dns_rcode"), Some("NOERROR"));
        // Query alone: identified, no rcode yet.
        let f = UdpFixture::new(53000, 53, &[&q], &[]);
        let mut m = Meta::default();
        assert_eq!(Dns.parse(&f.payloads(), &mut m), Parse::Identified);
        assert_eq!(m.extra("dns_rcode"), None);
    }

    #[test]
    fn off_port_needs_exact_message() {
        let q = query(1, "a.b", 28, false);
        let f = UdpFixture::new(40000, 5300, &[&q], &[]);
        assert_eq!(Dns.parse(&f.payloads(), &mut Meta::default()), Parse::Identified);
        let mut junk = q.clone();
        junk.push(0x55);
        let f = UdpFixture::new(40000, 5300, &[&junk], &[]);
        assert_eq!(Dns.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn tcp_length_prefixed() {
        let q = query(7, "example.org", 65, false);
        let a = answer(&q, 3);
        let mut o = (q.len() as u16).to_be_bytes().to_vec();
        o.extend_from_slice(&q);
        let mut r = (a.len() as u16).to_be_bytes().to_vec();
        r.extend_from_slice(&a);
        let (res, m) = check_split_tcp(&Dns, 53, &o, &r);
        assert_eq!(res, Parse::Done);
        assert_eq!(m.dns_query.as_deref(), Some("example.org"));
        assert_eq!(m.extra("dns_qtype"), Some("HTTPS"));
        assert_eq!(m.extra("dns_rcode"), Some("NXDOMAIN"));
    }

    #[test]
    fn llmnr_query() {
        let q = query(9, "wpad", 1, false);
        let (r, m) = check_split_udp(&Dns, 61000, 5355, &[&q], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("llmnr"));
        assert_eq!(m.dns_query.as_deref(), Some("wpad"));
    }

    #[test]
    fn mdns_many_questions() {
        let mut v = vec![0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(b"\x08_homekit\x04_tcp\x05local\x00\x00\x0c\x80\x01");
        for _ in 0..4 {
            v.extend_from_slice(b"\x05_raop\xc0\x15\x00\x0c\x80\x01");
        }
        let (r, m) = check_split_udp(&Dns, 5353, 5353, &[&v], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.dns_query.as_deref(), Some("_homekit._tcp.local"));
        let f = UdpFixture::new(40000, 53, &[&v], &[]);
        assert!(!identified(&f));
    }

    #[test]
    fn mdns_announcement() {
        // Response with no question, one PTR answer, unicast-response bit.
        let mut v = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(b"\x05_http\x04_tcp\x05local\x00\x00\x0c\x80\x01\x00\x00\x00\x78\x00\x02\xc0\x0c");
        let (r, m) = check_split_udp(&Dns, 5353, 5353, &[&v], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("mdns"));
        assert_eq!(m.dns_query.as_deref(), Some("_http._tcp.local"));
    }

    #[test]
    fn compression_loops_and_out_of_range() {
        // Pointer to itself, forward pointer, pointer past the end.
        for tail in [&[0xc0u8, 12][..], &[0xc0, 0x20], &[0xc0, 0xff], &[0x3f, b'a']] {
            let mut v = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            v.extend_from_slice(tail);
            v.extend_from_slice(&[0, 1, 0, 1]);
            assert!(parse_msg(&v, false).is_none(), "{tail:?}");
            let (r, _) = check_split_udp(&Dns, 40000, 5300, &[&v], &[]);
            assert_eq!(r, Parse::NotMine, "{tail:?}");
            // On port 53 the standard-query header makes it a malformed query.
            let (r, m) = check_split_udp(&Dns, 40000, 53, &[&v], &[]);
            assert_eq!(
                (r, m.extra("dns_malformed")),
                (Parse::Done, Some("question")),
                "{tail:?}"
            );
        }
        // A backwards chain: fine, and bounded.
        let msg = [0u8; 40];
        assert!(read_name(&msg, 0).is_some());
    }

    #[test]
    fn names_stepped_over_as_they_are_read() {
        // Odd bytes take four characters: a dot in a label, a control byte.
        let odd = [3, b'A', b'.', 1, 2, b'c', b'd', 0];
        assert_eq!(read_name(&odd, 0), Some(("a\\046\\001.cd".to_string(), 8)));
        // At the length limit of 1020 characters as built: `labels` labels
        // of 63 bytes, the last of `last`, give 1020 and 1021 characters in
        // plain bytes (15 * 63 + 15 dots + 60 or 61) and 1011 and 1264 in
        // odd ones (four characters a byte). Then a compressed answer. Each
        // at every truncation and every offset.
        let mut msgs = Vec::new();
        for (byte, labels, last) in [(b'x', 16, 60), (b'x', 16, 61), (0x01, 4, 63), (0x01, 5, 63)] {
            let mut m = Vec::new();
            for l in 0..labels {
                let n = if l + 1 == labels { last } else { 63 };
                m.push(n as u8);
                m.extend(std::iter::repeat_n(byte, n));
            }
            m.push(0);
            msgs.push(m);
        }
        let mut answer = query(7, "www.example.org", 1, false);
        answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        answer.extend_from_slice(&[3, b'c', b'd', b'n', 0xc0, 16, 0, 1]);
        msgs.push(answer);
        let mut accepted = 0;
        for m in &msgs {
            for cut in 0..=m.len() {
                let m = &m[..cut];
                for off in 0..m.len() {
                    let read = read_name(m, off);
                    assert_eq!(walk_name(m, off, None), read.as_ref().map(|r| r.1), "{m:?} at {off}");
                    accepted += usize::from(read.is_some());
                }
            }
        }
        assert!(accepted > 1000, "{accepted}");
        for (m, ok) in msgs.iter().zip([true, false, true, false]) {
            assert_eq!(read_name(m, 0).is_some(), ok, "{}", m.len());
        }
    }

    #[test]
    fn inverse_query_and_netbios() {
        let iq = [
            0x77, 0xfc, 0x09, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, 1,
        ];
        let (r, m) = check_split_udp(&Dns, 18427, 53, &[&iq], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("dns"));
        assert_eq!(m.dns_query, None);
        // NBNS name query: DNS format, NetBIOS meaning.
        let mut nb = vec![0x80, 0x01, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 32];
        nb.extend_from_slice(b"EGEFCACACACACACACACACACACACACAAA");
        nb.extend_from_slice(&[0, 0, 0x20, 0, 1]);
        let f = UdpFixture::new(137, 137, &[&nb], &[]);
        assert_eq!(Dns.probe(&f.payloads()), Probe::NotMine);
        assert_eq!(Dns.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
        let f = UdpFixture::new(40000, 53, &[&nb], &[]);
        assert_eq!(Dns.parse(&f.payloads(), &mut Meta::default()), Parse::Identified);
    }

    /// A query from nDPI's fuzz-2006-06-26-2594.pcap: the label before
    /// "sip" became 0x25 (37 bytes, running past the name), so the question
    /// does not parse; the header is a standard query's.
    const MANGLED: &[u8] = b"\xd0\x33\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04_sip\x04_udp\x25s\x00p\x09cibercity\x02dk\x00\x00\x21\x00\x01";

    #[test]
    fn malformed_query_on_port_53() {
        assert!(parse_msg(MANGLED, false).is_none());
        let (r, m) = check_split_udp(&Dns, 2829, 53, &[MANGLED], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dns"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dns_malformed"), Some("question"));
        assert_eq!(m.dns_query, None);
        // Over TCP too (length-prefixed), from either end's port 53.
        let mut o = (MANGLED.len() as u16).to_be_bytes().to_vec();
        o.extend_from_slice(MANGLED);
        let (r, m) = check_split_tcp(&Dns, 53, &o, b"");
        assert_eq!((r, m.extra("dns_malformed")), (Parse::Done, Some("question")));
        // Off port 53, or under a header that is not a standard query's:
        // not DNS.
        let f = UdpFixture::new(2829, 5300, &[MANGLED], &[]);
        assert_eq!(Dns.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
        for (at, v) in [
            (2, 0x81),
            (3, 0x80),
            (3, 0x01),
            (2, 0x09),
            (5, 2),
            (7, 1),
            (9, 1),
            (11, 2),
        ] {
            let mut h = MANGLED.to_vec();
            h[at] = v;
            let f = UdpFixture::new(2829, 53, &[&h], &[]);
            let mut m = Meta::default();
            let r = Dns.parse(&f.payloads(), &mut m);
            assert!(
                r == Parse::NotMine || m.extra("dns_malformed").is_none(),
                "byte {at} = {v:#x}"
            );
        }
        // A bare header with no room for a question is not enough (the
        // dissector waits for a whole message of the same transaction).
        let f = UdpFixture::new(2829, 53, &[&MANGLED[..14]], &[]);
        assert!(!identified(&f));
    }

    /// The dissector did not name the flow (it refused it, or waits).
    fn identified(f: &UdpFixture) -> bool {
        let mut m = Meta::default();
        let r = Dns.parse(&f.payloads(), &mut m);
        matches!(r, Parse::Identified | Parse::Done) || m.protocol.is_some()
    }

    /// Queries from nDPI's fuzz-2006-06-26-2594.pcap whose header was
    /// damaged but whose question parses: an additional count of 0x71
    /// (flow 2794), an answer count of 0x4700 on a query (18162), a
    /// question count of 0x1c01 (2758), RA set on a query (2789).
    fn damaged_headers() -> Vec<Vec<u8>> {
        let sip = b"\x04_sip\x04_udp\x03sip\x09cybercity\x02dk\x00\x00\x21\x00\x01";
        let mut v = Vec::new();
        for h in [
            &b"\x5c\xee\x01\x00\x00\x01\x00\x00\x00\x00\x71\x00"[..],
            b"\x0f\x17\x01\x00\x00\x01\x47\x00\x00\x00\x00\x00",
            b"\x47\xf2\x01\x00\x1c\x01\x00\x00\x00\x00\x00\x00",
            b"\x77\xea\x01\x80\x00\x01\x00\x00\x00\x00\x00\x00",
        ] {
            let mut m = h.to_vec();
            m.extend_from_slice(sip);
            v.push(m);
        }
        v
    }

    #[test]
    fn damaged_header_on_port_53() {
        for m in damaged_headers() {
            assert!(parse_msg(&m, false).is_none(), "{m:02x?}");
            let (r, meta) = check_split_udp(&Dns, 2794, 53, &[&m], &[]);
            assert_eq!(r, Parse::Identified, "{m:02x?}");
            assert_eq!(meta.protocol, Some("dns"));
            assert_eq!(meta.encryption, Encryption::Cleartext);
            assert_eq!(meta.extra("dns_malformed"), Some("header"));
            assert_eq!(meta.dns_query.as_deref(), Some("_sip._udp.sip.cybercity.dk"));
            assert_eq!(meta.extra("dns_qtype"), Some("SRV"));
            // Off port 53 the same bytes are not DNS.
            let f = UdpFixture::new(2794, 5300, &[&m], &[]);
            assert!(!crate::dissect::not_refused(&Dns, &f.payloads()), "{m:02x?}");
        }
        // QR set, another opcode, Z set, no question announced, or a
        // question that does not parse: not read as a damaged query.
        let base = damaged_headers().remove(0);
        for (at, v) in [(2, 0x81), (2, 0x09), (3, 0x40), (5, 0), (12, 0x3f), (26, 0x3f)] {
            let mut m = base.clone();
            m[at] = v;
            let f = UdpFixture::new(2794, 53, &[&m], &[]);
            assert!(!identified(&f), "byte {at} = {v:#x}");
        }
    }

    /// A first message damaged beyond reading, then a whole message of the
    /// same transaction: a retry (fuzz flow 2713) or the server's answer
    /// (fuzz flow 2761, whose query was cut to 9 bytes).
    #[test]
    fn damaged_first_message_then_the_same_transaction() {
        let good = query(0x2bf6, "1.0.0.127.in-addr.arpa", 12, false);
        let cut = &good[..9];
        let (r, m) = check_split_udp(&Dns, 2761, 53, &[cut], &[&answer(&good, 0)]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dns"));
        assert_eq!(m.extra("dns_malformed"), Some("message"));
        assert_eq!(m.dns_query.as_deref(), Some("1.0.0.127.in-addr.arpa"));
        assert_eq!(m.extra("dns_rcode"), Some("NOERROR"));
        let mut broken = good.clone();
        broken[10] = 0x25; // additional count 0x2587..., and a broken question
        broken[12] = 0;
        broken[13] = 0x5f;
        let (r, m) = check_split_udp(&Dns, 2713, 53, &[&broken, &good], &[]);
        assert_eq!((r, m.extra("dns_malformed")), (Parse::Identified, Some("message")));
        // Alone, the damaged message keeps the dissector waiting, no more.
        let f = UdpFixture::new(2761, 53, &[cut], &[]);
        assert_eq!(Dns.probe(&f.payloads()), Probe::Maybe);
        assert_eq!(Dns.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        // Another transaction's message, or off port 53: not DNS.
        let other = query(0x1111, "1.0.0.127.in-addr.arpa", 12, false);
        let f = UdpFixture::new(2761, 53, &[cut, &other], &[]);
        assert_eq!(Dns.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
        let f = UdpFixture::new(2761, 5300, &[cut], &[&answer(&good, 0)]);
        assert!(!crate::dissect::not_refused(&Dns, &f.payloads()));
    }

    #[test]
    fn other_protocols_not_mine() {
        let http = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let f = UdpFixture::new(40000, 53, &[http], &[]);
        assert!(
            Dns.probe(&f.payloads()) == Probe::NotMine
                || Dns.parse(&f.payloads(), &mut Meta::default()) == Parse::NotMine
        );
        let ends = [[5], [0]];
        let p = Payloads::tcp(1, 53, b"\x00\x03abc", b"", &ends);
        assert_eq!(Dns.probe(&p), Probe::NotMine);
    }
}
