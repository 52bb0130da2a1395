//! Munin's node protocol over TCP (4949 is only a hint): the node greets
//! with `# munin node at <hostname>` and a newline; the master then sends
//! one-line commands (`cap`, `list`, `nodes`, `config`, `fetch`,
//! `version`, `spoolfetch`, `quit`) and reads text answers.
//!
//! Taken on the greeting line (a host name of printable bytes, no
//! spaces) and, when the master has spoken, a known command as its first
//! word. Everything is text: cleartext.

use super::text::{is_command, lines, to_string};
use super::{agrees, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Munin;

const GREETING: &[u8] = b"# munin node at ";
const MAX_LINE: usize = 512;
const COMMANDS: &[&[u8]] = &[
    b"cap",
    b"list",
    b"nodes",
    b"config",
    b"fetch",
    b"version",
    b"spoolfetch",
    b"quit",
];

/// The host name of a greeting opening `d`: `Ok(None)` for a prefix of
/// one, `Err` when `d` cannot open one.
fn greeting(d: &[u8]) -> Result<Option<&[u8]>, ()> {
    if !agrees(d, GREETING) {
        return Err(());
    }
    let Some(line) = lines(d, 1).next() else {
        return if d.len() < MAX_LINE { Ok(None) } else { Err(()) };
    };
    let host = &line[GREETING.len()..];
    if host.is_empty() || !host.iter().all(u8::is_ascii_graphic) {
        return Err(());
    }
    Ok(Some(host))
}

impl Dissector for Munin {
    fn name(&self) -> &'static str {
        "munin"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if greeting(p.resp.stream()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let host = match greeting(p.resp.stream()) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(h)) => h,
        };
        let c = p.orig.stream();
        let command = lines(c, 1).next();
        match command {
            Some(line) if !is_command(line, COMMANDS) => return Parse::NotMine,
            None if c.len() >= MAX_LINE => return Parse::NotMine,
            _ => {}
        }
        meta.protocol = Some("munin");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("munin_node", to_string(host, 64));
        if command.is_some() {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    // munin.pcap, stream 0.
    const NODE: &[u8] = b"# munin node at kibana-node01\n";
    const MASTER: &[u8] = b"cap multigraph dirtyconfig\nlist kibana-node01\n";

    #[test]
    fn session() {
        let (r, m) = check_split_tcp(&Munin, 4949, MASTER, NODE);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("munin"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("munin_node"), Some("kibana-node01"));
        let (r, _) = check_split_tcp(&Munin, 4949, b"", NODE);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_munin() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"", b"# munin node at \n"),
            (b"", b"# munin node at two words\n"),
            (b"GET / HTTP/1.1\r\n", NODE),
            (b"", b"# munin: a comment\n"),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let p = Payloads::tcp(40000, 4949, c, s, &ends);
            assert!(!crate::dissect::not_refused(&Munin, &p), "{c:?} {s:?}");
        }
    }
}
