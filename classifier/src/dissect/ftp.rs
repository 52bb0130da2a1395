//! FTP control channel (RFC 959): the server greets with `220`, the
//! client sends four-letter commands (`USER`, `AUTH`, `FEAT`, ...) and
//! every line the server sends is a three-digit reply. Cleartext.
//!
//! FTP over TLS (RFC 4217): when the client sends `AUTH TLS` (or `SSL`,
//! `TLS-C`, `TLS-P`) and the server answers `234` (or the client's next
//! bytes are a TLS record), the rest of the session is TLS: the flow is
//! encrypted, and the upgraded handshake is handed to the TLS dissector
//! so its SNI, fingerprints and server details are reported as well.

use super::text::{self, could_start_with_ci, lines_with_end, reply_line, tls_follows, to_string, word};
use super::{tls, Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ftp;

const MAX_LINES: usize = 64;
/// A greeting this long without a line end is not FTP.
const MAX_GREETING: usize = 1024;
/// RFC 959, 2228 (security), 2389 (FEAT/OPTS), 2428 (EPRT/EPSV), 3659,
/// 7151 (HOST) and the common X-variants.
const COMMANDS: &[&[u8]] = &[
    b"USER", b"PASS", b"ACCT", b"CWD", b"CDUP", b"SMNT", b"REIN", b"QUIT", b"PORT", b"PASV", b"TYPE", b"STRU", b"MODE",
    b"RETR", b"STOR", b"STOU", b"APPE", b"ALLO", b"REST", b"RNFR", b"RNTO", b"ABOR", b"DELE", b"RMD", b"MKD", b"PWD",
    b"LIST", b"NLST", b"SITE", b"SYST", b"STAT", b"HELP", b"NOOP", b"AUTH", b"ADAT", b"PROT", b"PBSZ", b"CCC", b"MIC",
    b"CONF", b"ENC", b"FEAT", b"OPTS", b"LANG", b"EPRT", b"EPSV", b"MDTM", b"SIZE", b"MLST", b"MLSD", b"HOST", b"CLNT",
    b"XPWD", b"XCWD", b"XMKD", b"XRMD",
];
/// The `AUTH` mechanisms that start TLS (RFC 4217 and older drafts).
const TLS_MECHANISMS: &[&[u8]] = &[b"TLS", b"SSL", b"TLS-C", b"TLS-P"];

/// A reply line ([`reply_line`]) whose code starts 1-6 (RFC 959 4.2.1).
fn reply(line: &[u8]) -> Option<(u16, bool)> {
    reply_line(line).filter(|&(code, _)| (100..700).contains(&code))
}

fn is_command(line: &[u8]) -> bool {
    text::is_command(line, COMMANDS)
}

/// What the server's side says so far.
struct Server {
    /// The greeting (220) is complete.
    greeted: bool,
    /// The greeting names SMTP: not FTP.
    smtp: bool,
    /// The offset just past a final `234` reply (AUTH accepted), if any.
    accepted_at: Option<usize>,
}

/// Reads the server's replies; `None` when they are not FTP's.
fn server(r: &[u8]) -> Option<Server> {
    let mut s = Server {
        greeted: false,
        smtp: false,
        accepted_at: None,
    };
    // Inside a multi-line reply: its code (RFC 959 4.2: it ends with a
    // line starting with the same code and a space; lines between are free).
    let mut open: Option<u16> = None;
    let mut finals = 0usize;
    for (line, end) in lines_with_end(r, MAX_LINES) {
        let parsed = reply(line);
        match (open, parsed) {
            (Some(c), Some((code, true))) if code == c => open = None,
            (Some(_), _) => continue,
            (None, Some((code, last))) => {
                if finals == 0 && code != 220 {
                    return None;
                }
                if finals == 0 {
                    s.smtp |= line.windows(4).any(|w| w.eq_ignore_ascii_case(b"SMTP"));
                }
                if !last {
                    open = Some(code);
                    continue;
                }
            }
            (None, None) => return None,
        }
        // A final reply ended here.
        finals += 1;
        if finals == 1 {
            s.greeted = true;
        } else if reply(line).map(|x| x.0) == Some(234) {
            // 234 answers AUTH only; TLS follows right after it.
            s.accepted_at = Some(end);
            break;
        }
    }
    if finals == 0 && (r.len() > MAX_GREETING || !could_start_with_ci(r, b"220")) {
        return None;
    }
    Some(s)
}

/// Runs the TLS dissector on what follows the upgrade and copies what it
/// found. Returns its verdict.
fn upgraded_tls(p: &Payloads<'_>, o_at: usize, r_at: Option<usize>, meta: &mut Meta) -> Parse {
    let orig = p.orig.stream().get(o_at..).unwrap_or(&[]);
    let resp = r_at.and_then(|a| p.resp.stream().get(a..)).unwrap_or(&[]);
    let ends = [[orig.len() as u32], [resp.len() as u32]];
    let sub = Payloads {
        transport: Transport::Tcp,
        orig_port: p.orig_port,
        resp_port: p.resp_port,
        orig: Side {
            data: orig,
            ends: &ends[0],
        },
        resp: Side {
            data: resp,
            ends: &ends[1],
        },
        last: p.last,
    };
    if orig.is_empty() {
        return Parse::NeedMore;
    }
    let mut t = Meta::default();
    let verdict = tls::Tls.parse(&sub, &mut t);
    if matches!(verdict, Parse::Identified | Parse::Done) {
        meta.sni = t.sni;
        meta.alpn = t.alpn;
        meta.ja3 = t.ja3;
        meta.ja3s = t.ja3s;
        meta.ja4 = t.ja4;
        meta.ja4_r = t.ja4_r;
        for (k, v) in t.extra {
            meta.set_extra(k, v);
        }
    }
    verdict
}

impl Dissector for Ftp {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "ftp"
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
        // The server speaks first; a client line before the greeting
        // arrives (reordering, mid-flow capture) must still be a command.
        let head = o.get(..4).unwrap_or(o);
        if o.is_empty() || COMMANDS.iter().any(|c| could_start_with_ci(head, c)) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let Some(srv) = server(r) else {
            return Parse::NotMine;
        };
        if srv.smtp {
            return Parse::NotMine;
        }
        // The client's commands, up to the one that starts TLS.
        let mut commands = 0usize;
        let mut auth_end = None;
        let mut user = None;
        for (line, end) in lines_with_end(o, MAX_LINES) {
            if !is_command(line) {
                if commands == 0 {
                    return Parse::NotMine;
                }
                break;
            }
            commands += 1;
            let (w, arg) = word(line);
            if w.eq_ignore_ascii_case(b"USER") && user.is_none() {
                user = Some(arg);
            }
            if w.eq_ignore_ascii_case(b"AUTH") && TLS_MECHANISMS.iter().any(|m| arg.eq_ignore_ascii_case(m)) {
                auth_end = Some(end);
                break;
            }
        }
        if commands == 0 {
            // No complete command yet: a long first line is not one.
            let head = o.get(..4).unwrap_or(o);
            if o.len() > 512 || !(o.is_empty() || COMMANDS.iter().any(|c| could_start_with_ci(head, c))) {
                return Parse::NotMine;
            }
            return p.undecided();
        }
        if !srv.greeted {
            // A command but no greeting yet: the greeting decides.
            return p.undecided();
        }
        meta.protocol = Some("ftp");
        meta.encryption = Encryption::Cleartext;
        if let Some(u) = user {
            meta.set_extra("ftp_user", to_string(u, 255));
        }
        if let Some(end) = auth_end {
            if srv.accepted_at.is_some() || tls_follows(o, end) {
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("starttls", "true");
                return match upgraded_tls(p, end, srv.accepted_at, meta) {
                    Parse::Done => Parse::Done,
                    _ => Parse::Identified,
                };
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
    fn plain_session() {
        let s = b"220 (vsFTPd 3.0.3)\r\n331 Please specify the password.\r\n230 Login successful.\r\n";
        let c = b"USER anonymous\r\nPASS NcFTP@\r\nPWD\r\n";
        let (r, m) = check_split_tcp(&Ftp, 21, c, s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("ftp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ftp_user"), Some("anonymous"));
        assert_eq!(m.extra("starttls"), None);
    }

    #[test]
    fn multi_line_replies() {
        let s = b"220-Welcome\r\n  to the archive\r\n220 ready\r\n211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n";
        let (r, m) = check_split_tcp(&Ftp, 2121, b"FEAT\r\n", s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    /// A ClientHello record (TLS 1.2, one suite, SNI "ftp.example").
    fn client_hello() -> Vec<u8> {
        let sni = b"ftp.example";
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0x00, 0x00]);
        let list_len = sni.len() + 3;
        ext.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(list_len as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(sni);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0x00, 0x02, 0x00, 0x2f, 0x01, 0x00]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![0x01, 0, 0, 0];
        hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn auth_tls_accepted() {
        let s = b"220 \"Authorized users only\"\r\n234 Proceed with negotiation.\r\n";
        let mut c = b"AUTH TLS\r\n".to_vec();
        c.extend_from_slice(&client_hello());
        let (r, m) = check_split_tcp(&Ftp, 21, &c, s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("ftp"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("starttls"), Some("true"));
        assert_eq!(m.sni.as_deref(), Some("ftp.example"));
        assert!(m.ja4.as_deref().is_some_and(|j| j.starts_with("t12d")), "{:?}", m.ja4);
    }

    #[test]
    fn auth_refused_stays_cleartext() {
        let s = b"220 ready\r\n534 Policy requires SSL.\r\n331 Password\r\n";
        let (r, m) = check_split_tcp(&Ftp, 21, b"AUTH TLS\r\nUSER bob\r\n", s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("starttls"), None);
    }

    #[test]
    fn smtp_and_others_are_not_ftp() {
        let smtp = b"220 mx.example.com ESMTP Postfix\r\n";
        let (r, _) = check_split_tcp(&Ftp, 25, b"EHLO c\r\n", smtp);
        assert_eq!(r, Parse::NotMine);
        // SMTP's greeting, even with an FTP-like command.
        let (r, _) = check_split_tcp(&Ftp, 25, b"NOOP\r\n", smtp);
        assert_eq!(r, Parse::NotMine);
        let (r, _) = check_split_tcp(&Ftp, 80, b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n");
        assert_eq!(r, Parse::NotMine);
        // Greeting only: not enough to tell FTP from SMTP.
        let (r, _) = check_split_tcp(&Ftp, 21, b"", b"220 (vsFTPd 3.0.3)\r\n");
        assert_eq!(r, Parse::NeedMore);
        let ends = [[3], [3]];
        assert_eq!(Ftp.probe(&Payloads::tcp(1, 21, b"GET", b"SSH", &ends)), Probe::NotMine);
        assert_eq!(Ftp.probe(&Payloads::tcp(1, 21, b"USE", b"", &[[3], [0]])), Probe::Maybe);
    }

    #[test]
    fn absurd() {
        let long = vec![b'2'; 5000];
        let (r, _) = check_split_tcp(&Ftp, 21, b"", &long);
        assert_eq!(r, Parse::NotMine);
        let (r, _) = check_split_tcp(&Ftp, 21, b"USER x\r\n", b"220 a\r\nnot a reply\r\n");
        assert_eq!(r, Parse::NotMine);
    }
}
