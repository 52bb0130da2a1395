//! Per-stage benchmarks: decode, flow-table touch, each registered
//! dissector on a TLS ClientHello, the entropy every flow's first payload
//! gets at the verdict, and the whole decode + engine pipeline over a
//! synthetic capture built here in memory.
//!
//! `cargo bench --bench stages`; `baikal bench` measures real captures.

use std::hint::black_box;
use std::sync::Arc;

use baikal_classifier::decode::{Addr, Decoder, LinkType, PacketView, TcpMeta, Tuple};
use baikal_classifier::dissect::{Payloads, DISSECTORS};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::{FlowConfig, FlowTable};
use baikal_classifier::verdict::Meta;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "../tests/mkpcap/mod.rs"]
mod mkpcap;
use mkpcap::frame;

/// A TLS 1.3-style ClientHello record with SNI and ALPN (RFC 8446 layout).
fn client_hello(sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    // server_name
    let name = sni.as_bytes();
    let mut sn = Vec::new();
    sn.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sn.extend_from_slice(name);
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sn);
    // supported_versions: TLS 1.3, 1.2
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    // ALPN: h2, http/1.1
    ext.extend_from_slice(&[0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 2, b'h', b'2', 8]);
    ext.extend_from_slice(b"http/1.1");
    // supported_groups: x25519, secp256r1
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(32);
    body.extend_from_slice(&[0x22; 32]); // session id
    body.extend_from_slice(&[0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]); // cipher suites
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// A synthetic capture: `flows` TLS-like TCP flows of 10 packets and DNS-like
/// UDP exchanges, interleaved. Returns (ts_ns, frame) pairs.
fn synthetic_capture(flows: u32) -> Vec<(u64, Vec<u8>)> {
    let hello = client_hello("www.example.com");
    let data = vec![0x17u8; 1200];
    let mut pkts = Vec::new();
    for i in 0..flows {
        let c = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let s = [192, 0, 2, (i % 200) as u8 + 1];
        let sport = 1024 + (i % 60000) as u16;
        let t0 = u64::from(i) * 100_000;
        if i % 4 == 3 {
            pkts.push((t0, frame(c, s, sport, 53, None, b"\x12\x34\x01\x00\x00\x01\x00\x00")));
            pkts.push((
                t0 + 1000,
                frame(s, c, 53, sport, None, b"\x12\x34\x81\x80\x00\x01\x00\x01"),
            ));
            continue;
        }
        pkts.push((t0, frame(c, s, sport, 443, Some((1, 0x02)), &[])));
        pkts.push((t0 + 10, frame(s, c, 443, sport, Some((5000, 0x12)), &[])));
        pkts.push((t0 + 20, frame(c, s, sport, 443, Some((2, 0x18)), &hello)));
        for k in 0..6u32 {
            pkts.push((
                t0 + 30 + u64::from(k),
                frame(s, c, 443, sport, Some((5001 + k * 1200, 0x18)), &data),
            ));
        }
        pkts.push((
            t0 + 40,
            frame(c, s, sport, 443, Some((2 + hello.len() as u32, 0x11)), &[]),
        ));
    }
    pkts.sort_by_key(|p| p.0);
    pkts
}

fn bench_decode(c: &mut Criterion) {
    let f = frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 443, Some((1, 0x18)), &[0u8; 300]);
    let mut d = Decoder::new();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ipv4_tcp_300B", |b| {
        b.iter(|| black_box(d.decode(LinkType(1), 1, f.len() as u32, black_box(&f)).is_some()))
    });
    g.finish();
}

fn tuple(i: u32) -> Tuple {
    Tuple {
        src: Addr::from_v4(i.to_be_bytes()),
        dst: Addr::from_v4([192, 0, 2, 1]),
        sport: 40000,
        dport: 443,
        proto: 6,
    }
}

