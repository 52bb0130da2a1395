//! Blizzard's Battle.net 2.0 client connection (the bit-packed protocol
//! of StarCraft II, Diablo III and Heroes clients before the protobuf
//! RPC of later builds), over TCP; port 1119 is a hint only.
//!
//! Messages are bit streams: fields are packed least significant bit
//! first within each byte, a field's value most significant bit first.
//! The client opens with a logon request: a header (6-bit opcode, a
//! channel-present bit, the 4-bit channel: 0, authentication), then the
//! program, platform and locale as four-character codes (32 bits each,
//! leading zero bytes dropped, e.g. `S2`, `Win`, `enGB`), then a 6-bit
//! count of components, each a program code, a platform or locale code
//! and a 32-bit build. Checked: the header's channel, every code made of
//! letters and digits, a locale of two lowercase and two uppercase
//! letters, and one to eight components whose codes are well-formed
//! (those that the stream holds). A stream that ends (flow over) inside
//! the locale is named only on port 1119, and only when the program and
//! platform are codes Battle.net clients send (`S2`, `D3`, `Hero`,
//! `WoW`, `Bnet`, `App`; `Win`, `Mac`).
//!
//! The logon carries these codes, the builds and the account name (an
//! e-mail address) in the clear: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Battlenet;

const PORT: u16 = 1119;
/// Components checked at most.
const MAX_COMPONENTS: u64 = 8;
const PROGRAMS: &[&[u8]] = &[b"S2", b"D3", b"Hero", b"WoW", b"Bnet", b"App"];
const PLATFORMS: &[&[u8]] = &[b"Win", b"Mac"];

/// Reads bit fields as the protocol packs them.
struct Bits<'a> {
    d: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    /// `n` (at most 32) bits, or `None` past the end of `d`.
    fn read(&mut self, mut n: u32) -> Option<u64> {
        if self.pos + n as usize > self.d.len() * 8 {
            return None;
        }
        let mut v = 0u64;
        while n > 0 {
            let shift = (self.pos & 7) as u32;
            let take = (8 - shift).min(n);
            n -= take;
            let byte = u64::from(*self.d.get(self.pos >> 3)?);
            v |= ((byte >> shift) & ((1 << take) - 1)) << n;
            self.pos += take as usize;
        }
        Some(v)
    }
}

/// The significant bytes of a four-character code, if they are letters
/// and digits (at least one).
fn fourcc(v: u64) -> Option<([u8; 4], usize)> {
    let b = (v as u32).to_be_bytes();
    let lead = b.iter().take_while(|&&x| x == 0).count();
    let ok = lead < 4 && b[lead..].iter().all(u8::is_ascii_alphanumeric);
    ok.then_some((b, lead))
}

fn is_locale(v: u64) -> bool {
    let b = (v as u32).to_be_bytes();
    b[..2].iter().all(u8::is_ascii_lowercase) && b[2..].iter().all(u8::is_ascii_uppercase)
}

struct Logon {
    program: String,
    platform: String,
    locale: Option<String>,
}

fn code_str(v: u64) -> String {
    match fourcc(v) {
        Some((b, lead)) => String::from_utf8_lossy(&b[lead..]).into_owned(),
        None => String::new(),
    }
}

/// The logon request at the start of `d`. `Err(true)`: the stream ends
/// inside it (`Ok` with `locale: None` is never returned before `last`).
fn logon(d: &[u8], truncated_ok: bool) -> Result<Logon, bool> {
    let mut b = Bits { d, pos: 0 };
    let _opcode = b.read(6).ok_or(true)?;
    if b.read(1).ok_or(true)? != 1 || b.read(4).ok_or(true)? != 0 {
        return Err(false);
    }
    let mut codes = [0u64; 2];
    for c in &mut codes {
        *c = b.read(32).ok_or(true)?;
        fourcc(*c).ok_or(false)?;
    }
    let [program, platform] = codes;
    let Some(locale) = b.read(32) else {
        let (p, q) = (fourcc(program).ok_or(false)?, fourcc(platform).ok_or(false)?);
        let known = PROGRAMS.contains(&&p.0[p.1..]) && PLATFORMS.contains(&&q.0[q.1..]);
        return if truncated_ok && known {
            Ok(Logon {
                program: code_str(program),
                platform: code_str(platform),
                locale: None,
            })
        } else {
            Err(true)
        };
    };
    if !is_locale(locale) {
        return Err(false);
    }
    let n = b.read(6).ok_or(true)?;
    if n == 0 || n > MAX_COMPONENTS {
        return Err(false);
    }
    for _ in 0..n {
        for _ in 0..2 {
            fourcc(b.read(32).ok_or(true)?).ok_or(false)?;
        }
        b.read(32).ok_or(true)?;
    }
    Ok(Logon {
        program: code_str(program),
        platform: code_str(platform),
        locale: Some(code_str(locale)),
    })
}

