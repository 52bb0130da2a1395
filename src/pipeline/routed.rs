//! `--threads N` over a regular capture file that is not classic pcap
//! (pcapng; classic pcap is read in stripes by every worker,
//! [`super::blocks`]): the calling thread reads it once, routes every
//! frame, and is worker 0 too; the other workers get their frames in
//! batches through bounded queues.
//!
//! The reader takes each frame's 5-tuple from its headers ([`fast_l4`])
//! and finds the worker that owns its flow ([`Split::owner`], a hash of
//! the direction-free flow key). It classifies the frames of its own flows
//! at once and copies the others into their worker's current [`Parcel`].
//! A full parcel (at most [`PARCEL_BYTES`] of frames) goes to its worker
//! through a queue of [`QUEUED`] parcels and comes back empty to be
//! filled again, so memory stays bounded and a frame is read, routed and
//! copied once at most.
//!
//! Reading, routing and copying are work only the reader does, so it owns
//! a smaller share of the flows ([`Split::reader_share`]). Which worker
//! owns a flow changes nothing in its record: the set of records is the
//! same for every N (but for flows evicted for capacity: docs/PERFORMANCE.md,
//! *Determinism*).
//!
//! Frames [`fast_l4`] cannot read (fragments, tunnels, other link types)
//! and TURN permission requests ([`Associations::announces`]) go to every
//! worker, in capture order with its own; how a worker takes each kind is
//! in [`super::shard`].
//!
//! The reader keeps the capture's clock (the latest timestamp so far).
//! When it hands a worker a frame older than that, the parcel says what
//! the clock was ([`Parcel::clocks`]): that worker did not see the frames
//! that moved it, and its flows time out by it. (With time that only goes
//! forward a frame's own timestamp is the clock, and parcels carry none.)
//! The last message to a worker is the clock at the end, at which every
//! worker ends its idle flows, as one thread would.
//!
//! This replaced every worker reading the whole file itself, which cost
//! each worker the read and the routing of every frame: 0.10 s of CPU per
//! worker on the bench capture when two ran at once. Two threads took a
//! tenth less CPU this way, and as long or less wall time (medians of
//! alternating rounds, docs/PERFORMANCE.md).

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

use anyhow::Result;
use baikal_capture::{RawPacket, ReadReport};
use baikal_classifier::assoc::Associations;
use baikal_classifier::decode::{fast_l4, LinkType, Tuple};
use baikal_classifier::flow::FlowKey;
use baikal_classifier::record::FlowRecord;

use super::shard::{merge, Leftovers, Member, Outcome, Owners, Shard};
use super::{thread_cpu_ns, Batch, Chunk, Config, InputOutcome, Out, ReadFn, SharedSink};

/// Parcels queued to one worker at most.
const QUEUED: usize = 16;

/// A parcel holds at most this many bytes of frames (a larger frame gets
/// one of its own): small, so that the frames are still in the shared
/// cache when their worker takes them.
const PARCEL_BYTES: usize = 256 << 10;

/// What reading, routing and handing over cost the reader, as a fraction
/// of the classification work of one thread, measured on the bench
/// capture (docs/PERFORMANCE.md): with two threads the reader's CPU time
/// matched its worker's at a share of 0.36 of the flows.
const READER_COST: f64 = 0.28;

/// Which worker owns which flows: a 64-bit hash of the direction-free flow
/// key, worker 0 (the reader) owning the hashes below `reader_end`, the
/// others equal parts of the rest, told apart by the hash's low bits.
#[derive(Clone, Copy, Debug)]
pub struct Split {
    workers: usize,
    reader_end: u64,
}

impl Split {
    /// The reader's share of the flows with `workers` threads, evening out
    /// the threads' work: the reader spends `READER_COST + share` and each
    /// other worker `(1 - share) / (N - 1)` (units of one thread's work),
    /// so `share = (1 - (N - 1) * READER_COST) / N`, and 0 from 5 threads
    /// on, where routing alone keeps the reader busy.
    pub fn reader_share(workers: usize) -> f64 {
        if workers <= 1 {
            return 1.0;
        }
        let n = workers as f64;
        ((1.0 - (n - 1.0) * READER_COST) / n).max(0.0)
    }

