//! Runs the decoder over every frame of the public corpora that the capture
//! reader can read: no panic, every frame accounted for exactly once, and a
//! summary of the decode counters on stderr.

#[path = "../../tests/common/corpus_dir.rs"]
mod corpus_dir;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baikal_capture::{read, Input};
use baikal_classifier::decode::{DecodeStats, Decoder, LinkType};

fn corpus() -> Option<PathBuf> {
    corpus_dir::corpus_root()
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["ndpi/pcap", "ja4/pcap"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            v.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    v.sort();
    v
}

#[test]
fn decode_every_corpus_frame() {
    let Some(dir) = corpus() else { return };
    let files = captures(&dir);
    assert!(!files.is_empty(), "no captures under {}", dir.display());
    let mut total = DecodeStats::default();
    // link type -> (frames, decoded)
    let mut by_lt: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let (mut read_ok, mut unreadable, mut frames) = (0, 0, 0u64);
    for path in &files {
        let mut d = Decoder::new();
        let mut n = 0u64;
        let mut max_payload_ok = true;
        let r = read(&Input::File(path.clone()), &mut |raw| {
            n += 1;
            let e = by_lt.entry(raw.linktype).or_default();
            e.0 += 1;
            if let Some(v) = d.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
                max_payload_ok &= v.payload.len() <= 65535 + raw.data.len();
                e.1 += 1;
            }
            true
        });
        if r.is_err() {
            unreadable += 1;
            continue;
        }
        read_ok += 1;
        frames += n;
        let st = d.stats();
        assert_eq!(st.frames(), n, "{}: frames not accounted for: {st:?}", path.display());
        assert!(max_payload_ok, "{}", path.display());
        if st.tunnelled + st.fragments_held + st.fragments_dropped + st.malformed > 0 {
            eprintln!(
                "{}: tunnelled {} held {} reassembled {} dropped {} (timeouts {} evictions {} truncated first {}) malformed {}",
                path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
                st.tunnelled,
                st.fragments_held,
                st.fragments_reassembled,
                st.fragments_dropped,
                st.frag_timeouts,
                st.frag_evictions,
                st.frag_first_as_is,
                st.malformed
            );
        }
        total.add(st);
    }
    eprintln!("corpus: {read_ok} captures read, {unreadable} not readable by the reader, {frames} frames");
    eprintln!("(frames, decoded) by link type: {by_lt:?}");
    eprintln!("decode: {total:#?}");
    assert_eq!(total.frames(), frames);
    assert!(total.decoded > frames / 2, "{total:?}");
}

/// The JA4 tunnel captures: every frame is tunnelled, and the TCP streams
/// named in `expected/` show up with their ports. (JA4's tool reports the
/// outermost addresses with the inner ports, so only ports are compared.)
#[test]
fn tunnel_captures_yield_inner_streams() {
    let Some(dir) = corpus() else { return };
    for name in ["gre-erspan-vxlan.pcap", "gre-sample.pcap", "tcpdump-geneve.pcap"] {
        let pcap = dir.join("ja4/pcap").join(name);
        let json = dir.join("ja4/expected").join(format!("{name}.json"));
        let (Ok(text), true) = (std::fs::read_to_string(&json), pcap.is_file()) else {
            assert!(std::env::var_os("CI").is_none(), "{name} missing");
            continue;
        };
        let streams: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let mut d = Decoder::new();
        let mut seen = std::collections::HashSet::new();
        read(&Input::File(pcap), &mut |raw| {
            if let Some(v) = d.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
                let t = v.tuple;
                seen.insert((t.sport, t.dport));
            }
            true
        })
        .unwrap();
        let st = d.stats();
        assert!(st.decoded > 0 && st.tunnelled == st.decoded, "{name}: {st:?}");
        assert!(!streams.is_empty(), "{name}");
        for s in &streams {
            let port = |k: &str| s[k].as_str().unwrap_or_default().parse::<u16>().unwrap();
            let want = (port("srcport"), port("dstport"));
            assert!(
                seen.contains(&want),
                "{name}: inner stream {want:?} not decoded; saw {seen:?}"
            );
        }
    }
}
