//! Ookla Speedtest's measurement protocol over TCP: the speedtest
//! client's line-based text commands to a test server (8080 and 5060
//! are the usual ports; neither is used here).
//!
//! The client opens with `HI`, alone or followed by a client id, on a
//! line of its own; the server answers `HELLO` followed by its version
//! (a digit first), e.g. `HELLO 2.9 (2.9.2) 2021-11-30.2159.ffae0e0`.
//! Both lines are required: `HI` alone is too short to tell. The
//! commands that follow (`PING`/`PONG`, `GETIP`, `CAPABILITIES`,
//! `DOWNLOAD`, `UPLOAD`, `INITPLOSS`) are not needed for the verdict.
//!
//! The protocol has no encryption of its own (the speedtest's TLS
//! variant is the TLS dissector's): cleartext.

use super::text::{could_start_with_ci, lines, to_string, word};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ookla;

/// Longest `HI` or `HELLO` line waited for.
const MAX_LINE: usize = 256;
const VALUE_MAX: usize = 64;

/// Whether `line` is the client's `HI`: the word alone, or followed by
/// an id of printable characters.
fn hi(line: &[u8]) -> bool {
    let (w, id) = word(line);
    w == b"HI" && id.iter().all(|b| b.is_ascii_graphic())
}

/// The server's version, when `line` is its `HELLO`.
fn hello(line: &[u8]) -> Option<&[u8]> {
    let (w, rest) = word(line);
    let (version, _) = word(rest);
    (w == b"HELLO" && version.first().is_some_and(u8::is_ascii_digit) && super::text::is_printable(rest))
        .then_some(version)
}

/// The first line of `d`: `Err(true)` while it may still come.
fn first_line(d: &[u8]) -> Result<&[u8], bool> {
    match lines(d, 1).next() {
        Some(l) => Ok(l),
        None => Err(d.len() <= MAX_LINE),
    }
}

impl Dissector for Ookla {
    fn name(&self) -> &'static str {
        "ookla"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if could_start_with_ci(o, b"HI") && could_start_with_ci(r, b"HELLO ") {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a client opening with `HI` (any case), or,
    /// before it, a server opening with `HELLO ` (any case).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"Hh"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        match first_line(o) {
            Ok(l) if hi(l) => {}
            Err(true) if o.starts_with(&b"HI"[..o.len().min(2)]) => return p.undecided(),
            _ => return Parse::NotMine,
        }
        let version = match first_line(r) {
            Ok(l) => match hello(l) {
                Some(v) => v,
                None => return Parse::NotMine,
            },
            Err(true) if r.starts_with(&b"HELLO "[..r.len().min(6)]) => return p.undecided(),
            Err(_) => return Parse::NotMine,
        };
        meta.protocol = Some("ookla");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ookla_server_version", to_string(version, VALUE_MAX));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// ookla.pcap, 192.168.1.7:51215 → 46.44.253.187:8080.
    const HI_2_4: &[u8] = b"HI\n";
    const HELLO_2_4: &[u8] = b"HELLO 2.4 2016-10-06.1324.996ab91\n";
    /// ookla.pcap, 192.168.1.192:37790 → 185.157.229.246:8080.
    const HI_2_9: &[u8] = b"HI 8e17cb65-c6b5-4b39-adcc-97006a1e4537\n";
    const HELLO_2_9: &[u8] = b"HELLO 2.9 (2.9.2) 2021-11-30.2159.ffae0e0\n";

    #[test]
    fn hi_hello() {
        let (r, m) = check_split_tcp(&Ookla, 8080, HI_2_4, HELLO_2_4);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ookla"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ookla_server_version"), Some("2.4"));
        let (r, m) = check_split_tcp(&Ookla, 8080, HI_2_9, HELLO_2_9);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("ookla_server_version"), Some("2.9"));
        // HI without an answer yet.
        let (r, _) = check_split_tcp(&Ookla, 8080, HI_2_9, b"");
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn not_ookla() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"HIT\n", HELLO_2_4),
            (b"hi\n", HELLO_2_4),
            (b"HI \x01\n", HELLO_2_4),
            (HI_2_4, b"HELLO world\n"),
            (HI_2_4, b"HELO 2.4\n"),
            (HI_2_4, b"HELLO 2.4 \x00\n"),
            (b"GET / HTTP/1.1\r\n\r\n", HELLO_2_4),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 8080, o, r, &ends);
            assert!(!not_refused(&Ookla, &p), "{}", String::from_utf8_lossy(o));
        }
        // HI alone at the end of the flow.
        let ends = [[HI_2_4.len() as u32], [0]];
        let mut p = Payloads::tcp(40000, 8080, HI_2_4, &[], &ends);
        p.last = true;
        assert!(!not_refused(&Ookla, &p));
    }
}
