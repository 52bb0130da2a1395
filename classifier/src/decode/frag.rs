//! IPv4 / IPv6 fragment reassembly with bounded memory.
//!
//! - Key: (source, destination, identification, protocol for IPv4 / family).
//!   IPv6 does not key on the next header (RFC 8200: only the offset-zero
//!   fragment's value counts).
//! - Each fragment's bytes are stored as received (one allocation of the
//!   bytes actually present); the datagram is assembled into the decoder's
//!   output buffer only once every byte is there.
//! - Limits ([`FragLimits`]): bytes held in total (payload plus a fixed
//!   per-fragment overhead), datagrams pending, fragments per datagram, and
//!   65535 bytes per datagram. A new datagram over a limit evicts the oldest
//!   pending ones; a fragment that alone exceeds a limit is dropped.
//! - Timeout in packet time: a datagram not complete `timeout_ns` after its
//!   first fragment is discarded (checked at most once per second of packet
//!   time, and whenever time goes backwards).
//! - Overlaps: a fragment with the same offset and length as one held is a
//!   duplicate and ignored (first wins). Any other overlap, or fragments
//!   disagreeing on the datagram's end, discards the whole datagram
//!   (as RFC 5722 requires for IPv6; applied to IPv4 too).
//! - Invalid fragments (a non-last fragment whose length is not a multiple
//!   of 8 or is empty, data beyond 65535 bytes) are dropped.

use std::collections::HashMap;

use super::ip::{Frag, Ip};
use super::{Addr, DecodeStats};

/// Reassembly limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragLimits {
    /// Bytes held across all pending datagrams (payload + per-fragment overhead).
    pub max_bytes: usize,
    /// Datagrams pending at once.
    pub max_datagrams: usize,
    /// Fragments held per datagram (insertion is O(fragments held), so this
    /// also bounds the work an adversarial fragment order can cause).
    pub max_fragments: usize,
    /// Packet-time timeout from a datagram's first fragment, in nanoseconds.
    pub timeout_ns: u64,
}

impl Default for FragLimits {
    fn default() -> FragLimits {
        FragLimits {
            max_bytes: 4 << 20,
            max_datagrams: 1024,
            max_fragments: 1024,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Bytes charged per held fragment on top of its payload.
pub const FRAGMENT_OVERHEAD: usize = 64;
/// Largest reassembled datagram payload.
const MAX_DATAGRAM: u32 = 65535;
const PRUNE_EVERY_NS: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    src: Addr,
    dst: Addr,
    id: u32,
    /// IPv4: the protocol; IPv6: 0.
    proto: u8,
    v6: bool,
}

impl Key {
    pub(super) fn new(p: &Ip<'_>, id: u32) -> Key {
        Key {
            src: p.src,
            dst: p.dst,
            id,
            proto: if p.v6 { 0 } else { p.proto },
            v6: p.v6,
        }
    }
}

#[derive(Debug)]
struct Piece {
    start: u32,
    data: Vec<u8>,
}

impl Piece {
    fn end(&self) -> u32 {
        self.start + self.data.len() as u32
    }
}

#[derive(Debug)]
struct Pending {
    first_ts: u64,
    /// Insertion order, for evicting the oldest.
    seq: u64,
    /// Sorted by start, never overlapping.
    pieces: Vec<Piece>,
    /// Datagram length, known once the last fragment arrived.
    total: Option<u32>,
    /// Bytes held (sum of piece lengths).
    have: u32,
    charged: usize,
    wire_len: u64,
    /// Upper-layer protocol of the offset-zero fragment (IPv6) or of any
    /// fragment (IPv4).
    proto: Option<u8>,
}

/// What became of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Added {
    Held,
    Dropped,
    /// The fragment itself is invalid (a non-last fragment whose length is
    /// not a positive multiple of 8, or data beyond 65535 bytes); nothing held.
    Invalid,
    /// The datagram is complete; fetch it with [`Reassembler::assemble`].
    Complete,
}

#[derive(Debug, Default)]
pub(super) struct Reassembler {
    limits: FragLimits,
    map: HashMap<Key, Pending>,
    bytes: usize,
    seq: u64,
    next_prune: u64,
}

impl Reassembler {
    pub(super) fn new(limits: FragLimits) -> Reassembler {
        Reassembler {
            limits,
            ..Reassembler::default()
        }
    }

    /// (datagrams pending, bytes charged).
    pub(super) fn pending(&self) -> (usize, usize) {
        (self.map.len(), self.bytes)
    }

