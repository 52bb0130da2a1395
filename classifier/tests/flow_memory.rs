//! Memory per flow of the flow table, measured with millions of flows.
//!
//! `FlowTable::memory_bytes() / len()` after feeding N distinct
//! single-packet flows. Two kinds:
//! - TCP SYNs (no payload: the flow is the slab slot plus its index entry);
//! - UDP datagrams with a payload (a DNS query), driven through the
//!   `Engine`: each flow keeps its verdict (`Meta`), and while a dissector
//!   waits for the answer, its payload buffers too.
//!
//! `cargo test --release -p baikal-classifier --test flow_memory -- --ignored --nocapture`
//! runs the 4 M-flow figures.

use std::sync::Arc;

use baikal_classifier::decode::{Addr, PacketView, TcpMeta, Tuple};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::{Flow, FlowConfig, FlowTable};

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
#[ignore = "millions of flows: run with --release -- --ignored"]
fn millions_of_flows() {
    let syn = report("TCP SYN flows", syn_flows(4_000_000));
    let udp = report("UDP flows with payload (classified, Meta kept)", udp_flows(4_000_000));
    assert!(syn <= 200.0);
    assert!(udp >= syn);
}
