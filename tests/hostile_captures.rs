//! Damaged and hostile captures: generated damage from a good capture
//! (`pcaps/basic.pcap`), read through the library path (capture → decode
//! → engine) and through the `baikal` binary under a timeout.
//!
//! The contract checked everywhere: no panic, no hang, exit status 0 for
//! damage (2 only for input that is not a capture at all), a warning on
//! stderr naming the byte offset where reading stopped, and every packet
//! before the damage used: the flows reported equal the flows of the
//! undamaged prefix.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baikal_capture::ReadReport;
use baikal_classifier::decode::{Decoder, LinkType};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::FlowConfig;

const TIMEOUT: Duration = Duration::from_secs(60);

fn basic() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/basic.pcap")).expect("pcaps/basic.pcap")
}

/// (start, end) of each record of a little-endian classic pcap.
fn records(pcap: &[u8]) -> Vec<(usize, usize)> {
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "test fixture must be a little-endian pcap"
    );
    let mut v = Vec::new();
    let mut o = 24;
    while o + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[o + 8..o + 12].try_into().unwrap()) as usize;
        let end = o + 16 + incl;
        if end > pcap.len() {
            break;
        }
        v.push((o, end));
        o = end;
    }
    v
}

/// The file header and the first `n` records of `pcap`.
fn first_records(pcap: &[u8], n: usize) -> Vec<u8> {
    let r = records(pcap);
    pcap[..r[n - 1].1].to_vec()
}

/// What the library path makes of `bytes`.
struct Run {
    report: Result<ReadReport, String>,
    /// Every packet handed out, in order.
    packets: Vec<Vec<u8>>,
    /// Flow records as JSON, sorted.
    flows: Vec<String>,
}

fn run_lib(bytes: &[u8]) -> Run {
    let name: Arc<str> = Arc::from("hostile");
    let mut dec = Decoder::new();
    let mut eng = Engine::new(FlowConfig::default(), None);
    let mut flows = Vec::new();
    let mut packets = Vec::new();
    let report = baikal_capture::read_from("hostile", bytes, &mut |raw| {
        assert!(raw.data.len() <= bytes.len(), "a packet larger than the file");
        packets.push(raw.data.to_vec());
        if let Some(v) = dec.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
            eng.process(&v, &name, &mut |r| flows.push(r.to_json()));
        }
        true
    })
    .map_err(|e| e.to_string());
    eng.finish(&name, &mut |r| flows.push(r.to_json()));
    flows.sort();
    Run { report, packets, flows }
}

struct BinRun {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `baikal classify -q -F jsonl FILE` with a timeout.
fn run_bin(bytes: &[u8], extra: &[&str]) -> BinRun {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.pcap");
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    run_bin_path(&path, extra)
}

fn run_bin_path(path: &Path, extra: &[&str]) -> BinRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["classify", "-q", "-F", "jsonl"])
        .args(extra)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run baikal");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("baikal hung on {} (killed after {TIMEOUT:?})", path.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "baikal panicked on {}:\n{stderr}",
        path.display()
    );
    BinRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

/// Damage at `off` after `before` good packets: the report says so, the
/// packets before are used, and the flows are those of the good prefix.
fn assert_stops_at(run: &Run, good_prefix: &[u8], off: usize, before: usize, what: &str) {
    let rep = run.report.as_ref().unwrap_or_else(|e| panic!("{what}: error {e}"));
    let w = rep
        .warning
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no warning (report {rep:?})"));
    assert_eq!(w.offset, off as u64, "{what}: warning offset ({})", w.reason);
    assert_eq!(rep.packets as usize, before, "{what}: packets before the damage");
    let good = run_lib(good_prefix);
    assert_eq!(
        run.flows, good.flows,
        "{what}: flows differ from the undamaged prefix's"
    );
}

#[test]
fn truncation_at_every_offset() {
    let small = first_records(&basic(), 40);
    let recs = records(&small);
    for cut in 0..=small.len() {
        let run = run_lib(&small[..cut]);
        if (1..4).contains(&cut) {
            // Too short to be anything: not a capture, with a reason.
            let e = run.report.as_ref().expect_err("1-3 bytes are not a capture");
            assert!(e.contains("not a capture"), "{e}");
            continue;
        }
        let rep = run.report.as_ref().unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        if cut < 24 {
            assert_eq!(rep.packets, 0);
            assert_eq!(rep.warning.as_ref().map(|w| w.offset), Some(0), "cut {cut}");
            continue;
        }
        let whole = recs.iter().filter(|r| r.1 <= cut).count();
        let boundary = if whole == 0 { 24 } else { recs[whole - 1].1 };
        if cut == boundary {
            assert!(
                rep.warning.is_none(),
                "cut {cut} at a record boundary: {:?}",
                rep.warning
            );
            assert_eq!(rep.packets as usize, whole);
        } else {
            assert_stops_at(&run, &small[..boundary], boundary, whole, &format!("cut {cut}"));
        }
        for (i, p) in run.packets.iter().enumerate() {
            assert_eq!(p[..], small[recs[i].0 + 16..recs[i].1], "cut {cut}: packet {i} altered");
        }
    }
}

