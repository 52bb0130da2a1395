#![no_main]
//! The decoder, over every link type it knows, with state (fragments)
//! carried across frames: byte 0 picks the link type, the rest is cut
//! into frames on a 2-byte length prefix.
use baikal_classifier::decode::{Decoder, LinkType};
use libfuzzer_sys::fuzz_target;

const LINKS: [u32; 10] = [1, 0, 12, 14, 101, 108, 113, 228, 229, 276];

fuzz_target!(|data: &[u8]| {
    let Some((&b0, mut rest)) = data.split_first() else { return };
    let lt = LinkType(LINKS[usize::from(b0) % LINKS.len()]);
    let mut dec = Decoder::new();
    let mut ts = 0u64;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + n];
        rest = &rest[2 + n..];
        ts += 1_000_000;
        let _ = dec.decode(lt, ts, n as u32, frame);
    }
});
