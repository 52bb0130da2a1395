//! AMQP over TCP, on any port (5672 is only a hint). A connection opens
//! with the 8-byte protocol header `AMQP`, a protocol id (0; 1.0 uses 0
//! to 3 for AMQP, TLS, SASL) and three version bytes (0-9-1, 0-8, 1-0-0).
//! AMQP 0-9-1 then exchanges frames: a type (1 method, 2 content header,
//! 3 body, 8 heartbeat; 4 in 0-8), a 16-bit channel, a 32-bit size, that
//! many bytes and the frame-end byte 0xCE. A method frame opens with its
//! class id (10 connection, 20 channel, 30 access, 40 exchange, 50 queue,
//! 60 basic, 85 confirm, 90 tx).
//!
//! Taken on the protocol header, or (a capture that starts mid-way) on
//! frames that tile one side's data: a whole method frame of a known
//! class first, or two whole frames. Without TLS (taken first by the TLS
//! dissector) queues, routing keys and messages are in clear: cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Amqp;

const MAGIC: &[u8] = b"AMQP";
const PROTOCOL_HEADER: usize = 8;
const FRAME_HEADER: usize = 7;
const FRAME_END: u8 = 0xce;
/// Largest frame taken as evidence (brokers default to 128 KiB).
const MAX_FRAME: usize = 1 << 20;
const MAX_FRAMES: usize = 8;

/// The protocol header opening `d`, as a version string.
fn protocol_header(d: &[u8]) -> Result<Option<&'static str>, ()> {
    if !agrees(d, MAGIC) {
        return Err(());
    }
    let Some(h) = d.get(..PROTOCOL_HEADER) else {
        return Ok(None);
    };
    match (h[4], h[5], h[6], h[7]) {
        (0, 0, 9, 1) => Ok(Some("0-9-1")),
        (1, 1, 0, 9) | (1, 1, 0, 10) => Ok(Some("0-9-1")),
        (1, 1, 8, 0) | (0, 0, 8, 0) => Ok(Some("0-8")),
        (0..=3, 1, 0, 0) => Ok(Some("1.0")),
        _ => Err(()),
    }
}

/// Frames tiling `d`: `Ok(true)` once they prove AMQP, `Ok(false)` while
/// they might, `Err` when `d` does not open with a frame.
fn frames(d: &[u8]) -> Result<bool, ()> {
    let mut off = 0;
    let mut whole = 0;
    while whole < MAX_FRAMES && off < d.len() {
        let f = &d[off..];
        if !matches!(f[0], 1..=4 | 8) {
            return Err(());
        }
        let Some(h) = f.get(..FRAME_HEADER) else {
            break;
        };
        let size = u32::from_be_bytes([h[3], h[4], h[5], h[6]]) as usize;
        if size > MAX_FRAME {
            return Err(());
        }
        if whole == 0 && f[0] == 1 {
            if let Some(c) = f.get(FRAME_HEADER..FRAME_HEADER + 2) {
                let class = u16::from_be_bytes([c[0], c[1]]);
                if !matches!(class, 10 | 20 | 30 | 40 | 50 | 60 | 85 | 90) || size < 4 {
                    return Err(());
                }
            }
        }
        let Some(&end) = f.get(FRAME_HEADER + size) else {
            break;
        };
        if end != FRAME_END {
            return Err(());
        }
        // A first method frame of a known class is enough.
        if whole == 0 && f[0] == 1 {
            return Ok(true);
        }
        whole += 1;
        off += FRAME_HEADER + size + 1;
    }
    Ok(whole >= 2)
}

/// What one side shows: `Ok(Some(version))` when proven (version
/// unknown mid-connection), `Ok(None)` while undecided.
fn side(d: &[u8]) -> Result<Option<Option<&'static str>>, ()> {
    if let Ok(h) = protocol_header(d) {
        return Ok(h.map(Some));
    }
    Ok(frames(d)?.then_some(None))
}

impl Dissector for Amqp {
    fn name(&self) -> &'static str {
        "amqp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if side(p.first_payload()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits the `AMQP` header or a frame type 1..=4 or 8 (`side`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"A\x01\x02\x03\x04\x08"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (p.first_side().stream(), p.second_side().stream());
        let Ok(x) = side(a) else {
            return Parse::NotMine;
        };
        let y = if b.is_empty() { Ok(None) } else { side(b) };
        let Ok(y) = y else {
            return Parse::NotMine;
        };
        let Some(version) = x.or(y) else {
            return p.undecided();
        };
        meta.protocol = Some("amqp");
        meta.encryption = Encryption::Cleartext;
        if let Some(v) = version.or(y.flatten()) {
            meta.set_extra("amqp_version", v);
        }
        if x.is_some() && y.is_some() {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    // amqp.pcap, 127.0.0.1:44206 -> 127.0.1.1:5672 (captured mid-way): a
    // basic.publish method frame, then the start of its content header.
    const PUBLISH: &[u8] = b"\x01\x00\x01\x00\x00\x00\x17\x00\x3c\x00\x28\x00\x00\x07\x64\x65\x66\x61\x75\x6c\x74\x07\x74\x61\x73\x6b\x73\x2e\x23\x00\xce";
    const HEADER_START: &[u8] = b"\x02\x00\x01\x00\x00\x00\x84\x00\x3c\x00\x00";

    #[test]
    fn frames_mid_connection() {
        let c = [PUBLISH, HEADER_START].concat();
        let (r, m) = check_split_tcp(&Amqp, 5672, &c, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("amqp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // Two heartbeats.
        let hb = b"\x08\x00\x00\x00\x00\x00\x00\xce\x08\x00\x00\x00\x00\x00\x00\xce";
        let (r, _) = check_split_tcp(&Amqp, 5672, hb, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn protocol_header_then_start() {
        let (r, m) = check_split_tcp(&Amqp, 5672, b"AMQP\x00\x00\x09\x01", PUBLISH);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("amqp_version"), Some("0-9-1"));
    }

    #[test]
    fn not_amqp() {
        let mut end = PUBLISH.to_vec();
        end[30] = 0xcf;
        let mut class = PUBLISH.to_vec();
        class[8] = 0x3d;
        let mut kind = PUBLISH.to_vec();
        kind[0] = 5;
        let cases: [&[u8]; 5] = [
            &end,
            &class,
            &kind,
            b"AMQP\x00\x00\x09\x02",
            b"\x08\x00\x00\x00\x00\x00\x00\xce",
        ];
        for c in cases {
            let ends = [[c.len() as u32], [0]];
            let mut p = Payloads::tcp(40000, 5672, c, &[], &ends);
            p.last = true;
            assert!(!crate::dissect::not_refused(&Amqp, &p), "{c:?}");
        }
    }
}
