//! FLUTE (RFC 6726): file delivery over ALC (RFC 5775), whose packets
//! carry the LCT header (RFC 5651), usually multicast, on any port. The
//! LCT header: version 1 (top four bits), the congestion-control field
//! size C, then the flags S, O (two bits), H (TSI and TOI sizes), T and
//! R (sender time and expected residual time present), A, B; HDR_LEN,
//! the header's length in 32-bit words; the codepoint. Then the CCI
//! (32 × (C + 1) bits), TSI (32 × S + 16 × H bits), TOI (32 × O + 16 × H
//! bits), the optional times, and header extensions up to HDR_LEN: an
//! extension type (HET) of 128 or more is 4 bytes, below that its HEL
//! byte gives its length in words (at least one). The FEC payload id and
//! the encoding symbols follow.
//!
//! The check: two datagrams of the first side to speak whose headers
//! parse so, their extensions ending exactly at HDR_LEN, with something
//! after the header, and the same CCI size and TSI. FLUTE's file
//! delivery table (TOI 0) is XML (`fdt_seen` in extra when its
//! `<?xml` shows). Cleartext: the files are sent as they are.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Flute;

/// TSI and TOI, and where the payload (FEC payload id) starts.
fn lct(d: &[u8]) -> Option<(u64, u64, usize, u8)> {
    let (&b0, &b1, &hdr, &_cp) = (d.first()?, d.get(1)?, d.get(2)?, d.get(3)?);
    if b0 >> 4 != 1 {
        return None;
    }
    let c = usize::from((b0 >> 2) & 3);
    let s = usize::from(b1 >> 7);
    let o = usize::from((b1 >> 5) & 3);
    let h = usize::from((b1 >> 4) & 1);
    let (t, r) = (usize::from((b1 >> 3) & 1), usize::from((b1 >> 2) & 1));
    if o == 3 {
        return None;
    }
    let hdr = 4 * usize::from(hdr);
    let cci = 4 * (c + 1);
    let tsi_len = 4 * s + 2 * h;
    let toi_len = 4 * o + 2 * h;
    let fixed = 4 + cci + tsi_len + toi_len + 4 * t + 4 * r;
    if tsi_len == 0 || hdr < fixed || hdr >= d.len() {
        return None;
    }
    let num = |at: usize, n: usize| d[at..at + n].iter().fold(0u64, |a, &b| a << 8 | u64::from(b));
    let tsi = num(4 + cci, tsi_len);
    let toi = num(4 + cci + tsi_len, toi_len.min(8));
    let mut off = fixed;
    while off < hdr {
        let het = d[off];
        let len = if het >= 128 {
            4
        } else {
            4 * usize::from(*d.get(off + 1)?)
        };
        if len == 0 {
            return None;
        }
        off += len;
    }
    (off == hdr).then_some((tsi, toi, hdr, b0 & 0x0c))
}

impl Dissector for Flute {
    fn name(&self) -> &'static str {
        "flute"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if lct(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only LCT version 1 in the high nibble (`lct`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x10, 0x1f))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let mut chunks = p.first_side().chunks();
        let Some(first) = chunks.next() else {
            return p.undecided();
        };
        let Some((tsi, _, _, cci)) = lct(first) else {
            return Parse::NotMine;
        };
        let Some(second) = chunks.next() else {
            return p.undecided();
        };
        match lct(second) {
            Some((t, _, _, c)) if t == tsi && c == cci => {}
            _ => return Parse::NotMine,
        }
        meta.protocol = Some("flute");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("flute_tsi", tsi.to_string());
        // The FDT (TOI 0): the FEC payload id, then XML.
        let fdt = p
            .first_side()
            .chunks()
            .take(4)
            .filter_map(|d| Some((d, lct(d)?)))
            .any(|(d, (_, toi, hdr, _))| {
                toi == 0
                    && d.get(hdr..)
                        .is_some_and(|b| b.windows(5).take(16).any(|w| w == b"<?xml"))
            });
        if fdt {
            meta.set_extra("fdt_seen", "true");
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// flute.pcapng, 192.168.88.231:40717 → 238.1.1.95:40085: the FDT
    /// (TOI 0, EXT_FDT and EXT_FTI extensions, then the XML, cut short)
    /// and an object packet (TOI 1, "Hello World!\n").
    const FDT: &str = "10100800 00000000 0000 0000 c0100002 40040000 00000236 0000059c 00000040 00000000
                       3c3f786d6c2076657273696f6e3d22312e30223f3e0a";
    const OBJECT: &str = "10100300 00000000 0000 0001 00000000 48656c6c6f20576f726c64210a";

    #[test]
    fn session() {
        let (a, b) = (unhex(FDT), unhex(OBJECT));
        let (r, m) = check_split_udp(&Flute, 40717, 40085, &[&a, &b], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("flute"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("fdt_seen"), Some("true"));
        assert_eq!(m.extra("flute_tsi"), Some("0"));
        // One datagram waits.
        let f = UdpFixture::new(40717, 40085, &[&a], &[]);
        assert_eq!(Flute.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_flute() {
        let (a, b) = (unhex(FDT), unhex(OBJECT));
        let mut version = b.clone();
        version[0] = 0x20;
        let mut hdr_len = a.clone();
        hdr_len[2] = 7;
        let mut ext = a.clone();
        ext[17] = 0x05;
        let mut tsi = b.clone();
        tsi[9] = 1;
        let mut no_tsi = b.clone();
        no_tsi[1] = 0;
        let cases = [
            (&a, &version),
            (&hdr_len, &b),
            (&ext, &b),
            (&a, &tsi),
            (&a, &no_tsi),
            (&a, &b[..12].to_vec()),
        ];
        for (x, y) in cases {
            let f = UdpFixture::new(40717, 40085, &[x, y], &[]);
            let mut p = f.payloads();
            p.last = true;
            assert!(!crate::dissect::not_refused(&Flute, &p));
        }
    }
}