fn bench_touch(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_table");
    g.throughput(Throughput::Elements(1));
    // Existing flows: 100k flows, touched round robin.
    let n = 100_000u32;
    let mut t = FlowTable::new(FlowConfig::default());
    let ack = Some(TcpMeta {
        seq: 1,
        ack: 1,
        flags: 0x10,
    });
    for i in 0..n {
        let p = PacketView {
            ts_ns: 1,
            wire_len: 60,
            tuple: tuple(i),
            tcp: ack,
            payload: &[],
        };
        t.touch(&p, &mut |_| {});
    }
    let mut i = 0u32;
    g.bench_function("touch_existing_100k", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            let p = PacketView {
                ts_ns: 2,
                wire_len: 60,
                tuple: tuple(i),
                tcp: ack,
                payload: &[],
            };
            black_box(t.touch(&p, &mut |_| {}).is_new)
        })
    });
    // New flows until the table is full, then every new flow evicts one.
    let mut t = FlowTable::new(FlowConfig {
        max_flows: 100_000,
        ..FlowConfig::default()
    });
    let mut k = 0u32;
    g.bench_function("touch_new_flow_evicting", |b| {
        b.iter(|| {
            k = k.wrapping_add(1);
            let p = PacketView {
                ts_ns: u64::from(k),
                wire_len: 60,
                tuple: tuple(k),
                tcp: ack,
                payload: &[],
            };
            black_box(t.touch(&p, &mut |e| drop(black_box(e))).is_new)
        })
    });
    g.finish();
}

fn bench_dissectors(c: &mut Criterion) {
    let hello = client_hello("www.example.com");
    let ends = [[hello.len() as u32], [0]];
    let p = Payloads::tcp(40000, 443, &hello, &[], &ends);
    let mut g = c.benchmark_group("dissect_client_hello");
    g.throughput(Throughput::Bytes(hello.len() as u64));
    for d in DISSECTORS.iter() {
        g.bench_function(d.name(), |b| {
            b.iter(|| {
                let mut m = Meta::default();
                black_box(d.probe(black_box(&p)));
                black_box(d.parse(black_box(&p), &mut m));
                m
            })
        });
    }
    g.finish();
}

/// The entropy of a first payload, computed once per flow at the verdict:
/// 60 bytes (a DNS query's size, the short path), a ClientHello, 1250 bytes of mostly zero padding (long runs of one
/// value are the slow case for counting), and a long random-looking TCP
/// prefix.
fn bench_entropy(c: &mut Criterion) {
    let hello = client_hello("www.example.com");
    let mut padded = vec![0u8; 1250];
    let mut x = 0x9e37_79b9_u32;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    };
    for b in padded.iter_mut().take(300) {
        *b = next();
    }
    let random: Vec<u8> = (0..16 * 1024).map(|_| next()).collect();
    let query: Vec<u8> = (0..60).map(|_| next()).collect();
    let mut g = c.benchmark_group("entropy");
    for (name, p) in [
        ("dns_query_60B", &query),
        ("client_hello", &hello),
        ("zero_padded_1250B", &padded),
        ("random_16KiB", &random),
    ] {
        g.throughput(Throughput::Bytes(p.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| baikal_classifier::randomness::entropy(black_box(p)))
        });
    }
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let pkts = synthetic_capture(20_000);
    let bytes: u64 = pkts.iter().map(|p| p.1.len() as u64).sum();
    let src: Arc<str> = Arc::from("bench");
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(format!("decode_engine_{}_packets", pkts.len()), |b| {
        b.iter_batched(
            || (Decoder::new(), Engine::new(FlowConfig::default(), None)),
            |(mut d, mut e)| {
                let mut recs = 0u64;
                for (ts, f) in &pkts {
                    if let Some(v) = d.decode(LinkType(1), *ts, f.len() as u32, f) {
                        e.process(&v, &src, &mut |_| recs += 1);
                    }
                }
                e.finish(&src, &mut |_| recs += 1);
                recs
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_decode,
    bench_touch,
    bench_dissectors,
    bench_entropy,
    bench_pipeline
);
criterion_main!(benches);
