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
    fn ts_ns(&self, raw: u64) -> u64 {
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

pub(crate) fn read<R: Read>(
    name: &str,
    s: &mut Stream<R>,
    format: &str,
    f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    let mut rep = ReadReport::new(format);
    let mut be = false;
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut last_ts = 0u64;
    let mut first = true;

    loop {
        let off = s.offset();
        if !s.fill_or_stop(12, off, "block header", &mut rep) {
            break;
        }
        let a = s.avail();
        let btype = u32_at(a, 0, be).unwrap_or(0);
        if btype == SHB {
            // The block type reads the same in both orders; the byte-order
            // magic decides how to read the rest of the section.
            match u32_at(a, 8, true) {
                Some(BYTE_ORDER_MAGIC) => be = true,
                Some(m) if m.swap_bytes() == BYTE_ORDER_MAGIC => be = false,
                m => {
                    let reason = format!("section header with a bad byte-order magic {:08x}", m.unwrap_or(0));
                    if first {
                        return Err(not_a_capture(name, format!("pcapng {reason}")));
                    }
                    rep.damage(off, reason);
                    break;
                }
            }
        } else if first {
            return Err(not_a_capture(name, "pcapng without a section header".into()));
        }
        first = false;
        let blen = u32_at(a, 4, be).unwrap_or(0);
        if blen < 12 || blen & 3 != 0 || blen > MAX_RECORD {
            rep.damage(off, format!("invalid length {blen} in a block of type {btype:#x}"));
            break;
        }
        let blen = blen as usize;
        if !s.fill_or_stop(blen, off, "block", &mut rep) {
            break;
        }
        let a = s.avail();
        let trailer = u32_at(a, blen - 4, be).unwrap_or(0);
        if trailer as usize != blen {
            rep.damage(
                off,
                format!("block of type {btype:#x}: leading length {blen} and trailing length {trailer} differ"),
            );
            break;
        }
        let body = a.get(8..blen - 4).unwrap_or(&[]);

        // A packet, or None for other blocks; Err(reason) is damage.
        let pkt: Result<Option<RawPacket<'_>>, String> = match btype {
            SHB => {
                ifaces.clear();
                if body.len() < 16 {
                    Err("section header block too short".into())
                } else {
                    Ok(None)
                }
            }
            IDB => match parse_idb(body, be) {
                _ if ifaces.len() >= MAX_INTERFACES => Err(format!("more than {MAX_INTERFACES} interfaces")),
                Some(i) => {
                    ifaces.push(i);
                    Ok(None)
                }
                None => Err("interface description block too short".into()),
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
                match fields {
                    (Some(id), Some(hi), Some(lo), Some(caplen), Some(origlen)) => {
                        let data = body.get(20..).and_then(|d| d.get(..caplen as usize));
                        match (data, ifaces.get(id as usize)) {
                            (None, _) => Err(format!(
                                "packet block: captured length {caplen} exceeds the block length {blen}"
                            )),
                            (Some(_), None) => {
                                rep.skip(off, "packet naming an interface its section does not describe");
                                Ok(None)
                            }
                            (Some(_), Some(i)) if i.snaplen != 0 && caplen > i.snaplen.max(MIN_RECORD_LIMIT) => {
                                Err(format!(
                                    "packet block: captured length {caplen} exceeds the limit {} (snaplen {})",
                                    i.snaplen.max(MIN_RECORD_LIMIT),
                                    i.snaplen
                                ))
                            }
                            (Some(data), Some(i)) => {
                                last_ts = i.ts_ns((u64::from(hi) << 32) | u64::from(lo));
                                Ok(Some(RawPacket {
                                    ts_ns: last_ts,
                                    linktype: i.linktype,
                                    wire_len: origlen.max(caplen),
                                    data,
                                }))
                            }
                        }
                    }
                    _ => Err("packet block too short".into()),
                }
            }
            SPB => match (u32_at(body, 0, be), ifaces.first()) {
                (None, _) => Err("simple packet block too short".into()),
                (Some(_), None) => {
                    rep.skip(off, "simple packet block without an interface");
                    Ok(None)
                }
                (Some(origlen), Some(i)) => {
                    // No captured length: the smaller of the original
                    // length, the snaplen and what the block holds (the
                    // data is padded to 4 bytes). No timestamp either: the
                    // last one seen stands in.
                    let room = body.len() - 4;
                    let mut caplen = (origlen as usize).min(room);
                    if i.snaplen != 0 {
                        caplen = caplen.min(i.snaplen as usize);
                    }
                    let data = body.get(4..4 + caplen).unwrap_or(&[]);
                    Ok(Some(RawPacket {
                        ts_ns: last_ts,
                        linktype: i.linktype,
                        wire_len: origlen.max(caplen as u32),
                        data,
                    }))
                }
            },
            // Statistics, name resolution, secrets, custom blocks: not needed.
            _ => Ok(None),
        };
        match pkt {
            Ok(Some(p)) => {
                rep.packets += 1;
                rep.bytes += u64::from(p.wire_len);
                let go = f(&p);
                s.consume(blen);
                if !go {
                    rep.stopped = true;
                    break;
                }
            }
            Ok(None) => s.consume(blen),
            Err(reason) => {
                rep.damage(off, reason);
                break;
            }
        }
    }
    Ok(rep)
}
