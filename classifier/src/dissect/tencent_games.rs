//! Tencent Games' TCP game connections (mobile games on Tencent's
//! servers), described from tencent_games.pcap (no public
//! specification). The client's first message (over 50 bytes) takes one
//! of four framings, each with a fixed head; when the server has
//! answered, its first message must take the matching framing too:
//!
//! - `33 66 00 0b 00 0b`, then a message type (`10 01` hello, answered
//!   by `10 02`; `20 01`/`20 02` after): the hello carries ids and a
//!   token in the clear, the `20 0x` messages random bodies with no
//!   compression header: sealed, so `encrypted`.
//! - `43 66 aa 00` with `10 e6 86 01` at offset 12, answered by
//!   `aa 00 00 00` with the same word at offset 10: tag-length fields
//!   with readable strings (a cloud-service id, a token): `cleartext`.
//! - a frame of a 32-bit big-endian length (the rest of the frame, the
//!   top half zero) and a zlib stream (`78 01`, a valid zlib header):
//!   compressed, not sealed: `cleartext`.
//! - `42 15 f7 87`, a 16-bit message type, two zero bytes, then random
//!   bytes in both directions (no text, no compression header):
//!   `encrypted`.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct TencentGames;

/// nDPI's and the capture's least first message.
const MIN_LEN: usize = 51;
const HEAD_A: [u8; 6] = [0x33, 0x66, 0x00, 0x0b, 0x00, 0x0b];
const HEAD_B: [u8; 4] = [0x43, 0x66, 0xaa, 0x00];
const HEAD_B_ANSWER: [u8; 4] = [0xaa, 0x00, 0x00, 0x00];
const WORD_B: [u8; 4] = [0x10, 0xe6, 0x86, 0x01];
const ZLIB: [u8; 2] = [0x78, 0x01];
const HEAD_E: [u8; 4] = [0x42, 0x15, 0xf7, 0x87];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Framing {
    A,
    B,
    Zlib,
    E,
}

/// The framing of a client's first message, `Err(())` when too short
/// to say.
fn framing(d: &[u8]) -> Result<Option<Framing>, ()> {
    if d.len() < MIN_LEN {
        return Err(());
    }
    Ok(if d.starts_with(&HEAD_A) {
        Some(Framing::A)
    } else if d.starts_with(&HEAD_B) && d[12..16] == WORD_B {
        Some(Framing::B)
    } else if d.starts_with(&HEAD_E) && d[6..8] == [0, 0] {
        Some(Framing::E)
    } else if d[..2] == [0, 0] && d[4..6] == ZLIB {
        // The frame's length: the rest of it, at least the 47 bytes a
        // first message of MIN_LEN needs.
        let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
        (len + 4 >= MIN_LEN).then_some(Framing::Zlib)
    } else {
        None
    })
}

/// Whether the server's first bytes `a` fit framing `f` (`Err(())`: too
/// short to say).
fn answers(f: Framing, a: &[u8]) -> Result<bool, ()> {
    let need = match f {
        Framing::A => 6,
        Framing::B => 14,
        Framing::Zlib => 6,
        Framing::E => 4,
    };
    if a.len() < need {
        return Err(());
    }
    Ok(match f {
        Framing::A => a.starts_with(&HEAD_A),
        Framing::B => a.starts_with(&HEAD_B_ANSWER) && a[10..14] == WORD_B,
        Framing::Zlib => a[..2] == [0, 0] && a[4..6] == ZLIB,
        Framing::E => a.starts_with(&HEAD_E),
    })
}

impl Dissector for TencentGames {
    fn name(&self) -> &'static str {
        "tencent_games"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.stream().first() {
            None | Some(0x33 | 0x43 | 0x42 | 0x00) => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let f = match framing(p.orig.stream()) {
            Ok(Some(f)) => f,
            Ok(None) => return Parse::NotMine,
            Err(()) => return p.undecided(),
        };
        let a = p.resp.stream();
        if !a.is_empty() {
            match answers(f, a) {
                Ok(true) => {}
                Ok(false) => return Parse::NotMine,
                Err(()) => return p.undecided(),
            }
        }
        meta.protocol = Some("tencent_games");
        let (name, enc) = match f {
            Framing::A => ("3366", Encryption::Encrypted),
            Framing::B => ("4366", Encryption::Cleartext),
            Framing::Zlib => ("zlib", Encryption::Cleartext),
            Framing::E => ("4215", Encryption::Encrypted),
        };
        meta.encryption = enc;
        meta.set_extra("tencent_games_framing", name);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex, Payloads};

