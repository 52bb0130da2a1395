//! `baikal bench --format json` carries every field, with sane values.

mod mkpcap;

use std::process::Command;

#[test]
fn bench_json_has_every_field() {
    let dir = std::env::temp_dir().join(format!("baikal-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("mix.pcap");
    mkpcap::synthetic_pcap(&p, 400);
    let out = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["bench", "-q", "--format", "json", "--runs", "1", "--threads", "1,2"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for f in [
        "files",
        "packets",
        "captured_bytes",
        "wire_bytes",
        "avg_packet_bytes",
        "new_flows",
        "runs",
        "cores_available",
        "threads",
        "stages",
        "cost_model",
        "cost_basis",
        "cost_method",
        "memory",
        "scaling",
    ] {
        assert!(v.get(f).is_some(), "missing {f}");
    }
    let threads = v["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    for t in threads {
        for f in [
            "threads",
            "threads_running",
            "cores_used",
            "runs_s",
            "median_s",
            "runs_cpu_s",
            "median_cpu_s",
            "packets_per_s",
            "gbit_per_s",
            "packets_per_s_per_core",
            "gbit_per_s_per_core",
            "new_flows_per_s",
            "records",
            "reader_cpu_s",
            "workers_cpu_s",
            "busiest_worker_cpu_s",
        ] {
            assert!(t.get(f).is_some(), "missing threads[].{f}");
        }
        // The split by thread is measured with several threads (Linux),
        // and the busiest worker is one of the workers.
        let (w, busiest) = (
            t["workers_cpu_s"].as_f64().unwrap(),
            t["busiest_worker_cpu_s"].as_f64().unwrap(),
        );
        if t["threads"] == 1 {
            assert_eq!(w, 0.0);
        } else if cfg!(target_os = "linux") {
            assert!(w > 0.0 && busiest > 0.0 && busiest <= w, "{t}");
        }
        // 400 flows, a second life for 50 of them, one late flow.
        assert_eq!(t["records"], 451);
        assert!(t["packets_per_s"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(v["new_flows"], 451);
    // Routing each frame costs something, and bounds the speedup of N
    // workers below N.
    let sc = &v["scaling"];
    assert!(sc["scan_ns_per_frame"].as_f64().unwrap() > 0.0, "{sc}");
    assert!(sc["work_ns_per_frame"].as_f64().unwrap() > 0.0, "{sc}");
    let bound = sc["bound"].as_array().unwrap();
    assert_eq!(bound.len(), 5);
    for b in bound {
        let (n, x) = (b["threads"].as_f64().unwrap(), b["speedup"].as_f64().unwrap());
        assert!(x > 1.0 && x < n, "{b}");
    }
    for s in ["decode", "flow_lookup", "dissect"] {
        for f in ["samples", "mean_ns", "p50_ns", "p99_ns", "p999_ns", "max_ns"] {
            assert!(v["stages"][s].get(f).is_some(), "missing stages.{s}.{f}");
        }
    }
    assert_eq!(v["stages"]["sample_every"], 64);
    assert!(v["stages"]["decode"]["samples"].as_u64().unwrap() > 0);
    for f in [
        "ns_per_packet",
        "ns_per_new_flow",
        "every_packet_ns_per_packet",
        "quic_initial_decrypt_ns",
        "flows_only_ns_per_packet",
    ] {
        assert!(v["cost_model"][f].as_f64().unwrap() > 0.0, "cost_model.{f}");
    }
    // Without DPI a new flow costs its first lookup's extra only, which
    // may round to nothing on a capture this small (timings are not
    // compared here: the benchmark is the place for that).
    let only_flow = v["cost_model"]["flows_only_ns_per_new_flow"].as_f64().unwrap();
    assert!(only_flow >= 0.0 && only_flow.is_finite(), "{only_flow}");
    let fo = &v["flows_only"];
    for f in ["median_s", "median_cpu_s", "packets_per_s", "gbit_per_s"] {
        assert!(fo[f].as_f64().is_some(), "missing flows_only.{f}");
    }
    assert!(fo["median_s"].as_f64().unwrap() > 0.0, "{fo}");
    assert_eq!(
        fo["runs_s"].as_array().unwrap().len(),
        v["runs"].as_u64().unwrap() as usize
    );
    assert_eq!(fo["records"], 451, "the same flows without DPI");
    for f in [
        "peak_table_bytes",
        "flows_at_peak",
        "bytes_per_flow",
        "flow_struct_bytes",
    ] {
        assert!(v["memory"].get(f).is_some(), "missing memory.{f}");
    }
    // The budget reads the same file.
    let bj = dir.join("bench.json");
    std::fs::write(&bj, &out.stdout).unwrap();
    let b = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["budget", "--traffic", "tspu", "--format", "json", "--from-bench"])
        .arg(&bj)
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let bv: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    let est = bv["estimates"].as_array().unwrap();
    let depths: Vec<&str> = est.iter().map(|e| e["depth"].as_str().unwrap()).collect();
    assert_eq!(depths, ["first-packets", "every-packet", "quic-initial", "flows-only"]);
    for e in est {
        assert!(e["cores"].as_f64().unwrap() > 0.0, "{e}");
    }
    // Costs given by hand have no flows-only row, and asking for it says so.
    let b = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args([
            "budget",
            "--traffic",
            "tspu",
            "--ns-per-packet",
            "100",
            "--ns-per-flow",
            "2000",
        ])
        .args(["--depth", "flows-only"])
        .output()
        .unwrap();
    assert_eq!(b.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&b.stderr).contains("no flows-only costs"));
    let _ = std::fs::remove_dir_all(&dir);
}