    pub fn new(workers: usize) -> Split {
        let workers = workers.max(1);
        // 2^64 × share, saturating at u64::MAX for a share of 1.
        let reader_end = (Split::reader_share(workers) * 18_446_744_073_709_551_616.0) as u64;
        Split { workers, reader_end }
    }

    /// The worker that owns `t`'s flow (both directions alike).
    #[inline]
    pub fn owner(&self, t: &Tuple) -> usize {
        use std::hash::BuildHasher;
        if self.workers <= 1 {
            return 0;
        }
        let (key, _) = FlowKey::from_tuple(t);
        // Fixed seed: the same flow goes to the same worker on every run.
        let h = foldhash::fast::FixedState::with_seed(0x6261_696b_616c).hash_one(key);
        if h < self.reader_end {
            return 0;
        }
        // Workers 1..N by multiply-shift on the hash rotated: its low bits,
        // which the test against `reader_end` (the high bits) leaves uniform.
        let others = (self.workers - 1) as u128;
        1 + ((u128::from(h.rotate_left(32)) * others) >> 64) as usize
    }

    /// Worker `w`'s share of the flows, for its share of `--max-flows`.
    pub fn share(&self, w: usize) -> f64 {
        let reader = Split::reader_share(self.workers);
        match w {
            _ if self.workers <= 1 => 1.0,
            0 => reader,
            _ => (1.0 - reader) / (self.workers - 1) as f64,
        }
    }
}

/// How a worker takes a frame of its parcel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A frame of its own flows.
    Own,
    /// A frame for the full decoder (every worker decodes it).
    Odd,
    /// An association announcement (every worker's table learns from it).
    Announce,
}

/// Frames for one worker, each with how to take it.
struct Parcel {
    chunk: Chunk,
    kinds: Vec<Kind>,
    /// (frame, clock): before that frame, the capture's clock is at
    /// least this, ascending by frame. Only for frames older than the
    /// clock.
    clocks: Vec<(u32, u64)>,
}

impl Parcel {
    fn new() -> Parcel {
        Parcel {
            chunk: Chunk {
                data: Vec::with_capacity(PARCEL_BYTES),
                frames: Vec::with_capacity(1024),
            },
            kinds: Vec::with_capacity(1024),
            clocks: Vec::new(),
        }
    }
    /// Whether `raw` still fits (an empty parcel takes any frame).
    fn fits(&self, raw: &RawPacket<'_>) -> bool {
        self.chunk.frames.is_empty()
            || (self.chunk.data.len() + raw.data.len() <= PARCEL_BYTES && self.chunk.frames.len() < Chunk::FRAMES)
    }
    fn clear(&mut self) {
        self.chunk.clear();
        self.kinds.clear();
        self.clocks.clear();
    }
}

enum Msg {
    Frames(Parcel),
    /// No more frames; the capture's clock at the end.
    End(u64),
}

/// Worker `me`'s [`Shard`], its flow table holding its share of
/// `--max-flows`.
fn shard(me: usize, split: Split, name: &Arc<str>, cfg: &Config) -> Shard {
    let mut flow = cfg.flow;
    flow.max_flows = ((flow.max_flows as f64 * split.share(me)).ceil() as usize).max(1);
    Shard::new(me, Owners::Split(split), name, cfg, flow)
}

/// The reader's end of one other worker's queue.
struct Lane {
    cur: Parcel,
    tx: SyncSender<Msg>,
    /// Emptied parcels coming back.
    back: Receiver<Parcel>,
    /// A clock the worker has reached by the frames sent so far.
    known: u64,
}

impl Lane {
    /// Appends a copy of `raw`, which comes when the capture's clock is
    /// at `clock`; false once the worker is gone.
    #[inline]
    fn push(&mut self, raw: &RawPacket<'_>, kind: Kind, clock: u64) -> bool {
        if !self.cur.fits(raw) && !self.send() {
            return false;
        }
        if clock > raw.ts_ns && clock > self.known {
            self.cur.clocks.push((self.cur.chunk.frames.len() as u32, clock));
            self.known = clock;
        }
        // A frame for the full decoder moves the worker's clock only if
        // it decodes: not counted.
        if kind != Kind::Odd {
            self.known = self.known.max(raw.ts_ns);
        }
        self.cur.chunk.push(raw);
        self.cur.kinds.push(kind);
        true
    }

