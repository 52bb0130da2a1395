//! `--threads N` over frames in memory (`bench`), over a capture file,
//! and over a stream read once (a pipe, a gzip'd file): the input in
//! blocks, each block routed once by whichever worker is free, and each
//! worker classifying its own flows.
//!
//! The input is a sequence of [`Chunk`]s: the frames `bench` holds in
//! memory, stripes of a file that the workers read themselves (see
//! below), or chunks the calling thread fills as it reads a stream. A
//! chunk is cut into blocks of at most [`BLOCK_FRAMES`] frames and
//! [`BLOCK_BYTES`] bytes. A worker *scans* a block: for every frame a
//! header-only 5-tuple ([`fast_l4`]) and the shard hash ([`shard_of`]),
//! which put the frame on the list of the worker that owns its flow. Every
//! worker then walks the blocks in capture order and decodes and classifies
//! the frames on its own list.
//!
//! Who scans is not fixed: a worker that finds the next block it needs
//! unscanned, or that has fewer than N blocks scanned ahead of it, scans
//! the next unscanned one. So scanning, the one step done once per frame
//! for all workers, is spread over all of them, and a worker with fewer
//! packets of its own scans more. Blocks are small so that the owner finds
//! a frame still in cache after its scan. At most [`blocks_ahead`] blocks
//! are in flight, which bounds memory when reading a stream: then the
//! calling thread is worker 0 too, and works whenever the blocks in flight
//! are at that limit instead of waiting (no thread only reads).
//!
//! Two kinds of frame are on a shared list that every worker walks too:
//! - frames [`fast_l4`] cannot read (fragments, tunnels, other link types):
//!   every worker decodes them with a decoder of its own, so each one
//!   reassembles the same datagrams, and classifies those of its flows
//!   (only worker 0 counts them in the decode statistics);
//! - TURN permission requests ([`Associations::announces`]): every worker
//!   runs its own association table and learns from these in capture
//!   order; its own packets only look the table up. So each worker's
//!   hints are those of the single table of a one-thread run.
//!
//! Each worker's engine keeps the capture's clock, the latest timestamp so
//! far, by which flows time out: the frames it walks move it, the scan
//! notes where a frame is older than the block's frames before it
//! ([`Routes::clocks`]), and each block walked moves it to the block's
//! latest timestamp. So at each of its frames a worker's clock is the one
//! a single thread would have.
//!
//! The records are therefore the same set for every N (their order
//! differs), as long as no flow is evicted for capacity.
//!
//! A capture file (pcap or pcapng, not gzip'd) has no reading thread: a
//! worker that would scan the next block reads it first, as the next
//! stripe of the file ([`STRIPE_BYTES`] of it, [`Stripes`], with `pread`),
//! straight into the chunk the block's frames stay in. Workers read their
//! stripes at the same time; what goes stripe by stripe, in order, is only
//! the walk over the records that finds where the next stripe's first
//! record starts ([`read_stripe`]). The worker then lists the stripe's
//! frames and routes each as it lists it ([`Scanner`]): the frame's
//! headers follow its record header, in the same or the next cache line.
//! So reading is spread over the workers like the scan, no frame is
//! copied after `pread`, and nothing is done once per frame by one thread
//! but that walk. On two cores this took 0.37 s against 0.415 s for the
//! design before it, where the calling thread read the file, routed every
//! frame and copied the others' frames to them (16 alternating rounds,
//! docs/PERFORMANCE.md). A stream's reader
//! may have a decompressor to run, and shares the routing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use anyhow::Result;
use baikal_capture::{self as capture, RawPacket, ReadReport, Stripes};
use baikal_classifier::assoc::Associations;
use baikal_classifier::decode::{fast_l4, LinkType};
use baikal_classifier::record::FlowRecord;

use super::shard::{merge, Leftovers, Member, Outcome, Shard};
use super::{
    shard_of, thread_cpu_ns, worker_flow_config, Batch, Chunk, ChunkFrame, Config, InputOutcome, Out, ReadFn,
    SharedSink,
};

