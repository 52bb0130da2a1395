//! SIP (RFC 3261) over UDP or TCP, on any port (5060 is only a hint).
//! A message is a start line, then header fields, an empty line and a
//! body of `Content-Length` bytes:
//! - request: `METHOD SP Request-URI SP SIP/2.0`, the method an
//!   upper-case token, the URI with a scheme (`sip:`, `sips:`, `tel:`);
//! - status: `SIP/2.0 SP 3DIGIT SP Reason-Phrase`, the code 100..=699.
//!
//! The start line must be followed by header fields (`name: value`, long
//! or compact names, RFC 3261 §7.3.3), at least one of them one of the
//! fields every message carries (Via, From, To, Call-ID, CSeq). Flows
//! may open with keep-alives that are not SIP (CRLF pings, RFC 5626;
//! vendor datagrams): on UDP every datagram kept is looked at, on TCP
//! leading CRLFs are skipped. Call-ID, From, To, User-Agent and Server
//! go into the meta. Cleartext (SIP over TLS is taken by the TLS
//! dissector first).
//!
//! On the SIP ports only, a message whose start line is sound but whose
//! header is not (a line that is not a field, none of the fields every
//! message has, or a datagram that ends inside the header) is still SIP,
//! reported with `sip_malformed` = `header`: the start line (method,
//! URI scheme, `SIP/2.0`, or a status line) on the port is the evidence.

use super::text::{could_start_with_ci, lines_with_end, to_string};
use super::{Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Sip;

const PORTS: [u16; 2] = [5060, 5061];
const VERSION: &[u8] = b"SIP/2.0";
const MAX_LINE: usize = 1024;
const MAX_HEADERS: usize = 64;
const MAX_METHOD: usize = 16;
const VALUE_MAX: usize = 255;
/// Fields every SIP message carries (long and compact names).
const MANDATORY: [&[u8]; 9] = [b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq"];

/// The start line of a SIP message.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Start<'a> {
    Request(&'a [u8]),
    Status(u16),
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn start_line(line: &[u8]) -> Option<Start<'_>> {
    if let Some(rest) = line.strip_prefix(VERSION) {
        let rest = rest.strip_prefix(b" ")?;
        let code = rest.get(..3)?;
        if !code.iter().all(u8::is_ascii_digit) || !matches!(rest.get(3), None | Some(b' ')) {
            return None;
        }
        let code = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
        return ((100..700).contains(&code) && is_text(rest)).then_some(Start::Status(code));
    }
    let mut parts = line.split(|&b| b == b' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != VERSION {
        return None;
    }
    let method_ok =
        !method.is_empty() && method.len() <= MAX_METHOD && method.iter().all(|b| b.is_ascii_uppercase() || *b == b'-');
    // A URI with a scheme: letters, then ':' and something.
    let colon = uri.iter().position(|&b| b == b':')?;
    let uri_ok = colon > 0
        && colon + 1 < uri.len()
        && uri[..colon].iter().all(u8::is_ascii_alphabetic)
        && uri.iter().all(u8::is_ascii_graphic);
    (method_ok && uri_ok).then_some(Start::Request(method))
}

/// A prefix of a start line: of `SIP/2.0`, or an upper-case method
/// followed by printable bytes.
fn could_be_start(d: &[u8]) -> bool {
    if d.len() >= MAX_LINE {
        return false;
    }
    if could_start_with_ci(d, VERSION) {
        return true;
    }
    let method = d.split(|&b| b == b' ').next().unwrap_or_default();
    method.len() <= MAX_METHOD
        && method.iter().all(|b| b.is_ascii_uppercase() || *b == b'-')
        && d.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
}

/// UTF-8 text of a header line or reason phrase: no control bytes but tab.
fn is_text(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// `name: value` (any spaces before the colon): the name and the value.
fn header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line[..colon].trim_ascii_end();
    if name.is_empty() || !name.iter().copied().all(is_token_char) || !is_text(line) {
        return None;
    }
    Some((name, line[colon + 1..].trim_ascii()))
}

/// What one message (a datagram, or the head of a TCP stream) shows.
#[derive(Default)]
struct Message<'a> {
    start: Option<Start<'a>>,
    call_id: Option<&'a [u8]>,
    from: Option<&'a [u8]>,
    to: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    server: Option<&'a [u8]>,
    /// A start line, then a header that is not well formed (a line that is
    /// not `name: value` text, or none of the fields every message has).
    damaged: bool,
}

/// Reads a message: `Ok(Some)` when it is SIP, `Ok(None)` when it may
/// still become SIP with more bytes, `Err` when it is not SIP. `whole`:
/// no more bytes will come (a UDP datagram), so a header cut short is
/// damaged.
fn message(d: &[u8], whole: bool) -> Result<Option<Message<'_>>, ()> {
    // Every start line (and every prefix of one) opens with a method token
    // or `SIP/2.0` before its first space: checked on a few bytes before
    // looking for the end of the line, which on binary data means a scan
    // of the whole datagram for every flow the probe sees.
    let head = d.get(..=MAX_METHOD).unwrap_or(d);
    let token = head.split(|&b| b == b' ').next().unwrap_or_default();
    let spaced = token.len() < head.len();
    let method = !token.is_empty() && token.iter().all(|b| b.is_ascii_uppercase() || *b == b'-');
    if !(spaced || d.len() <= MAX_METHOD) || !(method || could_start_with_ci(token, VERSION)) {
        return Err(());
    }
    let mut lines = lines_with_end(d, MAX_HEADERS + 1);
    let Some((first, _)) = lines.next() else {
        // No complete line yet: a prefix of a request or status line?
        return if could_be_start(d) { Ok(None) } else { Err(()) };
    };
    let start = start_line(first).ok_or(())?;
    let mut m = Message {
        start: Some(start),
        ..Message::default()
    };
    let mut mandatory = false;
    let mut ended = false;
    for (line, _) in lines {
        if line.is_empty() {
            ended = true;
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A folded continuation of the previous field.
            if !is_text(line) {
                m.damaged = true;
                return Ok(Some(m));
            }
            continue;
        }
        let Some((name, value)) = header(line) else {
            m.damaged = true;
            return Ok(Some(m));
        };
        mandatory |= MANDATORY.iter().any(|k| name.eq_ignore_ascii_case(k));
        let slot = if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            &mut m.call_id
        } else if name.eq_ignore_ascii_case(b"from") || name.eq_ignore_ascii_case(b"f") {
            &mut m.from
        } else if name.eq_ignore_ascii_case(b"to") || name.eq_ignore_ascii_case(b"t") {
            &mut m.to
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            &mut m.user_agent
        } else if name.eq_ignore_ascii_case(b"server") {
            &mut m.server
        } else {
            continue;
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }
    if mandatory {
        return Ok(Some(m));
    }
    // The header ended (or was cut by the line limit) without any of the
    // fields every message has: not SIP.
    let complete_lines = lines_with_end(d, MAX_HEADERS + 1).count();
    if ended || whole || complete_lines > MAX_HEADERS || d.len() > 8 * MAX_LINE {
        m.damaged = true;
        return Ok(Some(m));
    }
    Ok(None)
}

