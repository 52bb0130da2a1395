#![no_main]
//! The `heroes_of_the_storm` dissector alone (input format: see `baikal_fuzz::Flow`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| baikal_fuzz::fuzz_dissector("heroes_of_the_storm", data));
