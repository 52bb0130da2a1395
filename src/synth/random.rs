//! Fully encrypted flows (obfs4 / Shadowsocks-like): random bytes both
//! ways from the first byte on; some start with 0xef (MTProto abridged's
//! marker) to test that a detector does not take the byte for proof.

use anyhow::Result;

use super::net::{Capture, Place, Tcp};
use super::payload::random_looking;
use super::rng::Rng;
use super::truth::{Enc, Kind, Truth};

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place, starts_ef: bool) -> Result<Truth> {
    let port = match rng.below(4) {
        0 => 443,
        1 => 8388,
        _ => rng.range(1024, 65535) as u16,
    };
    let ends = cap.ends(rng, place, port, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    let len = rng.usize(40, 700);
    let first = random_looking(rng, len, starts_ef.then_some(0xef));
    t.send(true, &first)?;
    for _ in 0..rng.range(1, 4) {
        let n = rng.usize(30, 1500);
        let a = rng.bytes(n);
        t.send(false, &a)?;
        t.pause(40);
        let n = rng.usize(30, 900);
        let q = rng.bytes(n);
        t.send(true, &q)?;
    }
    let kind = if starts_ef { Kind::RandomEf } else { Kind::Random };
    let pk = t.close()?;
    Ok(Truth::new(kind, &ends, true, "unknown", Enc::FullyEncrypted).pkts(pk))
}
