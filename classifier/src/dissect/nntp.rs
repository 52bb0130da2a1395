//! NNTP, the Usenet news protocol (RFC 3977), over TCP.
//!
//! The server speaks first: its greeting is a reply line with code 200
//! (posting allowed) or 201 (posting prohibited); SMTP and FTP greet with
//! 220 and POP3 with `+OK`, so the greeting alone already sets NNTP
//! apart from its text neighbours. It is taken as NNTP when, besides that
//! greeting, either
//! - the client's first command is one only NNTP has (`MODE READER`,
//!   `MODE STREAM`, `GROUP`, `ARTICLE`, `AUTHINFO`, `LISTGROUP`, `XOVER`,
//!   `NEWNEWS`, `IHAVE`, ...), or
//! - the greeting names itself (`NNTP`, `news`, `Usenet`), or
//! - the client's first command is one NNTP shares with others
//!   (`CAPABILITIES`, `HELP`, `LIST`, `QUIT`, ...) and the port is a news
//!   port (119, 433, 563): the port only narrows that last check.
//!
//! NNTP itself is cleartext. STARTTLS (RFC 4642): when the client's
//! first command is STARTTLS and the server answers 382, or the client's
//! next bytes are a TLS record, the rest is TLS: encrypted. NNTP over
//! TLS from the first byte (563) is the TLS dissector's.

use super::text::{lines_with_end, reply_line, starts_with_ci, tls_follows, to_string, word};
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Nntp;

const MAX_LINES: usize = 32;
/// Longest greeting or command line waited for.
const MAX_LINE: usize = 512;
const VALUE_MAX: usize = 128;
const PORTS: [u16; 3] = [119, 433, 563];

/// Commands only NNTP has (`MODE` is checked with its argument).
const SPECIFIC: &[&[u8]] = &[
    b"GROUP",
    b"ARTICLE",
    b"AUTHINFO",
    b"LISTGROUP",
    b"XOVER",
    b"OVER",
    b"XHDR",
    b"HDR",
    b"XPAT",
    b"XGTITLE",
    b"NEWNEWS",
    b"NEWGROUPS",
    b"IHAVE",
    b"TAKETHIS",
];
/// NNTP commands other protocols also have.
const SHARED: &[&[u8]] = &[
    b"CAPABILITIES",
    b"HELP",
    b"QUIT",
    b"LIST",
    b"DATE",
    b"HEAD",
    b"BODY",
    b"STAT",
    b"NEXT",
    b"LAST",
    b"POST",
    b"STARTTLS",
    b"SLAVE",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Command {
    Specific,
    Shared,
    Other,
}

fn command(line: &[u8]) -> Command {
    let (w, arg) = word(line);
    if w.eq_ignore_ascii_case(b"MODE") {
        let (a, _) = word(arg);
        return if a.eq_ignore_ascii_case(b"READER") || a.eq_ignore_ascii_case(b"STREAM") {
            Command::Specific
        } else {
            Command::Other
        };
    }
    if SPECIFIC.iter().any(|c| w.eq_ignore_ascii_case(c)) {
        Command::Specific
    } else if SHARED.iter().any(|c| w.eq_ignore_ascii_case(c)) {
        Command::Shared
    } else {
        Command::Other
    }
}

/// Could `r` (the server's first bytes) still be a 200 or 201 greeting?
fn greeting_prefix(r: &[u8]) -> bool {
    let code_ok = r.iter().take(3).zip(b"20").all(|(a, b)| a == b) && r.get(2).is_none_or(|&c| c == b'0' || c == b'1');
    code_ok && r.get(3).is_none_or(|&c| matches!(c, b' ' | b'\r' | b'\n'))
}

fn names_news(greeting: &[u8]) -> bool {
    [&b"NNTP"[..], b"news", b"usenet"]
        .iter()
        .any(|w| greeting.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w)))
}

