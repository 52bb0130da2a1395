//! `baikal classify --threads N` gives the same set of records for every N.
//!
//! A capture is generated here (TCP and UDP flows, both directions,
//! interleaved, some ending by FIN/RST, some idle); when `BAIKAL_CORPUS` is
//! set a few corpus captures are checked too. Records are compared as
//! sorted JSON lines: their order depends on the threads, their set must not.

mod mkpcap;

use std::path::PathBuf;

use mkpcap::synthetic_pcap;
use std::process::Command;

fn baikal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baikal"))
}

fn sorted_records(files: &[PathBuf], threads: u32) -> Vec<String> {
    let mut cmd = baikal();
    cmd.args(["classify", "-q", "-F", "jsonl", "--threads", &threads.to_string()]);
    cmd.args(files);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "threads {threads}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn check_same(files: &[PathBuf]) -> usize {
    let one = sorted_records(files, 1);
    for n in [2, 3] {
        let other = sorted_records(files, n);
        assert_eq!(one.len(), other.len(), "record count differs with --threads {n}");
        for (a, b) in one.iter().zip(&other) {
            assert_eq!(a, b, "--threads {n} differs");
        }
    }
    one.len()
}

#[test]
fn same_records_for_any_thread_count() {
    let dir = std::env::temp_dir().join(format!("baikal-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("mix.pcap");
    synthetic_pcap(&p, 3000);
    let n = check_same(std::slice::from_ref(&p));
    // 3000 flows, the second lives of 375 UDP flows, the late one.
    assert_eq!(n, 3376);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn same_records_for_any_thread_count_corpus() {
    let Some(root) = std::env::var_os("BAIKAL_CORPUS") else {
        eprintln!("SKIP: BAIKAL_CORPUS not set");
        return;
    };
    let dir = PathBuf::from(root).join("ndpi/pcap");
    if !dir.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "{}: missing", dir.display());
        eprintln!("SKIP: {} missing", dir.display());
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    // Every 10th capture keeps the test short while covering many kinds.
    let mut pick: Vec<PathBuf> = files.into_iter().step_by(10).collect();
    // Its peer-to-peer call flows are named through flows that usually
    // land on other workers (crate::assoc): the association must not
    // depend on the sharding.
    let call = dir.join("telegram_videocall.pcapng");
    if call.is_file() && !pick.contains(&call) {
        pick.push(call);
    }
    assert!(!pick.is_empty());
    for f in pick {
        check_same(std::slice::from_ref(&f));
    }
}
