//! IMAP4 (RFC 9051): the server greets with `* OK` (or `* PREAUTH`), the
//! client sends tagged commands (`a1 CAPABILITY`). STARTTLS: the client's
//! `<tag> STARTTLS` answered by `<tag> OK` (or followed by a TLS record).

use super::text::{could_start_with_ci, lines_with_end, starts_with_ci, tls_follows, word};
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Imap;

const MAX_LINES: usize = 64;
const COMMANDS: &[&[u8]] = &[
    b"CAPABILITY",
    b"LOGIN",
    b"STARTTLS",
    b"AUTHENTICATE",
    b"ID",
    b"NOOP",
    b"LOGOUT",
    b"SELECT",
    b"EXAMINE",
    b"LIST",
    b"LSUB",
    b"ENABLE",
    b"NAMESPACE",
    b"STATUS",
];

/// `<tag> <COMMAND> ...` with a short alphanumeric tag.
fn command(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, rest) = word(line);
    let (cmd, _) = word(rest);
    let tag_ok = !tag.is_empty() && tag.len() <= 16 && tag.iter().all(|b| b.is_ascii_alphanumeric() || b == &b'.');
    (tag_ok && COMMANDS.iter().any(|c| cmd.eq_ignore_ascii_case(c))).then_some((tag, cmd))
}

fn greeting(line: &[u8]) -> bool {
    starts_with_ci(line, b"* OK") || starts_with_ci(line, b"* PREAUTH")
}

impl Dissector for Imap {
    fn name(&self) -> &'static str {
        "imap"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if !r.is_empty() {
            return if could_start_with_ci(r, b"* OK") || could_start_with_ci(r, b"* PREAUTH") {
                Probe::Maybe
            } else {
                Probe::NotMine
            };
        }
        if o.is_empty() || o.iter().take(17).any(|&b| b == b' ') || o.len() < 17 {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let mut server = lines_with_end(r, MAX_LINES);
        let greeted = match server.next() {
            Some((line, _)) if greeting(line) => Some(line),
            Some(_) => return Parse::NotMine,
            None if r.len() > 512 => return Parse::NotMine,
            None if !r.is_empty() && !could_start_with_ci(r, b"* OK") && !could_start_with_ci(r, b"* PREAUTH") => {
                return Parse::NotMine
            }
            None => None,
        };
        let mut client = lines_with_end(o, MAX_LINES);
        let first_cmd = match client.next() {
            Some((line, _)) => match command(line) {
                Some(c) => Some(c),
                None => return Parse::NotMine,
            },
            None if o.len() > 512 => return Parse::NotMine,
            None => None,
        };
        let imap_word = greeted.is_some_and(|g| g.windows(4).any(|w| w.eq_ignore_ascii_case(b"IMAP")));
        let known_port = p.resp_port == 143;
        let sure = match (greeted, first_cmd) {
            (Some(_), Some(_)) => true,
            (Some(_), None) => imap_word || known_port,
            // Only the client's side was captured.
            (None, Some(_)) => r.is_empty() && known_port,
            (None, None) => false,
        };
        if !sure {
            return Parse::NeedMore;
        }
        meta.protocol = Some("imap");
        meta.encryption = Encryption::Cleartext;
        let starttls = lines_with_end(o, MAX_LINES)
            .map_while(|(l, end)| command(l).map(|c| (c, end)))
            .find(|((_, cmd), _)| cmd.eq_ignore_ascii_case(b"STARTTLS"));
        if let Some(((tag, _), end)) = starttls {
            let ok = lines_with_end(r, MAX_LINES).any(|(l, _)| {
                let (t, rest) = word(l);
                t == tag && starts_with_ci(rest, b"OK")
            });
            if ok || tls_follows(o, end) {
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

    #[test]
    fn plain_and_starttls() {
        let s = b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\na1 OK Pre-login capabilities listed\r\n";
        let (r, m) = check_split_tcp(&Imap, 143, b"a1 CAPABILITY\r\n", s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("imap"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        let mut s2 = s.to_vec();
        s2.extend_from_slice(b"a2 OK Begin TLS negotiation now.\r\n");
        let (r, m) = check_split_tcp(&Imap, 143, b"a1 CAPABILITY\r\na2 STARTTLS\r\n", &s2);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("starttls"), Some("true"));
        let mut s3 = s.to_vec();
        s3.extend_from_slice(b"a2 BAD not now\r\n");
        let (r, m) = check_split_tcp(&Imap, 143, b"a1 CAPABILITY\r\na2 STARTTLS\r\n", &s3);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("starttls"), None);
    }

    #[test]
    fn not_imap() {
        let (r, _) = check_split_tcp(&Imap, 143, b"GET / HTTP/1.1\r\n\r\n", b"* OK hi\r\n");
        assert_eq!(r, Parse::NotMine);
        let (r, _) = check_split_tcp(&Imap, 110, b"USER bob\r\n", b"+OK POP3 ready\r\n");
        assert_eq!(r, Parse::NotMine);
        let (r, _) = check_split_tcp(&Imap, 9, b"", &[b'*'; 2000]);
        assert_eq!(r, Parse::NotMine);
    }
}
