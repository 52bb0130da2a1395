//! The Kismet client/server protocol (the classic text protocol of
//! Kismet's server, TCP port 2501 by default; the port is not needed).
//! The server opens with a line `*KISMET: <version> <start time>
//! \x01<server name>\x01 <build> ...`, then `*PROTOCOLS: ...` and one
//! line per event (`*TIME:`, `*GPS:`, `*NETWORK:`...); the client sends
//! commands `!<id> <COMMAND> ...` (`!0 ENABLE GPS lat,lon`).
//!
//! The check: the server's stream begins with `*KISMET: `, then a
//! version and a decimal start time, and the client, if it has spoken,
//! opens with `!`. Cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Kismet;

const BANNER: &[u8] = b"*KISMET: ";

/// `Some(version)` when `d` opens with the server banner, `None` when
/// it cannot, `Err` when more bytes are needed.
fn banner(d: &[u8]) -> Result<Option<&[u8]>, ()> {
    let n = d.len().min(BANNER.len());
    if !agrees(d, BANNER) {
        return Ok(None);
    }
    let rest = &d[n..];
    let Some(sp) = rest.iter().position(|&c| c == b' ') else {
        return if rest.len() > 32 { Ok(None) } else { Err(()) };
    };
    let version = &rest[..sp];
    let digits = rest[sp + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if version.is_empty() || !version.iter().all(|c| c.is_ascii_graphic()) {
        return Ok(None);
    }
    match rest.get(sp + 1 + digits) {
        None => Err(()),
        Some(b' ') if digits > 0 => Ok(Some(version)),
        Some(_) => Ok(None),
    }
}

impl Dissector for Kismet {
    fn name(&self) -> &'static str {
        "kismet"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let r = p.resp.stream();
        let o = p.orig.stream();
        if (r.is_empty() || r[0] == b'*') && (o.is_empty() || o[0] == b'!') {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a client's `!` or a server's `*`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"!*"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let r = p.resp.stream();
        if r.is_empty() {
            return p.undecided();
        }
        match banner(r) {
            Ok(Some(version)) => {
                meta.protocol = Some("kismet");
                meta.encryption = Encryption::Cleartext;
                let v = String::from_utf8_lossy(&version[..version.len().min(32)]).into_owned();
                meta.set_extra("kismet_version", v);
                Parse::Done
            }
            Ok(None) => Parse::NotMine,
            Err(()) => p.undecided(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    /// kismet.pcap, 127.0.0.1:34065 ↔ 127.0.0.1:2501: the server's first
    /// line and the client's first command.
    const SERVER: &[u8] =
        b"*KISMET: 0.0.0 1144004381 \x01Kismet\x01 20050815211952 0 2005.08.R1 \n*PROTOCOLS: KISMET,ERROR,ACK\n";
    const CLIENT: &[u8] = b"!0 ENABLE GPS lat,lon,alt,spd,heading,fix\n";

    #[test]
    fn server_banner() {
        let (r, m) = check_split_tcp(&Kismet, 2501, CLIENT, SERVER);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("kismet"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("kismet_version"), Some("0.0.0"));
        let (r, _) = check_split_tcp(&Kismet, 2501, b"", SERVER);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_kismet() {
        let cases: [&[u8]; 5] = [
            b"*KISMET: 0.0.0 abc \n",
            b"*KISMET:  1144004381 \n",
            b"*KISMEt: 0.0.0 1144004381 \n",
            b"*TIME: 1144004385\n",
            b"* OK IMAP4rev1 ready\r\n",
        ];
        for d in cases {
            let ends = [[0], [d.len() as u32]];
            let mut p = Payloads::tcp(34065, 2501, b"", d, &ends);
            p.last = true;
            assert!(!crate::dissect::not_refused(&Kismet, &p), "{d:?}");
        }
        // A client that does not send a command.
        let ends = [[4], [SERVER.len() as u32]];
        let p = Payloads::tcp(34065, 2501, b"GET ", SERVER, &ends);
        assert!(!crate::dissect::not_refused(&Kismet, &p));
    }
}
