//! Java RMI's transport protocol (JRMP, the Java RMI specification's
//! "RMI Wire Protocol") over TCP; port 1099 is a hint only.
//!
//! The client opens with the header `JRMI`, a 16-bit version (1 or 2)
//! and a protocol byte: 0x4b stream, 0x4c single-operation, 0x4d
//! multiplex. The server answers a stream or multiplex request with
//! ProtocolAck (0x4e) or ProtocolNotSupported (0x4f); after a
//! ProtocolAck comes the client endpoint as the server sees it: a
//! modified-UTF-8 host name (a 16-bit length, printable bytes) and a
//! 32-bit port. Checked: the header, version and protocol; the server's
//! first byte; and, after an ack, a host of 1 to 255 printable bytes.
//!
//! Calls carry Java serialization streams in the clear (RMI over TLS is
//! a TLS flow): cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Jrmi;

const MAGIC: &[u8] = b"JRMI";
const ACK: u8 = 0x4e;
const NOT_SUPPORTED: u8 = 0x4f;
const HOST_MAX: usize = 255;

/// The client's protocol byte. `Err(true)`: need more.
fn header(d: &[u8]) -> Result<u8, bool> {
    if !agrees(d, MAGIC) {
        return Err(false);
    }
    let h = d.get(..7).ok_or(true)?;
    if h[4] != 0 || !(1..=2).contains(&h[5]) || !(0x4b..=0x4d).contains(&h[6]) {
        return Err(false);
    }
    Ok(h[6])
}

/// The server's answer: `Some(true)` valid, `None` need more.
fn answer(r: &[u8]) -> Option<bool> {
    match *r.first()? {
        NOT_SUPPORTED => Some(true),
        ACK => {
            let l = r.get(1..3)?;
            let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
            if len == 0 || len > HOST_MAX {
                return Some(false);
            }
            let host = &r[3..r.len().min(3 + len)];
            if !host.iter().all(u8::is_ascii_graphic) {
                return Some(false);
            }
            (host.len() == len).then_some(true)
        }
        _ => Some(false),
    }
}

impl Dissector for Jrmi {
    fn name(&self) -> &'static str {
        "jrmi"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        p.client_opens_with(|b| b == b'J')
    }
    /// The client must open with the magic `JRMI` (`client_opens_with`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"J"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let protocol = match header(p.orig.stream()) {
            Ok(x) => x,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let r = p.resp.stream();
        let answered = match answer(r) {
            Some(true) => true,
            Some(false) => return Parse::NotMine,
            None => false,
        };
        meta.protocol = Some("jrmi");
        meta.encryption = Encryption::Cleartext;
        let name = match protocol {
            0x4b => "stream",
            0x4c => "single_op",
            _ => "multiplex",
        };
        meta.set_extra("jrmi_protocol", name);
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
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    #[test]
    fn stream_protocol() {
        // jrmi.pcap, 127.0.0.1:34450 -> 127.0.1.1:1099.
        let c = unhex("4a524d4900024b");
        let s = unhex("4e00093132372e302e302e3100008692");
        for port in [1099, 40001] {
            let (r, m) = check_split_tcp(&Jrmi, port, &c, &s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("jrmi"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("jrmi_protocol"), Some("stream"));
        }
        let (r, _) = check_split_tcp(&Jrmi, 1099, &c, &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_jrmi() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"JRMI\x00\x03\x4b", b""),
            (b"JRMI\x00\x02\x4a", b""),
            (b"JRMX\x00\x02\x4b", b""),
            (b"JRMI\x00\x02\x4b", b"\x50"),
            (b"JRMI\x00\x02\x4b", b"\x4e\x00\x00"),
            (b"JRMI\x00\x02\x4b", b"\x4e\x00\x03a\x01b"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 1099, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Jrmi, &p), "{o:?} {r:?}");
        }
    }
}
