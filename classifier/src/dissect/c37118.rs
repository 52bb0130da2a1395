//! IEEE C37.118.2 synchrophasor frames, on port 4712 (TCP) or 4713 (UDP),
//! either side. Every frame starts with the sync byte 0xAA, then a byte
//! of frame type (bits 6-4: data, header, configuration 1/2, command,
//! configuration 3) and version (bits 3-0: 1 for 2005, 2 for 2011), a
//! 16-bit frame size (the whole frame, CRC included), the PMU/PDC id
//! code, the second of century and the fraction of second (16 bytes),
//! and a 16-bit CRC at the end. A command frame is 18 bytes with a
//! command 1..=8 (e.g. 5: send configuration 2). A UDP datagram is
//! exactly one frame; on TCP the first frame must be whole, and the one
//! after it, as far as it goes, must start another. Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct C37118;

const PORTS: [u16; 2] = [4712, 4713];
const SYNC: u8 = 0xaa;
const HEADER: usize = 14;
const COMMAND: u8 = 4;

/// What the start of `d` says: `None` not a frame, `Some(None)` a
/// prefix, `Some(Some((type, size)))` a whole frame.
fn frame(d: &[u8]) -> Option<Option<(u8, usize)>> {
    if *d.first()? != SYNC {
        return None;
    }
    if let Some(&t) = d.get(1) {
        if t & 0x80 != 0 || (t >> 4) > 5 || !(1..=3).contains(&(t & 0x0f)) {
            return None;
        }
    }
    let Some(h) = d.get(..HEADER) else { return Some(None) };
    let kind = h[1] >> 4;
    let size = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if size < HEADER + 2 || (kind == COMMAND && size != 18) {
        return None;
    }
    let Some(f) = d.get(..size) else { return Some(None) };
    if kind == COMMAND && !(1..=8).contains(&u16::from_be_bytes([f[14], f[15]])) {
        return None;
    }
    Some(Some((kind, size)))
}

fn type_name(t: u8) -> &'static str {
    match t {
        0 => "data",
        1 => "header",
        2 => "config1",
        3 => "config2",
        4 => "command",
        _ => "config3",
    }
}

impl Dissector for C37118 {
    fn name(&self) -> &'static str {
        "ieee_c37118"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if PORTS.iter().any(|&x| p.port(x)) && p.first_payload().first().is_none_or(|&b| b == SYNC) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the sync byte 0xaa.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[SYNC]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !PORTS.iter().any(|&x| p.port(x)) {
            return Parse::NotMine;
        }
        let udp = p.transport == Transport::Udp;
        let d = if udp {
            p.first_payload()
        } else {
            p.first_side().stream()
        };
        if d.is_empty() {
            return p.undecided();
        }
        let (kind, size) = match frame(d) {
            None => return Parse::NotMine,
            Some(None) if udp => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(f)) => f,
        };
        if udp && size != d.len() {
            return Parse::NotMine;
        }
        if !udp && size < d.len() && frame(&d[size..]).is_none() {
            return Parse::NotMine;
        }
        meta.protocol = Some("ieee_c37118");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("c37118_frame", type_name(kind));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // ieee_c37118.pcap: the PDC's "send configuration 2" command (id
    // 241) and the start of a data frame.
    const SEND_CFG2: [u8; 18] = [
        0xaa, 0x41, 0x00, 0x12, 0x00, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xd7, 0xd0,
    ];
    const DATA_START: [u8; 16] = [
        0xaa, 0x01, 0x00, 0x36, 0x00, 0xf1, 0x48, 0x93, 0x34, 0x4a, 0x00, 0x1e, 0xb8, 0x52, 0x08, 0x00,
    ];

    #[test]
    fn command_and_data() {
        let (r, m) = check_split_tcp(&C37118, 4712, &SEND_CFG2, &DATA_START);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ieee_c37118"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("c37118_frame"), Some("command"));
        let (r, _) = check_split_udp(&C37118, 4713, 4712, &[&SEND_CFG2], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_c37118() {
        let mut version = SEND_CFG2;
        version[1] = 0x44;
        let mut command = SEND_CFG2;
        command[15] = 9;
        let mut size = SEND_CFG2;
        size[3] = 0x14;
        let mut long = SEND_CFG2.to_vec();
        long.push(0);
        let cases: [(u16, &[u8]); 5] = [
            (4714, &SEND_CFG2),
            (4713, &version),
            (4713, &command),
            (4713, &size),
            (4713, &long),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&C37118, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
