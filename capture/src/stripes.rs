//! A capture file cut into stripes that several threads read at once.
//!
//! Stripe `i` is the file's bytes from `base + i·size` for `size` bytes
//! (`base` is 24 for pcap's file header, 0 for pcapng), and its records
//! are those that *start* in it. Reading a stripe's bytes
//! ([`Stripes::fill`]) needs nothing from the other stripes, so threads
//! read stripes at the same time. Finding its records needs where its
//! first record starts, which only the stripe before it knows: where that
//! one's last record ends, and for pcapng what its blocks said (the
//! section's byte order, the interfaces, the last timestamp: a
//! [`Resume`]). So that walk over the records ([`Stripes::hop`]) goes
//! stripe by stripe, in order; for pcap it reads only each record's
//! lengths, in memory already. The frames are listed after it
//! ([`Stripes::frames`]), at once with the other stripes. A record that
//! runs past its stripe's end is completed with one more read.
//!
//! The packets, the warning that stops reading, the skipped records, the
//! counts and the effect of a packet limit are those of the sequential
//! reader ([`crate::read`]), for any stripe size: both formats parse with
//! the same code, and tests check it on every fixture, every truncation,
//! damaged and mutated files and stripe sizes from one byte up. A gzip'd
//! file or anything else is `None` from [`Stripes::open`], for the
//! sequential reader.
//!
//! The file's length is taken when it is opened: records appended after
//! that are not read, and a file that shrinks gives a read error where its
//! bytes are missing.

#[cfg(unix)]
use std::fs::File;
use std::io;
use std::path::Path;

use pcap_file::pcap::PcapParser;
use pcap_file::{Endianness, TsResolution};

use crate::{
    not_a_capture, pcapng, u32_at, CaptureError, RawPacket, ReadReport, ReadWarning, Skipped, MAX_RECORD,
    MIN_RECORD_LIMIT,
};

const FILE_HEADER: u64 = 24;
const RECORD_HEADER: usize = 16;

/// Bytes that can be read at any offset.
trait At: Send + Sync {
    fn len(&self) -> u64;
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize>;

    /// Fills `buf` from `off`: how many bytes came, and the error that
    /// stopped it early (`None` with fewer bytes: the end of the bytes).
    fn read_full(&self, buf: &mut [u8], off: u64) -> (usize, Option<io::Error>) {
        let mut n = 0;
        while n < buf.len() {
            match self.read_at(&mut buf[n..], off + n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (n, Some(e)),
            }
        }
        (n, None)
    }
}

#[cfg(unix)]
impl At for File {
    fn len(&self) -> u64 {
        self.metadata().map_or(0, |m| m.len())
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, off)
    }
}

impl At for Vec<u8> {
    fn len(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        let src = usize::try_from(off)
            .ok()
            .and_then(|o| self.get(o..))
            .unwrap_or_default();
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
}

/// A capture file, its format known, for reading in stripes.
pub struct Stripes {
    src: Box<dyn At>,
    /// The file's length when it was opened.
    len: u64,
    size: u64,
    /// Where the first stripe starts: after pcap's file header, or 0.
    base: u64,
    format: Format,
}

enum Format {
    Pcap {
        be: bool,
        nanos: bool,
        linktype: u32,
        snaplen: u32,
        limit: u32,
    },
    Pcapng,
}

/// Where a stripe's first record starts, and for pcapng what the blocks
/// before it said (byte order, interfaces, the last timestamp).
#[derive(Clone, Debug)]
pub struct Resume {
    off: u64,
    ng: Option<pcapng::Ng>,
}

/// One record of a stripe: where its bytes are in the stripe's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StripeFrame {
    pub ts_ns: u64,
    pub linktype: u32,
    pub wire_len: u32,
    /// Offset of the captured bytes in the buffer [`Stripes::fill`] filled.
    pub off: usize,
    pub len: usize,
}

