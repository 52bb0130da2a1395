#![no_main]
//! The `s7comm` dissector alone (input format: see `baikal_fuzz::Flow`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| baikal_fuzz::fuzz_dissector("s7comm", data));
