//! Beckhoff ADS over AMS/TCP (TwinCAT; port 48898 is a hint only).
//!
//! An AMS/TCP packet is two reserved zero bytes, a 32-bit little-endian
//! length, then the 32-byte AMS header and the ADS data: target AMS
//! NetId (6 bytes) and port (2), source NetId and port, command id (1
//! to 9), state flags (bit 0 response, bit 2 ADS command), data length
//! (the AMS/TCP length less 32), error code and invoke id. The header
//! of a request alone is mostly ids and zeros, so the flow is named with
//! the answer: the client's request (response bit clear, command bit
//! set) and the server's response (response bit set) with the same
//! command and invoke id and the two NetIds and ports swapped.
//!
//! ADS has no encryption of its own (Secure ADS is TLS underneath, a TLS
//! flow): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct BeckhoffAds;

const TCP_HEADER: usize = 6;
const AMS_HEADER: usize = 32;
const FLAG_RESPONSE: u16 = 1;
const FLAG_ADS: u16 = 4;

fn le16(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}

fn le32(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// The AMS header of the packet at the start of `d` if it is well formed
/// and its response bit is `response`. `Err(true)`: need more.
fn packet(d: &[u8], response: bool) -> Result<&[u8], bool> {
    let n = d.len().min(2);
    if d[..n].iter().any(|&b| b != 0) {
        return Err(false);
    }
    let h = d.get(..TCP_HEADER + AMS_HEADER).ok_or(true)?;
    let ams = &h[TCP_HEADER..];
    let len = le32(h, 2);
    let (cmd, flags, data) = (le16(ams, 16), le16(ams, 18), le32(ams, 20));
    let ok = (1..=9).contains(&cmd)
        && flags & FLAG_ADS != 0
        && (flags & FLAG_RESPONSE != 0) == response
        && u64::from(len) == AMS_HEADER as u64 + u64::from(data);
    ok.then_some(ams).ok_or(false)
}

impl Dissector for BeckhoffAds {
    fn name(&self) -> &'static str {
        "beckhoff_ads"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.stream() {
            [] if p.resp.is_empty() => Probe::Maybe,
            [0] | [0, 0, ..] => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only the AMS/TCP reserved zero bytes, from the client.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let req = match packet(p.orig.stream(), false) {
            Ok(h) => h,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let resp = match packet(p.resp.stream(), true) {
            Ok(h) => h,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        // Addresses swapped; the same command and invoke id.
        if resp[..8] != req[8..16]
            || resp[8..16] != req[..8]
            || resp[16..18] != req[16..18]
            || resp[28..32] != req[28..32]
        {
            return Parse::NotMine;
        }
        meta.protocol = Some("beckhoff_ads");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ads_command", le16(req, 16).to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    // beckhoff_ads.pcapng, 192.168.1.99:49201 -> 192.168.1.8:48898: ADS
    // Read State (command 4), invoke id 5, and its response.
    const REQ: &str = "000020000000050d756001011027c0a801630101038004000400000000000000000005000000";
    const RESP: &str = "000028000000c0a8016301010380050d756001011027040005000800000000000000050000000000000005000200";

    #[test]
    fn read_state() {
        let (c, s) = (unhex(REQ), unhex(RESP));
        for port in [48898, 40001] {
            let (r, m) = check_split_tcp(&BeckhoffAds, port, &c, &s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("beckhoff_ads"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("ads_command"), Some("4"));
        }
    }

    #[test]
    fn not_ads() {
        let (c, s) = (unhex(REQ), unhex(RESP));
        let mutate = |d: &[u8], i: usize, v: u8| {
            let mut d = d.to_vec();
            d[i] = v;
            d
        };
        let cases: [(Vec<u8>, Vec<u8>); 7] = [
            (c.clone(), vec![]),               // unanswered
            (mutate(&c, 0, 1), s.clone()),     // reserved not zero
            (mutate(&c, 2, 0x21), s.clone()),  // length off by one
            (mutate(&c, 22, 0x0a), s.clone()), // command 10
            (mutate(&c, 24, 0x05), s.clone()), // a response first
            (c.clone(), mutate(&s, 34, 0x06)), // another invoke id
            (c.clone(), mutate(&s, 6, 0xc1)),  // NetIds not swapped
        ];
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 48898, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&BeckhoffAds, &p), "{o:?} {r:?}");
        }
    }
}
