//! Automatic tank gauges (Veeder-Root TLS-3xx/4xx serial interface over
//! TCP; Gas-Pot style gauges) on port 10001 (either side). A command is
//! SOH (0x01), `I` (inquiry) or `S` (set), in upper case (display format)
//! or lower case (computer format), a 3-character function code and a
//! 2-digit tank number, then optional printable data and an optional
//! CR LF; the gauge answers SOH, the echoed command, its report and ETX.
//! Cleartext (ASCII).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Atg;

const PORT: u16 = 10001;
const SOH: u8 = 0x01;
/// SOH, the kind letter, function code and tank.
const COMMAND: usize = 7;

/// `Some(true)` when `d` is a whole command (CR LF seen, or nothing but
/// the command), `Some(false)` a prefix, `None` not an ATG command.
fn command(d: &[u8]) -> Option<bool> {
    let shape = |i: usize, b: u8| match i {
        0 => b == SOH,
        1 => matches!(b, b'I' | b'S' | b'i' | b's'),
        2..=4 => b.is_ascii_alphanumeric(),
        5 | 6 => b.is_ascii_digit(),
        _ => b == b'\r' || b == b'\n' || (0x20..0x7f).contains(&b),
    };
    if !d.iter().enumerate().all(|(i, &b)| shape(i, b)) {
        return None;
    }
    Some(d.len() >= COMMAND && (d.ends_with(b"\r\n") || d.len() == COMMAND))
}

impl Dissector for Atg {
    fn name(&self) -> &'static str {
        "atg"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && command(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only SOH (`command`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[SOH]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = p.first_side().first();
        if d.is_empty() {
            return p.undecided();
        }
        match command(d) {
            None => return Parse::NotMine,
            Some(false) => return p.undecided(),
            Some(true) => {}
        }
        // The answer, when there is one, opens with SOH.
        if p.second_side().first().first().is_some_and(|&b| b != SOH) {
            return Parse::NotMine;
        }
        meta.protocol = Some("atg");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("atg_command", String::from_utf8_lossy(&d[1..COMMAND]).into_owned());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    // atg.pcap: the in-tank inventory report for all tanks.
    const INVENTORY: &[u8] = b"\x01I20100\r\n";

    #[test]
    fn inventory_request() {
        let (r, m) = check_split_tcp(&Atg, PORT, INVENTORY, b"\x01\r\nI20100\r\nNOV 30, 2026 2:00 AM\r\n");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("atg"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("atg_command"), Some("I20100"));
    }

    #[test]
    fn not_atg() {
        let cases: [(u16, &[u8], &[u8]); 5] = [
            (10002, INVENTORY, b""),
            (PORT, b"\x02I20100\r\n", b""),
            (PORT, b"\x01X20100\r\n", b""),
            (PORT, b"\x01I201x0\r\n", b""),
            (PORT, INVENTORY, b"HTTP/1.1 400 Bad Request\r\n"),
        ];
        for (port, d, a) in cases {
            let ends = [[d.len() as u32], [a.len() as u32]];
            let mut p = Payloads::tcp(40000, port, d, a, &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Atg, &p);
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