/// What cutting a stripe found.
#[derive(Clone, Debug, Default)]
pub struct Cut {
    /// Where the next stripe's first record starts; `None` when reading
    /// ends in this stripe (the end of the file, damage, or the limit).
    pub next: Option<Resume>,
    pub packets: u64,
    /// Bytes on the wire, as [`crate::ReadReport::bytes`] counts them.
    pub bytes: u64,
    /// Damage (or a read error) that ends reading, as the sequential
    /// reader reports it.
    pub warning: Option<ReadWarning>,
    /// The packet limit was reached.
    pub stopped: bool,
    /// Records skipped while reading went on (pcapng).
    pub skipped: Vec<Skipped>,
}

impl Stripes {
    /// Elsewhere than unix files are read sequentially (positional reads,
    /// `pread`, are the unix ones here).
    #[cfg(not(unix))]
    pub fn open(_path: &Path, _size: usize) -> Result<Option<Stripes>, CaptureError> {
        Ok(None)
    }

    /// The file at `path` in stripes of `size` bytes, if it is a pcap file
    /// with its file header or a pcapng file that starts with a section
    /// header; `None` for anything else (read it sequentially, which says
    /// what is wrong).
    #[cfg(unix)]
    pub fn open(path: &Path, size: usize) -> Result<Option<Stripes>, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| CaptureError::Open {
            path: name.clone(),
            source: e,
        })?;
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        Stripes::over(&name, Box::new(file), size)
    }

    fn over(name: &str, src: Box<dyn At>, size: usize) -> Result<Option<Stripes>, CaptureError> {
        let len = src.len();
        let mut head = [0u8; FILE_HEADER as usize];
        let got = src.read_full(&mut head, 0).0;
        let size = size.max(1) as u64;
        let magic = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if got >= 12 && magic == 0x0a0d_0d0a {
            // The first block must be a section header whose header reads.
            if pcapng::header(&head[..12], &mut pcapng::Ng::new()).is_err() {
                return Ok(None);
            }
            return Ok(Some(Stripes {
                src,
                len,
                size,
                base: 0,
                format: Format::Pcapng,
            }));
        }
        if got < head.len() || !matches!(magic, 0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1) {
            return Ok(None);
        }
        let (_, parser) = PcapParser::new(&head).map_err(|e| not_a_capture(name, e.to_string()))?;
        let hdr = parser.header();
        Ok(Some(Stripes {
            src,
            len,
            size,
            base: FILE_HEADER,
            format: Format::Pcap {
                be: hdr.endianness == Endianness::Big,
                nanos: hdr.ts_resolution == TsResolution::NanoSecond,
                // As the sequential reader: the FCS bits off.
                linktype: u32::from(hdr.datalink) & 0x03ff_ffff,
                snaplen: hdr.snaplen,
                limit: hdr.snaplen.clamp(MIN_RECORD_LIMIT, MAX_RECORD),
            },
        }))
    }

    /// The capture format, as [`crate::ReadReport::format`] names it.
    pub fn format(&self) -> &'static str {
        match self.format {
            Format::Pcap { .. } => "pcap",
            Format::Pcapng => "pcapng",
        }
    }

    /// The number of stripes.
    pub fn count(&self) -> u64 {
        (self.len - self.base).div_ceil(self.size)
    }

    /// Where the first stripe's first record starts.
    pub fn first(&self) -> Resume {
        Resume {
            off: self.base,
            ng: matches!(self.format, Format::Pcapng).then(pcapng::Ng::new),
        }
    }

    fn span(&self, i: u64) -> (u64, u64) {
        let start = self.base.saturating_add(i.saturating_mul(self.size)).min(self.len);
        (start, start.saturating_add(self.size).min(self.len))
    }

    /// Reads stripe `i`'s bytes into the front of `buf` (which keeps its
    /// length if longer: nothing is zeroed twice); returns how many came.
    /// Fewer than the stripe holds (a read error, a file that shrank) is
    /// for [`Stripes::hop`] to report, at the record that misses them.
    pub fn fill(&self, i: u64, buf: &mut Vec<u8>) -> usize {
        let (start, end) = self.span(i);
        let n = (end - start) as usize;
        if buf.len() < n {
            buf.resize(n, 0);
        }
        self.src.read_full(&mut buf[..n], start).0
    }

    /// Finds the records of stripe `i`, of which [`Stripes::fill`] put
    /// `filled` bytes in `buf`, the first at `first` (what the stripe
    /// before said: [`Cut::next`]), giving each to `f`: [`Stripes::hop`],
    /// then [`Stripes::frames`].
    pub fn cut(
        &self,
        i: u64,
        buf: &mut Vec<u8>,
        filled: usize,
        first: &Resume,
        left: u64,
        f: &mut dyn FnMut(StripeFrame),
    ) -> Cut {
        let cut = self.hop(i, buf, filled, first, left);
        self.frames(i, buf, first, cut.packets, f);
        cut
    }

    /// The part of [`Stripes::cut`] the next stripe waits for: a walk over
    /// the records from `first` that checks each as the sequential reader
    /// does, counts them and finds where the next stripe's first record
    /// starts. Reading stops after `left` packets (at least one), as the
    /// sequential reader stops after the packet its callback refuses. A
    /// record that runs past the stripe is read into `buf` after the
    /// stripe's bytes.
    pub fn hop(&self, i: u64, buf: &mut Vec<u8>, filled: usize, first: &Resume, left: u64) -> Cut {
        let (start, end) = self.span(i);
        let mut walk = Walk {
            s: self,
            start,
            have: filled as u64,
            cut: Cut::default(),
        };
        let mut off = first.off.max(start);
        let mut ng = first.ng.clone();
        // One loop per format: the pcap one is the step every stripe waits
        // for, a few instructions a record.
        let step = |walk: &mut Walk<'_>, off: &mut u64, total: Option<usize>| match total {
            Some(total) => {
                *off += total as u64;
                if walk.cut.packets >= left {
                    walk.cut.stopped = true;
                    return false;
                }
                true
            }
            None => false,
        };
        match (&self.format, ng.as_mut()) {
            (&Format::Pcap { be, limit, snaplen, .. }, _) => {
                while off < end {
                    let total = walk.pcap_record(buf, off, be, limit, snaplen);
                    if !step(&mut walk, &mut off, total) {
                        return walk.cut;
                    }
                }
            }
            (Format::Pcapng, Some(st)) => {
                while off < end {
                    let total = walk.pcapng_block(buf, off, st);
                    if !step(&mut walk, &mut off, total) {
                        return walk.cut;
                    }
                }
            }
            (Format::Pcapng, None) => return walk.cut,
        }
        walk.cut.next = (off < self.len).then_some(Resume { off, ng });
        walk.cut
    }

    /// Gives `f` the first `n` records of stripe `i` from `first`, which
    /// [`Stripes::hop`] found and checked in `buf`.
    pub fn frames(&self, i: u64, buf: &[u8], first: &Resume, n: u64, f: &mut dyn FnMut(StripeFrame)) {
        let (start, _) = self.span(i);
        let mut rel = first.off.saturating_sub(start) as usize;
        let mut taken = 0;
        match &self.format {
            Format::Pcap {
                be, nanos, linktype, ..
            } => {
                while taken < n {
                    let Some(h) = buf.get(rel..rel + RECORD_HEADER) else {
                        return;
                    };
                    let sec = u64::from(u32_at(h, 0, *be).unwrap_or(0));
                    let frac = u64::from(u32_at(h, 4, *be).unwrap_or(0));
                    let incl = u32_at(h, 8, *be).unwrap_or(0);
                    let orig = u32_at(h, 12, *be).unwrap_or(0);
                    f(StripeFrame {
                        ts_ns: sec * 1_000_000_000 + if *nanos { frac } else { frac * 1000 },
                        linktype: *linktype,
                        wire_len: orig.max(incl),
                        off: rel + RECORD_HEADER,
                        len: incl as usize,
                    });
                    rel += RECORD_HEADER + incl as usize;
                    taken += 1;
                }
            }
            Format::Pcapng => {
                let Some(mut st) = first.ng.clone() else {
                    return;
                };
                while taken < n {
                    let Some(h) = buf.get(rel..) else {
                        return;
                    };
                    let Ok((btype, blen)) = pcapng::header(h, &mut st) else {
                        return;
                    };
                    let Some(b) = buf.get(rel..rel + blen) else {
                        return;
                    };
                    if let pcapng::Block::Packet(p) = pcapng::block(b, btype, &mut st) {
                        // Where the data is in `buf` (an empty slice may
                        // be anywhere).
                        let at = (p.data.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
                        f(StripeFrame {
                            ts_ns: p.ts_ns,
                            linktype: p.linktype,
                            wire_len: p.wire_len,
                            off: if p.data.is_empty() { 0 } else { at },
                            len: p.data.len(),
                        });
                        taken += 1;
                    }
                    rel += blen;
                }
            }
        }
    }

    /// Reads every stripe in order on this thread, calling `f` for each
    /// packet until it returns `false`: the sequential reader's packets
    /// and report (one thread, and the tests' reference).
    pub fn read(&self, f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> ReadReport {
        let mut rep = ReadReport::new(self.format());
        let mut next = Some(self.first());
        let mut buf = Vec::new();
        let mut frames = Vec::new();
        for i in 0..self.count() {
            let Some(first) = next else { break };
            let filled = self.fill(i, &mut buf);
            frames.clear();
            let c = self.cut(i, &mut buf, filled, &first, u64::MAX, &mut |fr| frames.push(fr));
            for (k, fr) in frames.iter().enumerate() {
                let raw = RawPacket {
                    ts_ns: fr.ts_ns,
                    linktype: fr.linktype,
                    wire_len: fr.wire_len,
                    data: &buf[fr.off..fr.off + fr.len],
                };
                rep.packets += 1;
                rep.bytes += u64::from(raw.wire_len);
                if !f(&raw) {
                    rep.stopped = true;
                    // The records skipped up to this packet: the walk
                    // again, stopping at it.
                    let upto = self.hop(i, &mut buf.clone(), filled, &first, k as u64 + 1);
                    rep.merge_skipped(upto.skipped.iter());
                    return rep;
                }
            }
            rep.merge_skipped(c.skipped.iter());
            rep.warning = c.warning;
            next = c.next;
        }
        rep
    }

    /// Makes `buf` hold the file from `start` for at least `want` bytes,
    /// reading what `have` does not cover yet.
    #[inline]
    fn more(&self, buf: &mut Vec<u8>, start: u64, have: &mut u64, want: usize) -> Result<(), String> {
        if want as u64 <= *have {
            return Ok(());
        }
        self.read_more(buf, start, have, want)
    }

    #[cold]
    #[inline(never)]
    fn read_more(&self, buf: &mut Vec<u8>, start: u64, have: &mut u64, want: usize) -> Result<(), String> {
        let h = *have as usize;
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let (n, err) = self.src.read_full(&mut buf[h..want], start + h as u64);
        *have += n as u64;
        match err {
            _ if h + n == want => Ok(()),
            Some(e) => Err(format!("read error: {e}")),
            None => Err("read error: the file is shorter than when it was opened".into()),
        }
    }
}

/// One stripe's walk in [`Stripes::hop`].
struct Walk<'s> {
    s: &'s Stripes,
    start: u64,
    /// Bytes of the buffer that hold the file from `start` on.
    have: u64,
    cut: Cut,
}