    /// Sends the current parcel (waiting while the queue is full) and
    /// takes an emptied one back, or a new one when none is back: the
    /// others are then queued or in the worker's hands, so a worker's
    /// parcels number at most `QUEUED` + 3.
    fn send(&mut self) -> bool {
        let fresh = self.back.try_recv().unwrap_or_else(|_| Parcel::new());
        let full = std::mem::replace(&mut self.cur, fresh);
        self.tx.send(Msg::Frames(full)).is_ok()
    }
}

/// Classifies what `read` yields with `cfg.threads` workers (at least 2);
/// see the module docs.
pub fn classify(
    read: &mut ReadFn<'_>,
    name: &Arc<str>,
    cfg: &Config,
    limit: Option<u64>,
    out: Out<'_>,
) -> Result<InputOutcome> {
    let workers = cfg.threads.max(2);
    let split = Split::new(workers);
    let sink = SharedSink::new(out);
    let caller_cpu0 = thread_cpu_ns();
    let leftovers = Leftovers::new(workers);
    // Every worker's place in the pool first: one that never runs still
    // leaves it (`Leftovers::member`).
    let mut members: Vec<Member<'_>> = (0..workers).map(|_| leftovers.member()).collect();
    let m0 = members.remove(0);
    let (report, outs) = std::thread::scope(|scope| {
        let sink = &sink;
        let mut lanes = Vec::with_capacity(workers - 1);
        let mut handles = Vec::with_capacity(workers - 1);
        for (me, m) in (1..workers).zip(members) {
            let (tx, rx) = mpsc::sync_channel::<Msg>(QUEUED);
            let (back_tx, back) = mpsc::channel::<Parcel>();
            let mut c = shard(me, split, name, cfg);
            handles.push(scope.spawn(move || -> Outcome {
                let mut out = Batch::new(sink);
                work(&mut c, &rx, &back_tx, m, &mut |r| out.push(r));
                out.finish();
                c.outcome(thread_cpu_ns())
            }));
            lanes.push(Lane {
                cur: Parcel::new(),
                tx,
                back,
                known: 0,
            });
        }
        let mut c0 = shard(0, split, name, cfg);
        let mut out = Batch::new(sink);
        let mut last_ts = 0u64;
        let mut n = 0u64;
        // A worker that is gone (it panicked) stops the reading.
        let mut gone = false;
        let report = read(&mut |raw| {
            n += 1;
            // The capture's clock before this frame: the latest timestamp of
            // the packets so far (those that decode, as in one thread).
            let clock = last_ts;
            match fast_l4(LinkType(raw.linktype), raw.data) {
                Some((t, payload)) => {
                    last_ts = last_ts.max(raw.ts_ns);
                    if c0.associates() && Associations::announces(t.proto, payload) {
                        for l in lanes.iter_mut() {
                            gone |= !l.push(raw, Kind::Announce, clock);
                        }
                        c0.advance_clock(clock);
                        c0.announce(raw, &mut |r| out.push(r));
                    } else {
                        match split.owner(&t) {
                            0 => {
                                c0.advance_clock(clock);
                                c0.own(raw, &mut |r| out.push(r));
                            }
                            w => {
                                gone |= !lanes.get_mut(w - 1).is_some_and(|l| l.push(raw, Kind::Own, clock));
                            }
                        }
                    }
                }
                None => {
                    for l in lanes.iter_mut() {
                        gone |= !l.push(raw, Kind::Odd, clock);
                    }
                    c0.advance_clock(clock);
                    if let Some(ts) = c0.odd(raw, &mut |r| out.push(r)) {
                        last_ts = last_ts.max(ts);
                    }
                }
            }
            !gone && !sink.failed() && limit.is_none_or(|l| n < l)
        });
        // After a read error too: the frames read before it are classified.
        for mut l in lanes {
            if !l.cur.chunk.frames.is_empty() {
                l.send();
            }
            let _ = l.tx.send(Msg::End(last_ts));
        }
        c0.finish(last_ts, m0, &mut |r| out.push(r));
        out.finish();
        let mut outs: Vec<std::thread::Result<Outcome>> = vec![Ok(c0.outcome(None))];
        outs.extend(handles.into_iter().map(|h| h.join()));
        (report, outs)
    });
    let (engine, decode, cpu) = merge(outs, caller_cpu0);
    let report: ReadReport = report?;
    sink.finish()?;
    Ok(InputOutcome {
        report,
        decode,
        engine,
        // All or nothing: the calling thread (reader and worker 0), then
        // each spawned worker.
        thread_cpu_ns: if cpu.len() == workers { cpu } else { Vec::new() },
    })
}

