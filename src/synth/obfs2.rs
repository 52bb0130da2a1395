//! MTProto transport obfuscation ("obfuscated2"): a 64-byte header whose
//! bytes 8..40 are an AES-256-CTR key and 40..56 its IV; bytes 56..60 of
//! the header, encrypted with that key, are the protocol tag (0xefefefef,
//! 0xeeeeeeee, 0xdddddddd), 60..62 the DC id. Everything after is the
//! framed MTProto stream, encrypted with the same keystream; the server
//! answers with the key and IV taken from bytes 8..56 reversed.
//!
//! Through an MTProxy with a secret, each AES key is instead SHA-256 of
//! those 32 bytes followed by the 16-byte secret: without the secret the
//! tag cannot be read, so nothing in the payload proves Telegram.

use aes::Aes256;
use anyhow::Result;
use ctr::cipher::{KeyIvInit, StreamCipher};

use super::mtproto;
use super::mtproto_msg::{self, Framing};
use super::net::{Capture, Place, Tcp};
use super::rng::Rng;
use super::truth::{Enc, Kind, Truth};

pub type Ctr = ctr::Ctr128BE<Aes256>;

/// What one side sends, chunk by chunk.
pub type Chunks = Vec<Vec<u8>>;

pub const TAG_ABRIDGED: [u8; 4] = [0xef; 4];
pub const TAG_INTERMEDIATE: [u8; 4] = [0xee; 4];
pub const TAG_PADDED: [u8; 4] = [0xdd; 4];

/// First four bytes a header may not start with (they would look like
/// HTTP, a plain transport, or TLS).
const RESERVED: [[u8; 4]; 7] = [
    *b"HEAD",
    *b"POST",
    *b"GET ",
    *b"OPTI",
    [0xee; 4],
    [0xdd; 4],
    [0x16, 0x03, 0x01, 0x02],
];

#[cfg(test)]
fn cipher(key: &[u8], iv: &[u8]) -> Ctr {
    keyed_cipher(key, iv, None)
}

/// The AES-256-CTR stream for `key` (32 bytes) and `iv`, the key hashed
/// with the MTProxy secret when there is one.
fn keyed_cipher(key: &[u8], iv: &[u8], secret: Option<&[u8]>) -> Ctr {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 32];
    let mut i = [0u8; 16];
    match secret {
        Some(s) => k.copy_from_slice(&Sha256::new().chain_update(&key[..32]).chain_update(s).finalize()),
        None => k.copy_from_slice(&key[..32]),
    }
    i.copy_from_slice(&iv[..16]);
    Ctr::new(&k.into(), &i.into())
}

/// [`header_with`] without a secret.
#[cfg(test)]
pub fn header(rng: &mut Rng, tag: [u8; 4], dc: i16) -> ([u8; 64], Ctr, Ctr) {
    header_with(rng, tag, dc, None)
}

/// Builds a client header for `tag`: the 64 bytes on the wire, the client's
/// encryption stream (positioned after the header) and the server's; the
/// keys hashed with `secret` for a connection through an MTProxy.
pub fn header_with(rng: &mut Rng, tag: [u8; 4], dc: i16, secret: Option<&[u8]>) -> ([u8; 64], Ctr, Ctr) {
    let mut h = [0u8; 64];
    loop {
        rng.fill(&mut h);
        let first4 = [h[0], h[1], h[2], h[3]];
        if h[0] != 0xef && !RESERVED.contains(&first4) && h[4..8] != [0u8; 4] {
            break;
        }
    }
    h[56..60].copy_from_slice(&tag);
    h[60..62].copy_from_slice(&dc.to_le_bytes());
    let mut enc = keyed_cipher(&h[8..40], &h[40..56], secret);
    let mut e = h;
    enc.apply_keystream(&mut e);
    let mut wire = h;
    wire[56..64].copy_from_slice(&e[56..64]);
    let mut rev = [0u8; 48];
    rev.copy_from_slice(&h[8..56]);
    rev.reverse();
    let dec = keyed_cipher(&rev[..32], &rev[32..48], secret);
    (wire, enc, dec)
}

/// Reads the tag of a header as a receiver does (tests, and a check).
#[cfg(test)]
pub fn read_tag(wire: &[u8; 64]) -> [u8; 4] {
    let mut c = cipher(&wire[8..40], &wire[40..56]);
    let mut d = *wire;
    c.apply_keystream(&mut d);
    [d[56], d[57], d[58], d[59]]
}

/// The obfuscated streams of one connection: client chunks (the first
/// starts with the header) and server chunks, as they go on the wire.
pub fn stream(rng: &mut Rng, tag: [u8; 4]) -> Result<(Chunks, Chunks)> {
    stream_with(rng, tag, None)
}

