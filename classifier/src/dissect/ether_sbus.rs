//! Ether-S-Bus (Saia-Burgess PCD S-Bus over UDP), port 5050 (either
//! side). A datagram starts with a 9-byte header: the 32-bit length of
//! the whole datagram, a version byte (0 or 1), a protocol type (0 or
//! 1), a 16-bit sequence number and a telegram attribute (0 request,
//! 1 response, 2 acknowledge); the S-Bus telegram and its CRC-16 follow
//! (a request at least station, command and CRC). When both sides have
//! spoken, the first answer must repeat the request's sequence number
//! with a response or acknowledge attribute. Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct EtherSbus;

const PORT: u16 = 5050;
const HEADER: usize = 9;

/// `Some((attribute, sequence))` when `d` is one Ether-S-Bus datagram.
fn telegram(d: &[u8]) -> Option<(u8, u16)> {
    let h = d.get(..HEADER)?;
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let attribute = h[8];
    let least = if attribute == 0 { HEADER + 4 } else { HEADER + 3 };
    let ok = usize::try_from(len).ok() == Some(d.len()) && h[4] <= 1 && h[5] <= 1 && attribute <= 2 && d.len() >= least;
    ok.then(|| (attribute, u16::from_be_bytes([h[6], h[7]])))
}

impl Dissector for EtherSbus {
    fn name(&self) -> &'static str {
        "ether_sbus"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().first().is_none_or(|&b| b == 0) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the length's high byte 0.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = p.first_payload();
        if d.is_empty() {
            return p.undecided();
        }
        let Some((attribute, seq)) = telegram(d) else {
            return Parse::NotMine;
        };
        let answer = p.second_side().first();
        if !answer.is_empty() {
            let answers = telegram(answer).is_some_and(|(a, s)| attribute == 0 && a != 0 && s == seq);
            if !answers {
                return Parse::NotMine;
            }
        }
        meta.protocol = Some("ether_sbus");
        meta.encryption = Encryption::Cleartext;
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // ethersbus.pcap: a request to station 10 (command 0x20) and its
    // response (the PCD's type, "D2M48020").
    const REQUEST: [u8; 13] = [
        0x00, 0x00, 0x00, 0x0d, 0x01, 0x00, 0x00, 0x01, 0x00, 0x0a, 0x20, 0x53, 0x18,
    ];
    const RESPONSE: [u8; 20] = [
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01, 0x01, 0x44, 0x32, 0x4d, 0x34, 0x38, 0x30, 0x32, 0x30, 0x00,
        0xfa, 0xc9,
    ];

    #[test]
    fn request_and_response() {
        let (r, m) = check_split_udp(&EtherSbus, 2467, PORT, &[&REQUEST], &[&RESPONSE]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ether_sbus"));
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn not_ether_sbus() {
        let mut len = REQUEST;
        len[3] = 0x0e;
        let mut attribute = REQUEST;
        attribute[8] = 3;
        let mut seq = RESPONSE;
        seq[7] = 2;
        let cases: [(u16, &[u8], &[u8]); 4] = [
            (5051, &REQUEST, &[]),
            (PORT, &len, &[]),
            (PORT, &attribute, &[]),
            (PORT, &REQUEST, &seq),
        ];
        for (port, d, a) in cases {
            let resp: Vec<&[u8]> = if a.is_empty() { vec![] } else { vec![a] };
            let f = UdpFixture::new(40000, port, &[d], &resp);
            let claimed = crate::dissect::not_refused(&EtherSbus, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