/// A worker other than the reader: takes parcels until the end message,
/// then ends its flows. Without an end message the reader failed and the
/// run's result is an error, so the flows are not ended.
fn work(c: &mut Shard, rx: &Receiver<Msg>, back: &Sender<Parcel>, m: Member<'_>, out: &mut dyn FnMut(FlowRecord)) {
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Frames(mut p) => {
                let mut clocks = p.clocks.iter().peekable();
                for (i, (f, &k)) in p.chunk.frames.iter().zip(&p.kinds).enumerate() {
                    while let Some(&(_, clock)) = clocks.next_if(|&&(at, _)| at as usize <= i) {
                        c.advance_clock(clock);
                    }
                    let raw = p.chunk.raw(f);
                    match k {
                        Kind::Own => c.own(&raw, out),
                        Kind::Odd => {
                            c.odd(&raw, out);
                        }
                        Kind::Announce => c.announce(&raw, out),
                    }
                }
                p.clear();
                // The reader may have stopped taking parcels back.
                let _ = back.send(p);
            }
            Msg::End(last_ts) => {
                c.finish(last_ts, m, out);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::test_support::{
        a_failing_output_stops_everyone, a_failing_sink_stops_everyone, config, demo, sorted_records,
    };
    use crate::pipeline::{classify_frames, Frames};
    use baikal_capture as capture;
    use baikal_classifier::decode::Addr;

    /// Sorted JSON records and the outcome of classifying the demo capture
    /// as a file read by the calling thread.
    fn run(threads: usize, limit: Option<u64>) -> (Vec<String>, InputOutcome) {
        let input = demo();
        let mut read = |f: &mut dyn FnMut(&RawPacket<'_>) -> bool| capture::read(&input, f);
        sorted_records(Frames::File(&mut read), threads, limit)
    }

    #[test]
    fn same_records_and_counts_for_any_thread_count() {
        let (one, o1) = run(1, None);
        assert!(one.len() > 20, "demo has flows");
        // 5 threads: the reader only routes (its share is 0).
        for threads in [2, 3, 5] {
            let (n, on) = run(threads, None);
            assert_eq!(one, n, "{threads} threads");
            assert_eq!(o1.report.packets, on.report.packets);
            assert_eq!(o1.report.bytes, on.report.bytes);
            assert!(!on.report.stopped);
            assert_eq!(o1.decode.decoded, on.decode.decoded);
            assert_eq!(o1.engine.packets, on.engine.packets);
            assert_eq!(o1.engine.flows.created, on.engine.flows.created);
            assert_eq!(on.thread_cpu_ns.len(), threads);
        }
    }

    #[test]
    fn a_limit_cuts_the_input_where_one_thread_stops() {
        let total = run(1, None).1.report.packets;
        for limit in [1, 99, 1234, total] {
            let (one, o1) = run(1, Some(limit));
            let (two, o2) = run(2, Some(limit));
            assert_eq!(one, two, "limit {limit}");
            assert_eq!(o2.report.packets, limit.min(total), "limit {limit}");
            assert_eq!(o1.report.stopped, o2.report.stopped, "limit {limit}");
        }
    }

    #[test]
    fn a_failing_sink_stops_the_reader_and_every_worker() {
        let input = demo();
        let mut read = |f: &mut dyn FnMut(&RawPacket<'_>) -> bool| capture::read(&input, f);
        a_failing_sink_stops_everyone(Frames::File(&mut read), 3);
        let mut read = |f: &mut dyn FnMut(&RawPacket<'_>) -> bool| capture::read(&input, f);
        a_failing_output_stops_everyone(Frames::File(&mut read), 3);
    }

    #[test]
    fn a_panic_in_a_worker_comes_back_to_the_caller() {
        let name: Arc<str> = Arc::from("demo");
        let input = demo();
        let mut read = |f: &mut dyn FnMut(&RawPacket<'_>) -> bool| capture::read(&input, f);
        // Every flow times out at once: each worker makes its flows'
        // records itself (flows still open at the end may go to any
        // worker, `shard::Leftovers`), so the spawned one surely emits.
        let mut cfg = config(2);
        cfg.flow.tcp_idle_ns = 1;
        cfg.flow.udp_idle_ns = 1;
        cfg.flow.other_idle_ns = 1;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            classify_frames(
                Frames::File(&mut read),
                &name,
                &cfg,
                None,
                Out::Each(&mut |_| {
                    // Only the spawned worker (the test's own thread, the
                    // reader, has a name).
                    assert!(std::thread::current().name().is_some(), "a worker's records panic");
                    Ok(())
                }),
            )
        }));
        assert!(caught.is_err(), "the panic is not swallowed");
    }

    fn tuple(i: u32) -> Tuple {
        let [a, b, c, d] = i.to_be_bytes();
        Tuple {
            src: Addr::from_v4([10, a, b, c]),
            dst: Addr::from_v4([192, 168, d, 1]),
            sport: 1024 + (i % 50_000) as u16,
            dport: 443,
            proto: 6,
        }
    }

    fn reversed(t: &Tuple) -> Tuple {
        Tuple {
            src: t.dst,
            dst: t.src,
            sport: t.dport,
            dport: t.sport,
            proto: t.proto,
        }
    }

    #[test]
    fn reader_share_evens_the_threads_and_vanishes_from_five() {
        assert_eq!(Split::reader_share(1), 1.0);
        assert!((Split::reader_share(2) - 0.36).abs() < 1e-9);
        assert!((Split::reader_share(3) - (1.0 - 2.0 * READER_COST) / 3.0).abs() < 1e-9);
        assert_eq!(Split::reader_share(5), 0.0);
        assert_eq!(Split::reader_share(64), 0.0);
        for n in 2..10 {
            let s = Split::new(n);
            let total: f64 = (0..n).map(|w| s.share(w)).sum();
            assert!((total - 1.0).abs() < 1e-9, "{n} workers: shares add to {total}");
        }
    }

    #[test]
    fn both_directions_have_one_owner_in_range_with_the_expected_shares() {
        for n in [1usize, 2, 3, 4, 7] {
            let s = Split::new(n);
            let mut count = vec![0u32; n];
            let flows = 40_000u32;
            for i in 0..flows {
                let t = tuple(i);
                let w = s.owner(&t);
                assert!(w < n, "{n} workers: owner {w}");
                assert_eq!(w, s.owner(&reversed(&t)), "{n} workers, flow {i}");
                count[w] += 1;
            }
            for (w, &c) in count.iter().enumerate() {
                let want = s.share(w) * f64::from(flows);
                // Binomial spread: well within 5 standard deviations.
                let tol = 5.0 * want.max(1.0).sqrt() + 1.0;
                assert!(
                    (f64::from(c) - want).abs() <= tol,
                    "{n} workers: worker {w} owns {c} flows, expected about {want:.0}"
                );
            }
        }
    }

    #[test]
    fn a_parcel_takes_any_frame_when_empty_and_stops_at_its_size() {
        let big = vec![0u8; PARCEL_BYTES + 1];
        let small = [0u8; 100];
        fn raw(data: &[u8]) -> RawPacket<'_> {
            RawPacket {
                ts_ns: 1,
                linktype: 1,
                wire_len: data.len() as u32,
                data,
            }
        }
        let mut p = Parcel::new();
        assert!(p.fits(&raw(&big)));
        p.chunk.push(&raw(&small));
        p.kinds.push(Kind::Own);
        assert!(!p.fits(&raw(&big)));
        while p.fits(&raw(&small)) {
            p.chunk.push(&raw(&small));
            p.kinds.push(Kind::Own);
        }
        assert!(p.chunk.data.len() <= PARCEL_BYTES);
        assert!(p.chunk.data.len() + small.len() > PARCEL_BYTES);
        p.clear();
        assert!(p.chunk.frames.is_empty() && p.kinds.is_empty());
    }
}
