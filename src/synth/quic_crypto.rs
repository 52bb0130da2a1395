//! QUIC v1 Initial packet protection (RFC 9001 §5): keys from the client's
//! Destination Connection ID with HKDF (SHA-256), AES-128-GCM payload
//! protection, AES-128 header protection.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::{AeadInOut, Aes128Gcm};
use anyhow::{anyhow, Result};
use hkdf::Hkdf;
use sha2::Sha256;

/// RFC 9001 §5.2 initial_salt for QUIC version 1.
pub const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];

/// Packet protection keys of one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
pub fn expand_label(secret: &[u8], label: &str, out: &mut [u8]) -> Result<()> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(full.len() + 4);
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let hk = Hkdf::<Sha256>::from_prk(secret).map_err(|_| anyhow!("HKDF: short PRK"))?;
    hk.expand(&info, out).map_err(|_| anyhow!("HKDF: output too long"))
}

/// Initial keys for the client (`client in`) or server (`server in`).
pub fn initial_keys(dcid: &[u8], client: bool) -> Result<Keys> {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(&INITIAL_SALT_V1), dcid);
    let mut secret = [0u8; 32];
    expand_label(&prk, if client { "client in" } else { "server in" }, &mut secret)?;
    let mut k = Keys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&secret, "quic key", &mut k.key)?;
    expand_label(&secret, "quic iv", &mut k.iv)?;
    expand_label(&secret, "quic hp", &mut k.hp)?;
    Ok(k)
}

/// The header protection mask: AES-ECB(hp, sample).
pub fn hp_mask(hp: &[u8; 16], sample: &[u8; 16]) -> [u8; 16] {
    let c = Aes128::new(&(*hp).into());
    let mut block = aes::Block::from(*sample);
    c.encrypt_block(&mut block);
    block.into()
}

/// Protects a long-header packet. `header` is the unprotected header
/// including the packet number (its last `pn_len` bytes); `payload` is the
/// plaintext frames. Returns header || ciphertext || tag, header protected.
pub fn protect(keys: &Keys, header: &[u8], pn: u64, pn_len: usize, payload: &[u8]) -> Result<Vec<u8>> {
    let pn_offset = header
        .len()
        .checked_sub(pn_len)
        .ok_or_else(|| anyhow!("header shorter than the packet number"))?;
    let mut nonce = keys.iv;
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let mut buf = payload.to_vec();
    let aead = Aes128Gcm::new(&keys.key.into());
    let tag = aead
        .encrypt_inout_detached(&nonce.into(), header, buf.as_mut_slice().into())
        .map_err(|_| anyhow!("AES-GCM encryption failed"))?;
    let mut pkt = Vec::with_capacity(header.len() + buf.len() + 16);
    pkt.extend_from_slice(header);
    pkt.extend_from_slice(&buf);
    pkt.extend_from_slice(&tag);
    let sample: [u8; 16] = pkt
        .get(pn_offset + 4..pn_offset + 20)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| anyhow!("packet too short for a header protection sample"))?;
    let mask = hp_mask(&keys.hp, &sample);
    let long = pkt[0] & 0x80 != 0;
    pkt[0] ^= mask[0] & if long { 0x0f } else { 0x1f };
    for i in 0..pn_len {
        pkt[pn_offset + i] ^= mask[1 + i];
    }
    Ok(pkt)
}

