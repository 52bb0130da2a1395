//! Deterministic random stream for the generator: AES-256-CTR keystream
//! keyed by SHA-256 of the seed. Same seed, same bytes, on every platform.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use sha2::{Digest, Sha256};

type Ctr = ctr::Ctr128BE<Aes256>;

pub struct Rng {
    ctr: Ctr,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut h = Sha256::new();
        h.update(b"baikal-synth/1");
        h.update(seed.to_le_bytes());
        Rng::from_key(&h.finalize())
    }

    fn from_key(k: &[u8]) -> Rng {
        let mut key = [0u8; 32];
        key.copy_from_slice(&k[..32]);
        Rng {
            ctr: Ctr::new(&key.into(), &[0u8; 16].into()),
        }
    }

    /// An independent stream (one per flow), so that a flow's bytes do not
    /// depend on how many bytes the flows before it drew.
    pub fn fork(&mut self) -> Rng {
        let mut k = [0u8; 32];
        self.fill(&mut k);
        Rng::from_key(&k)
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        out.fill(0);
        self.ctr.apply_keystream(out);
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }

    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        self.fill(&mut a);
        a
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// Uniform in `0..n` (`n` > 0; 0 gives 0). The modulo bias of a 64-bit
    /// draw is irrelevant for test data.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.u64() % n
        }
    }

    /// Uniform in `lo..hi` (half-open; `hi <= lo` gives `lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }

    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        let x = (self.u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.below(items.len() as u64) as usize;
        &items[i.min(items.len().saturating_sub(1))]
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b, mut c) = (Rng::new(1), Rng::new(1), Rng::new(2));
        let (x, y, z) = (a.bytes(64), b.bytes(64), c.bytes(64));
        assert_eq!(x, y);
        assert_ne!(x, z);
        let (mut fa, mut fb) = (a.fork(), b.fork());
        assert_eq!(fa.u64(), fb.u64());
        for _ in 0..1000 {
            let r = a.range(10, 20);
            assert!((10..20).contains(&r));
        }
    }
}
