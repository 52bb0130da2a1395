//! Payload makers shared by several flow kinds.

use baikal_classifier::randomness::looks_fully_encrypted;

use super::rng::Rng;

const WORDS: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
];

/// A line of printable text of an invented line protocol (no keyword of a
/// real protocol at the start).
pub fn text(rng: &mut Rng, n: u32) -> Vec<u8> {
    let mut s = format!("synth/1 msg={n} node={}", rng.pick(&WORDS));
    for _ in 0..rng.usize(2, 12) {
        s.push(' ');
        let w: &str = WORDS[rng.below(WORDS.len() as u64) as usize % WORDS.len()];
        s.push_str(w);
        s.push('=');
        s.push_str(&rng.below(100_000).to_string());
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Structured binary: a small header, counters and mostly zero fields —
/// clearly not random (low bit density).
pub fn binary(rng: &mut Rng, n: u32) -> Vec<u8> {
    let len = rng.usize(24, 400);
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&[0x00, 0x05]);
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(&n.to_be_bytes());
    while v.len() < len {
        match rng.below(4) {
            0 => v.extend_from_slice(&[0, 0, 0, 0]),
            1 => v.extend_from_slice(&(rng.below(512) as u32).to_le_bytes()),
            2 => v.push(rng.below(8) as u8),
            _ => v.extend_from_slice(&[0x00, 0x01, 0x00, 0x02]),
        }
    }
    v.truncate(len);
    v
}

/// Random bytes that pass the fully-encrypted test (Wu et al.): drawn
/// again until no exemption applies. With `first`, the first byte is fixed.
pub fn random_looking(rng: &mut Rng, len: usize, first: Option<u8>) -> Vec<u8> {
    loop {
        let mut v = rng.bytes(len.max(8));
        if let Some(f) = first {
            v[0] = f;
        }
        if looks_fully_encrypted(&v) {
            return v;
        }
    }
}