/// Where the chunks come from.
pub enum Source<'a, 's> {
    /// Frames already in memory (`bench`).
    Memory(&'a [Arc<Chunk>]),
    /// A capture reader: the calling thread copies its frames into chunks.
    Read(&'a mut ReadFn<'s>),
    /// A capture file, read in stripes by the workers themselves: see
    /// [`read_stripe`]. `progress` hears the packets read so far.
    Stripes(&'a Stripes, &'a Progress<'a>),
}

/// Told the number of packets read so far.
pub type Progress<'p> = dyn Fn(u64) + Sync + 'p;

/// Blocks in flight (read or scanned, not yet done by every worker).
pub fn blocks_ahead(workers: usize) -> usize {
    16 * workers + 8
}

/// A block is at most this many frames...
const BLOCK_FRAMES: usize = 512;
/// ... and this many bytes of frames: small enough that its frames are
/// still in cache (L2) when their owner gets to them, large enough that
/// the lock is taken once per hundreds of frames.
const BLOCK_BYTES: usize = 192 << 10;

/// Bytes of frames read and not yet done by every worker beyond which no
/// more are read (a file's stripes, a stream's chunks), once every worker
/// has a block: blocks in flight are counted too ([`blocks_ahead`]), but a
/// block holds one frame of up to 16 MiB at worst, and a file of such
/// records must not cost N times that.
const BYTES_AHEAD: usize = 32 << 20;

/// A stripe of a file read by a worker (`Source::Stripes`) is one block:
/// this many bytes of the file.
pub const STRIPE_BYTES: usize = BLOCK_BYTES;

/// Splits frames `lo..hi` of `c` into blocks.
fn block_ranges(c: &Chunk, lo: usize, hi: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let max = BLOCK_FRAMES;
    let mut start = lo;
    std::iter::from_fn(move || {
        if start >= hi {
            return None;
        }
        let first = start;
        let mut bytes = 0usize;
        while start < hi && start - first < max {
            let len = c.frames.get(start).map_or(0, |f| f.len);
            if start > first && bytes + len > BLOCK_BYTES {
                break;
            }
            bytes += len;
            start += 1;
        }
        Some((first, start))
    })
}

/// Marks an entry of [`Routes::shared`] as a frame for the full decoder.
const ODD: u32 = 1 << 31;

/// A chunk after its scan.
struct Block {
    chunk: Arc<Chunk>,
    routes: Routes,
    /// Workers yet to walk the block.
    left: AtomicUsize,
    /// Bytes counted against [`BYTES_AHEAD`] while the block is in flight.
    bytes: usize,
}

/// What the scan of a block finds ([`Scanner`]).
struct Routes {
    /// Per worker, the plain frames of its flows (indices in the chunk),
    /// ascending.
    mine: Vec<Vec<u32>>,
    /// Frames for every worker, ascending: [`ODD`] ones and announcements.
    shared: Vec<u32>,
    /// The latest timestamp of the block's plain frames.
    max_ts: u64,
    /// (frame, clock), ascending: a plain frame older than the latest of
    /// the block's plain frames before it, and that latest timestamp.
    clocks: Vec<(u32, u64)>,
}

enum Slot {
    Scanning,
    Ready(Arc<Block>),
}

/// What the workers (and the reading thread) share, under one lock.
struct Line {
    /// Blocks read and not yet claimed for a scan (`Source::Read`): a
    /// chunk and a range of its frames.
    unscanned: VecDeque<(Arc<Chunk>, usize, usize, usize)>,
    /// Bytes of the blocks read and not retired yet (`Source::Read` and
    /// `Source::Stripes`; frames in memory are there anyway).
    bytes: usize,
    /// Block `base + i` is `slots[i]`.
    slots: VecDeque<Slot>,
    base: u64,
    /// The next block to claim for a scan.
    next: u64,
    /// The number of blocks, once known.
    end: Option<u64>,
    /// A worker (or the calling thread) panicked: everyone stops.
    stop: bool,
    /// Emptied chunks for the reader to fill again.
    spare: Vec<Chunk>,
    /// `Source::Memory`: the blocks, as (chunk, first frame, end frame)
    /// (a limit cuts the input short), and the totals published so far.
    mem: Vec<(usize, usize, usize)>,
    packets: u64,
    wire_bytes: u64,
    cut: bool,
    /// `Source::Stripes`: the next stripe to cut, where its first record
    /// starts and what the records before said (`None`: reading has
    /// ended), and what the cuts so far found (its `stopped` is `cut`).
    cut_next: u64,
    cut_at: Option<capture::Resume>,
    read: ReadReport,
}

struct Shared<'m, 'e> {
    line: Mutex<Line>,
    changed: Condvar,
    workers: usize,
    sink: SharedSink<'e>,
    memory: Option<&'m [Arc<Chunk>]>,
    stripes: Option<(&'m Stripes, &'m Progress<'m>)>,
    /// `Source::Stripes`: at most this many packets (at least one).
    limit: u64,
}

impl<'m> Shared<'m, '_> {
    fn lock(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims the next block to scan, if there is one and room for it.
    fn claim(&self, g: &mut Line) -> Option<(u64, Claim<'m>)> {
        if g.next - g.base >= blocks_ahead(self.workers) as u64 {
            return None;
        }
        if let Some((stripes, progress)) = self.stripes {
            if g.end.is_some() {
                return None;
            }
            if g.bytes >= BYTES_AHEAD && g.next - g.base >= self.workers as u64 {
                return None;
            }
            if g.next >= stripes.count() || self.sink.failed() {
                g.cut |= self.sink.failed();
                g.end = Some(g.next);
                self.changed.notify_all();
                return None;
            }
            let seq = g.next;
            g.next += 1;
            g.slots.push_back(Slot::Scanning);
            let chunk = g.spare.pop().unwrap_or_default();
            return Some((seq, Claim::Stripe(chunk, stripes, progress)));
        }
        let (chunk, lo, hi) = match self.memory {
            Some(chunks) => {
                if g.end.is_some() {
                    return None;
                }
                let failed = self.sink.failed();
                let spot = g.mem.get(g.next as usize).copied().filter(|_| !failed);
                let Some((i, lo, hi)) = spot else {
                    g.cut |= failed;
                    g.end = Some(g.next);
                    self.changed.notify_all();
                    return None;
                };
                (Arc::clone(chunks.get(i)?), lo, hi)
            }
            None => {
                let (chunk, lo, hi, bytes) = g.unscanned.pop_front()?;
                let seq = g.next;
                g.next += 1;
                g.slots.push_back(Slot::Scanning);
                return Some((seq, Claim::Frames(chunk, lo, hi, bytes)));
            }
        };
        let seq = g.next;
        g.next += 1;
        g.slots.push_back(Slot::Scanning);
        Some((seq, Claim::Frames(chunk, lo, hi, 0)))
    }

    /// Drops the blocks every worker is done with from the front.
    fn retire(&self, g: &mut Line) {
        while let Some(Slot::Ready(b)) = g.slots.front() {
            if b.left.load(Ordering::Acquire) != 0 {
                break;
            }
            if let Some(Slot::Ready(b)) = g.slots.pop_front() {
                g.base += 1;
                g.bytes -= b.bytes;
                if let Ok(b) = Arc::try_unwrap(b) {
                    if let Ok(mut c) = Arc::try_unwrap(b.chunk) {
                        if self.stripes.is_some() {
                            // Every stripe's buffer is used again as it
                            // is, not zeroed again (`Stripes::fill`), but
                            // for one a long record made large.
                            if c.data.len() <= 2 * STRIPE_BYTES {
                                c.frames.clear();
                                g.spare.push(c);
                            }
                        } else if g.spare.len() < 4 {
                            c.clear();
                            g.spare.push(c);
                        }
                    }
                }
            }
        }
        self.changed.notify_all();
    }
}

/// A block claimed for its scan.
enum Claim<'m> {
    /// Frames `lo..hi` of a chunk, and their bytes if they count against
    /// [`BYTES_AHEAD`].
    Frames(Arc<Chunk>, usize, usize, usize),
    /// A stripe of the file, to read into this chunk first.
    Stripe(Chunk, &'m Stripes, &'m Progress<'m>),
}

/// Reads stripe `seq` into `c` and finds its frames: the bytes at once
/// with the other workers' stripes, then, once the stripe before is cut,
/// where its records end ([`Stripes::hop`], a walk over their lengths in
/// memory, the one step taken stripe by stripe), then the frames
/// ([`Stripes::frames`]), each routed as it is listed: the block, and
/// its bytes on the wire.
/// `None` when the stripe comes after the end of the reading, or
/// everyone stops.
fn read_stripe(
    sh: &Shared<'_, '_>,
    stripes: &Stripes,
    progress: &Progress<'_>,
    seq: u64,
    mut c: Chunk,
    assoc: bool,
) -> Option<(Block, Scanned)> {
    let filled = stripes.fill(seq, &mut c.data);
    let mut g = sh.lock();
    while g.cut_next != seq {
        if g.stop || g.end.is_some_and(|e| seq >= e) {
            return None;
        }
        g = sh.changed.wait(g).unwrap_or_else(|p| p.into_inner());
    }
    let left = sh.limit - g.read.packets;
    let first = g.cut_at.take()?;
    drop(g);
    let cut = stripes.hop(seq, &mut c.data, filled, &first, left);
    let mut g = sh.lock();
    let ended = cut.next.is_none();
    g.cut_next = seq + 1;
    g.cut_at = cut.next;
    g.read.packets += cut.packets;
    g.read.bytes += cut.bytes;
    g.read.merge_skipped(&cut.skipped);
    g.cut |= cut.stopped;
    if cut.warning.is_some() {
        g.read.warning = cut.warning;
    }
    if ended {
        g.end = Some(g.end.map_or(seq + 1, |e| e.min(seq + 1)));
    }
    g.bytes += c.data.len();
    progress(g.read.packets);
    sh.changed.notify_all();
    drop(g);
    let (data, frames) = (&c.data, &mut c.frames);
    let mut scan = Scanner::new(cut.packets as usize, sh.workers, assoc);
    stripes.frames(seq, data, &first, cut.packets, &mut |f| {
        let i = frames.len() as u32;
        let frame = ChunkFrame {
            ts_ns: f.ts_ns,
            wire_len: f.wire_len,
            linktype: f.linktype,
            off: f.off,
            len: f.len,
        };
        scan.frame(i, &frame.raw(data));
        frames.push(frame);
    });
    let bytes = c.data.len();
    Some(scan.block(Arc::new(c), bytes))
}

/// Routes frames `lo..hi` of `chunk`, which hold `bytes` counted against
/// [`BYTES_AHEAD`].
fn scan(chunk: Arc<Chunk>, lo: usize, hi: usize, bytes: usize, workers: usize, assoc: bool) -> (Block, Scanned) {
    let mut s = Scanner::new(hi - lo, workers, assoc);
    for (i, f) in chunk.frames.iter().enumerate().take(hi).skip(lo) {
        chunk.prefetch(i + crate::prefetch::AHEAD, crate::prefetch::LINE);
        s.frame(i as u32, &chunk.raw(f));
    }
    s.block(chunk, bytes)
}

/// Routes the frames of a block, one at a time and in order: the scan of
/// frames in memory, and of a stripe as its frames are listed (the bytes
/// of each are in cache then, just after its record header).
struct Scanner {
    workers: usize,
    assoc: bool,
    routes: Routes,
    wire: u64,
    frames: u64,
}

impl Scanner {
    /// For about `frames` frames.
    fn new(frames: usize, workers: usize, assoc: bool) -> Scanner {
        let per = frames / workers + 64;
        Scanner {
            workers,
            assoc,
            routes: Routes {
                mine: (0..workers).map(|_| Vec::with_capacity(per)).collect(),
                shared: Vec::new(),
                max_ts: 0,
                clocks: Vec::new(),
            },
            wire: 0,
            frames: 0,
        }
    }

    /// Routes frame `i` of the block's chunk.
    #[inline]
    fn frame(&mut self, i: u32, raw: &RawPacket<'_>) {
        self.frames += 1;
        self.wire += u64::from(raw.wire_len);
        let r = &mut self.routes;
        match fast_l4(LinkType(raw.linktype), raw.data) {
            Some((t, payload)) => {
                if raw.ts_ns < r.max_ts {
                    r.clocks.push((i, r.max_ts));
                }
                r.max_ts = r.max_ts.max(raw.ts_ns);
                if self.assoc && Associations::announces(t.proto, payload) {
                    r.shared.push(i);
                } else if let Some(m) = r.mine.get_mut(shard_of(&t, self.workers)) {
                    m.push(i);
                }
            }
            None => r.shared.push(i | ODD),
        }
    }

    /// The block of `chunk`'s frames routed so far, which hold `bytes`
    /// counted against [`BYTES_AHEAD`], and what they add to the totals.
    fn block(self, chunk: Arc<Chunk>, bytes: usize) -> (Block, Scanned) {
        let block = Block {
            chunk,
            routes: self.routes,
            left: AtomicUsize::new(self.workers),
            bytes,
        };
        let scanned = Scanned {
            frames: self.frames,
            wire: self.wire,
        };
        (block, scanned)
    }
}

/// The frames of a scanned block, and their bytes on the wire.
struct Scanned {
    frames: u64,
    wire: u64,
}

/// One worker: its [`Shard`], and where it is in the line of blocks.
struct Worker {
    s: Shard,
    /// The latest timestamp of the blocks walked so far.
    last_ts: u64,
    /// The next block to walk.
    k: u64,
}

impl Worker {
    /// Walks `b`: its own frames and the shared ones, in capture order.
    fn walk(&mut self, b: &Block, out: &mut dyn FnMut(FlowRecord)) {
        let r = &b.routes;
        self.last_ts = self.last_ts.max(r.max_ts);
        let chunk = &*b.chunk;
        let mut shared = r.shared.iter().copied().peekable();
        let mut clocks = r.clocks.iter().peekable();
        // The clock before frame `i`: what the block's frames before it
        // moved it to.
        let mut catch_up = |s: &mut Shard, i: u32| {
            while let Some(&(_, clock)) = clocks.next_if(|&&(at, _)| at <= i) {
                s.advance_clock(clock);
            }
        };
        let mine = r.mine.get(self.s.me).map(Vec::as_slice).unwrap_or_default();
        for (k, &i) in mine.iter().enumerate() {
            // The frame's headers and the start of its payload, for its
            // decode and dissectors: about half of them another core read
            // and scanned.
            if let Some(&ahead) = mine.get(k + crate::prefetch::AHEAD) {
                chunk.prefetch(ahead as usize, 2 * crate::prefetch::LINE);
            }
            while let Some(e) = shared.next_if(|e| e & !ODD < i) {
                catch_up(&mut self.s, e & !ODD);
                self.shared_frame(chunk, e, out);
            }
            if let Some(f) = chunk.frames.get(i as usize) {
                catch_up(&mut self.s, i);
                self.s.own(&chunk.raw(f), out);
            }
        }
        for e in shared {
            catch_up(&mut self.s, e & !ODD);
            self.shared_frame(chunk, e, out);
        }
        // The next block's frames all come after this one's.
        self.s.advance_clock(r.max_ts);
    }

    fn shared_frame(&mut self, chunk: &Chunk, e: u32, out: &mut dyn FnMut(FlowRecord)) {
        let Some(f) = chunk.frames.get((e & !ODD) as usize) else {
            return;
        };
        let raw = chunk.raw(f);
        if e & ODD != 0 {
            if let Some(ts) = self.s.odd(&raw, out) {
                self.last_ts = self.last_ts.max(ts);
            }
        } else {
            self.s.announce(&raw, out);
        }
    }
}

/// Sets `stop` if its worker unwinds, so that nobody waits for it.
struct StopOnPanic<'a, 'm, 'e>(&'a Shared<'m, 'e>);

impl Drop for StopOnPanic<'_, '_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().stop = true;
            self.0.changed.notify_all();
        }
    }
}

