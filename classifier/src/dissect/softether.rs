//! SoftEther VPN's NAT-traversal exchange over UDP (any port; the servers
//! in the captures listen on 5004), described from the captures and
//! SoftEther's serialisation format (its "PACK"). Each datagram is one of:
//! - a PACK: a big-endian 32-bit element count, then per element a
//!   32-bit name length (the name's length plus one), the name, a 32-bit
//!   value type (0 int, 1 data, 2 string, 3 Unicode string, 4 64-bit
//!   int), a 32-bit value count and the values (ints as 4 bytes, 64-bit
//!   ints as 8, the others as a 32-bit length and the bytes); the
//!   elements fill the datagram exactly;
//! - the client's one-byte probe `A`, which the server answers with the
//!   address and port it saw, as text: `IP=192.0.2.1,PORT=51381`.
//!
//! A flow is taken as SoftEther when one of its datagrams is a PACK of at
//! least two elements, or a probe is answered with the address text, and
//! no datagram is anything else. Names, strings and numbers (opcode,
//! host name, machine key, token) are all in the clear: cleartext. The VPN
//! sessions themselves run over TLS and are the TLS dissector's.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct SoftEther;

/// Most elements taken in one PACK, and longest element name.
const MAX_ELEMENTS: u32 = 64;
const MAX_NAME: usize = 64;
const PROBE: &[u8] = b"A";

fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A whole PACK's element count and its `opcode` string, if any.
type Pack<'a> = (u32, Option<&'a [u8]>);

/// Parses `d` as one PACK filling it exactly. `None` when it is not one
/// (a truncated datagram is not one either: datagrams come whole).
fn pack(d: &[u8]) -> Option<Pack<'_>> {
    let n = be32(d, 0)?;
    if n == 0 || n > MAX_ELEMENTS {
        return None;
    }
    let mut at = 4usize;
    let mut opcode = None;
    for _ in 0..n {
        let name_len = usize::try_from(be32(d, at)?).ok()?.checked_sub(1)?;
        if name_len == 0 || name_len > MAX_NAME {
            return None;
        }
        let name = d.get(at + 4..at + 4 + name_len)?;
        if !name
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        {
            return None;
        }
        at += 4 + name_len;
        let kind = be32(d, at)?;
        let count = be32(d, at + 4)?;
        at += 8;
        if count == 0 {
            return None;
        }
        for _ in 0..count {
            match kind {
                0 => at += 4,
                4 => at += 8,
                1..=3 => {
                    let len = usize::try_from(be32(d, at)?).ok()?;
                    let value = d.get(at + 4..(at + 4).checked_add(len)?)?;
                    if name == b"opcode" && kind == 2 {
                        opcode = Some(value);
                    }
                    at += 4 + len;
                }
                _ => return None,
            }
            if at > d.len() {
                return None;
            }
        }
    }
    (at == d.len()).then_some((n, opcode))
}

/// `IP=<dotted quad>,PORT=<port>`, the server's answer to a probe.
fn address_answer(d: &[u8]) -> bool {
    let Some(rest) = d.strip_prefix(b"IP=") else {
        return false;
    };
    let Some(comma) = rest.iter().position(|&b| b == b',') else {
        return false;
    };
    let (ip, port) = (&rest[..comma], &rest[comma + 1..]);
    let quad = ip.split(|&b| b == b'.').collect::<Vec<_>>();
    let octet = |p: &&[u8]| {
        (1..=3).contains(&p.len())
            && p.iter().all(u8::is_ascii_digit)
            && std::str::from_utf8(p).ok().and_then(|s| s.parse::<u8>().ok()).is_some()
    };
    let Some(digits) = port.strip_prefix(b"PORT=") else {
        return false;
    };
    quad.len() == 4
        && quad.iter().all(octet)
        && (1..=5).contains(&digits.len())
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
            .is_some()
}

