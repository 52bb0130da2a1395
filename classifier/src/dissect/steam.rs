//! Steam's local discovery (Remote Play / In-Home Streaming, broadcast on
//! UDP 27036), on any port. Each datagram is the 8-byte signature
//! `ff ff ff ff 21 4c 5f a0`, a little-endian 32-bit header length, the
//! header (a protobuf message: client id, message type, instance id), a
//! little-endian 32-bit body length and the body (a protobuf message: a
//! discovery request, or a status with the host name, ports and users).
//! The lengths must fill the datagram exactly and the header must parse
//! as protobuf fields. Nothing is enciphered: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Steam;

const SIGNATURE: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0x21, 0x4c, 0x5f, 0xa0];
/// Largest header taken as plausible.
const MAX_HEADER: usize = 1024;

fn le32(d: &[u8], at: usize) -> Option<usize> {
    let b = d.get(at..at.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

/// A protobuf varint at `d[*at..]`, advancing `at`.
fn varint(d: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *d.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The message type (field 2) of a header that parses as protobuf fields
/// filling it exactly; `Some(None)` when it has no such field.
fn header_type(h: &[u8]) -> Option<Option<u64>> {
    let mut at = 0usize;
    let mut kind = None;
    while at < h.len() {
        let key = varint(h, &mut at)?;
        if key >> 3 == 0 {
            return None;
        }
        match key & 7 {
            0 => {
                let v = varint(h, &mut at)?;
                if key >> 3 == 2 {
                    kind = Some(v);
                }
            }
            1 => at = at.checked_add(8)?,
            2 => {
                let n = usize::try_from(varint(h, &mut at)?).ok()?;
                at = at.checked_add(n)?;
            }
            5 => at = at.checked_add(4)?,
            _ => return None,
        }
    }
    (at == h.len()).then_some(kind)
}

/// What a datagram is.
enum Datagram {
    No,
    /// Nothing yet.
    Short,
    /// A whole discovery datagram: the header's message type.
    Whole(Option<u64>),
}

fn datagram(d: &[u8]) -> Datagram {
    // Datagrams come whole: only an empty one is too short to tell.
    if d.is_empty() {
        return Datagram::Short;
    }
    if d.len() < SIGNATURE.len() {
        return Datagram::No;
    }
    if d[..8] != SIGNATURE {
        return Datagram::No;
    }
    let Some(h) = le32(d, 8) else {
        return Datagram::No;
    };
    if h == 0 || h > MAX_HEADER {
        return Datagram::No;
    }
    let Some(header) = d.get(12..12 + h) else {
        return Datagram::No;
    };
    let Some(b) = le32(d, 12 + h) else {
        return Datagram::No;
    };
    if (16 + h).checked_add(b) != Some(d.len()) {
        return Datagram::No;
    }
    match header_type(header) {
        Some(kind) => Datagram::Whole(kind),
        None => Datagram::No,
    }
}

impl Dissector for Steam {
    fn name(&self) -> &'static str {
        "steam"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match datagram(p.first_payload()) {
            Datagram::No => Probe::NotMine,
            Datagram::Short => Probe::Maybe,
            Datagram::Whole(_) => Probe::Mine,
        }
    }
    /// The probe admits only the signature, `ff ff ff ff` first (`datagram`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[SIGNATURE[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let kind = match datagram(p.first_payload()) {
            Datagram::No => return Parse::NotMine,
            Datagram::Short => return p.undecided(),
            Datagram::Whole(k) => k,
        };
        meta.protocol = Some("steam");
        meta.app = Some("steam".to_string());
        meta.encryption = Encryption::Cleartext;
        if let Some(k) = kind {
            meta.set_extra("steam_discovery_message", k.to_string());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, UdpFixture};

    /// steam.pcapng, a broadcast on 27036: the signature, a 22-byte
    /// header (client id, message type 0, instance id) and a 2-byte body.
    const DISCOVERY: &[u8] = b"\xff\xff\xff\xff\x21\x4c\x5f\xa0\x16\x00\x00\x00\x08\xfc\xd3\xf1\xe3\xb7\xbc\xbf\xcf\x76\x10\x00\x18\xaf\xca\x9b\xaa\xa0\x80\xd9\xe4\x02\x02\x00\x00\x00\x08\x01";

    #[test]
    fn discovery() {
        let (r, m) = check_split_udp(&Steam, 27036, 27036, &[DISCOVERY], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("steam"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("steam_discovery_message"), Some("0"));
    }

    #[test]
    fn not_steam() {
        let mut long = DISCOVERY.to_vec();
        long.push(0);
        let mut short = DISCOVERY.to_vec();
        short.pop();
        let mut sig = DISCOVERY.to_vec();
        sig[5] = 0x4d;
        // A header that is not protobuf (field number zero).
        let mut header = DISCOVERY.to_vec();
        header[12] = 0x00;
        for d in [long, short, sig, header] {
            let f = UdpFixture::new(27036, 27036, &[&d], &[]);
            assert!(!not_refused(&Steam, &f.payloads()), "{d:?}");
        }
    }
}
