//! The engine: flow table + dissectors + verdict, for one worker.
//!
//! Per packet: one hash lookup and counter updates. Only while a flow is
//! still being inspected (its first `probe_packets` payload packets per
//! direction) does its payload reach the dissectors; after that a flow's
//! per-packet cost is the lookup alone.
//!
//! The engine is single-threaded; the binary runs one per worker and
//! shards flows by [`crate::flow::FlowKey`] so both directions of a flow
//! meet the same engine.

use std::sync::Arc;

use crate::assoc::AssocHint;
use crate::decode::{tcpflags, PacketView};
use crate::dissect::{icmp, ipsec, sctp, Parse, Payloads, Probe, Side, State, Transport, DISSECTORS};
use crate::flow::{Candidates, Dir, Ended, Flow, FlowConfig, FlowKey, FlowStats, FlowTable, Inspect};
use crate::packed::Strings;
use crate::randomness;
use crate::record::FlowRecord;
use crate::verdict::{Encryption, Evidence, Meta};

/// Labels applications on finished records (the rules, issue 4).
pub trait Labeler: Send + Sync {
    /// Sets `app`, adds evidence; may refine `encryption`.
    fn label(&self, rec: &mut FlowRecord);
}

/// Engine counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets whose payload went to the dissectors.
    pub inspected_packets: u64,
    pub flows: FlowStats,
}

/// Stage timings of one packet ([`Engine::process_timed`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// Flow lookup/creation and counters ([`FlowTable::touch`]).
    pub touch_ns: u64,
    /// Payload inspection, when the packet was inspected.
    pub dissect_ns: Option<u64>,
    /// The packet created a flow.
    pub new_flow: bool,
}

/// One worker's classification engine.
pub struct Engine {
    table: FlowTable,
    labeler: Option<Arc<dyn Labeler>>,
    packets: u64,
    bytes: u64,
    inspected_packets: u64,
}

impl Engine {
    pub fn new(cfg: FlowConfig, labeler: Option<Arc<dyn Labeler>>) -> Engine {
        let mut table = FlowTable::new(cfg);
        // The table's periodic sweeps end stalled inspections.
        table.set_on_stall(give_up);
        Engine {
            table,
            labeler,
            packets: 0,
            bytes: 0,
            inspected_packets: 0,
        }
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            packets: self.packets,
            bytes: self.bytes,
            inspected_packets: self.inspected_packets,
            flows: self.table.stats().clone(),
        }
    }

    /// The flow table (for memory measurements).
    pub fn table(&self) -> &FlowTable {
        &self.table
    }

    /// Processes one packet. Records of flows that end are passed to
    /// `out` (with `source` as their input name).
    #[inline]
    pub fn process(&mut self, pkt: &PacketView<'_>, source: &Arc<str>, out: &mut dyn FnMut(FlowRecord)) {
        self.process_inner::<false>(pkt, None, source, out);
    }

    /// [`Engine::process`] for a packet the association table matched
    /// with an earlier flow ([`crate::assoc`]): when the packet creates
    /// its flow, the flow records why.
    #[inline]
    pub fn process_hinted(
        &mut self,
        pkt: &PacketView<'_>,
        hint: Option<&AssocHint>,
        source: &Arc<str>,
        out: &mut dyn FnMut(FlowRecord),
    ) {
        self.process_inner::<false>(pkt, hint, source, out);
    }

    /// [`Engine::process`], timing its stages (for `baikal bench`, which
    /// calls it on a sample of the packets: a clock read costs ~20 ns).
    pub fn process_timed(
        &mut self,
        pkt: &PacketView<'_>,
        source: &Arc<str>,
        out: &mut dyn FnMut(FlowRecord),
    ) -> StageTimes {
        self.process_inner::<true>(pkt, None, source, out)
    }

    #[inline(always)]
    fn process_inner<const TIMED: bool>(
        &mut self,
        pkt: &PacketView<'_>,
        hint: Option<&AssocHint>,
        source: &Arc<str>,
        out: &mut dyn FnMut(FlowRecord),
    ) -> StageTimes {
        let mut times = StageTimes::default();
        let t0 = TIMED.then(std::time::Instant::now);
        self.packets += 1;
        self.bytes += u64::from(pkt.wire_len);
        // Borrowed, not cloned: every worker's labeler is the same `Arc`,
        // and a clone per packet made its reference count a cache line
        // the workers' cores took from each other at every packet.
        let labeler = self.labeler.as_deref();
        let mut emit = |e: Ended| out(finish(e, source, labeler));
        let cfg = *self.table.config();
        let touch = self.table.touch(pkt, &mut emit);
        times.new_flow = touch.is_new;
        let t1 = t0.map(|t| {
            let now = std::time::Instant::now();
            times.touch_ns = now.duration_since(t).as_nanos() as u64;
            now
        });
        let flow = touch.flow;
        if let (true, Some(h)) = (touch.is_new, hint) {
            associate(flow, touch.strings, h);
        }
        if flow.inspected() || !cfg.dpi {
            return times;
        }
        if touch.gap_ns > cfg.inspect_idle_ns && flow.stalled_candidate() {
            // Stalled: decided on what came before the pause (as the
            // sweep would have, had it run in time).
            give_up(flow, touch.strings);
            return times;
        }
        let has_syn = pkt.tcp.is_some_and(|t| t.flags & tcpflags::SYN != 0);
        if pkt.payload.is_empty() && (flow.inspect.is_none() || !has_syn) {
            return times;
        }
        self.inspected_packets += 1;
        inspect_packet(flow, touch.strings, touch.dir, pkt, &cfg);
        times.dissect_ns = t1.map(|t| t.elapsed().as_nanos() as u64);
        times
    }

    /// Moves the capture's clock to `ts` if that is later
    /// ([`FlowTable::advance_clock`]): a worker that classifies some of the
    /// flows is told the time of the packets it does not see, so that its
    /// flows time out as they would in one table of all of them.
    pub fn advance_clock(&mut self, ts: u64) {
        self.table.advance_clock(ts);
    }

    /// Ends every flow whose idle timeout passed at `now_ns`, then the
    /// inspection of those stalled (live capture calls this on a timer
    /// when no packets arrive; the table sweeps by itself as packets come,
    /// see [`FlowTable::advance_clock`]).
    pub fn expire(&mut self, now_ns: u64, source: &Arc<str>, out: &mut dyn FnMut(FlowRecord)) {
        let labeler = self.labeler.as_deref();
        self.table.expire(now_ns, &mut |e| out(finish(e, source, labeler)));
        self.table.stalled(now_ns, &mut give_up);
    }

    /// Ends all open flows (end of input, or Ctrl-C): as idle (or closed)
    /// those whose timeout has passed by the capture's clock, the others as
    /// `eof`.
    pub fn finish(&mut self, source: &Arc<str>, out: &mut dyn FnMut(FlowRecord)) {
        let labeler = self.labeler.as_deref();
        self.table.drain(&mut |e| out(finish(e, source, labeler)));
    }

    /// Ends all open flows as [`Engine::finish`] does, but hands each one
    /// over as it left the table, without its record: [`record`] makes
    /// that, on any thread, so that threads can share the work at the end
    /// of an input.
    pub fn drain(&mut self, out: &mut dyn FnMut(Ended)) {
        self.table.drain(out);
    }

    /// The labeler this engine's records get (for [`record`]).
    pub fn labeler(&self) -> Option<Arc<dyn Labeler>> {
        self.labeler.clone()
    }
}

