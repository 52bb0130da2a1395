//! rsh, the BSD remote shell (rshd(8); the request shape rexec(3) also
//! uses) over TCP, on any port (514 is only a hint). The client sends
//! four NUL-terminated strings: the port for the standard-error channel
//! (ASCII decimal, or empty for none), the local user, the remote user
//! and the command. The server answers one byte: 0 when the command
//! runs (its output follows), 1 followed by an error message ended by a
//! newline when it is refused. Taken only with that answer. rlogin's
//! opening has the same shape with an empty first string and a
//! `terminal/speed` last one: that is left alone. Users,
//! command and output travel in clear: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rsh;

const MAX_PORT_DIGITS: usize = 5;
const MAX_USER: usize = 64;
const MAX_COMMAND: usize = 4096;

/// The remote user and the command of a complete request.
type Request<'a> = (&'a [u8], &'a [u8]);

/// The request's strings so far: `Ok(Some((user, command)))` when all
/// four are complete, `Ok(None)` for a prefix, `Err` otherwise.
fn request(d: &[u8]) -> Result<Option<Request<'_>>, ()> {
    let limits = [MAX_PORT_DIGITS, MAX_USER, MAX_USER, MAX_COMMAND];
    let mut rest = d;
    let mut parts: [&[u8]; 4] = [&[]; 4];
    for (i, max) in limits.into_iter().enumerate() {
        let end = rest.iter().position(|&b| b == 0);
        let s = &rest[..end.unwrap_or(rest.len())];
        let ok = match i {
            0 => s.iter().all(u8::is_ascii_digit),
            1 | 2 => s.iter().all(u8::is_ascii_graphic),
            _ => s.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)),
        };
        if !ok || s.len() > max || (i > 0 && i < 3 && end.is_some() && s.is_empty()) {
            return Err(());
        }
        let Some(end) = end else {
            return Ok(None);
        };
        parts[i] = s;
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() || parts[3].is_empty() || rlogin(parts[0], parts[3]) {
        return Err(());
    }
    Ok(Some((parts[2], parts[3])))
}

/// rlogin (513) opens with the same four strings, the first empty and
/// the last the terminal type and speed (`xterm/38400`): not rsh.
fn rlogin(port: &[u8], last: &[u8]) -> bool {
    let Some(slash) = last.iter().position(|&b| b == b'/') else {
        return false;
    };
    let speed = &last[slash + 1..];
    port.is_empty() && slash > 0 && !speed.is_empty() && speed.iter().all(u8::is_ascii_digit)
}

/// The server's first byte: 0, or 1 and a printable message.
fn answer(d: &[u8]) -> Option<bool> {
    match d.split_first()? {
        (0, _) => Some(true),
        (1, msg) => msg
            .iter()
            .take_while(|&&b| b != b'\n')
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
            .then_some(false),
        _ => None,
    }
}

impl Dissector for Rsh {
    fn name(&self) -> &'static str {
        "rsh"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if !p.orig.is_empty() && request(p.orig.stream()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits a port string of digits or an empty one (`request`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(b'0', b'9').with(0))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (c, s) = (p.orig.stream(), p.resp.stream());
        let (user, command) = match request(c) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(x)) => x,
        };
        let Some(accepted) = answer(s) else {
            return if s.is_empty() { p.undecided() } else { Parse::NotMine };
        };
        meta.protocol = Some("rsh");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("rsh_user", String::from_utf8_lossy(user).into_owned());
        let command = &command[..command.len().min(255)];
        meta.set_extra("rsh_command", String::from_utf8_lossy(command).into_owned());
        meta.set_extra("rsh_accepted", if accepted { "yes" } else { "no" });
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    #[test]
    fn refused_command() {
        // rsh.pcap: stderr port 1022, lns -> root, refused.
        let c = b"1022\0lns\0root\0mkdir testdir\0";
        let s = b"\x01Password incorrect.\n";
        let (r, m) = check_split_tcp(&Rsh, 514, c, s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rsh"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rsh_user"), Some("root"));
        assert_eq!(m.extra("rsh_command"), Some("mkdir testdir"));
        assert_eq!(m.extra("rsh_accepted"), Some("no"));
        let (r, m) = check_split_tcp(&Rsh, 514, b"\0alice\0alice\0uptime\0", b"\0 10:00:00 up 1 day\n");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("rsh_accepted"), Some("yes"));
    }

    #[test]
    fn not_rsh() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"1022\0lns\0root\0ls\0", b""),
            (b"1022\0lns\0root\0ls\0", b"\x02x"),
            (b"10a2\0lns\0root\0ls\0", b"\0"),
            (b"1022\0\0root\0ls\0", b"\0"),
            (b"1022\0lns\0root\0ls\0extra", b"\0"),
            (b"\0lns\0root\0xterm/38400\0", b"\0"),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let mut p = Payloads::tcp(1023, 514, c, s, &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Rsh, &p);
            assert!(!claimed, "{c:?}");
        }
    }
}
