//! MTProto messages (the auth-key exchange and encrypted messages) and the
//! three plain transports' framing (core.telegram.org/mtproto/mtproto-transports):
//! abridged (0xef, then a length in 4-byte words), intermediate
//! (0xeeeeeeee, then a little-endian u32 length), padded intermediate
//! (0xdddddddd, length including 0..15 random padding bytes).

use super::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Abridged,
    Intermediate,
    Padded,
}

impl Framing {
    /// The bytes a client sends once before the first packet.
    pub fn init(self) -> &'static [u8] {
        match self {
            Framing::Abridged => &[0xef],
            Framing::Intermediate => &[0xee; 4],
            Framing::Padded => &[0xdd; 4],
        }
    }

    /// The obfuscated2 protocol tag of this framing.
    pub fn tag(self) -> [u8; 4] {
        match self {
            Framing::Abridged => [0xef; 4],
            Framing::Intermediate => [0xee; 4],
            Framing::Padded => [0xdd; 4],
        }
    }

    pub fn from_tag(tag: [u8; 4]) -> Option<Framing> {
        [Framing::Abridged, Framing::Intermediate, Framing::Padded]
            .into_iter()
            .find(|f| f.tag() == tag)
    }

    /// One transport packet around `msg` (a multiple of 4 bytes long).
    pub fn frame(self, rng: &mut Rng, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(msg.len() + 20);
        match self {
            Framing::Abridged => {
                let words = msg.len() / 4;
                if words < 0x7f {
                    out.push(words as u8);
                } else {
                    out.push(0x7f);
                    out.extend_from_slice(&(words as u32).to_le_bytes()[..3]);
                }
                out.extend_from_slice(msg);
            }
            Framing::Intermediate => {
                out.extend_from_slice(&(msg.len() as u32).to_le_bytes());
                out.extend_from_slice(msg);
            }
            Framing::Padded => {
                let pad = rng.usize(0, 16);
                out.extend_from_slice(&((msg.len() + pad) as u32).to_le_bytes());
                out.extend_from_slice(msg);
                out.extend_from_slice(&rng.bytes(pad));
            }
        }
        out
    }
}

/// TL `bytes`: length prefix, data, padding to a multiple of 4.
fn tl_bytes(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    if data.len() < 254 {
        out.push(data.len() as u8);
    } else {
        out.push(254);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes()[..3]);
    }
    out.extend_from_slice(data);
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
}

/// A message id: unix time in the high half; clients' are divisible by 4,
/// server responses are 1 mod 4.
fn msg_id(rng: &mut Rng, unix_s: u64, from_client: bool) -> u64 {
    let low = u64::from(rng.u32() & !3) | if from_client { 0 } else { 1 };
    (unix_s << 32) | low
}

/// An unencrypted message: auth_key_id 0, message id, length, body.
fn plain_msg(rng: &mut Rng, unix_s: u64, from_client: bool, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 20);
    m.extend_from_slice(&[0u8; 8]);
    m.extend_from_slice(&msg_id(rng, unix_s, from_client).to_le_bytes());
    m.extend_from_slice(&(body.len() as u32).to_le_bytes());
    m.extend_from_slice(body);
    m
}

