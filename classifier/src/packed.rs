//! Compact verdicts: how a flow's [`Meta`] is kept between packets.
//!
//! A [`Meta`] is the dissectors' working struct: 280 bytes of options and
//! strings, with an `extra` vector that allocates 4 slots at the first
//! push. Kept per flow, it was most of the flow table's memory (issue 5).
//! So the flow table keeps a [`Packed`] verdict instead: one byte buffer
//! (varints, tags, short strings inline), and strings that repeat across
//! flows (fingerprints, ALPN lists, server names, user agents, ...) as ids
//! into [`Strings`], a reference-counted table owned by the flow table.
//! A string leaves the table when its last flow does; the table is capped
//! (entries and bytes), and a string that does not fit stays inline.
//!
//! Packing is lossless: `unpack(pack(m)) == m` for every `Meta` (tested,
//! fields and extras in order, `f32`s bit for bit). The output therefore
//! does not depend on the table's state, so it is the same whatever the
//! number of threads.
//!
//! Layout of the buffer (all integers LEB128 varints unless noted):
//! `encryption: u8, evidence: u16 LE, present: u8` (bit 0 protocol,
//! bit 1 app_confidence, bit 2 entropy), `protocol: key id`,
//! `app_confidence: f32 LE`, `entropy: f32 LE`, then items until the end:
//! `tag: u8` = kind << 5 | field, where field 0..=8 is a named string
//! field ([`FIELDS`]) and 31 an extra (followed by its key's id), and kind
//! is 0 inline (length, bytes), 1 shared (string id), 2 number (a decimal
//! integer value, as its value).

use std::hash::BuildHasher;

use crate::verdict::{Encryption, Evidence, Meta};

/// A packed verdict (see the module docs).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Packed(Box<[u8]>);

impl Packed {
    /// Heap bytes held by this verdict (the table's strings are counted
    /// by [`Strings::heap_bytes`]).
    pub fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

/// Strings shorter than this are always kept inline.
const MIN_SHARED: usize = 8;
/// The same for extras (short values like versions and codes repeat most).
const MIN_SHARED_EXTRA: usize = 2;
/// Default cap of the table: distinct strings.
const MAX_ENTRIES: usize = 1 << 20;
/// Default cap of the table: bytes of string data.
const MAX_BYTES: usize = 64 << 20;

const EXTRA: u8 = 31;
/// Field number of `dns_query`, kept inline.
const DNS_QUERY: u8 = 7;
const INLINE: u8 = 0;
const SHARED: u8 = 1;
const NUMBER: u8 = 2;

const P_PROTOCOL: u8 = 1;
const P_CONF: u8 = 2;
const P_ENTROPY: u8 = 4;

/// The named string fields of [`Meta`], by field number.
pub const FIELDS: [&str; 9] = [
    "sni",
    "alpn",
    "ja3",
    "ja3s",
    "ja4",
    "ja4_r",
    "http_host",
    "dns_query",
    "app",
];

fn field_mut(m: &mut Meta, i: u8) -> Option<&mut Option<String>> {
    Some(match i {
        0 => &mut m.sni,
        1 => &mut m.alpn,
        2 => &mut m.ja3,
        3 => &mut m.ja3s,
        4 => &mut m.ja4,
        5 => &mut m.ja4_r,
        6 => &mut m.http_host,
        7 => &mut m.dns_query,
        8 => &mut m.app,
        _ => return None,
    })
}

struct Entry {
    s: Box<str>,
    refs: u32,
}

/// Reference-counted string table shared by the packed verdicts of one
/// flow table, plus the ids of the `&'static str` keys (protocol names,
/// extra keys) the dissectors use.
pub struct Strings {
    entries: Vec<Entry>,
    free: Vec<u32>,
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    live: usize,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    keys: Vec<&'static str>,
    key_index: hashbrown::HashTable<u32>,
    /// Reused by [`Strings::pack`].
    scratch: Vec<u8>,
    /// Reused by [`Strings::unpack`] and [`Strings::discard`] for the ids
    /// a verdict holds (two allocations per flow otherwise).
    ids: Vec<u32>,
}

impl Default for Strings {
    fn default() -> Self {
        Strings::new(MAX_ENTRIES, MAX_BYTES)
    }
}

impl std::fmt::Debug for Strings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strings")
            .field("live", &self.live)
            .field("bytes", &self.bytes)
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let x = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(x & 0x7f) << shift;
        if x & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

fn take<'b>(b: &'b [u8], pos: &mut usize, n: usize) -> Option<&'b [u8]> {
    let s = b.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(s)
}

