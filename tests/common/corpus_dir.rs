//! Where the public corpora are, for the corpus tests of every crate
//! (included with `#[path]` by `capture/tests` and `classifier/tests`).
//!
//! `BAIKAL_CORPUS` names the folder (`.ci/run` sets it to
//! `../shared/pcaps`). Unset: the test prints `SKIP` and passes, as on a
//! fresh user clone. Set to something that is not a folder: the test fails.

use std::io::Write;
use std::path::PathBuf;

/// Prints straight to the process's stderr, past the test harness's
/// output capture, so a skip is visible in a normal `cargo test` run.
pub fn skip(msg: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP: {msg}");
}

/// The corpus root, or `None` after a visible `SKIP`.
pub fn corpus_root() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("BAIKAL_CORPUS") else {
        skip("BAIKAL_CORPUS not set; corpus test not run");
        return None;
    };
    let root = PathBuf::from(root);
    assert!(root.is_dir(), "BAIKAL_CORPUS={} is not a folder", root.display());
    Some(root)
}
