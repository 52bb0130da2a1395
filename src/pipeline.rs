//! The pipeline glue: source → decode → engine → sink.

use std::sync::Arc;

use anyhow::{Context, Result};
use baikal_capture::{self as capture, Input, RawPacket, ReadReport};
use baikal_classifier::assoc::{self, AssocHint, Associations};
use baikal_classifier::decode::{DecodeStats, Decoder, LinkType, PacketView, TcpMeta, Tuple};
use baikal_classifier::engine::{Engine, EngineStats};
use baikal_classifier::flow::{FlowConfig, FlowKey};
use baikal_classifier::record::FlowRecord;

use crate::output::Sink;

/// Where packets come from.
#[derive(Clone, Debug)]
pub enum Source {
    Files(Vec<String>),
    Live {
        iface: String,
        duration: Option<std::time::Duration>,
    },
}

/// A resolved run configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub flow: FlowConfig,
    /// Application rules installed as the engine's labeler.
    pub rules: Option<Arc<baikal_classifier::rules::Rules>>,
    /// Stop after this many packets (over all inputs).
    pub count: Option<u64>,
    pub progress: bool,
    /// Worker threads classifying (each owns an engine); 1 = everything on
    /// the reading thread.
    pub threads: usize,
}

impl Config {
    /// The rules as the engine's labeler (each worker holds a clone).
    pub fn labeler(&self) -> Option<Arc<dyn baikal_classifier::engine::Labeler>> {
        self.rules
            .clone()
            .map(|r| r as Arc<dyn baikal_classifier::engine::Labeler>)
    }

    /// The reading thread's association table (peers announced under a
    /// realm the rules name an app for); none without rules.
    pub fn associations(&self) -> Option<Associations> {
        let rules = self.rules.clone()?;
        Some(Associations::new(assoc::MAX_PEERS, move |realm| {
            rules.knows_stun_realm(realm)
        }))
    }
}

/// What a run did, for the summary and the exit message.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub packets_read: u64,
    pub decode: DecodeStats,
    pub engine: EngineStats,
    /// Warnings already printed (truncated files, ...), kept for the table.
    pub warnings: Vec<String>,
    pub elapsed: std::time::Duration,
}

pub fn run(source: &Source, cfg: &Config, sink: &mut Sink) -> Result<Summary> {
    let start = std::time::Instant::now();
    let mut sum = Summary::default();
    match source {
        Source::Files(files) => {
            let inputs: Vec<Input> = files.iter().map(|f| Input::from_arg(f)).collect();
            // Fail before any output when a named file cannot be opened.
            for i in &inputs {
                if let Input::File(p) = i {
                    std::fs::File::open(p).with_context(|| format!("{}", p.display()))?;
                }
            }
            for input in &inputs {
                run_input(input, cfg, sink, &mut sum)?;
                if cfg.count.is_some_and(|c| sum.packets_read >= c) {
                    break;
                }
            }
        }
        Source::Live { iface, duration } => {
            run_live(iface, *duration, cfg, sink, &mut sum)?;
        }
    }
    sum.elapsed = start.elapsed();
    Ok(sum)
}

/// A packet counter on stderr, only when stderr is a terminal.
fn progress_bar(enabled: bool, name: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}: {human_pos} packets, {per_sec}") {
        b.set_style(style);
    }
    b.set_message(name.to_string());
    Some(b)
}

