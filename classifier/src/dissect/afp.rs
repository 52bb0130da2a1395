//! AFP over TCP (Apple Filing Protocol carried by DSI, the Data Stream
//! Interface); port 548 is a hint only.
//!
//! Every DSI message starts with a 16-byte header: flags (0 request,
//! 1 reply), command (1 CloseSession, 2 Command, 3 GetStatus,
//! 4 OpenSession, 5 Tickle, 6 Write, 8 Attention), a 16-bit request id,
//! an error code or data offset, the 32-bit length of the data that
//! follows, and four reserved zero bytes. A request header alone is
//! mostly small numbers and zeros, so the flow is named only with the
//! answer: the client's first message a request (data length at most
//! 1 MiB), the server's first a reply to it (flags 1, the same command
//! and request id, reserved zero). A connection caught after its start
//! is taken the same way.
//!
//! AFP over DSI has no encryption of its own (authentication exchanges
//! protect the password only): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Afp;

const HEADER: usize = 16;
const MAX_DATA: u32 = 1 << 20;

fn command_ok(c: u8) -> bool {
    matches!(c, 1..=6 | 8)
}

/// The DSI header at the start of `d` with these `flags`: (command,
/// request id). `Err(true)`: need more.
fn header(d: &[u8], flags: u8) -> Result<(u8, [u8; 2]), bool> {
    match d.first() {
        None => return Err(true),
        Some(&f) if f != flags => return Err(false),
        _ => {}
    }
    if d.get(1).is_some_and(|&c| !command_ok(c)) {
        return Err(false);
    }
    let h = d.get(..HEADER).ok_or(true)?;
    let len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    if h[12..16] != [0, 0, 0, 0] || len > MAX_DATA {
        return Err(false);
    }
    Ok((h[1], [h[2], h[3]]))
}

impl Dissector for Afp {
    fn name(&self) -> &'static str {
        "afp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.stream() {
            [] if p.resp.is_empty() => Probe::Maybe,
            [0] => Probe::Maybe,
            [0, c, ..] if command_ok(*c) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only a DSI request's zero flags byte, from the client.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (cmd, id) = match header(p.orig.stream(), 0) {
            Ok(x) => x,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        match header(p.resp.stream(), 1) {
            Ok(x) if x == (cmd, id) => {}
            Ok(_) | Err(false) => return Parse::NotMine,
            Err(true) => return p.undecided(),
        }
        meta.protocol = Some("afp");
        meta.encryption = Encryption::Cleartext;
        let name = match cmd {
            1 => "close_session",
            2 => "command",
            3 => "get_status",
            4 => "open_session",
            5 => "tickle",
            6 => "write",
            _ => "attention",
        };
        meta.set_extra("dsi_command", name);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    // afp.pcap, 192.168.27.57:64987 -> 192.168.27.139:548: a DSICommand
    // (request id 0x22c6) and the start of its reply.
    const REQ: &str = "000222c6000000000000000600000000110000020e1c";
    const REP: &str = "010222c60000000000000022000000000e1cc793279c2985232f";

    #[test]
    fn command_and_reply() {
        let (c, s) = (unhex(REQ), unhex(REP));
        for port in [548, 40001] {
            let (r, m) = check_split_tcp(&Afp, port, &c, &s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("afp"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("dsi_command"), Some("command"));
        }
    }

    #[test]
    fn not_afp() {
        let (c, s) = (unhex(REQ), unhex(REP));
        let mutate = |d: &[u8], i: usize, v: u8| {
            let mut d = d.to_vec();
            d[i] = v;
            d
        };
        let cases: [(Vec<u8>, Vec<u8>); 7] = [
            (c.clone(), vec![]),              // unanswered
            (mutate(&c, 1, 7), s.clone()),    // command 7
            (mutate(&c, 15, 1), s.clone()),   // reserved not zero
            (mutate(&c, 8, 0x10), s.clone()), // data length over 1 MiB
            (c.clone(), mutate(&s, 3, 0xc7)), // another request id
            (c.clone(), mutate(&s, 0, 0)),    // not a reply
            (c.clone(), b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        ];
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 548, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Afp, &p), "{o:?} {r:?}");
        }
    }
}
