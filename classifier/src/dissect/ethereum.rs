//! Ethereum devp2p: node discovery v4 over UDP, and the RLPx transport
//! handshake over TCP.
//!
//! Discovery (UDP): a packet is a 32-byte hash, a 65-byte signature, a
//! packet type (1 ping, 2 pong, 3 find-node, 4 neighbors, 5 ENR request,
//! 6 ENR response) and the packet data as one RLP list. The hash and
//! signature look random (the Wu et al. rules would call the packet fully
//! encrypted), but the data is cleartext: the list header must announce
//! exactly the bytes that follow, or, on the discovery port, at most
//! them (EIP-8 lets senders append data). Class: cleartext.
//!
//! RLPx (TCP, devp2p RLPx v4 and EIP-8): the initiator sends an `auth`
//! message and waits for the recipient's `ack`; both are ECIES messages,
//! `0x04` (the first byte of an uncompressed secp256k1 public key), the
//! other 64 key bytes, a 16-byte IV, the ciphertext and a 32-byte MAC
//! (113 bytes of overhead). Two formats:
//! - EIP-8: a 2-byte big-endian size, then the ECIES message of that many
//!   bytes. The smallest auth body (an RLP list of a 65-byte signature, a
//!   64-byte key, a 32-byte nonce and a version) makes 282 bytes, the
//!   smallest ack body (key, nonce, version) 215; clients pad with
//!   100-300 random bytes, and a size of at most 1023 keeps the first
//!   byte below 0x04, so the two formats never overlap. The auth must be
//!   whole (the initiator sends nothing else before the ack), and the ack
//!   must be the same shape; a flow whose answer was not captured is
//!   named only on port 30303 and when the stream is exactly the auth.
//! - pre-EIP-8: a 307-byte auth and a 210-byte ack with no size prefix,
//!   each starting `0x04`. Two such bytes are weak evidence, so this form
//!   is named only on port 30303 and with both messages whole.
//!
//! Everything after the size prefixes is ciphertext (ECIES, then
//! AES-CTR frames with a MAC per frame): class encrypted.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ethereum;

/// Hash and signature.
const PREFIX: usize = 97;
const PORT: u16 = 30303;

/// Smallest EIP-8 auth and ack (ECIES messages, without the size prefix).
const AUTH_MIN: usize = 282;
const ACK_MIN: usize = 215;
/// Largest EIP-8 message accepted (first byte below 0x04).
const EIP8_MAX: usize = 1023;
/// Pre-EIP-8 auth and ack sizes.
const PLAIN_AUTH: usize = 307;
const PLAIN_ACK: usize = 210;
/// First byte of an uncompressed public key: the start of every ECIES message.
const ECIES_KEY: u8 = 0x04;

/// The RLPx handshake format of a flow.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rlpx {
    /// EIP-8, with the auth's ECIES size.
    Eip8(usize),
    PreEip8,
}

/// An RLPx handshake message at the start of `d` (auth when `min` is
/// [`AUTH_MIN`], ack otherwise). `Err(true)` when more bytes are needed;
/// `plain` allows the pre-EIP-8 form of `plain` bytes.
fn handshake_msg(d: &[u8], min: usize, plain: Option<usize>) -> Result<Rlpx, bool> {
    match *d {
        [] => Err(true),
        [ECIES_KEY, ..] => match plain {
            Some(n) if d.len() >= n => Ok(Rlpx::PreEip8),
            Some(_) => Err(true),
            None => Err(false),
        },
        [b0, ..] if b0 > 3 => Err(false),
        [_] | [_, _] => Err(true),
        [b0, b1, key, ..] => {
            let size = usize::from(u16::from_be_bytes([b0, b1]));
            if key != ECIES_KEY || !(min..=EIP8_MAX).contains(&size) {
                Err(false)
            } else {
                Ok(Rlpx::Eip8(size))
            }
        }
    }
}

