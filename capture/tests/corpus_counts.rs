//! Every capture of the public corpora reads to the packet count that
//! capinfos reported (`packet-counts.tsv`, column 2). Known exceptions are
//! listed with a reason in `count_exceptions.txt`; the list must be exact.

#[path = "../../tests/common/corpus_dir.rs"]
mod corpus_dir;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baikal_capture::{read, Input};

const CORPORA: [&str; 2] = ["ndpi", "ja4"];

fn corpus_root() -> Option<PathBuf> {
    corpus_dir::corpus_root()
}

/// name → count, from `packet-counts.tsv` beside or above the captures.
fn expected_counts(dir: &Path) -> BTreeMap<String, u64> {
    let tsv = [dir.join("pcap/packet-counts.tsv"), dir.join("packet-counts.tsv")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no packet-counts.tsv in {}", dir.display()));
    let text = std::fs::read_to_string(&tsv).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next().unwrap().to_string();
            let n = cols
                .next()
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or_else(|| panic!("{}: bad line {l:?}", tsv.display()));
            (name, n)
        })
        .collect()
}

fn exceptions() -> BTreeMap<String, String> {
    let text = include_str!("count_exceptions.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, reason) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("count_exceptions.txt: {l:?}"));
            assert!(!reason.trim().is_empty(), "count_exceptions.txt: {name} has no reason");
            (name.to_string(), reason.to_string())
        })
        .collect()
}

#[test]
fn corpus_packet_counts_match_capinfos() {
    let Some(root) = corpus_root() else { return };
    let exceptions = exceptions();
    let mut mismatches: BTreeMap<String, String> = BTreeMap::new();
    let mut checked = 0;
    for corpus in CORPORA {
        let dir = root.join(corpus);
        let expected = expected_counts(&dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("pcap"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "tsv"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no captures in {}", dir.display());
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let key = format!("{corpus}/{name}");
            let Some(&want) = expected.get(&name) else {
                mismatches.insert(key, "not in packet-counts.tsv".into());
                continue;
            };
            checked += 1;
            let mut n = 0u64;
            match read(&Input::File(path.clone()), &mut |p| {
                assert!(p.data.len() <= p.wire_len as usize);
                n += 1;
                true
            }) {
                Ok(rep) => {
                    assert_eq!(rep.packets, n);
                    if n != want {
                        mismatches.insert(key, format!("read {n}, capinfos {want}, warning {:?}", rep.warning));
                    }
                }
                Err(e) => {
                    mismatches.insert(key, format!("error: {e}"));
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} captures checked");
    let unexpected: Vec<_> = mismatches
        .iter()
        .filter(|(k, _)| !exceptions.contains_key(*k))
        .collect();
    let stale: Vec<_> = exceptions.keys().filter(|k| !mismatches.contains_key(*k)).collect();
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "mismatches not listed in count_exceptions.txt: {unexpected:#?}\n\
         listed exceptions that now match (remove them): {stale:#?}"
    );
}
