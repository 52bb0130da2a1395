//! BFD, Bidirectional Forwarding Detection (RFC 5880), control packets
//! on UDP port 3784 (single hop, RFC 5881), 4784 (multihop, RFC 5883)
//! or 6784 (LAG members, RFC 7130), either side. The 24-byte mandatory
//! section: version 1 in the top three bits and a diagnostic 0..=8, the
//! state in the top two bits of the next byte and flags (the multipoint
//! bit zero), a non-zero detect multiplier, the packet length (24, or
//! more with the authentication bit and section), a non-zero local
//! discriminator, then the remote discriminator and three intervals.
//! Echo packets (port 3785) have no defined format and are left out.
//! Authentication is a password or a digest, never encryption:
//! cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Bfd;

const PORTS: [u16; 3] = [3784, 4784, 6784];
const MANDATORY: usize = 24;
const AUTH_BIT: u8 = 0x04;
const MULTIPOINT: u8 = 0x01;

/// The session state when `d` is one whole BFD control packet.
fn state(d: &[u8]) -> Option<&'static str> {
    let h = d.get(..MANDATORY)?;
    let (version, diag) = (h[0] >> 5, h[0] & 0x1f);
    let flags = h[1] & 0x3f;
    let len = usize::from(h[3]);
    let ok = version == 1
        && diag <= 8
        && flags & MULTIPOINT == 0
        && h[2] != 0
        && h[4..8] != [0, 0, 0, 0]
        && len == d.len()
        && (len == MANDATORY) == (flags & AUTH_BIT == 0);
    let names = ["admin_down", "down", "init", "up"];
    ok.then(|| names[usize::from(h[1] >> 6)])
}

impl Dissector for Bfd {
    fn name(&self) -> &'static str {
        "bfd"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if PORTS.iter().any(|&x| p.port(x)) && state(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits version 1 with a diagnostic 0..=8 (`state`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x20, 0x28))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !PORTS.iter().any(|&x| p.port(x)) {
            return Parse::NotMine;
        }
        let Some(s) = state(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("bfd");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("bfd_state", s);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    const DOWN: [u8; 24] = [
        0x20, 0x40, 0x03, 0x18, 0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x07,
        0xa1, 0x20,
    ];

    #[test]
    fn control_packets() {
        let (r, m) = check_split_udp(&Bfd, 49152, 3784, &[&DOWN], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("bfd"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("bfd_state"), Some("down"));
        // Up, with simple password authentication (type 1, len 7, key 1, "abcd").
        let mut up = DOWN;
        up[1] = 0xc0 | AUTH_BIT;
        up[3] = 31;
        let mut up = up.to_vec();
        up.extend_from_slice(&[1, 7, 1, b'a', b'b', b'c', b'd']);
        let (r, m) = check_split_udp(&Bfd, 49152, 4784, &[&up], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("bfd_state"), Some("up"));
    }

    #[test]
    fn not_bfd() {
        let mut v0 = DOWN;
        v0[0] = 0x00;
        let mut no_disc = DOWN;
        no_disc[7] = 0;
        let mut auth_short = DOWN;
        auth_short[1] |= AUTH_BIT;
        let cases: [(u16, &[u8]); 5] = [
            (3785, &DOWN),
            (3784, &v0),
            (3784, &no_disc),
            (3784, &auth_short),
            (3784, &DOWN[..23]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(49152, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Bfd, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
