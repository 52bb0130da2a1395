//! RTP and RTCP (RFC 3550) on UDP, on any port (media ports are
//! negotiated elsewhere, e.g. in SDP), and over TCP framed as RFC 4571
//! says: each packet behind a 16-bit length.
//!
//! RTP's 12-byte header: version 2 (top two bits), padding, extension,
//! CSRC count, marker, payload type (7 bits), sequence number (16),
//! timestamp (32) and SSRC (32), then the CSRCs and the extension. RTCP
//! packets (sender and receiver reports, SDES, BYE, APP, and the feedback
//! and XR types of RFC 4585 and 3611: types 200..=207) have version 2, an
//! 8-bit type, a length in 32-bit words minus one and the sender's SSRC;
//! a datagram holds one or more back to back.
//!
//! One datagram of that shape is common in random data, so a flow is RTP
//! only when the first two datagrams of whoever spoke first are RTP
//! packets of the same SSRC whose sequence number advances by a little
//! and whose timestamp does not go back (a 32-bit coincidence otherwise),
//! with payload types in the assigned or dynamic ranges (RFC 3551:
//! 0..=34, 96..=127); or RTCP, two datagrams of one sender SSRC. A flow
//! that opens otherwise (e.g. a stray datagram before the media) is left
//! to the statistics. A datagram that repeats the one before byte for
//! byte (a duplicate, as some captures hold) is passed over when it is
//! RTP. Over TCP the
//! same pair is looked for in the first two frames of the stream; a
//! frame must be at least an RTP header long and at most
//! `MAX_TCP_FRAME`.
//!
//! Encryption: plain RTP is cleartext. SRTP (RFC 3711) keeps the RTP
//! header in the clear and encrypts the payload, so the two cannot be
//! told apart by headers, and the flow is reported cleartext. Encrypted
//! RTCP can be told: SRTCP appends an index and an authentication tag
//! (and Discord's voice encryption a nonce and a tag) after the ciphertext,
//! so its datagrams never tile into whole RTCP packets; such a flow is
//! reported `encrypted` (`rtcp_encrypted` in extra). The same SRTCP
//! shape next to RTP of the same SSRC on one 5-tuple is what tells SRTP
//! (`srtp_evidence`, used after ICE's STUN checks).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rtp;

/// Largest sequence-number step between two RTP packets of one SSRC.
const MAX_SEQ_STEP: u16 = 16;
/// Largest RFC 4571 frame taken over TCP: RTP packets are sized for a
/// datagram, and a longer length waits for bytes past the stream kept.
const MAX_TCP_FRAME: usize = 8192;
/// Least frame: a fixed RTP header, or an RTCP packet.
const MIN_TCP_FRAME: usize = 8;

/// Largest forward timestamp step (about 3 minutes at 90 kHz).
const MAX_TS_STEP: u32 = 1 << 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RtpHeader {
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// An RTP packet spanning `d`.
fn rtp(d: &[u8]) -> Option<RtpHeader> {
    let (&b0, &b1) = (d.first()?, d.get(1)?);
    let pt = b1 & 0x7f;
    if b0 >> 6 != 2 || !matches!(pt, 0..=34 | 96..=127) {
        return None;
    }
    let mut header = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        // Extension: profile-defined 16 bits, length in words.
        let words = u16::from_be_bytes([*d.get(header + 2)?, *d.get(header + 3)?]);
        header += 4 + 4 * usize::from(words);
    }
    let mut end = d.len();
    if b0 & 0x20 != 0 {
        let pad = usize::from(*d.last()?);
        if pad == 0 {
            return None;
        }
        end = end.checked_sub(pad)?;
    }
    if header > end {
        return None;
    }
    Some(RtpHeader {
        pt,
        seq: u16::from_be_bytes([*d.get(2)?, *d.get(3)?]),
        ts: be32(d, 4)?,
        ssrc: be32(d, 8)?,
    })
}

