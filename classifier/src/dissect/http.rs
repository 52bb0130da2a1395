//! HTTP/1.x (RFC 9112) on any port: the request line and headers from the
//! originator, the status line from the responder. Also flags `CONNECT`
//! tunnels and WebSocket upgrades (RFC 6455).

use super::text::{could_start_with_ci, is_printable, lines_with_end, starts_with_ci, to_string};
use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Http;

const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"PATCH",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"SEARCH",
];
/// What the probe admits first: the first letter of a method (exact
/// case), or `H`/`h` of a status line seen first (`HTTP/1.`, any case
/// from the responder).
const FIRST: ByteSet = ByteSet::initials(METHODS).union(ByteSet::of(b"Hh"));
/// Longest request line or header line accepted.
const MAX_LINE: usize = 8192;
const MAX_HEADERS: usize = 128;
const MAX_VALUE: usize = 512;

fn method_of(line: &[u8]) -> Option<&'static [u8]> {
    METHODS
        .iter()
        .copied()
        .find(|m| line.len() > m.len() && line.starts_with(m) && line[m.len()] == b' ')
}

/// Could `data` still become a request line?
fn could_be_request(data: &[u8]) -> bool {
    METHODS
        .iter()
        .any(|m| agrees(data, m) && (data.len() <= m.len() || data[m.len()] == b' '))
}

fn is_version(v: &[u8]) -> bool {
    v == b"HTTP/1.1" || v == b"HTTP/1.0"
}

/// `HTTP/1.x NNN reason`: the status code.
fn status_line(line: &[u8]) -> Option<u16> {
    let v = line.get(..8)?;
    if !is_version(v) || line.get(8) != Some(&b' ') {
        return None;
    }
    let code = line.get(9..12)?;
    if !code.iter().all(u8::is_ascii_digit) || line.get(12).is_some_and(|&b| b != b' ') {
        return None;
    }
    let n = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    (100..600).contains(&n).then_some(n)
}

/// Host without port, lowercase.
fn host_only(v: &[u8]) -> String {
    let s = to_string(v, MAX_VALUE).to_ascii_lowercase();
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => s,
    }
}

fn header<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    if !starts_with_ci(line, name) || line.get(name.len()) != Some(&b':') {
        return None;
    }
    let v = &line[name.len() + 1..];
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    Some(&v[start..])
}

/// Parses the response status, if a complete status line is there.
/// `Err` when the responder's bytes are not HTTP.
fn response(resp: &[u8]) -> Result<Option<u16>, ()> {
    match lines_with_end(resp, 1).next() {
        Some((line, _)) => status_line(line).map(Some).ok_or(()),
        None if resp.len() < MAX_LINE && could_start_with_ci(resp, b"HTTP/1.") => Ok(None),
        None => Err(()),
    }
}

