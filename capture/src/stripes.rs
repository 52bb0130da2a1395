//! A classic pcap file cut into stripes that several threads read at once.
//!
//! Stripe `i` is the file's bytes from `24 + i·size` for `size` bytes, and
//! its records are those that *start* in it. Reading a stripe's bytes
//! ([`Stripes::fill`]) needs nothing from the other stripes, so threads
//! read stripes at the same time. Finding its records ([`Stripes::cut`])
//! needs the offset of its first record, which only the stripe before it
//! knows: where that one's last record ends. So that walk over the record
//! headers ([`Stripes::hop`]) goes stripe by stripe, in order, but it
//! reads only each record's lengths, in memory already, and the frames
//! are listed after it ([`Stripes::frames`]), at once with the other
//! stripes. A record that runs past its stripe's end is completed with
//! one more read.
//!
//! The packets, the warning that stops reading, the counts and the effect
//! of a packet limit are those of the sequential reader
//! ([`crate::read`]), for any stripe size: tests check it on every fixture,
//! every truncation and stripe sizes from one byte up. Only classic pcap
//! is read so: a pcapng file, a gzip'd one or anything else is `None` from
//! [`Stripes::open`], for the sequential reader.
//!
//! The file's length is taken when it is opened: records appended after
//! that are not read, and a file that shrinks gives a read error where its
//! bytes are missing, as the sequential reader would.

use std::fs::File;
use std::io;
use std::path::Path;

use pcap_file::pcap::PcapParser;
use pcap_file::{Endianness, TsResolution};

use crate::{not_a_capture, u32_at, CaptureError, RawPacket, ReadReport, ReadWarning, MAX_RECORD, MIN_RECORD_LIMIT};

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

impl At for File {
    fn len(&self) -> u64 {
        self.metadata().map_or(0, |m| m.len())
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, off)
    }
}

#[cfg(test)]
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

/// A classic pcap file, its header read, for reading in stripes.
pub struct Stripes {
    src: Box<dyn At>,
    /// The file's length when it was opened.
    len: u64,
    size: u64,
    be: bool,
    nanos: bool,
    linktype: u32,
    snaplen: u32,
    limit: u32,
}

/// One record of a stripe: where its bytes are in the stripe's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StripeFrame {
    pub ts_ns: u64,
    pub wire_len: u32,
    /// Offset of the captured bytes in the buffer [`Stripes::fill`] filled.
    pub off: usize,
    pub len: usize,
}

/// What cutting a stripe found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cut {
    /// Where the next stripe's first record starts; `None` when reading
    /// ends in this stripe (the end of the file, damage, or the limit).
    pub next: Option<u64>,
    pub packets: u64,
    /// Bytes on the wire, as [`crate::ReadReport::bytes`] counts them.
    pub bytes: u64,
    /// Damage (or a read error) that ends reading, as the sequential
    /// reader reports it.
    pub warning: Option<ReadWarning>,
    /// The packet limit was reached.
    pub stopped: bool,
}