/// The record of a flow [`Engine::drain`] handed over, as
/// [`Engine::finish`] makes it with `labeler`, the engine's: its last
/// inspection, encryption class, and application labels. It depends on
/// nothing else, so any thread can make it.
pub fn record(e: Ended, source: &Arc<str>, labeler: Option<&dyn Labeler>) -> FlowRecord {
    finish(e, source, labeler)
}

fn transport_of(flow: &Flow) -> Option<Transport> {
    match flow.key.proto {
        crate::decode::ipproto::TCP => Some(Transport::Tcp),
        crate::decode::ipproto::UDP => Some(Transport::Udp),
        _ => None,
    }
}

/// Bit set of dissectors that run on this transport, computed once (it
/// was ~1.4% of the pipeline when every new flow asked each dissector).
fn candidates_for(t: Transport) -> Candidates {
    static SETS: std::sync::LazyLock<[Candidates; 2]> = std::sync::LazyLock::new(|| {
        [Transport::Tcp, Transport::Udp].map(|t| {
            let mut c = Candidates::default();
            for (i, d) in DISSECTORS.iter().enumerate().take(Candidates::BITS) {
                if d.transports().contains(&t) {
                    c.insert(i);
                }
            }
            c
        })
    });
    match t {
        Transport::Tcp => SETS[0],
        Transport::Udp => SETS[1],
    }
}

/// Replaces the flow's verdict with `meta`, packed. The association
/// fields of an associated flow stay (see [`keep_assoc_extras`]).
fn store(flow: &mut Flow, strings: &mut Strings, meta: &Meta) {
    let has_verdict = flow.verdict.is_some() || flow.inspect.as_ref().is_some_and(|i| i.meta.is_some());
    if flow.associated() && has_verdict && !meta.extra.iter().any(|(k, _)| k.starts_with("assoc_")) {
        let mut m = meta.clone();
        keep_assoc_extras(&mut m, take_meta(flow, strings));
        flow.verdict = Some(strings.pack(&m));
        return;
    }
    drop_meta(flow, strings);
    flow.verdict = Some(strings.pack(meta));
}