/// Decides a TCP flow: the handshake format, or `Err(true)` to wait.
fn rlpx(p: &Payloads<'_>) -> Result<Rlpx, bool> {
    let on_port = p.port(PORT);
    let auth = p.orig.stream();
    let kind = handshake_msg(auth, AUTH_MIN, on_port.then_some(PLAIN_AUTH))?;
    if let Rlpx::Eip8(size) = kind {
        if auth.len() < 2 + size {
            return Err(true);
        }
    }
    let ack = p.resp.stream();
    if ack.is_empty() && p.last {
        // No answer captured: only on the port, and only an EIP-8 auth
        // that is the whole stream.
        return match kind {
            Rlpx::Eip8(size) if on_port && auth.len() == 2 + size => Ok(kind),
            _ => Err(false),
        };
    }
    let plain = (kind == Rlpx::PreEip8).then_some(PLAIN_ACK);
    match (kind, handshake_msg(ack, ACK_MIN, plain)?) {
        (Rlpx::Eip8(_), Rlpx::Eip8(_)) | (Rlpx::PreEip8, Rlpx::PreEip8) => Ok(kind),
        _ => Err(false),
    }
}

/// Probe for TCP: the first byte of the auth.
fn rlpx_probe(p: &Payloads<'_>) -> Probe {
    if p.orig.is_empty() && !p.resp.is_empty() {
        return Probe::NotMine;
    }
    match p.orig.stream().first() {
        None | Some(1..=3) => Probe::Maybe,
        Some(&ECIES_KEY) if p.port(PORT) => Probe::Maybe,
        Some(_) => Probe::NotMine,
    }
}

/// (payload offset, payload length) of the RLP list starting `d`.
fn rlp_list(d: &[u8]) -> Option<(usize, usize)> {
    let b0 = *d.first()?;
    match b0 {
        0xc0..=0xf7 => Some((1, usize::from(b0 - 0xc0))),
        0xf8..=0xff => {
            let n = usize::from(b0 - 0xf7);
            let bytes = d.get(1..1 + n)?;
            // No leading zero byte; the long form holds 56 bytes or more.
            if n > 3 || bytes.first() == Some(&0) {
                return None;
            }
            let len = bytes.iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
            (len >= 56).then_some((1 + n, len))
        }
        _ => None,
    }
}

fn packet_type(d: &[u8], on_port: bool) -> Option<u8> {
    let kind = *d.get(PREFIX)?;
    if !(1..=6).contains(&kind) {
        return None;
    }
    let data = d.get(PREFIX + 1..)?;
    let (off, len) = rlp_list(data)?;
    let end = off.checked_add(len)?;
    let fits = if on_port { end <= data.len() } else { end == data.len() };
    (fits && len > 0).then_some(kind)
}

fn type_name(k: u8) -> &'static str {
    match k {
        1 => "ping",
        2 => "pong",
        3 => "findnode",
        4 => "neighbors",
        5 => "enrrequest",
        _ => "enrresponse",
    }
}