/// An RTCP datagram: its first packet's sender SSRC, and whether the
/// packets tile the datagram exactly (plain RTCP) or the first one is
/// followed by something else (SRTCP's encrypted part, index and tag).
fn rtcp(d: &[u8]) -> Option<(u32, bool)> {
    let mut at = 0usize;
    let mut ssrc = None;
    while at < d.len() {
        let ok = match (d.get(at), d.get(at + 1), d.get(at + 2..at + 4)) {
            (Some(&b0), Some(&pt), Some(len)) if b0 >> 6 == 2 && (200..=207).contains(&pt) => {
                let n = 4 * (usize::from(u16::from_be_bytes([len[0], len[1]])) + 1);
                let fits = n >= 8 && at + n <= d.len();
                if fits && ssrc.is_none() {
                    ssrc = be32(d, at + 4);
                }
                at += n;
                fits
            }
            _ => false,
        };
        if !ok {
            // The first packet must be whole; what follows it is not RTCP.
            return ssrc.map(|s| (s, false));
        }
    }
    ssrc.map(|s| (s, true))
}

/// What the first two datagrams of a direction show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    /// RTP: SSRC and the first packet's payload type.
    Rtp(u32, u8),
    /// RTCP: sender SSRC, and whether both datagrams tiled (not encrypted).
    Rtcp(u32, bool),
}

/// Two RTP packets of one SSRC, the sequence number advancing by a
/// little and the timestamp not going back; or two RTCP datagrams of one
/// sender.
fn pair(a: &[u8], b: &[u8]) -> Option<Stream> {
    if let (Some((s1, t1)), Some((s2, t2))) = (rtcp(a), rtcp(b)) {
        return (s1 == s2).then_some(Stream::Rtcp(s1, t1 && t2));
    }
    let (p, h) = (rtp(a)?, rtp(b)?);
    let step = h.seq.wrapping_sub(p.seq);
    let ts_step = h.ts.wrapping_sub(p.ts);
    (p.ssrc == h.ssrc && (1..=MAX_SEQ_STEP).contains(&step) && ts_step < MAX_TS_STEP)
        .then_some(Stream::Rtp(p.ssrc, p.pt))
}

/// Largest SRTCP index taken as one (it counts a session's SRTCP packets
/// from 0; a 31-bit field otherwise random would exceed it 255 times in 256).
const MAX_SRTCP_INDEX: u32 = 1 << 23;

/// An SRTCP datagram (RFC 3711 3.4): RTCP whose first packet is whole but
/// whose datagram does not tile into RTCP packets, ending in the E flag
/// and index word, then an 80-bit (or 32-bit) authentication tag. Returns
/// the sender SSRC.
fn srtcp(d: &[u8]) -> Option<u32> {
    let (ssrc, tiled) = rtcp(d)?;
    if tiled {
        return None;
    }
    let first = 4 * (usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?])) + 1);
    [10usize, 4].iter().find_map(|&tag| {
        let at = d.len().checked_sub(tag + 4)?;
        let word = be32(d, at)?;
        (at >= first && word & 0x8000_0000 != 0 && word & 0x7fff_ffff < MAX_SRTCP_INDEX).then_some(ssrc)
    })
}

/// True when one direction's datagrams show SRTP on a multiplexed
/// 5-tuple (RFC 5761 RTP/RTCP multiplexing, e.g. after ICE's STUN
/// checks, RFC 7983): an SRTCP datagram whose sender SSRC is that of RTP
/// packets the same side sent. SRTCP is only used with SRTP (RFC 3711
/// 3.4), so the media of that SSRC is encrypted; the SSRC match makes a
/// chance hit a 32-bit coincidence on top of the SRTCP trailer's shape.
pub(crate) fn srtp_evidence(side: super::Side<'_>) -> bool {
    side.chunks()
        .filter_map(srtcp)
        .any(|ssrc| side.chunks().filter_map(rtp).any(|h| h.ssrc == ssrc))
}

fn shaped(d: &[u8]) -> bool {
    rtp(d).is_some() || rtcp(d).is_some()
}

/// The first two RFC 4571 frames of a TCP stream: `Err(true)` when more
/// bytes are needed, `Err(false)` when the stream is not framed so.
fn tcp_frames(d: &[u8]) -> Result<(&[u8], &[u8]), bool> {
    let frame = |at: usize| -> Result<(&[u8], usize), bool> {
        let h = d.get(at..at + 2).ok_or(true)?;
        let len = usize::from(u16::from_be_bytes([h[0], h[1]]));
        if !(MIN_TCP_FRAME..=MAX_TCP_FRAME).contains(&len) {
            return Err(false);
        }
        // The header shows at once whether the frame can be RTP/RTCP.
        if d.get(at + 2).is_some_and(|b| b >> 6 != 2) {
            return Err(false);
        }
        Ok((d.get(at + 2..at + 2 + len).ok_or(true)?, at + 2 + len))
    };
    let (a, next) = frame(0)?;
    if !shaped(a) {
        return Err(false);
    }
    let (b, _) = frame(next)?;
    Ok((a, b))
}