/// Makes `m` the flow's newest verdict: the dissectors' new one when
/// `is_new` (the current one dropped, but for its association fields),
/// else the current one, without packing a verdict only to unpack it at
/// once.
fn newest_meta(flow: &mut Flow, strings: &mut Strings, m: &mut Meta, is_new: bool) {
    if !is_new {
        *m = take_meta(flow, strings);
    } else if flow.associated() {
        keep_assoc_extras(m, take_meta(flow, strings));
    } else {
        drop_meta(flow, strings);
    }
}

/// Takes the flow's current verdict out ([`Flow::take_verdict`]), or an
/// empty one.
fn take_meta(flow: &mut Flow, strings: &mut Strings) -> Meta {
    flow.take_verdict(strings).unwrap_or_default()
}

/// Drops the flow's current verdict.
fn drop_meta(flow: &mut Flow, strings: &mut Strings) {
    if let Some(i) = flow.inspect.as_mut() {
        i.meta = None;
    }
    if let Some(old) = flow.verdict.take() {
        strings.discard(old);
    }
}

/// Sets the verdict of a flow still under inspection: unpacked (see
/// [`Inspect::meta`]) when its dissector reuses it
/// ([`crate::dissect::Dissector::reuses_prev`]), else packed. The
/// association fields stay, as in [`store`].
fn keep(flow: &mut Flow, strings: &mut Strings, new: Meta) {
    let reuses = flow
        .inspect
        .as_ref()
        .and_then(|i| i.chosen)
        .is_some_and(|c| DISSECTORS[usize::from(c)].reuses_prev());
    if !reuses {
        store(flow, strings, &new);
        return;
    }
    let mut m = new;
    newest_meta(flow, strings, &mut m, true);
    if let Some(i) = flow.inspect.as_mut() {
        i.meta = Some(Box::new(m));
    }
}

fn inspect_packet(flow: &mut Flow, strings: &mut Strings, dir: Dir, pkt: &PacketView<'_>, cfg: &FlowConfig) {
    let budget = cfg.probe_packets;
    let Some(transport) = transport_of(flow) else {
        // No dissectors for ICMP and others: decide on the first payload.
        let mut meta = take_meta(flow, strings);
        if dir == Dir::Orig && meta.entropy.is_none() {
            meta.entropy = Some(randomness::entropy(pkt.payload));
        }
        // ICMP, ICMPv6, IGMP, VRRP: the message header tells.
        if let Some(m) = icmp::identify(flow.key.proto, pkt.payload) {
            meta.protocol = Some(m.protocol);
            meta.encryption = Encryption::Cleartext;
            meta.evidence.insert(Evidence::DPI);
            let (kind, code) = m.field_names();
            meta.set_extra(kind, m.kind.to_string());
            meta.set_extra(code, m.code.to_string());
        }
        // SCTP: a common header and chunks that fill the packet.
        if sctp::identify(flow.key.proto, pkt.payload, &mut meta) {
            meta.evidence.insert(Evidence::DPI);
        }
        // Routing and multicast protocols with IP protocol numbers of their own.
        crate::dissect::ospf::identify(flow.key.proto, pkt.payload, &mut meta);
        crate::dissect::pim::identify(flow.key.proto, pkt.payload, &mut meta);
        crate::dissect::pgm::identify(flow.key.proto, pkt.payload, &mut meta);
        // ESP: the IP protocol says IPsec; the SPI is all it shows.
        if let Some(spi) = ipsec::esp_over_ip(flow.key.proto, pkt.payload) {
            meta.protocol = Some("ipsec");
            meta.encryption = Encryption::Encrypted;
            meta.evidence.insert(Evidence::DPI);
            meta.set_extra("esp_spi", format!("0x{spi:08x}"));
        }
        store(flow, strings, &meta);
        flow.set_inspected();
        return;
    };
    if flow.inspect.is_none() {
        let mut insp = Inspect {
            candidates: candidates_for(transport),
            ..Inspect::default()
        };
        for d in 0..2 {
            if flow.tcp_flags[d] & tcpflags::SYN != 0 {
                insp.sides[d].expect_seq(flow.isn[d]);
            }
        }
        flow.inspect = Some(Box::new(insp));
    }
    let orig_is_a = flow.orig_is_a();
    let Some(insp) = flow.inspect.as_mut() else { return };
    insp.add(dir, pkt, cfg);
    if !insp.dirty {
        return;
    }
    insp.dirty = false;
    let spent = insp.sides.iter().any(|s| s.packets >= budget);
    let mut meta = Meta::default();
    let (found, done) = rerun(insp, &flow.key, orig_is_a, transport, spent, &mut meta);
    if done || spent {
        newest_meta(flow, strings, &mut meta, found);
        conclude(flow, &mut meta);
        store(flow, strings, &meta);
    } else if found {
        keep(flow, strings, meta);
    }
}

