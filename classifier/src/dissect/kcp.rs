//! KCP, the ARQ protocol used by games and tunnels over UDP (any port).
//! A datagram is one or more segments, each a 24-byte header (all
//! little-endian: conversation id u32, command u8 — 81 push, 82 ack,
//! 83 window probe, 84 window answer —, fragment u8, window u16,
//! timestamp u32, sequence u32, unacknowledged u32, data length u32)
//! followed by that many data bytes. The segments must share the
//! conversation id and fill the datagram exactly. KCP itself does not
//! encrypt (a tunnel may encrypt around it, and then this does not
//! match): cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Kcp;

const HEADER: usize = 24;
const PUSH: u8 = 81;
const WINDOW_ANSWER: u8 = 84;

/// The first segment's command when `d` is one whole KCP datagram.
fn datagram(d: &[u8]) -> Option<u8> {
    let conv = d.get(..4)?;
    let first = *d.get(4)?;
    let mut off = 0usize;
    while off < d.len() {
        let h = d.get(off..off + HEADER)?;
        if &h[..4] != conv || !(PUSH..=WINDOW_ANSWER).contains(&h[4]) {
            return None;
        }
        let len = usize::try_from(u32::from_le_bytes([h[20], h[21], h[22], h[23]])).ok()?;
        // Only a push carries data.
        if len > 0 && h[4] != PUSH {
            return None;
        }
        off = off.checked_add(HEADER)?.checked_add(len)?;
    }
    (off == d.len()).then_some(first)
}

impl Dissector for Kcp {
    fn name(&self) -> &'static str {
        "kcp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if datagram(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(cmd) = datagram(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("kcp");
        meta.encryption = Encryption::Cleartext;
        let name = match cmd {
            PUSH => "push",
            82 => "ack",
            83 => "window_probe",
            _ => "window_answer",
        };
        meta.set_extra("kcp_command", name);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn segment(cmd: u8, sn: u8, data: &[u8]) -> Vec<u8> {
        let mut s = vec![0x0a, 0, 0, 0, cmd, 0, 0x80, 0, 0x14, 0, 0, 0, sn, 0, 0, 0, 0, 0, 0, 0];
        s.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_le_bytes());
        s.extend_from_slice(data);
        s
    }

    #[test]
    fn push_and_acks() {
        let data: Vec<u8> = (0..=255u8).collect();
        let push = segment(PUSH, 0, &data);
        let mut acks = segment(82, 0, &[]);
        acks.extend_from_slice(&segment(82, 1, &[]));
        let (r, m) = check_split_udp(&Kcp, 47356, 8000, &[&push], &[&acks]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("kcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("kcp_command"), Some("push"));
        let (_, m) = check_split_udp(&Kcp, 8000, 47356, &[&acks], &[]);
        assert_eq!(m.extra("kcp_command"), Some("ack"));
    }

    #[test]
    fn not_kcp() {
        let push = segment(PUSH, 0, b"abcd");
        let mut long = push.clone();
        long.push(0);
        let mut other_conv = push.clone();
        let mut second = segment(82, 0, &[]);
        second[0] = 0x0b;
        other_conv.extend_from_slice(&second);
        let ack_with_data = segment(82, 0, b"abcd");
        let cases: [&[u8]; 5] = [
            &push[..push.len() - 1],
            &long,
            &other_conv,
            &ack_with_data,
            &segment(85, 0, &[]),
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 8000, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Kcp, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
