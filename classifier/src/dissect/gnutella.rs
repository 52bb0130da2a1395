//! Gnutella over UDP, on any port (peers pick their own).
//!
//! Two framings:
//! - Gnutella 0.6 descriptors (and the Mojito DHT, which reuses them):
//!   a 16-byte message id, a payload type, TTL and hops (Mojito: a
//!   version), and a little-endian 32-bit payload length that must
//!   account for the rest of the datagram exactly.
//! - Gnutella2 (G2) UDP: `GND`, flags (deflate, acknowledge, ...; the top
//!   three bits zero), a sequence number, part number and part count
//!   (`part <= count`; an acknowledgement has count 0).
//!
//! Gnutella 0.6 over TCP opens with a three-way text handshake: the
//! connecting peer's block (`GNUTELLA CONNECT/<major>.<minor>`, then
//! `Name: value` header lines and an empty line), the answer
//! (`GNUTELLA/<major>.<minor> <3-digit code> <reason>` and headers; 200
//! accepts) and the connector's own `GNUTELLA/0.6 200 OK` block. The old
//! 0.4 handshake is `GNUTELLA CONNECT/0.4` and `GNUTELLA OK`, each with
//! an empty line. Taken on the connector's request line and its first
//! well-formed header line (or the end of the block), or on the answer's
//! status line. Descriptors, possibly deflated, follow in clear; after
//! `Upgrade: TLS/1.0` both sides start a TLS handshake right after the
//! handshake blocks: encrypted then.

use super::{agrees, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Gnutella;

const HEADER: usize = 23;
/// Largest TTL + hops of a descriptor.
const MAX_TTL: u8 = 16;

/// The framing `d` is, if any.
fn framing(d: &[u8]) -> Option<&'static str> {
    if d.starts_with(b"GND") {
        let (&flags, &part, &count) = (d.get(3)?, d.get(6)?, d.get(7)?);
        return (flags & 0xe0 == 0 && part >= 1 && (count == 0 || part <= count)).then_some("g2");
    }
    let kind = *d.get(16)?;
    let (ttl, hops) = (*d.get(17)?, *d.get(18)?);
    let len = u32::from_le_bytes([*d.get(19)?, *d.get(20)?, *d.get(21)?, *d.get(22)?]);
    let exact = usize::try_from(len).ok()? == d.len() - HEADER;
    let descriptor = match kind {
        // Ping, pong, bye, push, query, query hit, (route table) update.
        0x00 | 0x01 | 0x02 | 0x30 | 0x31 | 0x40 | 0x80 | 0x81 => {
            ttl <= MAX_TTL && hops <= MAX_TTL && ttl.saturating_add(hops) <= MAX_TTL && ttl + hops > 0
        }
        // Mojito DHT: the two bytes are a version.
        0x44 => true,
        _ => false,
    };
    (exact && descriptor).then_some(if kind == 0x44 { "mojito" } else { "gnutella" })
}

/// The opening of every handshake block.
const MAGIC: &[u8] = b"GNUTELLA";
/// Longest first line and longest header block taken.
const MAX_LINE: usize = 512;
const MAX_BLOCK: usize = 16384;

/// The first line of a handshake block.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Start {
    Connect,
    Status(u16),
}

/// `<digits>.<digits>`, at most 3 digits each.
fn version(v: &[u8]) -> bool {
    let Some(dot) = v.iter().position(|&b| b == b'.') else {
        return false;
    };
    let num = |x: &[u8]| (1..=3).contains(&x.len()) && x.iter().all(u8::is_ascii_digit);
    num(&v[..dot]) && num(&v[dot + 1..])
}

fn start_line(line: &[u8]) -> Option<Start> {
    if let Some(v) = line.strip_prefix(b"GNUTELLA CONNECT/") {
        return version(v).then_some(Start::Connect);
    }
    if line == b"GNUTELLA OK" {
        return Some(Start::Status(200));
    }
    let rest = line.strip_prefix(b"GNUTELLA/")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let code = rest.get(sp + 1..sp + 4)?;
    let reason_ok = match rest.get(sp + 4..) {
        Some([]) => true,
        Some([b' ', r @ ..]) => r.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)),
        _ => false,
    };
    (version(&rest[..sp]) && code.iter().all(u8::is_ascii_digit) && reason_ok)
        .then(|| Start::Status(code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'))))
}

/// A header line `Name: value`: a token name, then printable bytes.
fn header_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = &line[..colon];
    !name.is_empty()
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && line[colon + 1..]
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
}

