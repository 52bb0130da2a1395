//! What the memory tests of the binary (`pipeline::blocks`) and of
//! `tests/floods.rs` share: a test re-run alone, in a process of its own,
//! so that the peak resident memory it reads is its own. The binary's unit
//! tests and an integration test cannot call each other, so each includes
//! this file with `#[path]`.

/// A field of `/proc/self/status` in KiB (`VmRSS:`, `VmHWM:`); 0 where it
/// cannot be read.
pub fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Re-runs this test binary on the one test `test`, with `key=value` in
/// its environment, and returns what it printed; panics if it failed.
pub fn rerun_alone(test: &str, key: &str, value: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(key, value)
        .output()
        .expect("re-run the test binary");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{test} ({key}={value}): child failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}
