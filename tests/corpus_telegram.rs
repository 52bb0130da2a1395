//! Corpus test: every flow of nDPI's telegram captures that nDPI labels
//! Telegram is app "telegram" here; where nDPI only matched by address
//! and baikal has payload evidence, the evidence shows it.
//!
//! Reads `$BAIKAL_CORPUS/ndpi/pcap/{telegram.pcap, telegram_videocall.pcapng}`
//! and nDPI's `result/*.out`. Prints a comparison table (run with
//! `--nocapture` to see it).
//!
//! Flows nDPI labelled only through its cross-flow cache ("DPI (cache)")
//! whose own packets carry nothing Telegram-specific (peer-to-peer ICE
//! STUN checks and media between the two callers, off Telegram's address
//! space) must be named through the association with the earlier flow
//! that announced the peer (a TURN CreatePermission under realm
//! telegram.org): app telegram, `heuristic` evidence, a confidence, and
//! the `assoc_*` fields saying which flow.

#[path = "common/corpus_dir.rs"]
mod corpus_dir;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const CAPTURES: [&str; 2] = ["telegram.pcap", "telegram_videocall.pcapng"];

#[derive(Debug)]
struct NdpiFlow {
    transport: String,
    a: String,
    b: String,
    proto: String,
    confidence: String,
}

/// `[fe80::1]:5353` / `1.2.3.4:80` → (`fe80::1`, `5353`)
fn endpoint(s: &str) -> String {
    let (ip, port) = s.rsplit_once(':').unwrap_or((s, ""));
    format!("{}:{}", ip.trim_start_matches('[').trim_end_matches(']'), port)
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let i = line.find(key)? + key.len();
    let rest = &line[i..];
    Some(&rest[..rest.find(']')?])
}

fn parse_ndpi(text: &str) -> Vec<NdpiFlow> {
    text.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let mut w = t.split_whitespace();
            w.next()?.parse::<u32>().ok()?;
            let transport = w.next()?.to_ascii_lowercase();
            let a = endpoint(w.next()?);
            let arrow = w.next()?;
            if arrow != "<->" && arrow != "->" {
                return None;
            }
            let b = endpoint(w.next()?);
            Some(NdpiFlow {
                transport,
                a,
                b,
                proto: field(t, "[proto: ")?.to_string(),
                confidence: field(t, "[Confidence: ")?.to_string(),
            })
        })
        .collect()
}

fn key(transport: &str, a: &str, b: &str) -> (String, String, String) {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    (transport.to_string(), x.to_string(), y.to_string())
}

fn corpus() -> Option<PathBuf> {
    let dir = corpus_dir::corpus_root()?;
    for c in CAPTURES {
        let p = dir.join("ndpi/pcap").join(c);
        assert!(p.is_file(), "{}: telegram capture missing", p.display());
    }
    Some(dir)
}

fn run_baikal(pcap: &Path) -> Result<Vec<serde_json::Value>, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["classify", "-q", "-F", "jsonl"])
        .arg(pcap)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[test]