/// What [`step`] did.
enum Step<'g> {
    /// Scanned a block or walked one.
    Progress,
    /// Nothing to do now: wait on the guard for a change.
    Idle(MutexGuard<'g, Line>),
    /// Every block walked, or everyone stops.
    Done,
}

/// One step of worker `w`, starting under the lock: scan the next
/// unscanned block when the block it needs is not scanned yet or fewer
/// than N are scanned ahead of it, else walk its next block.
fn step<'g>(
    sh: &'g Shared<'_, '_>,
    mut g: MutexGuard<'g, Line>,
    w: &mut Worker,
    out: &mut dyn FnMut(FlowRecord),
) -> Step<'g> {
    if g.stop {
        return Step::Done;
    }
    let k = w.k;
    let ready = match k.checked_sub(g.base).and_then(|i| g.slots.get(i as usize)) {
        Some(Slot::Ready(b)) => Some(Arc::clone(b)),
        _ => None,
    };
    if ready.is_none() || g.next < k + sh.workers as u64 {
        if let Some((seq, claim)) = sh.claim(&mut g) {
            drop(g);
            let assoc = w.s.associates();
            let (b, scanned) = match claim {
                Claim::Frames(chunk, lo, hi, bytes) => scan(chunk, lo, hi, bytes, sh.workers, assoc),
                Claim::Stripe(c, stripes, progress) => {
                    match read_stripe(sh, stripes, progress, seq, c, assoc) {
                        Some(b) => b,
                        // After the end: the slot is never walked.
                        None => return Step::Progress,
                    }
                }
            };
            let mut g = sh.lock();
            g.packets += scanned.frames;
            g.wire_bytes += scanned.wire;
            if let Some(s) = seq.checked_sub(g.base).and_then(|i| g.slots.get_mut(i as usize)) {
                *s = Slot::Ready(Arc::new(b));
            }
            sh.changed.notify_all();
            return Step::Progress;
        }
    }
    let Some(b) = ready else {
        if g.end.is_some_and(|e| k >= e) {
            return Step::Done;
        }
        return Step::Idle(g);
    };
    drop(g);
    if !sh.sink.failed() {
        w.walk(&b, out);
    }
    let last = b.left.fetch_sub(1, Ordering::AcqRel) == 1;
    drop(b);
    if last {
        sh.retire(&mut sh.lock());
    }
    w.k += 1;
    Step::Progress
}

