//! netcode (netcode.io, the connection layer of the Yojimbo game
//! networking library; nDPI calls it Yojimbo), over UDP on any port,
//! after its public standard (STANDARD.md of netcode, version 1.02).
//!
//! Only the client's connection request is recognised, because it is the
//! one packet with cleartext fields: prefix byte 0, the version string
//! `NETCODE 1.02` and its NUL, the 64-bit protocol id, the connect
//! token's 64-bit expire timestamp, its 24-byte nonce and the 1024-byte
//! encrypted private connect token: exactly 1078 bytes. Every other
//! packet is a prefix byte, a sequence number and an AEAD-encrypted
//! payload, with nothing to check in the clear. The private token is
//! sealed with XChaCha20-Poly1305 and all later packets with the
//! session keys it carries: the class is `encrypted`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Netcode;

const VERSION: &[u8; 13] = b"NETCODE 1.02\0";
/// Prefix, version, protocol id, expire timestamp, nonce, private token.
const REQUEST_LEN: usize = 1 + 13 + 8 + 8 + 24 + 1024;

fn u64_le(d: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = d.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

impl Dissector for Netcode {
    fn name(&self) -> &'static str {
        "netcode"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.orig.first();
        if d.len() == REQUEST_LEN && d[0] == 0 && d[1..].starts_with(VERSION) {
            Probe::Mine
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the originator's connection request, a zero
    /// packet type first.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.orig.first();
        if d.len() != REQUEST_LEN || d[0] != 0 || !d[1..].starts_with(VERSION) {
            return Parse::NotMine;
        }
        meta.protocol = Some("netcode");
        meta.encryption = Encryption::Encrypted;
        meta.set_extra("netcode_version", "1.02");
        if let Some(id) = u64_le(d, 14) {
            meta.set_extra("netcode_protocol_id", format!("{id:#018x}"));
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    /// yojimbo.pcap, 127.0.0.1:34638 -> 127.0.0.1:40000: the first 46
    /// bytes (prefix, version, protocol id 0, expire timestamp, nonce),
    /// then the encrypted token (filler here: it is not checked).
    fn request() -> Vec<u8> {
        let mut v = unhex(
            "004e4554434f444520312e3032000000000000000000 2013ad6500000000
             284628e1cc6cc5b78ed1b1a7e3b90be9b20387015be9c5cd",
        );
        let mut x = 0x9eu8;
        while v.len() < REQUEST_LEN {
            x = x.wrapping_mul(73).wrapping_add(41);
            v.push(x);
        }
        v
    }

    #[test]
    fn connection_request() {
        let q = request();
        let (r, m) = check_split_udp(&Netcode, 34638, 40000, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("netcode"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("netcode_protocol_id"), Some("0x0000000000000000"));
    }

    #[test]
    fn near_misses() {
        let q = request();
        let mut v101 = q.clone();
        v101[12] = b'1';
        let mut prefix = q.clone();
        prefix[0] = 1;
        let mut long = q.clone();
        long.push(0);
        for d in [&v101, &prefix, &long, &q[..REQUEST_LEN - 1].to_vec()] {
            let f = UdpFixture::new(34638, 40000, &[d], &[]);
            assert!(!not_refused(&Netcode, &f.payloads()));
        }
    }
}
