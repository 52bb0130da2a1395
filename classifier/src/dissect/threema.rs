//! Threema's chat-server protocol on TCP port 5222 (a hint: the shape
//! below decides). Threema's cryptography whitepaper describes the
//! handshake: the client opens with its ephemeral Curve25519 public key
//! and a cookie (32 + 16 = 48 bytes); the server answers with its own
//! cookie and a NaCl box holding its ephemeral key and the client's
//! cookie (16 + 64 = 80 bytes); the client then logs in (a box of its
//! identity, version, the server's cookie and its vouch: 191 bytes in
//! the clients seen), and from then on every message is a frame: a
//! little-endian 16-bit length, then a NaCl box of that many bytes
//! (a 16-byte authenticator and the sealed content).
//!
//! The check, on the originator's stream: past the 48 + 191 handshake
//! bytes, frames that tile what follows (at least one complete; each at
//! least a box's authenticator long; a last one may be cut by the end of
//! what was kept), and a responder that sent at least the 80-byte hello.
//! A bare 48 + 191 opening without a frame is not enough. Encrypted:
//! every byte but the frame lengths is a key, a cookie or a box. The
//! app is Threema.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Threema;

const PORT: u16 = 5222;
const CLIENT_HELLO: usize = 48;
const SERVER_HELLO: usize = 80;
const LOGIN: usize = 191;
/// A NaCl box's authenticator, so the least a sealed frame can be.
const MAC: usize = 16;

/// Walks the frames of `d`: `Some(n)` with `n` complete frames when they
/// tile it (a last one may be cut), `None` when one is too short.
fn frames(d: &[u8]) -> Option<usize> {
    let mut off = 0;
    let mut n = 0;
    while let Some(h) = d.get(off..off + 2) {
        let len = usize::from(u16::from_le_bytes([h[0], h[1]]));
        if len < MAC {
            return None;
        }
        off += 2 + len;
        if off > d.len() {
            break;
        }
        n += 1;
    }
    Some(n)
}

impl Dissector for Threema {
    fn name(&self) -> &'static str {
        "threema"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        // The client speaks first; a text opening is XMPP's, not this.
        if !p.port(PORT) || p.orig.is_empty() || p.orig.stream().first() == Some(&b'<') {
            Probe::NotMine
        } else {
            Probe::Maybe
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) || p.orig.is_empty() {
            return Parse::NotMine;
        }
        let o = p.orig.stream();
        let r = p.resp.stream();
        if o.len() < CLIENT_HELLO + LOGIN + 2 || r.len() < SERVER_HELLO {
            return p.undecided();
        }
        match frames(&o[CLIENT_HELLO + LOGIN..]) {
            None => Parse::NotMine,
            Some(0) => p.undecided(),
            Some(_) => {
                meta.protocol = Some("threema");
                meta.encryption = Encryption::Encrypted;
                meta.app = Some("threema".to_string());
                Parse::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, unhex};

    /// threema.pcap, 192.168.2.100:50500 → 185.88.236.110:5222: the
    /// client's hello (48), login (191) and first frame (2 + 36).
    const CLIENT: &str = "
        11424598e4b244d763d4e5f2def8fea4abf5c36fc7371ebcc0e8408112e0da4e44cf920ebbcb074c108f24ac62b8b50c
        6095e3a9175d234e90c09402329fba28efcc7729cd4e3514455c1d7989fa2a44214596df4fd5f803842cb772b0fd597a
        3ae172cdd7414e764fe1ed25ca29e846f4fdbeffe7325097ce37e56e598b1c95ba7e446f5283b67ffe8754826fd53289
        57c7a7ede695b99837120acc45aa852ea3325c3aeaf105d32ffd105854631d444e2cf7a765b052c62a05b9a2df497ce1
        7d5a3d46dcda562b7d71e3989ecf436c6b11b35d0d71b688d64436925600ef6cc119c3ce93321e1eb2c7f5a7c2bfb1
        2400944fdee59849cb50ac9fb1418fd1a745f595f37e352c5c55ad618677dbd1f7c9d4f5bdf9";
    /// The server's hello on the same flow (80 bytes).
    const SERVER: &str = "
        a524fa7090e1babd482eae942045ad967b90164714dbfc5f59a744b855bbf2ab18839c0c8c59d4bda5ac7e72ba169ddd
        a51c6cebfec3d56c633365fcfc6bb5c0c715b4d7009e4840f465b580c9430bef";
    fn client() -> Vec<u8> {
        unhex(CLIENT)
    }
    fn server() -> Vec<u8> {
        unhex(SERVER)
    }

    #[test]
    fn handshake_then_frames() {
        let (c, s) = (client(), server());
        assert_eq!((c.len(), s.len()), (CLIENT_HELLO + LOGIN + 38, SERVER_HELLO));
        let (r, m) = check_split_tcp(&Threema, PORT, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("threema"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.app.as_deref(), Some("threema"));
        // A second frame cut by the end of what was kept still tiles.
        let mut more = c.clone();
        more.extend_from_slice(&[0x37, 0x01, 1, 2, 3]);
        let (r, _) = check_split_tcp(&Threema, PORT, &more, &s);
        assert_eq!(r, Parse::Done);
        // The handshake alone waits.
        let ends = [[239], [80]];
        let p = Payloads::tcp(40000, PORT, &c[..239], &s, &ends);
        assert_eq!(Threema.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_threema() {
        let (c, s) = (client(), server());
        let mut short_frame = c.clone();
        short_frame[239] = 0x0f;
        short_frame[240] = 0;
        let mut long_frame = c.clone();
        long_frame[240] = 0x01;
        let mut shifted = c.clone();
        shifted.insert(0, 0);
        let mut last = Payloads::tcp(40000, PORT, &c[..230], &s, &[[230], [80]]);
        last.last = true;
        assert!(!crate::dissect::not_refused(&Threema, &last));
        let xmpp = b"<?xml version='1.0'?><stream:stream to='a.example' xmlns='jabber:client'>";
        let cases: [(u16, &[u8], &[u8]); 5] = [
            (PORT, &short_frame, &s),
            (PORT, &shifted, &s),
            (PORT, xmpp, &s),
            (5223, &c, &s),
            (PORT, &c, &s[..79]),
        ];
        for (port, o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, port, o, r, &ends);
            p.last = true;
            assert!(!crate::dissect::not_refused(&Threema, &p), "{port} {}", o.len());
        }
        // A frame longer than the bytes kept waits for more, and is let go
        // at the end.
        let ends = [[long_frame.len() as u32], [80]];
        let mut p = Payloads::tcp(40000, PORT, &long_frame, &s, &ends);
        assert_eq!(Threema.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Threema.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