impl Walk<'_> {
    fn damage(&mut self, at: u64, reason: String) -> Option<usize> {
        self.cut.warning = Some(ReadWarning { offset: at, reason });
        None
    }

    /// Makes the buffer hold `n` bytes from `off`, or says why not.
    fn need(&mut self, buf: &mut Vec<u8>, off: u64, n: usize, what: &str) -> Option<()> {
        let rest = self.s.len - off;
        if rest < n as u64 {
            self.damage(off, format!("truncated {what} ({rest} of {n} bytes)"));
            return None;
        }
        let rel = (off - self.start) as usize;
        match self.s.more(buf, self.start, &mut self.have, rel + n) {
            Ok(()) => Some(()),
            Err(e) => {
                self.damage(off, e);
                None
            }
        }
    }

    /// Checks and counts the pcap record at `off`; its length, or `None`
    /// when reading stops at it.
    #[inline]
    fn pcap_record(&mut self, buf: &mut Vec<u8>, off: u64, be: bool, limit: u32, snaplen: u32) -> Option<usize> {
        // Nearly every record: header and data among the bytes read.
        let rel = (off - self.start) as usize;
        if let Some(h) = buf
            .get(rel..rel + RECORD_HEADER)
            .filter(|_| rel + RECORD_HEADER <= self.have as usize)
        {
            let incl = u32_at(h, 8, be).unwrap_or(u32::MAX);
            let total = RECORD_HEADER + incl as usize;
            if incl <= limit && rel + total <= self.have as usize {
                let orig = u32_at(h, 12, be).unwrap_or(0);
                self.cut.packets += 1;
                self.cut.bytes += u64::from(orig.max(incl));
                return Some(total);
            }
        }
        self.need(buf, off, RECORD_HEADER, "record header")?;
        let rel = (off - self.start) as usize;
        let h = &buf[rel..rel + RECORD_HEADER];
        let incl = u32_at(h, 8, be).unwrap_or(u32::MAX);
        if incl > limit {
            return self.damage(
                off,
                format!("record length {incl} exceeds the limit {limit} (snaplen {snaplen}): corrupt record header"),
            );
        }
        let orig = u32_at(h, 12, be).unwrap_or(0);
        let total = RECORD_HEADER + incl as usize;
        self.need(buf, off, total, "record")?;
        self.cut.packets += 1;
        self.cut.bytes += u64::from(orig.max(incl));
        Some(total)
    }

    /// Checks and counts the pcapng block at `off`, taking what it says
    /// into `st`; its length, or `None` when reading stops at it.
    fn pcapng_block(&mut self, buf: &mut Vec<u8>, off: u64, st: &mut pcapng::Ng) -> Option<usize> {
        self.need(buf, off, 12, "block header")?;
        let rel = (off - self.start) as usize;
        let (btype, blen) = match pcapng::header(&buf[rel..rel + 12], st) {
            Ok(h) => h,
            // Only the first block could be no section header, and
            // `Stripes::open` read it.
            Err(pcapng::Stop::NotACapture(reason) | pcapng::Stop::Damage(reason)) => return self.damage(off, reason),
        };
        self.need(buf, off, blen, "block")?;
        match pcapng::block(&buf[rel..rel + blen], btype, st) {
            pcapng::Block::Packet(p) => {
                self.cut.packets += 1;
                self.cut.bytes += u64::from(p.wire_len);
            }
            pcapng::Block::Other(Some(reason)) => skip(&mut self.cut.skipped, off, reason, 1),
            pcapng::Block::Other(None) => {}
            pcapng::Block::Damage(reason) => return self.damage(off, reason),
        }
        Some(blen)
    }
}