impl Dissector for Ethereum {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "ethereum"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.transport == Transport::Tcp {
            return rlpx_probe(p);
        }
        if packet_type(p.first_payload(), p.port(PORT)).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Tcp {
            let kind = match rlpx(p) {
                Ok(k) => k,
                Err(true) => return p.undecided(),
                Err(false) => return Parse::NotMine,
            };
            meta.protocol = Some("ethereum");
            meta.encryption = Encryption::Encrypted;
            let (format, size) = match kind {
                Rlpx::Eip8(size) => ("eip8", size),
                Rlpx::PreEip8 => ("pre_eip8", PLAIN_AUTH),
            };
            meta.set_extra("rlpx_handshake", format);
            meta.set_extra("rlpx_auth_size", size.to_string());
            return Parse::Done;
        }
        let Some(kind) = packet_type(p.first_payload(), p.port(PORT)) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("ethereum");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("discv4_type", type_name(kind));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, unhex, UdpFixture};

    fn packet(kind: u8, list: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = (0..PREFIX as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        v.push(kind);
        v.extend_from_slice(list);
        v
    }

    #[test]
    fn ping_and_long_list() {
        // ping: [version 4, from, to, expiration] (29 bytes of list).
        let mut list = vec![
            0xdd, 0x04, 0xcb, 0x84, 0x7f, 0, 0, 1, 0x82, 0x76, 0x5f, 0x82, 0x76, 0x5f,
        ];
        list.extend_from_slice(&[0xc9, 0x84, 0x4f, 0x16, 0xce, 0xbd, 0x82, 0xe9, 0xf7, 0x80]);
        list.extend_from_slice(&[0x84, 0x5e, 0x16, 0x20, 0x5e, 0x05]);
        assert_eq!(list.len(), 30);
        let p = packet(1, &list);
        let (r, m) = check_split_udp(&Ethereum, 56693, 30303, &[&p], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ethereum"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("discv4_type"), Some("ping"));
        // find-node with a long-form list of 73 bytes, off port: exact.
        let mut long = vec![0xf8, 73, 0xb8, 64];
        long.extend_from_slice(&[0x97; 64]);
        long.extend_from_slice(&[0x84, 0x5e, 0x16, 0x20, 0x5e, 0xc0, 0x80]);
        assert_eq!(long.len(), 2 + 73);
        let p = packet(3, &long);
        let (r, m) = check_split_udp(&Ethereum, 40000, 41000, &[&p], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("discv4_type"), Some("findnode"));
    }

    #[test]
    fn not_discovery() {
        let list = [0xc3, 0x01, 0x02, 0x03];
        let mut trailing = packet(2, &list);
        trailing.push(0);
        let cases: [Vec<u8>; 5] = [
            packet(0, &list),
            packet(9, &list),
            packet(2, &[0xc5, 1, 2]),
            packet(2, &[0xf8, 3, 1, 2, 3]),
            trailing,
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 41000, &[&d], &[]);
            let claimed = crate::dissect::not_refused(&Ethereum, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
        // EIP-8 trailing data is accepted on the discovery port.
        let mut t = packet(2, &list);
        t.push(0);
        let (r, _) = check_split_udp(&Ethereum, 40000, 30303, &[&t], &[]);
        assert_eq!(r, Parse::Done);
    }

    /// ethereum.pcap, 192.168.1.184:56672 -> 139.162.255.210:30303: the
    /// EIP-8 auth (frame 1543, 386 bytes: size 0x0180 then 0x04).
    fn auth() -> Vec<u8> {
        unhex(
            "
        01800434708e311d9b4c655715a82bacfe8031145775267214140085edc05e7fd40ff2764c41794cc9acc535e9cd0b8a
        c5460272c7996e7642ec3e98734a66bf5679b71b12e63c9739395272509563254805a8d5d5c65ca06c9b44423d7b25b1
        08a0df72c3bd1290f0e8646955f206ac08b8d4c234f1841838532e16651d6973b01810643af42f6c93afdd46718d04bf
        3fa8973ef890db00893811fa9677fe31e30f9a66cec389f5116b94ba6c57b85817b6737b24fa38275d01ea1d479cb8f1
        27e30061bb0aba0b9eac2cb5ae6ee53b34607574329e2f5b75e3fc1142a99781fc2a6592bd9d44e1930066f0998c916b
        609824e9831b99717ce4b50a8a379e3aa5e39ae1886319497f7c3d6d4d7f201176514539199600afe2c5c380a0e713cc
        34f6def40e31024d8d7360734b3e6535b5d9ccc595d5893bbbb0a3ee2eb9a8abbd52139ef7566206ba40bd4c64166ae8
        ad36f922d8147d7e575d5ec32d2cfd8de9b17c67927a6b1cf545a39e640bb2644ef6638981ab387fd6d0ab90a8e428b7
        dedf",
        )
    }

    /// The recipient's EIP-8 ack (frame 1616, 356 bytes: size 0x0162).
    fn ack() -> Vec<u8> {
        unhex(
            "
        0162042b243b05c01f3b262b37b80fa92be76e77b5640763680ec51f26b350853e7da788eea5a47b08fea97c59389f62
        3deb7ebb4f9750e124185fef4c1cd5685ac79d13f0c112c1e987d6730aea82959cc80a61f55747d0aa41ca06892d38a6
        0a913fc478051176c8d3fd7ae3284e7769e93091815f3066fac2bb6d064465277495989a40a4fa810e202b2813596c99
        41bfa114d18ff8d6384cee4177988a0304b697557fce55f53317bce1d025dee4a6513539796fb7cdac96f35a34f25bcc
        61b94450c384e6ada125ebdd773cc2a402826c1a656cccdffe009a891bced782d7fc0408b546099ba1778c252c5484bf
        a4dfa2dcdd35d68e6a0c5c86b3053b1cda719a92f2494eb659b6bcb7f8519bfcc2f43fb47fa207bb1a045209b35c8c6e
        8948b2c0e85ea14f380deb6be6f2c17097438811e76e2a0b17f16c3970740aefff305aaebf5d3335328bdf2304a73d6f
        c48cd86663074fe3fcaa126626639192a8ddd41d",
        )
    }

    fn tcp(port: u16, orig: &[u8], resp: &[u8], last: bool) -> Parse {
        let ends = [[orig.len() as u32], [resp.len() as u32]];
        let mut p = Payloads::tcp(40000, port, orig, resp, &ends);
        p.last = last;
        Ethereum.parse(&p, &mut Meta::default())
    }

    #[test]
    fn rlpx_eip8_handshake() {
        let (a, k) = (auth(), ack());
        assert_eq!((a.len(), k.len()), (386, 356));
        for port in [30303, 41000] {
            let (r, m) = check_split_tcp(&Ethereum, port, &a, &k);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("ethereum"));
            assert_eq!(m.encryption, Encryption::Encrypted);
            assert_eq!(m.extra("rlpx_handshake"), Some("eip8"));
            assert_eq!(m.extra("rlpx_auth_size"), Some("384"));
        }
        // Frames after the handshake do not change the verdict.
        let mut a2 = a.clone();
        a2.extend_from_slice(&[0x5a; 50]);
        assert_eq!(tcp(41000, &a2, &k, false), Parse::Done);
        // The ack's first three bytes are enough.
        assert_eq!(tcp(41000, &a, &k[..3], false), Parse::Done);
        // Before the ack: wait; the auth alone is named on the port only,
        // and only when it is the whole stream.
        assert_eq!(tcp(30303, &a, &[], false), Parse::NeedMore);
        assert_eq!(tcp(30303, &a, &[], true), Parse::Done);
        assert_eq!(tcp(41000, &a, &[], true), Parse::NotMine);
        assert_eq!(tcp(30303, &a2, &[], true), Parse::NotMine);
        assert_eq!(tcp(30303, &a[..385], &[], false), Parse::NeedMore);
        assert_eq!(tcp(30303, &a[..385], &[], true), Parse::NotMine);
    }

    #[test]
    fn rlpx_pre_eip8_handshake() {
        let mut a = vec![ECIES_KEY];
        a.extend((1..PLAIN_AUTH).map(|i| (i * 37 % 251) as u8));
        let mut k = vec![ECIES_KEY];
        k.extend((1..PLAIN_ACK).map(|i| (i * 91 % 253) as u8));
        let (r, m) = check_split_tcp(&Ethereum, 30303, &a, &k);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("rlpx_handshake"), Some("pre_eip8"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        // Off the port, short, unanswered, or answered in the other format.
        assert_eq!(tcp(41000, &a, &k, false), Parse::NotMine);
        assert_eq!(tcp(30303, &a, &k[..PLAIN_ACK - 1], true), Parse::NotMine);
        assert_eq!(tcp(30303, &a[..PLAIN_AUTH - 1], &[], true), Parse::NotMine);
        assert_eq!(tcp(30303, &a, &[], true), Parse::NotMine);
        assert_eq!(tcp(30303, &a, &ack(), false), Parse::NotMine);
        assert_eq!(tcp(30303, &auth(), &k, false), Parse::NotMine);
    }

    #[test]
    fn rlpx_near_misses() {
        let (a, k) = (auth(), ack());
        let mutate = |d: &[u8], i: usize, v: u8| {
            let mut d = d.to_vec();
            d[i] = v;
            d
        };
        let cases: [(Vec<u8>, Vec<u8>); 7] = [
            // Not 0x04 after the size, in the auth or the ack.
            (mutate(&a, 2, 0x05), k.clone()),
            (a.clone(), mutate(&k, 2, 0x02)),
            // Sizes out of range: too small, too large.
            (mutate(&mutate(&a, 0, 0), 1, 0xf0), k.clone()),
            (mutate(&a, 0, 0x04), k.clone()),
            (a.clone(), mutate(&mutate(&k, 0, 0), 1, 0xd0)),
            (a.clone(), mutate(&k, 0, 0x05)),
            // The responder spoke something else.
            (a.clone(), b"HTTP/1.1 400 Bad Request\r\n".to_vec()),
        ];
        for (o, r) in &cases {
            for port in [30303, 41000] {
                let ends = [[o.len() as u32], [r.len() as u32]];
                let p = Payloads::tcp(40000, port, o, r, &ends);
                assert!(!crate::dissect::not_refused(&Ethereum, &p), "{:?}", &o[..3]);
            }
        }
        // An auth whose size announces more than was sent, at the end.
        assert_eq!(tcp(41000, &mutate(&a, 1, 0x90), &k, true), Parse::NotMine);
        // Only the responder spoke.
        let ends = [[0], [k.len() as u32]];
        let p = Payloads::tcp(40000, 30303, &[], &k, &ends);
        assert_eq!(Ethereum.probe(&p), Probe::NotMine);
    }
}