fn ndpi_telegram_flows_are_telegram() {
    let Some(dir) = corpus() else { return };
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut associated = 0;
    println!(
        "{:<26} {:<5} {:<46} {:<26} {:<16} {:<10} {:<9} evidence",
        "capture", "l4", "flow", "ndpi proto", "ndpi confidence", "app", "protocol"
    );
    for cap in CAPTURES {
        let pcap = dir.join("ndpi/pcap").join(cap);
        let result = dir.join("ndpi/result").join(format!("{cap}.out"));
        let text = std::fs::read_to_string(&result).unwrap_or_else(|e| panic!("{}: {e}", result.display()));
        let records = run_baikal(&pcap).unwrap_or_else(|e| panic!("{cap}: baikal failed: {e}"));
        let mut by_key: HashMap<_, Vec<&serde_json::Value>> = HashMap::new();
        for r in &records {
            let a = format!("{}:{}", r["orig_ip"].as_str().unwrap_or(""), r["orig_port"]);
            let b = format!("{}:{}", r["resp_ip"].as_str().unwrap_or(""), r["resp_port"]);
            by_key
                .entry(key(r["transport"].as_str().unwrap_or(""), &a, &b))
                .or_default()
                .push(r);
        }
        for f in parse_ndpi(&text).iter().filter(|f| f.proto.contains("Telegram")) {
            let k = key(&f.transport, &f.a, &f.b);
            let recs = by_key.get(&k).cloned().unwrap_or_default();
            let app = recs
                .first()
                .map_or("-".to_string(), |r| r["app"].as_str().unwrap_or("null").to_string());
            let protocol = recs.first().and_then(|r| r["protocol"].as_str()).unwrap_or("-");
            let evidence: Vec<String> = recs
                .first()
                .and_then(|r| r["evidence"].as_array())
                .map(|a| a.iter().filter_map(|e| e.as_str().map(String::from)).collect())
                .unwrap_or_default();
            println!(
                "{:<26} {:<5} {:<46} {:<26} {:<16} {:<10} {:<9} {}",
                cap,
                f.transport,
                format!("{} - {}", f.a, f.b),
                f.proto,
                f.confidence,
                app,
                protocol,
                evidence.join(",")
            );
            let cache_only = f.confidence == "DPI (cache)" && !evidence.iter().any(|e| e == "ip");
            if cache_only {
                associated += 1;
                for r in &recs {
                    let x = &r["extra"];
                    println!(
                        "    associated: peer {} announced by {} (realm {}), confidence {}",
                        x["assoc_peer"], x["assoc_from"], x["assoc_realm"], r["app_confidence"]
                    );
                    let ok = x["assoc_realm"] == "telegram.org"
                        && x["assoc_from"].as_str().is_some_and(|s| s.starts_with("udp "))
                        && (x["assoc_peer"] == f.a.as_str() || x["assoc_peer"] == f.b.as_str())
                        && evidence.iter().any(|e| e == "heuristic")
                        && r["app_confidence"].as_f64().is_some_and(|c| c > 0.0 && c < 1.0);
                    if !ok {
                        failures.push(format!(
                            "{cap}: {} {} - {}: named by nDPI's cache, but no association here: {r}",
                            f.transport, f.a, f.b
                        ));
                    }
                }
            }
            checked += 1;
            if recs.is_empty() {
                failures.push(format!("{cap}: {} {} - {}: no baikal record", f.transport, f.a, f.b));
                continue;
            }
            for r in &recs {
                if r["app"].as_str() != Some("telegram") {
                    failures.push(format!("{cap}: {} {} - {}: app {}", f.transport, f.a, f.b, r["app"]));
                }
            }
            // nDPI matched by address only; if baikal proved the protocol
            // from the payload, the evidence must say so (not just "ip").
            if f.confidence == "Match by IP" && protocol != "unknown" && protocol != "-" {
                let payload = evidence.iter().any(|e| e != "ip" && e != "port");
                if !payload {
                    failures.push(format!(
                        "{cap}: {} {} - {}: protocol {protocol} but evidence {evidence:?}",
                        f.transport, f.a, f.b
                    ));
                }
                if protocol == "mtproto" && !evidence.iter().any(|e| e == "mtproto") {
                    failures.push(format!("{cap}: {} - {}: mtproto without mtproto evidence", f.a, f.b));
                }
            }
        }
    }
    println!("checked {checked} flows, {associated} of them through an association");
    // The four peer-to-peer call flows of telegram_videocall.pcapng.
    assert_eq!(associated, 4, "flows nDPI named from its cache changed");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ndpi_result_lines_parse() {
    let line = "\t7\tUDP 192.168.12.169:40643 <-> 91.108.9.35:1400 [proto: 78.355/STUN.TelegramVoip][IP: 185/Telegram][ClearText][Confidence: DPI][FPC: 78/STUN, Confidence: DPI]";
    let v6 = "\t3\tUDP [fe80::4ba:91a:7817:e318]:5353 -> [ff02::fb]:5353 [proto: 8/MDNS][IP: 0/Unknown][ClearText][Confidence: DPI]";
    let f = parse_ndpi(&format!("{line}\n{v6}\nDNS\t8\t716\t4\n"));
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].transport.as_str(), f[0].a.as_str()),
        ("udp", "192.168.12.169:40643")
    );
    assert_eq!(f[0].proto, "78.355/STUN.TelegramVoip");
    assert_eq!(f[0].confidence, "DPI");
    assert_eq!(f[1].a, "fe80::4ba:91a:7817:e318:5353");
    assert_eq!(f[1].b, "ff02::fb:5353");
}
