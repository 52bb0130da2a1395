//! DNP3 (IEEE 1815), the SCADA protocol, on port 20000 (either side; TCP
//! or UDP). Every link-layer frame starts with a 10-byte header: the
//! start bytes `05 64`, a length (5..=255: control, addresses and user
//! data, CRCs not counted), a control byte (bit 7 DIR set on frames from
//! the master, bit 6 PRM on primary frames, low nibble the function),
//! destination and source addresses (16-bit little-endian) and the
//! header CRC. Cleartext (Secure Authentication only adds MACs).

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Dnp3;

const PORT: u16 = 20000;
const START: [u8; 2] = [0x05, 0x64];
const HEADER: usize = 10;

/// `Some(Some(control))` for a whole frame header at the start of `d`,
/// `Some(None)` for a prefix of one, `None` when it is not DNP3.
fn header(d: &[u8]) -> Option<Option<u8>> {
    if !agrees(d, &START) {
        return None;
    }
    if let Some(&len) = d.get(2) {
        if len < 5 {
            return None;
        }
    }
    Some(d.get(..HEADER).map(|h| h[3]))
}

impl Dissector for Dnp3 {
    fn name(&self) -> &'static str {
        "dnp3"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && header(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the first start byte 0x05 (`header`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[START[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = match p.transport {
            Transport::Tcp => p.first_side().stream(),
            Transport::Udp => p.first_payload(),
        };
        if d.is_empty() {
            return p.undecided();
        }
        let control = match header(d) {
            None => return Parse::NotMine,
            Some(None) if p.transport == Transport::Udp => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(c)) => c,
        };
        meta.protocol = Some("dnp3");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("dnp3_from", if control & 0x80 != 0 { "master" } else { "outstation" });
        meta.set_extra("dnp3_link_function", (control & 0x0f).to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    #[test]
    fn link_status_and_read() {
        // Outstation's link status request, then a master's read.
        let status = [
            0x05u8, 0x64, 0x0a, 0x44, 0x03, 0x00, 0x04, 0x00, 0x7c, 0xae, 0xe6, 0xf7, 0x82, 0x10, 0x00, 0x4f, 0xbd,
        ];
        let (r, m) = check_split_tcp(&Dnp3, PORT, &status, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dnp3"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dnp3_from"), Some("outstation"));
        assert_eq!(m.extra("dnp3_link_function"), Some("4"));
        let read = [
            0x05u8, 0x64, 0x08, 0xc4, 0x04, 0x00, 0x03, 0x00, 0xb4, 0xb8, 0xc0, 0xd7, 0x00, 0x7a, 0xce,
        ];
        let (r, m) = check_split_udp(&Dnp3, 40000, PORT, &[&read], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("dnp3_from"), Some("master"));
    }

    #[test]
    fn not_dnp3() {
        let read = [0x05u8, 0x64, 0x08, 0xc4, 0x04, 0x00, 0x03, 0x00, 0xb4, 0xb8];
        let cases: [(u16, &[u8]); 4] = [
            (2404, &read),
            (PORT, &[0x05, 0x65, 0x08, 0xc4, 0x04, 0x00, 0x03, 0x00, 0xb4, 0xb8]),
            (PORT, &[0x05, 0x64, 0x04, 0xc4, 0x04, 0x00, 0x03, 0x00, 0xb4, 0xb8]),
            (PORT, &read[..6]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Dnp3, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
