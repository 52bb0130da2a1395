//! Memcached's text protocol over TCP (protocol.txt of the memcached
//! sources), named from a command and its reply; port 11211 is a hint
//! only.
//!
//! The client's first line must be a storage, retrieval or other command
//! of the protocol (`get`, `gets`, `gat`, `gats`, `set`, `add`,
//! `replace`, `append`, `prepend`, `cas`, `delete`, `incr`, `decr`,
//! `touch`, `stats`, `version`, `flush_all`, `verbosity`), in lowercase
//! as the protocol spells them, then a space or the CRLF, the line ending
//! in CRLF within 2048 bytes. Such words alone are ordinary text, so the
//! server's reply must follow and open with one of the protocol's reply
//! lines (`VALUE `, `END`, `STORED`, `NOT_STORED`, `EXISTS`, `NOT_FOUND`,
//! `DELETED`, `TOUCHED`, `OK`, `STAT `, `VERSION `, `ERROR`,
//! `CLIENT_ERROR `, `SERVER_ERROR `) or, after `incr`/`decr`, a number.
//!
//! No encryption in the protocol (TLS is a TLS flow): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Memcached;

const MAX_LINE: usize = 2048;
const COMMANDS: &[&[u8]] = &[
    b"get",
    b"gets",
    b"gat",
    b"gats",
    b"set",
    b"add",
    b"replace",
    b"append",
    b"prepend",
    b"cas",
    b"delete",
    b"incr",
    b"decr",
    b"touch",
    b"stats",
    b"version",
    b"flush_all",
    b"verbosity",
];
/// Reply line openings: whole words end in CRLF, the others in a space.
const REPLIES: &[&[u8]] = &[
    b"VALUE ",
    b"END\r\n",
    b"STORED\r\n",
    b"NOT_STORED\r\n",
    b"EXISTS\r\n",
    b"NOT_FOUND\r\n",
    b"DELETED\r\n",
    b"TOUCHED\r\n",
    b"OK\r\n",
    b"STAT ",
    b"VERSION ",
    b"ERROR\r\n",
    b"CLIENT_ERROR ",
    b"SERVER_ERROR ",
];

/// The command of the client's first line. `Err(true)`: need more.
fn command(d: &[u8]) -> Result<&'static [u8], bool> {
    let word_len = d.iter().take_while(|b| b.is_ascii_lowercase() || **b == b'_').count();
    let word = &d[..word_len];
    let Some(&cmd) = COMMANDS.iter().find(|c| **c == word) else {
        return if word_len == d.len() && COMMANDS.iter().any(|c| c.starts_with(word)) {
            Err(true)
        } else {
            Err(false)
        };
    };
    match d.get(word_len) {
        None => return Err(true),
        Some(b' ' | b'\r') => {}
        Some(_) => return Err(false),
    }
    let window = &d[..d.len().min(MAX_LINE)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(_) => {}
        None if d.len() >= MAX_LINE => return Err(false),
        None => return Err(true),
    }
    if window[word_len] == b'\r' && window.get(word_len + 1) != Some(&b'\n') {
        return Err(false);
    }
    let line = &window[..window.windows(2).position(|w| w == b"\r\n").unwrap_or(0)];
    if !line.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return Err(false);
    }
    Ok(cmd)
}

/// Whether `r` opens with a reply to `cmd`. `None`: need more.
fn reply(r: &[u8], cmd: &[u8]) -> Option<bool> {
    for want in REPLIES {
        let n = r.len().min(want.len());
        if r[..n] == want[..n] {
            return (n == want.len()).then_some(true);
        }
    }
    if cmd == b"incr" || cmd == b"decr" {
        let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
        return match r.get(digits..(digits + 2).min(r.len())) {
            _ if digits == 0 => Some(false),
            Some(b"\r\n") => Some(true),
            Some(b"\r") | Some(b"") => None,
            _ => Some(false),
        };
    }
    Some(false)
}

/// The first letters of [`COMMANDS`], which the probe requires.
const FIRST: ByteSet = ByteSet::initials(COMMANDS);

impl Dissector for Memcached {
    fn name(&self) -> &'static str {
        "memcached"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        p.client_opens_with(|b| COMMANDS.iter().any(|c| c[0] == b))
    }
    /// A command's first letter (`client_opens_with`, `FIRST`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(FIRST)
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let cmd = match command(p.orig.stream()) {
            Ok(c) => c,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        match reply(p.resp.stream(), cmd) {
            None => p.undecided(),
            Some(false) => Parse::NotMine,
            Some(true) => {
                meta.protocol = Some("memcached");
                meta.encryption = Encryption::Cleartext;
                meta.set_extra("memcached_command", String::from_utf8_lossy(cmd));
                Parse::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    #[test]
    fn stats_and_get() {
        // memcached.cap, 127.0.0.1:59604 -> 127.0.0.1:11211.
        let (r, m) = check_split_tcp(&Memcached, 11211, b"stats\r\n", b"STAT pid 8837\r\nSTAT uptime 193\r\n");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("memcached"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("memcached_command"), Some("stats"));
        let (r, _) = check_split_tcp(&Memcached, 40001, b"get k1 k2\r\n", b"VALUE k1 0 1\r\na\r\nEND\r\n");
        assert_eq!(r, Parse::Done);
        let (r, _) = check_split_tcp(&Memcached, 40001, b"incr n 5\r\n", b"42\r\n");
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_memcached() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"stats\r\n", b""),
            (b"stats\r\n", b"HTTP/1.1 400 Bad Request\r\n"),
            (b"GET / HTTP/1.1\r\n", b"END\r\n"),
            (b"getx k\r\n", b"END\r\n"),
            (b"get k\n", b"END\r\n"),
            (b"get k\r\n", b"42\r\n"),
            (b"set k\x01 0 0 1\r\n", b"STORED\r\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 11211, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Memcached, &p), "{o:?} {r:?}");
        }
    }
}
