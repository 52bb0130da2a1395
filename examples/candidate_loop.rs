//! What the dissectors' candidate loop costs on a capture, dissector by
//! dissector.
//!
//! `cargo run --release --example candidate_loop -- capture.pcap`
//!
//! Takes every TCP and UDP flow's first payload (the originator's, or the
//! responder's when it spoke first, as the engine sees it at that packet)
//! and replays the engine's first run over it: the dissectors of the
//! transport that admit the payload's first byte, in registry order, probe
//! then parse, until one identifies the flow. Then:
//!
//! 1. the whole loop over the payloads, in capture order and grouped by
//!    the dissector that won (the same work, with the same code running
//!    back to back: the difference is what the instruction cache and the
//!    branch predictors lose to the mix of protocols);
//! 2. each dissector over the payloads the loop asked it about: its probe
//!    over all of them, its parse over those its probe let through, and
//!    how many of those it did not win. A probe that is slow to refuse, or
//!    a parse that rarely wins, shows here.
//!
//! The payloads are in memory and timed hot, without the flow table or
//! anything after the loop, so the figures are the loop's own cost.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use baikal_capture::{self as capture, Input};
use baikal_classifier::decode::{Addr, Decoder, LinkType};
use baikal_classifier::dissect::{admitting, Parse, Payloads, Probe, Transport, DISSECTORS};
use baikal_classifier::verdict::Meta;

/// A flow's first payload, and the dissectors the loop would ask.
struct First {
    transport: Transport,
    orig_port: u16,
    resp_port: u16,
    data: Vec<u8>,
    /// The originator sent it (else the responder, the originator having
    /// sent nothing yet).
    from_orig: bool,
    candidates: Vec<usize>,
    /// Where a copy's bytes are in [`packed`]'s buffer (start, length).
    at: Option<(usize, usize)>,
}

impl First {
    fn payloads<'a>(&'a self, ends: &'a [[u32; 1]; 2]) -> Payloads<'a> {
        self.payloads_of(&self.data, ends)
    }
    fn payloads_of<'a>(&self, data: &'a [u8], ends: &'a [[u32; 1]; 2]) -> Payloads<'a> {
        let (o, r): (&[u8], &[u8]) = if self.from_orig { (data, &[]) } else { (&[], data) };
        let mut p = Payloads::tcp(self.orig_port, self.resp_port, o, r, ends);
        p.transport = self.transport;
        p
    }
    fn ends(&self) -> [[u32; 1]; 2] {
        let n = self.at.map_or(self.data.len(), |(_, n)| n) as u32;
        if self.from_orig {
            [[n], [0]]
        } else {
            [[0], [n]]
        }
    }
}

/// The engine's first run of the loop: the index of the dissector that
/// identifies the flow, if one does.
fn first_run(f: &First) -> Option<usize> {
    let ends = f.ends();
    let p = f.payloads(&ends);
    for &i in &f.candidates {
        let d = DISSECTORS[i];
        if d.probe(&p) == Probe::NotMine {
            continue;
        }
        let mut m = Meta::default();
        if matches!(d.parse(&p, &mut m), Parse::Identified | Parse::Done) {
            return Some(i);
        }
    }
    None
}

type End = (Addr, u16);

fn firsts(path: &str) -> Result<Vec<First>> {
    let mut dec = Decoder::new();
    // Per flow (its two ends in order, and the protocol): the originator's
    // end, and whether its first payload was taken.
    let mut flows: HashMap<(End, End, u8), (End, bool)> = HashMap::new();
    let mut out = Vec::new();
    capture::read(&Input::from_arg(path), &mut |raw| {
        let Some(v) = dec.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) else {
            return true;
        };
        let transport = match v.tuple.proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            _ => return true,
        };
        let (src, dst) = ((v.tuple.src, v.tuple.sport), (v.tuple.dst, v.tuple.dport));
        let key = if src <= dst {
            (src, dst, v.tuple.proto)
        } else {
            (dst, src, v.tuple.proto)
        };
        let (orig, taken) = flows.entry(key).or_insert((src, false));
        if *taken || v.payload.is_empty() {
            return true;
        }
        *taken = true;
        let from_orig = src == *orig;
        let (orig_port, resp_port) = if from_orig { (src.1, dst.1) } else { (dst.1, src.1) };
        let admitted = admitting(v.payload[0]);
        let candidates = admitted
            .iter()
            .filter(|&i| DISSECTORS.get(i).is_some_and(|d| d.transports().contains(&transport)))
            .collect();
        out.push(First {
            transport,
            orig_port,
            resp_port,
            data: v.payload.to_vec(),
            from_orig,
            candidates,
            at: None,
        });
        true
    })
    .with_context(|| path.to_string())?;
    Ok(out)
}

/// One dissector over the payloads the loop asked it about.
struct Row {
    name: &'static str,
    asked: usize,
    probe_ns: f64,
    passed: usize,
    parse_ns: f64,
    not_won: usize,
}

const ROUNDS: u32 = 5;

