//! XMPP client and server streams (RFC 6120; TCP 5222, 5269): each side
//! opens an XML stream, `<stream:stream ...>`, optionally after an XML
//! declaration `<?xml ...?>`; a side that closes sends `</stream:stream>`.
//! The flow is cleartext unless STARTTLS is negotiated: the client's
//! `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` answered by the
//! server's `<proceed .../>` (or followed by a TLS record), after which
//! the stream is TLS: encrypted, as for SMTP and IMAP.
//!
//! A stream caught after its header opens with a stanza instead (RFC
//! 6120 section 8: `<iq `, `<message ` or `<presence `); it is taken when
//! that stanza, before its close tag, names a namespace only XMPP uses
//! (`jabber:`, `http://jabber.org/protocol/`, `urn:xmpp:`).

use super::text::tls_follows;
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Xmpp;

/// How far into each side the stream header is looked for.
const WINDOW: usize = 2048;
const DECL: &[u8] = b"<?xml";
/// Longest XML declaration taken as plausible.
const MAX_DECL: usize = 256;
const OPEN: &[u8] = b"<stream:stream";
const CLOSE: &[u8] = b"</stream:stream>";
const STARTTLS: &[u8] = b"<starttls";
const TLS_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-tls";
const PROCEED: &[u8] = b"<proceed";
/// Stanza open and close tags.
const STANZAS: [(&[u8], &[u8]); 3] = [
    (b"<iq ", b"</iq>"),
    (b"<message ", b"</message>"),
    (b"<presence ", b"</presence>"),
];
/// Namespaces only XMPP uses.
const XMPP_NS: [&[u8]; 3] = [b"jabber:", b"http://jabber.org/protocol/", b"urn:xmpp:"];

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The side's bytes after leading whitespace.
fn trimmed(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|b| b.is_ascii_whitespace()).count();
    d.get(n..).unwrap_or_default()
}

/// What one side's start says: `Some(true)` an XMPP stream (header or
/// close tag), `Some(false)` not XMPP, `None` not yet known.
fn side(d: &[u8]) -> Option<bool> {
    let t = trimmed(d);
    if t.is_empty() {
        return None;
    }
    let window = &t[..t.len().min(WINDOW)];
    for token in [OPEN, CLOSE] {
        if window.starts_with(token) {
            return Some(true);
        }
        if token.starts_with(window) {
            return None;
        }
    }
    if window.starts_with(DECL) {
        // The stream header follows the declaration at once.
        return match find(window, b"?>") {
            Some(end) => {
                let rest = trimmed(&window[end + 2..]);
                if rest.starts_with(OPEN) {
                    Some(true)
                } else if OPEN.starts_with(rest) {
                    None
                } else {
                    Some(false)
                }
            }
            None if t.len() >= MAX_DECL => Some(false),
            None => None,
        };
    }
    if DECL.starts_with(window) {
        return None;
    }
    stanza(window)
}

/// A stream caught after its header: a stanza naming an XMPP namespace
/// before its close tag (within the window).
fn stanza(window: &[u8]) -> Option<bool> {
    for (open, close) in STANZAS {
        if window.starts_with(open) {
            let closed = find(window, close).map(|e| e + close.len());
            let body = &window[..closed.unwrap_or(window.len())];
            if XMPP_NS.iter().any(|ns| find(body, ns).is_some()) {
                return Some(true);
            }
            return if closed.is_some() || window.len() >= WINDOW {
                Some(false)
            } else {
                None
            };
        }
        if open.starts_with(window) {
            return None;
        }
    }
    Some(false)
}

/// The `to` attribute of the client's stream header.
fn stream_to(d: &[u8]) -> Option<&str> {
    let window = &d[..d.len().min(WINDOW)];
    let open = find(window, OPEN)?;
    let header = &window[open..];
    let header = &header[..header.iter().position(|&b| b == b'>')?];
    let at = find(header, b" to=")? + 4;
    let quote = *header.get(at)?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let value = header.get(at + 1..)?;
    let value = &value[..value.iter().position(|&b| b == quote)?];
    let s = std::str::from_utf8(value).ok()?;
    (!s.is_empty() && s.len() <= 255 && s.bytes().all(|c| c.is_ascii_graphic())).then_some(s)
}

