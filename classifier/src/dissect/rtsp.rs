//! RTSP (RFC 2326 version 1.0, RFC 7826 version 2.0) over TCP, on any
//! port (554 and 8554 are hints only). The client's first request line is
//! `METHOD SP URI SP RTSP/1.0` (or `RTSP/2.0`) with one of the methods
//! the RFCs define, and every request carries a `CSeq` header; the
//! server's status line is `RTSP/1.0 NNN reason`. A server that speaks
//! first (an ANNOUNCE or a status line sent on a reused connection) is
//! accepted the same way. Request URI and user agent go into the meta.
//! Cleartext (RTSP over TLS is the TLS dissector's).

use super::text::{lines, starts_with_ci, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rtsp;

const METHODS: [&[u8]; 12] = [
    b"DESCRIBE",
    b"ANNOUNCE",
    b"GET_PARAMETER",
    b"OPTIONS",
    b"PAUSE",
    b"PLAY",
    b"PLAY_NOTIFY",
    b"RECORD",
    b"REDIRECT",
    b"SETUP",
    b"SET_PARAMETER",
    b"TEARDOWN",
];
const MAX_LINES: usize = 32;
const MAX_LINE: usize = 2048;
const VALUE_MAX: usize = 255;

fn version(v: &[u8]) -> bool {
    v == b"RTSP/1.0" || v == b"RTSP/2.0"
}

/// A request line: its method and URI.
fn request_line(l: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = l.split(|&c| c == b' ');
    let (m, uri, v) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || uri.is_empty() || !version(v) || !METHODS.contains(&m) {
        return None;
    }
    (uri == b"*" || uri.contains(&b'/')).then_some((m, uri))
}

/// A status line `RTSP/1.0 NNN reason`.
fn status_line(l: &[u8]) -> bool {
    let (Some(v), Some(rest)) = (l.get(..8), l.get(8..)) else {
        return false;
    };
    version(v)
        && rest.len() >= 4
        && rest[0] == b' '
        && rest[1..4].iter().all(u8::is_ascii_digit)
        && (b'1'..=b'5').contains(&rest[1])
        && rest.get(4).is_none_or(|&c| c == b' ')
}

/// The value of header `name` (with its colon) among the header lines.
fn field<'a>(d: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    lines(d, MAX_LINES)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find(|l| starts_with_ci(l, name))
        .map(|l| l[name.len()..].trim_ascii())
}

/// Whether the header block has ended (an empty line) in `d`.
fn headers_ended(d: &[u8]) -> bool {
    lines(d, MAX_LINES).skip(1).any(|l| l.is_empty())
}

/// Whether `d` could still grow into a request or status line.
fn could_start(d: &[u8]) -> bool {
    let n = d.len();
    // `d` is a prefix of "METHOD " or starts with it; no copy per method,
    // as this runs in every TCP flow's probe.
    METHODS.iter().any(|m| {
        let k = n.min(m.len());
        d[..k] == m[..k] && (n <= m.len() || d[m.len()] == b' ')
    }) || b"RTSP/"[..n.min(5)] == d[..n.min(5)]
}

/// What `could_start` admits first: a method's first letter (exact
/// case), or the `R` of a status line's `RTSP/`.
const FIRST: ByteSet = ByteSet::initials(&METHODS).with(b'R');