/// [`run_dissectors`] on a flow still in the table, with its working
/// verdict (`Inspect::meta`) as the `prev` a dissector may reuse.
fn rerun(
    insp: &mut Inspect,
    key: &FlowKey,
    orig_is_a: bool,
    transport: Transport,
    last: bool,
    out: &mut Meta,
) -> (bool, bool) {
    let mut prev = insp.meta.take();
    let r = run_dissectors(
        insp,
        reusable_prev(insp, prev.as_deref_mut()),
        key,
        orig_is_a,
        transport,
        last,
        out,
    );
    insp.meta = prev;
    r
}

/// The chosen dissector's previous verdict: what `parse_again` may reuse,
/// or take from when it identifies the flow again (the flow's sides only
/// grew at their ends since it was filled).
fn reusable_prev<'m>(insp: &Inspect, working: Option<&'m mut Meta>) -> Option<&'m mut Meta> {
    working.filter(|_| insp.chosen.is_some())
}

/// Runs the candidate dissectors over what the flow carried so far.
/// Writes the new meta into `out` (empty on entry, and left empty unless
/// a dissector identified the flow) and returns whether one did and
/// whether inspection is over. The meta is written in place, not returned:
/// it is a few hundred bytes, and each move of it was a `memcpy`.
fn run_dissectors(
    insp: &mut Inspect,
    prev: Option<&mut Meta>,
    key: &FlowKey,
    orig_is_a: bool,
    transport: Transport,
    last: bool,
    out: &mut Meta,
) -> (bool, bool) {
    debug_assert!(*out == Meta::default(), "run_dissectors writes into an empty meta");
    let (a_port, b_port) = (key.a_port, key.b_port);
    let (orig_port, resp_port) = if orig_is_a { (a_port, b_port) } else { (b_port, a_port) };
    let (mut one_orig, mut one_resp) = ([0], [0]);
    let p = Payloads {
        transport,
        orig_port,
        resp_port,
        orig: Side {
            data: &insp.sides[0].data,
            ends: insp.sides[0].ends(&mut one_orig),
        },
        resp: Side {
            data: &insp.sides[1].data,
            ends: insp.sides[1].ends(&mut one_resp),
        },
        last,
    };
    if let Some(i) = insp.chosen {
        let d = DISSECTORS[usize::from(i)];
        // The sides only grew since `prev` was filled: the dissector may
        // reuse its work on what they held then.
        let r = d.parse_with_state(&p, prev, &mut insp.state, out);
        return match r {
            Parse::Identified | Parse::Done => {
                fill_defaults(out, d.name());
                (true, r == Parse::Done)
            }
            // Once identified, a later failure keeps the earlier verdict.
            Parse::NeedMore | Parse::NotMine => {
                *out = Meta::default();
                (false, false)
            }
        };
    }
    // The dissectors whose probes would refuse the flow's first byte.
    if let Some(&b) = p.first_payload().first() {
        insp.candidates = insp.candidates.and(crate::dissect::admitting(b));
    }
    for i in insp.candidates.iter() {
        let d = DISSECTORS[i];
        if d.probe(&p) == Probe::NotMine {
            insp.candidates.remove(i);
            continue;
        }
        let mut state = State::default();
        match d.parse_with_state(&p, None, &mut state, out) {
            Parse::NotMine => {
                insp.candidates.remove(i);
                *out = Meta::default();
            }
            Parse::NeedMore => *out = Meta::default(),
            r @ (Parse::Identified | Parse::Done) => {
                insp.chosen = Some(i as u8);
                insp.state = state;
                fill_defaults(out, d.name());
                return (true, r == Parse::Done);
            }
        }
    }
    (false, insp.candidates.is_empty())
}

fn fill_defaults(m: &mut Meta, name: &'static str) {
    if m.protocol.is_none() {
        m.protocol = Some(name);
    }
    m.evidence.insert(Evidence::DPI);
}

/// Pieces per direction the statistics of an unidentified flow look at.
const STAT_PIECES: usize = 8;

/// Ends inspection: entropy and the fully-encrypted test on the first
/// originator payload, then frees the payload buffers. Completes the
/// final verdict in `meta` (the caller stores it).
fn conclude(flow: &mut Flow, meta: &mut Meta) {
    if let Some(insp) = flow.inspect.as_ref() {
        let first = insp.sides[0].first_piece();
        if !first.is_empty() {
            meta.entropy = Some(randomness::entropy(first));
        }
        if meta.protocol.is_none() {
            if !first.is_empty() && randomness::looks_fully_encrypted(first) {
                meta.encryption = Encryption::FullyEncrypted;
                meta.evidence.insert(Evidence::HEURISTIC);
            } else {
                let mut c = randomness::Coincidences::default();
                for side in &insp.sides {
                    for p in side.pieces().take(STAT_PIECES) {
                        c.add_piece(p);
                    }
                }
                if c.looks_cleartext() {
                    meta.encryption = Encryption::Cleartext;
                    meta.evidence.insert(Evidence::HEURISTIC);
                }
            }
            // The shape of an unidentified flow's opening, for heuristics
            // (e.g. MTProxy): first payload length per direction.
            for (key, side) in [("orig_first_len", &insp.sides[0]), ("resp_first_len", &insp.sides[1])] {
                let n = side.first_piece().len();
                if n > 0 {
                    meta.set_extra(key, n.to_string());
                }
            }
        }
    }
    flow.set_inspected();
}

