//! Agora's SD-RTN (UDP; port 8130 in the captures), described from the
//! captures. Every datagram opens with a type byte (0 handshake, 1 data)
//! and three bytes of connection id / sequence. A handshake datagram goes
//! on with two zero bytes, a little-endian 16-bit message type (0x21 the
//! client's hello, 0x23 the server's answer, 0x02 the client's
//! acknowledgement), the peer's 4-byte id (zero in the hello), a tag count
//! and that many tags (4-byte name, little-endian 16-bit length, value)
//! that fill the datagram exactly.
//!
//! The hello names the edge server in its `SNI\0` tag (in the clear) and
//! carries a `CPTO` tag whose nested tags offer a key exchange (`KEXS`
//! `P256` with a `PUBS` public point, a `NONC` nonce) and an AEAD
//! (`AEAD` `AESG`, AES-GCM); the server answers with its own `CPTO` and a
//! certificate (`CRT\xff`). The data datagrams that follow carry no
//! structure: they are sealed with the negotiated AEAD. So the flow is
//! encrypted, although nDPI flags SD-RTN cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct SdRtn;

const HEADER: usize = 12;
const CLIENT_HELLO: u8 = 0x21;
const SERVER_HELLO: u8 = 0x23;
const MAX_TAGS: u8 = 32;

/// Whether the datagram `d` starts like a hello (type 0x21 or 0x23) and
/// is long enough to hold one (a UDP datagram is whole: a shorter one
/// never grows into a hello).
fn hello_start(d: &[u8]) -> bool {
    const SHAPE: [Option<u8>; 8] = [Some(0), None, None, None, Some(0), Some(0), None, Some(0)];
    d.len() > HEADER
        && d.iter().zip(SHAPE).all(|(&b, want)| want.is_none_or(|w| w == b))
        && matches!(d.get(6), Some(&CLIENT_HELLO | &SERVER_HELLO))
}

/// The tags of a whole hello datagram, when they fill it exactly.
fn tags(d: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let count = *d.get(HEADER)?;
    if count == 0 || count > MAX_TAGS {
        return None;
    }
    let mut out = Vec::with_capacity(usize::from(count));
    let mut rest = d.get(HEADER + 1..)?;
    for _ in 0..count {
        let name = rest.get(..4)?;
        let len = usize::from(u16::from_le_bytes([*rest.get(4)?, *rest.get(5)?]));
        let value = rest.get(6..6 + len)?;
        out.push((name, value));
        rest = rest.get(6 + len..)?;
    }
    rest.is_empty().then_some(out)
}

impl Dissector for SdRtn {
    fn name(&self) -> &'static str {
        "sd_rtn"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if hello_start(p.first_payload()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a zero first byte (`hello_start`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        let Some(tags) = hello_start(d).then(|| tags(d)).flatten() else {
            return Parse::NotMine;
        };
        meta.protocol = Some("sd_rtn");
        meta.encryption = Encryption::Encrypted;
        for (name, value) in tags {
            match name {
                b"SNI\0" => {
                    if let Ok(s) = std::str::from_utf8(value) {
                        if !s.is_empty() && s.bytes().all(|c| c.is_ascii_graphic()) {
                            meta.sni = Some(s.to_ascii_lowercase());
                        }
                    }
                }
                b"CPTO" => {
                    // The nested AEAD tag names the cipher.
                    if let Some(aead) = tags_flat(value).find(|(n, _)| n == b"AEAD").map(|(_, v)| v) {
                        if let Ok(s) = std::str::from_utf8(aead) {
                            meta.set_extra("sd_rtn_aead", s);
                        }
                    }
                }
                _ => {}
            }
        }
        Parse::Done
    }
}

/// Nested tags (no count): name, length, value, back to back.
fn tags_flat(mut d: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let name = d.get(..4)?;
        let len = usize::from(u16::from_le_bytes([*d.get(4)?, *d.get(5)?]));
        let value = d.get(6..6 + len)?;
        d = d.get(6 + len..)?;
        Some((name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn tag(name: &[u8; 4], value: &[u8]) -> Vec<u8> {
        let mut v = name.to_vec();
        v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    fn hello(kind: u8, peer: [u8; 4], tags: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0, 0x5a, 0x38, 0x4c, 0, 0, kind, 0];
        v.extend_from_slice(&peer);
        v.push(tags.len() as u8);
        for t in tags {
            v.extend_from_slice(t);
        }
        v
    }

    fn client_hello() -> Vec<u8> {
        let mut cpto = tag(b"NONC", &[0x97; 32]);
        cpto.extend(tag(b"AEAD", b"AESG"));
        cpto.extend(tag(b"PUBS", &[4; 65]));
        cpto.extend(tag(b"KEXS", b"P256"));
        hello(
            CLIENT_HELLO,
            [0; 4],
            &[
                tag(b"SNI\0", b"23-248-186-179.edge.agora.io"),
                tag(b"PDMD", b""),
                tag(b"CPTO", &cpto),
                tag(b"CCRT", &[0xff; 40]),
            ],
        )
    }

    #[test]
    fn hello_and_answer() {
        let c = client_hello();
        let s = hello(
            SERVER_HELLO,
            [0x5a, 0x38, 0x4c, 0],
            &[tag(b"PEID", &[1, 0, 0x1c, 0]), tag(b"PROF", &[0x88; 256])],
        );
        let data = [1u8, 0x5b, 0x38, 0x4c, 0x88, 0x67, 0x9d, 0x5b];
        let (r, m) = check_split_udp(&SdRtn, 35778, 8130, &[&c, &data], &[&s]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("sd_rtn"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.sni.as_deref(), Some("23-248-186-179.edge.agora.io"));
        assert_eq!(m.extra("sd_rtn_aead"), Some("AESG"));
        // The server's answer alone (the hello missed) also identifies it.
        let (r, m) = check_split_udp(&SdRtn, 35778, 8130, &[], &[&s]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.sni, None);
    }

    #[test]
    fn not_sd_rtn() {
        let c = client_hello();
        let mut short = c.clone();
        short.pop();
        let mut long = c.clone();
        long.push(0);
        let mut data_first = c.clone();
        data_first[0] = 1;
        let mut ack = c.clone();
        ack[6] = 0x02;
        let tftp_ack = [0u8, 4, 0, 1];
        for d in [&short[..], &long, &data_first, &ack, &c[..HEADER], &tftp_ack] {
            let f = UdpFixture::new(35778, 8130, &[d], &[]);
            let claimed = crate::dissect::not_refused(&SdRtn, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