/// Whether a (whole) datagram could be one of the exchange's.
fn could_start(d: &[u8]) -> bool {
    d.is_empty() || d == PROBE || d.starts_with(b"IP=") || be32(d, 0).is_some_and(|n| (1..=MAX_ELEMENTS).contains(&n))
}
impl Dissector for SoftEther {
    fn name(&self) -> &'static str {
        "softether"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if could_start(p.first_payload()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the probe `A`, an `IP=` answer or a pack
    /// whose big-endian element count is 1..=64 (a zero first byte)
    /// (`could_start`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"AI\0"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (mut packs, mut probes, mut answers) = (0usize, 0usize, 0usize);
        let mut opcode = None;
        for (from_orig, d) in p
            .orig
            .chunks()
            .map(|d| (true, d))
            .chain(p.resp.chunks().map(|d| (false, d)))
        {
            if d == PROBE && from_orig {
                probes += 1;
            } else if address_answer(d) && !from_orig {
                answers += 1;
            } else if let Some((n, op)) = pack(d) {
                if n >= 2 {
                    packs += 1;
                }
                opcode = opcode.or(op);
            } else {
                return Parse::NotMine;
            }
        }
        if packs == 0 && (probes == 0 || answers == 0) {
            return p.undecided();
        }
        meta.protocol = Some("softether");
        meta.encryption = Encryption::Cleartext;
        if let Some(op) = opcode {
            meta.set_extra("softether_opcode", String::from_utf8_lossy(op).into_owned());
        }
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, UdpFixture};

    /// softether.pcap: the client's get_token request to a NAT-traversal
    /// server (three elements: opcode, tran_id, nat_traversal_version).
    const GET_TOKEN: &[u8] = b"\x00\x00\x00\x03\x00\x00\x00\x07opcode\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x09get_token\x00\x00\x00\x08tran_id\x00\x00\x00\x04\x00\x00\x00\x01\xbf<&\x84\x03\xc4\xea\x88\x00\x00\x00\x16nat_traversal_version\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01";
    const ANSWER: &[u8] = b"IP=90.186.132.133,PORT=51381";

    #[test]
    fn pack_request() {
        let (r, m) = check_split_udp(&SoftEther, 51381, 5004, &[GET_TOKEN], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("softether"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("softether_opcode"), Some("get_token"));
    }

    #[test]
    fn probe_and_address_answer() {
        let (r, m) = check_split_udp(&SoftEther, 51381, 5004, &[b"A", b"A"], &[ANSWER]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("softether_opcode"), None);
        // Then the PACK exchange on the same flow.
        let (r, m) = check_split_udp(&SoftEther, 51381, 5004, &[b"A", GET_TOKEN], &[ANSWER]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("softether_opcode"), Some("get_token"));
        // An unanswered probe says nothing yet.
        let f = UdpFixture::new(51381, 5004, &[b"A"], &[]);
        assert_eq!(SoftEther.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_softether() {
        let mut long = GET_TOKEN.to_vec();
        long.push(0);
        let mut bad_type = GET_TOKEN.to_vec();
        bad_type[17] = 5;
        let mut upper = GET_TOKEN.to_vec();
        upper[8] = b'O';
        let one = b"\x00\x00\x00\x01\x00\x00\x00\x03ab\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x07";
        let cases: [(&[u8], &[u8]); 7] = [
            (&long, b""),
            (&bad_type, b""),
            (&upper, b""),
            (one, b""),
            (b"A", b"IP=90.186.132.333,PORT=51381"),
            (b"A", b"IP=90.186.132.133,PORT=515381"),
            (GET_TOKEN, b"\x01\x02\x03\x04 random"),
        ];
        for (a, b) in cases {
            let resp: Vec<&[u8]> = if b.is_empty() { vec![] } else { vec![b] };
            let f = UdpFixture::new(51381, 5004, &[a], &resp);
            let mut p = f.payloads();
            p.last = true;
            assert!(!not_refused(&SoftEther, &p), "{a:?} {b:?}");
        }
    }
}