/// Runs worker `w` to the end of the input, then ends its flows (their
/// records made with the others through `m`).
fn work(sh: &Shared<'_, '_>, w: &mut Worker, m: Member<'_>, out: &mut dyn FnMut(FlowRecord)) {
    loop {
        match step(sh, sh.lock(), w, out) {
            Step::Progress => {}
            Step::Idle(g) => drop(sh.changed.wait(g).unwrap_or_else(|p| p.into_inner())),
            Step::Done => break,
        }
    }
    // Every worker saw every block: the same last timestamp.
    if !sh.lock().stop {
        w.s.finish(w.last_ts, m, out);
    }
}

/// Classifies `src` with `cfg.threads` workers; see the module doc.
pub fn classify(
    src: Source<'_, '_>,
    name: &Arc<str>,
    cfg: &Config,
    limit: Option<u64>,
    out: Out<'_>,
) -> Result<InputOutcome> {
    let workers = cfg.threads.max(1);
    let flow_cfg = worker_flow_config(cfg);
    let (memory, read, stripes) = match src {
        Source::Memory(c) => (Some(c), None, None),
        Source::Read(r) => (None, Some(r), None),
        Source::Stripes(s, p) => (None, None, Some((s, p))),
    };
    // The blocks of the chunks in memory: a limit (`-c`) cuts the input
    // short, and the report says it stopped, as a reader told to stop would.
    let mut mem = Vec::new();
    let mut cut = false;
    if let Some(chunks) = memory {
        let mut left = limit.unwrap_or(u64::MAX);
        for (i, c) in chunks.iter().enumerate() {
            let take = (c.len() as u64).min(left) as usize;
            left -= take as u64;
            mem.extend(block_ranges(c, 0, take).map(|(lo, hi)| (i, lo, hi)));
        }
        cut = limit.is_some() && left == 0;
    }
    let sh = Shared {
        line: Mutex::new(Line {
            unscanned: VecDeque::new(),
            bytes: 0,
            slots: VecDeque::new(),
            base: 0,
            next: 0,
            end: None,
            stop: false,
            spare: Vec::new(),
            mem,
            packets: 0,
            wire_bytes: 0,
            cut,
            cut_next: 0,
            cut_at: stripes.map(|(s, _)| s.first()),
            read: ReadReport {
                format: stripes.map_or("", |(s, _)| s.format()).into(),
                ..ReadReport::default()
            },
        }),
        changed: Condvar::new(),
        workers,
        sink: SharedSink::new(out),
        memory,
        stripes,
        // As one thread: the packet that reaches the limit is the last,
        // and a limit of 0 takes one.
        limit: limit.map_or(u64::MAX, |l| l.max(1)),
    };
    let caller_cpu0 = thread_cpu_ns();
    let leftovers = Leftovers::new(workers);
    // Every worker's place in the pool first: one that never runs still
    // leaves it (`Leftovers::member`).
    let mut ws = (0..workers)
        .map(|me| {
            let w = Worker {
                s: Shard::new(me, workers, name, cfg, flow_cfg),
                last_ts: 0,
                k: 0,
            };
            (w, leftovers.member())
        })
        .collect::<Vec<_>>()
        .into_iter();
    // A stream is read by the calling thread, which is also worker 0 (it
    // works whenever the blocks in flight are at their limit); frames in
    // memory need no reader, and every worker is spawned.
    let local = if read.is_some() { ws.next() } else { None };
    let spawned = workers - usize::from(local.is_some());
    let (read_report, outs) = std::thread::scope(|scope| {
        let sh = &sh;
        let handles: Vec<_> = ws
            .map(|(mut w, m)| {
                scope.spawn(move || -> Outcome {
                    let _guard = StopOnPanic(sh);
                    let mut out = Batch::new(&sh.sink);
                    work(sh, &mut w, m, &mut |r| out.push(r));
                    out.finish();
                    w.s.outcome(thread_cpu_ns())
                })
            })
            .collect();
        let mut outs: Vec<std::thread::Result<Outcome>> = Vec::with_capacity(workers);
        let mut report = None;
        if let (Some(read), Some((mut w0, m0))) = (read, local) {
            let _guard = StopOnPanic(sh);
            let mut out = Batch::new(&sh.sink);
            report = Some(read_into_chunks(sh, read, limit, &mut w0, &mut |r| out.push(r)));
            work(sh, &mut w0, m0, &mut |r| out.push(r));
            out.finish();
            outs.push(Ok(w0.s.outcome(None)));
        }
        outs.extend(handles.into_iter().map(|h| h.join()));
        (report, outs)
    });

    let (engine, decode, cpu) = merge(outs, caller_cpu0);
    let report = match read_report {
        Some(r) => r?,
        None if stripes.is_some() => {
            let g = sh.lock();
            ReadReport {
                stopped: g.cut,
                ..g.read.clone()
            }
        }
        None => {
            let g = sh.lock();
            ReadReport {
                format: "memory".into(),
                packets: g.packets,
                bytes: g.wire_bytes,
                stopped: g.cut,
                ..ReadReport::default()
            }
        }
    };
    sh.sink.finish()?;
    Ok(InputOutcome {
        report,
        decode,
        engine,
        // All or nothing: the calling thread, then each spawned worker.
        thread_cpu_ns: if cpu.len() == spawned + 1 { cpu } else { Vec::new() },
    })
}