/// The value of a canonical decimal integer (`0`, or no leading zero),
/// which prints back to the same string.
fn as_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Strings {
    /// A table holding at most `max_entries` strings and `max_bytes` bytes
    /// of string data.
    pub fn new(max_entries: usize, max_bytes: usize) -> Strings {
        Strings {
            entries: Vec::new(),
            free: Vec::new(),
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            live: 0,
            bytes: 0,
            max_entries,
            max_bytes,
            keys: Vec::new(),
            key_index: hashbrown::HashTable::new(),
            scratch: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Distinct strings held.
    pub fn len(&self) -> usize {
        self.live
    }
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Heap bytes of the table: entries, index, free list, string data, keys.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.index.allocation_size()
            + self.free.capacity() * 4
            + self.bytes
            + self.keys.capacity() * std::mem::size_of::<&str>()
            + self.key_index.allocation_size()
            + self.scratch.capacity()
            + self.ids.capacity() * 4
    }

    fn key_id(&mut self, k: &'static str) -> u64 {
        let h = self.hasher.hash_one(k);
        let keys = &self.keys;
        if let Some(&i) = self.key_index.find(h, |&i| keys[i as usize] == k) {
            return u64::from(i);
        }
        let i = self.keys.len() as u32;
        self.keys.push(k);
        let (keys, hasher) = (&self.keys, &self.hasher);
        self.key_index
            .insert_unique(h, i, |&j| hasher.hash_one(keys[j as usize]));
        u64::from(i)
    }

    /// The id of `s` with one more reference, or `None` (keep it inline).
    fn acquire(&mut self, s: &str, min: usize) -> Option<u32> {
        if s.len() < min {
            return None;
        }
        let h = self.hasher.hash_one(s);
        let entries = &self.entries;
        if let Some(&i) = self.index.find(h, |&i| &*entries[i as usize].s == s) {
            let e = &mut self.entries[i as usize];
            e.refs = e.refs.checked_add(1)?;
            return Some(i);
        }
        if self.live >= self.max_entries || self.bytes + s.len() > self.max_bytes {
            return None;
        }
        let entry = Entry { s: s.into(), refs: 1 };
        let i = if let Some(i) = self.free.pop() {
            self.entries[i as usize] = entry;
            i
        } else {
            self.entries.push(entry);
            (self.entries.len() - 1) as u32
        };
        self.live += 1;
        self.bytes += s.len();
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .insert_unique(h, i, |&j| hasher.hash_one(&*entries[j as usize].s));
        Some(i)
    }

    /// Drops one reference to string `i`, freeing it at zero.
    fn release(&mut self, i: u32) {
        let Some(e) = self.entries.get_mut(i as usize) else {
            return;
        };
        if e.refs == 0 {
            return;
        }
        e.refs -= 1;
        if e.refs > 0 {
            return;
        }
        let s = std::mem::take(&mut e.s);
        let h = self.hasher.hash_one(&*s);
        if let Ok(en) = self.index.find_entry(h, |&j| j == i) {
            en.remove();
        }
        self.bytes -= s.len();
        self.live -= 1;
        self.free.push(i);
    }

    fn put_str(&mut self, out: &mut Vec<u8>, field: u8, key: Option<&'static str>, s: &str) {
        let number = if key.is_some() { as_number(s) } else { None };
        let (kind, shared) = match number {
            Some(_) => (NUMBER, None),
            // Query names are mostly distinct: a table entry would cost
            // more than the bytes inline.
            None if field == DNS_QUERY => (INLINE, None),
            None => match self.acquire(s, if key.is_some() { MIN_SHARED_EXTRA } else { MIN_SHARED }) {
                Some(id) => (SHARED, Some(id)),
                None => (INLINE, None),
            },
        };
        out.push(kind << 5 | field);
        if let Some(k) = key {
            let id = self.key_id(k);
            put_varint(out, id);
        }
        match (number, shared) {
            (Some(n), _) => put_varint(out, n),
            (None, Some(id)) => put_varint(out, u64::from(id)),
            (None, None) => {
                put_varint(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }

    /// Packs a verdict, taking references on its shared strings.
    pub fn pack(&mut self, m: &Meta) -> Packed {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.push(m.encryption as u8);
        out.extend_from_slice(&m.evidence.0.to_le_bytes());
        let present = if m.protocol.is_some() { P_PROTOCOL } else { 0 }
            | if m.app_confidence.is_some() { P_CONF } else { 0 }
            | if m.entropy.is_some() { P_ENTROPY } else { 0 };
        out.push(present);
        if let Some(p) = m.protocol {
            let id = self.key_id(p);
            put_varint(&mut out, id);
        }
        if let Some(c) = m.app_confidence {
            out.extend_from_slice(&c.to_le_bytes());
        }
        if let Some(e) = m.entropy {
            out.extend_from_slice(&e.to_le_bytes());
        }
        let fields = [
            &m.sni,
            &m.alpn,
            &m.ja3,
            &m.ja3s,
            &m.ja4,
            &m.ja4_r,
            &m.http_host,
            &m.dns_query,
            &m.app,
        ];
        for (i, f) in fields.into_iter().enumerate() {
            if let Some(s) = f {
                self.put_str(&mut out, i as u8, None, s);
            }
        }
        for (k, v) in &m.extra {
            self.put_str(&mut out, EXTRA, Some(k), v);
        }
        // One exact allocation; the scratch buffer is kept for the next.
        let p = Packed(Box::from(&out[..]));
        self.scratch = out;
        p
    }

    /// Unpacks a verdict and drops its references. A buffer this table
    /// did not write yields what could be read of it.
    pub fn unpack(&mut self, p: Packed) -> Meta {
        let mut m = Meta::default();
        let mut ids = std::mem::take(&mut self.ids);
        let _ = self.read_into(&p.0, Some(&mut m), Some(&mut ids));
        self.release_all(&mut ids);
        self.ids = ids;
        m
    }

    /// Releases `ids` and empties it.
    fn release_all(&mut self, ids: &mut Vec<u32>) {
        for id in ids.drain(..) {
            self.release(id);
        }
    }

    #[cfg(test)]
    fn peek_id(&self, s: &str) -> Option<u32> {
        let h = self.hasher.hash_one(s);
        self.index.find(h, |&i| &*self.entries[i as usize].s == s).copied()
    }

    /// Forgets every shared string, for when no packed verdict is left
    /// (a drained flow table): cheaper than releasing them one by one.
    /// Limits and key ids stay.
    pub fn clear(&mut self) {
        self.entries = Vec::new();
        self.free = Vec::new();
        self.index = hashbrown::HashTable::new();
        self.live = 0;
        self.bytes = 0;
    }

    /// Unpacks without dropping references.
    pub fn peek(&self, p: &Packed) -> Meta {
        let mut m = Meta::default();
        let _ = self.read_into(&p.0, Some(&mut m), None);
        m
    }

    /// Drops a verdict's references (without building its strings).
    pub fn discard(&mut self, p: Packed) {
        let mut ids = std::mem::take(&mut self.ids);
        let _ = self.read_into(&p.0, None, Some(&mut ids));
        self.release_all(&mut ids);
        self.ids = ids;
    }

    /// Reads a buffer into `out`, and collects its shared ids into `ids`
    /// (`peek`, which releases nothing, passes none: a vector of them for
    /// every flow drained at the end was an allocation each).
    fn read_into(&self, b: &[u8], mut out: Option<&mut Meta>, mut ids: Option<&mut Vec<u32>>) -> Option<()> {
        let mut scratch = Meta::default();
        let build = out.is_some();
        let m = match out.as_mut() {
            Some(m) => &mut **m,
            None => &mut scratch,
        };
        let mut pos = 0;
        let head = take(b, &mut pos, 4)?;
        m.encryption = match head[0] {
            1 => Encryption::Cleartext,
            2 => Encryption::Encrypted,
            3 => Encryption::FullyEncrypted,
            _ => Encryption::Unknown,
        };
        m.evidence = Evidence(u16::from_le_bytes([head[1], head[2]]));
        let present = head[3];
        if present & P_PROTOCOL != 0 {
            let id = get_varint(b, &mut pos)?;
            m.protocol = Some(*self.keys.get(usize::try_from(id).ok()?)?);
        }
        let f32_at = |pos: &mut usize| -> Option<f32> {
            let x = take(b, pos, 4)?;
            Some(f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        };
        if present & P_CONF != 0 {
            m.app_confidence = Some(f32_at(&mut pos)?);
        }
        if present & P_ENTROPY != 0 {
            m.entropy = Some(f32_at(&mut pos)?);
        }
        while pos < b.len() {
            let tag = b[pos];
            pos += 1;
            let (kind, field) = (tag >> 5, tag & 31);
            let key = if field == EXTRA {
                let id = get_varint(b, &mut pos)?;
                Some(*self.keys.get(usize::try_from(id).ok()?)?)
            } else {
                None
            };
            let value = match kind {
                INLINE => {
                    let n = usize::try_from(get_varint(b, &mut pos)?).ok()?;
                    let v = take(b, &mut pos, n)?;
                    if !build {
                        continue;
                    }
                    // What `pack` wrote was a `str`: checked, not decoded.
                    match std::str::from_utf8(v) {
                        Ok(v) => v.to_owned(),
                        Err(_) => String::from_utf8_lossy(v).into_owned(),
                    }
                }
                SHARED => {
                    let id = u32::try_from(get_varint(b, &mut pos)?).ok()?;
                    let e = self.entries.get(id as usize)?;
                    if let Some(ids) = ids.as_mut() {
                        ids.push(id);
                    }
                    if !build {
                        continue;
                    }
                    // A plain copy: `to_string` on a `Box<str>` goes
                    // through `Display` and the formatter.
                    String::from(&*e.s)
                }
                NUMBER => {
                    let n = get_varint(b, &mut pos)?;
                    if !build {
                        continue;
                    }
                    n.to_string()
                }
                _ => return None,
            };
            match key {
                Some(k) => m.extra.push((k, value)),
                None => *field_mut(m, field)? = Some(value),
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Meta {
        let mut m = Meta {
            protocol: Some("tls"),
            encryption: Encryption::Encrypted,
            evidence: Evidence::DPI | Evidence::SNI,
            app: Some("example".into()),
            app_confidence: Some(0.625),
            sni: Some("www.example.com".into()),
            alpn: Some("h2,http/1.1".into()),
            ja3: Some("0123456789abcdef0123456789abcdef".into()),
            ja3s: Some("fedcba9876543210fedcba9876543210".into()),
            ja4: Some("t13d1516h2_8daaf6152771_b186095e22b6".into()),
            ja4_r: Some("t13d1516h2_002f,0035_0005,000a_0403".into()),
            http_host: Some("h".into()),
            dns_query: Some("query.example.org".into()),
            entropy: Some(7.123_456),
            extra: Vec::new(),
        };
        m.set_extra("tls_version", "1.3");
        m.set_extra("orig_first_len", "517");
        m.set_extra("zero", "0");
        m.set_extra("leading_zero", "0517");
        m.set_extra("huge", "123456789012345678901234567890");
        m.set_extra("user_agent", "Mozilla/5.0 (X11; Linux x86_64)");
        m.set_extra("non_ascii", "é".repeat(20));
        m
    }

    #[test]
    fn round_trip_is_lossless() {
        let mut t = Strings::default();
        for m in [
            Meta::default(),
            full(),
            Meta {
                entropy: Some(f32::NAN),
                encryption: Encryption::FullyEncrypted,
                ..Meta::default()
            },
        ] {
            let p = t.pack(&m);
            let back = t.unpack(p);
            assert_eq!(format!("{back:?}"), format!("{m:?}"));
            assert_eq!(back.extra, m.extra);
        }
        assert!(t.is_empty(), "every reference dropped");
    }

    #[test]
    fn shared_strings_are_counted_and_freed() {
        let mut t = Strings::default();
        let m = full();
        let a = t.pack(&m);
        let n = t.len();
        assert!(n >= 5, "long strings shared: {n}");
        assert!(t.peek_id("www.example.com").is_some());
        assert!(t.peek_id("1.3").is_some(), "short extras are shared");
        let b = t.pack(&m);
        assert_eq!(t.len(), n, "the same strings are not stored twice");
        assert!(b.heap_bytes() < 120, "{}", b.heap_bytes());
        assert_eq!(t.peek(&a), m);
        t.discard(a);
        assert_eq!(t.len(), n);
        assert_eq!(t.unpack(b), m);
        assert!(t.is_empty());
        assert_eq!(t.bytes, 0);
    }

    #[test]
    fn full_table_keeps_strings_inline() {
        let mut t = Strings::new(2, 1 << 20);
        let m = full();
        let p = t.pack(&m);
        assert_eq!(t.len(), 2);
        assert_eq!(t.peek(&p), m);
        let mut small = Strings::new(100, 0);
        let p = small.pack(&m);
        assert!(small.is_empty());
        assert_eq!(small.unpack(p), m);
    }

    #[test]
    fn damaged_buffer_reads_what_it_can() {
        let mut t = Strings::default();
        let p = t.pack(&full());
        for cut in 0..p.0.len() {
            let q = Packed(p.0[..cut].into());
            let _ = t.peek(&q);
        }
        let _ = t.peek(&Packed(vec![0xff; 40].into()));
    }
}
