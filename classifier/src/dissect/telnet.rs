//! Telnet (RFC 854, RFC 855) over TCP, named from its option
//! negotiation; port 23 is a hint only.
//!
//! A Telnet session usually opens with negotiation: IAC (0xff) then
//! WILL, WONT, DO or DONT (0xfb..=0xfe) and an option, or a
//! subnegotiation `IAC SB <option> ... IAC SE`. The first side's stream
//! must begin with at least two such commands back to back (a lone
//! 0xff 0xfb pair is too little to go on), and the other side, when it
//! has spoken, must begin with a negotiation command as well. A session
//! that sends no negotiation is plain text and not taken.
//!
//! Telnet has no encryption (the RFC 2946 option is obsolete and unseen):
//! cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Telnet;

const IAC: u8 = 0xff;
const SB: u8 = 0xfa;
const SE: u8 = 0xf0;
/// Longest subnegotiation taken.
const MAX_SB: usize = 512;
/// Commands counted at most.
const ENOUGH: usize = 2;

/// Counts the negotiation commands at the start of `d` (up to
/// [`ENOUGH`]). `Err(true)`: a command is cut; `Err(false)`: not Telnet
/// negotiation.
fn commands(d: &[u8]) -> Result<usize, bool> {
    let mut at = 0;
    let mut n = 0;
    while n < ENOUGH {
        let Some(&b) = d.get(at) else {
            return if n == 0 { Err(true) } else { Ok(n) };
        };
        if b != IAC {
            return if n == 0 { Err(false) } else { Ok(n) };
        }
        match d.get(at + 1) {
            None => return Err(true),
            Some(0xfb..=0xfe) => {
                if d.len() < at + 3 {
                    return Err(true);
                }
                at += 3;
            }
            Some(&SB) => {
                // IAC SB option ... IAC SE, the data free of lone IACs.
                let body = d.get(at + 3..).ok_or(true)?;
                let mut i = 0;
                loop {
                    if i >= MAX_SB {
                        return Err(false);
                    }
                    match (body.get(i), body.get(i + 1)) {
                        (Some(&IAC), Some(&SE)) => break,
                        (Some(&IAC), Some(&IAC)) => i += 2,
                        (Some(&IAC), Some(_)) => return Err(false),
                        (Some(_), _) if body[i] != IAC => i += 1,
                        _ => return Err(true),
                    }
                }
                at += 3 + i + 2;
            }
            Some(_) => return Err(false),
        }
        n += 1;
    }
    Ok(n)
}

impl Dissector for Telnet {
    fn name(&self) -> &'static str {
        "telnet"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            None | Some(&IAC) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only an IAC.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[IAC]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (first, second) = (p.first_side().stream(), p.second_side().stream());
        match commands(first) {
            Ok(ENOUGH) => {}
            Ok(_) | Err(false) => return Parse::NotMine,
            Err(true) => return p.undecided(),
        }
        let answered = match commands(second) {
            Ok(_) => true,
            Err(true) if second.len() < 3 => false,
            Err(true) => true,
            Err(false) => return Parse::NotMine,
        };
        meta.protocol = Some("telnet");
        meta.encryption = Encryption::Cleartext;
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
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    #[test]
    fn negotiation() {
        // telnet.pcap, 192.168.0.2:1550 -> 192.168.0.1:23: the client's
        // first segment (DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, ...)
        // and the server's DO AUTHENTICATION.
        let c = unhex("fffd03fffb18fffb1ffffb20fffb21fffb22fffb27fffd05fffb23");
        let s = unhex("fffd25");
        for port in [23, 40001] {
            let (r, m) = check_split_tcp(&Telnet, port, &c, &s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("telnet"));
            assert_eq!(m.encryption, Encryption::Cleartext);
        }
        // A subnegotiation (TERMINAL-TYPE SEND) after a WILL.
        let c2 = unhex("fffb03fffa1801fff0");
        let (r, _) = check_split_tcp(&Telnet, 23, &c2, &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_telnet() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"login: ", b""),
            (&[0xff, 0xfd, 0x03], &[]),
            (&[0xff, 0xfd, 0x03, b'x'], &[]),
            (&[0xff, 0x00, 0x03, 0xff, 0xfd, 0x03], &[]),
            (&[0xff, 0xfd, 0x03, 0xff, 0xfb, 0x18], b"HTTP/1.1 200 OK\r\n"),
            (&[0xff, 0xfa, 0x18, 0x01, 0xff, 0x41], &[]),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 23, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Telnet, &p), "{o:?}");
        }
    }
}
