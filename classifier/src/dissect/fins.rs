//! Omron FINS on port 9600 (either side). Over TCP, every message is
//! framed by a 16-byte FINS/TCP header: the magic `FINS`, the 32-bit
//! length of what follows it (at least the command and error code), a
//! command (0 node address request, 1 its response, 2 FINS frame,
//! 3 error, 6 connection confirmation) and an error code; the first
//! message must be whole, and a FINS frame (command 2) must be one as
//! below. Over UDP, a datagram is a FINS frame: the 10-byte header: ICF (bit 7 always set, bit 6 response, bit 0
//! no response wanted; bits 5-1 zero), a reserved zero byte, the gateway
//! count (at most 7), destination and source network, node and unit,
//! a service id; then the command code (main code of a defined command
//! class, a non-zero sub code); a response adds a 2-byte end code.
//! Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Fins;

const PORT: u16 = 9600;
const HEADER: usize = 10;

const TCP_MAGIC: &[u8; 4] = b"FINS";
const TCP_HEADER: usize = 16;
const TCP_FRAME: u32 = 2;

/// `Some(Some(command))` for a whole first FINS/TCP message at the start
/// of `d`, `Some(None)` for a prefix, `None` when it is not one.
fn tcp_message(d: &[u8]) -> Option<Option<u32>> {
    let n = d.len().min(4);
    if d[..n] != TCP_MAGIC[..n] {
        return None;
    }
    let Some(h) = d.get(..TCP_HEADER) else {
        return Some(None);
    };
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let command = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    if len < 8 || !matches!(command, 0..=3 | 6) {
        return None;
    }
    let end = usize::try_from(len).ok()?.checked_add(8)?;
    let Some(m) = d.get(..end) else { return Some(None) };
    if command == TCP_FRAME && frame(&m[TCP_HEADER..]).is_none() {
        return None;
    }
    Some(Some(command))
}

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
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        let shape = match p.transport {
            Transport::Udp => d.first().is_none_or(|&b| b & 0xbe == 0x80),
            Transport::Tcp => d.is_empty() || tcp_message(d).is_some(),
        };
        if p.port(PORT) && shape {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits, over UDP, an ICF with bit 7 set and bits 1..=5
    /// clear; over TCP, the `FINS` magic (`tcp_message`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x80, 0x81, 0xc0, 0xc1, b'F']))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        if p.transport == Transport::Tcp {
            let d = p.first_side().stream();
            if d.is_empty() {
                return p.undecided();
            }
            let command = match tcp_message(d) {
                None => return Parse::NotMine,
                Some(None) => return p.undecided(),
                Some(Some(c)) => c,
            };
            meta.protocol = Some("fins");
            meta.encryption = Encryption::Cleartext;
            meta.set_extra("fins_tcp_command", command.to_string());
            return Parse::Done;
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
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

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
    fn fins_over_tcp() {
        // fins.pcap: the node address request and its response; a FINS
        // frame (controller data read, 0501) in a FINS/TCP message.
        let request = *b"FINS\x00\x00\x00\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        let response = *b"FINS\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xfb\x00\x00\x00\xc8";
        let (r, m) = check_split_tcp(&Fins, PORT, &request, &response);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("fins"));
        assert_eq!(m.extra("fins_tcp_command"), Some("0"));
        let mut stream = request.to_vec();
        stream.extend_from_slice(b"FINS\x00\x00\x00\x15\x00\x00\x00\x02\x00\x00\x00\x00");
        stream.extend_from_slice(&[
            0x80, 0x00, 0x02, 0x00, 0xc8, 0x00, 0x00, 0x00, 0xef, 0x05, 0x05, 0x01, 0x00,
        ]);
        let (r, _) = check_split_tcp(&Fins, PORT, &stream, &[]);
        assert_eq!(r, Parse::Done);
        // The embedded frame's ICF without bit 7.
        let mut bad = stream[20..].to_vec();
        bad[16] = 0x00;
        let ends = [[bad.len() as u32], [0]];
        let p = Payloads::tcp(40000, PORT, &bad, &[], &ends);
        assert_eq!(Fins.parse(&p, &mut Meta::default()), Parse::NotMine);
        let p = Payloads::tcp(40000, PORT, b"FINT\x00\x00\x00\x0c", &[], &ends);
        assert_eq!(Fins.probe(&p), Probe::NotMine);
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
            let claimed = crate::dissect::not_refused(&Fins, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