    /// Discards datagrams older than the timeout at packet time `now`.
    /// Called for every frame, and almost always with nothing to do: the
    /// test is inlined into the decoder (as a call it cost 16 instructions
    /// a frame for saving and restoring registers, 0.5% of a run), the
    /// pruning is not.
    #[inline]
    pub(super) fn expire(&mut self, now: u64, stats: &mut DecodeStats) {
        if self.map.is_empty() {
            return;
        }
        let went_back = now.saturating_add(PRUNE_EVERY_NS) < self.next_prune;
        if now < self.next_prune && !went_back {
            return;
        }
        self.prune(now, stats);
    }

    #[inline(never)]
    fn prune(&mut self, now: u64, stats: &mut DecodeStats) {
        self.next_prune = now.saturating_add(PRUNE_EVERY_NS);
        let timeout = self.limits.timeout_ns;
        let mut freed = 0;
        self.map.retain(|_, p| {
            let keep = now.saturating_sub(p.first_ts) < timeout;
            if !keep {
                freed += p.charged;
                stats.frag_timeouts += 1;
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
    }

    /// Removes a pending datagram.
    pub(super) fn discard(&mut self, key: &Key) {
        if let Some(p) = self.map.remove(key) {
            self.bytes = self.bytes.saturating_sub(p.charged);
        }
    }

    fn evict_oldest(&mut self, keep: &Key, stats: &mut DecodeStats) -> bool {
        let oldest = self
            .map
            .iter()
            .filter(|(k, _)| *k != keep)
            .min_by_key(|(_, p)| p.seq)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.discard(&k);
                stats.frag_evictions += 1;
                true
            }
            None => false,
        }
    }

    /// Adds one fragment of `data` (the fragmentable part) with upper-layer
    /// protocol `proto`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        key: Key,
        f: Frag,
        proto: u8,
        data: &[u8],
        ts: u64,
        wire_len: u32,
        stats: &mut DecodeStats,
    ) -> Added {
        let Ok(len) = u32::try_from(data.len()) else {
            return Added::Invalid;
        };
        let end = f.offset.saturating_add(len);
        if end > MAX_DATAGRAM || (f.more && (len == 0 || len % 8 != 0)) {
            return Added::Invalid;
        }
        let charge = data.len() + FRAGMENT_OVERHEAD;
        if charge > self.limits.max_bytes || self.limits.max_datagrams == 0 || self.limits.max_fragments == 0 {
            return Added::Dropped;
        }
        if let Some(p) = self.map.get(&key) {
            // Same offset and length as a held piece: a duplicate.
            let i = p.pieces.partition_point(|q| q.start < f.offset);
            if p.pieces.get(i).is_some_and(|q| q.start == f.offset && q.end() == end) {
                stats.frag_duplicates += 1;
                return Added::Held;
            }
        } else {
            while self.map.len() >= self.limits.max_datagrams {
                if !self.evict_oldest(&key, stats) {
                    return Added::Dropped;
                }
            }
        }
        while self.bytes + charge > self.limits.max_bytes {
            if !self.evict_oldest(&key, stats) {
                // Only this datagram is left and it is too big for the budget.
                self.discard(&key);
                stats.frag_evictions += 1;
                return Added::Dropped;
            }
        }
        self.seq += 1;
        let seq = self.seq;
        let p = self.map.entry(key).or_insert_with(|| Pending {
            first_ts: ts,
            seq,
            pieces: Vec::new(),
            total: None,
            have: 0,
            charged: 0,
            wire_len: 0,
            proto: None,
        });
        if !data.is_empty() && p.pieces.len() >= self.limits.max_fragments {
            self.discard(&key);
            stats.frag_evictions += 1;
            return Added::Dropped;
        }
        if !insert(p, f, end, data) {
            self.discard(&key);
            stats.frag_overlaps += 1;
            return Added::Dropped;
        }
        if f.offset == 0 || !key.v6 {
            p.proto = Some(proto);
        }
        p.charged += charge;
        p.wire_len += u64::from(wire_len);
        self.bytes += charge;
        if p.total == Some(p.have) && p.proto.is_some() {
            Added::Complete
        } else {
            Added::Held
        }
    }

