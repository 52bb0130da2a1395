//! The pipeline glue: source → decode → engine → sink.

use std::sync::Arc;

use anyhow::{Context, Result};
use baikal_capture::{self as capture, Input, RawPacket, ReadReport, Stripes};
use baikal_classifier::assoc::{self, AssocHint, Associations};
use baikal_classifier::decode::{fast_l4, DecodeStats, Decoder, LinkType, Tuple};
use baikal_classifier::engine::{Engine, EngineStats};
use baikal_classifier::flow::FlowConfig;
use baikal_classifier::record::FlowRecord;

use crate::output::{Part, Sink};

mod blocks;
mod shard;

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

    /// An association table (peers announced under a realm the rules name
    /// an app for), one per worker; none without rules.
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

/// Where [`classify_frames`] takes its frames from.
pub enum Frames<'a, 's> {
    /// A capture reader (file, gzip, pipe): frames borrowed from its
    /// buffer, one at a time.
    Read(&'a mut ReadFn<'s>),
    /// Frames already in memory (`bench` loads its captures so).
    Chunks(&'a [Arc<Chunk>]),
    /// A regular, uncompressed capture file (pcap or pcapng): with
    /// several threads every worker reads stripes of it and routes their
    /// frames ([`blocks`]). The closure hears the packets read so far.
    Stripes(&'a Stripes, &'a blocks::Progress<'a>),
}

/// Frames back to back in one block of memory, with their descriptors.
/// Workers share a chunk (`Arc`) and each decodes only the frames of its
/// flows, so no frame is copied after it is read into its chunk.
#[derive(Default)]
pub struct Chunk {
    data: Vec<u8>,
    frames: Vec<ChunkFrame>,
}

#[derive(Clone, Copy)]
struct ChunkFrame {
    ts_ns: u64,
    wire_len: u32,
    linktype: u32,
    off: usize,
    len: usize,
}

impl ChunkFrame {
    /// The frame, in its chunk's bytes `data`.
    #[inline]
    fn raw(self, data: &[u8]) -> RawPacket<'_> {
        RawPacket {
            ts_ns: self.ts_ns,
            linktype: self.linktype,
            wire_len: self.wire_len,
            data: data.get(self.off..self.off + self.len).unwrap_or_default(),
        }
    }
}

impl Chunk {
    /// A chunk is full at this many bytes of frames...
    pub const BYTES: usize = 1 << 20;
    /// ... or this many frames.
    pub const FRAMES: usize = 8192;