#[test]
fn truncation_binary_sample() {
    let small = first_records(&basic(), 40);
    let recs = records(&small);
    let mut cuts: Vec<usize> = (24..small.len()).step_by(97).collect();
    cuts.extend([25, 39, 40, small.len() - 1]);
    for cut in cuts {
        let b = run_bin(&small[..cut], &[]);
        assert_eq!(b.code, 0, "cut {cut}: exit status; stderr:\n{}", b.stderr);
        let whole = recs.iter().filter(|r| r.1 <= cut).count();
        let boundary = if whole == 0 { 24 } else { recs[whole - 1].1 };
        if cut != boundary {
            let want = format!("byte offset {boundary}");
            assert!(
                b.stderr.contains(&want),
                "cut {cut}: stderr lacks '{want}':\n{}",
                b.stderr
            );
            assert!(b.stderr.contains("warning"), "cut {cut}: {}", b.stderr);
        }
        let lib = run_lib(&small[..boundary]);
        assert_eq!(b.stdout.lines().count(), lib.flows.len(), "cut {cut}: flows reported");
    }
}

/// Sorted records without their `source` (the input's name).
fn unnamed(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .map(|l| {
            let mut j: serde_json::Value = serde_json::from_str(l).unwrap();
            j.as_object_mut().unwrap().remove("source");
            j.to_string()
        })
        .collect();
    v.sort();
    v
}

/// Several workers meet a truncated capture as one thread does: every
/// worker reading the file, and a gzip'd file read once in blocks.
#[test]
fn truncation_with_threads() {
    let small = first_records(&basic(), 40);
    let recs = records(&small);
    let dir = tempfile::tempdir().unwrap();
    for cut in [recs[10].1 + 7, recs[25].1 + 3, small.len() - 1] {
        let one = run_bin(&small[..cut], &[]);
        assert_eq!(one.code, 0, "cut {cut}: {}", one.stderr);
        let want = unnamed(&one.stdout);
        assert!(!want.is_empty());
        let pcap = dir.path().join("cut.pcap");
        std::fs::write(&pcap, &small[..cut]).unwrap();
        let gz = dir.path().join("cut.pcap.gz");
        let zipped = Command::new("gzip").arg("-c").arg(&pcap).output().expect("gzip");
        std::fs::write(&gz, zipped.stdout).unwrap();
        for (how, path, threads) in [("file", &pcap, "2"), ("gzip", &gz, "2"), ("gzip", &gz, "3")] {
            let b = run_bin_path(path, &["--threads", threads]);
            assert_eq!(b.code, 0, "cut {cut}, {how}, {threads} threads: {}", b.stderr);
            assert!(b.stderr.contains("warning"), "cut {cut}, {how}: {}", b.stderr);
            assert_eq!(unnamed(&b.stdout), want, "cut {cut}, {how}, {threads} threads");
        }
    }
}

/// Deterministic xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_byte_flips() {
    let good = basic();
    let recs = records(&good);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for file in 0..400 {
        let mut bad = good.clone();
        let flips = 1 + rng.below(8);
        let mut first = usize::MAX;
        for _ in 0..flips {
            let at = rng.below(bad.len());
            bad[at] ^= 1 << rng.below(8);
            first = first.min(at);
        }
        let run = run_lib(&bad);
        match &run.report {
            Err(e) => assert!(first < 24 && e.contains("not a capture"), "file {file}: {e}"),
            Ok(rep) => {
                assert_eq!(rep.packets as usize, run.packets.len());
                if first >= 24 {
                    // Every record wholly before the first flip is read unchanged.
                    let intact = recs.iter().filter(|r| r.1 <= first).count();
                    assert!(
                        run.packets.len() >= intact,
                        "file {file}: {} < {intact}",
                        run.packets.len()
                    );
                    for (i, r) in recs[..intact].iter().enumerate() {
                        assert_eq!(run.packets[i][..], good[r.0 + 16..r.1], "file {file}: packet {i}");
                    }
                }
                if let Some(w) = &rep.warning {
                    assert!(w.offset as usize <= bad.len(), "file {file}: offset past the end");
                }
            }
        }
        if file % 20 == 0 {
            let b = run_bin(&bad, &[]);
            let code_ok = b.code == 0 || (first < 24 && b.code == 2 && b.stderr.contains("not a capture"));
            assert!(code_ok, "file {file}: exit {}:\n{}", b.code, b.stderr);
            if let Ok(ReadReport { warning: Some(w), .. }) = &run.report {
                let want = format!("byte offset {}", w.offset);
                assert!(
                    b.stderr.contains(&want),
                    "file {file}: stderr lacks '{want}':\n{}",
                    b.stderr
                );
            }
        }
    }
}

