//! A refilling read buffer: records are parsed straight out of it, so a
//! capture of any size (or an endless pipe) is read with bounded memory and
//! without a copy or an allocation per packet.

use std::io::{self, BufRead, Read};

/// Default buffer size. Records larger than this grow the buffer, but only
/// after the caller checked the record length against its limit.
pub(crate) const BUF_SIZE: usize = 2 << 20;

pub(crate) struct Stream<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read but not yet consumed.
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
}

impl<R: Read> Stream<R> {
    pub(crate) fn new(inner: R, cap: usize) -> Stream<R> {
        Stream {
            inner,
            buf: vec![0; cap.max(64)],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
        }
    }

    /// The bytes read and not yet consumed.
    #[inline]
    pub(crate) fn avail(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Stream offset of the first unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
    }

    /// [`Self::fill`] for the `what` starting at stream offset `off`: true
    /// when `n` bytes are available. Otherwise the reading stops: at a
    /// clean end (nothing left) silently, else with a damage warning in
    /// `rep` (a truncated `what`, or the read error).
    #[inline]
    pub(crate) fn fill_or_stop(&mut self, n: usize, off: u64, what: &str, rep: &mut crate::ReadReport) -> bool {
        self.end - self.start >= n || self.fill_or_stop_slow(n, off, what, rep)
    }

    #[cold]
    #[inline(never)]
    fn fill_or_stop_slow(&mut self, n: usize, off: u64, what: &str, rep: &mut crate::ReadReport) -> bool {
        match self.fill(n) {
            Ok(true) => true,
            Ok(false) if self.avail().is_empty() => false,
            Ok(false) => {
                let have = self.avail().len();
                rep.damage(off, format!("truncated {what} ({have} of {n} bytes)"));
                false
            }
            Err(e) => {
                rep.damage(off, format!("read error: {e}"));
                false
            }
        }
    }

    /// Makes at least `n` bytes available. `Ok(false)` means the stream
    /// ended first (whatever it had is still in [`Self::avail`]). The caller
    /// bounds `n`; the buffer grows towards it only as bytes arrive.
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.refill(n)
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            let cap = self.buf.len();
            if self.start > 0 && (cap - self.start < n || self.start >= cap / 2) {
                self.buf.copy_within(self.start..self.end, 0);
                self.base += self.start as u64;
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                // Full, and the record needs more (so `start` is 0 after
                // the compaction above): grow by at most doubling, so the
                // buffer never exceeds twice the bytes actually read,
                // whatever length the record claims.
                let grown = self.buf.len().saturating_mul(2).min(n).max(self.buf.len() + 1);
                self.buf.resize(grown, 0);
            }
            let room = &mut self.buf[self.end..];
            match self.inner.read(room) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end = (self.end + k).min(self.buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// Lets a decompressor read from the stream (the outer, compressed side).
impl<R: Read> Read for Stream<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let have = self.fill_buf()?;
        let k = have.len().min(out.len());
        out[..k].copy_from_slice(&have[..k]);
        self.consume(k);
        Ok(k)
    }
}

impl<R: Read> BufRead for Stream<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.fill(1)?;
        }
        Ok(self.avail())
    }

    fn consume(&mut self, n: usize) {
        Stream::consume(self, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let k = self.step.min(out.len()).min(self.data.len());
            out[..k].copy_from_slice(&self.data[..k]);
            self.data = &self.data[k..];
            Ok(k)
        }
    }

    #[test]
    fn fill_consume_offsets_and_growth() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for step in [1, 3, 64, 1000] {
            let mut s = Stream::new(Trickle { data: &data, step }, 64);
            let mut pos = 0usize;
            // Alternate small and large (buffer-growing) records.
            for want in [10usize, 100, 7, 300, 1, 500] {
                if pos + want > data.len() {
                    break;
                }
                assert!(s.fill(want).unwrap());
                assert_eq!(s.offset(), pos as u64);
                assert_eq!(&s.avail()[..want], &data[pos..pos + want]);
                s.consume(want);
                pos += want;
            }
            assert!(!s.fill(data.len()).unwrap());
            assert_eq!(s.avail(), &data[pos..]);
        }
    }

    #[test]
    fn bufread_passes_everything_through() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut s = Stream::new(Trickle { data: &data, step: 13 }, 64);
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn a_claimed_length_does_not_allocate_past_the_bytes_present() {
        let data = vec![7u8; 1000];
        let mut s = Stream::new(
            Trickle {
                data: &data,
                step: 1000,
            },
            64,
        );
        assert!(!s.fill(16 << 20).unwrap());
        assert_eq!(s.avail().len(), 1000);
        assert!(s.buf.len() <= 2000, "buffer grew to {}", s.buf.len());
    }
}
