//! Packet sources for baikal: capture files (pcap, pcapng, gzip'd),
//! standard input, and live interfaces ([`live`], Linux).
//!
//! Contract: a source hands each packet to a callback as a [`RawPacket`]
//! that borrows the source's buffer. Reading never panics; a damaged file
//! yields every packet before the damage and a [`ReadWarning`] with the
//! byte offset where reading stopped. Record lengths are checked against
//! the bytes actually present before anything is allocated.
//!
//! Formats are sniffed from the first bytes, never from the file name:
//! pcap in either byte order with µs or ns timestamps, pcapng (several
//! sections, interfaces of different link types, `if_tsresol`,
//! `if_tsoffset`, EPB/SPB/PB), and either of them gzip'd (several gzip
//! members are read through).
//!
//! Reading streams through a 2 MiB buffer that is refilled as records are
//! consumed: memory stays bounded for files, gzip streams and pipes alike,
//! and records are handed out in place, without a copy or an allocation
//! per packet. A record is damage when its length exceeds
//! `max(snaplen, 256 KiB)` (pcap) or a block's length is not a multiple
//! of 4, under 12, over 16 MiB or differs from its trailing copy (pcapng).
//! An empty input is an empty capture with a warning; anything else that
//! is not a capture is [`CaptureError::NotACapture`].

use std::io::Read;
use std::path::PathBuf;

use thiserror::Error;

#[cfg(target_os = "linux")]
pub mod live;
mod pcap;
mod pcapng;
mod stream;
mod stripes;
#[cfg(test)]
mod tests;

use stream::{Stream, BUF_SIZE};
pub use stripes::{Cut, Resume, StripeFrame, Stripes};

/// Smallest per-record length limit: a record longer than
/// `max(snaplen, MIN_RECORD_LIMIT)` is damage (libpcap's largest snaplen).
pub const MIN_RECORD_LIMIT: u32 = 256 * 1024;
/// Largest record or block ever buffered, whatever the file header claims.
pub const MAX_RECORD: u32 = 16 * 1024 * 1024;

/// One captured frame.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// Capture timestamp, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Link type (pcap LINKTYPE_* value) of this frame's interface.
    pub linktype: u32,
    /// Frame length on the wire; never less than `data.len()` (a record
    /// claiming a shorter original length reports its captured length).
    pub wire_len: u32,
    /// The captured bytes (may be shorter than `wire_len`).
    pub data: &'a [u8],
}

/// Where packets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    /// `-` is standard input.
    pub fn from_arg(s: &str) -> Input {
        if s == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(s))
        }
    }
    /// Name used in records and messages.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".to_string(),
        }
    }
}

/// Reading stopped early: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadWarning {
    /// Byte offset in the (decompressed) capture where reading stopped.
    pub offset: u64,
    pub reason: String,
}

/// What reading a source produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    pub packets: u64,
    pub bytes: u64,
    /// Capture format: `pcap`, `pcapng`, with `+gzip` when compressed.
    pub format: String,
    pub warning: Option<ReadWarning>,
    /// True when the callback asked to stop.
    pub stopped: bool,
    /// Records skipped without stopping (e.g. a pcapng packet naming an
    /// interface its section never described), one entry per reason.
    pub skipped: Vec<Skipped>,
}

/// Records of one kind that were skipped while reading went on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub reason: String,
    pub count: u64,
    /// Byte offset (in the decompressed capture) of the first one.
    pub first_offset: u64,
}

impl ReadReport {
    fn new(format: &str) -> ReadReport {
        ReadReport {
            format: format.to_string(),
            ..ReadReport::default()
        }
    }

    /// Records that reading stopped at `offset`.
    fn damage(&mut self, offset: u64, reason: impl Into<String>) {
        self.warning = Some(ReadWarning {
            offset,
            reason: reason.into(),
        });
    }

    fn skip(&mut self, offset: u64, reason: &str) {
        match self.skipped.iter_mut().find(|s| s.reason == reason) {
            Some(s) => s.count += 1,
            None => self.skipped.push(Skipped {
                reason: reason.to_string(),
                count: 1,
                first_offset: offset,
            }),
        }
    }
}