/// The reading side for `Source::Read`, on the calling thread: copies
/// frames into chunks and queues their blocks; while [`blocks_ahead`] are
/// in flight it works as worker `w0` instead of waiting.
fn read_into_chunks(
    sh: &Shared<'_, '_>,
    read: &mut ReadFn<'_>,
    limit: Option<u64>,
    w0: &mut Worker,
    out: &mut dyn FnMut(FlowRecord),
) -> Result<ReadReport, capture::CaptureError> {
    let mut queued = 0u64;
    let mut cur = Some(Chunk::new());
    let mut n = 0u64;
    let rep = read(&mut |raw: &RawPacket<'_>| {
        let Some(mut c) = cur.take() else {
            return false;
        };
        if !c.fits(raw) {
            match queue(sh, c, &mut queued, w0, out) {
                Some(fresh) => c = fresh,
                None => return false,
            }
        }
        c.push(raw);
        cur = Some(c);
        n += 1;
        !sh.sink.failed() && limit.is_none_or(|l| n < l)
    });
    if let Some(c) = cur.filter(|c| !c.is_empty()) {
        queue(sh, c, &mut queued, w0, out);
    }
    // After a read error too: the frames read before it are classified.
    sh.lock().end = Some(queued);
    sh.changed.notify_all();
    rep
}

