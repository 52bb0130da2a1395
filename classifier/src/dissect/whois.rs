//! WHOIS (RFC 3912) over TCP.
//!
//! The protocol has almost no structure: the client connects to TCP 43,
//! sends one query line ending in CRLF, and the server answers with
//! text and closes. The shape alone (a short text line answered by
//! text) fits many protocols, so here the server port 43 narrows it:
//! taken as WHOIS is a flow to port 43 whose client sent exactly one
//! line of 1 to 256 bytes without control characters (bytes above 0x7f
//! are allowed for internationalised names), ended by CRLF or LF and
//! followed by nothing, and whose server answered with text (no control
//! characters but tab, CR and LF in its first bytes).
//!
//! WHOIS has no encryption: cleartext.

use super::text::to_string;
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Whois;

const PORT: u16 = 43;
const MAX_QUERY: usize = 256;
/// How much of the answer is checked for text.
const ANSWER_CHECK: usize = 1024;
const VALUE_MAX: usize = 128;

fn query_byte(b: u8) -> bool {
    b == b'\t' || b >= 0x20 && b != 0x7f
}

fn answer_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\r' | b'\n') || b >= 0x20 && b != 0x7f
}

impl Dissector for Whois {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "whois"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.resp_port != PORT {
            return Probe::NotMine;
        }
        match p.orig.stream().first() {
            Some(&b) if !query_byte(b) || b == b' ' => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.resp_port != PORT {
            return Parse::NotMine;
        }
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let Some(nl) = o.iter().position(|&b| b == b'\n') else {
            return if o.len() <= MAX_QUERY && o.iter().all(|&b| query_byte(b) || b == b'\r') {
                p.undecided()
            } else {
                Parse::NotMine
            };
        };
        let query = o[..nl].strip_suffix(b"\r").unwrap_or(&o[..nl]);
        if nl + 1 != o.len()
            || query.is_empty()
            || query.len() > MAX_QUERY
            || query[0] == b' '
            || !query.iter().all(|&b| query_byte(b))
        {
            return Parse::NotMine;
        }
        if r.is_empty() {
            return p.undecided();
        }
        if !r[..r.len().min(ANSWER_CHECK)].iter().all(|&b| answer_byte(b)) {
            return Parse::NotMine;
        }
        meta.protocol = Some("whois");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("whois_query", to_string(query, VALUE_MAX));
        if r.len() >= ANSWER_CHECK || p.last {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// whois.pcapng, 10.0.2.15:44188 → 192.0.47.59:43: the query and the
    /// start of IANA's answer.
    const QUERY: &[u8] = b"example.com\r\n";
    const ANSWER: &[u8] = b"% IANA WHOIS server\n% for more information on IANA, visit http://www.iana.org\n% This query returned 1 object\n\ndomain:       EXAMPLE.COM\n\norganisation: Internet Assigned Numbers Authority\n";

    #[test]
    fn query_and_answer() {
        let (r, m) = check_split_tcp(&Whois, 43, QUERY, ANSWER);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("whois"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("whois_query"), Some("example.com"));
        let (r, _) = check_split_tcp(&Whois, 43, QUERY, b"");
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn not_whois() {
        let mut binary = ANSWER.to_vec();
        binary[5] = 0;
        let cases: [(u16, &[u8], &[u8]); 7] = [
            // Not port 43.
            (4343, QUERY, ANSWER),
            // Two lines, or more after the line.
            (43, b"example.com\r\nexample.org\r\n", ANSWER),
            (43, b"example.com\r\n\x16\x03\x01", ANSWER),
            (43, b"\r\n", ANSWER),
            (43, b"exa\x01mple.com\r\n", ANSWER),
            // A binary answer.
            (43, QUERY, &binary),
            (43, &[b'a'; MAX_QUERY + 1], b""),
        ];
        for (port, o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, port, o, r, &ends);
            assert!(!not_refused(&Whois, &p), "{}", String::from_utf8_lossy(o));
        }
        // A query never answered.
        let ends = [[QUERY.len() as u32], [0]];
        let mut p = Payloads::tcp(40000, 43, QUERY, &[], &ends);
        p.last = true;
        assert!(!not_refused(&Whois, &p));
    }
}
