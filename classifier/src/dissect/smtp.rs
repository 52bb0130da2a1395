//! SMTP (RFC 5321): the server greets with `220`, the client opens with
//! `EHLO`/`HELO`. STARTTLS (RFC 3207): when the client asks and the
//! server answers `220` (or the client's next bytes are a TLS record),
//! the rest of the session is TLS.

use super::text::{
    self, could_start_with_ci, lines_with_end, reply_line, starts_with_ci, tls_follows, to_string, word,
};
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Smtp;

const MAX_LINES: usize = 64;
const PORTS: [u16; 4] = [25, 465, 587, 2525];
const COMMANDS: &[&[u8]] = &[
    b"EHLO",
    b"HELO",
    b"MAIL",
    b"RCPT",
    b"DATA",
    b"STARTTLS",
    b"AUTH",
    b"QUIT",
    b"RSET",
    b"NOOP",
];

fn is_command(line: &[u8]) -> bool {
    text::is_command(line, COMMANDS)
}

impl Dissector for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if !r.is_empty() {
            return if could_start_with_ci(r, b"220") {
                Probe::Maybe
            } else {
                Probe::NotMine
            };
        }
        if o.is_empty() || could_start_with_ci(o, b"EHLO ") || could_start_with_ci(o, b"HELO ") {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        // The greeting: 220, possibly multi-line.
        let mut greeting_smtp = false;
        let mut greeted = false;
        let mut finals = 0usize;
        let mut accepted = false;
        for (line, _) in lines_with_end(r, MAX_LINES) {
            let Some((code, last)) = reply_line(line) else {
                if finals == 0 {
                    return Parse::NotMine;
                }
                break;
            };
            if finals == 0 {
                if code != 220 {
                    return Parse::NotMine;
                }
                greeting_smtp |= line.windows(4).any(|w| w.eq_ignore_ascii_case(b"SMTP"));
                greeted |= last;
            } else if code == 220 && last {
                // The only 220 after the greeting answers STARTTLS.
                accepted = true;
            }
            finals += usize::from(last);
        }
        if !r.is_empty() && finals == 0 && !(r.len() < 512 && could_start_with_ci(r, b"220")) {
            return Parse::NotMine;
        }
        // The client's commands.
        let mut client = lines_with_end(o, MAX_LINES);
        let first = client.next();
        let helo = match first {
            Some((line, _)) if starts_with_ci(line, b"EHLO") || starts_with_ci(line, b"HELO") => Some(line),
            Some(_) => return Parse::NotMine,
            None if o.len() > 512 => return Parse::NotMine,
            None => None,
        };
        let known_port = PORTS.contains(&p.resp_port);
        if helo.is_none() && !(greeted && (greeting_smtp || known_port)) {
            return Parse::NeedMore;
        }
        if helo.is_none() && !greeted && r.is_empty() {
            return Parse::NeedMore;
        }
        meta.protocol = Some("smtp");
        meta.encryption = Encryption::Cleartext;
        if let Some(h) = helo {
            meta.set_extra("smtp_helo", to_string(word(h).1, 255));
        }
        let mut starttls_end = None;
        for (line, end) in lines_with_end(o, MAX_LINES) {
            if line.eq_ignore_ascii_case(b"STARTTLS") {
                starttls_end = Some(end);
                break;
            }
            if !is_command(line) {
                break;
            }
        }
        if let Some(end) = starttls_end {
            if accepted || tls_follows(o, end) {
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

    const S: &[u8] =
        b"220 mx.example.com ESMTP Postfix\r\n250-mx.example.com\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";

    #[test]
    fn plain_session() {
        let c = b"EHLO client.example.org\r\nMAIL FROM:<a@b>\r\n";
        let (r, m) = check_split_tcp(&Smtp, 25, c, S);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("smtp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("smtp_helo"), Some("client.example.org"));
        assert_eq!(m.extra("starttls"), None);
    }

    #[test]
    fn starttls_accepted_and_refused() {
        let c = b"EHLO c\r\nSTARTTLS\r\n\x16\x03\x01\x02\x00\x01";
        let mut s = S.to_vec();
        s.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
        let (r, m) = check_split_tcp(&Smtp, 587, c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("starttls"), Some("true"));
        let c = b"EHLO c\r\nSTARTTLS\r\n";
        let mut s = S.to_vec();
        s.extend_from_slice(b"454 4.7.0 TLS not available\r\n");
        let (r, m) = check_split_tcp(&Smtp, 587, c, &s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn ftp_is_not_smtp() {
        let (r, _) = check_split_tcp(
            &Smtp,
            21,
            b"USER anonymous\r\n",
            b"220 FTP server ready\r\n331 Password\r\n",
        );
        assert_eq!(r, Parse::NotMine);
        let (r, _) = check_split_tcp(&Smtp, 21, b"", b"220 (vsFTPd 3.0.3)\r\n");
        assert_eq!(r, Parse::NeedMore);
        let ends = [[3], [3]];
        let p = Payloads::tcp(1, 25, b"GET", b"SSH", &ends);
        assert_eq!(Smtp.probe(&p), Probe::NotMine);
    }

    #[test]
    fn absurd() {
        let long = vec![b'2'; 5000];
        let (r, _) = check_split_tcp(&Smtp, 25, b"", &long);
        assert_eq!(r, Parse::NotMine);
    }
}
