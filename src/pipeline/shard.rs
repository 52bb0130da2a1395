//! One worker's share of the flows, as the threaded path over captures
//! uses it ([`super::blocks`]): which worker owns a flow, and how a worker
//! takes each of the three kinds of frame it is given.
//!
//! - A frame of its own flows: decoded, and classified with the hint the
//!   worker's association table has for it (a lookup: the table learns
//!   only from announcements).
//! - A frame for the full decoder (fragments, tunnels, other link types):
//!   every worker decodes every such frame with a decoder of its own, so
//!   each reassembles the same datagrams, and the owner of the decoded
//!   tuple classifies it. Only worker 0 counts these in the decode
//!   statistics, so the counters match one thread's.
//! - A TURN permission request ([`Associations::announces`]): every
//!   worker's table learns from it in capture order; its owner classifies
//!   it.
//!
//! Every frame a worker is given moves its engine's clock, and the paths
//! tell it the clock of the frames it is not given where that matters
//! ([`Shard::advance_clock`]): flows time out by the capture's clock, the
//! same in every worker as in one thread
//! ([`baikal_classifier::flow::FlowTable::advance_clock`]).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use baikal_capture::RawPacket;
use baikal_classifier::assoc::{AssocHint, Associations};
use baikal_classifier::decode::{fast_l4, DecodeStats, Decoder, LinkType, PacketView, Tuple};
use baikal_classifier::engine::{self, Engine, EngineStats};
use baikal_classifier::flow::{Ended, FlowConfig};
use baikal_classifier::record::FlowRecord;

use super::{add_engine_stats, own_name, shard_of, thread_cpu_ns, Config};

/// The association table's answer for a plain frame ([`fast_l4`]'s tuple
/// and UDP payload), learning from it if it is an announcement.
#[inline]
pub fn observe_plain(assoc: &mut Associations, raw: &RawPacket<'_>, tuple: Tuple, payload: &[u8]) -> Option<AssocHint> {
    assoc.observe(&PacketView {
        ts_ns: raw.ts_ns,
        wire_len: raw.wire_len,
        tuple,
        tcp: None,
        payload,
    })
}

/// What a worker hands back: its engine's and decoders' counters, and its
/// CPU time when the OS reports it.
pub type Outcome = (EngineStats, DecodeStats, Option<u64>);

/// The workers' counters added up, and the CPU times: first the calling
/// thread's since `caller_cpu0`, then each worker's that reported one. A
/// worker's panic reaches the caller here.
pub fn merge(
    outs: Vec<std::thread::Result<Outcome>>,
    caller_cpu0: Option<u64>,
) -> (EngineStats, DecodeStats, Vec<u64>) {
    let mut engine = EngineStats::default();
    let mut decode = DecodeStats::default();
    let mut cpu = Vec::with_capacity(outs.len() + 1);
    if let (Some(a), Some(b)) = (caller_cpu0, thread_cpu_ns()) {
        cpu.push(b.saturating_sub(a));
    }
    for out in outs {
        match out {
            Ok((es, ds, c)) => {
                add_engine_stats(&mut engine, &es);
                decode.add(&ds);
                cpu.extend(c);
            }
            Err(p) => std::panic::resume_unwind(p),
        }
    }
    (engine, decode, cpu)
}

/// Flows per group in [`Leftovers`].
const LEFTOVER_GROUP: usize = 64;

/// The flows still open at the end of an input, whose records
/// ([`engine::record`]) are made by whichever worker is free: each worker
/// drains its table in groups and makes their records itself, but hands a
/// group to the pool while a worker that has drained waits there for one;
/// once drained, a worker takes groups until every worker has drained and
/// the pool is empty. Making the records is most of the work of ending a
/// flow, and at the end of a capture most flows are often still open (93%
/// of the bench capture's); the workers hold unequal shares of them (the
/// file reader's is smaller), so without the pool the others waited for
/// the one with the most. A group changes threads only for a worker that
/// would wait otherwise: making a record where the flow was drained finds
/// its data in that core's cache (handing every group over measured 0.03 s
/// more CPU on the bench capture at two threads).
pub struct Leftovers {
    pool: Mutex<Pool>,
    changed: Condvar,
}

struct Pool {
    groups: VecDeque<Vec<Ended>>,
    /// Workers that may still put groups in.
    draining: usize,
    /// Workers waiting for a group.
    waiting: usize,
}

