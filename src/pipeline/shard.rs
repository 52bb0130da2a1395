//! One worker's share of the flows, as both threaded paths over captures
//! use it ([`super::blocks`], [`super::routed`]): which worker owns a flow,
//! and how a worker takes each of the three kinds of frame it is given.
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

use std::sync::Arc;

use baikal_capture::RawPacket;
use baikal_classifier::assoc::{AssocHint, Associations};
use baikal_classifier::decode::{fast_l4, DecodeStats, Decoder, LinkType, PacketView, Tuple};
use baikal_classifier::engine::{Engine, EngineStats};
use baikal_classifier::flow::FlowConfig;
use baikal_classifier::record::FlowRecord;

use super::routed::Split;
use super::{add_engine_stats, own_name, shard_of, thread_cpu_ns, Config};

/// How the flows are spread over the workers.
#[derive(Clone, Copy, Debug)]
pub enum Owners {
    /// Evenly over this many workers ([`shard_of`]).
    Even(usize),
    /// The file reader's smaller share, then evenly ([`Split`]).
    Split(Split),
}

impl Owners {
    /// The worker that owns `t`'s flow (both directions alike).
    #[inline]
    pub fn of(&self, t: &Tuple) -> usize {
        match self {
            Owners::Even(workers) => shard_of(t, *workers),
            Owners::Split(s) => s.owner(t),
        }
    }
}

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

/// One worker: its engine, decoders and association table.
pub struct Shard {
    pub me: usize,
    owners: Owners,
    /// The input's name, this worker's own copy ([`own_name`]).
    name: Arc<str>,
    decoder: Decoder,
    odd: Decoder,
    engine: Engine,
    assoc: Option<Associations>,
}

impl Shard {
    pub fn new(me: usize, owners: Owners, name: &Arc<str>, cfg: &Config, flow: FlowConfig) -> Shard {
        Shard {
            me,
            owners,
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
        if let Some(v) = self
            .decoder
            .decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data)
        {
            let hint = self.assoc.as_ref().and_then(|a| a.lookup(&v));
            self.engine.process_hinted(&v, hint.as_ref(), &self.name, out);
        }
    }

    /// A frame for the full decoder; its timestamp if it decoded.
    pub fn odd(&mut self, raw: &RawPacket<'_>, out: &mut dyn FnMut(FlowRecord)) -> Option<u64> {
        let v = self
            .odd
            .decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data)?;
        let hint = self.assoc.as_mut().and_then(|a| a.observe(&v));
        if self.owners.of(&v.tuple) == self.me {
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
        if self.owners.of(&tuple) != self.me {
            self.engine.advance_clock(raw.ts_ns);
            return;
        }
        if let Some(v) = self
            .decoder
            .decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data)
        {
            self.engine.process_hinted(&v, hint.as_ref(), &self.name, out);
        }
    }

    /// Ends every flow: those idle at `last_ts` (the capture's clock at
    /// its end, the same for every worker), then the rest.
    pub fn finish(&mut self, last_ts: u64, out: &mut dyn FnMut(FlowRecord)) {
        self.engine.advance_clock(last_ts);
        self.engine.expire(last_ts, &self.name, out);
        self.engine.finish(&self.name, out);
    }

    pub fn outcome(&self, cpu: Option<u64>) -> Outcome {
        let mut ds = self.decoder.stats().clone();
        if self.me == 0 {
            ds.add(self.odd.stats());
        }
        (self.engine.stats(), ds, cpu)
    }
}
