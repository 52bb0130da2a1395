//! Memory per flow of the flow table, measured with millions of flows.
//!
//! `FlowTable::memory_bytes() / len()` after feeding N distinct
//! single-packet flows. Two kinds:
//! - TCP SYNs (no payload: the flow is the slab slot plus its index entry);
//! - UDP datagrams with a payload (a DNS query), driven through the
//!   `Engine`: each flow keeps its verdict, and while a dissector waits
//!   for the answer, its payload buffers too;
//! - classified flows as on a busy link, driven through the `Engine`:
//!   TLS 1.2 handshakes (ClientHello with SNI and ALPN, then the server's
//!   flight: SNI, JA3, JA3S, JA4 and extras in the verdict) and answered
//!   DNS queries, 100 000 new flows per second (packets in time order), names drawn from pools so
//!   that some repeat (as popular names do) and most DNS names do not.
//!
//! `cargo test --release -p baikal-classifier --test flow_memory -- --ignored --nocapture`
//! runs the 4 M-flow figures.

use std::sync::Arc;

use baikal_classifier::decode::{Addr, PacketView, TcpMeta, Tuple};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::{Flow, FlowConfig, FlowTable};
use baikal_classifier::record::FlowRecord;

fn tuple(i: u32, proto: u8) -> Tuple {
    Tuple {
        src: Addr::from_v4(i.to_be_bytes()),
        dst: Addr::from_v4([192, 0, 2, 1]),
        sport: 40000,
        dport: if proto == 6 { 443 } else { 53 },
        proto,
    }
}

fn syn_flows(n: u32) -> (usize, usize) {
    let mut t = FlowTable::new(FlowConfig::default());
    for i in 0..n {
        let p = PacketView {
            ts_ns: u64::from(i),
            wire_len: 60,
            tuple: tuple(i, 6),
            tcp: Some(TcpMeta {
                seq: i,
                ack: 0,
                flags: 0x02,
            }),
            payload: &[],
        };
        t.touch(&p, &mut |_| {});
    }
    (t.memory_bytes(), t.len())
}

fn udp_flows(n: u32) -> (usize, usize) {
    let mut e = Engine::new(FlowConfig::default(), None);
    let src: Arc<str> = Arc::from("mem");
    let payload = [
        0x12u8, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
    ];
    for i in 0..n {
        let p = PacketView {
            ts_ns: u64::from(i),
            wire_len: 42 + payload.len() as u32,
            tuple: tuple(i, 17),
            tcp: None,
            payload: &payload,
        };
        e.process(&p, &src, &mut |_| {});
    }
    (e.table().memory_bytes(), e.table().len())
}

fn u16be(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

fn ext(out: &mut Vec<u8>, typ: u16, body: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    out.extend_from_slice(&u16be(body.len()));
    out.extend_from_slice(body);
}

/// A TLS record holding one handshake message.
fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![0x16, 3, 1];
    r.extend_from_slice(&u16be(body.len() + 4));
    r.push(typ);
    r.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    r.extend_from_slice(body);
    r
}

/// A TLS 1.2 ClientHello for `sni`; `variant` picks one of a few client
/// fingerprints (cipher lists).
fn client_hello(sni: &str, variant: usize) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[0x42; 32]);
    b.push(0);
    let suites: Vec<u16> = [
        0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d, 0x002f, 0x0035,
    ]
    .into_iter()
    .take(4 + variant % 7)
    .collect();
    b.extend_from_slice(&u16be(suites.len() * 2));
    for c in suites {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]);
    let mut e = Vec::new();
    let mut name = vec![0];
    name.extend_from_slice(&u16be(sni.len()));
    name.extend_from_slice(sni.as_bytes());
    let mut list = u16be(name.len()).to_vec();
    list.extend_from_slice(&name);
    ext(&mut e, 0, &list);
    ext(&mut e, 0x000a, &[0, 4, 0, 0x1d, 0, 0x17]);
    ext(&mut e, 0x000b, &[1, 0]);
    ext(&mut e, 0x000d, &[0, 4, 4, 3, 8, 4]);
    ext(
        &mut e,
        0x0010,
        &[0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1'],
    );
    ext(&mut e, 0xff01, &[0]);
    b.extend_from_slice(&u16be(e.len()));
    b.extend_from_slice(&e);
    handshake(1, &b)
}

/// The server's TLS 1.2 flight: ServerHello (with ALPN h2), ServerHelloDone.
fn server_flight() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[0x24; 32]);
    b.push(0);
    b.extend_from_slice(&[0xc0, 0x2f, 0]);
    let mut e = Vec::new();
    ext(&mut e, 0xff01, &[0]);
    ext(&mut e, 0x0010, &[0, 3, 2, b'h', b'2']);
    b.extend_from_slice(&u16be(e.len()));
    b.extend_from_slice(&e);
    let mut r = handshake(2, &b);
    r.extend_from_slice(&handshake(14, &[]));
    r
}

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
}

/// A DNS A query for `name` and its answer.
fn dns_pair(id: u16, name: &str) -> (Vec<u8>, Vec<u8>) {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    dns_name(&mut q, name);
    q.extend_from_slice(&[0, 1, 0, 1]);
    let mut r = q.clone();
    r[2..8].copy_from_slice(&[0x81, 0x80, 0, 1, 0, 1]);
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 192, 0, 2, 33]);
    (q, r)
}