/// A keep-alive: CRLFs only (RFC 5626 §4.4.1).
fn is_crlf(d: &[u8]) -> bool {
    !d.is_empty() && d.iter().all(|&b| b == b'\r' || b == b'\n')
}

/// The TCP stream without the CRLF keep-alives that may precede the
/// first message.
fn skip_crlf(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    &d[n..]
}

/// Messages of one side: every SIP datagram (UDP; others are skipped as
/// keep-alives) or the stream's first message (TCP, `Err` when the
/// stream does not open with SIP).
fn side_messages<'a>(t: Transport, s: Side<'a>, out: &mut Vec<Message<'a>>) -> Result<(), ()> {
    match t {
        Transport::Tcp => {
            let d = skip_crlf(s.stream());
            if d.is_empty() {
                return Ok(());
            }
            if let Some(m) = message(d, false)? {
                out.push(m);
            }
            Ok(())
        }
        Transport::Udp => {
            for dg in s.chunks() {
                if let Ok(Some(m)) = message(dg, true) {
                    out.push(m);
                }
            }
            Ok(())
        }
    }
}

fn could_be_sip(d: &[u8]) -> bool {
    let d = skip_crlf(d);
    could_start_with_ci(d, VERSION) || message(d, false).is_ok()
}

fn set(meta: &mut Meta, key: &'static str, v: Option<&[u8]>) {
    if meta.extra(key).is_none() {
        if let Some(v) = v {
            meta.set_extra(key, to_string(v, VALUE_MAX));
        }
    }
}

