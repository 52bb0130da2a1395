//! Tuya's local protocol (TuyaLP), spoken by Tuya smart-home devices and
//! apps on the LAN: UDP discovery broadcasts on ports 6666/6667 and TCP
//! control on 6668 (any port accepted). A frame is the prefix
//! `00 00 55 aa`, a sequence number, a command, the length of what
//! follows (return code, payload, CRC-32 or HMAC, suffix), all 32-bit
//! big-endian, and ends with the suffix `00 00 aa 55`. The framing is in
//! clear; the 6667 broadcasts' payload is AES with a static key shipped
//! in every Tuya SDK, i.e. obfuscated, not confidential: cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Tuya;

const PREFIX: [u8; 4] = [0x00, 0x00, 0x55, 0xaa];
const SUFFIX: [u8; 4] = [0x00, 0x00, 0xaa, 0x55];
const HEADER: usize = 16;
/// Return code (answers) or nothing, the CRC and the suffix at least.
const LEAST_BODY: usize = 8;

/// `Some(Some((command, length)))` when `d` starts with one whole frame,
/// `Some(None)` for a prefix of one, `None` when it is not TuyaLP.
fn frame(d: &[u8]) -> Option<Option<(u32, usize)>> {
    if !agrees(d, &PREFIX) {
        return None;
    }
    let Some(h) = d.get(..HEADER) else {
        return Some(None);
    };
    let command = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    let len = usize::try_from(u32::from_be_bytes([h[12], h[13], h[14], h[15]])).ok()?;
    if command > 0xff || !(LEAST_BODY..=0x1_0000).contains(&len) {
        return None;
    }
    let end = HEADER + len;
    let Some(tail) = d.get(end - SUFFIX.len()..end) else {
        return Some(None);
    };
    (tail == SUFFIX).then_some(Some((command, end)))
}

impl Dissector for Tuya {
    fn name(&self) -> &'static str {
        "tuya_lp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if frame(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the frame prefix `00 00 55 aa` (`frame`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[PREFIX[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = match p.transport {
            Transport::Tcp => p.first_side().stream(),
            Transport::Udp => p.first_payload(),
        };
        if d.is_empty() {
            return p.undecided();
        }
        let command = match frame(d) {
            None => return Parse::NotMine,
            // A UDP datagram is whole: a cut frame is not TuyaLP.
            Some(None) if p.transport == Transport::Udp => return Parse::NotMine,
            Some(None) => return p.undecided(),
            // A datagram carries one frame, exactly.
            Some(Some((_, end))) if p.transport == Transport::Udp && end != d.len() => return Parse::NotMine,
            Some(Some((c, _))) => c,
        };
        meta.protocol = Some("tuya_lp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("tuya_command", command.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// A frame with command `cmd` and a `body`-byte payload.
    fn fixture(cmd: u8, body: usize) -> Vec<u8> {
        let mut f = PREFIX.to_vec();
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, cmd]);
        f.extend_from_slice(&u32::try_from(body + 12).unwrap_or(0).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend((0..body).map(|i| (i * 37 + 11) as u8));
        f.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        f.extend_from_slice(&SUFFIX);
        f
    }

    #[test]
    fn discovery_broadcast_and_tcp_control() {
        let d = fixture(0x13, 160);
        let (r, m) = check_split_udp(&Tuya, 49154, 6667, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tuya_lp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("tuya_command"), Some("19"));
        let c = fixture(0x0a, 32);
        let (r, m) = check_split_tcp(&Tuya, 6668, &c, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("tuya_command"), Some("10"));
    }

    #[test]
    fn not_tuya() {
        let good = fixture(0x13, 16);
        let mut bad_suffix = good.clone();
        let n = bad_suffix.len();
        bad_suffix[n - 1] = 0;
        let mut long = good.clone();
        long.push(0);
        let cut = &good[..good.len() - 1];
        let cases: [&[u8]; 4] = [&bad_suffix, &long, cut, &[0, 0, 0x55, 0xab, 0, 0, 0, 0]];
        for d in cases {
            let f = UdpFixture::new(49154, 6667, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Tuya, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
