//! CIP implicit (I/O) messaging, EtherNet/IP class 0/1 connections, on
//! UDP port 2222 (either side). Each datagram is a Common Packet Format
//! list: an item count of 2 (16-bit little-endian), an address item
//! (sequenced address 0x8002 of 8 bytes: connection id and sequence
//! number; or connected address 0x00a1 of 4), then a connected data item
//! (0x00b1) whose length takes the datagram exactly to its end.
//! Cleartext (CIP Security protects I/O with DTLS, which the DTLS
//! dissector takes first).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct CipIo;

const PORT: u16 = 2222;
const SEQUENCED_ADDRESS: u16 = 0x8002;
const CONNECTED_ADDRESS: u16 = 0x00a1;
const CONNECTED_DATA: u16 = 0x00b1;

fn le16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// The connection id when `d` is one I/O datagram.
fn io_datagram(d: &[u8]) -> Option<u32> {
    if le16(d, 0)? != 2 {
        return None;
    }
    let (kind, len) = (le16(d, 2)?, usize::from(le16(d, 4)?));
    let ok = matches!((kind, len), (SEQUENCED_ADDRESS, 8) | (CONNECTED_ADDRESS, 4));
    let id = d.get(6..10)?;
    let data = 6 + len;
    if !ok || le16(d, data)? != CONNECTED_DATA || data + 4 + usize::from(le16(d, data + 2)?) != d.len() {
        return None;
    }
    Some(u32::from_le_bytes([id[0], id[1], id[2], id[3]]))
}

impl Dissector for CipIo {
    fn name(&self) -> &'static str {
        "cip_io"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().first().is_none_or(|&b| b == 2) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the item count's low byte 2.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[2]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = p.first_payload();
        if d.is_empty() {
            return p.undecided();
        }
        let Some(id) = io_datagram(d) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("cip_io");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("cip_connection_id", format!("0x{id:08x}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // cip_io.pcap: a class 1 datagram (connection 0x003a7b78, sequence
    // 0x045ecbe8) with 12 bytes of connected data.
    const IO: [u8; 30] = [
        0x02, 0x00, 0x02, 0x80, 0x08, 0x00, 0x78, 0x7b, 0x3a, 0x00, 0xe8, 0xcb, 0x5e, 0x04, 0xb1, 0x00, 0x0c, 0x00,
        0x03, 0x00, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    ];

    #[test]
    fn io_datagram_with_sequenced_address() {
        let (r, m) = check_split_udp(&CipIo, PORT, PORT, &[&IO], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("cip_io"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("cip_connection_id"), Some("0x003a7b78"));
    }

    #[test]
    fn not_cip_io() {
        let mut count = IO;
        count[0] = 3;
        let mut address = IO;
        address[4] = 4;
        let mut data = IO;
        data[14] = 0xb2;
        let mut long = IO.to_vec();
        long.push(0);
        let cases: [(u16, &[u8]); 5] = [
            (2223, &IO),
            (PORT, &count),
            (PORT, &address),
            (PORT, &data),
            (PORT, &long),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&CipIo, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
