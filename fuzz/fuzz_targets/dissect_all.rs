#![no_main]
//! Every registered dissector on the same flow.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(flow) = baikal_fuzz::Flow::from_bytes(data) {
        for d in baikal_classifier::dissect::DISSECTORS {
            baikal_fuzz::run_dissector(*d, &flow);
        }
    }
});