impl Dissector for Rtsp {
    fn name(&self) -> &'static str {
        "rtsp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.is_empty() || could_start(&d[..d.len().min(14)]) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// A method's first letter or the `R` of `RTSP/` (`could_start`,
    /// `FIRST`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(FIRST)
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_side().stream();
        let Some(first) = lines(d, 1).next() else {
            if d.len() > MAX_LINE || !could_start(&d[..d.len().min(14)]) {
                return Parse::NotMine;
            }
            return p.undecided();
        };
        let request = request_line(first);
        if request.is_none() && !status_line(first) {
            return Parse::NotMine;
        }
        let Some(cseq) = field(d, b"cseq:") else {
            return if headers_ended(d) || lines(d, MAX_LINES).count() >= MAX_LINES {
                Parse::NotMine
            } else {
                p.undecided()
            };
        };
        if cseq.is_empty() || !cseq.iter().all(u8::is_ascii_digit) {
            return Parse::NotMine;
        }
        meta.protocol = Some("rtsp");
        meta.encryption = Encryption::Cleartext;
        if let Some((m, uri)) = request {
            meta.set_extra("rtsp_method", to_string(m, VALUE_MAX));
            meta.set_extra("rtsp_uri", to_string(uri, VALUE_MAX));
        }
        if let Some(ua) = field(d, b"user-agent:").filter(|v| !v.is_empty()) {
            meta.set_extra("rtsp_user_agent", to_string(ua, VALUE_MAX));
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    /// rtsp.pcap: VLC asks a VLC server for its options.
    const OPTIONS: &[u8] = b"OPTIONS rtsp://10.2.2.2:8554/ RTSP/1.0\r\nCSeq: 2\r\n\
User-Agent: LibVLC/3.0.16 (LIVE555 Streaming Media v2016.11.28)\r\n\r\n";
    const OK: &[u8] = b"RTSP/1.0 200 OK\r\nServer: VLC/3.0.12\r\nContent-Length: 0\r\nCseq: 2\r\n\
Public: DESCRIBE,SETUP,TEARDOWN,PLAY,PAUSE,GET_PARAMETER\r\n\r\n";

    #[test]
    fn request_and_answer() {
        let (r, m) = check_split_tcp(&Rtsp, 8554, OPTIONS, OK);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rtsp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rtsp_method"), Some("OPTIONS"));
        assert_eq!(m.extra("rtsp_uri"), Some("rtsp://10.2.2.2:8554/"));
        assert_eq!(
            m.extra("rtsp_user_agent"),
            Some("LibVLC/3.0.16 (LIVE555 Streaming Media v2016.11.28)")
        );
        // rtsp_setup_http.pcapng: a SETUP.
        let setup = b"SETUP rtsp://172.28.4.26:8554/trackID=88 RTSP/1.0\r\nCSeq: 4\r\n\
Transport: RTP/AVP;unicast;client_port=50220-50221\r\n\r\n";
        let (r, m) = check_split_tcp(&Rtsp, 8554, setup, b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("rtsp_method"), Some("SETUP"));
        // The answer alone (the server's side seen first).
        let ends = [[0], [OK.len() as u32]];
        let p = Payloads::tcp(40000, 8554, &[], OK, &ends);
        assert_eq!(Rtsp.parse(&p, &mut Meta::default()), Parse::Done);
    }

    #[test]
    fn what_could_start_a_message() {
        for m in METHODS {
            let line = [m, &b" rtsp://a/ RTSP/1.0"[..]].concat();
            for n in 0..=line.len() {
                assert!(could_start(&line[..n]), "{:?}", &line[..n]);
            }
            // The method with another byte where its space goes.
            assert!(!could_start(&[m, &b"X"[..]].concat()));
        }
        for yes in [&b"RTSP/1.0 200"[..], b"RTS", b""] {
            assert!(could_start(yes), "{yes:?}");
        }
        for no in [&b"GET "[..], b"OPTION ", b"PLAYS", b"RTSX", b"rtsp/"] {
            assert!(!could_start(no), "{no:?}");
        }
    }

    #[test]
    fn not_rtsp() {
        let cases: [&[u8]; 6] = [
            b"OPTIONS rtsp://10.2.2.2:8554/ RTSP/1.0\r\nUser-Agent: x\r\n\r\n",
            b"OPTIONS rtsp://10.2.2.2:8554/ HTTP/1.1\r\nCSeq: 2\r\n\r\n",
            b"FETCH rtsp://10.2.2.2:8554/ RTSP/1.0\r\nCSeq: 2\r\n\r\n",
            b"OPTIONS rtsp://10.2.2.2:8554/ RTSP/1.0\r\nCSeq: two\r\n\r\n",
            b"RTSP/1.0 2000 OK\r\nCSeq: 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ];
        for d in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 554, d, &[], &ends);
            assert!(!crate::dissect::not_refused(&Rtsp, &p), "{d:?}");
        }
    }
}
