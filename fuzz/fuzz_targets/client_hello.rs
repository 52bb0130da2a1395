#![no_main]
//! The ClientHello parser and the fingerprints computed from it (JA3,
//! JA4 for TCP and QUIC), on one handshake message.
use baikal_classifier::fingerprint::client_hello::{fill_meta, parse_handshake};
use baikal_classifier::verdict::Meta;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ch) = parse_handshake(data) {
        for t in ['t', 'q'] {
            let mut m = Meta::default();
            fill_meta(&ch, t, &mut m);
        }
    }
});
