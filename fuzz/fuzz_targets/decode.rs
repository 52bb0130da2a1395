#![no_main]
//! The decoder, over every link type it knows, with state (fragments)
//! carried across frames: byte 0 picks the link type, the rest is cut
//! into frames on a 2-byte length prefix.
//!
//! Differential part: the threaded reader's header-only `fast_l4` either
//! declines a frame or agrees with a fresh full decoder on its tuple and
//! (for UDP) its payload; and `decode`, which reads plain frames straight
//! from their headers, gives the views and counters of the full decoder
//! alone (`decode_in_full`) frame after frame, reassembly state and all.
//! Any disagreement is a crash.
use baikal_classifier::decode::{fast_l4, ipproto, Decoder, LinkType};
use libfuzzer_sys::fuzz_target;

const LINKS: [u32; 10] = [1, 0, 12, 14, 101, 108, 113, 228, 229, 276];

fuzz_target!(|data: &[u8]| {
    let Some((&b0, mut rest)) = data.split_first() else { return };
    let lt = LinkType(LINKS[usize::from(b0) % LINKS.len()]);
    let mut dec = Decoder::new();
    let mut full = Decoder::new();
    let mut ts = 0u64;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + n];
        rest = &rest[2 + n..];
        ts += 1_000_000;
        if let Some((t, udp_payload)) = fast_l4(lt, frame) {
            let mut fresh = Decoder::new();
            let v = fresh.decode_in_full(lt, ts, n as u32, frame);
            assert_eq!(v.as_ref().map(|v| v.tuple), Some(t), "fast_l4 tuple differs from decode");
            if t.proto == ipproto::UDP {
                assert_eq!(v.map(|v| v.payload), Some(udp_payload), "fast_l4 UDP payload differs");
            }
            assert_eq!(fresh.frag_pending(), (0, 0), "fast_l4 accepted a frame that needs reassembly");
        }
        let owned = |v: Option<baikal_classifier::decode::PacketView<'_>>| {
            v.map(|v| (v.ts_ns, v.wire_len, v.tuple, v.tcp, v.payload.to_vec()))
        };
        let got = owned(dec.decode(lt, ts, n as u32, frame));
        let want = owned(full.decode_in_full(lt, ts, n as u32, frame));
        assert_eq!(got, want, "the plain path differs from the full decoder");
        assert_eq!(dec.stats(), full.stats(), "the plain path's counters differ");
    }
});