impl Dissector for Xmpp {
    fn name(&self) -> &'static str {
        "xmpp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match side(p.first_side().stream()) {
            Some(false) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// `side` admits only `<` after leading ASCII whitespace.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"< \t\n\x0c\r"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let (so, sr) = (side(o), side(r));
        if so == Some(false) || sr == Some(false) {
            return Parse::NotMine;
        }
        if so.is_none() && sr.is_none() {
            return p.undecided();
        }
        meta.protocol = Some("xmpp");
        meta.encryption = Encryption::Cleartext;
        if let Some(to) = stream_to(o) {
            meta.set_extra("xmpp_to", to.to_ascii_lowercase());
        }
        if let Some(at) = find(o, STARTTLS) {
            let end = o[at..].iter().position(|&b| b == b'>').map(|e| at + e + 1);
            let tls_ns = end.is_some_and(|e| find(&o[at..e], TLS_NS).is_some());
            if tls_ns && (find(r, PROCEED).is_some() || end.is_some_and(|e| tls_follows(o, e))) {
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("starttls", "true");
                return Parse::Done;
            }
        }
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    const CLIENT: &[u8] = b"<?xml version='1.0' ?><stream:stream to='cs-xmpp.lan' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    const SERVER: &[u8] = b"<?xml version='1.0'?><stream:stream id='1647' version='1.0' from='cs-xmpp.lan' xmlns='jabber:client'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";

    #[test]
    fn plain_stream() {
        let (r, m) = check_split_tcp(&Xmpp, 5222, CLIENT, SERVER);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("xmpp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("xmpp_to"), Some("cs-xmpp.lan"));
        // A flow caught at its end.
        let (r, m) = check_split_tcp(&Xmpp, 5222, b"</stream:stream>", b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn starttls_turns_encrypted() {
        let mut c = CLIENT.to_vec();
        c.extend_from_slice(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        let mut s = SERVER.to_vec();
        s.extend_from_slice(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        let (r, m) = check_split_tcp(&Xmpp, 5222, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("starttls"), Some("true"));
        // Without the server's proceed (or a TLS record) it stays cleartext.
        let (r, m) = check_split_tcp(&Xmpp, 5222, &c, SERVER);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
        c.extend_from_slice(&[0x16, 0x03, 0x01, 0x02, 0x00]);
        let (r, _) = check_split_tcp(&Xmpp, 5222, &c, SERVER);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn stream_caught_after_its_header() {
        // jabber.pcap, 172.16.0.62:57129 -> 172.16.1.138:5222 (first
        // segment of each side, the server's cut after the namespace).
        let c = b"<iq type='set' id='purpledde80fda' to='cs-xmpp.lan'><command xmlns='http://jabber.org/protocol/commands' node='ping' action='execute'/></iq>";
        let s = b"<iq xml:lang='en' to='tom@cs-xmpp.lan/darkstar' from='cs-xmpp.lan' type='result' id='purpledde80fda'><command status='completed' sessionid='2017-08-10T15:51:01.252912Z' node='ping' xmlns='http://jabber.org/protocol/commands'>";
        let (r, m) = check_split_tcp(&Xmpp, 5222, c, s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("xmpp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        let p =
            b"<presence to='room@conference.cs-xmpp.lan/tom'><x xmlns='http://jabber.org/protocol/muc'/></presence>";
        let (r, _) = check_split_tcp(&Xmpp, 40001, p, b"");
        assert_eq!(r, Parse::Identified);
        // Without an XMPP namespace in the stanza: not taken; unclosed
        // and short: wait.
        for d in [
            &b"<iq type='get' id='1'><query xmlns='http://example.org/q'/></iq>"[..],
            b"<message to='a'><body>hi</body></message><x xmlns='jabber:x:oob'/>",
            b"<iqx xmlns='jabber:client'>",
        ] {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 5222, d, &[], &ends);
            assert!(!crate::dissect::not_refused(&Xmpp, &p), "{:?}", &d[..10]);
        }
        let d = b"<message to='a'><body>hi";
        let ends = [[d.len() as u32], [0]];
        let p = Payloads::tcp(40000, 5222, d, &[], &ends);
        assert_eq!(Xmpp.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_xmpp() {
        let soap = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<ZMessage target=\"ZBBP.1\">";
        let mut endless = b"<?xml version='1.0'".to_vec();
        endless.resize(MAX_DECL + 1, b' ');
        for d in [
            &b"GET / HTTP/1.1\r\n"[..],
            soap,
            &endless,
            b"<html>",
            b"\x16\x03\x01\x02\x00",
        ] {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 5222, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Xmpp, &p);
            assert!(!claimed, "{:?}", &d[..d.len().min(20)]);
        }
        // An XML declaration alone waits.
        let ends = [[5], [0]];
        let p = Payloads::tcp(40000, 5222, b"<?xml", &[], &ends);
        assert_eq!(Xmpp.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }
}
