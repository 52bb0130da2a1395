//! Every capture of both public corpora goes through the whole binary
//! (capture → decode → flows → every dissector → rules → JSON lines)
//! without a panic, and every flow record is valid JSON with the fields
//! the README promises.

mod common;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn corpus_every_capture_classifies_without_panic() {
    let Some(root) = common::corpus("") else { return };
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in ["ndpi/pcap", "ja4/pcap"] {
        let rd = std::fs::read_dir(root.join(sub)).expect("corpus folder");
        files.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    assert!(files.len() > 500, "only {} captures found", files.len());
    let out = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["classify", "-q", "-F", "jsonl"])
        .args(&files)
        .output()
        .expect("run baikal");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "baikal panicked:\n{stderr}");
    assert!(out.status.success(), "exit {:?}:\n{stderr}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut n = 0usize;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line}: {e}"));
        for f in baikal_classifier::record::COLUMNS {
            assert!(v.get(*f).is_some(), "field {f} missing in {line}");
        }
        n += 1;
    }
    // Each capture holds at least one flow, most of them many.
    assert!(n > 5_000, "only {n} flow records");
}
