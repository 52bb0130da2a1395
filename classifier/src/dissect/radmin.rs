//! Radmin (Famatech's remote administration, TCP 4899 by default) over
//! TCP, on any port. Every message is framed the same way: the byte 0x01,
//! a big-endian 32-bit body length, a big-endian 32-bit checksum, then
//! the body (a message type and its data). The checksum is the sum of the
//! body read as little-endian 32-bit words, the last one zero-padded
//! (modulo 2^32); the captures agree with that description.
//!
//! A flow is Radmin when the client's first message is whole and its
//! checksum right (and its type not zero), and a second message (the client's next, or the
//! server's first) is too; a byte after them that starts no message
//! refuses it. Radmin encrypts its sessions (AES-256 in Radmin 3) once
//! both sides have agreed on a key, but the opening messages carry their
//! type and small parameters in the clear: a flow whose messages all
//! verify has shown only cleartext, so it is called cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Radmin;

const MAGIC: u8 = 0x01;
const HEADER: usize = 9;
/// Largest body taken as plausible.
const MAX_BODY: usize = 1 << 16;

/// What the start of a stream holds.
enum Msg {
    /// Not a Radmin message.
    No,
    /// Could be one; more bytes needed.
    Short,
    /// A whole message with its checksum right: its type and length.
    Whole(u8, usize),
}

fn checksum(body: &[u8]) -> u32 {
    body.chunks(4).fold(0u32, |sum, w| {
        let mut word = [0u8; 4];
        word[..w.len()].copy_from_slice(w);
        sum.wrapping_add(u32::from_le_bytes(word))
    })
}

fn message(d: &[u8]) -> Msg {
    match d.first() {
        None => return Msg::Short,
        Some(&b) if b != MAGIC => return Msg::No,
        _ => {}
    }
    let Some(h) = d.get(..HEADER) else {
        return Msg::Short;
    };
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]);
    let sum = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
    let Ok(len) = usize::try_from(len) else {
        return Msg::No;
    };
    if len == 0 || len > MAX_BODY {
        return Msg::No;
    }
    let Some(body) = d.get(HEADER..HEADER + len) else {
        return Msg::Short;
    };
    // A message type of zero (a zero-filled buffer) is not taken.
    if body[0] == 0 || checksum(body) != sum {
        return Msg::No;
    }
    Msg::Whole(body[0], HEADER + len)
}

impl Dissector for Radmin {
    fn name(&self) -> &'static str {
        "radmin"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match message(p.orig.stream()) {
            Msg::No => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = p.orig.stream();
        let (kind, len) = match message(c) {
            Msg::No => return Parse::NotMine,
            Msg::Short => return p.undecided(),
            Msg::Whole(k, l) => (k, l),
        };
        let next = &c[len..];
        let server = p.resp.stream();
        let confirmed = match (message(next), message(server)) {
            (Msg::Whole(..), _) | (_, Msg::Whole(..)) => true,
            (Msg::No, _) if !next.is_empty() => return Parse::NotMine,
            (_, Msg::No) if !server.is_empty() => return Parse::NotMine,
            _ => false,
        };
        if !confirmed {
            return p.undecided();
        }
        meta.protocol = Some("radmin");
        meta.app = Some("radmin".to_string());
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("radmin_message", format!("0x{kind:02x}"));
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    // radmin3.pcapng, the first connection: the client's 10-byte message
    // (type 0x08) and the server's 46-byte answer.
    const CLIENT: &[u8] = b"\x01\x00\x00\x00\x01\x00\x00\x00\x08\x08";
    const SERVER: &[u8] = b"\x01\x00\x00\x00\x25\x00\x00\x02\x12\x08\x02\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

    #[test]
    fn handshake() {
        let (r, m) = check_split_tcp(&Radmin, 4899, CLIENT, SERVER);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("radmin"));
        assert_eq!(m.app.as_deref(), Some("radmin"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("radmin_message"), Some("0x08"));
        // The second connection: a 5-byte body whose checksum needs the
        // second byte's weight (0x0227), answered likewise.
        let c = b"\x01\x00\x00\x00\x05\x00\x00\x02\x27\x27\x02\x00\x00\x00";
        let s = b"\x01\x00\x00\x00\x05\x00\x00\x00\x27\x27\x00\x00\x00\x00";
        let (r, m) = check_split_tcp(&Radmin, 4899, c, s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("radmin_message"), Some("0x27"));
        // Two client messages back to back.
        let two = [CLIENT, CLIENT].concat();
        let (r, _) = check_split_tcp(&Radmin, 4899, &two, b"");
        assert_eq!(r, Parse::Identified);
        // One message alone is not enough.
        let ends = [[CLIENT.len() as u32], [0]];
        let p = Payloads::tcp(40000, 4899, CLIENT, &[], &ends);
        assert_eq!(Radmin.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_radmin() {
        let mut bad_sum = SERVER.to_vec();
        bad_sum[8] = 0x13;
        let mut swapped = SERVER.to_vec();
        swapped[5..9].copy_from_slice(&[0x12, 0x02, 0, 0]);
        let zero_len = b"\x01\x00\x00\x00\x00\x00\x00\x00\x00";
        let zeros = b"\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00";
        let cases: [(&[u8], &[u8]); 6] = [
            (zeros, zeros),
            (CLIENT, &bad_sum),
            (CLIENT, &swapped),
            (zero_len, zero_len),
            (CLIENT, b"SSH-2.0-x\r\n"),
            (b"\x02\x00\x00\x00\x01\x00\x00\x00\x08\x08", SERVER),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let mut p = Payloads::tcp(40000, 4899, c, s, &ends);
            p.last = true;
            assert!(!not_refused(&Radmin, &p), "{c:?} {s:?}");
        }
    }
}