/// A packet source: calls the closure for each frame until it returns
/// `false`; returns what reading did.
pub type ReadFn<'s> =
    dyn FnMut(&mut dyn FnMut(&RawPacket<'_>) -> bool) -> Result<ReadReport, capture::CaptureError> + 's;

fn run_input(input: &Input, cfg: &Config, sink: &mut Sink, sum: &mut Summary) -> Result<()> {
    let name: Arc<str> = Arc::from(input.name());
    let limit = cfg.count.map(|c| c.saturating_sub(sum.packets_read));
    let bar = progress_bar(cfg.progress, &name);
    let mut read = |f: &mut dyn FnMut(&RawPacket<'_>) -> bool| {
        let mut n = 0u64;
        capture::read(input, &mut |raw| {
            n += 1;
            if n & 0xffff == 0 {
                if let Some(b) = &bar {
                    b.set_position(n);
                }
            }
            f(raw)
        })
    };
    let out = classify_frames(&mut read, &name, cfg, limit, &mut |r| sink.record(r));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    out?.merge_into(&name, sum);
    Ok(())
}

/// What one input produced, before it is merged into the [`Summary`].
pub struct InputOutcome {
    pub report: ReadReport,
    pub decode: DecodeStats,
    pub engine: EngineStats,
}

impl InputOutcome {
    /// Prints the input's warnings and adds its counters to `sum`.
    pub fn merge_into(self, name: &str, sum: &mut Summary) {
        if let Some(w) = &self.report.warning {
            let msg = format!(
                "{}: reading stopped at byte offset {}: {} ({} packets read before it)",
                name, w.offset, w.reason, self.report.packets
            );
            eprintln!("baikal: warning: {msg}");
            sum.warnings.push(msg);
        }
        for sk in &self.report.skipped {
            let msg = format!(
                "{name}: {} records skipped: {} (first at byte offset {})",
                sk.count, sk.reason, sk.first_offset
            );
            eprintln!("baikal: warning: {msg}");
            sum.warnings.push(msg);
        }
        for &(lt, count) in &self.decode.unknown_linktypes {
            let msg = format!("{name}: {count} frames of link type {lt} skipped (not decoded)");
            eprintln!("baikal: warning: {msg}");
            sum.warnings.push(msg);
        }
        sum.packets_read += self.report.packets;
        sum.decode.add(&self.decode);
        let peak = sum.engine.flows.peak_flows.max(self.engine.flows.peak_flows);
        add_engine_stats(&mut sum.engine, &self.engine);
        sum.engine.flows.peak_flows = peak;
    }
}

fn add_engine_stats(acc: &mut EngineStats, es: &EngineStats) {
    acc.packets += es.packets;
    acc.bytes += es.bytes;
    acc.inspected_packets += es.inspected_packets;
    let f = &mut acc.flows;
    f.created += es.flows.created;
    f.evicted += es.flows.evicted;
    f.ended_fin += es.flows.ended_fin;
    f.ended_rst += es.flows.ended_rst;
    f.ended_idle += es.flows.ended_idle;
    f.ended_eof += es.flows.ended_eof;
    // Workers peak at different moments: the sum bounds the true peak.
    f.peak_flows += es.flows.peak_flows;
}

/// Classifies every frame `read` yields (at most `limit`), passing each
/// finished flow to `emit`.
///
/// With `cfg.threads == 1` the reading thread decodes and classifies. With
/// N > 1 it reads and decodes, hashes the canonical (direction-free) flow
/// key so both directions of a flow meet the same worker, and hands the
/// packets to N workers in batches; each worker owns an [`Engine`] with
/// `max_flows / N` flows. The records are the same set for every N as long
/// as no flow is evicted for capacity (`--max-flows`); only their order
/// differs. In both cases the reading thread runs the association table
/// ([`Associations`]) on every packet in capture order, before sharding,
/// and passes its hints along with the packets.
pub fn classify_frames(
    read: &mut ReadFn<'_>,
    name: &Arc<str>,
    cfg: &Config,
    limit: Option<u64>,
    emit: &mut (dyn FnMut(FlowRecord) -> std::io::Result<()> + Send),
) -> Result<InputOutcome> {
    if cfg.threads > 1 {
        return classify_threaded(read, name, cfg, limit, emit);
    }
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(cfg.flow, cfg.labeler());
    let mut assoc = cfg.associations();
    let mut n = 0u64;
    let mut last_ts = 0u64;
    let mut sink_err: Option<std::io::Error> = None;
    let report = read(&mut |raw| {
        n += 1;
        if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
            last_ts = last_ts.max(v.ts_ns);
            let hint = assoc.as_mut().and_then(|a| a.observe(&v));
            engine.process_hinted(&v, hint.as_ref(), name, &mut |r| {
                if let Err(e) = emit(r) {
                    sink_err.get_or_insert(e);
                }
            });
        }
        sink_err.is_none() && limit.is_none_or(|l| n < l)
    })?;
    let mut out = |r| {
        if let Err(e) = emit(r) {
            sink_err.get_or_insert(e);
        }
    };
    // Flows already idle at the last packet end as idle, as a sweep would
    // have ended them: the same whichever worker held them.
    engine.expire(last_ts, name, &mut out);
    engine.finish(name, &mut out);
    if let Some(e) = sink_err {
        return Err(e).context("writing output");
    }
    Ok(InputOutcome {
        report,
        decode: decoder.stats().clone(),
        engine: engine.stats(),
    })
}

/// Packets per batch handed to a worker.
const BATCH_PACKETS: usize = 256;
/// Payload bytes per batch before it is sent early.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches in flight per worker (the reader blocks when all are out).
const BATCHES_PER_WORKER: usize = 8;
/// Records a worker collects before taking the sink lock.
const RECORDS_PER_FLUSH: usize = 256;

/// One decoded packet in a batch; its payload is `arena[prev.end..end]`.
#[derive(Clone, Copy)]
struct Desc {
    ts_ns: u64,
    wire_len: u32,
    end: u32,
    tuple: Tuple,
    tcp: Option<TcpMeta>,
}

/// Packets for one worker: the payloads back to back in one arena, and
/// their descriptors. Batches go back to the reader empty for reuse, so
/// nothing is allocated per packet.
struct Batch {
    arena: Vec<u8>,
    descs: Vec<Desc>,
    /// (index in `descs`, hint) for the few associated packets.
    hints: Vec<(usize, AssocHint)>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            arena: Vec::with_capacity(BATCH_BYTES),
            descs: Vec::with_capacity(BATCH_PACKETS),
            hints: Vec::new(),
        }
    }
    fn is_full(&self, next_payload: usize) -> bool {
        self.descs.len() >= BATCH_PACKETS || (!self.descs.is_empty() && self.arena.len() + next_payload > BATCH_BYTES)
    }
    fn push(&mut self, v: &PacketView<'_>, hint: Option<AssocHint>) {
        if let Some(h) = hint {
            self.hints.push((self.descs.len(), h));
        }
        self.arena.extend_from_slice(v.payload);
        self.descs.push(Desc {
            ts_ns: v.ts_ns,
            wire_len: v.wire_len,
            end: self.arena.len() as u32,
            tuple: v.tuple,
            tcp: v.tcp,
        });
    }
    fn clear(&mut self) {
        self.arena.clear();
        self.descs.clear();
        self.hints.clear();
    }
}