/// Removes the protection of a client Initial (tests, and a check that the
/// generator's packets are what a dissector would see).
#[cfg(test)]
pub fn unprotect_initial(pkt: &[u8], keys: &Keys) -> Result<(u64, Vec<u8>)> {
    let short = || anyhow!("short packet");
    let dcid_len = *pkt.get(5).ok_or_else(short)? as usize;
    let mut p = 6 + dcid_len;
    let scid_len = *pkt.get(p).ok_or_else(short)? as usize;
    p += 1 + scid_len;
    let (tok_len, n) = read_varint(pkt.get(p..).ok_or_else(short)?).ok_or_else(short)?;
    p += n + tok_len as usize;
    let (len, n) = read_varint(pkt.get(p..).ok_or_else(short)?).ok_or_else(short)?;
    p += n;
    let pn_offset = p;
    let sample: [u8; 16] = pkt
        .get(pn_offset + 4..pn_offset + 20)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(short)?;
    let mask = hp_mask(&keys.hp, &sample);
    let mut hdr = pkt.get(..pn_offset).ok_or_else(short)?.to_vec();
    hdr[0] ^= mask[0] & 0x0f;
    let pn_len = usize::from(hdr[0] & 3) + 1;
    let mut pn = 0u64;
    for i in 0..pn_len {
        let b = pkt.get(pn_offset + i).ok_or_else(short)? ^ mask[1 + i];
        hdr.push(b);
        pn = (pn << 8) | u64::from(b);
    }
    let end = pn_offset + len as usize;
    let body = pkt.get(pn_offset + pn_len..end).ok_or_else(short)?;
    let (ct, tag) = body.split_at(body.len().checked_sub(16).ok_or_else(short)?);
    let mut nonce = keys.iv;
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let mut buf = ct.to_vec();
    let tag: [u8; 16] = tag.try_into().map_err(|_| short())?;
    Aes128Gcm::new(&keys.key.into())
        .decrypt_inout_detached(&nonce.into(), &hdr, buf.as_mut_slice().into(), &tag.into())
        .map_err(|_| anyhow!("AES-GCM authentication failed"))?;
    Ok((pn, buf))
}

/// QUIC variable-length integer.
pub fn varint(v: u64, out: &mut Vec<u8>) {
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&((v as u16) | 0x4000).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

/// Reads a varint: (value, bytes used).
#[cfg(test)]
pub fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let n = 1usize << (first >> 6);
    let bytes = b.get(..n)?;
    let mut v = u64::from(first & 0x3f);
    for x in &bytes[1..] {
        v = (v << 8) | u64::from(*x);
    }
    Some((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const DCID: &str = "8394c8f03e515708";

    /// RFC 9001 Appendix A.1: keys.
    #[test]
    fn rfc9001_a1_keys() {
        let c = initial_keys(&hex(DCID), true).unwrap();
        assert_eq!(c.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let s = initial_keys(&hex(DCID), false).unwrap();
        assert_eq!(s.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(s.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    /// RFC 9001 Appendix A.2: the client Initial, protected.
    #[test]
    fn rfc9001_a2_client_initial() {
        let header = hex("c300000001088394c8f03e5157080000449e00000002");
        let mut payload = hex("060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
             04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
             616d706c652e636f6dff01000100000a00080006001d00170018001000070005
             04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
             baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
             0d0010000e0403050306030203080408050806002d00020101001c0002400100
             3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
             75300901100f088394c8f03e51570806048000ffff");
        payload.resize(1162, 0);
        let keys = initial_keys(&hex(DCID), true).unwrap();
        let pkt = protect(&keys, &header, 2, 4, &payload).unwrap();
        assert_eq!(pkt.len(), 1200);
        let expect_prefix = hex("c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
             d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
             1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c");
        assert_eq!(&pkt[..expect_prefix.len()], &expect_prefix[..]);
        assert_eq!(
            hp_mask(&keys.hp, &hex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap())[..5],
            hex("437b9aec36")[..]
        );
        let (pn, plain) = unprotect_initial(&pkt, &keys).unwrap();
        assert_eq!(pn, 2);
        assert_eq!(plain, payload);
        // One flipped ciphertext bit fails authentication.
        let mut bad = pkt.clone();
        bad[100] ^= 1;
        assert!(unprotect_initial(&bad, &keys).is_err());
    }

    #[test]
    fn varints() {
        for v in [0u64, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, 1 << 40] {
            let mut b = Vec::new();
            varint(v, &mut b);
            assert_eq!(read_varint(&b), Some((v, b.len())));
        }
        assert_eq!(read_varint(&[0x40]), None);
    }
}