/// The messages of a connection, in order: (from the client, message).
/// Starts with the auth-key exchange (req_pq_multi, resPQ,
/// req_DH_params, server_DH_params_ok, set_client_DH_params, dh_gen_ok),
/// then encrypted messages under a fresh auth_key_id.
pub fn dialogue(rng: &mut Rng, unix_s: u64) -> Vec<(bool, Vec<u8>)> {
    let nonce = rng.array::<16>();
    let server_nonce = rng.array::<16>();
    let mut d = Vec::new();
    // req_pq_multi#be7e8ef1 nonce:int128
    let mut b = 0xbe7e8ef1u32.to_le_bytes().to_vec();
    b.extend_from_slice(&nonce);
    d.push((true, plain_msg(rng, unix_s, true, &b)));
    // resPQ#05162463 nonce server_nonce pq:bytes server_public_key_fingerprints:Vector<long>
    let mut b = 0x05162463u32.to_le_bytes().to_vec();
    b.extend_from_slice(&nonce);
    b.extend_from_slice(&server_nonce);
    let pq = (rng.u64() | 1 << 62).to_be_bytes();
    tl_bytes(&mut b, &pq);
    b.extend_from_slice(&0x1cb5c415u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&rng.array::<8>());
    d.push((false, plain_msg(rng, unix_s, false, &b)));
    // req_DH_params#d712e4be nonce server_nonce p q fingerprint encrypted_data
    let mut b = 0xd712e4beu32.to_le_bytes().to_vec();
    b.extend_from_slice(&nonce);
    b.extend_from_slice(&server_nonce);
    tl_bytes(&mut b, &rng.array::<4>());
    tl_bytes(&mut b, &rng.array::<4>());
    b.extend_from_slice(&rng.array::<8>());
    tl_bytes(&mut b, &rng.bytes(256));
    d.push((true, plain_msg(rng, unix_s, true, &b)));
    // server_DH_params_ok#d0e8075c nonce server_nonce encrypted_answer
    let mut b = 0xd0e8075cu32.to_le_bytes().to_vec();
    b.extend_from_slice(&nonce);
    b.extend_from_slice(&server_nonce);
    tl_bytes(&mut b, &rng.bytes(592));
    d.push((false, plain_msg(rng, unix_s, false, &b)));
    // set_client_DH_params#f5045f1f nonce server_nonce encrypted_data
    let mut b = 0xf5045f1fu32.to_le_bytes().to_vec();
    b.extend_from_slice(&nonce);
    b.extend_from_slice(&server_nonce);
    tl_bytes(&mut b, &rng.bytes(336));
    d.push((true, plain_msg(rng, unix_s, true, &b)));
    // dh_gen_ok#3bcbf734 nonce server_nonce new_nonce_hash1:int128
    let mut b = 0x3bcbf734u32.to_le_bytes().to_vec();
    b.extend_from_slice(&nonce);
    b.extend_from_slice(&server_nonce);
    b.extend_from_slice(&rng.array::<16>());
    d.push((false, plain_msg(rng, unix_s, false, &b)));
    // Encrypted messages: auth_key_id, msg_key, encrypted data.
    let auth_key_id = rng.array::<8>();
    for i in 0..rng.range(2, 6) {
        let mut m = auth_key_id.to_vec();
        m.extend_from_slice(&rng.array::<16>());
        let blocks = rng.usize(2, 24);
        m.extend_from_slice(&rng.bytes(16 * blocks));
        d.push((i % 2 == 0, m));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_message_and_framing() {
        let mut rng = Rng::new(9);
        let d = dialogue(&mut rng, 1_767_225_600);
        let (from_client, m) = &d[0];
        assert!(from_client);
        assert_eq!(m.len(), 40);
        assert_eq!(&m[..8], &[0u8; 8]);
        assert_eq!(u64::from_le_bytes(m[8..16].try_into().unwrap()) % 4, 0);
        assert_eq!(u32::from_le_bytes(m[16..20].try_into().unwrap()), 20);
        assert_eq!(&m[20..24], &0xbe7e8ef1u32.to_le_bytes());
        assert!(d.iter().all(|(_, m)| m.len() % 4 == 0));
        assert_eq!(Framing::Abridged.frame(&mut rng, m)[0], 10);
        let big = vec![0u8; 4 * 200];
        assert_eq!(&Framing::Abridged.frame(&mut rng, &big)[..4], &[0x7f, 200, 0, 0]);
        assert_eq!(&Framing::Intermediate.frame(&mut rng, m)[..4], &40u32.to_le_bytes());
        for _ in 0..50 {
            let f = Framing::Padded.frame(&mut rng, m);
            let n = u32::from_le_bytes(f[..4].try_into().unwrap()) as usize;
            assert_eq!(n, f.len() - 4);
            assert!((40..56).contains(&n));
        }
        let (_, res_pq) = &d[1];
        assert_eq!(u64::from_le_bytes(res_pq[8..16].try_into().unwrap()) % 4, 1);
    }
}
