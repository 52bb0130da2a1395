//! LINE voice and video calls over UDP (no published specification; the
//! shape below is what line.pcap's three calls to LINE's media servers,
//! 125.209.x and 147.92.x, show in both directions). Each datagram
//! opens with a 6-byte header: a first byte 0xD0..=0xDF, a second byte,
//! a big-endian 16-bit packet counter of its own per direction that
//! advances by exactly one per datagram, and two bytes that are `06 02`
//! on the first datagram of each direction (a fixed-size opening carrying
//! a 16-byte id). Plain RTP/RTCP datagrams (version 2) are interleaved on
//! the same 5-tuple and are passed over (they do not advance the counter).
//!
//! The check: each side's first such datagram carries `06 02`, one side
//! shows `MIN_RUN` of them with consecutive counters (the caller's
//! burst often fills the inspection budget before the answer's second
//! datagram), the other's continue its own counter, the two sides'
//! counters are not the same sequence, and nothing else is on the flow.
//! A random flow passes with odds well under 2^-64. Encrypted:
//! past the header and the opening's id, the bodies are uniformly random
//! bytes (no codec frame or RTP structure inside), as LINE's end-to-end
//! encrypted calls would be; the app is LINE.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct LineCall;

const HEADER: usize = 6;
/// Datagrams with consecutive counters needed per direction.
const MIN_RUN: usize = 4;
const OPENING: [u8; 2] = [0x06, 0x02];

fn is_call(d: &[u8]) -> bool {
    d.len() >= HEADER && d[0] & 0xf0 == 0xd0
}

fn counter(d: &[u8]) -> u16 {
    u16::from_be_bytes([d[2], d[3]])
}

/// One direction: `Err(())` when it cannot be a LINE call, else the
/// first counter and how many consecutive call datagrams it holds.
fn side(s: Side<'_>) -> Result<Option<(u16, usize)>, ()> {
    let mut first: Option<u16> = None;
    let mut n = 0usize;
    for d in s.chunks() {
        if d.first().is_some_and(|b| b >> 6 == 2) {
            continue;
        }
        if !is_call(d) {
            return Err(());
        }
        match first {
            None if d[4..6] == OPENING => first = Some(counter(d)),
            None => return Err(()),
            Some(c) if counter(d) == c.wrapping_add(n as u16) => {}
            Some(_) => return Err(()),
        }
        n += 1;
    }
    Ok(first.map(|c| (c, n)))
}

impl Dissector for LineCall {
    fn name(&self) -> &'static str {
        "line_call"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if is_call(d) && d[4..6] == OPENING {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a high nibble 0xd (`is_call`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0xd0, 0xdf))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (Ok(o), Ok(r)) = (side(p.orig), side(p.resp)) else {
            return Parse::NotMine;
        };
        match (o, r) {
            (Some((a, n)), Some((b, m))) if n.max(m) >= MIN_RUN => {
                if a == b {
                    return Parse::NotMine;
                }
                meta.protocol = Some("line_call");
                meta.encryption = Encryption::Encrypted;
                meta.app = Some("line".to_string());
                Parse::Done
            }
            _ => p.undecided(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// line.pcap, 10.200.3.125:51170 → 147.92.169.90:29070: the headers
    /// and first body bytes as captured, the bodies cut short.
    const ORIG: [&str; 5] = [
        "d89c00720602 e7547cdbfb1d3bdf56fb00c5f6345fadbd3802f74ca9781b",
        "d0800073186e cff0a49f1007b67f275486f16b915dcef017503611ac2d6f",
        "d0800074186e f3c1165902f82f52db7ea2436274466f4d67d6c29ed25bc7",
        "d0800075186e 45b417634f1ece643d4f146f9cf22db22f0c368ea2f28ab1",
        "d0800076186e 93b7ba152556d8d568b119ff773e9fed139e8ea5c67a671c",
    ];
    const RESP: [&str; 5] = [
        "d8d002090602 0488275208be709a481f3a34a4a1f63287f8000000000000",
        "d098020a1886 58b0e10b298f3a203b18e8a150aa8af744e4adca85c2e965",
        "d098020b1886 2949027adbf733b2146a22632c7b7cfe9c15b484b8e691fa",
        "d098020c1886 ad9850a2a9a98dfba0e8d7ca2c31b079e83551b02d288459",
        "d098020d1886 98f13c6635407ccd439bf94add3bb24691f6550726f42b93",
    ];

    fn dgrams(h: &[&str]) -> Vec<Vec<u8>> {
        h.iter().map(|s| unhex(s)).collect()
    }

    #[test]
    fn call() {
        let (o, r) = (dgrams(&ORIG), dgrams(&RESP));
        let o: Vec<&[u8]> = o.iter().map(Vec::as_slice).collect();
        let r: Vec<&[u8]> = r.iter().map(Vec::as_slice).collect();
        let (v, m) = check_split_udp(&LineCall, 51170, 29070, &o, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("line_call"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.app.as_deref(), Some("line"));
        // RTP interleaved on the 5-tuple is passed over (line.pcap's
        // 50835 → 20610 call).
        let rtp = unhex("80e5000100003ab209bda678d717f7bd685bcad84cff42");
        let mixed = [o[0], o[1], &rtp, o[2], o[3]];
        let (v, _) = check_split_udp(&LineCall, 51170, 29070, &mixed, &r[..4]);
        assert_eq!(v, Parse::Done);
        // Four on one side and the answer's opening are enough (line.pcap's
        // 51161 → 29070 caller sends 12 before the second answer); three
        // and three are not yet, nor is one side alone.
        let (v, _) = check_split_udp(&LineCall, 51170, 29070, &o[..4], &r[..1]);
        assert_eq!(v, Parse::Done);
        let f = UdpFixture::new(51170, 29070, &o[..3], &r[..3]);
        assert_eq!(LineCall.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let f = UdpFixture::new(51170, 29070, &o, &[]);
        assert_eq!(LineCall.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_a_call() {
        let (o, r) = (dgrams(&ORIG), dgrams(&RESP));
        let mut gap = o.clone();
        gap[2][3] = 0x75;
        let mut no_opening = o.clone();
        no_opening[0][5] = 0x03;
        let mut other_byte = o.clone();
        other_byte[1][0] = 0xe0;
        let mut same = r.clone();
        for (i, d) in same.iter_mut().enumerate() {
            d[2] = 0;
            d[3] = 0x72 + i as u8;
        }
        let cases = [(&gap, &r), (&no_opening, &r), (&other_byte, &r), (&o, &same)];
        for (a, b) in cases {
            let a: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
            let b: Vec<&[u8]> = b.iter().map(Vec::as_slice).collect();
            let f = UdpFixture::new(51170, 29070, &a, &b);
            let mut p = f.payloads();
            p.last = true;
            assert!(!crate::dissect::not_refused(&LineCall, &p));
        }
    }
}