/// Errors that prevent reading a source at all.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a capture file ({reason})")]
    NotACapture { path: String, reason: String },
    #[error("{iface}: {reason}")]
    Live { iface: String, reason: String },
}

/// Reads every packet of `input`, calling `f` for each; `f` returns
/// `false` to stop. The format is sniffed from the first bytes (pcap in
/// either byte order and resolution, pcapng, either of them gzip'd), never
/// from the file name. See the crate docs for the error contract.
pub fn read(input: &Input, f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> Result<ReadReport, CaptureError> {
    match input {
        Input::File(p) => {
            let file = std::fs::File::open(p).map_err(|e| CaptureError::Open {
                path: p.display().to_string(),
                source: e,
            })?;
            read_from(&input.name(), file, f)
        }
        Input::Stdin => read_from("-", std::io::stdin().lock(), f),
    }
}

/// Reads a capture from any byte stream; `name` names it in errors.
/// Memory stays bounded whatever the stream's length.
pub fn read_from<R: Read>(
    name: &str,
    reader: R,
    f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    read_buffered(name, reader, BUF_SIZE, f)
}

/// [`read_from`] with a chosen buffer size (tests use tiny ones to make
/// every record straddle a refill).
fn read_buffered<R: Read>(
    name: &str,
    reader: R,
    buf_size: usize,
    f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    let mut s = Stream::new(reader, buf_size);
    match s.fill(1) {
        // An empty file (or pipe) is an empty capture, as capinfos has it;
        // the warning says why nothing came.
        Ok(false) => {
            let mut rep = ReadReport::new("empty");
            rep.damage(0, "empty input: no capture header");
            return Ok(rep);
        }
        Ok(true) => {}
        Err(e) => {
            return Err(CaptureError::Open {
                path: name.to_string(),
                source: e,
            })
        }
    }
    let magic = sniff(name, &mut s, "")?;
    if magic[..2] == [0x1f, 0x8b] {
        // The outer stream keeps the sniffed bytes: the decoder sees them.
        let gz = flate2::bufread::MultiGzDecoder::new(s);
        let mut inner = Stream::new(gz, buf_size);
        let magic = sniff(name, &mut inner, "gzip-compressed data, but ")?;
        return dispatch(name, &mut inner, magic, "+gzip", f);
    }
    dispatch(name, &mut s, magic, "", f)
}

fn not_a_capture(name: &str, reason: String) -> CaptureError {
    CaptureError::NotACapture {
        path: name.to_string(),
        reason,
    }
}

/// The first four bytes, left in the stream.
fn sniff<R: Read>(name: &str, s: &mut Stream<R>, what: &str) -> Result<[u8; 4], CaptureError> {
    match s.fill(4) {
        Ok(true) => {}
        Ok(false) if s.avail().is_empty() => return Err(not_a_capture(name, format!("{what}empty"))),
        Ok(false) => {
            return Err(not_a_capture(
                name,
                format!("{what}only {} bytes long", s.avail().len()),
            ))
        }
        Err(e) if what.is_empty() => {
            return Err(CaptureError::Open {
                path: name.to_string(),
                source: e,
            })
        }
        Err(e) => return Err(not_a_capture(name, format!("{what}unreadable: {e}"))),
    }
    let mut m = [0u8; 4];
    m.copy_from_slice(s.avail().get(..4).unwrap_or(&[0; 4]));
    Ok(m)
}

fn dispatch<R: Read>(
    name: &str,
    s: &mut Stream<R>,
    magic: [u8; 4],
    suffix: &str,
    f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    match u32::from_be_bytes(magic) {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => pcap::read(name, s, &format!("pcap{suffix}"), f),
        0x0a0d_0d0a => pcapng::read(name, s, &format!("pcapng{suffix}"), f),
        m => {
            let what = if suffix.is_empty() {
                ""
            } else {
                "gzip-compressed data, but "
            };
            Err(not_a_capture(
                name,
                format!("{what}unknown magic number {m:08x}: neither pcap nor pcapng"),
            ))
        }
    }
}

/// Reads a `u32` at `at`, `None` when the bytes are not there.
#[inline]
fn u32_at(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

#[inline]
fn u16_at(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    })
}