impl Dissector for Http {
    fn name(&self) -> &'static str {
        "http"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let o = p.orig.stream();
        if o.is_empty() {
            let r = p.resp.stream();
            return if could_start_with_ci(r, b"HTTP/1.") {
                Probe::Maybe
            } else {
                Probe::NotMine
            };
        }
        if !could_be_request(o) && !o.starts_with(b"HTTP/1.") && !b"HTTP/1.".starts_with(o) {
            Probe::NotMine
        } else if method_of(o).is_some() {
            Probe::Mine
        } else {
            Probe::Maybe
        }
    }
    /// A method's first letter or a status line's `H` (`FIRST`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(FIRST)
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let o = p.orig.stream();
        let r = p.resp.stream();
        // A capture that starts with the reply: from the responder, or
        // (when the request was missed) seen first and so the originator.
        let reply_first = if o.is_empty() {
            Some(r)
        } else if o.starts_with(b"HTTP/1.") || b"HTTP/1.".starts_with(o) {
            Some(o)
        } else {
            None
        };
        if let Some(reply) = reply_first {
            return match response(reply) {
                Err(()) => Parse::NotMine,
                Ok(None) => Parse::NeedMore,
                Ok(Some(code)) => {
                    meta.protocol = Some("http");
                    meta.encryption = Encryption::Cleartext;
                    meta.set_extra("http_status", code.to_string());
                    Parse::Identified
                }
            };
        }
        let mut it = lines_with_end(o, MAX_HEADERS + 1);
        let Some((first, _)) = it.next() else {
            return if o.len() <= MAX_LINE && could_be_request(o) {
                Parse::NeedMore
            } else {
                Parse::NotMine
            };
        };
        // METHOD SP target SP version
        let Some(method) = method_of(first) else {
            return Parse::NotMine;
        };
        let rest = &first[method.len() + 1..];
        let Some(sp) = rest.iter().rposition(|&b| b == b' ') else {
            return Parse::NotMine;
        };
        let (target, version) = (&rest[..sp], &rest[sp + 1..]);
        if first.len() > MAX_LINE || !is_version(version) || target.is_empty() || !is_printable(target) {
            return Parse::NotMine;
        }
        meta.protocol = Some("http");
        meta.encryption = Encryption::Cleartext;
        let method_s = to_string(method, 16);
        meta.set_extra("http_method", method_s);
        if method == b"CONNECT" {
            meta.set_extra("http_connect", to_string(target, MAX_VALUE));
            meta.http_host = Some(host_only(target));
        }
        let mut headers_done = false;
        for (line, _) in it {
            if line.is_empty() {
                headers_done = true;
                break;
            }
            if let Some(v) = header(line, b"host") {
                meta.http_host = Some(host_only(v));
            } else if let Some(v) = header(line, b"user-agent") {
                meta.set_extra("user_agent", to_string(v, MAX_VALUE));
            } else if let Some(v) = header(line, b"upgrade") {
                if starts_with_ci(v, b"websocket") {
                    meta.set_extra("websocket", "true");
                }
            }
        }
        match response(r) {
            Ok(Some(code)) => {
                meta.set_extra("http_status", code.to_string());
                if headers_done {
                    Parse::Done
                } else {
                    Parse::Identified
                }
            }
            // The responder's bytes are not HTTP (or not yet there): the
            // request alone is proof enough.
            _ => Parse::Identified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    const REQ: &[u8] =
        b"GET /index.html HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
    const RESP: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn request_and_response() {
        let (r, m) = check_split_tcp(&Http, 8080, REQ, RESP);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("http"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.http_host.as_deref(), Some("www.example.com"));
        assert_eq!(m.extra("http_method"), Some("GET"));
        assert_eq!(m.extra("user_agent"), Some("curl/8.5.0"));
        assert_eq!(m.extra("http_status"), Some("404"));
    }

    #[test]
    fn connect_and_websocket() {
        let req = b"CONNECT api.example.org:443 HTTP/1.1\r\nProxy-Connection: keep-alive\r\n\r\n";
        let (r, m) = check_split_tcp(
            &Http,
            3128,
            req,
            b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03",
        );
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("http_method"), Some("CONNECT"));
        assert_eq!(m.extra("http_connect"), Some("api.example.org:443"));
        assert_eq!(m.http_host.as_deref(), Some("api.example.org"));
        let ws = b"GET /chat HTTP/1.1\r\nHost: [::1]:80\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        let (_, m) = check_split_tcp(&Http, 80, ws, b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
        assert_eq!(m.extra("websocket"), Some("true"));
        assert_eq!(m.extra("http_status"), Some("101"));
        assert_eq!(m.http_host.as_deref(), Some("::1"));
    }

    #[test]
    fn reply_only() {
        let (r, m) = check_split_tcp(&Http, 80, b"", RESP);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("http_status"), Some("404"));
        let (r, m) = check_split_tcp(&Http, 1044, RESP, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("http_status"), Some("404"));
    }

    #[test]
    fn not_http() {
        for o in [
            &b"SSH-2.0-x\r\n"[..],
            b"GETX / HTTP/1.1\r\n",
            b"GET / RTSP/1.0\r\n\r\n",
            b"\x16\x03\x01\x02\x00",
        ] {
            let ends = [[o.len() as u32], [0]];
            let p = Payloads::tcp(1, 80, o, b"", &ends);
            let claimed = crate::dissect::not_refused(&Http, &p);
            assert!(!claimed, "{o:?}");
        }
    }

    #[test]
    fn absurd_lengths() {
        let mut o = b"GET /".to_vec();
        o.extend(std::iter::repeat_n(b'a', 10_000));
        let (r, _) = check_split_tcp(&Http, 80, &o, b"");
        assert_eq!(r, Parse::NotMine);
        let (r, m) = check_split_tcp(&Http, 80, b"GET / HTTP/1.0\r\nHost:\r\n", b"HTTP/1.1 99");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.http_host.as_deref(), Some(""));
    }
}