#[test]
fn lying_record_lengths() {
    let small = first_records(&basic(), 40);
    let recs = records(&small);
    let snaplen = u32::from_le_bytes(small[16..20].try_into().unwrap());
    for k in [0usize, 1, 17, 39] {
        let off = recs[k].0;
        // Claims more than the limit: stops at the record.
        for len in [u32::MAX, 0x8000_0000, baikal_capture::MAX_RECORD + 1] {
            let mut bad = small.clone();
            bad[off + 8..off + 12].copy_from_slice(&len.to_le_bytes());
            let run = run_lib(&bad);
            assert_stops_at(&run, &small[..off], off, k, &format!("record {k} length {len}"));
            let b = run_bin(&bad, &[]);
            assert_eq!(b.code, 0, "{}", b.stderr);
            assert!(b.stderr.contains(&format!("byte offset {off}")), "{}", b.stderr);
        }
        // snaplen + 1: within the reader's floor of 256 KiB, so the record
        // swallows the rest of this small file and is truncated.
        let mut bad = small.clone();
        bad[off + 8..off + 12].copy_from_slice(&(snaplen + 1).to_le_bytes());
        let run = run_lib(&bad);
        assert_stops_at(&run, &small[..off], off, k, &format!("record {k} length snaplen+1"));
        assert_eq!(run_bin(&bad, &[]).code, 0);
        // 0: an empty record, then the old data read as record headers.
        let mut bad = small.clone();
        bad[off + 8..off + 12].copy_from_slice(&0u32.to_le_bytes());
        let run = run_lib(&bad);
        let rep = run.report.as_ref().expect("length 0 is a record");
        assert!(rep.packets as usize > k, "record {k} length 0: {rep:?}");
        assert!(run.packets[k].is_empty());
        assert_eq!(run_bin(&bad, &[]).code, 0);
    }
}

// ---- pcapng ----