/// The first two datagrams of a side, a byte-for-byte repeat of a first
/// RTP packet passed over (two RTCP reports may well be equal).
fn first_two(side: super::Side<'_>) -> (Option<&[u8]>, Option<&[u8]>) {
    let mut chunks = side.chunks();
    let a = chunks.next();
    if a.is_some_and(|a| rtcp(a).is_some()) {
        return (a, chunks.next());
    }
    (a, chunks.find(|b| Some(*b) != a))
}

impl Dissector for Rtp {
    fn name(&self) -> &'static str {
        "rtp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.transport {
            Transport::Tcp => match tcp_frames(p.first_side().stream()) {
                Err(false) => Probe::NotMine,
                _ => Probe::Maybe,
            },
            Transport::Udp => match p.first_payload() {
                [] => Probe::Maybe,
                d if shaped(d) => Probe::Maybe,
                _ => Probe::NotMine,
            },
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        // Decided on the first two datagrams (frames) of whoever spoke
        // first, so a flow that is not RTP is let go at its second.
        let side = p.first_side();
        let stream = match p.transport {
            Transport::Tcp => match tcp_frames(side.stream()) {
                Err(true) => return p.undecided(),
                Err(false) => return Parse::NotMine,
                Ok((a, b)) => pair(a, b),
            },
            Transport::Udp => match first_two(side) {
                (None, _) => return p.undecided(),
                (Some(a), _) if !shaped(a) => return Parse::NotMine,
                (Some(_), None) => return p.undecided(),
                (Some(a), Some(b)) => pair(a, b),
            },
        };
        if stream.is_some() && p.transport == Transport::Tcp {
            meta.set_extra("rtp_framing", "rfc4571");
        }
        match stream {
            None => Parse::NotMine,
            Some(Stream::Rtp(ssrc, pt)) => {
                meta.protocol = Some("rtp");
                meta.encryption = Encryption::Cleartext;
                meta.set_extra("rtp_ssrc", format!("0x{ssrc:08x}"));
                meta.set_extra("rtp_payload_type", pt.to_string());
                Parse::Done
            }
            Some(Stream::Rtcp(ssrc, tiled)) => {
                meta.protocol = Some("rtcp");
                meta.set_extra("rtcp_ssrc", format!("0x{ssrc:08x}"));
                if tiled {
                    meta.encryption = Encryption::Cleartext;
                } else {
                    meta.encryption = Encryption::Encrypted;
                    meta.set_extra("rtcp_encrypted", "true");
                }
                Parse::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    fn rtp_pkt(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x80, pt];
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&ssrc.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn claims(f: &UdpFixture) -> bool {
        let mut p = f.payloads();
        p.last = true;
        Rtp.probe(&p) != Probe::NotMine
            && matches!(Rtp.parse(&p, &mut Meta::default()), Parse::Identified | Parse::Done)
    }

    #[test]
    fn audio_stream() {
        let a = rtp_pkt(0, 0x4eb2, 0x8b39_9cda, 0x0b86_5519, &[0xd5; 40]);
        let b = rtp_pkt(0x80, 0x4eb3, 0x8b39_a09a, 0x0b86_5519, &[0xd5; 40]);
        let (r, m) = check_split_udp(&Rtp, 11320, 23044, &[&a, &b], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rtp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rtp_ssrc"), Some("0x0b865519"));
        assert_eq!(m.extra("rtp_payload_type"), Some("0"));
        // One packet is not enough.
        let (r, _) = check_split_udp(&Rtp, 11320, 23044, &[&a], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn duplicate_datagrams_are_passed_over() {
        // skinny.pcap, 192.168.195.58:32144 → 192.168.195.50:17718: every
        // datagram twice (PCMU, SSRC 0xf6bf57dc).
        let a = rtp_pkt(0x80, 0x059c, 0x0002_e0c0, 0xf6bf_57dc, &[0xff; 160]);
        let b = rtp_pkt(0, 0x059d, 0x0002_e160, 0xf6bf_57dc, &[0x7d; 160]);
        let (r, m) = check_split_udp(&Rtp, 32144, 17718, &[&a, &a, &b, &b], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("rtp_ssrc"), Some("0xf6bf57dc"));
        // The repeat alone decides nothing yet.
        let f = UdpFixture::new(32144, 17718, &[&a, &a], &[]);
        assert_eq!(Rtp.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        // A repeat is not a second packet: a same-SEQ packet that differs is.
        let mut c = a.clone();
        c[20] ^= 1;
        let f = UdpFixture::new(32144, 17718, &[&a, &c, &b], &[]);
        assert!(!claims(&f));
    }

    #[test]
    fn rfc4571_over_tcp() {
        // rtp.pcapng, 172.16.168.24:40252 → 172.16.168.64:5000: 1212-byte
        // frames of PCMA (PT 8, SSRC 0), the headers as captured, the
        // payloads of the first all 0xd5 as captured, of the second a
        // stand-in.
        let frame = |hdr: &[u8], fill: u8| {
            let mut v = vec![0x04, 0xbc];
            v.extend_from_slice(hdr);
            v.resize(2 + 1212, fill);
            v
        };
        let mut d = frame(&[0x80, 0x88, 0xc6, 0x23, 0x64, 0x48, 0xec, 0xa9, 0, 0, 0, 0], 0xd5);
        d.extend_from_slice(&frame(
            &[0x80, 0x08, 0xc6, 0x24, 0x64, 0x48, 0xf1, 0x59, 0, 0, 0, 0],
            0x57,
        ));
        let (r, m) = check_split_tcp(&Rtp, 5000, &d, b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rtp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rtp_payload_type"), Some("8"));
        assert_eq!(m.extra("rtp_framing"), Some("rfc4571"));
        // Not so framed: a length too short or too long, not version 2,
        // the second frame of another SSRC.
        let mut tiny = d.clone();
        tiny[1] = 4;
        tiny[0] = 0;
        let mut huge = d.clone();
        huge[0] = 0x40;
        let mut v1 = d.clone();
        v1[2] = 0x40;
        let mut other = d.clone();
        other[2 + 1214 + 11] = 1;
        for bad in [&tiny, &huge, &v1, &other] {
            let ends = [[bad.len() as u32], [0]];
            let mut p = Payloads::tcp(40252, 5000, bad, &[], &ends);
            p.last = true;
            assert!(!crate::dissect::not_refused(&Rtp, &p));
        }
        // One frame waits for the second.
        let ends = [[1214], [0]];
        let p = Payloads::tcp(40252, 5000, &d[..1214], &[], &ends);
        assert_eq!(Rtp.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn csrc_and_padding() {
        // CSRC count 1, padding of 3 bytes.
        let pkt = |seq: u16| {
            let mut v = rtp_pkt(
                0x6f,
                seq,
                0x1e51_31ff + u32::from(seq) * 960,
                0xb809_74d8,
                &[0, 0, 1, 0x1c],
            );
            v[0] = 0xa1;
            v.extend_from_slice(&[0x48, 0x0b, 0xe4, 0x55, 0, 0, 3]);
            v
        };
        let (a, b) = (pkt(0xcdd2), pkt(0xcdd3));
        let (r, m) = check_split_udp(&Rtp, 55402, 6008, &[&a, &b], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("rtp_payload_type"), Some("111"));
        // A stray datagram first: not claimed.
        let stray = [1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1c];
        let f = UdpFixture::new(55402, 6008, &[&stray, &a, &b], &[]);
        assert!(!claims(&f));
        // Padding longer than the packet.
        let mut bad = a.clone();
        *bad.last_mut().unwrap() = 200;
        assert!(rtp(&bad).is_none());
    }

    #[test]
    fn rtcp_and_srtcp() {
        // Receiver report (no blocks) + SDES with one CNAME item, twice.
        let rr = |ssrc: u32| {
            let mut v = vec![0x80, 201, 0, 1];
            v.extend_from_slice(&ssrc.to_be_bytes());
            v.extend_from_slice(&[0x81, 202, 0, 2]);
            v.extend_from_slice(&ssrc.to_be_bytes());
            v.extend_from_slice(&[1, 1, b'a', 0]);
            v
        };
        let (r, m) = check_split_udp(&Rtp, 25963, 31601, &[&rr(7), &rr(7)], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rtcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // SRTCP: the report, then E flag and index, then an 80-bit tag.
        let srtcp = |i: u8| {
            let mut v = vec![0x80, 0xc9, 0, 1, 0x73, 0x4e, 0x7b, 0x28, 0x80, 0, 0, i];
            v.extend_from_slice(&[0x5a; 10]);
            v
        };
        let (r, m) = check_split_udp(&Rtp, 3478, 45658, &[&srtcp(5), &srtcp(7)], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("rtcp_encrypted"), Some("true"));
    }

    #[test]
    fn srtp_by_its_srtcp() {
        let media = |i: u16| rtp_pkt(120, 100 + i, 960 * u32::from(i), 0x4c28_9e6d, &[0x5a; 40]);
        // An 8-byte RTCP packet (not tiling: E flag, index 5, 80-bit tag).
        let mut srtcp = vec![0x81, 0xc9, 0x00, 0x01, 0x4c, 0x28, 0x9e, 0x6d, 0x80, 0, 0, 5];
        srtcp.extend_from_slice(&[0xd7; 10]);
        let side = UdpFixture::new(1, 2, &[&media(0), &media(1), &srtcp], &[]);
        assert!(srtp_evidence(side.payloads().orig));
        // 32-bit tag
        let mut short = srtcp[..12].to_vec();
        short.extend_from_slice(&[0xd7; 4]);
        let side = UdpFixture::new(1, 2, &[&media(0), &short], &[]);
        assert!(srtp_evidence(side.payloads().orig));
        // Another SSRC's media; E flag clear; plain (tiling) RTCP; no media.
        let other = rtp_pkt(120, 1, 0, 0x1234_5678, &[0x5a; 40]);
        let side = UdpFixture::new(1, 2, &[&other, &srtcp], &[]);
        assert!(!srtp_evidence(side.payloads().orig));
        let mut clear = srtcp.clone();
        clear[8] = 0x00;
        let side = UdpFixture::new(1, 2, &[&media(0), &clear], &[]);
        assert!(!srtp_evidence(side.payloads().orig));
        let side = UdpFixture::new(1, 2, &[&media(0), &srtcp[..8]], &[]);
        assert!(!srtp_evidence(side.payloads().orig));
        let side = UdpFixture::new(1, 2, &[&srtcp, &srtcp], &[]);
        assert!(!srtp_evidence(side.payloads().orig));
        // every truncation: no panic
        for n in 0..srtcp.len() {
            let side = UdpFixture::new(1, 2, &[&media(0), &srtcp[..n]], &[]);
            let _ = srtp_evidence(side.payloads().orig);
        }
    }

    #[test]
    fn inconsistent_streams_are_not_rtp() {
        let a = rtp_pkt(0, 100, 1000, 0x1234_5678, &[1; 20]);
        let cases = [
            rtp_pkt(0, 101, 1160, 0x1234_5679, &[1; 20]),  // another SSRC
            rtp_pkt(0, 100, 1160, 0x1234_5678, &[1; 20]),  // same sequence number
            rtp_pkt(0, 99, 1160, 0x1234_5678, &[1; 20]),   // going back
            rtp_pkt(0, 200, 1160, 0x1234_5678, &[1; 20]),  // leaping
            rtp_pkt(0, 101, 999, 0x1234_5678, &[1; 20]),   // timestamp back
            rtp_pkt(72, 101, 1160, 0x1234_5678, &[1; 20]), // RTCP-range type
        ];
        for b in cases {
            let f = UdpFixture::new(40000, 40002, &[&a, &b], &[]);
            assert!(!claims(&f), "{b:?}");
        }
        // Version 1, and a CSRC list longer than the packet.
        let mut v1 = a.clone();
        v1[0] = 0x40;
        assert!(rtp(&v1).is_none());
        let mut cc = a.clone();
        cc[0] = 0x8f;
        assert!(rtp(&cc).is_none());
    }
}
