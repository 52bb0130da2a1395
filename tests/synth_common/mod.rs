//! Shared by the synth integration tests: run `baikal synth`, then
//! `baikal classify -F jsonl` on its output, and read both back.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A flow's key: orig ip, orig port, resp ip, resp port, transport.
pub type Key = (String, u64, String, u64, String);

pub fn key(v: &Value) -> Key {
    (
        v["orig_ip"].as_str().unwrap_or_default().to_string(),
        v["orig_port"].as_u64().unwrap_or_default(),
        v["resp_ip"].as_str().unwrap_or_default().to_string(),
        v["resp_port"].as_u64().unwrap_or_default(),
        v["transport"].as_str().unwrap_or_default().to_string(),
    )
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// Generates a capture with `synth_args` in `dir`, classifies it, and
/// returns (truth rows, classifier records by key).
pub fn synth_and_classify(dir: &Path, synth_args: &[&str]) -> (Vec<Value>, HashMap<Key, Value>) {
    let exe = env!("CARGO_BIN_EXE_baikal");
    let pcap = dir.join("out.pcap");
    let st = Command::new(exe)
        .arg("synth")
        .arg("-o")
        .arg(&pcap)
        .args(synth_args)
        .status()
        .expect("run baikal synth");
    assert!(st.success(), "baikal synth failed");
    let truth = jsonl(&dir.join("out.truth.jsonl"));
    let out = dir.join("flows.jsonl");
    let st = Command::new(exe)
        .args(["classify", "-q", "-F", "jsonl", "-o"])
        .arg(&out)
        .arg(&pcap)
        .status()
        .expect("run baikal classify");
    assert!(st.success(), "baikal classify failed");
    let mut recs = HashMap::new();
    for r in jsonl(&out) {
        let k = key(&r);
        assert!(recs.insert(k.clone(), r).is_none(), "flow reported twice: {k:?}");
    }
    (truth, recs)
}