fn block(btype: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len().div_ceil(4) * 4) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&btype.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(len as usize - 4, 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// pcapng with one section, one Ethernet interface and one EPB per
/// record of `pcap`; returns the file and each EPB's offset.
fn to_pcapng(pcap: &[u8], if_id: impl Fn(usize) -> u32) -> (Vec<u8>, Vec<usize>) {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    let mut out = block(0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    out.extend(block(1, &idb));
    let mut offs = Vec::new();
    for (i, &(s, e)) in records(pcap).iter().enumerate() {
        let sec = u64::from(u32::from_le_bytes(pcap[s..s + 4].try_into().unwrap()));
        let us = u64::from(u32::from_le_bytes(pcap[s + 4..s + 8].try_into().unwrap()));
        let ts = sec * 1_000_000 + us;
        let data = &pcap[s + 16..e];
        let mut epb = Vec::new();
        epb.extend_from_slice(&if_id(i).to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        offs.push(out.len());
        out.extend(block(6, &epb));
    }
    (out, offs)
}

/// Damage done to a copy of a good file.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn pcapng_lying_block_lengths() {
    let small = first_records(&basic(), 40);
    let (ng, offs) = to_pcapng(&small, |_| 0);
    // The pcapng reads exactly as the pcap does.
    let whole = run_lib(&ng);
    assert_eq!(whole.flows, run_lib(&small).flows);
    assert!(whole.report.as_ref().unwrap().warning.is_none());
    for k in [0usize, 5, 39] {
        let off = offs[k];
        let blen = u32::from_le_bytes(ng[off + 4..off + 8].try_into().unwrap());
        let cases: Vec<(&str, Damage)> = vec![
            (
                "length 0",
                Box::new(move |b| b[off + 4..off + 8].copy_from_slice(&0u32.to_le_bytes())),
            ),
            (
                "length 8",
                Box::new(move |b| b[off + 4..off + 8].copy_from_slice(&8u32.to_le_bytes())),
            ),
            (
                "length 13",
                Box::new(move |b| b[off + 4..off + 8].copy_from_slice(&13u32.to_le_bytes())),
            ),
            (
                "length 2^32-4",
                Box::new(move |b| b[off + 4..off + 8].copy_from_slice(&0xffff_fffcu32.to_le_bytes())),
            ),
            (
                "length +4",
                Box::new(move |b| b[off + 4..off + 8].copy_from_slice(&(blen + 4).to_le_bytes())),
            ),
            (
                "length -4",
                Box::new(move |b| b[off + 4..off + 8].copy_from_slice(&(blen - 4).to_le_bytes())),
            ),
            (
                "trailer differs",
                Box::new(move |b| {
                    let t = off + blen as usize - 4;
                    b[t..t + 4].copy_from_slice(&(blen + 8).to_le_bytes())
                }),
            ),
            (
                "captured length past the block",
                Box::new(move |b| b[off + 20..off + 24].copy_from_slice(&blen.to_le_bytes())),
            ),
            (
                "length past the end of the file",
                Box::new(move |b| b[off + 4..off + 8].copy_from_slice(&(1u32 << 20).to_le_bytes())),
            ),
        ];
        for (what, damage) in cases {
            let mut bad = ng.clone();
            damage(&mut bad);
            let what = format!("EPB {k}: {what}");
            let run = run_lib(&bad);
            assert_stops_at(&run, &ng[..off], off, k, &what);
            let b = run_bin(&bad, &[]);
            assert_eq!(b.code, 0, "{what}: {}", b.stderr);
            assert!(b.stderr.contains(&format!("byte offset {off}")), "{what}: {}", b.stderr);
        }
    }
}

#[test]
fn pcapng_packets_on_missing_interfaces() {
    let small = first_records(&basic(), 40);
    // Records 10..20 name interface 7, which the section never describes.
    let bad_ids = 10..20;
    let (ng, offs) = to_pcapng(&small, |i| if bad_ids.contains(&i) { 7 } else { 0 });
    let run = run_lib(&ng);
    let rep = run.report.as_ref().unwrap();
    assert!(rep.warning.is_none(), "{rep:?}");
    assert_eq!(rep.packets as usize, 40 - bad_ids.len());
    assert_eq!(rep.skipped.len(), 1);
    assert_eq!(rep.skipped[0].count as usize, bad_ids.len());
    assert_eq!(rep.skipped[0].first_offset as usize, offs[10]);
    let b = run_bin(&ng, &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let want = format!("byte offset {}", offs[10]);
    assert!(
        b.stderr.contains("10 records skipped") && b.stderr.contains(&want),
        "stderr lacks the skipped records and '{want}':\n{}",
        b.stderr
    );
    assert_eq!(b.stdout.lines().count(), run.flows.len());
}

#[test]
fn pcapfix_damaged_examples() {
    let dir = Path::new("/usr/share/doc/pcapfix/examples");
    if !dir.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but pcapfix's examples are missing (apt-get install -y pcapfix)"
        );
        eprintln!("SKIP: pcapfix examples not installed (apt-get install -y pcapfix)");
        return;
    }
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let run = run_lib(&bytes);
        let b = run_bin_path(&path, &[]);
        match &run.report {
            Err(e) => {
                assert_eq!(b.code, 2, "{}: {e}", path.display());
                assert!(b.stderr.contains("not a capture"), "{}", b.stderr);
            }
            Ok(rep) => {
                assert_eq!(b.code, 0, "{}: {}", path.display(), b.stderr);
                assert_eq!(b.stdout.lines().count(), run.flows.len(), "{}", path.display());
                if let Some(w) = &rep.warning {
                    let want = format!("byte offset {}", w.offset);
                    assert!(
                        b.stderr.contains(&want),
                        "{}: lacks '{want}': {}",
                        path.display(),
                        b.stderr
                    );
                }
            }
        }
        eprintln!(
            "{}: {}",
            path.display(),
            match &run.report {
                Ok(r) => format!("{} packets, warning {:?}", r.packets, r.warning),
                Err(e) => e.clone(),
            }
        );
        n += 1;
    }
    assert!(n > 0, "no files in {}", dir.display());
}

/// Every registered dissector has its own fuzz target (issue: "add a fuzz
/// target each time a parser lands"); a new dissector without one fails here.
#[test]
fn every_dissector_has_a_fuzz_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut missing = Vec::new();
    for d in baikal_classifier::dissect::DISSECTORS {
        let target = format!("dissect_{}", d.name());
        let file = dir.join("fuzz_targets").join(format!("{target}.rs"));
        let registered = manifest.contains(&format!("name = \"{target}\""));
        let calls = std::fs::read_to_string(&file)
            .map(|s| s.contains(&format!("fuzz_dissector(\"{}\"", d.name())))
            .unwrap_or(false);
        if !(registered && calls) {
            missing.push(target);
        }
    }
    assert!(missing.is_empty(), "dissectors without a fuzz target: {missing:?}");
}