/// Whether the final pass (the dissectors once more, `last` set) would
/// only rebuild the verdict a flow has: a dissector identified it, it
/// has parsed every byte kept (nothing `dirty`), and its verdicts do not
/// depend on `last` ([`crate::dissect::Dissector::final_pass`]). Then a
/// flow ending or stalling keeps its verdict as it is. (On the bench
/// capture this skipped a second parse of most DNS, HTTP, SLP and
/// Gnutella flows: 1.3% of the instructions.)
fn final_pass_is_moot(insp: &Inspect) -> bool {
    !insp.dirty && insp.chosen.is_some_and(|c| !DISSECTORS[usize::from(c)].final_pass())
}

/// Ends the inspection of a stalled flow: the dissectors decide on what it
/// carried so far, as in [`finish`].
fn give_up(flow: &mut Flow, strings: &mut Strings) {
    let Some(t) = transport_of(flow) else { return };
    let orig_is_a = flow.orig_is_a();
    let Some(insp) = flow.inspect.as_mut() else { return };
    let mut meta = Meta::default();
    let found = !final_pass_is_moot(insp) && rerun(insp, &flow.key, orig_is_a, t, true, &mut meta).0;
    newest_meta(flow, strings, &mut meta, found);
    conclude(flow, &mut meta);
    store(flow, strings, &meta);
}

/// Records on a new flow why it is associated with an earlier one.
fn associate(flow: &mut Flow, strings: &mut Strings, h: &AssocHint) {
    let mut meta = take_meta(flow, strings);
    meta.set_extra("assoc_realm", &*h.realm);
    meta.set_extra("assoc_peer", h.peer.as_str());
    meta.set_extra("assoc_from", h.from.as_str());
    flow.set_associated();
    store(flow, strings, &meta);
}

/// A dissector's verdict replacing `old` keeps the association fields the
/// flow got when it was created.
fn keep_assoc_extras(m: &mut Meta, old: Meta) {
    for (k, v) in old.extra {
        if k.starts_with("assoc_") {
            m.set_extra(k, v);
        }
    }
}

