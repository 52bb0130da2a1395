//! SNI against nDPI's answers: every TLS or QUIC flow for which nDPI
//! reports a Hostname/SNI must get the same `sni` from baikal (flows
//! matched by transport and the unordered endpoint pair), on >= 99% of
//! them. The remaining misses are listed, with their reason, in
//! `tests/ndpi_sni_misses.txt`; a miss not listed there, or a listed
//! entry that is no longer a miss, fails the test.

mod common;

use std::collections::{BTreeSet, HashMap};

/// The key of a miss as written in the misses file: capture, transport
/// and the endpoints as nDPI prints them.
fn miss_key(capture: &str, f: &common::NdpiFlow) -> String {
    format!("{capture}\t{} {} {}", f.transport, f.a, f.b)
}

fn listed_misses() -> BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ndpi_sni_misses.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            // capture \t flow \t nDPI's sni \t reason
            let parts: Vec<&str> = l.splitn(4, '\t').collect();
            assert!(
                parts.len() == 4 && parts.iter().all(|p| !p.trim().is_empty()),
                "tests/ndpi_sni_misses.txt: every entry needs capture, flow, sni and a reason: {l:?}"
            );
            format!("{}\t{}", parts[0], parts[1])
        })
        .collect()
}

#[test]
fn sni_matches_ndpi() {
    let Some(dir) = common::corpus("ndpi") else { return };
    let mut outs: Vec<_> = std::fs::read_dir(dir.join("result"))
        .expect("read result dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "out"))
        .collect();
    outs.sort();
    let (mut total, mut ok) = (0usize, 0usize);
    let mut by_transport: HashMap<String, (usize, usize)> = HashMap::new();
    let mut misses: Vec<(String, String)> = Vec::new();
    for out in outs {
        let capture = out.file_stem().unwrap_or_default().to_string_lossy().to_string();
        let flows: Vec<_> = common::read_ndpi_out(&out)
            .into_iter()
            .filter(|f| f.sni.is_some() && f.proto_names().any(|n| n == "TLS" || n == "QUIC"))
            .collect();
        if flows.is_empty() {
            continue;
        }
        let records = common::run_file(&dir.join("pcap").join(&capture));
        let mut by_key: HashMap<common::PairKey, Vec<&baikal_classifier::record::FlowRecord>> = HashMap::new();
        if let Ok(rs) = &records {
            for r in rs {
                by_key.entry(common::record_key(r)).or_default().push(r);
            }
        }
        for f in &flows {
            let want = f.sni.as_deref().unwrap_or_default();
            total += 1;
            let t = by_transport.entry(f.transport.clone()).or_default();
            t.0 += 1;
            let key = common::pair_key(&f.transport, (f.a.ip(), f.a.port()), (f.b.ip(), f.b.port()));
            let got: Vec<_> = by_key.get(&key).map(|v| v.as_slice()).unwrap_or_default().to_vec();
            if got.iter().any(|r| r.sni.as_deref() == Some(want)) {
                ok += 1;
                t.1 += 1;
                continue;
            }
            let why = match (&records, got.as_slice()) {
                (Err(e), _) => format!("unreadable: {e}"),
                (Ok(_), []) => "no such flow".to_string(),
                (Ok(_), rs) => rs
                    .iter()
                    .map(|r| {
                        format!(
                            "got sni {:?} (protocol {})",
                            r.sni.as_deref().unwrap_or("-"),
                            r.protocol
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            misses.push((miss_key(&capture, f), format!("{want}\t{why}")));
        }
    }
    // Printed in the misses file's format (after "MISS "), so a new
    // entry is a copy and a reason.
    for (k, why) in &misses {
        eprintln!("MISS {k}\t{why}");
    }
    let mut bt: Vec<_> = by_transport.into_iter().collect();
    bt.sort();
    eprintln!("ndpi sni: {ok}/{total} match; by transport (total, match): {bt:?}");
    assert!(total > 0, "no nDPI TLS/QUIC flows with an SNI found");
    let listed = listed_misses();
    let actual: BTreeSet<String> = misses.iter().map(|(k, _)| k.clone()).collect();
    let unlisted: Vec<_> = actual.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&actual).collect();
    for s in &stale {
        eprintln!("STALE (listed, but matches now): {s}");
    }
    for u in &unlisted {
        eprintln!("UNLISTED miss: {u}");
    }
    assert!(ok * 100 >= total * 99, "sni equal on {ok}/{total} flows, below 99%");
    assert!(
        unlisted.is_empty(),
        "{} misses not listed in tests/ndpi_sni_misses.txt",
        unlisted.len()
    );
    assert!(
        stale.is_empty(),
        "{} stale entries in tests/ndpi_sni_misses.txt",
        stale.len()
    );
}
