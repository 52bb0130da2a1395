#![no_main]
//! The `openflow` dissector alone (input format: see `baikal_fuzz::Flow`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| baikal_fuzz::fuzz_dissector("openflow", data));