    // tencent_games.pcap, 10.215.173.1:43300 <-> 43.130.19.227:65010.
    const A_Q: &str = "3366000b000b100100000000010000004c0000000002030000271000000065000303000000
        143930383934393935363531343933323034333000000000000000000000000300000000000000";
    const A_R: &str = "3366000b000b1002010000000100000030000000100210574a56753639384356414664503632
        350100000032000000007800e36f1bc25e3f4589ba0142123038";
    // 10.215.173.1:46658 <-> 162.62.97.166:8085 (first 64 bytes each).
    const B_Q: &str = "4366aa00000094150000001710e6860120003001408120500061007001800100900100250000
        006e95800400000067110025000000020100";
    const B_R: &str = "aa0000005d150000001b10e686012000300140822050c7dde9af06610170018001009001202500
        000033a580040000002c110321";
    // 10.215.173.1:47046 <-> 129.226.103.74:31003 (first 64 bytes each).
    const E_Q: &str = "4215f78703e9000001c0ea07a23f7dabc634e5a894ff94fce2ddea1f04a555d9f54c3a189ca2
        bcd866bf728a5ebe67706c826dfe27f7e1";
    const E_R: &str = "4215f78703ea0000000009105d7d22cc322a472e30a6fd2778204b12ad04ff163e8c9cb49b87";

    /// 10.215.173.1:42864 -> 162.62.116.201:20731: a 338-byte frame
    /// (length 0x14e and a zlib stream), its first 48 bytes then filler.
    fn zlib_frame() -> Vec<u8> {
        let mut v =
            unhex("0000014e78013551cb6ac33010fc973dbb46ef476e39949c02a5d09bc1c8d63a98d8962b8b9410f2ef95ed04e9a0");
        v.resize(338, 0x5a);
        v
    }

    fn run(q: &[u8], r: &[u8]) -> (Parse, Meta) {
        check_split_tcp(&TencentGames, 31003, q, r)
    }

    #[test]
    fn framings() {
        for (q, r, enc, name) in [
            (unhex(A_Q), unhex(A_R), Encryption::Encrypted, "3366"),
            (unhex(B_Q), unhex(B_R), Encryption::Cleartext, "4366"),
            (unhex(E_Q), unhex(E_R), Encryption::Encrypted, "4215"),
            (zlib_frame(), vec![], Encryption::Cleartext, "zlib"),
        ] {
            let (res, m) = run(&q, &r);
            assert_eq!(res, Parse::Done, "{name}");
            assert_eq!(m.protocol, Some("tencent_games"));
            assert_eq!(m.encryption, enc, "{name}");
            assert_eq!(m.extra("tencent_games_framing"), Some(name));
        }
    }

    #[test]
    fn near_misses() {
        let (aq, ar) = (unhex(A_Q), unhex(A_R));
        let (bq, br) = (unhex(B_Q), unhex(B_R));
        let (eq, er) = (unhex(E_Q), unhex(E_R));
        let z = zlib_frame();
        let mut a_bad = aq.clone();
        a_bad[5] = 0x0c;
        let mut b_bad = bq.clone();
        b_bad[13] ^= 1;
        let mut e_bad = eq.clone();
        e_bad[7] = 1;
        let mut z_bad = z.clone();
        z_bad[5] = 0x9c;
        let mut z_short = z.clone();
        z_short[2..4].copy_from_slice(&[0, 40]);
        let cases: [(&[u8], &[u8]); 8] = [
            (&a_bad, &ar),
            (&aq, &br),
            (&b_bad, &br),
            (&bq, &ar),
            (&e_bad, &er),
            (&eq, &ar),
            (&z_bad, &[]),
            (&z_short, &[]),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 31003, o, r, &ends);
            assert!(!not_refused(&TencentGames, &p), "{o:02x?}");
        }
    }
}