/// Counts `n` records skipped for `reason`, the first at `off`.
fn skip(list: &mut Vec<Skipped>, off: u64, reason: &str, n: u64) {
    match list.iter_mut().find(|s| s.reason == reason) {
        Some(s) => s.count += n,
        None => list.push(Skipped {
            reason: reason.to_string(),
            count: n,
            first_offset: off,
        }),
    }
}

impl ReadReport {
    /// Adds skipped records counted after those already here (a later
    /// stripe's, say).
    pub fn merge_skipped<'a>(&mut self, more: impl IntoIterator<Item = &'a Skipped>) {
        for s in more {
            skip(&mut self.skipped, s.first_offset, &s.reason, s.count);
        }
    }
}

impl Stripes {
    /// A capture held in memory, in stripes of `size` bytes (tests and
    /// fuzzing compare it with the sequential reader): `None` as
    /// [`Stripes::open`] would say for such a file.
    pub fn from_bytes(bytes: Vec<u8>, size: usize) -> Result<Option<Stripes>, CaptureError> {
        Stripes::over("memory", Box::new(bytes), size)
    }
}

#[cfg(test)]
impl Stripes {
    /// `bytes` as a file in stripes of `size` bytes.
    pub(crate) fn of(bytes: Vec<u8>, size: usize) -> Option<Stripes> {
        Stripes::from_bytes(bytes, size).expect("a pcap header")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: &mut Vec<u8>, sec: u32, frac: u32, data: &[u8], orig: u32) {
        for x in [sec, frac, data.len() as u32, orig] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
    }

