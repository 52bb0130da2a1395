//! Avast's `NOSA` channel (TCP, port 80 in the captures, to Avast's own
//! addresses), described from the captures. Every message is the ASCII
//! magic `NOSA`, a big-endian 16-bit length (the whole message), a
//! version byte (1) and a type byte (1 the client's hello, 2 the server's
//! answer, 4 a later client message), then fields. The hello's fields
//! are tagged with three letters and a size byte: `BRE` and `LIC` carry
//! 20-byte digests, `LUN` a 16-byte id; between messages the client sends
//! single zero bytes as keep-alives. Ids and digests travel in the clear
//! and nothing is ciphertext, so the flow is cleartext (nDPI flags AVAST
//! encrypted as a protocol constant).

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Avast;

const MAGIC: &[u8; 4] = b"NOSA";
const HEADER: usize = 8;
const VERSION: u8 = 1;

/// `Some(true)` when `d` opens with a whole NOSA message, `Some(false)`
/// when it cannot, `None` when too short to tell.
fn opens_with_message(d: &[u8]) -> Option<bool> {
    if !agrees(d, MAGIC) {
        return Some(false);
    }
    let h = d.get(..HEADER)?;
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if len < HEADER || h[6] != VERSION || !matches!(h[7], 1..=8) {
        return Some(false);
    }
    (d.len() >= len).then_some(true)
}

impl Dissector for Avast {
    fn name(&self) -> &'static str {
        "avast"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match opens_with_message(p.first_side().stream()) {
            Some(false) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// The message's magic (`opens_with_message` on whoever spoke first).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[MAGIC[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side().stream();
        match opens_with_message(first) {
            Some(false) => return Parse::NotMine,
            None => return p.undecided(),
            Some(true) => {}
        }
        meta.protocol = Some("avast");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("avast".to_string());
        if let Some(&t) = first.get(7) {
            meta.set_extra("avast_message", t.to_string());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&((HEADER + body.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[VERSION, kind]);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn hello_and_answer() {
        let mut body = vec![0, 0, 3, 1, 8, 0xb2, 0x5a, 0x29, b'B', b'R', b'E', 0x14, 0, 0, 0, 0];
        body.extend_from_slice(&[0xf8; 20]);
        let c = message(1, &body);
        let s = message(2, &[0, 0, 0, 0, 0xe8, 0xe6, 0x7a, 0x0c]);
        let (r, m) = check_split_tcp(&Avast, 80, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("avast"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("avast_message"), Some("1"));
        // A message cut short waits.
        let ends = [[10], [0]];
        let p = Payloads::tcp(40000, 80, &c[..10], &[], &ends);
        assert_eq!(Avast.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_avast() {
        let mut v2 = message(1, &[0; 8]);
        v2[6] = 2;
        let mut short = message(1, &[0; 8]);
        short[5] = 4;
        for d in [&b"NOSE\x00\x10\x01\x01"[..], &v2, &short, b"GET / HTTP/1.1\r\n"] {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 80, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Avast, &p);
            assert!(!claimed, "{d:?}");
        }
    }
}
