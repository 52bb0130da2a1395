//! Where the flow table's memory goes, at its peak, on a capture.
//!
//! `cargo run --release --example mem_split -- capture.pcap`
//!
//! Replays the capture through one `Engine` (as `baikal bench` does on one
//! thread), reads `FlowTable::memory_bytes` every 64 Ki packets and, at the
//! peak, splits it: slab, index, packed verdicts, shared strings, payload
//! buffers (by kind of flow).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use baikal_capture::{self as capture, Input};
use baikal_classifier::decode::{Decoder, LinkType};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::{FlowConfig, FlowTable};

#[derive(Default, Debug)]
struct Split {
    flows: usize,
    total: usize,
    parts: BTreeMap<String, (usize, usize)>,
}

impl Split {
    fn add(&mut self, k: impl Into<String>, bytes: usize) {
        let e = self.parts.entry(k.into()).or_default();
        e.0 += 1;
        e.1 += bytes;
    }
}

fn split(t: &FlowTable) -> Split {
    let mut s = Split {
        flows: t.len(),
        total: t.memory_bytes(),
        ..Split::default()
    };
    let [slab, index, free] = t.fixed_bytes();
    s.add("fixed slab", slab);
    s.add("fixed index", index);
    s.add("fixed free", free);
    s.add("shared strings table", t.strings().heap_bytes());
    for f in t.slots() {
        let working = f.inspect.as_ref().and_then(|i| i.meta.as_deref());
        let meta = working
            .cloned()
            .or_else(|| f.verdict.as_ref().map(|v| t.strings().peek(v)));
        if let Some(m) = working {
            s.add(
                "verdict working, unpacked (struct + heap)",
                std::mem::size_of_val(m) + m.heap_bytes(),
            );
        }
        if let Some(v) = &f.verdict {
            s.add("verdict packed (bytes)", v.heap_bytes());
        }
        if let Some(i) = &f.inspect {
            let tr = match f.key.proto {
                6 => "tcp",
                17 => "udp",
                _ => "other",
            };
            let o = !i.sides[0].data.is_empty();
            let r = !i.sides[1].data.is_empty();
            let who = match (o, r) {
                (true, true) => "both",
                (true, false) => "orig-only",
                (false, true) => "resp-only",
                (false, false) => "none",
            };
            let proto = meta.as_ref().and_then(|m| m.protocol).unwrap_or(if i.chosen.is_some() {
                "chosen?"
            } else {
                "undecided"
            });
            let pk = i.sides[0].packets.max(i.sides[1].packets);
            let pkb = if pk <= 1 {
                "1pkt"
            } else if pk <= 3 {
                "2-3pkt"
            } else {
                "4+pkt"
            };
            s.add(format!("inspect {tr} {who} {proto}"), i.heap_bytes());
            if i.chosen.is_none() {
                // What keeps an unidentified flow's payload: the dissectors
                // still waiting for more.
                for c in i.candidates.iter() {
                    let name = baikal_classifier::dissect::DISSECTORS[c].name();
                    s.add(format!("waiting {tr} {who} on {name}"), i.heap_bytes());
                }
            }
            s.add(format!("inspect-by-pkts {tr} {pkb}"), i.heap_bytes());
            let used: usize = i.sides.iter().map(|x| x.data.len()).sum();
            let cap: usize = i.sides.iter().map(|x| x.data.capacity()).sum();
            s.add("inspect data len", used);
            s.add("inspect data cap", cap);
        }
    }
    s
}

fn main() -> Result<()> {
    let path = std::env::args().nth(1).context("usage: mem_split capture.pcap")?;
    let input = Input::from_arg(&path);
    let src: Arc<str> = Arc::from(path.as_str());
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(FlowConfig::default(), None);
    let mut n = 0u64;
    let mut peak = 0usize;
    let mut best: Option<Split> = None;
    capture::read(&input, &mut |raw| {
        n += 1;
        if n & 0xffff == 0 {
            let m = engine.table().memory_bytes();
            if m > peak {
                peak = m;
                best = Some(split(engine.table()));
            }
        }
        if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
            engine.process(&v, &src, &mut |_| {});
        }
        true
    })?;
    let s = best.context("no peak")?;
    println!(
        "peak {} bytes, {} flows, {:.1} bytes/flow, size_of Flow {}",
        s.total,
        s.flows,
        s.total as f64 / s.flows as f64,
        std::mem::size_of::<baikal_classifier::flow::Flow>()
    );
    let mut v: Vec<_> = s.parts.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1 .1));
    for (k, (c, b)) in v {
        println!("{:>12} B {:>7.1} B/flow {:>8} × {k}", b, b as f64 / s.flows as f64, c);
    }
    Ok(())
}
