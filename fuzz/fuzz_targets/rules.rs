#![no_main]
//! The rule-file loader: TOML text → checked rules → compiled tables,
//! then a few lookups on the result.
use baikal_classifier::rules::{parse_file, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = parse_file("fuzz.toml", text) else { return };
    if let Ok(r) = Rules::compile(vec![file]) {
        let _ = r.match_name("web.telegram.org");
        let _ = r.match_name("");
        let _ = r.match_ip("149.154.167.51".parse().unwrap());
        let _ = r.match_ip("2001:67c:4e8::1".parse().unwrap());
    }
});
