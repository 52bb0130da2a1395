//! Saia-Burgess Ether-S-I/O, the remote I/O protocol of Saia PCD
//! controllers, over UDP (6060 usually; the port is not used). Every
//! datagram opens with the ASCII magic `ESIO`, a 16-bit message type and
//! a 32-bit big-endian length that counts the whole datagram; the I/O
//! data follow. The check: the magic, a type of 1..=255 and the length
//! equal to the datagram's, on the first datagram of whoever spoke
//! first. Cleartext: the I/O images are plain.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct EtherSio;

const MAGIC: &[u8] = b"ESIO";
const HEADER: usize = 10;

/// The message type of a whole Ether-S-I/O datagram.
fn message(d: &[u8]) -> Option<u16> {
    if d.len() < HEADER || !d.starts_with(MAGIC) {
        return None;
    }
    let kind = u16::from_be_bytes([d[4], d[5]]);
    let len = u32::from_be_bytes([d[6], d[7], d[8], d[9]]);
    ((1..=255).contains(&kind) && usize::try_from(len).ok() == Some(d.len())).then_some(kind)
}

impl Dissector for EtherSio {
    fn name(&self) -> &'static str {
        "ethersio"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.first_payload().starts_with(MAGIC) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the magic `ESIO`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"E"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(kind) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("ethersio");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ethersio_type", kind.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// ethersio.pcap, 172.23.2.27:1024 → 172.23.2.15:6060: a 49-byte
    /// type-1 message.
    const MSG: &str =
        "4553494f 0001 00000031 7616000000180000000d01000000005c00000001001100000b30000000000000000000000000ff";

    #[test]
    fn io_message() {
        let d = unhex(MSG);
        assert_eq!(d.len(), 49);
        let (r, m) = check_split_udp(&EtherSio, 1024, 6060, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ethersio"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ethersio_type"), Some("1"));
    }

    #[test]
    fn not_ethersio() {
        let d = unhex(MSG);
        let mut len = d.clone();
        len[9] = 0x30;
        let mut kind = d.clone();
        kind[4] = 1;
        let mut magic = d.clone();
        magic[3] = b'P';
        let cases: [&[u8]; 4] = [&len, &kind, &magic, &d[..HEADER]];
        for c in cases {
            let f = UdpFixture::new(1024, 6060, &[c], &[]);
            assert!(!crate::dissect::not_refused(&EtherSio, &f.payloads()), "{c:?}");
        }
    }
}