/// Queues the blocks of `c` once there is room, working as `w0` until
/// then; returns a chunk to fill next, or `None` when everyone stops.
fn queue(
    sh: &Shared<'_, '_>,
    c: Chunk,
    queued: &mut u64,
    w0: &mut Worker,
    out: &mut dyn FnMut(FlowRecord),
) -> Option<Chunk> {
    let ahead = blocks_ahead(sh.workers);
    let mut g = sh.lock();
    let full = |g: &Line| {
        let blocks = g.unscanned.len() + (g.next - g.base) as usize;
        blocks >= ahead || (g.bytes >= BYTES_AHEAD && blocks >= sh.workers)
    };
    while full(&g) {
        g = match step(sh, g, w0, out) {
            Step::Progress => sh.lock(),
            Step::Idle(g) => sh.changed.wait(g).unwrap_or_else(|p| p.into_inner()),
            Step::Done => return None,
        };
    }
    if g.stop {
        return None;
    }
    let c = Arc::new(c);
    for (lo, hi) in block_ranges(&c, 0, c.len()) {
        let bytes = c.frames[lo..hi].iter().map(|f| f.len).sum();
        g.bytes += bytes;
        g.unscanned.push_back((Arc::clone(&c), lo, hi, bytes));
        *queued += 1;
    }
    sh.changed.notify_all();
    // (A spare keeps its capacity; `Chunk::default` would have none.)
    Some(match g.spare.pop() {
        Some(c) => c,
        None => Chunk::new(),
    })
}

#[cfg(test)]
#[path = "../../tests/common/child.rs"]
mod child;

#[cfg(test)]
mod tests {
    use super::child::{rerun_alone, status_kb};
    use super::*;
    use crate::pipeline::test_support::{
        a_failing_output_stops_everyone, a_failing_sink_stops_everyone, demo, sorted_records,
    };
    use crate::pipeline::{chunks_of, classify_frames, Frames};

    fn demo_path() -> std::path::PathBuf {
        match demo() {
            capture::Input::File(p) => p,
            capture::Input::Stdin => unreachable!("the demo capture is a file"),
        }
    }

    /// The bundled demo capture, in chunks of at most `per` frames.
    fn demo_chunks(per: usize) -> Vec<Arc<Chunk>> {
        let input = demo();
        let (whole, _) = chunks_of(&mut |f| capture::read(&input, f)).unwrap();
        let mut out = Vec::new();
        let mut cur = Chunk::new();
        for c in &whole {
            c.for_each(&mut |raw| {
                if cur.len() == per {
                    out.push(Arc::new(std::mem::replace(&mut cur, Chunk::new())));
                }
                cur.push(raw);
                true
            });
        }
        out.push(Arc::new(cur));
        out
    }

    /// Sorted JSON records and the outcome of classifying `chunks`.
    fn run(chunks: &[Arc<Chunk>], threads: usize, limit: Option<u64>) -> (Vec<String>, InputOutcome) {
        sorted_records(Frames::Chunks(chunks), threads, limit)
    }

    #[test]
    fn same_records_and_counts_for_any_thread_count_and_block_size() {
        for per in [1, 7, 512, 8192] {
            let chunks = demo_chunks(per);
            let (one, o1) = run(&chunks, 1, None);
            assert!(one.len() > 20, "demo has flows");
            for threads in [2, 3, 5] {
                let (n, on) = run(&chunks, threads, None);
                assert_eq!(one, n, "{threads} threads, chunks of {per}");
                assert_eq!(o1.report.packets, on.report.packets);
                assert_eq!(o1.report.bytes, on.report.bytes);
                assert!(!on.report.stopped);
                assert_eq!(o1.decode.decoded, on.decode.decoded);
                assert_eq!(o1.engine.flows.created, on.engine.flows.created);
                assert_eq!(on.thread_cpu_ns.len(), threads + 1);
            }
        }
    }

    #[test]
    fn a_limit_cuts_the_input_where_one_thread_stops() {
        let chunks = demo_chunks(100);
        let total = run(&chunks, 1, None).1.report.packets;
        for limit in [1, 99, 100, 101, 1234, total] {
            let (one, o1) = run(&chunks, 1, Some(limit));
            let (two, o2) = run(&chunks, 2, Some(limit));
            assert_eq!(one, two, "limit {limit}");
            assert_eq!(o2.report.packets, limit.min(total), "limit {limit}");
            assert_eq!(o1.report.packets, o2.report.packets, "limit {limit}");
            assert_eq!(o2.report.stopped, limit <= total, "limit {limit}");
            assert_eq!(o1.report.stopped, o2.report.stopped, "limit {limit}");
        }
    }