    pub fn new() -> Chunk {
        Chunk {
            data: Vec::with_capacity(Chunk::BYTES),
            frames: Vec::with_capacity(Chunk::FRAMES),
        }
    }
    /// Appends a copy of the frame.
    pub fn push(&mut self, raw: &RawPacket<'_>) {
        let off = self.data.len();
        self.data.extend_from_slice(raw.data);
        self.frames.push(ChunkFrame {
            ts_ns: raw.ts_ns,
            wire_len: raw.wire_len,
            linktype: raw.linktype,
            off,
            len: raw.data.len(),
        });
    }
    /// Whether `raw` still fits (an empty chunk takes any frame).
    pub fn fits(&self, raw: &RawPacket<'_>) -> bool {
        self.frames.is_empty()
            || (self.data.len() + raw.data.len() <= Chunk::BYTES && self.frames.len() < Chunk::FRAMES)
    }
    pub fn len(&self) -> usize {
        self.frames.len()
    }
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
    /// Bytes of the frames as captured.
    pub fn captured_bytes(&self) -> usize {
        self.data.len()
    }
    fn clear(&mut self) {
        self.data.clear();
        self.frames.clear();
    }
    /// Asks the CPU for the cache lines that hold the first `bytes` bytes
    /// of frame `i` (at least its first line), if there is one
    /// ([`crate::prefetch`]).
    #[inline]
    fn prefetch(&self, i: usize, bytes: usize) {
        if let Some(f) = self.frames.get(i) {
            let p = self.data.as_ptr().wrapping_add(f.off);
            crate::prefetch::line(p);
            let mut at = crate::prefetch::LINE;
            while at < bytes.min(f.len) {
                crate::prefetch::line(p.wrapping_add(at));
                at += crate::prefetch::LINE;
            }
        }
    }
    #[inline]
    fn raw(&self, f: &ChunkFrame) -> RawPacket<'_> {
        f.raw(&self.data)
    }
    /// Calls `f` for each frame, like a capture reader.
    pub fn for_each(&self, f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> bool {
        self.frames.iter().all(|fr| f(&self.raw(fr)))
    }
}

/// Frames into chunks of at most [`Chunk::BYTES`] (a frame larger than
/// that gets a chunk of its own).
pub fn chunks_of(read: &mut ReadFn<'_>) -> Result<(Vec<Arc<Chunk>>, ReadReport), capture::CaptureError> {
    let mut out = Vec::new();
    let mut cur = Chunk::new();
    let rep = read(&mut |raw| {
        if !cur.fits(raw) {
            out.push(Arc::new(std::mem::replace(&mut cur, Chunk::new())));
        }
        cur.push(raw);
        true
    })?;
    if !cur.is_empty() {
        out.push(Arc::new(cur));
    }
    Ok((out, rep))
}

impl Frames<'_, '_> {
    /// Calls `f` for each frame until it returns `false` (`bench` times
    /// passes over frames in memory with it).
    pub fn for_each_frame(
        &mut self,
        f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
    ) -> Result<ReadReport, capture::CaptureError> {
        self.each(f)
    }

