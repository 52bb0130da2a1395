//! Floods: many flows, big flows and fragments that never complete must
//! cost bounded memory. Traffic is generated in memory, never written.
//!
//! The 10-million-flow SYN flood runs in a child process (this test binary
//! re-run on `flood_child`) so that its peak resident memory (VmHWM) is not
//! polluted by the harness or other tests. Debug builds use fewer flows
//! (`BAIKAL_FLOOD_FLOWS` overrides); CI runs release builds.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use baikal_classifier::decode::{Decoder, LinkType};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::{EndReason, FlowConfig};

#[path = "common/child.rs"]
mod child;
use child::{rerun_alone, status_kb};

const CAP: usize = 100_000;

fn flood_flows() -> u64 {
    std::env::var("BAIKAL_FLOOD_FLOWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 600_000 } else { 10_000_000 })
}

fn csum(b: &[u8]) -> u16 {
    let mut s = 0u32;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Ethernet + IPv4 header (with checksum) around `l4`.
fn eth_ipv4(buf: &mut Vec<u8>, src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, l4: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (20 + l4.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6..8].copy_from_slice(&frag.to_be_bytes());
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    buf.extend_from_slice(&ip);
    buf.extend_from_slice(l4);
}

fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t.extend_from_slice(payload);
    t
}

/// SYN `i` of the flood: a distinct (source, port) per flow; every 16th
/// flow gets a SYN-ACK so the table holds both kinds.
fn syn_frame(buf: &mut Vec<u8>, i: u64, reply: bool) {
    let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
    let sport = 1024 + (i >> 24) as u16;
    let dst = [192, 0, 2, 1];
    let dport = 1 + (i % 1000) as u16;
    if reply {
        eth_ipv4(buf, dst, src, 6, 0, 0, &tcp(dport, sport, 77, 0x12, &[]));
    } else {
        eth_ipv4(buf, src, dst, 6, 0, 0, &tcp(sport, dport, 1000, 0x02, &[]));
    }
}

/// The flood itself; does nothing unless run as the child of
/// [`syn_flood_bounded_memory`]. Prints one result line.
#[test]
fn flood_child() {
    if std::env::var_os("BAIKAL_FLOOD_CHILD").is_none() {
        return;
    }
    let n = flood_flows();
    let start_kb = status_kb("VmRSS:");
    let cfg = FlowConfig {
        max_flows: CAP,
        ..FlowConfig::default()
    };
    let name: Arc<str> = Arc::from("flood");
    let mut dec = Decoder::new();
    let mut eng = Engine::new(cfg, None);
    let (mut evicted, mut records) = (0u64, 0u64);
    let mut buf = Vec::with_capacity(128);
    let mut table_bytes = 0usize;
    let mut ts = 1_700_000_000_000_000_000u64;
    for i in 0..n {
        for reply in [false, true] {
            if reply && i % 16 != 0 {
                continue;
            }
            syn_frame(&mut buf, i, reply);
            ts += 1_000;
            let v = dec
                .decode(LinkType::ETHERNET, ts, buf.len() as u32, &buf)
                .expect("decodes");
            eng.process(&v, &name, &mut |r| {
                records += 1;
                evicted += u64::from(r.end_reason == EndReason::Evicted);
            });
        }
        assert!(eng.table().len() <= CAP, "table over its cap");
        if i == 4 * CAP as u64 {
            table_bytes = eng.table().memory_bytes();
        }
    }
    let stats = eng.stats();
    eng.finish(&name, &mut |r| {
        records += 1;
        evicted += u64::from(r.end_reason == EndReason::Evicted);
    });
    println!(
        "FLOOD flows={n} records={records} evicted={evicted} stats_evicted={} table_bytes={table_bytes} start_kb={start_kb} hwm_kb={}",
        stats.flows.evicted,
        status_kb("VmHWM:")
    );
}

fn field(line: &str, k: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{k}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {k} in {line}"))
}

#[test]
fn syn_flood_bounded_memory() {
    let text = rerun_alone("flood_child", "BAIKAL_FLOOD_CHILD", "1");
    // libtest may print "test flood_child ... " on the same line first.
    let line = text
        .lines()
        .find_map(|l| l.find("FLOOD ").map(|i| &l[i..]))
        .expect("child printed its result");
    eprintln!("{line}");
    let n = field(line, "flows");
    // Every flow is reported exactly once; all but the last CAP evicted.
    assert_eq!(field(line, "records"), n);
    assert_eq!(field(line, "evicted"), n - CAP as u64);
    assert_eq!(field(line, "stats_evicted"), n - CAP as u64);
    // Peak memory: what the table at its cap holds, plus a small constant
    // (allocator slack, the decoder, the test harness's own pages).
    let table_kb = field(line, "table_bytes") / 1024;
    let grown_kb = field(line, "hwm_kb").saturating_sub(field(line, "start_kb"));
    let bound_kb = table_kb * 3 / 2 + 16 * 1024;
    assert!(
        grown_kb <= bound_kb,
        "peak RSS grew {grown_kb} KiB for a table of {table_kb} KiB (bound {bound_kb} KiB)"
    );
}

/// The binary, fed a pcap stream on stdin by a writer thread: the table
/// summary counts the evicted flows.
#[test]
fn binary_reports_evicted_flows() {
    let n: u64 = if cfg!(debug_assertions) { 30_000 } else { 300_000 };
    let cap = 10_000;
    let mut child = Command::new(env!("CARGO_BIN_EXE_baikal"))
        .args(["classify", "-q", "--max-flows", &cap.to_string(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // File header: magic, version 2.4, zone, sigfigs, snaplen, Ethernet.
        let mut hdr = Vec::new();
        hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        hdr.extend_from_slice(&[0; 8]);
        hdr.extend_from_slice(&65535u32.to_le_bytes());
        hdr.extend_from_slice(&1u32.to_le_bytes());
        let mut w = std::io::BufWriter::new(&mut stdin);
        w.write_all(&hdr).unwrap();
        let mut buf = Vec::new();
        for i in 0..n {
            syn_frame(&mut buf, i, false);
            let mut rec = Vec::with_capacity(16);
            rec.extend_from_slice(&1_700_000_000u32.to_le_bytes());
            rec.extend_from_slice(&((i % 1_000_000) as u32).to_le_bytes());
            rec.extend_from_slice(&(buf.len() as u32).to_le_bytes());
            rec.extend_from_slice(&(buf.len() as u32).to_le_bytes());
            w.write_all(&rec).unwrap();
            w.write_all(&buf).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        drop(stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = format!("{n} flows ({} evicted)", n - cap);
    assert!(stdout.contains(&want), "summary lacks '{want}':\n{stdout}");
}

/// One TCP flow carrying `total` bytes after its handshake, in segments
/// produced by `seg(i) -> (seq offset, payload)`; returns the most
/// `FlowTable::memory_bytes` seen and the table's size with the flow
/// freshly opened.
fn big_flow(cfg: FlowConfig, count: usize, seg: impl Fn(usize) -> (u32, Vec<u8>)) -> (usize, usize) {
    let name: Arc<str> = Arc::from("big");
    let mut dec = Decoder::new();
    let mut eng = Engine::new(cfg, None);
    let (c, s) = ([10, 0, 0, 1], [192, 0, 2, 9]);
    let mut buf = Vec::new();
    let mut ts = 1_000_000_000u64;
    let mut feed = |buf: &Vec<u8>, eng: &mut Engine, ts: u64| {
        let v = dec
            .decode(LinkType::ETHERNET, ts, buf.len() as u32, buf)
            .expect("decodes");
        eng.process(&v, &name, &mut |_| {});
    };
    eth_ipv4(&mut buf, c, s, 6, 0, 0, &tcp(40000, 443, 999, 0x02, &[]));
    feed(&buf, &mut eng, ts);
    eth_ipv4(&mut buf, s, c, 6, 0, 0, &tcp(443, 40000, 4999, 0x12, &[]));
    feed(&buf, &mut eng, ts);
    let base = eng.table().memory_bytes();
    let mut peak = base;
    for i in 0..count {
        let (off, payload) = seg(i);
        ts += 1000;
        eth_ipv4(
            &mut buf,
            c,
            s,
            6,
            0,
            0,
            &tcp(40000, 443, 1000u32.wrapping_add(off), 0x18, &payload),
        );
        feed(&buf, &mut eng, ts);
        if i % 64 == 0 || i + 1 == count {
            peak = peak.max(eng.table().memory_bytes());
        }
    }
    assert_eq!(eng.table().len(), 1);
    (peak, base)
}

/// Bound for one flow: both directions' stream and out-of-order caps,
/// their bookkeeping (piece ends, segment headers) and the verdict.
fn flow_bound(cfg: &FlowConfig) -> usize {
    2 * (cfg.stream_cap + cfg.ooo_cap) * 2 + 64 * 1024
}

#[test]
fn ten_megabytes_of_partial_tls_records() {
    // A TLS handshake record that announces 16 KiB and then never ends,
    // followed by 10 MB more, 1400 bytes a segment; dissectors see every
    // packet (the largest budget).
    let cfg = FlowConfig {
        probe_packets: u8::MAX,
        ..FlowConfig::default()
    };
    let total = 10 << 20;
    let n = total / 1400;
    let (peak, base) = big_flow(cfg, n, |i| {
        let mut p = vec![0x41u8; 1400];
        if i == 0 {
            p[..9].copy_from_slice(&[0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfb]);
        }
        ((i * 1400) as u32, p)
    });
    assert!(
        peak - base <= flow_bound(&cfg),
        "10 MB in order: {} bytes held (bound {})",
        peak - base,
        flow_bound(&cfg)
    );
}

#[test]
fn ten_megabytes_out_of_order() {
    // Every segment leaves a hole before it (the first byte never comes),
    // in sizes from 1 byte (worst per-segment overhead) to 1400.
    let cfg = FlowConfig {
        probe_packets: u8::MAX,
        ..FlowConfig::default()
    };
    let mut sent = 0usize;
    let mut sizes = Vec::new();
    let mut i = 0usize;
    while sent < 10 << 20 {
        let len = if i & 1 == 0 { 1 } else { 1 + (i * 7919) % 1400 };
        sizes.push((sent as u32 + 1, len));
        sent += len;
        i += 1;
    }
    let (peak, base) = big_flow(cfg, sizes.len(), |i| (sizes[i].0, vec![0x5a; sizes[i].1]));
    assert!(
        peak - base <= flow_bound(&cfg),
        "10 MB out of order: {} bytes held (bound {})",
        peak - base,
        flow_bound(&cfg)
    );
}

/// Fragments that never complete: four fragments of each of ever new
/// datagrams (offsets 0..4 × 1448, more-fragments always set), so that the
/// byte cap, not the datagram count, is what binds.
fn fragment_flood(v6: bool) {
    let mut dec = Decoder::new();
    let limit = baikal_classifier::decode::FragLimits::default();
    let mut buf = Vec::new();
    let mut ts = 1_000_000_000u64;
    let payload = vec![0x33u8; 1448];
    let mut peak = 0usize;
    for j in 0..200_000u32 {
        let (i, k) = (j / 4, (j % 4) as u16);
        ts += 10_000;
        if v6 {
            buf.clear();
            buf.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
            let plen = (8 + payload.len()) as u16;
            buf.extend_from_slice(&[0x60, 0, 0, 0]);
            buf.extend_from_slice(&plen.to_be_bytes());
            buf.extend_from_slice(&[44, 64]);
            let mut src = [0u8; 16];
            src[0] = 0xfd;
            src[12..16].copy_from_slice(&(i % 97).to_be_bytes());
            let mut dst = [0u8; 16];
            dst[0] = 0x20;
            dst[1] = 0x01;
            dst[15] = 1;
            buf.extend_from_slice(&src);
            buf.extend_from_slice(&dst);
            // Fragment header: next header UDP, offset k × 1448, more fragments.
            buf.extend_from_slice(&[17, 0]);
            buf.extend_from_slice(&((181 * k) << 3 | 1).to_be_bytes());
            buf.extend_from_slice(&i.to_be_bytes());
            buf.extend_from_slice(&payload);
        } else {
            let src = [10, 9, (i >> 8) as u8, i as u8];
            let frag = 0x2000 | (181 * k);
            eth_ipv4(&mut buf, src, [192, 0, 2, 2], 17, i as u16, frag, &payload);
        }
        let _ = dec.decode(LinkType::ETHERNET, ts, buf.len() as u32, &buf);
        let (datagrams, bytes) = dec.frag_pending();
        peak = peak.max(bytes);
        assert!(
            bytes <= limit.max_bytes,
            "fragment bytes {bytes} over the cap {}",
            limit.max_bytes
        );
        assert!(datagrams <= limit.max_datagrams, "{datagrams} datagrams pending");
    }
    // The flood did fill the reassembly buffer (the cap was what held it).
    assert!(
        peak > limit.max_bytes / 2,
        "peak {peak}: the flood never reached the cap"
    );
}

#[test]
fn ipv4_fragment_flood() {
    fragment_flood(false);
}

#[test]
fn ipv6_fragment_flood() {
    fragment_flood(true);
}
