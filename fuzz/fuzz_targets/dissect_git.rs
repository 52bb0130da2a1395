#![no_main]
//! The `git` dissector alone (input format: see `baikal_fuzz::Flow`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| baikal_fuzz::fuzz_dissector("git", data));
