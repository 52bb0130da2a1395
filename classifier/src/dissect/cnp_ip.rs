//! CNP/IP, LonWorks (ISO/IEC 14908-1) tunnelled over UDP as ISO/IEC
//! 14908-4 (EIA-852) specifies, on ports 1628/1629 (either side; the
//! ports narrow the check, the header decides). Each datagram opens
//! with a 20-byte header, big-endian: the packet size (the whole
//! datagram), version 1, the packet type (1: a data packet), the
//! extended header's size, flags, a vendor code, a session id, a
//! sequence number and a timestamp; the LonTalk packet follows.
//!
//! The check: the size equals the datagram's length, version 1, a data
//! packet with at least one byte of LonTalk; a second datagram of the
//! same side must carry the same session id and the next sequence
//! number. Cleartext: LonTalk packets are plain.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct CnpIp;

const PORTS: [u16; 2] = [1628, 1629];
const HEADER: usize = 20;
const VERSION: u8 = 1;
const DATA: u8 = 1;

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// Session id and sequence number of a data packet spanning `d`.
fn data_packet(d: &[u8]) -> Option<(u32, u32)> {
    if d.len() <= HEADER || usize::from(u16::from_be_bytes([d[0], d[1]])) != d.len() {
        return None;
    }
    if d[2] != VERSION || d[3] != DATA || HEADER + 4 * usize::from(d[4]) >= d.len() {
        return None;
    }
    Some((be32(d, 8), be32(d, 12)))
}

impl Dissector for CnpIp {
    fn name(&self) -> &'static str {
        "cnp_ip"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if PORTS.iter().any(|&x| p.port(x)) && p.first_payload().get(2) == Some(&VERSION) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !PORTS.iter().any(|&x| p.port(x)) {
            return Parse::NotMine;
        }
        let mut chunks = p.first_side().chunks();
        let Some((session, seq)) = chunks.next().and_then(data_packet) else {
            return Parse::NotMine;
        };
        if let Some(next) = chunks.next() {
            if data_packet(next) != Some((session, seq.wrapping_add(1))) {
                return Parse::NotMine;
            }
        }
        meta.protocol = Some("cnp_ip");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("cnp_session", format!("0x{session:08x}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// cnp_ip.pcapng, 127.0.0.1:39819 → 127.0.0.1:1628: two data packets
    /// of session 0x6b8b4567, sequence numbers 0 and 1.
    const FIRST: &str = "0020 01 01 00 00 0000 6b8b4567 00000000 00000000 010901aa01a90103810d00ca";
    const SECOND: &str = "001c 01 01 00 00 0000 6b8b4567 00000001 00000000 000901a901aa0123";

    #[test]
    fn data_packets() {
        let (a, b) = (unhex(FIRST), unhex(SECOND));
        let (r, m) = check_split_udp(&CnpIp, 39819, 1628, &[&a, &b], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("cnp_ip"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("cnp_session"), Some("0x6b8b4567"));
    }

    #[test]
    fn not_cnp_ip() {
        let (a, b) = (unhex(FIRST), unhex(SECOND));
        let mut size = a.clone();
        size[1] = 0x21;
        let mut version = a.clone();
        version[2] = 2;
        let mut kind = a.clone();
        kind[3] = 0x40;
        let mut next = b.clone();
        next[15] = 2;
        let cases: [(u16, &[&[u8]]); 6] = [
            (1628, &[&size]),
            (1628, &[&version]),
            (1628, &[&kind]),
            (1628, &[&a[..HEADER]]),
            (1628, &[&a, &next]),
            (1630, &[&a]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(39819, port, d, &[]);
            assert!(!crate::dissect::not_refused(&CnpIp, &f.payloads()), "{port}");
        }
    }
}
