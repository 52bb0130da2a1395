//! pcapng: a sequence of blocks (type, total length, body, total length
//! again). Sections (SHB) set the byte order and reset the interfaces;
//! interfaces (IDB) carry the link type, snaplen, `if_tsresol` and
//! `if_tsoffset`; packets come in Enhanced (EPB), Simple (SPB) and the
//! obsolete Packet (PB) blocks.
//!
//! The block framing is parsed here rather than with pcap-file's
//! `PcapNgParser`: that parser decodes every section and interface block
//! with strict option parsing (one odd option stops the file) and waits
//! for a block of any claimed length, while here a length is checked
//! before anything is buffered and only the options we use are read.

use std::io::Read;

use crate::stream::Stream;
use crate::{not_a_capture, u16_at, u32_at, CaptureError, RawPacket, ReadReport, MAX_RECORD, MIN_RECORD_LIMIT};

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// More interfaces than this in one section is damage, not a capture.
const MAX_INTERFACES: usize = 1 << 16;

const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

#[derive(Clone, Copy, Debug)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    tsresol: u8,
    tsoffset_s: i64,
}

impl Iface {
    /// Converts a raw 64-bit timestamp to nanoseconds since the epoch,
    /// saturating instead of overflowing on absurd values.
    #[inline]
    fn ts_ns(&self, raw: u64) -> u64 {
        // The common cases without 128-bit arithmetic: µs (the default)
        // and ns, no offset.
        if self.tsoffset_s == 0 {
            match self.tsresol {
                6 => return raw.saturating_mul(1000),
                9 => return raw,
                _ => {}
            }
        }
        let v = u128::from(raw);
        let e = u32::from(self.tsresol & 0x7f);
        let ns: u128 = if self.tsresol & 0x80 == 0 {
            // Units of 10^-e seconds.
            if e <= 9 {
                v * 10u128.pow(9 - e)
            } else if e - 9 <= 38 {
                v / 10u128.pow(e - 9)
            } else {
                0
            }
        } else {
            // Units of 2^-e seconds; v < 2^64 and 1e9 < 2^30, so no overflow.
            (v * 1_000_000_000) >> e
        };
        let ns = ns as i128 + i128::from(self.tsoffset_s) * 1_000_000_000;
        ns.clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// Reads the interface description body: link type, snaplen, options.
fn parse_idb(body: &[u8], be: bool) -> Option<Iface> {
    let linktype = u32::from(u16_at(body, 0, be)?);
    let snaplen = u32_at(body, 4, be)?;
    let mut iface = Iface {
        linktype,
        snaplen,
        tsresol: 6,
        tsoffset_s: 0,
    };
    // Options: a malformed option list ends option parsing, not the file.
    let mut opts = body.get(8..).unwrap_or(&[]);
    while let (Some(code), Some(len)) = (u16_at(opts, 0, be), u16_at(opts, 2, be)) {
        if code == OPT_END {
            break;
        }
        let len = usize::from(len);
        let Some(val) = opts.get(4..4 + len) else { break };
        match code {
            OPT_IF_TSRESOL if len == 1 => iface.tsresol = val[0],
            OPT_IF_TSOFFSET if len == 8 => {
                let a: [u8; 8] = val.try_into().ok()?;
                iface.tsoffset_s = if be {
                    i64::from_be_bytes(a)
                } else {
                    i64::from_le_bytes(a)
                };
            }
            _ => {}
        }
        let padded = (4 + len).div_ceil(4) * 4;
        opts = opts.get(padded..).unwrap_or(&[]);
    }
    Some(iface)
}

/// What the blocks so far say about the blocks to come: the section's
/// byte order, its interfaces, the last packet's timestamp (a simple
/// packet block has none of its own).
#[derive(Clone, Debug)]
pub(crate) struct Ng {
    be: bool,
    ifaces: std::sync::Arc<Vec<Iface>>,
    last_ts: u64,
    /// No block read yet: the first must be a section header.
    first: bool,
}

impl Ng {
    pub(crate) fn new() -> Ng {
        Ng {
            be: false,
            ifaces: std::sync::Arc::new(Vec::new()),
            last_ts: 0,
            first: true,
        }
    }
}

/// Why a block header stops reading.
pub(crate) enum Stop {
    /// The first block is not a section header: not a pcapng capture.
    NotACapture(String),
    Damage(String),
}

/// Checks the header of the block at the front of `a` (at least 12
/// bytes), taking a section header's byte order, and gives the block's
/// type and length.
pub(crate) fn header(a: &[u8], st: &mut Ng) -> Result<(u32, usize), Stop> {
    let btype = u32_at(a, 0, st.be).unwrap_or(0);
    if btype == SHB {
        // The block type reads the same in both orders; the byte-order
        // magic decides how to read the rest of the section.
        match u32_at(a, 8, true) {
            Some(BYTE_ORDER_MAGIC) => st.be = true,
            Some(m) if m.swap_bytes() == BYTE_ORDER_MAGIC => st.be = false,
            m => {
                let reason = format!("section header with a bad byte-order magic {:08x}", m.unwrap_or(0));
                if st.first {
                    return Err(Stop::NotACapture(format!("pcapng {reason}")));
                }
                return Err(Stop::Damage(reason));
            }
        }
    } else if st.first {
        return Err(Stop::NotACapture("pcapng without a section header".into()));
    }
    st.first = false;
    let blen = u32_at(a, 4, st.be).unwrap_or(0);
    if blen < 12 || blen & 3 != 0 || blen > MAX_RECORD {
        return Err(Stop::Damage(format!(
            "invalid length {blen} in a block of type {btype:#x}"
        )));
    }
    Ok((btype, blen as usize))
}

/// What a whole block holds.
pub(crate) enum Block<'a> {
    Packet(RawPacket<'a>),
    /// A block that is not a packet (or a packet skipped for the reason).
    Other(Option<&'static str>),
    Damage(String),
}

/// Reads the block of type `btype` that is all of `a` (its length from
/// [`header`]), taking section headers and interfaces into `st`.
pub(crate) fn block<'a>(a: &'a [u8], btype: u32, st: &mut Ng) -> Block<'a> {
    let blen = a.len();
    let be = st.be;
    let trailer = u32_at(a, blen - 4, be).unwrap_or(0);
    if trailer as usize != blen {
        return Block::Damage(format!(
            "block of type {btype:#x}: leading length {blen} and trailing length {trailer} differ"
        ));
    }
    let body = a.get(8..blen - 4).unwrap_or(&[]);
    match btype {
        SHB => {
            st.ifaces = std::sync::Arc::new(Vec::new());
            if body.len() < 16 {
                Block::Damage("section header block too short".into())
            } else {
                Block::Other(None)
            }
        }
        IDB => match parse_idb(body, be) {
            _ if st.ifaces.len() >= MAX_INTERFACES => Block::Damage(format!("more than {MAX_INTERFACES} interfaces")),
            Some(i) => {
                std::sync::Arc::make_mut(&mut st.ifaces).push(i);
                Block::Other(None)
            }
            None => Block::Damage("interface description block too short".into()),
        },
        EPB | PB => {
            // EPB: if_id u32; PB: if_id u16, drops u16. Then both:
            // ts_high, ts_low, captured length, original length, data.
            let id = if btype == EPB {
                u32_at(body, 0, be)
            } else {
                u16_at(body, 0, be).map(u32::from)
            };
            let fields = (
                id,
                u32_at(body, 4, be),
                u32_at(body, 8, be),
                u32_at(body, 12, be),
                u32_at(body, 16, be),
            );
            let (Some(id), Some(hi), Some(lo), Some(caplen), Some(origlen)) = fields else {
                return Block::Damage("packet block too short".into());
            };
            let data = body.get(20..).and_then(|d| d.get(..caplen as usize));
            match (data, st.ifaces.get(id as usize)) {
                (None, _) => Block::Damage(format!(
                    "packet block: captured length {caplen} exceeds the block length {blen}"
                )),
                (Some(_), None) => Block::Other(Some("packet naming an interface its section does not describe")),
                (Some(_), Some(i)) if i.snaplen != 0 && caplen > i.snaplen.max(MIN_RECORD_LIMIT) => {
                    Block::Damage(format!(
                        "packet block: captured length {caplen} exceeds the limit {} (snaplen {})",
                        i.snaplen.max(MIN_RECORD_LIMIT),
                        i.snaplen
                    ))
                }
                (Some(data), Some(i)) => {
                    st.last_ts = i.ts_ns((u64::from(hi) << 32) | u64::from(lo));
                    Block::Packet(RawPacket {
                        ts_ns: st.last_ts,
                        linktype: i.linktype,
                        wire_len: origlen.max(caplen),
                        data,
                    })
                }
            }
        }
        SPB => match (u32_at(body, 0, be), st.ifaces.first()) {
            (None, _) => Block::Damage("simple packet block too short".into()),
            (Some(_), None) => Block::Other(Some("simple packet block without an interface")),
            (Some(origlen), Some(i)) => {
                // No captured length: the smaller of the original length,
                // the snaplen and what the block holds (the data is padded
                // to 4 bytes). No timestamp either: the last one seen
                // stands in.
                let room = body.len() - 4;
                let mut caplen = (origlen as usize).min(room);
                if i.snaplen != 0 {
                    caplen = caplen.min(i.snaplen as usize);
                }
                let data = body.get(4..4 + caplen).unwrap_or(&[]);
                Block::Packet(RawPacket {
                    ts_ns: st.last_ts,
                    linktype: i.linktype,
                    wire_len: origlen.max(caplen as u32),
                    data,
                })
            }
        },
        // Statistics, name resolution, secrets, custom blocks: not needed.
        _ => Block::Other(None),
    }
}

pub(crate) fn read<R: Read>(
    name: &str,
    s: &mut Stream<R>,
    format: &str,
    f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    let mut rep = ReadReport::new(format);
    let mut st = Ng::new();
    loop {
        let off = s.offset();
        if !s.fill_or_stop(12, off, "block header", &mut rep) {
            break;
        }
        let (btype, blen) = match header(s.avail(), &mut st) {
            Ok(h) => h,
            Err(Stop::NotACapture(reason)) => return Err(not_a_capture(name, reason)),
            Err(Stop::Damage(reason)) => {
                rep.damage(off, reason);
                break;
            }
        };
        if !s.fill_or_stop(blen, off, "block", &mut rep) {
            break;
        }
        match block(&s.avail()[..blen], btype, &mut st) {
            Block::Packet(p) => {
                rep.packets += 1;
                rep.bytes += u64::from(p.wire_len);
                let go = f(&p);
                s.consume(blen);
                if !go {
                    rep.stopped = true;
                    break;
                }
            }
            Block::Other(skip) => {
                if let Some(reason) = skip {
                    rep.skip(off, reason);
                }
                s.consume(blen);
            }
            Block::Damage(reason) => {
                rep.damage(off, reason);
                break;
            }
        }
    }
    Ok(rep)
}
