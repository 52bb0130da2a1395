//! OpenFlow (ONF OpenFlow Switch Specification 1.0 to 1.5) over TCP,
//! named from the HELLO exchange that opens every connection; ports
//! 6653 and 6633 are hints only.
//!
//! Each message starts with an 8-byte header: version (0x01 for 1.0 up
//! to 0x06 for 1.5), type, 16-bit length of the whole message, 32-bit
//! transaction id. Both sides open with OFPT_HELLO (type 0), whose
//! length is a multiple of 8 (at most 256 here). From 1.3 on a HELLO may
//! carry elements (16-bit type, 16-bit length, padded to 8 bytes); a
//! version-bitmap element (type 1) must then list the header's version.
//! A HELLO alone is eight loosely constrained bytes, so the flow is named
//! only when both sides have sent a whole, well-formed HELLO.
//!
//! OpenFlow on these ports is unencrypted (TLS connections are TLS
//! flows): cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct OpenFlow;

const HEADER: usize = 8;
const MAX_HELLO: usize = 256;
const VERSION_BITMAP: u16 = 1;

fn be16(d: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([d[at], d[at + 1]]))
}

/// The version of the HELLO at the start of `d`. `Err(true)`: need more.
fn hello(d: &[u8]) -> Result<u8, bool> {
    match d.first() {
        None => return Err(true),
        Some(1..=6) => {}
        Some(_) => return Err(false),
    }
    if d.get(1).is_some_and(|&t| t != 0) {
        return Err(false);
    }
    let h = d.get(..HEADER).ok_or(true)?;
    let version = h[0];
    let len = be16(h, 2);
    if !(HEADER..=MAX_HELLO).contains(&len) || !len.is_multiple_of(8) {
        return Err(false);
    }
    let msg = d.get(..len).ok_or(true)?;
    let mut at = HEADER;
    while at < len {
        if at + 4 > len {
            return Err(false);
        }
        let (etype, elen) = (be16(msg, at) as u16, be16(msg, at + 2));
        if elen < 4 || at + elen > len {
            return Err(false);
        }
        if etype == VERSION_BITMAP {
            // Bitmaps of 32 bits, little first: bit n is version n.
            let word = msg.get(at + 4..at + 8).ok_or(false)?;
            let bits = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            if elen < 8 || bits & (1 << version) == 0 {
                return Err(false);
            }
        }
        at += elen.div_ceil(8) * 8;
    }
    if at != len {
        return Err(false);
    }
    Ok(version)
}

impl Dissector for OpenFlow {
    fn name(&self) -> &'static str {
        "openflow"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match (p.orig.stream(), p.resp.stream()) {
            ([v, ..], _) | ([], [v, ..]) if !(1..=6).contains(v) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// The probe admits only a version byte of 1..=6 on either side.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(1, 6))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (hello(p.orig.stream()), hello(p.resp.stream()));
        match (a, b) {
            (Err(false), _) | (_, Err(false)) => Parse::NotMine,
            (Ok(va), Ok(vb)) => {
                meta.protocol = Some("openflow");
                meta.encryption = Encryption::Cleartext;
                // The version spoken is the lower of the two (OpenFlow 1.0
                // is 0x01, 1.3 is 0x04).
                let v = va.min(vb);
                let name = ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"][usize::from(v - 1)];
                meta.set_extra("openflow_version", name);
                Parse::Done
            }
            _ => p.undecided(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    // openflow.pcap, 107.110.12.153:49234 -> 107.110.12.153:6653: both
    // HELLOs of OpenFlow 1.5 with version bitmaps.
    const C: &str = "06000010000000010001000800000040";
    const S: &str = "06000010ffffffff0001000800000072";

    #[test]
    fn hello_exchange() {
        let (c, s) = (unhex(C), unhex(S));
        for port in [6653, 40001] {
            let (r, m) = check_split_tcp(&OpenFlow, port, &c, &s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("openflow"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("openflow_version"), Some("1.5"));
        }
        // OpenFlow 1.0 HELLOs (header only).
        let h10 = [1u8, 0, 0, 8, 0, 0, 0, 7];
        let (r, m) = check_split_tcp(&OpenFlow, 6633, &h10, &h10);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("openflow_version"), Some("1.0"));
        // One side alone waits, then is refused.
        let ends = [[16], [0]];
        let mut p = Payloads::tcp(40000, 6653, &c, &[], &ends);
        assert_eq!(OpenFlow.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(OpenFlow.parse(&p, &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn not_openflow() {
        let (c, s) = (unhex(C), unhex(S));
        let mutate = |d: &[u8], i: usize, v: u8| {
            let mut d = d.to_vec();
            d[i] = v;
            d
        };
        let cases: [(Vec<u8>, Vec<u8>); 6] = [
            (mutate(&c, 0, 7), s.clone()),     // version 7
            (mutate(&c, 1, 5), s.clone()),     // not a HELLO
            (mutate(&c, 3, 0x0c), s.clone()),  // length not a multiple of 8
            (mutate(&c, 15, 0x20), s.clone()), // bitmap without version 6
            (mutate(&c, 11, 0x10), s.clone()), // element longer than the message
            (c.clone(), b"HTTP/1.1 400 Bad Request\r\n".to_vec()),
        ];
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 6653, o, r, &ends);
            assert!(!not_refused(&OpenFlow, &p), "{o:?}");
        }
    }
}