/// Worker index for a packet: a hash of the canonical key, so both
/// directions of a flow go to the same worker. Fixed seed: the same flow
/// goes to the same worker on every run.
#[inline]
pub fn shard_of(t: &Tuple, workers: usize) -> usize {
    use std::hash::BuildHasher;
    let (key, _) = FlowKey::from_tuple(t);
    let h = foldhash::fast::FixedState::with_seed(0x6261_696b_616c).hash_one(key);
    // Multiply-shift: uniform over 0..workers without a division.
    ((u128::from(h) * workers as u128) >> 64) as usize
}

fn classify_threaded(
    read: &mut ReadFn<'_>,
    name: &Arc<str>,
    cfg: &Config,
    limit: Option<u64>,
    emit: &mut (dyn FnMut(FlowRecord) -> std::io::Result<()> + Send),
) -> Result<InputOutcome> {
    use crossbeam_channel::{bounded, Receiver, Sender};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;

    let workers = cfg.threads;
    let mut flow_cfg = cfg.flow;
    flow_cfg.max_flows = flow_cfg.max_flows.div_ceil(workers).max(1);
    let sink = Mutex::new((emit, None::<std::io::Error>));
    let failed = AtomicBool::new(false);
    let last_ts = AtomicU64::new(0);

    std::thread::scope(|scope| -> Result<InputOutcome> {
        let mut to_worker: Vec<Sender<Batch>> = Vec::with_capacity(workers);
        let mut free: Vec<Receiver<Batch>> = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = bounded::<Batch>(BATCHES_PER_WORKER);
            let (ret_tx, ret_rx) = bounded::<Batch>(BATCHES_PER_WORKER);
            for _ in 0..BATCHES_PER_WORKER - 1 {
                // Cannot fail: the channel has room and its receiver is alive.
                let _ = ret_tx.send(Batch::new());
            }
            to_worker.push(tx);
            free.push(ret_rx);
            let (sink, failed, last_ts) = (&sink, &failed, &last_ts);
            let labeler = cfg.labeler();
            handles.push(scope.spawn(move || {
                let mut engine = Engine::new(flow_cfg, labeler);
                let mut recs: Vec<FlowRecord> = Vec::with_capacity(RECORDS_PER_FLUSH);
                let flush = |recs: &mut Vec<FlowRecord>| {
                    if recs.is_empty() {
                        return;
                    }
                    let mut g = sink.lock().unwrap_or_else(|p| p.into_inner());
                    let (emit, err) = &mut *g;
                    for r in recs.drain(..) {
                        if err.is_none() {
                            if let Err(e) = emit(r) {
                                *err = Some(e);
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                };
                for mut b in rx.iter() {
                    let mut start = 0usize;
                    let mut hints = b.hints.iter().peekable();
                    for (i, d) in b.descs.iter().enumerate() {
                        let end = d.end as usize;
                        let pkt = PacketView {
                            ts_ns: d.ts_ns,
                            wire_len: d.wire_len,
                            tuple: d.tuple,
                            tcp: d.tcp,
                            payload: b.arena.get(start..end).unwrap_or_default(),
                        };
                        start = end;
                        let hint = hints.next_if(|h| h.0 == i).map(|h| &h.1);
                        engine.process_hinted(&pkt, hint, name, &mut |r| recs.push(r));
                    }
                    if recs.len() >= RECORDS_PER_FLUSH {
                        flush(&mut recs);
                    }
                    b.clear();
                    // The reader may be gone (stopped early): nothing to do.
                    let _ = ret_tx.send(b);
                }
                // The reader stored the last timestamp before closing the
                // channel, so this load sees it.
                let now = last_ts.load(Ordering::SeqCst);
                engine.expire(now, name, &mut |r| recs.push(r));
                engine.finish(name, &mut |r| recs.push(r));
                flush(&mut recs);
                engine.stats()
            }));
        }

        let mut decoder = Decoder::new();
        let mut assoc = cfg.associations();
        let mut cur: Vec<Batch> = (0..workers).map(|_| Batch::new()).collect();
        let mut n = 0u64;
        let mut max_ts = 0u64;
        let mut broken = false;
        let report = read(&mut |raw| {
            n += 1;
            if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
                max_ts = max_ts.max(v.ts_ns);
                let w = shard_of(&v.tuple, workers);
                if cur[w].is_full(v.payload.len()) {
                    let next = match free[w].recv() {
                        Ok(b) => b,
                        Err(_) => {
                            broken = true;
                            return false;
                        }
                    };
                    let full = std::mem::replace(&mut cur[w], next);
                    if to_worker[w].send(full).is_err() {
                        broken = true;
                        return false;
                    }
                }
                cur[w].push(&v, assoc.as_mut().and_then(|a| a.observe(&v)));
            }
            !failed.load(Ordering::Relaxed) && limit.is_none_or(|l| n < l)
        });
        for (w, b) in cur.into_iter().enumerate() {
            if !b.descs.is_empty() {
                let _ = to_worker[w].send(b);
            }
        }
        last_ts.store(max_ts, Ordering::SeqCst);
        drop(to_worker);
        drop(free);
        let mut engine = EngineStats::default();
        for h in handles {
            match h.join() {
                Ok(es) => add_engine_stats(&mut engine, &es),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        let report = report?;
        if broken {
            anyhow::bail!("a classification worker stopped early");
        }
        let err = sink.lock().unwrap_or_else(|p| p.into_inner()).1.take();
        if let Some(e) = err {
            return Err(e).context("writing output");
        }
        Ok(InputOutcome {
            report,
            decode: decoder.stats().clone(),
            engine,
        })
    })
}

/// Set by Ctrl-C: the live loop stops and every open flow is flushed.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ctrl-C sets [`STOP`]; a second Ctrl-C exits at once (130, as shells do).
fn install_ctrlc() -> Result<()> {
    static INSTALLED: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if STOP.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    std::process::exit(130);
                }
            })
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
}

