//! QUIC Initial packet protection (RFC 9001 §5, RFC 9369 §3.3): key
//! derivation with HKDF-Expand-Label, header protection removal with
//! AES-128-ECB on one sample block, and AEAD_AES_128_GCM opening.
//!
//! Every primitive comes from RustCrypto crates; this file only arranges
//! the inputs as the RFCs specify.

use aes::cipher::{BlockCipherEncrypt, KeyInit as _};
use aes::Aes128;
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

/// Which label set a version uses (RFC 9001 §5.1 vs RFC 9369 §3.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    V1,
    V2,
}

/// Which endpoint protected the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// The three values derived from an Initial secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hk: &Hkdf<Sha256>, label: &str, out: &mut [u8]) -> bool {
    const PREFIX: &[u8] = b"tls13 ";
    let (Ok(len), Ok(label_len)) = (u16::try_from(out.len()), u8::try_from(PREFIX.len() + label.len())) else {
        return false;
    };
    let mut info = Vec::with_capacity(4 + usize::from(label_len));
    info.extend_from_slice(&len.to_be_bytes());
    info.push(label_len);
    info.extend_from_slice(PREFIX);
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    hk.expand(&info, out).is_ok()
}

/// Derives the Initial keys of `role` from the client's Destination
/// Connection ID.
pub fn initial_keys(salt: &[u8], dcid: &[u8], labels: Labels, role: Role) -> Option<Keys> {
    let initial = Hkdf::<Sha256>::new(Some(salt), dcid);
    let mut secret = [0u8; 32];
    let side = match role {
        Role::Client => "client in",
        Role::Server => "server in",
    };
    if !expand_label(&initial, side, &mut secret) {
        return None;
    }
    let hk = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    let (lk, li, lh) = match labels {
        Labels::V1 => ("quic key", "quic iv", "quic hp"),
        Labels::V2 => ("quicv2 key", "quicv2 iv", "quicv2 hp"),
    };
    let mut k = Keys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    let ok = expand_label(&hk, lk, &mut k.key) && expand_label(&hk, li, &mut k.iv) && expand_label(&hk, lh, &mut k.hp);
    ok.then_some(k)
}

/// The header-protection mask: AES-128-ECB of the 16-byte sample.
pub fn hp_mask(hp: &[u8; 16], sample: &[u8; 16]) -> [u8; 16] {
    let cipher = Aes128::new(&(*hp).into());
    let mut block = (*sample).into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// A long-header packet with header protection removed and payload
/// decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub packet_number: u64,
    pub payload: Vec<u8>,
}

/// Removes header protection from the long-header packet `pkt` (exactly
/// one packet, from its first byte to the end of its Length) whose packet
/// number starts at `pn_offset`, then opens the AEAD. `None` when the
/// packet is too short or authentication fails.
pub fn open_long(keys: &Keys, pkt: &[u8], pn_offset: usize) -> Option<Opened> {
    // The sample starts 4 bytes after the packet number's start (§5.4.2).
    let sample: [u8; 16] = pkt.get(pn_offset + 4..pn_offset + 20)?.try_into().ok()?;
    let mask = hp_mask(&keys.hp, &sample);
    let first = pkt.first()? ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    let hdr_len = pn_offset + pn_len;
    let mut header = pkt.get(..hdr_len)?.to_vec();
    header[0] = first;
    let mut pn = 0u64;
    for i in 0..pn_len {
        let b = header[pn_offset + i] ^ mask[1 + i];
        header[pn_offset + i] = b;
        pn = (pn << 8) | u64::from(b);
    }
    let body = pkt.get(hdr_len..)?;
    let ct_len = body.len().checked_sub(16)?;
    let (ct, tag) = body.split_at(ct_len);
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let aead = Aes128Gcm::new(&keys.key.into());
    let tag = Tag::try_from(tag).ok()?;
    let mut payload = ct.to_vec();
    aead.decrypt_inout_detached(&Nonce::from(nonce), &header, payload.as_mut_slice().into(), &tag)
        .ok()?;
    Some(Opened {
        packet_number: pn,
        payload,
    })
}

