//! The framed channel Android devices keep open to Huawei Cloud
//! addresses on TCP 5223 (Huawei's push service; nDPI names these flows
//! HP_VIRTGRP or Jabber). No format is published; what is checked is
//! what the captures show, and it ties the two sides together:
//!
//! - every frame is a type byte and a 16-bit big-endian length counting
//!   the 3-byte header;
//! - the client opens with a key frame, type 0x16 (a zero byte, then 128
//!   random bytes: an RSA-size key blob) or 0x25;
//! - the server answers with the next type (0x17 or 0x26): a zero byte,
//!   then a session id of at least 12 bytes;
//! - data frames are type 0x30, and the server's begin with that id.
//!
//! Every data frame body after the id is random: the channel is
//! encrypted.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct HuaweiPush;

const DATA: u8 = 0x30;
/// Client key frame type → the server's answer type.
const OPENINGS: [(u8, u8); 2] = [(0x16, 0x17), (0x25, 0x26)];
/// Bytes of the session id the server's data frames must repeat.
const ID_LEN: usize = 12;
const HEADER: usize = 3;

/// The frame at the start of `d`: (type, body) once whole, `Err(true)`
/// while it may still be one, `Err(false)` when it cannot be.
fn frame(d: &[u8]) -> Result<(u8, &[u8]), bool> {
    let (Some(&t), Some(len)) = (d.first(), d.get(1..3)) else {
        return Err(true);
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if len <= HEADER {
        return Err(false);
    }
    d.get(HEADER..len).map(|b| (t, b)).ok_or(true)
}

/// What the bytes so far say, before the server's data frame.
enum Step {
    Wait,
    No,
    /// Both openings are whole: the server's session id.
    Id(usize),
}

fn openings(o: &[u8], r: &[u8]) -> Step {
    let hello = match frame(o) {
        Ok((t, _)) => t,
        Err(true) => return opening_type(o).map_or(Step::No, |_| Step::Wait),
        Err(false) => return Step::No,
    };
    let Some(&(_, answer)) = OPENINGS.iter().find(|(c, _)| *c == hello) else {
        return Step::No;
    };
    match frame(r) {
        Ok((t, b)) if t == answer && b.first() == Some(&0) && b.len() > ID_LEN => Step::Id(b.len() + HEADER),
        Ok(_) | Err(false) => Step::No,
        Err(true) => match r.first() {
            None => Step::Wait,
            Some(&t) if t == answer => Step::Wait,
            Some(_) => Step::No,
        },
    }
}

/// The client's key frame type, from its first byte alone.
fn opening_type(d: &[u8]) -> Option<u8> {
    match d.first() {
        None => Some(0),
        Some(&t) => OPENINGS.iter().any(|(c, _)| *c == t).then_some(t),
    }
}

impl Dissector for HuaweiPush {
    fn name(&self) -> &'static str {
        "huawei_push"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match opening_type(p.orig.stream()) {
            Some(_) => Probe::Maybe,
            None => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let end = match openings(o, r) {
            Step::No => return Parse::NotMine,
            Step::Wait => return p.undecided(),
            Step::Id(end) => end,
        };
        // The answer's id, then the server's first data frame.
        let id = r.get(HEADER + 1..HEADER + 1 + ID_LEN).unwrap_or_default();
        let rest = r.get(end..).unwrap_or_default();
        match (rest.first(), rest.get(HEADER..HEADER + ID_LEN)) {
            (None, _) => return p.undecided(),
            (Some(&t), _) if t != DATA => return Parse::NotMine,
            (Some(_), None) => return p.undecided(),
            (Some(_), Some(echo)) if echo != id => return Parse::NotMine,
            (Some(_), Some(_)) => {}
        }
        meta.protocol = Some("huawei_push");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("huawei".to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;
    use crate::dissect::unhex as hex;

    /// jabber.pcap, 192.168.2.100:58388 ↔ 160.44.201.102:5223: the
    /// client's 0x25 frame, the server's 0x26 answer and its first data
    /// frame (repeating the 12-byte id), both as captured.
    const HELLO: &str = "2500451404b00884a766bc33b1633f201a92743c06b100fafa002ead251fb2a9ac35bcb602136daf4bbdf5a4262b523af58a45bb618beac181a1af1da97867c8fa6b11ec02";
    const ANSWER: &str = "260010002015cd29327b1ddbddf76626";
    const DATA_FRAME: &str = "3000252015cd29327b1ddbddf7662633e3ce3be434784bf21e624c0388751f4ba71ce24709";

    fn hello() -> Vec<u8> {
        hex(HELLO)
    }

    #[test]
    fn key_frames_and_echoed_id() {
        let o = hello();
        let mut r = hex(ANSWER);
        r.extend(hex(DATA_FRAME));
        let (res, m) = check_split_tcp(&HuaweiPush, 5223, &o, &r);
        assert_eq!(res, Parse::Done);
        assert_eq!(m.protocol, Some("huawei_push"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        // Without the data frame: wait.
        let (res, _) = check_split_tcp(&HuaweiPush, 5223, &o, &hex(ANSWER));
        assert_eq!(res, Parse::NeedMore);
    }

    #[test]
    fn not_huawei_push() {
        let o = hello();
        let a = hex(ANSWER);
        let d = hex(DATA_FRAME);
        let cat = |x: &[u8], y: &[u8]| [x, y].concat();
        let mut bad_echo = d.clone();
        bad_echo[5] ^= 1;
        let mut bad_type = a.clone();
        bad_type[0] = 0x17;
        let mut bad_len = o.clone();
        bad_len[2] = 2;
        let cases: [(Vec<u8>, Vec<u8>); 4] = [
            (o.clone(), cat(&a, &bad_echo)),
            (o.clone(), cat(&bad_type, &d)),
            (bad_len, cat(&a, &d)),
            (b"<?xml version='1.0'?>".to_vec(), cat(&a, &d)),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 5223, &o, &r, &ends);
            let claimed =
                HuaweiPush.probe(&p) != Probe::NotMine && HuaweiPush.parse(&p, &mut Meta::default()) == Parse::Done;
            assert!(!claimed, "{o:?} {r:?}");
        }
    }
}