/// Final pass for a flow that ends while still being inspected.
fn finish(mut e: Ended, source: &Arc<str>, labeler: Option<&dyn Labeler>) -> FlowRecord {
    let f = &mut e.flow;
    if !f.inspected() {
        let orig_is_a = f.orig_is_a();
        if let (Some(t), Some(insp)) = (transport_of(f), f.inspect.as_mut()) {
            let mut m = Meta::default();
            let found = !final_pass_is_moot(insp)
                && run_dissectors(insp, e.meta.as_mut(), &f.key, orig_is_a, t, true, &mut m).0;
            if found {
                if f.associated() {
                    if let Some(old) = e.meta.take() {
                        keep_assoc_extras(&mut m, old);
                    }
                }
                e.meta = Some(m);
            }
            conclude(f, e.meta.get_or_insert_with(Meta::default));
        }
    }
    let mut rec = FlowRecord::from_ended(e, source);
    if let Some(l) = labeler {
        l.label(&mut rec);
    }
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Addr, TcpMeta, Tuple};

    fn udp<'a>(ts: u64, fwd: bool, payload: &'a [u8]) -> PacketView<'a> {
        let (a, b) = (Addr::from_v4([192, 0, 2, 1]), Addr::from_v4([198, 51, 100, 7]));
        let t = if fwd {
            Tuple {
                src: a,
                dst: b,
                sport: 40000,
                dport: 9999,
                proto: 17,
            }
        } else {
            Tuple {
                src: b,
                dst: a,
                sport: 9999,
                dport: 40000,
                proto: 17,
            }
        };
        PacketView {
            ts_ns: ts,
            wire_len: 42 + payload.len() as u32,
            tuple: t,
            tcp: None,
            payload,
        }
    }

    fn run(pkts: &[PacketView<'_>]) -> Vec<FlowRecord> {
        let mut e = Engine::new(FlowConfig::default(), None);
        let src: Arc<str> = Arc::from("test");
        let mut v = Vec::new();
        for p in pkts {
            e.process(p, &src, &mut |r| v.push(r));
        }
        e.finish(&src, &mut |r| v.push(r));
        v
    }

    #[test]
    fn final_pass_is_moot_only_for_identified_clean_flows_of_last_blind_dissectors() {
        let idx = |name: &str| DISSECTORS.iter().position(|d| d.name() == name).expect(name) as u8;
        let insp = |chosen: Option<u8>, dirty: bool| Inspect {
            chosen,
            dirty,
            ..Inspect::default()
        };
        // DNS does not read `last`: its verdict stands.
        assert!(final_pass_is_moot(&insp(Some(idx("dns")), false)));
        // Unparsed bytes, no dissector yet, or one that reads `last`: run it.
        assert!(!final_pass_is_moot(&insp(Some(idx("dns")), true)));
        assert!(!final_pass_is_moot(&insp(None, false)));
        assert!(!final_pass_is_moot(&insp(Some(idx("tls")), false)));
        assert!(!final_pass_is_moot(&insp(Some(idx("whois")), false)));
    }

    /// `drain` then `record`, on another thread, makes the records
    /// `finish` makes: an identified flow, one that needs the final pass,
    /// and one whose payload looks random.
    #[test]
    fn drained_flows_make_the_records_finish_makes() {
        let q = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
        ];
        let mut dns = udp(1, true, &q);
        dns.tuple.dport = 53;
        let mut partial = udp(2, true, b"GET / HTTP/1.1\r\nHost: exa");
        partial.tuple.sport = 40001;
        let noise: Vec<u8> = (0u32..300)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut random = udp(3, true, &noise);
        random.tuple.sport = 40002;
        let pkts = [dns, partial, random];
        let want = run(&pkts);
        assert_eq!(want.len(), 3);
        let mut e = Engine::new(FlowConfig::default(), None);
        let src: Arc<str> = Arc::from("test");
        let mut got = Vec::new();
        for p in &pkts {
            e.process(p, &src, &mut |r| got.push(r));
        }
        let mut ended = Vec::new();
        e.drain(&mut |x| ended.push(x));
        assert_eq!(e.stats().flows.ended_eof, 3);
        got.extend(
            std::thread::spawn(move || ended.into_iter().map(|x| record(x, &src, None)).collect::<Vec<_>>())
                .join()
                .unwrap(),
        );
        assert_eq!(got, want);
        assert_eq!(want[0].protocol, "dns");
        assert!(want.iter().all(|r| r.entropy.is_some()));
    }

    /// A DNS query that is never answered: identified on its packet, and
    /// ended with the same verdict without the final pass.
    #[test]
    fn unanswered_dns_query_keeps_its_verdict_at_the_end() {
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in ["www", "example", "com"] {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut p = udp(1, true, &q);
        p.tuple.dport = 53;
        let recs = run(&[p]);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.protocol, "dns");
        assert_eq!(r.dns_query.as_deref(), Some("www.example.com"));
        assert!(r.entropy.is_some());
    }

    #[test]
    fn without_dpi_a_flow_is_counted_and_never_inspected() {
        let (q, a) = (dns(SEC, 1, false), dns(SEC + 1, 1, true));
        let cfg = FlowConfig {
            dpi: false,
            ..FlowConfig::default()
        };
        let mut e = Engine::new(cfg, None);
        let src: Arc<str> = Arc::from("t");
        let mut v = Vec::new();
        for p in [&q, &a] {
            e.process(p, &src, &mut |r| v.push(r));
            assert!(e.table().slots().all(|f| f.inspect.is_none() && f.verdict.is_none()));
        }
        assert_eq!(e.stats().inspected_packets, 0);
        e.finish(&src, &mut |r| v.push(r));
        assert_eq!(v.len(), 1);
        let r = &v[0];
        assert_eq!((r.orig_pkts, r.resp_pkts, r.orig_bytes), (1, 1, 63));
        assert_eq!(r.protocol, "unknown");
        assert_eq!(r.encryption, Encryption::Unknown);
        assert!(r.dns_query.is_none() && r.entropy.is_none());
        // With DPI, the same two packets are DNS.
        assert_eq!(dns_record(&[q, a]).0.protocol, "dns");
    }

    #[test]
    fn random_udp_is_fully_encrypted_with_entropy() {
        let mut x = 12345u32;
        let noise: Vec<u8> = (0..400)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let recs = run(&[
            udp(1_000_000_000, true, &noise),
            udp(1_100_000_000, false, &noise[..50]),
        ]);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.orig_port, 40000);
        assert_eq!((r.orig_pkts, r.resp_pkts), (1, 1));
        assert_eq!(r.protocol, "unknown");
        assert_eq!(r.encryption, Encryption::FullyEncrypted);
        assert!(r.evidence.contains(Evidence::HEURISTIC));
        assert!(r.entropy.unwrap() > 7.0);
        assert_eq!(r.ts_first, 1.0);
        assert_eq!(r.end_reason, crate::flow::EndReason::Eof);
    }

    #[test]
    fn printable_udp_is_cleartext_by_heuristic() {
        let recs = run(&[udp(1, true, b"hello there, this is plain text")]);
        assert_eq!(recs[0].encryption, Encryption::Cleartext);
        assert_eq!(recs[0].protocol, "unknown");
        assert!(recs[0].evidence.contains(Evidence::HEURISTIC));
        assert!(!recs[0].evidence.contains(Evidence::DPI));
        // Too little to tell.
        let recs = run(&[udp(1, true, b"hello\x00\x01")]);
        assert_eq!(recs[0].encryption, Encryption::Unknown);
    }

    #[test]
    fn icmp_echo_is_cleartext_by_its_header() {
        let mut echo = vec![8u8, 0, 0x4d, 0x5a, 0, 1, 0, 7];
        echo.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
        let mut p = udp(1, true, &echo);
        p.tuple.proto = crate::decode::ipproto::ICMP;
        p.tuple.sport = 0;
        p.tuple.dport = 0;
        let recs = run(&[p]);
        assert_eq!(recs[0].protocol, "icmp");
        assert_eq!(recs[0].encryption, Encryption::Cleartext);
        assert!(recs[0].evidence.contains(Evidence::DPI));
    }

    #[test]
    fn syn_only_flow_has_no_meta_cost() {
        let a = Addr::from_v4([10, 0, 0, 1]);
        let b = Addr::from_v4([10, 0, 0, 2]);
        let p = PacketView {
            ts_ns: 5,
            wire_len: 60,
            tuple: Tuple {
                src: a,
                dst: b,
                sport: 1,
                dport: 80,
                proto: 6,
            },
            tcp: Some(TcpMeta {
                seq: 7,
                ack: 0,
                flags: 0x02,
            }),
            payload: &[],
        };
        let mut e = Engine::new(FlowConfig::default(), None);
        let src: Arc<str> = Arc::from("t");
        e.process(&p, &src, &mut |_| {});
        assert_eq!(e.table().len(), 1);
        assert_eq!(e.stats().inspected_packets, 0);
        let mut v = Vec::new();
        e.finish(&src, &mut |r| v.push(r));
        assert_eq!(v[0].orig_tcp_flags, Some("S"));
        assert_eq!(v[0].encryption, Encryption::Unknown);
    }

    fn dns(ts: u64, client: u8, resp: bool) -> PacketView<'static> {
        const Q: [u8; 21] = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
        ];
        const R: [u8; 21] = [
            0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
        ];
        let (c, s) = (Addr::from_v4([10, 0, 0, client]), Addr::from_v4([192, 0, 2, 53]));
        let (src, dst, sport, dport) = if resp { (s, c, 53, 5353) } else { (c, s, 5353, 53) };
        PacketView {
            ts_ns: ts,
            wire_len: 63,
            tuple: Tuple {
                src,
                dst,
                sport,
                dport,
                proto: 17,
            },
            tcp: None,
            payload: if resp { &R } else { &Q },
        }
    }

    const SEC: u64 = 1_000_000_000;

    fn dns_record(pkts: &[PacketView<'_>]) -> (FlowRecord, Vec<bool>) {
        let mut e = Engine::new(FlowConfig::default(), None);
        let src: Arc<str> = Arc::from("t");
        let mut held = Vec::new();
        let mut v = Vec::new();
        for p in pkts {
            e.process(p, &src, &mut |r| v.push(r));
            let one = Addr::from_v4([10, 0, 0, 1]);
            held.push(
                e.table()
                    .slots()
                    .any(|f| (f.key.a == one || f.key.b == one) && f.inspect.is_some()),
            );
        }
        e.finish(&src, &mut |r| v.push(r));
        v.retain(|r| r.orig_ip == std::net::IpAddr::from([10, 0, 0, 1]));
        assert_eq!(v.len(), 1);
        (v.remove(0), held)
    }

    /// A TLS 1.2 connection: handshake, the ClientHello in one segment,
    /// then the server's first flight in two.
    fn tls12_packets(hello: &[u8], flight: &[u8]) -> Vec<(Vec<u8>, PacketView<'static>)> {
        let (c, s) = (Addr::from_v4([10, 0, 0, 1]), Addr::from_v4([192, 0, 2, 10]));
        let cut = flight.len() / 2;
        let segs: [(bool, u32, u8, &[u8]); 5] = [
            (true, 100, 0x02, &[]),
            (false, 900, 0x12, &[]),
            (true, 101, 0x18, hello),
            (false, 901, 0x18, &flight[..cut]),
            (false, 901 + cut as u32, 0x18, &flight[cut..]),
        ];
        segs.iter()
            .enumerate()
            .map(|(i, &(fwd, seq, flags, data))| {
                let (src, dst, sport, dport) = if fwd { (c, s, 40000, 443) } else { (s, c, 443, 40000) };
                let v = PacketView {
                    ts_ns: (i as u64 + 1) * 1_000_000,
                    wire_len: 54 + data.len() as u32,
                    tuple: Tuple {
                        src,
                        dst,
                        sport,
                        dport,
                        proto: 6,
                    },
                    tcp: Some(TcpMeta { seq, ack: 0, flags }),
                    payload: &[],
                };
                (data.to_vec(), v)
            })
            .collect()
    }

    #[test]
    fn tls_keeps_its_verdict_unpacked_while_the_server_flight_arrives() {
        use crate::dissect::tls::tests::{flight12, wrap};
        let hello = wrap(
            22,
            &crate::fingerprint::client_hello::fixture::chrome("a.example"),
            16384,
        );
        let flight = flight12();
        let pkts = tls12_packets(&hello, &flight);
        for stop in [4, 5] {
            let mut e = Engine::new(FlowConfig::default(), None);
            let src: Arc<str> = Arc::from("t");
            let mut recs = Vec::new();
            for (i, (data, v)) in pkts.iter().take(stop).enumerate() {
                let v = PacketView { payload: data, ..*v };
                e.process(&v, &src, &mut |r| recs.push(r));
                let f = e.table().slots().next().expect("one flow");
                let working = f.inspect.as_ref().is_some_and(|i| i.meta.is_some());
                match i {
                    // Identified by the ClientHello and by half the server's
                    // flight: the verdict is the working one, not packed.
                    2 | 3 => assert!(working && f.verdict.is_none(), "packet {i}"),
                    // The flight is complete: inspection over, packed.
                    4 => assert!(f.inspect.is_none() && f.verdict.is_some(), "packet {i}"),
                    _ => assert!(!working, "packet {i}"),
                }
            }
            e.finish(&src, &mut |r| recs.push(r));
            assert_eq!(recs.len(), 1);
            let r = &recs[0];
            assert_eq!(r.protocol, "tls", "stop {stop}");
            assert_eq!(r.sni.as_deref(), Some("a.example"));
            assert!(r.ja4.is_some() && r.ja3.is_some());
            let extra = |k: &str| r.extra.iter().find(|(x, _)| *x == k).map(|(_, v)| v.as_str());
            // Ended mid-flight (stop 4) the record still has what the first
            // half of the flight showed; complete, the certificate too.
            assert_eq!(extra("tls_cipher"), Some("c02f"));
            let names = (stop == 5).then_some("cn.example,a.example,b.example");
            assert_eq!(extra("cert_names"), names, "stop {stop}");
        }
    }

    #[test]
    fn the_working_verdict_counts_in_the_table_memory() {
        use crate::dissect::tls::tests::{flight12, wrap};
        let hello = wrap(
            22,
            &crate::fingerprint::client_hello::fixture::chrome("a.example"),
            16384,
        );
        let pkts = tls12_packets(&hello, &flight12());
        let mut e = Engine::new(FlowConfig::default(), None);
        let src: Arc<str> = Arc::from("t");
        for (data, v) in pkts.iter().take(3) {
            e.process(&PacketView { payload: data, ..*v }, &src, &mut |_| {});
        }
        let f = e.table().slots().next().expect("one flow");
        let m = f
            .inspect
            .as_ref()
            .and_then(|i| i.meta.as_deref())
            .expect("working verdict");
        let insp = f.inspect.as_ref().expect("inspected");
        assert!(m.heap_bytes() > 0);
        assert!(insp.heap_bytes() >= std::mem::size_of::<Meta>() + m.heap_bytes());
        assert!(f.heap_bytes() >= insp.heap_bytes());
    }

    #[test]
    fn stalled_inspection_frees_buffers_and_decides_on_what_came_before() {
        let t = 100 * SEC;
        let idle = FlowConfig::default().inspect_idle_ns;
        // Answer in time: inspected with it.
        let (quick, _) = dns_record(&[dns(t, 1, false), dns(t + idle / 2, 1, true)]);
        assert_eq!(quick.protocol, "dns");
        assert_eq!(
            quick
                .extra
                .iter()
                .find(|(k, _)| *k == "dns_rcode")
                .map(|(_, v)| v.as_str()),
            Some("NXDOMAIN")
        );
        // Answer after a stall: the verdict rests on the query alone, and
        // it is the same whether the sweep (driven by another flow's
        // packet: the clock passes 103 s, 3 s after the query) or the late
        // answer itself ended the inspection.
        let late = t + idle + 2 * SEC;
        let (lazy, held_lazy) = dns_record(&[dns(t, 1, false), dns(late, 1, true)]);
        let (swept, held_swept) = dns_record(&[
            dns(t, 1, false),
            dns(t + idle + SEC + SEC / 2, 2, false),
            dns(late, 1, true),
        ]);
        assert_eq!(lazy.protocol, "dns");
        assert!(lazy.extra.iter().all(|(k, _)| *k != "dns_rcode"), "{:?}", lazy.extra);
        assert_eq!(lazy, swept);
        assert_eq!((lazy.orig_pkts, lazy.resp_pkts), (1, 1));
        // The sweep freed the stalled flow's buffers before its answer came.
        assert_eq!(held_lazy, [true, false]);
        assert_eq!(held_swept, [true, false, false]);
    }
}