    /// Calls `f` for each frame until it returns `false`.
    fn each(&mut self, f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> Result<ReadReport, capture::CaptureError> {
        match self {
            Frames::Read(read) => read(f),
            Frames::Chunks(chunks) => Ok(read_chunks(chunks, f)),
            Frames::Stripes(stripes, progress) => {
                let mut n = 0u64;
                Ok(stripes.read(&mut |raw| {
                    n += 1;
                    if n & 0xffff == 0 {
                        progress(n);
                    }
                    f(raw)
                }))
            }
        }
    }
}

/// Calls `f` for each frame of `chunks`, like a capture reader.
fn read_chunks(chunks: &[Arc<Chunk>], f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> ReadReport {
    let mut rep = ReadReport {
        format: "memory".into(),
        ..ReadReport::default()
    };
    for c in chunks {
        for (i, fr) in c.frames.iter().enumerate() {
            c.prefetch(i + crate::prefetch::AHEAD, 2 * crate::prefetch::LINE);
            rep.packets += 1;
            rep.bytes += u64::from(fr.wire_len);
            if !f(&c.raw(fr)) {
                rep.stopped = true;
                return rep;
            }
        }
    }
    rep
}

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
    // With several threads a regular, uncompressed capture file is read in
    // stripes by every worker; a pipe or a gzip'd file is read by the
    // calling thread, which fills the blocks (`blocks`).
    let stripes = match input {
        Input::File(p) if cfg.threads > 1 => Stripes::open(p, blocks::STRIPE_BYTES)?,
        _ => None,
    };
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let frames = match &stripes {
        Some(s) => Frames::Stripes(s, &progress),
        None => Frames::Read(&mut read),
    };
    let out = classify_frames(frames, &name, cfg, limit, Out::Sink(sink));
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
    /// With several threads: CPU nanoseconds of the reader, then of each
    /// worker, when the OS reports them (Linux); empty otherwise.
    pub thread_cpu_ns: Vec<u64>,
}

/// CPU time of the calling thread, in nanoseconds (Linux: the scheduler's
/// run time from /proc/thread-self/schedstat).
pub fn thread_cpu_ns() -> Option<u64> {
    // The kernel adds up a running thread's time at scheduler events, not
    // when the file is read: a thread that ran a few ms unpreempted would
    // read 0. Yielding is such an event.
    std::thread::yield_now();
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
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

/// Where [`classify_frames`] puts finished flows.
pub enum Out<'e> {
    /// Each record to this closure: on the calling thread with one
    /// thread, else on whichever worker ended it, under a lock, in groups.
    Each(&'e mut Emit<'e>),
    /// The output sink. With several threads each worker formats and
    /// tallies its own records ([`Part`]) and takes the sink's
    /// lock only to write them.
    Sink(&'e mut Sink),
}

impl Out<'_> {
    fn put(&mut self, r: FlowRecord) -> std::io::Result<()> {
        match self {
            Out::Each(emit) => emit(r),
            Out::Sink(sink) => sink.record(r),
        }
    }
}

/// Classifies every frame of `frames` (at most `limit`), passing each
/// finished flow to `out`.
///
/// With `cfg.threads == 1` the calling thread decodes and classifies.
/// With N > 1 the flows are sharded over N workers, each owning an
/// [`Engine`] with its share of `--max-flows`, by a direction-free hash
/// of the flow's ends ([`shard_of`]), so both directions of a flow meet
/// the same worker. Frames in memory ([`Frames::Chunks`], as `bench`
/// holds them), a capture file ([`Frames::Stripes`], which the workers
/// read themselves, a stripe each at a time) and a stream
/// ([`Frames::Read`]: a pipe, a gzip'd file) go in blocks: each block's frames are routed once, by
/// whichever worker is free ([`shard_of`]), and each worker then
/// classifies its own ([`blocks`]). The records are the same set for
/// every N as long as no flow is evicted for capacity (`--max-flows`);
/// only their order differs. Every worker's association table ([`Associations`])
/// learns from every announcement in capture order, so the hints are
/// those of one thread.
pub fn classify_frames(
    mut frames: Frames<'_, '_>,
    name: &Arc<str>,
    cfg: &Config,
    limit: Option<u64>,
    mut out: Out<'_>,
) -> Result<InputOutcome> {
    if cfg.threads > 1 {
        return match frames {
            Frames::Read(read) => blocks::classify(blocks::Source::Read(read), name, cfg, limit, out),
            Frames::Chunks(chunks) => blocks::classify(blocks::Source::Memory(chunks), name, cfg, limit, out),
            Frames::Stripes(s, progress) => {
                blocks::classify(blocks::Source::Stripes(s, progress), name, cfg, limit, out)
            }
        };
    }
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(cfg.flow, cfg.labeler());
    let mut assoc = cfg.associations();
    let mut n = 0u64;
    let mut last_ts = 0u64;
    let mut sink_err: Option<std::io::Error> = None;
    let report = frames.each(&mut |raw| {
        n += 1;
        // By reference: moving the view out of the `Option` copied it in
        // wide loads of fields just stored in narrow ones, and
        // store-to-load forwarding fails on those (a stall per frame).
        if let Some(v) = &decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
            last_ts = last_ts.max(v.ts_ns);
            let hint = assoc.as_mut().and_then(|a| a.observe(v));
            engine.process_hinted(v, hint.as_ref(), name, &mut |r| {
                if let Err(e) = out.put(r) {
                    sink_err.get_or_insert(e);
                }
            });
        }
        sink_err.is_none() && limit.is_none_or(|l| n < l)
    })?;
    let mut put = |r| {
        if let Err(e) = out.put(r) {
            sink_err.get_or_insert(e);
        }
    };
    // Flows already idle at the last packet end as idle, as a sweep would
    // have ended them: the same whichever worker held them.
    engine.expire(last_ts, name, &mut put);
    engine.finish(name, &mut put);
    if let Some(e) = sink_err {
        return Err(e).context("writing output");
    }
    Ok(InputOutcome {
        report,
        decode: decoder.stats().clone(),
        engine: engine.stats(),
        thread_cpu_ns: Vec::new(),
    })
}

/// One worker's records on their way to the sink, handed over
/// [`RECORDS_PER_FLUSH`] at a time: one lock per group, and bounded memory
/// when one call ends many flows at once (an expiry sweep, the end of the
/// input). Into the output sink they go formatted by the worker
/// ([`Part`]).
struct Batch<'s, 'e> {
    recs: Vec<FlowRecord>,
    part: Option<Part>,
    sink: &'s SharedSink<'e>,
}

impl<'s, 'e> Batch<'s, 'e> {
    fn new(sink: &'s SharedSink<'e>) -> Batch<'s, 'e> {
        Batch {
            recs: Vec::with_capacity(RECORDS_PER_FLUSH),
            part: sink.part(),
            sink,
        }
    }
    fn push(&mut self, r: FlowRecord) {
        self.recs.push(r);
        if self.recs.len() >= RECORDS_PER_FLUSH {
            self.flush();
        }
    }
    fn flush(&mut self) {
        if !self.recs.is_empty() {
            self.sink.write(&mut self.recs, self.part.as_mut());
        }
    }
    /// Flushes, and adds the worker's totals to the sink's.
    fn finish(mut self) {
        self.flush();
        if let Some(p) = self.part.take() {
            self.sink.absorb(p);
        }
    }
}

/// The record sink shared by worker threads: one lock per batch of
/// records, the first write error kept, and a flag the reading loops poll
/// so that everyone stops once writing failed.
struct SharedSink<'e> {
    inner: std::sync::Mutex<(Out<'e>, Option<std::io::Error>)>,
    failed: std::sync::atomic::AtomicBool,
}

/// Where finished flows go.
type Emit<'e> = dyn FnMut(FlowRecord) -> std::io::Result<()> + Send + 'e;

impl<'e> SharedSink<'e> {
    fn new(out: Out<'e>) -> SharedSink<'e> {
        SharedSink {
            inner: std::sync::Mutex::new((out, None)),
            failed: std::sync::atomic::AtomicBool::new(false),
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, (Out<'e>, Option<std::io::Error>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// A worker's [`Part`] when records go to the output sink.
    fn part(&self) -> Option<Part> {
        match &self.lock().0 {
            Out::Sink(s) => Some(s.part()),
            Out::Each(_) => None,
        }
    }
    fn fail(&self, err: &mut Option<std::io::Error>, e: std::io::Error) {
        err.get_or_insert(e);
        self.failed.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    /// Writes (drains) `recs` under one lock; after an error the rest are
    /// dropped. With a `part`, they are formatted and tallied into it
    /// first, outside the lock.
    fn write(&self, recs: &mut Vec<FlowRecord>, part: Option<&mut Part>) {
        if let Some(p) = part {
            if self.failed() {
                recs.clear();
                return;
            }
            let mut made = Ok(());
            for r in recs.drain(..) {
                if made.is_ok() {
                    made = p.add(&r);
                }
            }
            let mut g = self.lock();
            let (out, err) = &mut *g;
            if err.is_some() {
                // Another worker's write failed meanwhile: nothing more
                // goes out, and the part must not grow.
                p.clear();
                return;
            }
            let wrote = match (made, out) {
                (Ok(()), Out::Sink(s)) => s.take(p),
                (Ok(()), Out::Each(_)) => Ok(()),
                (Err(e), _) => Err(e),
            };
            if let Err(e) = wrote {
                self.fail(err, e);
            }
            return;
        }
        let mut g = self.lock();
        let (out, err) = &mut *g;
        for r in recs.drain(..) {
            if err.is_none() {
                if let Err(e) = out.put(r) {
                    self.fail(err, e);
                }
            }
        }
    }
    /// Adds a finished worker's totals.
    fn absorb(&self, p: Part) {
        if let Out::Sink(s) = &mut self.lock().0 {
            s.absorb(p);
        }
    }
    fn failed(&self) -> bool {
        self.failed.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// The first write error, if any.
    fn finish(&self) -> Result<()> {
        match self.inner.lock().unwrap_or_else(|p| p.into_inner()).1.take() {
            Some(e) => Err(e).context("writing output"),
            None => Ok(()),
        }
    }
}

/// Each of `cfg.threads` workers holds its share of `--max-flows`.
fn worker_flow_config(cfg: &Config) -> FlowConfig {
    let mut flow = cfg.flow;
    flow.max_flows = flow.max_flows.div_ceil(cfg.threads.max(1)).max(1);
    flow
}

/// A copy of the input's name for one worker: every record holds a
/// reference to it, and workers counting references on one shared `Arc`
/// would take its cache line from each other at every record.
fn own_name(name: &Arc<str>) -> Arc<str> {
    Arc::from(&**name)
}

/// Records a worker collects before taking the sink lock.
const RECORDS_PER_FLUSH: usize = 256;

/// The routing step for a plain frame (see [`fast_l4`]): the worker that
/// owns its flow, and the frame's association hint (the table must see
/// every packet, whoever owns it). `None` when the frame needs the full
/// decoder (fragments, tunnels, other link types, non-IP).
#[inline]
pub fn route_plain(
    raw: &RawPacket<'_>,
    assoc: Option<&mut Associations>,
    workers: usize,
) -> Option<(usize, Option<AssocHint>)> {
    let (tuple, payload) = fast_l4(LinkType(raw.linktype), raw.data)?;
    let hint = assoc.and_then(|a| shard::observe_plain(a, raw, tuple, payload));
    Some((shard_of(&tuple, workers), hint))
}

/// Worker index for a packet: a hash of what both directions of a flow
/// share, so both go to the same worker. That is the sums of the two ends'
/// addresses and of their ports, not a canonical (ordered) key: a sum is
/// the same either way round and costs no comparison of two 16-byte
/// addresses. Fixed seed: the same flow goes to the same worker on every
/// run.
#[inline]
pub fn shard_of(t: &Tuple, workers: usize) -> usize {
    use std::hash::BuildHasher;
    let ends = u128::from_ne_bytes(t.src.0).wrapping_add(u128::from_ne_bytes(t.dst.0));
    let ports = u32::from(t.sport) + u32::from(t.dport);
    let h = foldhash::fast::FixedState::with_seed(0x6261_696b_616c).hash_one((ends, ports, t.proto));
    // Multiply-shift: uniform over 0..workers without a division.
    ((u128::from(h) * workers as u128) >> 64) as usize
}

#[cfg(test)]
mod shard_tests {
    use super::*;
    use baikal_classifier::decode::Addr;
    use std::hash::BuildHasher;

    /// The `i`th of a fixed sequence of well-mixed numbers.
    fn mixed(i: u64, salt: u64) -> u64 {
        foldhash::fast::FixedState::with_seed(salt).hash_one(i)
    }

    fn v4(x: u64) -> Addr {
        Addr::from_v4((x as u32).to_be_bytes())
    }

    fn v6(x: u64, y: u64) -> Addr {
        let mut a = [0u8; 16];
        a[..8].copy_from_slice(&x.to_be_bytes());
        a[8..].copy_from_slice(&y.to_be_bytes());
        Addr::from_v6(a)
    }

    fn tuple(src: Addr, sport: u16, dst: Addr, dport: u16, proto: u8) -> Tuple {
        Tuple {
            src,
            dst,
            sport,
            dport,
            proto,
        }
    }

    /// Flows of four kinds: random IPv4 and IPv6 ends, one client to one
    /// server from successive ports, many clients to one server port.
    fn patterns() -> Vec<(&'static str, Vec<Tuple>)> {
        let n = 20_000u64;
        let random4 = (0..n)
            .map(|i| {
                let (a, b) = (mixed(i, 1), mixed(i, 2));
                tuple(
                    v4(a),
                    a as u16,
                    v4(b),
                    (b >> 40) as u16,
                    if i % 2 == 0 { 6 } else { 17 },
                )
            })
            .collect();
        let random6 = (0..n)
            .map(|i| {
                tuple(
                    v6(0x2001_0db8 << 32, mixed(i, 3)),
                    50_000,
                    v6(0x2a00 << 48, mixed(i, 4)),
                    443,
                    17,
                )
            })
            .collect();
        let ports = (0..n)
            .map(|i| tuple(v4(0x0a00_0001), 1024 + i as u16, v4(0x0102_0304), 443, 6))
            .collect();
        let clients = (0..n)
            .map(|i| tuple(v4(0x0a00_0000 + i), mixed(i, 5) as u16, v4(0x5bd8_0101), 443, 6))
            .collect();
        vec![
            ("random IPv4", random4),
            ("random IPv6", random6),
            ("successive ports", ports),
            ("many clients", clients),
        ]
    }

    #[test]
    fn both_directions_of_a_flow_go_to_one_worker() {
        for (name, flows) in patterns() {
            for workers in 1..=9 {
                for t in &flows {
                    let back = tuple(t.dst, t.dport, t.src, t.sport, t.proto);
                    let w = shard_of(t, workers);
                    assert!(w < workers, "{name}: {w} of {workers}");
                    assert_eq!(w, shard_of(&back, workers), "{name}: {t:?}");
                }
            }
        }
    }

    #[test]
    fn flows_spread_evenly_over_the_workers() {
        for (name, flows) in patterns() {
            for workers in [2, 3, 4, 8, 16] {
                let mut per = vec![0usize; workers];
                for t in &flows {
                    per[shard_of(t, workers)] += 1;
                }
                let mean = flows.len() / workers;
                // 20,000 flows: 15% of the mean is over five standard
                // deviations of a fair spread at 16 workers.
                for (w, &n) in per.iter().enumerate() {
                    assert!(
                        n.abs_diff(mean) <= mean * 15 / 100,
                        "{name}, {workers} workers: worker {w} has {n} (mean {mean}): {per:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_protocol_and_every_part_of_the_ends_count() {
        let t = tuple(v4(0x0a00_0001), 40_000, v4(0x0102_0304), 443, 6);
        let moved = [
            tuple(v4(0x0a00_0002), 40_000, v4(0x0102_0304), 443, 6),
            tuple(v4(0x0a00_0001), 40_001, v4(0x0102_0304), 443, 6),
            tuple(v4(0x0a00_0001), 40_000, v4(0x0102_0305), 443, 6),
            tuple(v4(0x0a00_0001), 40_000, v4(0x0102_0304), 444, 6),
            tuple(v4(0x0a00_0001), 40_000, v4(0x0102_0304), 443, 17),
            tuple(v6(1, 2), 40_000, v6(3, 4), 443, 6),
        ];
        // With many workers a change of any one part moves the flow (the
        // seed is fixed, so this holds or fails the same on every run).
        let w = 1 << 10;
        for m in moved {
            assert_ne!(shard_of(&t, w), shard_of(&m, w), "{m:?}");
        }
    }
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
///
/// With `--threads N > 1` there is no reader thread: N threads each open
/// their own socket in one AF_PACKET fanout group in hash mode (the kernel
/// sends both directions of a flow to the same socket, and reassembles
/// fragments first), and each decodes and classifies what its socket gets.
#[cfg(target_os = "linux")]
fn run_live(
    iface: &str,
    duration: Option<std::time::Duration>,
    cfg: &Config,
    sink: &mut Sink,
    sum: &mut Summary,
) -> Result<()> {
    use capture::live::LiveOptions;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Mutex;

    install_ctrlc()?;
    let name: Arc<str> = Arc::from(iface);
    let threads = cfg.threads.max(1);
    let opts = LiveOptions {
        duration,
        count: if threads == 1 { cfg.count } else { None },
        // One group per process: its id only has to differ from other
        // processes' groups on the host.
        fanout: (threads > 1).then_some(std::process::id() as u16),
        ..LiveOptions::default()
    };
    let sink = SharedSink::new(Out::Sink(sink));
    let counted = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    // One association table for all sockets: the announcing flow and the
    // flows it announces may hash to different sockets.
    let assoc = Mutex::new(cfg.associations());
    let outcomes: Vec<Result<InputOutcome>> = if threads == 1 {
        vec![live_worker(iface, &opts, cfg, &name, &sink, &assoc, &counted, &done)]
    } else {
        let flow_cfg = FlowConfig {
            max_flows: cfg.flow.max_flows.div_ceil(threads).max(1),
            ..cfg.flow
        };
        let part = Config {
            flow: flow_cfg,
            ..cfg.clone()
        };
        std::thread::scope(|scope| {
            let hs: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| live_worker(iface, &opts, &part, &name, &sink, &assoc, &counted, &done)))
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    sink.finish()?;
    let mut merged: Option<InputOutcome> = None;
    for o in outcomes {
        let o = o?;
        if let Some(w) = &o.report.warning {
            let msg = format!("{name}: {} ({} packets captured before it)", w.reason, o.report.packets);
            eprintln!("baikal: warning: {msg}");
            sum.warnings.push(msg);
        }
        match &mut merged {
            None => merged = Some(o),
            Some(m) => {
                m.report.packets += o.report.packets;
                m.report.bytes += o.report.bytes;
                m.report.stopped |= o.report.stopped;
                for sk in o.report.skipped {
                    m.report.skipped.push(sk);
                }
                m.decode.add(&o.decode);
                add_engine_stats(&mut m.engine, &o.engine);
            }
        }
    }
    // A live source has no byte offset: its warnings were printed above,
    // the rest (skips, link types, counters) is merged as for a file.
    if let Some(mut m) = merged {
        m.report.warning = None;
        m.merge_into(&name, sum);
    }
    Ok(())
}

/// One live capture socket's decode → engine → sink loop. With several,
/// `counted` and `done` share `--count` and the end among them, and
/// `assoc` the association table (locked for UDP packets only).
#[cfg(target_os = "linux")]
#[allow(clippy::too_many_arguments)]
fn live_worker(
    iface: &str,
    opts: &capture::live::LiveOptions,
    cfg: &Config,
    name: &Arc<str>,
    sink: &SharedSink<'_>,
    assoc: &std::sync::Mutex<Option<Associations>>,
    counted: &std::sync::atomic::AtomicU64,
    done: &std::sync::atomic::AtomicBool,
) -> Result<InputOutcome> {
    use capture::live::{self, LiveEvent};
    use std::sync::atomic::Ordering;

    let shared = opts.fanout.is_some();
    let name = &own_name(name);
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(cfg.flow, cfg.labeler());
    let mut out = Batch::new(sink);
    // Expiry runs on the ticks, at most once a second.
    let mut next_expire = 0u64;
    let rep = live::capture_events(iface, opts, &STOP, &mut |ev| {
        match ev {
            LiveEvent::Packet(raw) => {
                if shared {
                    // `--count` over all the sockets of the group.
                    if cfg.count.is_some_and(|c| counted.fetch_add(1, Ordering::Relaxed) >= c) {
                        done.store(true, Ordering::Relaxed);
                        return false;
                    }
                }
                if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
                    let hint = if v.tuple.proto == baikal_classifier::decode::ipproto::UDP {
                        let mut a = assoc.lock().unwrap_or_else(|p| p.into_inner());
                        a.as_mut().and_then(|a| a.observe(&v))
                    } else {
                        None
                    };
                    engine.process_hinted(&v, hint.as_ref(), name, &mut |r| out.push(r));
                }
            }
            LiveEvent::Tick(now) => {
                if now >= next_expire {
                    // A sweep can end many flows: they go in groups.
                    engine.expire(now, name, &mut |r| out.push(r));
                    next_expire = now.saturating_add(1_000_000_000);
                }
            }
        }
        // Records go out at once with one socket, in groups with several
        // (each group takes the sink lock once).
        if !shared {
            out.flush();
        }
        if shared && cfg.count.is_some_and(|c| counted.load(Ordering::Relaxed) >= c) {
            done.store(true, Ordering::Relaxed);
        }
        !sink.failed() && !done.load(Ordering::Relaxed)
    });
    // Whichever socket stopped first (an error, the count), the others stop too.
    done.store(true, Ordering::Relaxed);
    let rep = rep?;
    engine.finish(name, &mut |r| out.push(r));
    // The caller reports a write error (`SharedSink::finish`).
    out.finish();
    Ok(InputOutcome {
        report: rep,
        decode: decoder.stats().clone(),
        engine: engine.stats(),
        thread_cpu_ns: Vec::new(),
    })
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

/// What the threaded path's unit tests share (`blocks`).
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::sync::Mutex;

    /// The built-in rules, `threads` threads, defaults otherwise.
    pub fn config(threads: usize) -> Config {
        Config {
            flow: FlowConfig::default(),
            rules: Some(Arc::new(baikal_classifier::rules::Rules::defaults().unwrap())),
            count: None,
            progress: false,
            threads,
        }
    }

    /// The bundled demo capture.
    pub fn demo() -> Input {
        Input::File(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/demo.pcap"))
    }

    /// Sorted JSON records and the outcome of classifying `frames` with
    /// `threads` threads.
    pub fn sorted_records(frames: Frames<'_, '_>, threads: usize, limit: Option<u64>) -> (Vec<String>, InputOutcome) {
        let name: Arc<str> = Arc::from("demo");
        let recs = Mutex::new(Vec::new());
        let out = classify_frames(
            frames,
            &name,
            &config(threads),
            limit,
            Out::Each(&mut |r| {
                recs.lock().unwrap().push(serde_json::to_string(&r).unwrap());
                Ok(())
            }),
        )
        .unwrap();
        let mut v = recs.into_inner().unwrap();
        v.sort();
        (v, out)
    }

    /// Classifies `frames` into a sink whose every write fails: the error
    /// comes back, and nothing is written after the first.
    pub fn a_failing_sink_stops_everyone(frames: Frames<'_, '_>, threads: usize) {
        let name: Arc<str> = Arc::from("demo");
        let mut written = 0;
        let err = classify_frames(
            frames,
            &name,
            &config(threads),
            None,
            Out::Each(&mut |_| {
                written += 1;
                Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed"))
            }),
        )
        .err()
        .expect("the write error comes back");
        assert!(format!("{err:#}").contains("closed"), "{err:#}");
        assert_eq!(written, 1, "nothing is written after the first error");
    }

    /// A writer that fails every write, counting them.
    struct Closed(Arc<std::sync::atomic::AtomicUsize>);

    impl std::io::Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// [`a_failing_sink_stops_everyone`] for the output sink, where each
    /// worker formats its own records ([`Part`]): the error comes back and
    /// no worker writes after it.
    pub fn a_failing_output_stops_everyone(frames: Frames<'_, '_>, threads: usize) {
        let name: Arc<str> = Arc::from("demo");
        let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut sink = Sink::new(crate::output::Format::Jsonl, Box::new(Closed(Arc::clone(&writes))));
        let err = classify_frames(frames, &name, &config(threads), None, Out::Sink(&mut sink))
            .err()
            .expect("the write error comes back");
        assert!(format!("{err:#}").contains("closed"), "{err:#}");
        assert_eq!(
            writes.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "nothing is written after the first error"
        );
    }
}