/// A handshake block opening `d`: its start line, whether a header line
/// (or the block's end) has been seen, and the offset past the block when
/// complete. `Ok(None)` while `d` is a prefix of a block's first line;
/// `Err` when `d` cannot open one.
#[allow(clippy::type_complexity)]
fn block(d: &[u8]) -> Result<Option<(Start, bool, Option<usize>)>, ()> {
    if !agrees(d, MAGIC) {
        return Err(());
    }
    let Some(nl) = d.iter().take(MAX_LINE).position(|&b| b == b'\n') else {
        return if d.len() < MAX_LINE { Ok(None) } else { Err(()) };
    };
    let first = &d[..nl];
    let crlf = first.ends_with(b"\r");
    let start = start_line(first.strip_suffix(b"\r").unwrap_or(first)).ok_or(())?;
    let mut off = nl + 1;
    let mut confirmed = false;
    loop {
        let rest = &d[off..d.len().min(MAX_BLOCK)];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            if d.len() >= MAX_BLOCK {
                return Err(());
            }
            return Ok(Some((start, confirmed, None)));
        };
        let line = &rest[..nl];
        // One line ending for the whole block.
        let line = if crlf {
            line.strip_suffix(b"\r").ok_or(())?
        } else if line.ends_with(b"\r") {
            return Err(());
        } else {
            line
        };
        off += nl + 1;
        if line.is_empty() {
            return Ok(Some((start, true, Some(off))));
        }
        // A folded continuation of the previous header line.
        let folded = confirmed && matches!(line.first(), Some(b' ' | b'\t'));
        if !folded && !header_line(line) {
            return Err(());
        }
        confirmed = true;
    }
}

/// A TLS handshake record opens `d`.
fn tls(d: &[u8]) -> bool {
    d.len() >= 2 && d[0] == 0x16 && d[1] == 0x03
}

fn parse_tcp(p: &Payloads<'_>, meta: &mut Meta) -> Parse {
    let (c, s) = (p.orig.stream(), p.resp.stream());
    let client = if c.is_empty() { Ok(None) } else { block(c) };
    let server = if s.is_empty() { Ok(None) } else { block(s) };
    let (Ok(client), Ok(server)) = (client, server) else {
        return Parse::NotMine;
    };
    let connect = match client {
        Some((Start::Connect, confirmed, end)) => Some((confirmed, end)),
        Some(_) => return Parse::NotMine,
        None => None,
    };
    let status = match server {
        Some((Start::Status(code), _, end)) => Some((code, end)),
        Some(_) => return Parse::NotMine,
        None => None,
    };
    if !connect.is_some_and(|(confirmed, _)| confirmed) && status.is_none() {
        return p.undecided();
    }
    meta.protocol = Some("gnutella");
    meta.encryption = Encryption::Cleartext;
    meta.set_extra("gnutella_framing", "handshake");
    let Some((code, s_end)) = status else {
        return Parse::Identified;
    };
    meta.set_extra("gnutella_status", code.to_string());
    if code != 200 {
        return Parse::Done;
    }
    // The connector's closing block, then whatever follows the handshake.
    let Some(c_end) = connect.and_then(|(_, end)| end) else {
        return Parse::Identified;
    };
    let after = match block(&c[c_end..]) {
        Ok(Some((Start::Status(_), _, Some(end)))) => &c[c_end + end..],
        Ok(Some((Start::Status(_), _, None))) | Ok(None) => return Parse::Identified,
        // 0.4: data follows the server's answer directly.
        _ => &c[c_end..],
    };
    let s_after = s_end.map_or(&[][..], |e| &s[e..]);
    if tls(after) || tls(s_after) {
        meta.encryption = Encryption::Encrypted;
        return Parse::Done;
    }
    if after.is_empty() {
        Parse::Identified
    } else {
        Parse::Done
    }
}

