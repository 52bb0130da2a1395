#![no_main]
//! The whole classifier fed arbitrary Ethernet/raw-IP frames, at times
//! that go forward and back: decode, the association table, flow table,
//! every dissector, verdicts, the built-in rules as labeler, records.
use std::sync::{Arc, OnceLock};

use baikal_classifier::assoc::{Associations, MAX_PEERS};
use baikal_classifier::decode::{Decoder, LinkType};
use baikal_classifier::engine::{Engine, Labeler};
use baikal_classifier::flow::FlowConfig;
use baikal_classifier::rules::Rules;
use libfuzzer_sys::fuzz_target;

fn rules() -> Arc<Rules> {
    static RULES: OnceLock<Arc<Rules>> = OnceLock::new();
    RULES
        .get_or_init(|| Arc::new(Rules::defaults().expect("the built-in rules load")))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&b0, mut rest)) = data.split_first() else { return };
    let lt = if b0 & 1 == 0 { LinkType::ETHERNET } else { LinkType::RAW };
    let cfg = FlowConfig { max_flows: 64, ..FlowConfig::default() };
    let mut dec = Decoder::new();
    let rules = rules();
    let known = rules.clone();
    let mut assoc = Associations::new(MAX_PEERS, move |realm| known.knows_stun_realm(realm));
    let mut eng = Engine::new(cfg, Some(rules as Arc<dyn Labeler>));
    let src: Arc<str> = Arc::from("fuzz");
    let mut ts = 1_000_000_000u64;
    let mut out = |r: baikal_classifier::record::FlowRecord| {
        let _ = r.to_json();
    };
    while rest.len() >= 3 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 3);
        // Time goes forward by up to 1.27 s, or back by up to 127 s (the
        // flow table's sweeps must stay exact and cheap either way).
        let step = u64::from(rest[2] & 0x7f);
        ts = if rest[2] & 0x80 == 0 {
            ts + step * 10_000_000
        } else {
            ts.saturating_sub(step * 1_000_000_000)
        };
        let frame = &rest[3..3 + n];
        rest = &rest[3 + n..];
        if let Some(v) = dec.decode(lt, ts, n as u32, frame) {
            let hint = assoc.observe(&v);
            eng.process_hinted(&v, hint.as_ref(), &src, &mut out);
        }
    }
    eng.finish(&src, &mut out);
});
