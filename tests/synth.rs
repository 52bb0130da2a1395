//! `baikal synth` → `baikal classify`: every generated flow comes back with
//! the same endpoints, transport and packet counts, for protocols that
//! have a dissector in this build the same protocol, and the same
//! encryption class wherever the truth knows it.

mod synth_common;

use baikal_classifier::dissect::by_name;

fn check(args: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (truth, recs) = synth_common::synth_and_classify(dir.path(), args);
    assert!(!truth.is_empty());
    assert_eq!(recs.len(), truth.len(), "classify found a different number of flows");
    let mut wrong = Vec::new();
    for t in &truth {
        let k = synth_common::key(t);
        let Some(r) = recs.get(&k) else {
            panic!("truth flow missing from classify output: {k:?}");
        };
        assert_eq!(r["orig_pkts"], t["orig_pkts"], "orig packets of {k:?}");
        assert_eq!(r["resp_pkts"], t["resp_pkts"], "resp packets of {k:?}");
        let proto = t["protocol"].as_str().unwrap_or("unknown");
        if by_name(proto).is_some() && r["protocol"] != t["protocol"] {
            wrong.push(format!("{} {k:?}: {} (truth {proto})", t["kind"], r["protocol"]));
        }
        // The encryption class, where the truth knows it.
        if t["encryption"] != "unknown" && r["encryption"] != t["encryption"] {
            wrong.push(format!(
                "{} {k:?}: encryption {} (truth {})",
                t["kind"], r["encryption"], t["encryption"]
            ));
        }
    }
    assert!(wrong.is_empty(), "mismatches:\n{}", wrong.join("\n"));
}

#[test]
fn demo_flows_come_back() {
    check(&["--mix", "demo", "--seed", "3"]);
}

#[test]
fn basic_flows_come_back() {
    check(&["--mix", "basic", "--seed", "4"]);
}

/// Three flows of every kind.
#[test]
fn every_kind_comes_back() {
    let kinds = [
        "plain-tcp-text",
        "plain-tcp-binary",
        "plain-udp-text",
        "plain-udp-binary",
        "http",
        "dns",
        "tls",
        "quic",
        "mtproto-abridged",
        "mtproto-intermediate",
        "mtproto-padded",
        "obfs2-abridged",
        "obfs2-intermediate",
        "obfs2-padded",
        "faketls",
        "mtproxy-secret",
        "mtproxy-secret-dd",
        "random",
        "random-ef",
    ];
    let counts: Vec<String> = kinds.iter().map(|k| format!("{k}=3")).collect();
    let mut args = vec!["--mix", "demo", "--seed", "5", "--flows", "0"];
    for c in &counts {
        args.push("--count");
        args.push(c);
    }
    check(&args);
}
