//! Redis's RESP (REdis Serialization Protocol, RESP2 and RESP3) over TCP,
//! named from a client's command; port 6379 is a hint only.
//!
//! A client sends each command as an array of bulk strings:
//! `*<count>\r\n` then, per argument, `$<length>\r\n<bytes>\r\n`. Checked:
//! a count of 1 to 1024, the first bulk string's length (1 to 32) and
//! its bytes (the command name: letters, digits, `_`, `-`, `|`) exactly
//! followed by CRLF, numbers in decimal without sign or leading zero.
//! The server's answer, when there, must open with a RESP type byte
//! (`+ - : $ *`, or RESP3's `_ , # ! = ( % ~ > |`). Inline commands
//! (`PING\r\n`) are not taken: they are plain text.
//!
//! RESP has no encryption of its own (Redis TLS is a TLS flow): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Redis;

const MAX_ARGS: usize = 1024;
const MAX_NAME: usize = 32;
const REPLY_TYPES: &[u8] = b"+-:$*_,#!=(%~>|";

/// A decimal number then CRLF at the start of `d`: (value, bytes used).
/// `Err(true)`: more bytes needed.
fn number(d: &[u8], max: usize) -> Result<(usize, usize), bool> {
    let digits = d.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == d.len() {
        return if digits > 0 && d[0] == b'0' || digits > 4 {
            Err(false)
        } else {
            Err(true)
        };
    }
    if digits == 0 || digits > 4 || (d[0] == b'0' && digits > 1) {
        return Err(false);
    }
    let v = d[..digits].iter().fold(0usize, |a, &b| a * 10 + usize::from(b - b'0'));
    if v == 0 || v > max {
        return Err(false);
    }
    match d.get(digits..digits + 2) {
        Some(b"\r\n") => Ok((v, digits + 2)),
        Some(_) => Err(false),
        None if d[digits] == b'\r' => Err(true),
        None => Err(false),
    }
}

/// The command name of the array at the start of `d`.
fn command(d: &[u8]) -> Result<&[u8], bool> {
    match d.first() {
        None => return Err(true),
        Some(b'*') => {}
        Some(_) => return Err(false),
    }
    let (_, n) = number(&d[1..], MAX_ARGS)?;
    let at = 1 + n;
    match d.get(at) {
        None => return Err(true),
        Some(b'$') => {}
        Some(_) => return Err(false),
    }
    let (len, n) = number(&d[at + 1..], MAX_NAME)?;
    let start = at + 1 + n;
    let name = d.get(start..(start + len).min(d.len())).unwrap_or_default();
    if !name
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|'))
    {
        return Err(false);
    }
    let end = d.get(start + len..(start + len + 2).min(d.len())).unwrap_or_default();
    if !b"\r\n".starts_with(end) {
        return Err(false);
    }
    if end.len() < 2 {
        return Err(true);
    }
    Ok(name)
}

impl Dissector for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        p.client_opens_with(|b| b == b'*')
    }
    /// The client must open with a RESP array's `*` (`client_opens_with`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"*"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let name = match command(p.orig.stream()) {
            Ok(n) => n,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let answered = match p.resp.stream().first() {
            None => false,
            Some(b) if REPLY_TYPES.contains(b) => true,
            Some(_) => return Parse::NotMine,
        };
        meta.protocol = Some("redis");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("redis_command", String::from_utf8_lossy(name).to_ascii_uppercase());
        if answered {
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

    #[test]
    fn command_and_reply() {
        // resp.pcap, 192.168.88.221:51882 -> 192.168.88.231:6379: COMMAND
        // and the start of its array reply.
        let c = b"*1\r\n$7\r\nCOMMAND\r\n";
        let s = b"*240\r\n*10\r\n$11\r\nsinterstore\r\n:-3\r\n";
        for port in [6379, 40001] {
            let (r, m) = check_split_tcp(&Redis, port, c, s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("redis"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("redis_command"), Some("COMMAND"));
        }
        let (r, m) = check_split_tcp(&Redis, 6379, b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n", b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("redis_command"), Some("SET"));
    }

    #[test]
    fn not_redis() {
        let cases: [(&[u8], &[u8]); 9] = [
            (b"*0\r\n$4\r\nPING\r\n", b""),
            (b"*01\r\n$4\r\nPING\r\n", b""),
            (b"*1\r\n$5\r\nPING\r\n", b""),
            (b"*1\r\n$4\r\nPI G\r\n", b""),
            (b"*1\r\n$4\r\nPING\n\n", b""),
            (b"*1\r\n+4\r\nPING\r\n", b""),
            (b"*1\r\n$40\r\nPINGPINGPINGPINGPINGPINGPINGPINGPINGPING\r\n", b""),
            (b"PING\r\n", b"+PONG\r\n"),
            (b"*1\r\n$4\r\nPING\r\n", b"HTTP/1.1 400 Bad Request\r\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 6379, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Redis, &p), "{o:?}");
        }
    }
}
