#![no_main]
//! The whole classifier fed arbitrary Ethernet/raw-IP frames: decode,
//! flow table, every dissector, verdicts, records.
use std::sync::Arc;

use baikal_classifier::decode::{Decoder, LinkType};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::FlowConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&b0, mut rest)) = data.split_first() else { return };
    let lt = if b0 & 1 == 0 { LinkType::ETHERNET } else { LinkType::RAW };
    let cfg = FlowConfig { max_flows: 64, ..FlowConfig::default() };
    let mut dec = Decoder::new();
    let mut eng = Engine::new(cfg, None);
    let src: Arc<str> = Arc::from("fuzz");
    let mut ts = 1_000_000_000u64;
    let mut out = |r: baikal_classifier::record::FlowRecord| {
        let _ = r.to_json();
    };
    while rest.len() >= 3 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 3);
        ts += u64::from(rest[2]) * 10_000_000;
        let frame = &rest[3..3 + n];
        rest = &rest[3 + n..];
        if let Some(v) = dec.decode(lt, ts, n as u32, frame) {
            eng.process(&v, &src, &mut out);
        }
    }
    eng.finish(&src, &mut out);
});