    /// Moves a complete datagram into `buf` (cleared first) and returns its
    /// protocol and the summed wire length of its fragments.
    pub(super) fn assemble(&mut self, key: &Key, buf: &mut Vec<u8>) -> Option<(u8, u64)> {
        let p = self.map.remove(key)?;
        self.bytes = self.bytes.saturating_sub(p.charged);
        if p.total != Some(p.have) {
            return None;
        }
        buf.clear();
        // Every byte is held (pieces do not overlap and sum to the total),
        // so this reserves no more than the bytes received.
        buf.reserve(p.have as usize);
        for q in &p.pieces {
            buf.extend_from_slice(&q.data);
        }
        Some((p.proto?, p.wire_len))
    }
}

/// Places a fragment; false when it conflicts with what is held (overlap,
/// disagreement on the end).
fn insert(p: &mut Pending, f: Frag, end: u32, data: &[u8]) -> bool {
    if !f.more {
        if p.total.is_some_and(|t| t != end) || p.pieces.last().is_some_and(|q| q.end() > end) {
            return false;
        }
        p.total = Some(end);
    } else if p.total.is_some_and(|t| end > t) {
        return false;
    }
    if data.is_empty() {
        return true;
    }
    let i = p.pieces.partition_point(|q| q.start < f.offset);
    let prev_ok = i == 0 || p.pieces.get(i - 1).is_some_and(|q| q.end() <= f.offset);
    let next_ok = p.pieces.get(i).is_none_or(|q| q.start >= end);
    if !(prev_ok && next_ok) {
        return false;
    }
    p.pieces.insert(
        i,
        Piece {
            start: f.offset,
            data: data.to_vec(),
        },
    );
    p.have += data.len() as u32;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key {
            src: Addr::from_v4([1, 1, 1, 1]),
            dst: Addr::from_v4([2, 2, 2, 2]),
            id: 7,
            proto: 17,
            v6: false,
        }
    }

    fn frag(offset: u32, more: bool) -> Frag {
        Frag { id: 7, offset, more }
    }

    #[test]
    fn pieces_assemble_in_any_order() {
        let mut r = Reassembler::new(FragLimits::default());
        let mut st = DecodeStats::default();
        let a = [1u8; 16];
        let b = [2u8; 8];
        assert_eq!(r.add(key(), frag(16, false), 17, &b, 0, 50, &mut st), Added::Held);
        assert_eq!(r.add(key(), frag(0, true), 17, &a, 0, 50, &mut st), Added::Complete);
        let mut out = Vec::new();
        assert_eq!(r.assemble(&key(), &mut out), Some((17, 100)));
        assert_eq!(&out[..16], &a);
        assert_eq!(&out[16..], &b);
        assert_eq!(r.pending(), (0, 0));
    }

    #[test]
    fn invalid_fragments_dropped() {
        let mut r = Reassembler::new(FragLimits::default());
        let mut st = DecodeStats::default();
        // non-last, not a multiple of 8
        assert_eq!(r.add(key(), frag(0, true), 17, &[0; 7], 0, 0, &mut st), Added::Invalid);
        // beyond 65535
        assert_eq!(
            r.add(key(), frag(65528, false), 17, &[0; 16], 0, 0, &mut st),
            Added::Invalid
        );
        // more fragments with no data
        assert_eq!(r.add(key(), frag(8, true), 17, &[], 0, 0, &mut st), Added::Invalid);
        assert_eq!(r.pending(), (0, 0));
    }

    #[test]
    fn conflicting_end_discards() {
        let mut r = Reassembler::new(FragLimits::default());
        let mut st = DecodeStats::default();
        assert_eq!(r.add(key(), frag(16, false), 17, &[0; 8], 0, 0, &mut st), Added::Held);
        assert_eq!(
            r.add(key(), frag(32, false), 17, &[0; 8], 0, 0, &mut st),
            Added::Dropped
        );
        assert_eq!(st.frag_overlaps, 1);
        assert_eq!(r.pending(), (0, 0));
        // a middle fragment past a known end
        assert_eq!(r.add(key(), frag(8, false), 17, &[0; 8], 0, 0, &mut st), Added::Held);
        assert_eq!(r.add(key(), frag(16, true), 17, &[0; 8], 0, 0, &mut st), Added::Dropped);
        assert_eq!(r.pending(), (0, 0));
    }

    #[test]
    fn fragment_count_limit() {
        let limits = FragLimits {
            max_fragments: 4,
            ..FragLimits::default()
        };
        let mut r = Reassembler::new(limits);
        let mut st = DecodeStats::default();
        for i in 0..4 {
            assert_eq!(r.add(key(), frag(i * 8, true), 17, &[0; 8], 0, 0, &mut st), Added::Held);
        }
        assert_eq!(r.add(key(), frag(32, true), 17, &[0; 8], 0, 0, &mut st), Added::Dropped);
        assert_eq!(r.pending(), (0, 0));
    }
}