impl Dissector for Sip {
    fn name(&self) -> &'static str {
        "sip"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        // Port 5060/5061 keeps the flow in view past non-SIP keep-alives;
        // elsewhere the first bytes must look like SIP.
        let first = match p.transport {
            Transport::Tcp => p.first_side().stream(),
            Transport::Udp => p.first_payload(),
        };
        if PORTS.iter().any(|&x| p.port(x)) || first.is_empty() || could_be_sip(first) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let mut msgs = Vec::new();
        let first = side_messages(p.transport, p.first_side(), &mut msgs);
        let n_first = msgs.len();
        let second = side_messages(p.transport, p.second_side(), &mut msgs);
        if first.is_err() || (msgs.is_empty() && second.is_err()) {
            return Parse::NotMine;
        }
        if msgs.is_empty() {
            let on_port = PORTS.iter().any(|&x| p.port(x));
            let f = p.first_side();
            let opening = match p.transport {
                Transport::Tcp => skip_crlf(f.stream()),
                Transport::Udp => f.first(),
            };
            // Off the SIP ports a UDP flow is judged by its first datagram.
            if p.transport == Transport::Udp && !on_port && !(opening.is_empty() || is_crlf(opening)) {
                return Parse::NotMine;
            }
            return p.undecided();
        }
        // A start line over a damaged header is SIP only on the SIP ports
        // (damaged or hand-made messages: fuzzers, broken phones).
        if msgs.iter().all(|m| m.damaged) {
            if !PORTS.iter().any(|&x| p.port(x)) {
                return Parse::NotMine;
            }
            meta.set_extra("sip_malformed", "header");
        }
        meta.protocol = Some("sip");
        meta.encryption = Encryption::Cleartext;
        for m in &msgs {
            match m.start {
                Some(Start::Request(method)) if meta.extra("sip_method").is_none() => {
                    meta.set_extra("sip_method", to_string(method, MAX_METHOD));
                }
                Some(Start::Status(code)) if meta.extra("sip_status").is_none() => {
                    meta.set_extra("sip_status", code.to_string());
                }
                _ => {}
            }
            set(meta, "sip_call_id", m.call_id);
            set(meta, "sip_from", m.from);
            set(meta, "sip_to", m.to);
            set(meta, "sip_user_agent", m.user_agent);
            set(meta, "sip_server", m.server);
        }
        let both = n_first > 0 && msgs.len() > n_first;
        let agent = meta.extra("sip_user_agent").is_some() || meta.extra("sip_server").is_some();
        if both && agent && meta.extra("sip_call_id").is_some() {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // From sip_hello.pcapng, trimmed: the vendor keep-alive, a REGISTER
    // and the 401 that answers it.
    const REGISTER: &[u8] = b"REGISTER sip:10.192.60.4 SIP/2.0\r\n\
From: \"26841945\"<sip:26841945@10.192.60.4>;tag=c085d8-ae78e54-13c4\r\n\
To: \"26841945\"<sip:26841945@10.192.60.4>\r\n\
Call-ID: c15740-ae78e54-13c4-38-3e10ffda-38\r\n\
CSeq: 28715 REGISTER\r\n\
Via: SIP/2.0/UDP 10.231.142.84:5060;branch=z9hG4bK-41c244-dedbb0-7179cb70\r\n\
Max-Forwards: 70\r\n\
User-Agent: Cisco-SIPGateway/IOS-12.x\r\n\
Content-Length: 0\r\n\r\n";
    const UNAUTHORIZED: &[u8] = b"SIP/2.0 401 Unauthorized\r\n\
Via: SIP/2.0/UDP 10.231.142.84:5060;branch=z9hG4bK-41c244-dedbb0-7179cb70;rport=5060\r\n\
Call-ID: c15740-ae78e54-13c4-38-3e10ffda-38\r\n\
From: \"26841945\"<sip:26841945@10.192.60.4>;tag=c085d8-ae78e54-13c4\r\n\
To: \"26841945\"<sip:26841945@10.192.60.4>;tag=vkicyhi\r\n\
CSeq: 28715 REGISTER\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn udp_register_after_keepalives() {
        let hello: &[u8] = b"hello";
        let (r, m) = check_split_udp(
            &Sip,
            5060,
            5060,
            &[hello, hello, UNAUTHORIZED],
            &[hello, hello, REGISTER],
        );
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("sip"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("sip_status"), Some("401"));
        assert_eq!(m.extra("sip_method"), Some("REGISTER"));
        assert_eq!(m.extra("sip_call_id"), Some("c15740-ae78e54-13c4-38-3e10ffda-38"));
        assert_eq!(
            m.extra("sip_to"),
            Some("\"26841945\"<sip:26841945@10.192.60.4>;tag=vkicyhi")
        );
        assert_eq!(m.extra("sip_user_agent"), Some("Cisco-SIPGateway/IOS-12.x"));
        // Only keep-alives so far: wait on the SIP port, give up at the end.
        let f = UdpFixture::new(5060, 5060, &[hello], &[hello]);
        let mut p = f.payloads();
        assert_eq!(Sip.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Sip.parse(&p, &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn tcp_invite_compact_headers_on_any_port() {
        let invite = b"\r\n\r\nINVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
v: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
t: Bob <sip:bob@biloxi.example.com>\r\n\
i: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
l: 0\r\n\r\n";
        let ok = b"SIP/2.0 180 Ringing\r\nv: SIP/2.0/TCP client.atlanta.example.com:5060\r\nServer: Biloxi PBX\r\n\r\n";
        let (r, m) = check_split_tcp(&Sip, 15060, invite, ok);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("sip_method"), Some("INVITE"));
        assert_eq!(m.extra("sip_status"), Some("180"));
        assert_eq!(
            m.extra("sip_from"),
            Some("Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl")
        );
        assert_eq!(m.extra("sip_call_id"), Some("3848276298220188511@atlanta.example.com"));
        assert_eq!(m.extra("sip_server"), Some("Biloxi PBX"));
        // A lone OPTIONS ping over UDP on another port.
        let opt = b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com\r\n\r\n";
        let (r, m) = check_split_udp(&Sip, 5062, 40000, &[opt], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("sip_method"), Some("OPTIONS"));
    }

    #[test]
    fn damaged_header_on_sip_ports() {
        // From nDPI's fuzz-2006-06-26-2594.pcap: a CANCEL whose datagram
        // was overwritten with 0xaa from inside the Via value on, so the
        // header never ends.
        let fuzzed: &[u8] = b"CANCEL sip:97239287044@voip.brujula.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.2;branch=z9hG4bKnp104\xaa\xaa\xaa\xaa\xaa\xaa";
        let cases: [&[u8]; 3] = [
            fuzzed,
            b"INVITE sip:bob SIP/2.0\r\nContent-Length: 0\r\n\r\n",
            b"SIP/2.0 401 Unauthorized\r\nnot a header\r\n\r\n",
        ];
        for d in cases {
            let (r, m) = check_split_udp(&Sip, 5060, 5060, &[d], &[]);
            assert_eq!(r, Parse::Identified, "{d:?}");
            assert_eq!(m.protocol, Some("sip"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("sip_malformed"), Some("header"), "{d:?}");
            // Off the SIP ports: not SIP.
            let f = UdpFixture::new(40000, 9000, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Sip, &f.payloads()), "{d:?}");
        }
        // Over TCP a header that has not ended may still continue; one that
        // ended without the fields every message has, or with a line that
        // is not a field, is damaged.
        for d in &cases[1..] {
            let (r, m) = check_split_tcp(&Sip, 5060, d, b"");
            assert_eq!(
                (r, m.extra("sip_malformed")),
                (Parse::Identified, Some("header")),
                "{d:?}"
            );
        }
        let ends = [[fuzzed.len() as u32], [0]];
        let p = Payloads::tcp(40000, 5060, fuzzed, &[], &ends);
        assert_eq!(Sip.parse(&p, &mut Meta::default()), Parse::NeedMore);
        // A whole message beside a damaged one: not marked.
        let (_, m) = check_split_udp(&Sip, 5060, 5060, &[fuzzed], &[UNAUTHORIZED]);
        assert_eq!(m.extra("sip_malformed"), None);
    }

    #[test]
    fn not_sip() {
        let cases: [(u16, &[u8]); 8] = [
            (5060, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            (5060, b"HTTP/1.1 200 OK\r\nVia: x\r\n\r\n"),
            (5060, b"INVITE sip:bob SIP/3.0\r\nVia: x\r\n\r\n"),
            (5060, b"invite sip:bob SIP/2.0\r\nVia: x\r\n\r\n"),
            (5060, b"SIP/2.0 099 Odd\r\nVia: x\r\n\r\n"),
            (9000, b"INVITE sip:bob SIP/2.0\r\nContent-Length: 0\r\n\r\n"),
            (9000, b"INVITE sip:bob SIP/2.0\r\nnot a header\r\n\r\n"),
            (9000, b"INVITE bob SIP/2.0\r\nVia: x\r\n\r\n"),
        ];
        for (port, d) in cases {
            let ends = [[d.len() as u32], [0]];
            let mut p = Payloads::tcp(40000, port, d, &[], &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Sip, &p);
            assert!(!claimed, "tcp {d:?}");
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let mut p = f.payloads();
            p.last = true;
            let claimed = crate::dissect::not_refused(&Sip, &p);
            assert!(!claimed, "udp {d:?}");
        }
        // Off the SIP ports, a first datagram that is not SIP ends it.
        let f = UdpFixture::new(40000, 9000, &[b"hello"], &[]);
        assert_eq!(Sip.probe(&f.payloads()), Probe::NotMine);
        assert!(start_line(b"BYE sip:a@b SIP/2.0").is_some());
        assert!(start_line(b"BYE sip:a@b HTTP/1.1").is_none());
    }
}