/// `n` classified flows, half TLS and half DNS, at 100 000 new flows per
/// second. Returns the table's bytes and flows at the end (all flows are
/// still open: the TCP and UDP idle timeouts are longer than the run),
/// then the records of a sample checked for their verdicts.
fn classified_flows(n: u32) -> (usize, usize) {
    let mut e = Engine::new(FlowConfig::default(), None);
    let src: Arc<str> = Arc::from("mem");
    let server = Addr::from_v4([198, 51, 100, 7]);
    let resolver = Addr::from_v4([192, 0, 2, 53]);
    let flight = server_flight();
    let t0 = 1_700_000_000_000_000_000u64;
    let mut emitted = 0usize;
    for i in 0..n {
        let ts = t0 + u64::from(i) * 10_000;
        let client = Addr::from_v4((0x0a00_0000 | i).to_be_bytes());
        let mut emit = |_r: FlowRecord| emitted += 1;
        if i % 2 == 0 {
            let k = (i / 2) as usize;
            let sni = format!("www.site{}.example.com", k % 5_000);
            let hello = client_hello(&sni, k % 20);
            let fwd = Tuple {
                src: client,
                dst: server,
                sport: 40_000 + (i % 20_000) as u16,
                dport: 443,
                proto: 6,
            };
            let rev = Tuple {
                src: server,
                dst: client,
                sport: 443,
                dport: fwd.sport,
                proto: 6,
            };
            let tcp = |seq, flags| Some(TcpMeta { seq, ack: 0, flags });
            let pkts = [
                (fwd, tcp(100, 0x02), 0u64, &[][..]),
                (rev, tcp(900, 0x12), 2_000, &[][..]),
                (fwd, tcp(101, 0x18), 4_000, &hello[..]),
                (rev, tcp(901, 0x18), 6_000, &flight[..]),
            ];
            for (tuple, tcp, dt, payload) in pkts {
                let p = PacketView {
                    ts_ns: ts + dt,
                    wire_len: 54 + payload.len() as u32,
                    tuple,
                    tcp,
                    payload,
                };
                e.process(&p, &src, &mut emit);
            }
        } else {
            let k = (i / 2) as usize;
            // One name in four from a pool of 1 000, the others (almost) unique.
            let name = if k.is_multiple_of(4) {
                format!("cdn{}.popular.example.net", k % 1_000)
            } else {
                format!("h{k}.d{}.example.org", k % 977)
            };
            let (q, r) = dns_pair(k as u16, &name);
            let fwd = Tuple {
                src: client,
                dst: resolver,
                sport: 50_000 + (i % 10_000) as u16,
                dport: 53,
                proto: 17,
            };
            let rev = Tuple {
                src: resolver,
                dst: client,
                sport: 53,
                dport: fwd.sport,
                proto: 17,
            };
            for (tuple, dt, payload) in [(fwd, 0u64, &q), (rev, 5_000, &r)] {
                let p = PacketView {
                    ts_ns: ts + dt,
                    wire_len: 42 + payload.len() as u32,
                    tuple,
                    tcp: None,
                    payload,
                };
                e.process(&p, &src, &mut emit);
            }
        }
    }
    assert_eq!(emitted, 0, "no flow ended before the measurement");
    let bytes = e.table().memory_bytes();
    let len = e.table().len();
    // The verdicts are all there: the memory figure is for classified flows.
    let mut recs = Vec::new();
    e.finish(&src, &mut |r| recs.push(r));
    assert_eq!(recs.len(), n as usize);
    let tls: Vec<_> = recs.iter().filter(|r| r.protocol == "tls").collect();
    let dns: Vec<_> = recs.iter().filter(|r| r.protocol == "dns").collect();
    assert_eq!(tls.len(), n.div_ceil(2) as usize);
    assert_eq!(dns.len(), (n / 2) as usize);
    for r in &tls {
        assert!(r.sni.as_deref().is_some_and(|s| s.starts_with("www.site")), "{r:?}");
        assert!(
            r.ja3.is_some() && r.ja3s.is_some() && r.ja4.is_some() && r.ja4_r.is_some(),
            "{r:?}"
        );
        assert_eq!(r.alpn.as_deref(), Some("h2,http/1.1"));
    }
    for r in &dns {
        assert!(r
            .dns_query
            .as_deref()
            .is_some_and(|q| q.ends_with(".example.org") || q.ends_with(".example.net")));
        assert!(!r.extra.is_empty(), "{r:?}");
    }
    (bytes, len)
}

fn report(kind: &str, (bytes, len): (usize, usize)) -> f64 {
    let per = bytes as f64 / len as f64;
    eprintln!(
        "{kind}: {len} flows, {:.1} MB, {per:.1} bytes per flow (size_of::<Flow>() = {})",
        bytes as f64 / 1e6,
        std::mem::size_of::<Flow>()
    );
    per
}

#[test]
fn syn_flows_fit_200_bytes() {
    let per = report("TCP SYN flows", syn_flows(1_000_000));
    assert!(per <= 200.0, "{per:.1} bytes per flow");
    assert!(per >= std::mem::size_of::<Flow>() as f64);
}

#[test]
fn classified_flows_fit_200_bytes() {
    let per = report("TLS and DNS flows, classified", classified_flows(1_000_000));
    assert!(per <= 200.0, "{per:.1} bytes per flow");
    assert!(per >= std::mem::size_of::<Flow>() as f64);
}

#[test]
#[ignore = "millions of flows: run with --release -- --ignored"]
fn millions_of_flows() {
    let syn = report("TCP SYN flows", syn_flows(4_000_000));
    let udp = report(
        "UDP flows with payload (classified, verdict kept)",
        udp_flows(4_000_000),
    );
    let classified = report("TLS and DNS flows, classified", classified_flows(4_000_000));
    assert!(syn <= 200.0);
    assert!(udp >= syn);
    assert!(classified <= 200.0, "{classified:.1} bytes per flow");
}
