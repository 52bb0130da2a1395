//! Exit Games' Photon, the UDP transport of many mobile and Unity games
//! (Toca Boca's among them; port 5055 in the captures), from its
//! published binary protocol description:
//!
//! - a datagram is a 12-byte header (peer id, CRC flag, command count,
//!   sent time, challenge; big-endian) followed by exactly `command
//!   count` commands; each command has a 12-byte header (type, channel,
//!   flags, reserved, length including the header, reliable sequence
//!   number), so the lengths must add up to the datagram;
//! - a reliable (6) or unreliable (7, four more header bytes) command
//!   carries a message: the signature byte 0xF3, then the message type,
//!   whose top bit says the message body is encrypted;
//! - the region ping of Photon's client libraries is 13 bytes: twelve
//!   0x7D bytes and a ping id, echoed by the server.
//!
//! Commands, operation codes and parameters travel in the clear; the
//! class is `encrypted` only when a message seen carries the encrypted
//! flag.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Photon;

const HEADER: usize = 12;
const COMMAND_HEADER: usize = 12;
const PING_LEN: usize = 13;
const PING_FILL: u8 = 0x7d;
const SIGNATURE: u8 = 0xf3;
const ENCRYPTED_FLAG: u8 = 0x80;
/// Datagrams per side inspected for the encrypted flag.
const LOOK: usize = 8;

fn be32(d: &[u8], at: usize) -> Option<usize> {
    let b = d.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn is_ping(d: &[u8]) -> bool {
    d.len() == PING_LEN && d[..PING_LEN - 1].iter().all(|&b| b == PING_FILL)
}

/// What a well-framed datagram says: whether one of its messages is
/// flagged encrypted. `None` when the framing does not add up.
fn datagram(d: &[u8]) -> Option<bool> {
    let count = usize::from(*d.get(3)?);
    if count == 0 || d.len() < HEADER {
        return None;
    }
    let mut at = HEADER;
    let mut encrypted = false;
    for _ in 0..count {
        let kind = *d.get(at)?;
        let len = be32(d, at + 4)?;
        if !(1..=14).contains(&kind) || len < COMMAND_HEADER || len > d.len() - at {
            return None;
        }
        let body = match kind {
            6 => d.get(at + COMMAND_HEADER..at + len),
            7 => d.get(at + COMMAND_HEADER + 4..at + len),
            _ => None,
        };
        if let Some([SIGNATURE, t, ..]) = body {
            encrypted |= t & ENCRYPTED_FLAG != 0;
        }
        at += len;
    }
    (at == d.len()).then_some(encrypted)
}

fn photon_datagram(d: &[u8]) -> bool {
    is_ping(d) || datagram(d).is_some()
}

impl Dissector for Photon {
    fn name(&self) -> &'static str {
        "photon"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if photon_datagram(p.first_payload()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !photon_datagram(p.first_payload()) {
            return Parse::NotMine;
        }
        let answer = p.second_side().first();
        if !answer.is_empty() && !photon_datagram(answer) {
            return Parse::NotMine;
        }
        let encrypted = [p.orig, p.resp]
            .iter()
            .flat_map(|s| s.chunks().take(LOOK))
            .any(|d| datagram(d) == Some(true));
        meta.protocol = Some("photon");
        meta.encryption = if encrypted {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        let message = if is_ping(p.first_payload()) { "ping" } else { "commands" };
        meta.set_extra("photon_message", message);
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// toca-boca.pcap frame 1: a Connect command from the client.
    const CONNECT: &str = "ffff00010000000422b6e6ba02ff01040000002c00000001000004b000008000000000020000000000000000000013880000000200000002";
    /// Frame 2: the server's Ack and VerifyConnect.
    const VERIFY: &str = "000000027dfbd18522b6e6ba01ff00000000001400000000000000010000000403ff01000000002c00000000bbc804b000008000000000020000000000000000000013880000000200000002";
    /// Frame 4, trimmed to its Ack and a short reliable message.
    const RELIABLE: &str =
        "000000027dfbd1b422b6e6ba0100000000000014000000000000000100000032060001000000000f00000001f30100";
    /// Frame 34: a region ping (twelve 0x7D and the ping id).
    const PING: &str = "7d7d7d7d7d7d7d7d7d7d7d7d12";

    #[test]
    fn connect_and_verify() {
        let (c, v, r) = (hex(CONNECT), hex(VERIFY), hex(RELIABLE));
        let (res, m) = check_split_udp(&Photon, 50173, 5055, &[&c], &[&v, &r]);
        assert_eq!(res, Parse::Identified);
        assert_eq!(m.protocol, Some("photon"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("photon_message"), Some("commands"));
        // The encrypted flag on a message's type makes the flow encrypted.
        let mut e = r.clone();
        let n = e.len();
        e[n - 2] |= ENCRYPTED_FLAG;
        let (res, m) = check_split_udp(&Photon, 50173, 5055, &[&c], &[&v, &e]);
        assert_eq!(res, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn region_ping() {
        let q = hex(PING);
        let (res, m) = check_split_udp(&Photon, 5055, 43064, &[&q], &[]);
        assert_eq!(res, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("photon_message"), Some("ping"));
    }

    #[test]
    fn not_photon() {
        let c = hex(CONNECT);
        let mut long = c.clone();
        long.push(0);
        let mut bad_len = c.clone();
        bad_len[19] = 0x2d;
        let mut bad_kind = c.clone();
        bad_kind[12] = 0x20;
        let mut two = c.clone();
        two[3] = 2;
        let mut ping = hex(PING);
        ping[4] = 0x7e;
        let cases: [&[u8]; 7] = [&long, &bad_len, &bad_kind, &two, &ping, &c[..11], &[0x7d; 14]];
        for d in cases {
            let f = UdpFixture::new(40000, 5055, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Photon, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
        // A well-framed request answered by something else.
        let f = UdpFixture::new(40000, 5055, &[&c], &[&long]);
        assert_eq!(Photon.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
    }
}
