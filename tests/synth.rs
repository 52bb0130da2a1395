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
        // The generator's opaque flows (length-prefixed binary, text,
        // random bytes) are no protocol: a dissector that names one misfires.
        if proto == "unknown" && r["protocol"] != "unknown" {
            wrong.push(format!(
                "{} {k:?}: named {} (truth: no protocol)",
                t["kind"], r["protocol"]
            ));
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

/// Many opaque flows: no dissector may claim the generator's binary,
/// text or random payloads (Kafka once took 11 of these 4000 for
/// answered requests).
#[test]
fn no_dissector_names_opaque_flows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = ["--mix", "demo", "--seed", "21", "--flows", "4000"];
    let (truth, recs) = synth_common::synth_and_classify(dir.path(), &args);
    let mut opaque = 0;
    let mut named = Vec::new();
    for t in truth.iter().filter(|t| t["protocol"] == "unknown") {
        opaque += 1;
        let k = synth_common::key(t);
        let r = recs.get(&k).unwrap_or_else(|| panic!("missing {k:?}"));
        if r["protocol"] != "unknown" {
            named.push(format!("{} {k:?}: named {}", t["kind"], r["protocol"]));
        }
    }
    assert!(opaque > 500, "{opaque} opaque flows");
    assert!(named.is_empty(), "misfires:\n{}", named.join("\n"));
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
