//! POP3 (RFC 1939): the server greets with `+OK`, the client sends
//! commands (`USER`, `CAPA`, ...). STLS (RFC 2595): accepted when the
//! server's answer to it is `+OK` (or the client's next bytes are TLS).

use super::text::{could_start_with_ci, lines_with_end, starts_with_ci, tls_follows, word};
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Pop3;

const MAX_LINES: usize = 64;
const COMMANDS: &[&[u8]] = &[
    b"USER", b"PASS", b"CAPA", b"STLS", b"APOP", b"AUTH", b"QUIT", b"STAT", b"LIST", b"RETR", b"UIDL", b"TOP", b"NOOP",
    b"DELE", b"RSET",
];

fn command(line: &[u8]) -> bool {
    let (w, _) = word(line);
    COMMANDS.iter().any(|c| w.eq_ignore_ascii_case(c))
}

fn status(line: &[u8]) -> Option<bool> {
    if starts_with_ci(line, b"+OK") {
        Some(true)
    } else if starts_with_ci(line, b"-ERR") {
        Some(false)
    } else {
        None
    }
}

impl Dissector for Pop3 {
    fn name(&self) -> &'static str {
        "pop3"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if !r.is_empty() {
            return if could_start_with_ci(r, b"+OK") {
                Probe::Maybe
            } else {
                Probe::NotMine
            };
        }
        let (w, _) = word(o);
        if o.is_empty() || COMMANDS.iter().any(|c| could_start_with_ci(w, c) && w.len() <= c.len()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let greeted = match lines_with_end(r, 1).next() {
            Some((line, _)) if status(line) == Some(true) => Some(line),
            Some(_) => return Parse::NotMine,
            None if !could_start_with_ci(r, b"+OK") || r.len() > 512 => return Parse::NotMine,
            None => None,
        };
        let first_cmd = match lines_with_end(o, 1).next() {
            Some((line, _)) if command(line) => true,
            Some(_) => return Parse::NotMine,
            None if o.len() > 512 => return Parse::NotMine,
            None => false,
        };
        let pop_word = greeted.is_some_and(|g| g.windows(3).any(|w| w.eq_ignore_ascii_case(b"POP")));
        let known_port = p.resp_port == 110;
        let sure = match (greeted.is_some(), first_cmd) {
            (true, true) => true,
            (true, false) => pop_word || known_port,
            (false, true) => r.is_empty() && known_port,
            (false, false) => false,
        };
        if !sure {
            return Parse::NeedMore;
        }
        meta.protocol = Some("pop3");
        meta.encryption = Encryption::Cleartext;
        // STLS is the k-th command; its answer is the k-th status line
        // after the greeting (multi-line bodies hold no status lines).
        let mut k = None;
        let mut stls_end = 0;
        for (i, (line, end)) in lines_with_end(o, MAX_LINES).enumerate() {
            if line.eq_ignore_ascii_case(b"STLS") {
                k = Some(i);
                stls_end = end;
                break;
            }
            if !command(line) {
                break;
            }
        }
        if let Some(k) = k {
            let answer = lines_with_end(r, MAX_LINES).filter_map(|(l, _)| status(l)).nth(k + 1);
            if answer == Some(true) || tls_follows(o, stls_end) {
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

    const S: &[u8] = b"+OK Dovecot ready.\r\n+OK\r\nCAPA\r\nTOP\r\nSTLS\r\nUSER\r\n.\r\n";

    #[test]
    fn plain_and_stls() {
        let (r, m) = check_split_tcp(&Pop3, 110, b"CAPA\r\n", S);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("pop3"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        let mut s = S.to_vec();
        s.extend_from_slice(b"+OK Begin TLS negotiation now.\r\n");
        let (r, m) = check_split_tcp(&Pop3, 110, b"CAPA\r\nSTLS\r\n", &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("starttls"), Some("true"));
        let mut s = S.to_vec();
        s.extend_from_slice(b"-ERR no\r\n");
        let (r, m) = check_split_tcp(&Pop3, 110, b"CAPA\r\nSTLS\r\n", &s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("starttls"), None);
    }

    #[test]
    fn not_pop3() {
        let (r, _) = check_split_tcp(&Pop3, 110, b"a1 CAPABILITY\r\n", b"+OK hi\r\n");
        assert_eq!(r, Parse::NotMine);
        let (r, _) = check_split_tcp(&Pop3, 110, b"", b"* OK IMAP\r\n");
        assert_eq!(r, Parse::NotMine);
        let (r, _) = check_split_tcp(&Pop3, 110, b"", &[b'+'; 2000]);
        assert_eq!(r, Parse::NotMine);
    }
}