    fn header(snaplen: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&snaplen.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v
    }

    #[test]
    fn a_record_longer_than_several_stripes_passes_through_them() {
        let mut file = header(65535);
        record(&mut file, 1, 2, &[7; 1000], 1000);
        record(&mut file, 3, 4, &[8; 10], 60);
        let s = Stripes::of(file, 100).unwrap();
        assert_eq!(s.count(), (1000 + 10 + 32u64).div_ceil(100));
        let mut got = Vec::new();
        let rep = s.read(&mut |p| {
            got.push((p.ts_ns, p.wire_len, p.data.to_vec()));
            true
        });
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (1_000_002_000, 1000, vec![7; 1000]));
        assert_eq!(got[1], (3_000_004_000, 60, vec![8; 10]));
        assert_eq!(
            (rep.packets, rep.bytes, rep.warning, rep.stopped),
            (2, 1060, None, false)
        );
    }

    #[test]
    fn gzip_short_and_headless_files_are_not_striped() {
        // pcapng: a section header's first 12 bytes at least, readable.
        assert!(Stripes::of(vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0], 10).is_none());
        let mut bad_magic = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4];
        assert!(Stripes::of(bad_magic.clone(), 10).is_none());
        bad_magic[8..12].copy_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        assert_eq!(Stripes::of(bad_magic, 10).map(|s| s.format()), Some("pcapng"));
        assert!(Stripes::of(header(65535)[..23].to_vec(), 10).is_none());
        let mut gz = vec![0x1f, 0x8b];
        gz.resize(40, 0);
        assert!(Stripes::of(gz, 10).is_none());
        let empty = Stripes::of(header(65535), 10).unwrap();
        assert_eq!(empty.count(), 0);
    }

    #[test]
    fn a_file_that_shrinks_is_a_read_error_where_bytes_are_missing() {
        let mut file = header(65535);
        record(&mut file, 1, 0, &[1; 50], 50);
        record(&mut file, 2, 0, &[2; 50], 50);
        let s = Stripes::of(file.clone(), 70).unwrap();
        // The file loses its last 20 bytes after it was opened.
        let short = Stripes {
            src: Box::new(file[..file.len() - 20].to_vec()),
            ..s
        };
        let mut n = 0;
        let rep = short.read(&mut |_| {
            n += 1;
            true
        });
        assert_eq!((n, rep.packets), (1, 1));
        let w = rep.warning.expect("a warning");
        assert!(w.reason.starts_with("read error"), "{}", w.reason);
        assert_eq!(w.offset, 24 + 66);
    }
}
