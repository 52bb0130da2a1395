//! KNXnet/IP (ISO 22510, KNX standard vol. 3/8) on port 3671 (either
//! side; UDP or TCP). Every frame starts with a 6-byte header: header
//! length 6, protocol version 0x10, a 16-bit service type from the
//! families the standard defines (core 0x02xx, device management
//! 0x03xx, tunnelling 0x04xx, routing 0x05xx, remote diagnosis 0x07xx,
//! KNX IP Secure 0x09xx) and the 16-bit total length of the frame,
//! header included. A UDP datagram is exactly one frame; on TCP the
//! first frame must be whole.
//!
//! Cleartext, except KNX IP Secure: a secure session (0x0951..0x0954)
//! or secure wrapper (0x0950) carries AES-CCM protected frames, so such
//! a flow is encrypted.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct KnxIp;

const PORT: u16 = 3671;
const HEADER: usize = 6;
const VERSION: u8 = 0x10;

fn known_service(s: u16) -> bool {
    matches!(
        s,
        0x0201..=0x020c
            | 0x0310..=0x0311
            | 0x0420..=0x0425
            | 0x0530..=0x0533
            | 0x0740..=0x0743
            | 0x0950..=0x0955
    )
}

/// What the start of `d` says: `None` not KNXnet/IP, `Some(None)` a
/// prefix of a header or frame, `Some(Some((service, len)))` a whole
/// first frame of `len` bytes.
fn frame(d: &[u8]) -> Option<Option<(u16, usize)>> {
    let want = [HEADER as u8, VERSION];
    let n = d.len().min(2);
    if d[..n] != want[..n] {
        return None;
    }
    if let Some(s) = d.get(2..4) {
        if !known_service(u16::from_be_bytes([s[0], s[1]])) {
            return None;
        }
    }
    let Some(h) = d.get(..HEADER) else {
        return Some(None);
    };
    let service = u16::from_be_bytes([h[2], h[3]]);
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if len < HEADER {
        return None;
    }
    Some((d.len() >= len).then_some((service, len)))
}

impl Dissector for KnxIp {
    fn name(&self) -> &'static str {
        "knxnet_ip"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && frame(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the header length 6 (`frame`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[HEADER as u8]))
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
        let (service, len) = match frame(d) {
            None => return Parse::NotMine,
            Some(None) if p.transport == Transport::Udp => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(f)) => f,
        };
        // A datagram is one frame, exactly.
        if p.transport == Transport::Udp && len != d.len() {
            return Parse::NotMine;
        }
        meta.protocol = Some("knxnet_ip");
        meta.encryption = if service & 0xff00 == 0x0900 {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        meta.set_extra("knxip_service", format!("0x{service:04x}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // knxip.pcapng: an extended search request to the multicast group,
    // and a server's two tunnelling feature frames in one TCP segment.
    const SEARCH: [u8; 20] = [
        0x06, 0x10, 0x02, 0x0b, 0x00, 0x14, 0x08, 0x01, 0xc0, 0xa8, 0x58, 0xe7, 0xa1, 0x7f, 0x06, 0x04, 0x01, 0x02,
        0x06, 0x07,
    ];
    const FEATURES: [u8; 28] = [
        0x06, 0x10, 0x04, 0x23, 0x00, 0x0e, 0x04, 0x01, 0x02, 0x00, 0x06, 0x00, 0x10, 0x87, 0x06, 0x10, 0x04, 0x25,
        0x00, 0x0e, 0x04, 0x01, 0x03, 0x00, 0x06, 0x00, 0x10, 0x87,
    ];

    #[test]
    fn search_and_tunnelling() {
        let (r, m) = check_split_udp(&KnxIp, 41343, PORT, &[&SEARCH], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("knxnet_ip"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("knxip_service"), Some("0x020b"));
        let (r, m) = check_split_tcp(&KnxIp, PORT, &FEATURES, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("knxip_service"), Some("0x0423"));
    }

    #[test]
    fn secure_session_is_encrypted() {
        // A secure wrapper: header, session id, sequence, serial, tag,
        // then the AES-CCM protected frame and MAC.
        let mut d = vec![0x06u8, 0x10, 0x09, 0x50, 0x00, 0x00];
        d.extend_from_slice(&[0x5a; 44]);
        d[5] = d.len() as u8;
        let (r, m) = check_split_udp(&KnxIp, 50000, PORT, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_knxip() {
        let mut long = SEARCH.to_vec();
        long.push(0);
        let mut service = SEARCH;
        service[3] = 0x0d;
        let mut version = SEARCH;
        version[1] = 0x20;
        let cases: [(u16, &[u8]); 5] = [
            (3672, &SEARCH),
            (PORT, &long),
            (PORT, &service),
            (PORT, &version),
            (PORT, &SEARCH[..10]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&KnxIp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