impl Dissector for Gnutella {
    fn name(&self) -> &'static str {
        "gnutella"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let ok = match p.transport {
            Transport::Udp => framing(p.first_payload()).is_some(),
            Transport::Tcp => block(p.first_payload()).is_ok(),
        };
        if ok {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Tcp {
            return parse_tcp(p, meta);
        }
        let Some(kind) = framing(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("gnutella");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("gnutella_framing", kind);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    fn descriptor(kind: u8, ttl: u8, hops: u8, payload: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        v.extend_from_slice(&[kind, ttl, hops]);
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn pong_g2_and_mojito() {
        let pong = descriptor(0x01, 1, 0, &[0x09, 0x18, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let (r, m) = check_split_udp(&Gnutella, 40000, 6346, &[&pong], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("gnutella"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("gnutella_framing"), Some("gnutella"));
        let g2 = b"GND\x10\x3e\xae\x01\x01T\x0bQKRP\x06RNA]/\xe25\x09p";
        let (r, m) = check_split_udp(&Gnutella, 28681, 37580, &[g2], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("gnutella_framing"), Some("g2"));
        let dht = descriptor(0x44, 0, 0, &[0x21; 60]);
        let (_, m) = check_split_udp(&Gnutella, 28681, 5000, &[&dht], &[]);
        assert_eq!(m.extra("gnutella_framing"), Some("mojito"));
    }

    // gnutella.pcap, 10.0.2.15:50316 -> 142.132.165.13:30566, headers trimmed.
    const CONNECT: &[u8] = b"GNUTELLA CONNECT/0.6\r\nNode: 93.47.226.53:28681\r\nRemote-IP: 142.132.165.13\r\nUser-Agent: gtk-gnutella/1.2.2 (2022-02-25; GTK2; Windows x64)\r\nGGEP: 0.5\r\nUpgrade: TLS/1.0\r\nAccept-Encoding: deflate\r\nX-Features: tls/1.0, sflag/0.1, HSEP/0.2\r\n\r\n";
    const ACCEPT: &[u8] = b"GNUTELLA/0.6 200 OK\r\nUser-Agent: gtk-gnutella/1.2.2 (2022-02-25; Topless; Linux x86_64)\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\nContent-Encoding: deflate\r\nX-Ultrapeer-Needed: True\r\n\r\n";
    const CONFIRM: &[u8] = b"GNUTELLA/0.6 200 OK\r\nConnection: Upgrade\r\nContent-Encoding: deflate\r\n\r\n";
    const HELLO: &[u8] = b"\x16\x03\x01\x01\x03\x01\x00\x00\xff\x03\x03\x62\x25\x0a\x6b";
    const SERVER_HELLO: &[u8] = b"\x16\x03\x03\x00\x5b\x02\x00\x00\x57\x03\x03";
    // gnutella.pcap, 10.0.2.15:50322 -> 164.132.10.25:55302, trimmed.
    const REFUSE: &[u8] = b"GNUTELLA/0.6 503 Too many ultra connections (4 max)\r\nUser-Agent: gtk-gnutella/1.2.2 (2022-02-25; GTK2; Windows x64)\r\nRemote-IP: 93.47.226.53\r\n\r\n";

    #[test]
    fn tcp_handshake() {
        let (r, m) = check_split_tcp(&Gnutella, 30566, CONNECT, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("gnutella"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("gnutella_framing"), Some("handshake"));
        let (r, m) = check_split_tcp(&Gnutella, 55302, CONNECT, REFUSE);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("gnutella_status"), Some("503"));
        // Accepted, then upgraded to TLS.
        let c = [CONNECT, CONFIRM, HELLO].concat();
        let s = [ACCEPT, SERVER_HELLO].concat();
        let (r, m) = check_split_tcp(&Gnutella, 30566, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        // Accepted, then descriptors in clear.
        let c = [CONNECT, CONFIRM, &[0x78, 0x9c, 0x62, 0x60]].concat();
        let (r, m) = check_split_tcp(&Gnutella, 30566, &c, ACCEPT);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
        // 0.4.
        let (r, m) = check_split_tcp(&Gnutella, 6346, b"GNUTELLA CONNECT/0.4\n\n", b"GNUTELLA OK\n\n");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("gnutella_status"), Some("200"));
    }

    #[test]
    fn not_gnutella_tcp() {
        let bad_header = [&CONNECT[..22], b"not a header\r\n"].concat();
        let mixed_endings = [&CONNECT[..22], b"Node: 1.2.3.4:5\n"].concat();
        let cases: [(&[u8], &[u8]); 6] = [
            (&bad_header, b""),
            (&mixed_endings, b""),
            (b"GNUTELLA CONNECT/x.6\r\nNode: a\r\n", b""),
            (b"GNUTELLA CONNECTED\r\nNode: a\r\n", b""),
            (CONNECT, b"GNUTELLA/0.6 2000 OK\r\n"),
            (CONNECT, b"HTTP/1.1 200 OK\r\n"),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let p = Payloads::tcp(40000, 6346, c, s, &ends);
            assert!(!crate::dissect::not_refused(&Gnutella, &p), "{c:?} {s:?}");
        }
        // The connector's block, but answered like a server: not a peer.
        let ends = [[ACCEPT.len() as u32], [0]];
        let p = Payloads::tcp(40000, 6346, ACCEPT, &[], &ends);
        let mut m = Meta::default();
        assert_eq!(Gnutella.parse(&p, &mut m), Parse::NotMine);
    }

    #[test]
    fn not_gnutella() {
        let mut long = descriptor(0x80, 3, 2, b"query");
        long.push(0);
        let cases: [Vec<u8>; 6] = [
            long,
            descriptor(0x55, 3, 2, b"x"),
            descriptor(0x00, 40, 2, b""),
            descriptor(0x00, 0, 0, b""),
            b"GND\x80\x00\x01\x01\x01".to_vec(),
            b"GND\x00\x00\x01\x03\x02".to_vec(),
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 6346, &[&d], &[]);
            let claimed = crate::dissect::not_refused(&Gnutella, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
