//! Omron FINS over UDP, port 9600 (either side). A datagram is the
//! 10-byte FINS header: ICF (bit 7 always set, bit 6 response, bit 0
//! no response wanted; bits 5-1 zero), a reserved zero byte, the gateway
//! count (at most 7), destination and source network, node and unit,
//! a service id; then the command code (main code of a defined command
//! class, a non-zero sub code); a response adds a 2-byte end code.
//! Cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Fins;

const PORT: u16 = 9600;
const HEADER: usize = 10;

fn known_main_code(c: u8) -> bool {
    matches!(c, 0x01..=0x07 | 0x09 | 0x0c | 0x21..=0x23 | 0x26 | 0x28)
}

/// `Some((response, command))` when `d` is a FINS frame.
fn frame(d: &[u8]) -> Option<(bool, u16)> {
    let h = d.get(..HEADER + 2)?;
    let (icf, rsv, gct) = (h[0], h[1], h[2]);
    let response = icf & 0x40 != 0;
    let ok = icf & 0x80 != 0
        && icf & 0x3e == 0
        && rsv == 0
        && gct <= 7
        && known_main_code(h[10])
        && h[11] != 0
        && (!response || d.len() >= HEADER + 4);
    ok.then(|| (response, u16::from_be_bytes([h[10], h[11]])))
}

impl Dissector for Fins {
    fn name(&self) -> &'static str {
        "fins"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().first().is_none_or(|&b| b & 0xbe == 0x80) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = p.first_payload();
        if d.is_empty() {
            return p.undecided();
        }
        let Some((_, command)) = frame(d) else {
            return Parse::NotMine;
        };
        // An answer, when there is one, must be a FINS response.
        let answer = p.second_side().first();
        if !answer.is_empty() && !frame(answer).is_some_and(|(r, _)| r) {
            return Parse::NotMine;
        }
        meta.protocol = Some("fins");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("fins_command", format!("0x{command:04x}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // fins.pcap: a memory area read (0101) and a name read (2601)
    // response, trimmed to its end code.
    const READ: [u8; 18] = [
        0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7a, 0x01, 0x01, 0x00, 0xcc, 0xcc, 0xcc, 0x00, 0x01,
    ];
    const NAME_ANSWER: [u8; 14] = [
        0xc1, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7a, 0x26, 0x01, 0x00, 0x00,
    ];

    #[test]
    fn memory_read() {
        let (r, m) = check_split_udp(&Fins, 58722, PORT, &[&READ], &[&NAME_ANSWER]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("fins"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("fins_command"), Some("0x0101"));
    }

    #[test]
    fn not_fins() {
        let mut icf = READ;
        icf[0] = 0x82;
        let mut gct = READ;
        gct[2] = 9;
        let mut code = READ;
        code[10] = 0x10;
        let cases: [(u16, &[u8], &[u8]); 5] = [
            (9601, &READ, &[]),
            (PORT, &icf, &[]),
            (PORT, &gct, &[]),
            (PORT, &code, &[]),
            (PORT, &READ, &READ),
        ];
        for (port, d, a) in cases {
            let resp: Vec<&[u8]> = if a.is_empty() { vec![] } else { vec![a] };
            let f = UdpFixture::new(40000, port, &[d], &resp);
            let claimed = Fins.probe(&f.payloads()) != Probe::NotMine
                && Fins.parse(&f.payloads(), &mut Meta::default()) != Parse::NotMine;
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