    #[test]
    fn no_frames_no_records() {
        let (v, o) = run(&[], 3, None);
        assert!(v.is_empty());
        assert_eq!(o.report.packets, 0);
        let empty = [Arc::new(Chunk::new())];
        assert!(run(&empty, 2, None).0.is_empty());
    }

    #[test]
    fn a_failing_sink_stops_every_worker() {
        let chunks = demo_chunks(64);
        a_failing_sink_stops_everyone(Frames::Chunks(&chunks), 2);
        a_failing_output_stops_everyone(Frames::Chunks(&chunks), 3);
    }

    /// Sorted records and the outcome of classifying the capture at
    /// `path`: in stripes of `size` bytes with `threads` threads, or with
    /// the sequential reader on one thread (`size` 0).
    fn run_file(
        path: &std::path::Path,
        size: usize,
        threads: usize,
        limit: Option<u64>,
    ) -> (Vec<String>, InputOutcome) {
        if size == 0 {
            let input = capture::Input::File(path.to_path_buf());
            let mut read = |f: &mut dyn FnMut(&RawPacket<'_>) -> bool| capture::read(&input, f);
            return sorted_records(Frames::Read(&mut read), 1, limit);
        }
        let stripes = Stripes::open(path, size).unwrap().expect("a pcap or pcapng file");
        sorted_records(Frames::Stripes(&stripes, &|_| {}), threads, limit)
    }

    #[test]
    fn stripes_give_one_thread_s_records_for_any_thread_count_and_stripe_size() {
        let path = demo_path();
        let (one, o1) = run_file(&path, 0, 1, None);
        assert!(one.len() > 20, "demo has flows");
        for size in [1, 100, 4096, STRIPE_BYTES] {
            for threads in [1, 2, 3, 5] {
                let (n, on) = run_file(&path, size, threads, None);
                let what = format!("{threads} threads, stripes of {size}");
                assert_eq!(one, n, "{what}");
                assert_eq!(o1.report, on.report, "{what}");
                assert_eq!(o1.decode.decoded, on.decode.decoded, "{what}");
                assert_eq!(o1.engine.flows.created, on.engine.flows.created, "{what}");
            }
        }
    }

    /// The demo capture as pcapng: a section, two Ethernet interfaces (ns
    /// and µs timestamps), the packets in enhanced packet blocks on either.
    fn demo_as_pcapng(dir: &std::path::Path) -> std::path::PathBuf {
        fn block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
            let len = (12 + body.len().div_ceil(4) * 4) as u32;
            out.extend_from_slice(&btype.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(body);
            out.resize(out.len() + (len as usize - 12 - body.len()), 0);
            out.extend_from_slice(&len.to_le_bytes());
        }
        let mut out = Vec::new();
        let shb = [0x1a2b_3c4du32.to_le_bytes(), [1, 0, 0, 0], [0xff; 4], [0xff; 4]].concat();
        block(&mut out, 0x0a0d_0d0a, &shb);
        // if_tsresol 9 (ns), then an interface with the default (µs).
        block(
            &mut out,
            1,
            &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0],
        );
        block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 0, 0]);
        let mut i = 0u32;
        capture::read(&demo(), &mut |p| {
            let (id, ts) = if i.is_multiple_of(2) {
                (0u32, p.ts_ns)
            } else {
                (1, p.ts_ns / 1000)
            };
            let mut epb = Vec::new();
            for x in [id, (ts >> 32) as u32, ts as u32, p.data.len() as u32, p.wire_len] {
                epb.extend_from_slice(&x.to_le_bytes());
            }
            epb.extend_from_slice(p.data);
            block(&mut out, 6, &epb);
            i += 1;
            true
        })
        .unwrap();
        let path = dir.join("demo.pcapng");
        std::fs::write(&path, out).unwrap();
        path
    }

    #[test]
    fn stripes_of_pcapng_give_one_thread_s_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = demo_as_pcapng(dir.path());
        let (one, o1) = run_file(&path, 0, 1, None);
        assert_eq!(o1.report.format, "pcapng");
        assert!(one.len() > 20, "demo has flows");
        // The demo's records but for the timestamps the µs interface cut.
        assert_eq!(one.len(), run_file(&demo_path(), 0, 1, None).0.len());
        for (size, threads) in [(1, 2), (100, 3), (4096, 2), (STRIPE_BYTES, 5)] {
            let (n, on) = run_file(&path, size, threads, None);
            assert_eq!(one, n, "{threads} threads, stripes of {size}");
            assert_eq!(o1.report, on.report, "{threads} threads, stripes of {size}");
        }
        for limit in [1, 777] {
            let (one, o1) = run_file(&path, 0, 1, Some(limit));
            let (n, on) = run_file(&path, 512, 2, Some(limit));
            assert_eq!(one, n, "limit {limit}");
            assert_eq!(o1.report, on.report, "limit {limit}");
        }
    }

    #[test]
    fn stripes_stop_at_a_limit_where_one_thread_stops() {
        let path = demo_path();
        let total = run_file(&path, 0, 1, None).1.report.packets;
        for limit in [0, 1, 99, 1234, total - 1, total, total + 1] {
            let (one, o1) = run_file(&path, 0, 1, Some(limit));
            for (size, threads) in [(100, 2), (4096, 3)] {
                let (n, on) = run_file(&path, size, threads, Some(limit));
                assert_eq!(one, n, "limit {limit}, {threads} threads");
                assert_eq!(o1.report, on.report, "limit {limit}, {threads} threads");
            }
        }
    }

    #[test]
    fn stripes_of_a_damaged_file_keep_what_came_before_the_damage() {
        let bytes = std::fs::read(demo_path()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Cut mid-record, and a record length of 4 GB in the middle.
        let cut = bytes.len() * 2 / 3 + 7;
        let mut absurd = bytes.clone();
        let mut at = 24;
        for _ in 0..300 {
            at += 16 + u32::from_le_bytes(absurd[at + 8..at + 12].try_into().unwrap()) as usize;
        }
        absurd[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        for (name, data) in [("cut.pcap", &bytes[..cut]), ("absurd.pcap", &absurd[..])] {
            let path = dir.path().join(name);
            std::fs::write(&path, data).unwrap();
            let (one, o1) = run_file(&path, 0, 1, None);
            assert!(o1.report.warning.is_some(), "{name}: damage is reported");
            for threads in [2, 3] {
                let (n, on) = run_file(&path, 4096, threads, None);
                assert_eq!(one, n, "{name}, {threads} threads");
                assert_eq!(o1.report, on.report, "{name}, {threads} threads");
            }
        }
    }

    #[test]
    fn stripes_with_a_failing_sink_stop_every_worker() {
        let stripes = Stripes::open(&demo_path(), 4096).unwrap().unwrap();
        a_failing_sink_stops_everyone(Frames::Stripes(&stripes, &|_| {}), 2);
        a_failing_output_stops_everyone(Frames::Stripes(&stripes, &|_| {}), 3);
    }

    #[test]
    fn a_panic_while_stripes_wait_comes_back_to_the_caller() {
        let stripes = Stripes::open(&demo_path(), 512).unwrap().unwrap();
        let name: Arc<str> = Arc::from("demo");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            classify_frames(
                Frames::Stripes(&stripes, &|n| assert!(n < 500, "a worker panics while others wait")),
                &name,
                &crate::pipeline::test_support::config(3),
                None,
                Out::Each(&mut |_| Ok(())),
            )
        }));
        assert!(caught.is_err(), "the panic is not swallowed");
    }

    /// Classifies a file of 96 records of 2 MiB with 8 threads, in stripes
    /// or as a stream (`BAIKAL_LONG_RECORDS_CHILD`), and prints how much
    /// the peak resident memory grew; does nothing unless run as the child
    /// of [`long_records_in_flight_cost_bounded_memory`].
    #[test]
    fn long_records_child() {
        let Some(how) = std::env::var_os("BAIKAL_LONG_RECORDS_CHILD") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.pcap");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let head = [
            0xa1b2_c3d4u32.to_le_bytes(),
            [2, 0, 4, 0],
            [0; 4],
            [0; 4],
            (16u32 << 20).to_le_bytes(),
            [1, 0, 0, 0],
        ];
        std::io::Write::write_all(&mut file, &head.concat()).unwrap();
        let record = vec![0u8; 2 << 20];
        for i in 0..96u32 {
            let len = (record.len() as u32).to_le_bytes();
            std::io::Write::write_all(
                &mut file,
                &[(1_700_000_000 + i).to_le_bytes(), [0; 4], len, len].concat(),
            )
            .unwrap();
            std::io::Write::write_all(&mut file, &record).unwrap();
        }
        drop(file);
        let start = status_kb("VmRSS:");
        let (_, out) = if how == "stripes" {
            run_file(&path, STRIPE_BYTES, 8, None)
        } else {
            let input = capture::Input::File(path.clone());
            let mut read = |f: &mut dyn FnMut(&RawPacket<'_>) -> bool| capture::read(&input, f);
            sorted_records(Frames::Read(&mut read), 8, None)
        };
        assert_eq!(out.report.packets, 96);
        println!("LONG grown_kb={}", status_kb("VmHWM:").saturating_sub(start));
    }

    /// Blocks in flight hold their frames, and a frame may be 16 MiB: the
    /// bytes in flight are bounded too ([`BYTES_AHEAD`]), not only the
    /// blocks (16 N + 8 of them, all 96 records here).
    #[test]
    fn long_records_in_flight_cost_bounded_memory() {
        if !std::path::Path::new("/proc/self/status").exists() {
            eprintln!("SKIP: no /proc/self/status to read peak memory from");
            return;
        }
        for how in ["stripes", "stream"] {
            let text = rerun_alone(
                "pipeline::blocks::tests::long_records_child",
                "BAIKAL_LONG_RECORDS_CHILD",
                how,
            );
            let grown_kb: u64 = text
                .lines()
                .find_map(|l| l.split("LONG grown_kb=").nth(1))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{how}: no result in {text}"));
            // 32 MiB in flight, a block per worker and a chunk being
            // filled, and slack; the 96 records are 192 MiB.
            let bound_kb = 72 * 1024;
            eprintln!("{how}: peak RSS grew {grown_kb} KiB (bound {bound_kb} KiB)");
            assert!(
                grown_kb <= bound_kb,
                "{how}: peak RSS grew {grown_kb} KiB, bound {bound_kb} KiB"
            );
        }
    }

    #[test]
    fn blocks_cover_every_frame_once_within_their_bounds() {
        let chunks = demo_chunks(8192);
        for c in &chunks {
            let mut next = 0;
            for (lo, hi) in block_ranges(c, 0, c.len()) {
                assert_eq!(lo, next);
                assert!(hi > lo && hi - lo <= BLOCK_FRAMES);
                let bytes: usize = c.frames[lo..hi].iter().map(|f| f.len).sum();
                assert!(hi - lo == 1 || bytes <= BLOCK_BYTES);
                next = hi;
            }
            assert_eq!(next, c.len());
        }
    }
}