impl Dissector for Nntp {
    fn name(&self) -> &'static str {
        "nntp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if !r.is_empty() {
            return if greeting_prefix(r) {
                Probe::Maybe
            } else {
                Probe::NotMine
            };
        }
        // The server speaks first; a client line before the greeting
        // (reordering, a lost segment) must still open with a letter.
        match o.first() {
            None => Probe::Maybe,
            Some(b) if b.is_ascii_alphabetic() => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if !greeting_prefix(r) {
            return Parse::NotMine;
        }
        let greeting = match lines_with_end(r, 1).next() {
            Some((line, _)) => match reply_line(line) {
                Some((code @ (200 | 201), true)) => Some((code, line.get(4..).unwrap_or_default())),
                _ => return Parse::NotMine,
            },
            None if r.len() > MAX_LINE => return Parse::NotMine,
            None => None,
        };
        // The client's first command; a partial line counts once its
        // first word is whole.
        let first = match lines_with_end(o, 1).next() {
            Some((line, _)) => Some(command(line)),
            None if o.len() > MAX_LINE => return Parse::NotMine,
            None if o.contains(&b' ') => Some(command(o)),
            None => None,
        };
        if first == Some(Command::Other) {
            return Parse::NotMine;
        }
        let Some((code, text)) = greeting else {
            return p.undecided();
        };
        let sure = match first {
            Some(Command::Specific) => true,
            Some(Command::Shared) => names_news(text) || PORTS.iter().any(|&n| p.port(n)),
            _ => names_news(text),
        };
        if !sure {
            return p.undecided();
        }
        meta.protocol = Some("nntp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("nntp_posting", if code == 200 { "allowed" } else { "prohibited" });
        if !text.is_empty() {
            meta.set_extra("nntp_greeting", to_string(text, VALUE_MAX));
        }
        for (i, (line, end)) in lines_with_end(o, MAX_LINES).enumerate() {
            let (w, arg) = word(line);
            if w.eq_ignore_ascii_case(b"GROUP") && !arg.is_empty() {
                meta.set_extra("nntp_group", to_string(arg, VALUE_MAX));
            }
            if line.eq_ignore_ascii_case(b"STARTTLS") {
                // The server's answer to a first command is its second line.
                let answered = i == 0
                    && lines_with_end(r, 2)
                        .nth(1)
                        .is_some_and(|(l, _)| starts_with_ci(l, b"382"));
                if answered || tls_follows(o, end) {
                    meta.encryption = Encryption::Encrypted;
                    meta.set_extra("starttls", "true");
                    return Parse::Done;
                }
                break;
            }
        }
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// nntp.pcap, 192.168.190.20:55630 → 192.168.190.5:119: Leafnode's
    /// greeting, the client's first commands and the first answers.
    const GREETING: &[u8] = b"200 Leafnode NNTP Daemon, version 1.11.7.rc1 running at datacenter.viste-family.net (my fqdn: datacenter.viste-family.net)\r\n";
    const CLIENT: &[u8] = b"MODE READER\r\nGROUP news.software.nntp\r\nARTICLE 185\r\n";
    const ANSWERS: &[u8] =
        b"200 Leafnode 1.11.7.rc1, pleased to meet you!\r\n211 217 3 219 news.software.nntp group selected\r\n";

    fn server(rest: &[u8]) -> Vec<u8> {
        [GREETING, rest].concat()
    }

    #[test]
    fn leafnode_session() {
        let (r, m) = check_split_tcp(&Nntp, 119, CLIENT, &server(ANSWERS));
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("nntp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("nntp_posting"), Some("allowed"));
        assert_eq!(m.extra("nntp_group"), Some("news.software.nntp"));
        assert!(m.extra("nntp_greeting").is_some_and(|g| g.starts_with("Leafnode NNTP")));
        // The greeting alone names NNTP.
        let (r, _) = check_split_tcp(&Nntp, 119, b"", GREETING);
        assert_eq!(r, Parse::Identified);
    }

    /// ossfuzz_seed_fake_traces_2.pcapng: the same greeting answered by
    /// a partial `AUTHINFO USER` (no line end), and by `HELP`.
    #[test]
    fn fuzz_seed_flows() {
        let (r, _) = check_split_tcp(&Nntp, 119, b"AUTHINFO USER XXXXXXX", GREETING);
        assert_eq!(r, Parse::Identified);
        let (r, _) = check_split_tcp(&Nntp, 119, b"HELP\r\n", GREETING);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn which_evidence_suffices() {
        let plain = b"201 server ready\r\n";
        // A news-only command on any port.
        let (r, m) = check_split_tcp(&Nntp, 8119, b"GROUP alt.test\r\n", plain);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("nntp_posting"), Some("prohibited"));
        // A shared command: only on a news port.
        let (r, _) = check_split_tcp(&Nntp, 119, b"LIST\r\n", plain);
        assert_eq!(r, Parse::Identified);
        let (r, _) = check_split_tcp(&Nntp, 8119, b"LIST\r\n", plain);
        assert_eq!(r, Parse::NeedMore);
        let (r, _) = check_split_tcp(&Nntp, 119, b"", plain);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn starttls() {
        let s = server(b"382 Continue with TLS negotiation\r\n");
        let (r, m) = check_split_tcp(&Nntp, 119, b"STARTTLS\r\n", &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("starttls"), Some("true"));
        let s = server(b"580 Can not initiate TLS negotiation\r\n");
        let (r, m) = check_split_tcp(&Nntp, 119, b"STARTTLS\r\n", &s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn not_nntp() {
        let cases: [(&[u8], &[u8]); 7] = [
            // SMTP, FTP, POP3 greetings.
            (b"EHLO a\r\n", b"220 mx ESMTP news relay\r\n"),
            (b"USER a\r\n", b"220 NNTP-less FTP\r\n"),
            (b"USER a\r\n", b"+OK news POP3\r\n"),
            // A 200 greeting with a non-NNTP command.
            (b"EHLO a\r\n", GREETING),
            (b"MODE X\r\n", GREETING),
            // A 200 continued as a multi-line reply.
            (b"", b"200-NNTP\r\n"),
            // HTTP response seen first.
            (b"", b"HTTP/1.1 200 OK\r\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 119, o, r, &ends);
            assert!(!not_refused(&Nntp, &p), "{}", String::from_utf8_lossy(r));
        }
        // Without a client command the greeting must name news, also at
        // the end of the flow.
        let plain = b"200 ready\r\n";
        let ends = [[0], [plain.len() as u32]];
        let mut p = Payloads::tcp(40000, 119, &[], plain, &ends);
        p.last = true;
        assert!(!not_refused(&Nntp, &p));
    }
}