impl Leftovers {
    pub fn new(workers: usize) -> Leftovers {
        Leftovers {
            pool: Mutex::new(Pool {
                groups: VecDeque::new(),
                draining: workers,
                waiting: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A worker's place in the pool: the caller takes one per worker
    /// before any starts. It counts as draining until [`Shard::finish`] is
    /// done draining, or until it is dropped (a worker that ends without
    /// finishing, panics, or never starts), so the others never wait for
    /// it in vain.
    pub fn member(&self) -> Member<'_> {
        Member {
            pool: self,
            done: false,
        }
    }

    /// Hands `g` to a waiting worker; gives it back when none waits for
    /// one (the caller makes its records).
    fn put(&self, g: Vec<Ended>) -> Option<Vec<Ended>> {
        let mut p = self.lock();
        if p.groups.len() >= p.waiting {
            return Some(g);
        }
        p.groups.push_back(g);
        drop(p);
        self.changed.notify_one();
        None
    }

    /// A group, waiting while others still drain; `None` when all have
    /// drained and the pool is empty.
    fn take(&self) -> Option<Vec<Ended>> {
        let mut p = self.lock();
        loop {
            if let Some(g) = p.groups.pop_front() {
                return Some(g);
            }
            if p.draining == 0 {
                return None;
            }
            p.waiting += 1;
            p = self.changed.wait(p).unwrap_or_else(|e| e.into_inner());
            p.waiting -= 1;
        }
    }
}

/// See [`Leftovers::member`].
pub struct Member<'a> {
    pool: &'a Leftovers,
    done: bool,
}

impl Member<'_> {
    /// This worker has put in all it will.
    fn done(&mut self) {
        if !self.done {
            self.done = true;
            self.pool.lock().draining -= 1;
            self.pool.changed.notify_all();
        }
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.done();
    }
}

/// One worker: its engine, decoders and association table.
pub struct Shard {
    pub me: usize,
    /// The flows are spread evenly over this many workers ([`shard_of`]).
    workers: usize,
    /// The input's name, this worker's own copy ([`own_name`]).
    name: Arc<str>,
    decoder: Decoder,
    odd: Decoder,
    engine: Engine,
    assoc: Option<Associations>,
}

impl Shard {
    pub fn new(me: usize, workers: usize, name: &Arc<str>, cfg: &Config, flow: FlowConfig) -> Shard {
        Shard {
            me,
            workers,
            name: own_name(name),
            decoder: Decoder::new(),
            odd: Decoder::new(),
            engine: Engine::new(flow, cfg.labeler()),
            assoc: cfg.associations(),
        }
    }

    /// Whether the worker runs an association table (announcements then
    /// go to every worker).
    pub fn associates(&self) -> bool {
        self.assoc.is_some()
    }

    /// A frame of this worker's flows.
    #[inline]
    pub fn own(&mut self, raw: &RawPacket<'_>, out: &mut dyn FnMut(FlowRecord)) {
        // By reference, not moved out (see `classify_frames`).
        if let Some(v) = &self
            .decoder
            .decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data)
        {
            let hint = self.assoc.as_ref().and_then(|a| a.lookup(v));
            self.engine.process_hinted(v, hint.as_ref(), &self.name, out);
        }
    }