/// Live capture: the same decode → engine → sink flow as a file, with
/// idle flows expired on the capture's clock ticks, and every open flow
/// flushed at the end (duration, count, or Ctrl-C).
#[cfg(target_os = "linux")]
fn run_live(
    iface: &str,
    duration: Option<std::time::Duration>,
    cfg: &Config,
    sink: &mut Sink,
    sum: &mut Summary,
) -> Result<()> {
    use capture::live::{self, LiveEvent, LiveOptions};

    install_ctrlc()?;
    let name: Arc<str> = Arc::from(iface);
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(cfg.flow, cfg.labeler());
    let mut assoc = cfg.associations();
    let opts = LiveOptions {
        duration,
        count: cfg.count,
        ..LiveOptions::default()
    };
    let mut sink_err: Option<std::io::Error> = None;
    // Expiry runs on the ticks, at most once a second.
    let mut next_expire = 0u64;
    let rep = live::capture_events(iface, &opts, &STOP, &mut |ev| {
        let mut out = |r| {
            if let Err(e) = sink.record(r) {
                sink_err.get_or_insert(e);
            }
        };
        match ev {
            LiveEvent::Packet(raw) => {
                if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
                    let hint = assoc.as_mut().and_then(|a| a.observe(&v));
                    engine.process_hinted(&v, hint.as_ref(), &name, &mut out);
                }
            }
            LiveEvent::Tick(now) => {
                if now >= next_expire {
                    engine.expire(now, &name, &mut out);
                    next_expire = now.saturating_add(1_000_000_000);
                }
            }
        }
        sink_err.is_none()
    })?;
    engine.finish(&name, &mut |r| {
        if let Err(e) = sink.record(r) {
            sink_err.get_or_insert(e);
        }
    });
    if let Some(e) = sink_err {
        return Err(e).context("writing output");
    }
    if let Some(w) = &rep.warning {
        let msg = format!("{name}: {} ({} packets captured before it)", w.reason, rep.packets);
        eprintln!("baikal: warning: {msg}");
        sum.warnings.push(msg);
    }
    // A live source has no byte offset: its warning was printed above,
    // the rest (skips, link types, counters) is merged as for a file.
    let mut report = rep;
    report.warning = None;
    InputOutcome {
        report,
        decode: decoder.stats().clone(),
        engine: engine.stats(),
    }
    .merge_into(&name, sum);
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn run_live(
    iface: &str,
    _duration: Option<std::time::Duration>,
    _cfg: &Config,
    _sink: &mut Sink,
    _sum: &mut Summary,
) -> Result<()> {
    install_ctrlc()?;
    anyhow::bail!("{iface}: live capture is only available on Linux");
}
