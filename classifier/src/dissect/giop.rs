//! CORBA GIOP (OMG CORBA 3, part 2, chapter 9: IIOP over TCP) and MIOP
//! (OMG Unreliable Multicast, GIOP in UDP datagrams), on any port.
//!
//! The 12-byte GIOP header: magic `GIOP` (or `ZIOP`, a compressed
//! message, on the answer or on a later message), version 1.0..1.3, a byte-order
//! flag (1.0: 0 or 1; 1.1 and later: flags with only the byte-order and
//! fragment bits), a message type (0..6 in 1.0, 0..7 later) and the body
//! size in that byte order (at most 16 MiB). Over TCP the first side's
//! first message must have such a header, and the other side's first
//! message too when it answered.
//!
//! Over UDP: a datagram that is a GIOP message whose size fills it, or a
//! MIOP packet: magic `MIOP`, version 1.0, flags with only the byte-order
//! and last-packet bits, a packet length equal to what follows the
//! header (the 20 fixed bytes and the packet's unique id, at most 252
//! bytes, padded to 8), and on the first packet of a message a GIOP
//! header right after it.
//!
//! GIOP is cleartext (its secure variants run over TLS: the TLS
//! dissector's).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Giop;

const HEADER: usize = 12;
const MAX_SIZE: u32 = 16 << 20;

const TYPES: [&str; 8] = [
    "request",
    "reply",
    "cancel_request",
    "locate_request",
    "locate_reply",
    "close_connection",
    "message_error",
    "fragment",
];