    /// A frame for the full decoder; its timestamp if it decoded.
    pub fn odd(&mut self, raw: &RawPacket<'_>, out: &mut dyn FnMut(FlowRecord)) -> Option<u64> {
        let v = self
            .odd
            .decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data)?;
        let hint = self.assoc.as_mut().and_then(|a| a.observe(&v));
        if shard_of(&v.tuple, self.workers) == self.me {
            self.engine.process_hinted(&v, hint.as_ref(), &self.name, out);
        } else {
            // One thread's engine would have seen this packet.
            self.engine.advance_clock(v.ts_ns);
        }
        Some(v.ts_ns)
    }

    /// The capture's clock reached `ts` with frames this worker was not
    /// given.
    #[inline]
    pub fn advance_clock(&mut self, ts: u64) {
        self.engine.advance_clock(ts);
    }

    /// An announcement: every table learns from it; its owner classifies it.
    pub fn announce(&mut self, raw: &RawPacket<'_>, out: &mut dyn FnMut(FlowRecord)) {
        let Some((tuple, payload)) = fast_l4(LinkType(raw.linktype), raw.data) else {
            return;
        };
        let hint = self.assoc.as_mut().and_then(|a| observe_plain(a, raw, tuple, payload));
        if shard_of(&tuple, self.workers) != self.me {
            self.engine.advance_clock(raw.ts_ns);
            return;
        }
        if let Some(v) = &self
            .decoder
            .decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data)
        {
            self.engine.process_hinted(v, hint.as_ref(), &self.name, out);
        }
    }

    /// Ends every flow: those idle at `last_ts` (the capture's clock at
    /// its end, the same for every worker), then the rest, whose records
    /// this worker makes with the others through `m`'s pool
    /// ([`Leftovers`]).
    pub fn finish(&mut self, last_ts: u64, mut m: Member<'_>, out: &mut dyn FnMut(FlowRecord)) {
        self.engine.advance_clock(last_ts);
        self.engine.expire(last_ts, &self.name, out);
        // The engine's labeler, held apart while the engine drains (one
        // reference count per worker, not per flow).
        let labeler = self.engine.labeler();
        let (name, labeler) = (&self.name, labeler.as_deref());
        let mut make = |g: Vec<Ended>| {
            for e in g {
                out(engine::record(e, name, labeler));
            }
        };
        let mut group = Vec::with_capacity(LEFTOVER_GROUP);
        self.engine.drain(&mut |e| {
            group.push(e);
            if group.len() == LEFTOVER_GROUP {
                let full = std::mem::replace(&mut group, Vec::with_capacity(LEFTOVER_GROUP));
                if let Some(g) = m.pool.put(full) {
                    make(g);
                }
            }
        });
        if !group.is_empty() {
            if let Some(g) = m.pool.put(group) {
                make(g);
            }
        }
        m.done();
        while let Some(g) = m.pool.take() {
            make(g);
        }
    }

    pub fn outcome(&self, cpu: Option<u64>) -> Outcome {
        let mut ds = self.decoder.stats().clone();
        if self.me == 0 {
            ds.add(self.odd.stats());
        }
        (self.engine.stats(), ds, cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baikal_classifier::flow::{EndReason, Flow};

    /// A group of one flow, told apart by its first timestamp.
    fn group(i: u64) -> Vec<Ended> {
        let mut flow = Flow::default();
        flow.ts_first = i;
        vec![Ended {
            flow,
            reason: EndReason::Eof,
            meta: None,
        }]
    }

    fn ids(g: &[Ended]) -> Vec<u64> {
        g.iter().map(|e| e.flow.ts_first).collect()
    }

    #[test]
    fn a_group_stays_with_its_worker_unless_another_waits() {
        let pool = Leftovers::new(2);
        assert_eq!(pool.put(group(0)).map(|g| ids(&g)), Some(vec![0]), "no one waits");
        let made = within_10s(move || {
            std::thread::scope(|s| {
                let mut b = pool.member();
                let mut a = pool.member();
                let waiter = s.spawn(move || {
                    b.done();
                    let mut mine = Vec::new();
                    while let Some(g) = b.pool.take() {
                        mine.extend(ids(&g));
                    }
                    mine
                });
                // Until the other waits, groups come back.
                let mut i = 1;
                loop {
                    match a.pool.put(group(i)) {
                        None => break,
                        Some(g) => assert_eq!(ids(&g), vec![i]),
                    }
                    i += 1;
                    std::thread::yield_now();
                }
                a.done();
                let given = i;
                (given, waiter.join().unwrap())
            })
        });
        let (given, theirs) = made;
        assert_eq!(theirs, vec![given], "the waiting worker got the group handed over");
    }

    /// Waits for `f` on another thread, failing instead of hanging.
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()).unwrap());
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the pool let everyone go")
    }

    /// One member puts 200 groups, two only take: every group is made
    /// once, by someone, and everyone gets out once all have drained.
    #[test]
    fn every_group_is_taken_once_and_everyone_gets_out() {
        let made = within_10s(|| {
            let pool = Leftovers::new(3);
            let mut members: Vec<Member<'_>> = (0..3).map(|_| pool.member()).collect();
            std::thread::scope(|s| {
                let takers: Vec<_> = members
                    .drain(1..)
                    .map(|mut m| {
                        s.spawn(move || {
                            m.done();
                            let mut mine = Vec::new();
                            while let Some(g) = m.pool.take() {
                                mine.extend(ids(&g));
                            }
                            mine
                        })
                    })
                    .collect();
                let mut m = members.pop().unwrap();
                let mut mine = Vec::new();
                for i in 0..200 {
                    if let Some(g) = m.pool.put(group(i)) {
                        mine.extend(ids(&g));
                    }
                }
                m.done();
                while let Some(g) = m.pool.take() {
                    mine.extend(ids(&g));
                }
                for t in takers {
                    mine.extend(t.join().unwrap());
                }
                mine
            })
        });
        let mut made = made;
        made.sort_unstable();
        assert_eq!(made, (0..200).collect::<Vec<_>>());
    }

    /// A member dropped without draining (its worker panicked, or never
    /// got its end) counts as done: the others are not kept waiting.
    #[test]
    fn a_member_dropped_without_draining_holds_no_one() {
        let got = within_10s(|| {
            let pool = Leftovers::new(2);
            let mut a = pool.member();
            drop(pool.member());
            a.done();
            a.pool.take().map(|g| ids(&g))
        });
        assert_eq!(got, None);
    }
}
