//! NTP (RFC 5905) on UDP port 123 (either side): versions 1..=4.
//! Modes 1..=5 are 48-byte packets, possibly followed by a key id and MAC
//! (RFC 1305: 20 bytes; 24 with SHA-1) or NTPv4 extension fields; modes
//! 6 (control, ntpq) and 7 (private, ntpdc) have their own headers.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ntp;

const PORT: u16 = 123;
const BASE: usize = 48;
const MAX_LEN: usize = 1024;

/// (version, mode) when `d` is a plausible NTP packet.
fn packet(d: &[u8]) -> Option<(u8, u8)> {
    let b0 = *d.first()?;
    let version = (b0 >> 3) & 7;
    let mode = b0 & 7;
    if !(1..=4).contains(&version) || d.len() > MAX_LEN {
        return None;
    }
    let ok = match mode {
        1..=5 => {
            let stratum = *d.get(1)?;
            let poll = *d.get(2)? as i8;
            let precision = *d.get(3)? as i8;
            let size_ok = d.len() == BASE || d.len() >= BASE + 20 && (d.len() - BASE).is_multiple_of(4);
            // Root delay and root dispersion (16.16 seconds) stay below
            // 16 s; precision is a small negative power of two (or 0).
            let roots_ok = *d.get(4)? < 0x10 && *d.get(8)? < 0x10;
            size_ok && stratum <= 16 && (-8..=17).contains(&poll) && (-32..=0).contains(&precision) && roots_ok
        }
        6 => {
            // Control: R/E/M + opcode, sequence, status, assoc id,
            // offset, count, then `count` bytes of data padded to 4,
            // possibly followed by a key id and MAC.
            let opcode = d.get(1)? & 0x1f;
            let count = usize::from(u16::from_be_bytes([*d.get(10)?, *d.get(11)?]));
            let pad = d.len().checked_sub(12 + count)?;
            (1..=31).contains(&opcode) && count <= 468 && (pad < 4 || (20..28).contains(&pad))
        }
        7 => {
            // Private (ntpdc): R/M/version/mode, A/sequence,
            // implementation (0, 2 or 3), request code, err/nitems,
            // mbz/itemsize, data.
            let implementation = *d.get(2)?;
            let err = d.get(4)? >> 4;
            let nitems = usize::from(u16::from_be_bytes([*d.get(4)?, *d.get(5)?]) & 0x0fff);
            let mbz = d.get(6)? >> 4;
            let itemsize = usize::from(u16::from_be_bytes([*d.get(6)?, *d.get(7)?]) & 0x0fff);
            matches!(implementation, 0 | 2 | 3) && err <= 7 && mbz == 0 && 8 + nitems * itemsize <= d.len()
        }
        _ => false,
    };
    ok.then_some((version, mode))
}

fn mode_name(m: u8) -> &'static str {
    [
        "reserved",
        "symmetric_active",
        "symmetric_passive",
        "client",
        "server",
        "broadcast",
        "control",
        "private",
    ][usize::from(m & 7)]
}

/// The first bytes `packet` admits: any leap indicator, version 1..=4,
/// mode 1..=7.
const FIRST: ByteSet = {
    let mut s = ByteSet::of(&[]);
    let mut b = 0usize;
    while b < 256 {
        let (version, mode) = ((b >> 3) & 7, b & 7);
        if matches!(version, 1..=4) && mode >= 1 {
            s = s.with(b as u8);
        }
        b += 1;
    }
    s
};

impl Dissector for Ntp {
    fn name(&self) -> &'static str {
        "ntp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let first = p.first_payload();
        if p.port(PORT) && packet(first).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// `packet` admits versions 1..=4 and modes 1..=7 (`FIRST`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(FIRST)
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let first = p.first_payload();
        let Some((version, mode)) = packet(first) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("ntp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ntp_version", version.to_string());
        meta.set_extra("ntp_mode", mode_name(mode));
        let answered = !p.orig.is_empty() && p.resp.chunks().next().and_then(packet).is_some();
        if answered {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn pkt(version: u8, mode: u8, stratum: u8) -> Vec<u8> {
        let mut v = vec![0u8; BASE];
        v[0] = version << 3 | mode;
        v[1] = stratum;
        v[2] = 6;
        v[3] = 0xe9;
        v[40..48].copy_from_slice(&[0xe9, 0x8f, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
        v
    }

    #[test]
    fn client_server() {
        let (r, m) = check_split_udp(&Ntp, 50123, 123, &[&pkt(4, 3, 0)], &[&pkt(4, 4, 2)]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ntp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ntp_version"), Some("4"));
        assert_eq!(m.extra("ntp_mode"), Some("client"));
        let mut mac = pkt(3, 3, 0);
        mac.extend_from_slice(&[0; 20]);
        let (r, _) = check_split_udp(&Ntp, 123, 123, &[&mac], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn private_and_control_modes() {
        // ntpdc monlist reply: 5 items of 72 bytes.
        let mut mon = vec![0x97, 0x0e, 3, 42, 0x00, 0x05, 0x00, 0x48];
        mon.resize(8 + 5 * 72, 0x11);
        let (r, m) = check_split_udp(&Ntp, 123, 40000, &[&mon], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("ntp_mode"), Some("private"));
        mon.truncate(8 + 4 * 72);
        let (r, _) = check_split_udp(&Ntp, 123, 40000, &[&mon], &[]);
        assert_eq!(r, Parse::NotMine);
        // ntpq READVAR request, no data.
        let rv = [0x16u8, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let (r, m) = check_split_udp(&Ntp, 40000, 123, &[&rv], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("ntp_mode"), Some("control"));
    }

    #[test]
    fn not_ntp() {
        // Off port, wrong size, version 0, stratum 200, control with a
        // count past the end.
        let mut ctl = vec![0x16, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 50];
        ctl.extend_from_slice(&[0; 10]);
        let cases: [(u16, Vec<u8>); 5] = [
            (9999, pkt(4, 3, 0)),
            (123, pkt(4, 3, 0)[..47].to_vec()),
            (123, pkt(0, 3, 0)),
            (123, pkt(4, 4, 200)),
            (123, ctl),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[&d], &[]);
            let claimed = crate::dissect::not_refused(&Ntp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
