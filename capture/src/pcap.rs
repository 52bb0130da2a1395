//! Classic pcap: a 24-byte file header, then 16-byte record headers each
//! followed by the captured bytes. Either byte order, µs or ns timestamps.

use std::io::Read;

use pcap_file::pcap::PcapParser;
use pcap_file::{Endianness, TsResolution};

use crate::stream::Stream;
use crate::{not_a_capture, u32_at, CaptureError, RawPacket, ReadReport, MAX_RECORD, MIN_RECORD_LIMIT};

const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

pub(crate) fn read<R: Read>(
    name: &str,
    s: &mut Stream<R>,
    format: &str,
    f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    let mut rep = ReadReport::new(format);
    match s.fill(FILE_HEADER) {
        Ok(true) => {}
        Ok(false) => {
            let have = s.avail().len();
            rep.damage(0, format!("truncated file header ({have} of {FILE_HEADER} bytes)"));
            return Ok(rep);
        }
        Err(e) => {
            rep.damage(0, format!("read error in the file header: {e}"));
            return Ok(rep);
        }
    }
    let (_, parser) = PcapParser::new(s.avail()).map_err(|e| not_a_capture(name, e.to_string()))?;
    let hdr = parser.header();
    s.consume(FILE_HEADER);
    let be = hdr.endianness == Endianness::Big;
    let nanos = hdr.ts_resolution == TsResolution::NanoSecond;
    // The upper bits of the link type field carry the FCS length (as in
    // libpcap's LT_LINKTYPE); the link type is the rest.
    let linktype: u32 = u32::from(hdr.datalink) & 0x03ff_ffff;
    let limit = hdr.snaplen.clamp(MIN_RECORD_LIMIT, MAX_RECORD);

    loop {
        let off = s.offset();
        if !s.fill_or_stop(RECORD_HEADER, off, "record header", &mut rep) {
            break;
        }
        let incl = u32_at(s.avail(), 8, be).unwrap_or(u32::MAX);
        if incl > limit {
            rep.damage(
                off,
                format!(
                    "record length {incl} exceeds the limit {limit} (snaplen {}): corrupt record header",
                    hdr.snaplen
                ),
            );
            break;
        }
        // `incl <= MAX_RECORD`, so this neither overflows nor buffers much.
        let total = RECORD_HEADER + incl as usize;
        if !s.fill_or_stop(total, off, "record", &mut rep) {
            break;
        }
        let raw = match parser.next_raw_packet(s.avail()) {
            Ok((_, raw)) => raw,
            Err(e) => {
                rep.damage(off, e.to_string());
                break;
            }
        };
        let data: &[u8] = &raw.data;
        let frac = u64::from(raw.ts_frac);
        // u32 seconds × 1e9 plus a u32 fraction × 1000 stays far below u64::MAX.
        let ts_ns = u64::from(raw.ts_sec) * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        let pkt = RawPacket {
            ts_ns,
            linktype,
            wire_len: raw.orig_len.max(incl),
            data,
        };
        rep.packets += 1;
        rep.bytes += u64::from(pkt.wire_len);
        let go = f(&pkt);
        s.consume(total);
        if !go {
            rep.stopped = true;
            break;
        }
    }
    Ok(rep)
}
