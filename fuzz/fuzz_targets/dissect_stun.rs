#![no_main]
//! The `stun` dissector alone (input format: see `baikal_fuzz::Flow`), and
//! the TURN permission parser the association table runs on every UDP
//! datagram (the raw input as one datagram).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(p) = baikal_classifier::dissect::stun::turn_permission(data) {
        assert!(!p.realm.is_empty() && !p.peers.is_empty() && p.peers.len() <= 8);
    }
    baikal_fuzz::fuzz_dissector("stun", data)
});