fn u32_at(d: &[u8], at: usize, le: bool) -> Option<u32> {
    let b: [u8; 4] = d.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

/// A GIOP header at the start of `d`: (minor version, message type,
/// body size). `Err(true)`: more bytes needed.
fn header(d: &[u8]) -> Result<(u8, u8, u32), bool> {
    // GIOP, or ZIOP (the same header on a compressed message, CORBA
    // ZIOP 1.0) once the peers agreed on compression.
    let magic = |w: &[u8; 5]| d.iter().zip(w).all(|(a, b)| a == b);
    if !magic(b"GIOP\x01") && !magic(b"ZIOP\x01") {
        return Err(false);
    }
    let minor = *d.get(5).ok_or(true)?;
    let flags = *d.get(6).ok_or(true)?;
    let mtype = *d.get(7).ok_or(true)?;
    let ok = match minor {
        0 => flags <= 1 && mtype <= 6,
        1..=3 => flags & 0xfc == 0 && mtype <= 7,
        _ => false,
    };
    if !ok {
        return Err(false);
    }
    let size = u32_at(d, 8, flags & 1 != 0).ok_or(true)?;
    if size > MAX_SIZE {
        return Err(false);
    }
    Ok((minor, mtype, size))
}

/// A MIOP packet filling datagram `d`: the GIOP header it starts with,
/// if it is a message's first packet.
fn miop(d: &[u8]) -> Option<Option<(u8, u8, u32)>> {
    if d.get(..5)? != b"MIOP\x10" {
        return None;
    }
    let flags = *d.get(5)?;
    if flags & 0xfc != 0 {
        return None;
    }
    let le = flags & 1 != 0;
    let b = [*d.get(6)?, *d.get(7)?];
    let plen = usize::from(if le {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    });
    let number = u32_at(d, 8, le)?;
    let count = u32_at(d, 12, le)?;
    let id_len = usize::try_from(u32_at(d, 16, le)?).ok()?;
    if id_len > 252 || count == 0 || number >= count {
        return None;
    }
    let off = (20 + id_len + 7) & !7;
    if d.len() < off || d.len() - off != plen {
        return None;
    }
    if number == 0 {
        header(&d[off..]).ok().map(Some)
    } else {
        Some(None)
    }
}

impl Dissector for Giop {
    fn name(&self) -> &'static str {
        "giop"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            None | Some(b'G') => Probe::Maybe,
            Some(b'M') if p.transport == Transport::Udp => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    /// The `G` of `GIOP`, or on UDP the `M` of `MIOP`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"GM"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (found, answered) = if p.transport == Transport::Udp {
            let d = p.first_side().first();
            let found = match header(d) {
                Ok((minor, t, size)) if d.len() == HEADER + size as usize => Some((minor, t, false)),
                Ok(_) => None,
                Err(_) => match miop(d) {
                    Some(Some((minor, t, _))) => Some((minor, t, true)),
                    Some(None) => Some((0xff, 0xff, true)),
                    None => None,
                },
            };
            let Some(found) = found else { return Parse::NotMine };
            (found, false)
        } else {
            let (a, b) = (p.first_side().stream(), p.second_side().stream());
            let (minor, t, _) = match header(a) {
                Ok(h) => h,
                Err(true) => return p.undecided(),
                Err(false) => return Parse::NotMine,
            };
            let answered = match header(b) {
                Ok(_) => true,
                Err(true) => false,
                Err(false) => return Parse::NotMine,
            };
            ((minor, t, false), answered)
        };
        let (minor, t, multicast) = found;
        meta.protocol = Some("giop");
        meta.encryption = Encryption::Cleartext;
        if let Some(name) = TYPES.get(usize::from(t)) {
            meta.set_extra("giop_version", format!("1.{minor}"));
            meta.set_extra("giop_message", *name);
        }
        if multicast {
            meta.set_extra("giop_transport", "miop");
        }
        if answered || p.transport == Transport::Udp {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, unhex, UdpFixture};

    /// corba.pcap (42717 → 56899): the start of a GIOP 1.2 request
    /// (body 0xd8 bytes, big endian) and of its reply.
    const REQUEST: &str = "47494f5001020000000000d80000000003000000000000000000003c0000000000000001000000104d795f436f6d70726573735f506f61";
    const REPLY: &str = "47494f50010200010000005100000000000000000000000000000041000202060402010503010205030707060102070705030105030703";
    /// corba.pcap (34477 → 15984, UDP): the first 260-byte MIOP packet,
    /// its GIOP request cut to 32 bytes here and the lengths set to match.
    const MIOP: &str = "4d494f50 1003 2000 00000000 01000000 0c000000 000000000000000000000000 47494f50 01020100 14000000 00000000 00000000 01000000 03000000 48000000";

    #[test]
    fn iiop() {
        let (o, r) = (unhex(REQUEST), unhex(REPLY));
        let (v, m) = check_split_tcp(&Giop, 56899, &o, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("giop"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("giop_version"), Some("1.2"));
        assert_eq!(m.extra("giop_message"), Some("request"));
        let (v, _) = check_split_tcp(&Giop, 56899, &o, &[]);
        assert_eq!(v, Parse::Identified);
    }

    #[test]
    fn miop_datagram() {
        let d = unhex(MIOP);
        assert_eq!(d.len(), 32 + 32);
        let (v, m) = check_split_udp(&Giop, 34477, 15984, &[&d], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("giop_transport"), Some("miop"));
        assert_eq!(m.extra("giop_message"), Some("request"));
        let mut cut = d.clone();
        cut.pop();
        let f = UdpFixture::new(34477, 15984, &[&cut], &[]);
        assert!(!not_refused(&Giop, &f.payloads()));
    }

    #[test]
    fn not_giop() {
        let (o, r) = (unhex(REQUEST), unhex(REPLY));
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, v) in [(0, b'g'), (4, 2), (5, 4), (6, 4), (7, 8), (8, 0x10)] {
            let mut c = o.clone();
            c[i] = v;
            cases.push((c, Vec::new()));
        }
        cases.push((o.clone(), b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
        let mut bad_reply = r.clone();
        bad_reply[5] = 9;
        cases.push((o.clone(), bad_reply));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 56899, o, r, &ends);
            assert!(!not_refused(&Giop, &p), "{o:02x?}");
        }
        // GIOP 1.0 has no fragment message; flags are a boolean there.
        let mut v10 = o.clone();
        v10[5] = 0;
        v10[7] = 7;
        let ends = [[v10.len() as u32], [0]];
        assert!(!not_refused(&Giop, &Payloads::tcp(40000, 9999, &v10, &[], &ends)));
    }
}
