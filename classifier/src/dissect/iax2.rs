//! IAX2, the Inter-Asterisk eXchange protocol version 2 (RFC 5456),
//! over UDP on any port (4569 is registered; not used here).
//!
//! Signalling travels in full frames: a 12-byte header (the F bit and a
//! 15-bit source call number, the R bit and a 15-bit destination call
//! number, a 32-bit timestamp, outbound and inbound sequence numbers, a
//! frame type and a subclass), then, for IAX control frames (type 6),
//! information elements (a type byte, a length byte, that many bytes)
//! filling the frame exactly. A call or registration opens with a full
//! frame whose destination call number and both sequence numbers are 0:
//! - NEW (subclass 1) must carry the VERSION element, 2: enough alone;
//! - REGREQ (13) and POKE (30) say too little by themselves: the other
//!   side's first datagram must be a full frame addressed to the
//!   opener's call number.
//!
//! When the other side has answered, its first datagram must be such a
//! frame in every case.
//!
//! Media (mini frames) is not looked at. IAX2 has no encryption of its
//! own (its optional AES-128 encryption is negotiated with the
//! ENCRYPTION element, which is reported): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Iax2;

const HEADER: usize = 12;
const IAX: u8 = 6;
const NEW: u8 = 1;
const REGREQ: u8 = 13;
const POKE: u8 = 30;
const IE_VERSION: u8 = 11;
const IE_ENCRYPTION: u8 = 38;

/// A full frame: (source call, destination call, frame type, subclass).
fn full_frame(d: &[u8]) -> Option<(u16, u16, u8, u8)> {
    let h = d.get(..HEADER)?;
    if h[0] & 0x80 == 0 {
        return None;
    }
    let src = u16::from_be_bytes([h[0], h[1]]) & 0x7fff;
    let dst = u16::from_be_bytes([h[2], h[3]]) & 0x7fff;
    // Frame types 1 (DTMF end) to 12 (DTMF begin).
    if src == 0 || !(1..=12).contains(&h[10]) {
        return None;
    }
    Some((src, dst, h[10], h[11]))
}

/// The information elements of an IAX frame body, if they fill it
/// exactly: (the VERSION element's value, whether ENCRYPTION is there).
fn elements(mut d: &[u8]) -> Option<(Option<u16>, bool)> {
    let mut version = None;
    let mut encryption = false;
    while !d.is_empty() {
        let (&t, rest) = d.split_first()?;
        let (&l, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(l))?;
        match t {
            IE_VERSION => version = Some(u16::from_be_bytes([*value.first()?, *value.get(1)?])),
            IE_ENCRYPTION => encryption = true,
            _ => {}
        }
        d = &rest[usize::from(l)..];
    }
    Some((version, encryption))
}

impl Dissector for Iax2 {
    fn name(&self) -> &'static str {
        "iax2"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        match (d.first(), d.get(10)) {
            (Some(b), Some(&IAX)) if b & 0x80 != 0 && d.len() >= HEADER => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only a full frame: the F bit set.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x80, 0xff))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        let Some((src, dst, kind, subclass)) = full_frame(d) else {
            return Parse::NotMine;
        };
        // An opening frame: no peer call yet, nothing sent or received.
        if kind != IAX || dst != 0 || d[8] != 0 || d[9] != 0 {
            return Parse::NotMine;
        }
        let Some((version, encryption)) = elements(&d[HEADER..]) else {
            return Parse::NotMine;
        };
        let (name, alone) = match subclass {
            NEW if version == Some(2) => ("new", true),
            NEW => return Parse::NotMine,
            REGREQ => ("regreq", false),
            POKE => ("poke", false),
            _ => return Parse::NotMine,
        };
        let answer = p.second_side().first();
        let answered = match full_frame(answer) {
            Some((_, to, _, _)) if to == src => true,
            _ if !answer.is_empty() => return Parse::NotMine,
            _ => false,
        };
        if !alone && !answered {
            return p.undecided();
        }
        meta.protocol = Some("iax2");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("iax2_opening", name);
        if encryption {
            meta.set_extra("iax2_encryption_offered", "true");
        }
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
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    /// iax.pcap, 82.110.36.84:4569 → 192.168.2.120:4566: NEW (call 4,
    /// version 2, called and calling numbers, language, format...) and
    /// the answering ACK to call 4.
    const NEW_HEX: &str = "8004000000000001000006010b020002010c343432303838323035313535020c34343737383232363739343904000a02656eff04000000020c0200001f040b0c55d6";
    const ACK_HEX: &str = "801700040000000100010604";

    #[test]
    fn new_and_ack() {
        let n = unhex(NEW_HEX);
        let a = unhex(ACK_HEX);
        let (r, m) = check_split_udp(&Iax2, 4569, 4566, &[&n], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("iax2"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("iax2_opening"), Some("new"));
        let (r, _) = check_split_udp(&Iax2, 4569, 4566, &[&n], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn poke_needs_an_answer() {
        let poke = [0x80u8, 0x05, 0, 0, 0, 0, 0, 3, 0, 0, 6, 30];
        let pong = [0x80u8, 0x09, 0x00, 0x05, 0, 0, 0, 3, 0, 1, 6, 3];
        let (r, _) = check_split_udp(&Iax2, 40000, 4569, &[&poke], &[&pong]);
        assert_eq!(r, Parse::Done);
        let (r, _) = check_split_udp(&Iax2, 40000, 4569, &[&poke], &[]);
        assert_eq!(r, Parse::NeedMore);
        let other = [0x80u8, 0x09, 0x00, 0x06, 0, 0, 0, 3, 0, 1, 6, 3];
        let f = UdpFixture::new(40000, 4569, &[&poke], &[&other]);
        assert!(!not_refused(&Iax2, &f.payloads()));
    }

    #[test]
    fn not_iax2() {
        let n = unhex(NEW_HEX);
        let m = |i: usize, v: u8| {
            let mut x = n.clone();
            x[i] = v;
            x
        };
        let mut long = n.clone();
        long.push(0);
        let cases = [
            m(0, 0x00),  // a mini frame
            m(3, 0x01),  // a destination call already
            m(8, 1),     // sequence numbers moving
            m(10, 2),    // a voice frame
            m(11, 2),    // PING
            m(15, 3),    // VERSION 3
            m(17, 0x0d), // an element running past the end
            long,
        ];
        for x in cases {
            let f = UdpFixture::new(4569, 4566, &[&x], &[]);
            assert!(!not_refused(&Iax2, &f.payloads()), "{x:02x?}");
        }
    }
}
