//! `classify --no-dpi`: the flows of a capture tracked without deep packet
//! inspection, as a filter blocking by IP lists sees them. On the bundled
//! demo capture: the same flows and counters as with DPI, no protocol or
//! fingerprint, and applications named by address rules only, so fewer of
//! the Telegram flows than with DPI.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

/// The records of `pcaps/demo.pcap`, by endpoints and first timestamp.
fn records(extra: &[&str]) -> BTreeMap<String, Value> {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/demo.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["classify", "-q", "-F", "jsonl"])
        .args(extra)
        .arg(demo)
        .output()
        .expect("run baikal");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).expect("a JSON line");
            let k = format!(
                "{} {}:{} {}:{} {}",
                r["ts_first"], r["orig_ip"], r["orig_port"], r["resp_ip"], r["resp_port"], r["transport"]
            );
            (k, r)
        })
        .collect()
}

fn telegram(recs: &BTreeMap<String, Value>) -> usize {
    recs.values().filter(|r| r["app"] == "telegram").count()
}

#[test]
fn without_dpi_the_same_flows_are_named_by_address_only() {
    let dpi = records(&[]);
    let plain = records(&["--no-dpi"]);
    assert_eq!(dpi.len(), 54, "the demo capture's flows");
    assert_eq!(
        dpi.keys().collect::<Vec<_>>(),
        plain.keys().collect::<Vec<_>>(),
        "the same flows"
    );
    for (k, r) in &plain {
        let d = &dpi[k];
        for f in [
            "orig_pkts",
            "orig_bytes",
            "resp_pkts",
            "resp_bytes",
            "ts_last",
            "end_reason",
        ] {
            assert_eq!(r[f], d[f], "{k}: {f}");
        }
        assert_eq!(r["protocol"], "unknown", "{k}");
        assert_eq!(r["encryption"], "unknown", "{k}");
        for f in ["sni", "ja3", "ja4", "alpn", "http_host", "dns_query", "entropy"] {
            assert!(r[f].is_null(), "{k}: {f} is {}", r[f]);
        }
        // A name comes from an address rule, and DPI's verdict on the same
        // flow names the same application.
        if !r["app"].is_null() {
            assert_eq!(r["evidence"], serde_json::json!(["ip"]), "{k}");
            assert_eq!(r["app"], d["app"], "{k}");
        }
    }
    // Telegram's own addresses name some of its flows; the others (MTProxy
    // on other hosts) only DPI finds.
    let (by_ip, by_dpi) = (telegram(&plain), telegram(&dpi));
    assert!(
        by_ip > 0 && by_ip < by_dpi,
        "telegram flows: {by_ip} by address, {by_dpi} with DPI"
    );
    // Workers keep the setting.
    assert_eq!(records(&["--no-dpi", "--threads", "2"]), plain);
}