/// Copies of `fs` and one buffer of their bytes, in order: a dissector
/// asked about one flow in five would otherwise be timed on cache misses
/// of payloads scattered over the heap, which the engine does not have (it
/// runs the loop on bytes it has just copied).
fn packed(fs: &[&First]) -> (Vec<First>, Vec<u8>) {
    let mut arena = Vec::with_capacity(fs.iter().map(|f| f.data.len()).sum());
    let mut copies = Vec::with_capacity(fs.len());
    for f in fs {
        copies.push(First {
            data: Vec::new(),
            candidates: Vec::new(),
            at: Some((arena.len(), f.data.len())),
            ..**f
        });
        arena.extend_from_slice(&f.data);
    }
    (copies, arena)
}

fn per_dissector(firsts: &[First], winners: &[Option<usize>]) -> Vec<Row> {
    let mut asked: Vec<Vec<&First>> = vec![Vec::new(); DISSECTORS.len()];
    for (f, w) in firsts.iter().zip(winners) {
        for &i in &f.candidates {
            asked[i].push(f);
            if Some(i) == *w {
                break;
            }
        }
    }
    let mut rows = Vec::new();
    for (i, fs) in asked.iter().enumerate().filter(|(_, fs)| !fs.is_empty()) {
        let d = DISSECTORS[i];
        let (copies, arena) = packed(fs);
        let bytes = |f: &First| f.at.map_or(&[][..], |(s, n)| &arena[s..s + n]);
        let (probe_ns, passed, parse_ns, not_won) = {
            let mut passed = Vec::new();
            let t = Instant::now();
            for _ in 0..ROUNDS {
                passed.clear();
                for f in &copies {
                    let ends = f.ends();
                    if d.probe(&f.payloads_of(bytes(f), &ends)) != Probe::NotMine {
                        passed.push(f);
                    }
                }
            }
            let probe_ns = t.elapsed().as_nanos() as f64 / f64::from(ROUNDS);
            let mut not_won = 0;
            let t = Instant::now();
            for _ in 0..ROUNDS {
                not_won = 0;
                for f in &passed {
                    let ends = f.ends();
                    let mut m = Meta::default();
                    if !matches!(
                        d.parse(&f.payloads_of(bytes(f), &ends), &mut m),
                        Parse::Identified | Parse::Done
                    ) {
                        not_won += 1;
                    }
                }
            }
            let parse_ns = t.elapsed().as_nanos() as f64 / f64::from(ROUNDS);
            (probe_ns, passed.len(), parse_ns, not_won)
        };
        rows.push(Row {
            name: d.name(),
            asked: fs.len(),
            probe_ns,
            passed,
            parse_ns,
            not_won,
        });
    }
    rows.sort_by(|a, b| (b.probe_ns + b.parse_ns).total_cmp(&(a.probe_ns + a.parse_ns)));
    rows
}

fn main() -> Result<()> {
    // Written through a handle, so that a closed pipe (`| head`) ends the
    // run with an error instead of a panic.
    let mut out = std::io::stdout().lock();
    let path = std::env::args().nth(1).context("usage: candidate_loop CAPTURE")?;
    let firsts = firsts(&path)?;
    let n = firsts.len().max(1);
    let winners: Vec<Option<usize>> = firsts.iter().map(first_run).collect();
    let asked: usize = firsts.iter().map(|f| f.candidates.len()).sum();
    writeln!(
        out,
        "{} first payloads; {:.1} dissectors admit each one's first byte on its transport; {} identified at once",
        firsts.len(),
        asked as f64 / n as f64,
        winners.iter().filter(|w| w.is_some()).count()
    )?;
    let capture_order: Vec<usize> = (0..firsts.len()).collect();
    let mut grouped = capture_order.clone();
    grouped.sort_by_key(|&i| (winners[i], i));
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (order, t) in [&capture_order, &grouped].into_iter().zip(&mut times) {
            let t0 = Instant::now();
            for &i in order {
                std::hint::black_box(first_run(&firsts[i]));
            }
            t.push(t0.elapsed().as_nanos() as f64 / n as f64);
        }
    }
    for (name, t) in ["capture order", "grouped by winner"].iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        writeln!(
            out,
            "the loop, {name}: median {:.0} ns a first payload ({ROUNDS} rounds)",
            t[t.len() / 2]
        )?;
    }
    let rows = per_dissector(&firsts, &winners);
    let total: f64 = rows.iter().map(|r| r.probe_ns + r.parse_ns).sum();
    let probes: f64 = rows.iter().map(|r| r.probe_ns).sum();
    writeln!(
        out,
        "dissector by dissector: {:.1} ms in all ({:.1} ms in probes), {:.0} ns a first payload",
        total / 1e6,
        probes / 1e6,
        total / n as f64
    )?;
    writeln!(
        out,
        "{:>8} {:<22} {:>7} {:>9} {:>8} {:>7} {:>9} {:>8}",
        "ms", "dissector", "asked", "probe ms", "ns each", "passed", "parse ms", "not won"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:8.2} {:<22} {:7} {:9.2} {:8.1} {:7} {:9.2} {:8}",
            (r.probe_ns + r.parse_ns) / 1e6,
            r.name,
            r.asked,
            r.probe_ns / 1e6,
            r.probe_ns / r.asked as f64,
            r.passed,
            r.parse_ns / 1e6,
            r.not_won
        )?;
    }
    Ok(())
}