/// Test helper: protects a long-header packet (the inverse of
/// [`open_long`]); `header` ends with the packet number.
#[cfg(test)]
pub(crate) fn seal_long(keys: &Keys, header: &[u8], pn_len: usize, payload: &[u8]) -> Vec<u8> {
    let pn_offset = header.len() - pn_len;
    let mut pn = 0u64;
    for &b in &header[pn_offset..] {
        pn = (pn << 8) | u64::from(b);
    }
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let aead = Aes128Gcm::new(&keys.key.into());
    let mut body = payload.to_vec();
    let tag = aead
        .encrypt_inout_detached(&Nonce::from(nonce), header, body.as_mut_slice().into())
        .unwrap();
    let mut pkt = header.to_vec();
    pkt.extend_from_slice(&body);
    pkt.extend_from_slice(&tag);
    let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
    let mask = hp_mask(&keys.hp, &sample);
    pkt[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        pkt[pn_offset + i] ^= mask[1 + i];
    }
    pkt
}

#[cfg(test)]
pub(crate) use crate::dissect::unhex;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::quic::SALT_V1;
    use crate::dissect::quic::SALT_V2;

    const DCID: &str = "8394c8f03e515708";

    #[test]
    fn rfc9001_a1_keys() {
        let c = initial_keys(&SALT_V1, &unhex(DCID), Labels::V1, Role::Client).unwrap();
        assert_eq!(c.key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
        let s = initial_keys(&SALT_V1, &unhex(DCID), Labels::V1, Role::Server).unwrap();
        assert_eq!(s.key.to_vec(), unhex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.iv.to_vec(), unhex("0ac1493ca1905853b0bba03e"));
        assert_eq!(s.hp.to_vec(), unhex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    #[test]
    fn rfc9369_a1_keys() {
        let c = initial_keys(&SALT_V2, &unhex(DCID), Labels::V2, Role::Client).unwrap();
        assert_eq!(c.key.to_vec(), unhex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(c.iv.to_vec(), unhex("91f73e2351d8fa91660e909f"));
        assert_eq!(c.hp.to_vec(), unhex("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    #[test]
    fn header_protection_samples() {
        // RFC 9001 A.2 (client), A.3 (server); RFC 9369 A.2 (client).
        let c = initial_keys(&SALT_V1, &unhex(DCID), Labels::V1, Role::Client).unwrap();
        let sample: [u8; 16] = unhex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(hp_mask(&c.hp, &sample)[..5].to_vec(), unhex("437b9aec36"));
        let s = initial_keys(&SALT_V1, &unhex(DCID), Labels::V1, Role::Server).unwrap();
        let sample: [u8; 16] = unhex("2cd0991cd25b0aac406a5816b6394100").try_into().unwrap();
        assert_eq!(hp_mask(&s.hp, &sample)[..5].to_vec(), unhex("2ec0d8356a"));
        let c2 = initial_keys(&SALT_V2, &unhex(DCID), Labels::V2, Role::Client).unwrap();
        let sample: [u8; 16] = unhex("ffe67b6abcdb4298b485dd04de806071").try_into().unwrap();
        assert_eq!(hp_mask(&c2.hp, &sample)[..5].to_vec(), unhex("94a0c95e80"));
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let k = initial_keys(&SALT_V1, &unhex(DCID), Labels::V1, Role::Client).unwrap();
        let header = unhex("c300000001088394c8f03e51570800004034 00000005");
        let payload = [0x01u8; 32];
        let pkt = seal_long(&k, &header, 4, &payload);
        let o = open_long(&k, &pkt, header.len() - 4).unwrap();
        assert_eq!(o.packet_number, 5);
        assert_eq!(o.payload, payload);
        let mut bad = pkt.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(open_long(&k, &bad, header.len() - 4).is_none());
        assert!(open_long(&k, &pkt[..30], header.len() - 4).is_none());
        assert!(open_long(&k, &pkt, pkt.len()).is_none());
    }
}