impl Dissector for Battlenet {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "battlenet"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.orig.is_empty() && !p.resp.is_empty() {
            return Probe::NotMine;
        }
        // The channel-present bit set, the channel's bits clear.
        match *p.orig.stream() {
            [] => Probe::Maybe,
            [b0, ..] if b0 & 0xc0 != 0x40 => Probe::NotMine,
            [_] => Probe::Maybe,
            [_, b1, ..] if b1 & 7 != 0 => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// The client's first byte with the channel-present bit set and the
    /// top bit clear (`b0 & 0xc0 == 0x40`); the server alone is not probed.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x40, 0x7f))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.orig.is_empty() && !p.resp.is_empty() {
            return Parse::NotMine;
        }
        let l = match logon(p.orig.stream(), p.last && p.port(PORT)) {
            Ok(l) => l,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        meta.protocol = Some("battlenet");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("bnet_program", l.program);
        meta.set_extra("bnet_platform", l.platform);
        if let Some(locale) = l.locale {
            meta.set_extra("bnet_locale", locale);
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// starcraft_battle.pcap, 192.168.1.100:3517 -> 213.248.127.130:1119,
    /// the client's first segment (102 bytes; the account name replaced
    /// by `x`s of the same length).
    fn logon_msg() -> Vec<u8> {
        let mut d = unhex(
            "4a00000a66020aed2d66adc8e80a0000299964b723a1000046dc433732ba002b
             b4b7000067250c061700",
        );
        d.extend_from_slice(&[b'x'; 23]);
        d.extend_from_slice(&unhex(
            "02325300008cd4ac5500000000000000000000ffff5d39fc69ee7638af0000
             000000000000",
        ));
        d
    }

    fn run(port: u16, orig: &[u8], last: bool) -> (Parse, Meta) {
        let ends = [[orig.len() as u32], [0]];
        let mut p = Payloads::tcp(40000, port, orig, &[], &ends);
        p.last = last;
        let mut m = Meta::default();
        (Battlenet.parse(&p, &mut m), m)
    }

    #[test]
    fn starcraft_logon() {
        let d = logon_msg();
        assert_eq!(d.len(), 102);
        let server = unhex("421061757468000045558e86fbdd1ee515315e9e");
        for port in [1119, 40001] {
            let (r, m) = check_split_tcp(&Battlenet, port, &d, &server);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("battlenet"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("bnet_program"), Some("S2"));
            assert_eq!(m.extra("bnet_platform"), Some("Win"));
            assert_eq!(m.extra("bnet_locale"), Some("enGB"));
        }
        // Header, codes and the components' codes are enough.
        assert_eq!(run(40001, &d[..39], false).0, Parse::Done);
        assert_eq!(run(40001, &d[..38], false).0, Parse::NeedMore);
    }

    #[test]
    fn truncated_logon() {
        // ossfuzz_seed_fake_traces_1.pcapng: one 10-byte segment to 1119.
        let d = unhex("4a00000a66020aed2d66");
        let (r, m) = run(1119, &d, true);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("bnet_program"), Some("S2"));
        assert_eq!(m.extra("bnet_locale"), None);
        assert_eq!(run(1119, &d, false).0, Parse::NeedMore);
        assert_eq!(run(40001, &d, true).0, Parse::NotMine);
        // Shorter than the platform code: not enough.
        assert_eq!(run(1119, &d[..9], true).0, Parse::NotMine);
        // An unknown program code (`S3`) is well-formed but not named
        // on truncated evidence.
        let mut odd = d.clone();
        odd[5] ^= 0x01;
        assert_eq!(run(1119, &odd, true).0, Parse::NotMine);
    }

    #[test]
    fn not_battlenet() {
        let d = logon_msg();
        let flip = |i: usize, x: u8| {
            let mut v = d.clone();
            v[i] ^= x;
            v
        };
        let cases = [
            flip(0, 0x40),  // channel-present bit clear
            flip(1, 0x01),  // channel 1
            flip(1, 0x08),  // the program code not alphanumeric
            flip(5, 0x08),  // the platform code not alphanumeric
            flip(9, 0x20),  // the locale not two lowercase, two uppercase
            flip(13, 0x08), // a component count out of range
            flip(14, 0x01), // a component's code not alphanumeric
            b"GET / HTTP/1.1\r\n\r\n0123456789012345678901234567890".to_vec(),
        ];
        for c in &cases {
            for port in [1119, 40001] {
                let ends = [[c.len() as u32], [0]];
                let mut p = Payloads::tcp(40000, port, c, &[], &ends);
                p.last = true;
                assert!(!not_refused(&Battlenet, &p), "{:?}", &c[..4]);
            }
        }
        for k in 0..d.len() {
            let _ = run(1119, &d[..k], true);
        }
    }
}
