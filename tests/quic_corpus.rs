//! Corpus check for the QUIC dissector: for every capture of the nDPI
//! corpus whose expected output reports QUIC flows with a server name,
//! `baikal classify` must report the same SNI on the same flow.
//!
//! Reads `$BAIKAL_CORPUS/ndpi/{pcap,result}`; skips when the variable is
//! unset (fails under `CI` when the folder is missing).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

type Key = [(IpAddr, u16); 2];

fn key(a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    if a <= b {
        [a, b]
    } else {
        [b, a]
    }
}

/// "1.2.3.4:443" or "[2001:db8::1]:443".
fn endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Some((ip.parse().ok()?, port.parse().ok()?))
}

/// QUIC flows with a server name in an nDPI `.out` file.
fn ndpi_quic_snis(out: &str) -> Vec<(Key, String)> {
    let mut v = Vec::new();
    for line in out.lines() {
        let Some(rest) = line.split_once("UDP ").map(|x| x.1) else {
            continue;
        };
        let Some((flow, tail)) = rest.split_once(" [proto: ") else {
            continue;
        };
        let proto = tail.split(']').next().unwrap_or("");
        if !proto.contains("QUIC") {
            continue;
        }
        let Some(sni) = tail.split_once("[Hostname/SNI: ").and_then(|x| x.1.split(']').next()) else {
            continue;
        };
        let mut parts = flow.split_whitespace();
        let (Some(a), Some(_), Some(b)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if let (Some(a), Some(b)) = (endpoint(a), endpoint(b)) {
            v.push((key(a, b), sni.to_string()));
        }
    }
    v
}

fn corpus() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("BAIKAL_CORPUS") else {
        eprintln!("SKIP: BAIKAL_CORPUS not set");
        return None;
    };
    let dir = PathBuf::from(dir).join("ndpi");
    if !dir.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "BAIKAL_CORPUS/ndpi missing under CI");
        eprintln!("SKIP: {} missing", dir.display());
        return None;
    }
    Some(dir)
}

fn classify(pcap: &Path) -> Option<HashMap<Key, HashSet<String>>> {
    let out = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["classify", "-q", "-F", "jsonl"])
        .arg(pcap)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut m: HashMap<Key, HashSet<String>> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(r) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let ep = |ip: &str, port: &str| -> Option<(IpAddr, u16)> {
            Some((r[ip].as_str()?.parse().ok()?, u16::try_from(r[port].as_u64()?).ok()?))
        };
        let (Some(a), Some(b)) = (ep("orig_ip", "orig_port"), ep("resp_ip", "resp_port")) else {
            continue;
        };
        let e = m.entry(key(a, b)).or_default();
        if let Some(s) = r["sni"].as_str() {
            e.insert(s.to_string());
        }
    }
    Some(m)
}

/// Captures whose link type baikal's decoder does not handle yet
/// (PPP, Linux cooked): their flows may be missing.
const MAY_MISS: &[&str] = &["dlt_ppp.pcap", "quic-v2.pcapng"];

#[test]
fn quic_sni_matches_ndpi() {
    let Some(dir) = corpus() else { return };
    let Ok(entries) = std::fs::read_dir(dir.join("result")) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".out"))
        .collect();
    names.sort();
    let (mut total, mut matched, mut unreadable) = (0, 0, Vec::new());
    let mut misses = Vec::new();
    for name in names {
        let Ok(out) = std::fs::read_to_string(dir.join("result").join(&name)) else {
            continue;
        };
        let want = ndpi_quic_snis(&out);
        if want.is_empty() {
            continue;
        }
        let pcap_name = name.trim_end_matches(".out");
        let pcap = dir.join("pcap").join(pcap_name);
        let Some(got) = classify(&pcap) else {
            unreadable.push(pcap_name.to_string());
            continue;
        };
        for (k, sni) in want {
            total += 1;
            if got.get(&k).is_some_and(|s| s.contains(&sni)) {
                matched += 1;
            } else if !MAY_MISS.contains(&pcap_name) {
                misses.push(format!("{pcap_name}: {k:?} expected {sni}, got {:?}", got.get(&k)));
            }
        }
    }
    eprintln!("QUIC SNI: {matched}/{total} flows match nDPI; unreadable captures: {unreadable:?}");
    assert!(total > 0, "no QUIC flows with SNI found in the corpus");
    assert!(misses.is_empty(), "SNI mismatches:\n{}", misses.join("\n"));
}
