//! MPEG transport stream (ISO/IEC 13818-1) over UDP, on any port (IPTV
//! multicast; RTP-wrapped streams are left to the RTP dissector): a
//! datagram is whole 188-byte packets, one to seven, each opening with
//! the sync byte 0x47, with a PID other than the reserved 0x0002..=0x000f
//! and adaptation field control not 0 (reserved). Cleartext, unless the
//! transport scrambling control bits of a packet say its payload is
//! scrambled (conditional access), which makes the flow encrypted.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct MpegTs;

const PACKET: usize = 188;
const SYNC: u8 = 0x47;

/// `Some(scrambled)` when `d` is whole transport stream packets.
fn packets(d: &[u8]) -> Option<bool> {
    if d.is_empty() || !d.len().is_multiple_of(PACKET) || d.len() > 7 * PACKET {
        return None;
    }
    let mut scrambled = false;
    for p in d.chunks_exact(PACKET) {
        let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
        if p[0] != SYNC || (0x0002..=0x000f).contains(&pid) || p[3] & 0x30 == 0 {
            return None;
        }
        scrambled |= p[3] & 0xc0 != 0;
    }
    Some(scrambled)
}

impl Dissector for MpegTs {
    fn name(&self) -> &'static str {
        "mpeg_ts"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.first_payload().first().is_none_or(|&b| b == SYNC) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the sync byte 0x47.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[SYNC]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        if d.is_empty() {
            return p.undecided();
        }
        let Some(scrambled) = packets(d) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("mpeg_ts");
        meta.encryption = if scrambled {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// Packets shaped like mpegts.pcap's first datagram: PID 0x0101,
    /// payload only, continuity counters counting up; the payload bytes
    /// are filler.
    fn stream(n: usize, scramble: u8) -> Vec<u8> {
        let mut d = Vec::new();
        for i in 0..n {
            let mut p = vec![SYNC, 0x01, 0x01, scramble << 6 | 0x10 | (i as u8 & 0x0f)];
            p.resize(PACKET, 0x5a);
            d.extend_from_slice(&p);
        }
        d
    }

    #[test]
    fn seven_packets() {
        let d = stream(7, 0);
        let (r, m) = check_split_udp(&MpegTs, 40737, 1234, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("mpeg_ts"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        let d = stream(2, 2);
        let (_, m) = check_split_udp(&MpegTs, 40737, 1234, &[&d], &[]);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_mpeg_ts() {
        let mut sync = stream(3, 0);
        sync[PACKET] = 0x48;
        let mut afc = stream(1, 0);
        afc[3] = 0;
        let mut pid = stream(1, 0);
        pid[1..3].copy_from_slice(&[0, 5]);
        let mut short = stream(1, 0);
        short.pop();
        let cases: [&[u8]; 5] = [&sync, &afc, &pid, &short, &stream(8, 0)];
        for d in cases {
            let f = UdpFixture::new(40000, 1234, &[d], &[]);
            let claimed = crate::dissect::not_refused(&MpegTs, &f.payloads());
            assert!(!claimed, "{}", d.len());
        }
    }
}