impl Stripes {
    /// The file at `path` in stripes of `size` bytes, if it is a classic
    /// pcap file of at least a file header; `None` for anything else
    /// (read it sequentially, which reports what is wrong).
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
        if len < FILE_HEADER || src.read_full(&mut head, 0).0 < head.len() {
            return Ok(None);
        }
        if !matches!(
            u32::from_be_bytes([head[0], head[1], head[2], head[3]]),
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1
        ) {
            return Ok(None);
        }
        let (_, parser) = PcapParser::new(&head).map_err(|e| not_a_capture(name, e.to_string()))?;
        let hdr = parser.header();
        Ok(Some(Stripes {
            src,
            len,
            size: size.max(1) as u64,
            be: hdr.endianness == Endianness::Big,
            nanos: hdr.ts_resolution == TsResolution::NanoSecond,
            // As the sequential reader: the FCS bits off.
            linktype: u32::from(hdr.datalink) & 0x03ff_ffff,
            snaplen: hdr.snaplen,
            limit: hdr.snaplen.clamp(MIN_RECORD_LIMIT, MAX_RECORD),
        }))
    }

    /// The number of stripes.
    pub fn count(&self) -> u64 {
        (self.len - FILE_HEADER).div_ceil(self.size)
    }

    /// Where the first stripe's first record starts.
    pub fn first(&self) -> u64 {
        FILE_HEADER
    }

    /// The link type of every frame.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    fn span(&self, i: u64) -> (u64, u64) {
        let start = FILE_HEADER.saturating_add(i.saturating_mul(self.size)).min(self.len);
        (start, start.saturating_add(self.size).min(self.len))
    }

    /// Reads stripe `i`'s bytes into the front of `buf` (which keeps its
    /// length if longer: nothing is zeroed twice); returns how many came.
    /// Fewer than the stripe holds (a read error, a file that shrank) is
    /// for [`Stripes::cut`] to report, at the record that misses them.
    pub fn fill(&self, i: u64, buf: &mut Vec<u8>) -> usize {
        let (start, end) = self.span(i);
        let n = (end - start) as usize;
        if buf.len() < n {
            buf.resize(n, 0);
        }
        self.src.read_full(&mut buf[..n], start).0
    }

    /// Finds the records of stripe `i`, of which [`Stripes::fill`] put
    /// `filled` bytes in `buf`, the first at offset `first` (what the stripe
    /// before said: [`Cut::next`]), giving each to `f`: [`Stripes::hop`],
    /// then [`Stripes::frames`].
    pub fn cut(
        &self,
        i: u64,
        buf: &mut Vec<u8>,
        filled: usize,
        first: u64,
        left: u64,
        f: &mut dyn FnMut(StripeFrame),
    ) -> Cut {
        let cut = self.hop(i, buf, filled, first, left);
        self.frames(i, buf, first, cut.packets, f);
        cut
    }

    /// The part of [`Stripes::cut`] the next stripe waits for: a walk over
    /// the record headers from `first` that checks every record, counts
    /// them and finds where the next stripe's first record starts.
    /// Reading stops after `left` packets (at least one), as the sequential
    /// reader stops after the packet its callback refuses. A record that
    /// runs past the stripe is read into `buf` after the stripe's bytes.
    pub fn hop(&self, i: u64, buf: &mut Vec<u8>, filled: usize, first: u64, left: u64) -> Cut {
        let (start, end) = self.span(i);
        // Bytes of `buf` that hold the file from `start` on.
        let mut have = filled as u64;
        let mut cut = Cut::default();
        let mut off = first.max(start);
        let damage = |cut: &mut Cut, at: u64, reason: String| {
            cut.warning = Some(ReadWarning { offset: at, reason });
        };
        while off < end {
            let rest = self.len - off;
            if rest < RECORD_HEADER as u64 {
                damage(
                    &mut cut,
                    off,
                    format!("truncated record header ({rest} of {RECORD_HEADER} bytes)"),
                );
                return cut;
            }
            let rel = (off - start) as usize;
            if let Err(e) = self.more(buf, start, &mut have, rel + RECORD_HEADER) {
                damage(&mut cut, off, e);
                return cut;
            }
            let h = &buf[rel..rel + RECORD_HEADER];
            let incl = u32_at(h, 8, self.be).unwrap_or(u32::MAX);
            if incl > self.limit {
                damage(
                    &mut cut,
                    off,
                    format!(
                        "record length {incl} exceeds the limit {} (snaplen {}): corrupt record header",
                        self.limit, self.snaplen
                    ),
                );
                return cut;
            }
            let orig = u32_at(h, 12, self.be).unwrap_or(0);
            let total = RECORD_HEADER + incl as usize;
            if rest < total as u64 {
                damage(&mut cut, off, format!("truncated record ({rest} of {total} bytes)"));
                return cut;
            }
            if let Err(e) = self.more(buf, start, &mut have, rel + total) {
                damage(&mut cut, off, e);
                return cut;
            }
            cut.packets += 1;
            cut.bytes += u64::from(orig.max(incl));
            off += total as u64;
            if cut.packets >= left {
                cut.stopped = true;
                return cut;
            }
        }
        cut.next = (off < self.len).then_some(off);
        cut
    }

    /// Gives `f` the first `n` records of stripe `i` from `first`, which
    /// [`Stripes::hop`] found and checked in `buf`.
    pub fn frames(&self, i: u64, buf: &[u8], first: u64, n: u64, f: &mut dyn FnMut(StripeFrame)) {
        let (start, _) = self.span(i);
        let mut rel = first.saturating_sub(start) as usize;
        for _ in 0..n {
            let Some(h) = buf.get(rel..rel + RECORD_HEADER) else {
                return;
            };
            let sec = u64::from(u32_at(h, 0, self.be).unwrap_or(0));
            let frac = u64::from(u32_at(h, 4, self.be).unwrap_or(0));
            let incl = u32_at(h, 8, self.be).unwrap_or(0);
            let orig = u32_at(h, 12, self.be).unwrap_or(0);
            f(StripeFrame {
                ts_ns: sec * 1_000_000_000 + if self.nanos { frac } else { frac * 1000 },
                wire_len: orig.max(incl),
                off: rel + RECORD_HEADER,
                len: incl as usize,
            });
            rel += RECORD_HEADER + incl as usize;
        }
    }

    /// Reads every stripe in order on this thread, calling `f` for each
    /// packet until it returns `false`: the sequential reader's packets
    /// and report (one thread, and the tests' reference).
    pub fn read(&self, f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> ReadReport {
        let mut rep = ReadReport::new("pcap");
        let mut next = Some(self.first());
        let mut buf = Vec::new();
        let mut frames = Vec::new();
        for i in 0..self.count() {
            let Some(first) = next else { break };
            let filled = self.fill(i, &mut buf);
            frames.clear();
            let c = self.cut(i, &mut buf, filled, first, u64::MAX, &mut |fr| frames.push(fr));
            for fr in &frames {
                let raw = RawPacket {
                    ts_ns: fr.ts_ns,
                    linktype: self.linktype,
                    wire_len: fr.wire_len,
                    data: &buf[fr.off..fr.off + fr.len],
                };
                rep.packets += 1;
                rep.bytes += u64::from(raw.wire_len);
                if !f(&raw) {
                    rep.stopped = true;
                    return rep;
                }
            }
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

#[cfg(test)]
impl Stripes {
    /// `bytes` as a file in stripes of `size` bytes.
    pub(crate) fn of(bytes: Vec<u8>, size: usize) -> Option<Stripes> {
        Stripes::over("fixture", Box::new(bytes), size).expect("a pcap header")
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
    fn pcapng_gzip_and_short_files_are_not_striped() {
        assert!(Stripes::of(vec![0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0], 10).is_none());
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