/// [`stream`] through an MTProxy with `secret`.
pub fn stream_with(rng: &mut Rng, tag: [u8; 4], secret: Option<&[u8]>) -> Result<(Chunks, Chunks)> {
    let framing = Framing::from_tag(tag).ok_or_else(|| anyhow::anyhow!("unknown obfuscated2 tag"))?;
    let dc = (rng.range(1, 6) as i16) * if rng.chance(0.2) { -1 } else { 1 };
    let (wire, mut enc, mut dec) = header_with(rng, tag, dc, secret);
    let unix_s = 1_767_225_600 + rng.below(86_400);
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    for (i, (from_client, msg)) in mtproto_msg::dialogue(rng, unix_s).into_iter().enumerate() {
        let mut f = framing.frame(rng, &msg);
        if from_client {
            enc.apply_keystream(&mut f);
            if i == 0 {
                let mut first = wire.to_vec();
                first.extend_from_slice(&f);
                f = first;
            }
            c2s.push(f);
        } else {
            dec.apply_keystream(&mut f);
            s2c.push(f);
        }
    }
    Ok((c2s, s2c))
}

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place, framing: Framing) -> Result<Truth> {
    let p = mtproto::port(rng, place.telegram_range);
    let ends = cap.ends(rng, place, p, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    let (c2s, s2c) = stream(rng, framing.tag())?;
    send_all(&mut t, &c2s, &s2c)?;
    let kind = match framing {
        Framing::Abridged => Kind::Obfs2Abridged,
        Framing::Intermediate => Kind::Obfs2Intermediate,
        Framing::Padded => Kind::Obfs2Padded,
    };
    let pk = t.close()?;
    Ok(Truth::new(kind, &ends, true, "mtproto", Enc::Encrypted)
        .app(Some("telegram"), true)
        .pkts(pk))
}

/// A Telegram connection through an MTProxy with a 16-byte secret: the
/// abridged or intermediate transport for a plain secret, padded
/// intermediate for a "dd" secret (`padded`). The proxy is a third-party
/// server: never in Telegram's ranges. Fully encrypted from the first
/// byte, and provable by nothing but the secret.
pub fn build_secret(cap: &mut Capture, rng: &mut Rng, place: &Place, padded: bool) -> Result<Truth> {
    let place = Place {
        telegram_range: false,
        ..*place
    };
    let secret = rng.array::<16>();
    let tag = if padded {
        TAG_PADDED
    } else {
        *rng.pick(&[TAG_ABRIDGED, TAG_INTERMEDIATE])
    };
    let port = if rng.chance(0.6) {
        443
    } else {
        rng.range(1024, 65535) as u16
    };
    let ends = cap.ends(rng, &place, port, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    let (c2s, s2c) = stream_with(rng, tag, Some(&secret))?;
    send_all(&mut t, &c2s, &s2c)?;
    let kind = if padded {
        Kind::MtproxySecretDd
    } else {
        Kind::MtproxySecret
    };
    let pk = t.close()?;
    Ok(Truth::new(kind, &ends, true, "unknown", Enc::FullyEncrypted)
        .app(Some("telegram"), false)
        .pkts(pk))
}

/// Client and server chunks in turn, a pause after each exchange.
fn send_all(t: &mut Tcp<'_>, c2s: &Chunks, s2c: &Chunks) -> Result<()> {
    for i in 0..c2s.len().max(s2c.len()) {
        if let Some(m) = c2s.get(i) {
            t.send(true, m)?;
        }
        if let Some(m) = s2c.get(i) {
            t.send(false, m)?;
        }
        t.pause(30);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_decrypts_to_the_tag() {
        let mut rng = Rng::new(11);
        for tag in [TAG_ABRIDGED, TAG_INTERMEDIATE, TAG_PADDED] {
            for _ in 0..200 {
                let (wire, _, _) = header(&mut rng, tag, 2);
                assert_eq!(read_tag(&wire), tag);
                assert_ne!(wire[0], 0xef);
                assert!(!RESERVED.contains(&[wire[0], wire[1], wire[2], wire[3]]));
                assert_ne!(wire[4..8], [0u8; 4]);
                // Bytes 56..64 on the wire are not the plaintext tag.
                assert_ne!(wire[56..60], tag);
            }
        }
    }

    #[test]
    fn stream_decrypts_to_framed_req_pq() {
        let mut rng = Rng::new(12);
        let (c2s, s2c) = stream(&mut rng, TAG_INTERMEDIATE).unwrap();
        let first = &c2s[0];
        let wire: [u8; 64] = first[..64].try_into().unwrap();
        // The receiver's view: decrypt header + data with one keystream.
        let mut c = cipher(&wire[8..40], &wire[40..56]);
        let mut all = first.clone();
        c.apply_keystream(&mut all);
        assert_eq!(&all[56..60], &TAG_INTERMEDIATE);
        assert_eq!(&all[64..68], &40u32.to_le_bytes());
        assert_eq!(&all[68..76], &[0u8; 8]);
        assert_eq!(&all[88..92], &0xbe7e8ef1u32.to_le_bytes());
        // Server side with the reversed key.
        let mut rev = [0u8; 48];
        rev.copy_from_slice(&wire[8..56]);
        rev.reverse();
        let mut d = cipher(&rev[..32], &rev[32..48]);
        let mut s = s2c[0].clone();
        d.apply_keystream(&mut s);
        assert_eq!(&s[4..12], &[0u8; 8]);
        assert_eq!(&s[24..28], &0x05162463u32.to_le_bytes());
    }

    #[test]
    fn secret_hides_the_tag_and_keeps_the_sizes() {
        let mut rng = Rng::new(13);
        let secret = [7u8; 16];
        let (c2s, s2c) = stream_with(&mut rng, TAG_ABRIDGED, Some(&secret)).unwrap();
        let wire: [u8; 64] = c2s[0][..64].try_into().unwrap();
        assert_ne!(read_tag(&wire), TAG_ABRIDGED);
        let mut c = keyed_cipher(&wire[8..40], &wire[40..56], Some(&secret));
        let mut d = wire;
        c.apply_keystream(&mut d);
        assert_eq!(&d[56..60], &TAG_ABRIDGED);
        // Header + abridged req_pq_multi; abridged resPQ.
        assert_eq!((c2s[0].len(), s2c[0].len()), (64 + 1 + 40, 1 + 84));
        let (c2s, s2c) = stream_with(&mut rng, TAG_INTERMEDIATE, Some(&secret)).unwrap();
        assert_eq!((c2s[0].len(), s2c[0].len()), (64 + 4 + 40, 4 + 84));
    }
}
