//! Reader tests on captures built byte by byte here.

use std::io::{Cursor, Read, Write};

use super::*;

/// One delivered packet, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Got {
    ts_ns: u64,
    linktype: u32,
    wire_len: u32,
    data: Vec<u8>,
}

impl Got {
    fn of(p: &RawPacket<'_>) -> Got {
        Got {
            ts_ns: p.ts_ns,
            linktype: p.linktype,
            wire_len: p.wire_len,
            data: p.data.to_vec(),
        }
    }
}

fn collect_with(bytes: &[u8], buf: usize) -> (Vec<Got>, Result<ReadReport, CaptureError>) {
    let mut got = Vec::new();
    let res = read_buffered("fixture", Cursor::new(bytes), buf, &mut |p| {
        got.push(Got::of(p));
        true
    });
    (got, res)
}

/// Reads with the default buffer and with a tiny one (every record
/// straddles a refill); both must agree.
fn collect(bytes: &[u8]) -> (Vec<Got>, ReadReport) {
    let (got, res) = collect_with(bytes, BUF_SIZE);
    let rep = res.unwrap_or_else(|e| panic!("unexpected error: {e}"));
    let (got_small, res_small) = collect_with(bytes, 64);
    assert_eq!(got_small, got, "tiny buffer changed the packets");
    assert_eq!(res_small.unwrap(), rep, "tiny buffer changed the report");
    assert_eq!(rep.packets as usize, got.len());
    (got, rep)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i * 31 + k * 7) as u8).collect()
}

// ---------------------------------------------------------------- pcap

struct PcapRec {
    sec: u32,
    frac: u32,
    data: Vec<u8>,
    orig: u32,
}

fn recs() -> Vec<PcapRec> {
    vec![
        PcapRec {
            sec: 1_700_000_000,
            frac: 1,
            data: payload(0, 60),
            orig: 60,
        },
        // Cut by the snaplen: shorter than on the wire.
        PcapRec {
            sec: 1_700_000_001,
            frac: 999_999,
            data: payload(1, 100),
            orig: 1500,
        },
        // Zero-length record.
        PcapRec {
            sec: 1_700_000_002,
            frac: 500,
            data: Vec::new(),
            orig: 0,
        },
        PcapRec {
            sec: 4_000_000_000,
            frac: 123_456,
            data: payload(3, 1514),
            orig: 1514,
        },
    ]
}

fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn pcap_header(be: bool, nanos: bool, snaplen: u32, linktype: u32) -> Vec<u8> {
    let mut v = Vec::new();
    put32(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, be);
    put16(&mut v, 2, be);
    put16(&mut v, 4, be);
    put32(&mut v, 0, be);
    put32(&mut v, 0, be);
    put32(&mut v, snaplen, be);
    put32(&mut v, linktype, be);
    v
}

fn pcap_record(v: &mut Vec<u8>, r: &PcapRec, be: bool) {
    put32(v, r.sec, be);
    put32(v, r.frac, be);
    put32(v, r.data.len() as u32, be);
    put32(v, r.orig, be);
    v.extend_from_slice(&r.data);
}

/// The file and the offset where each record ends.
fn pcap_file(be: bool, nanos: bool, recs: &[PcapRec]) -> (Vec<u8>, Vec<usize>) {
    let mut v = pcap_header(be, nanos, 65535, 1);
    let mut ends = Vec::new();
    for r in recs {
        pcap_record(&mut v, r, be);
        ends.push(v.len());
    }
    (v, ends)
}

fn expected_pcap(recs: &[PcapRec], nanos: bool, linktype: u32) -> Vec<Got> {
    recs.iter()
        .map(|r| Got {
            ts_ns: u64::from(r.sec) * 1_000_000_000 + u64::from(r.frac) * if nanos { 1 } else { 1000 },
            linktype,
            wire_len: r.orig.max(r.data.len() as u32),
            data: r.data.clone(),
        })
        .collect()
}

#[test]
fn pcap_both_byte_orders_and_resolutions() {
    for be in [false, true] {
        for nanos in [false, true] {
            let (file, _) = pcap_file(be, nanos, &recs());
            let (got, rep) = collect(&file);
            assert_eq!(got, expected_pcap(&recs(), nanos, 1), "be={be} nanos={nanos}");
            assert_eq!(rep.format, "pcap");
            assert_eq!(rep.warning, None);
            assert!(!rep.stopped);
            assert_eq!(rep.bytes, got.iter().map(|g| u64::from(g.wire_len)).sum::<u64>());

            let (gz_got, gz_rep) = collect(&gzip(&file));
            assert_eq!(gz_got, got);
            assert_eq!(gz_rep.format, "pcap+gzip");
            assert_eq!(gz_rep.warning, None);
        }
    }
}

#[test]
fn pcap_written_by_pcap_file_reads_back() {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for (i, r) in recs().iter().enumerate() {
        let ts = std::time::Duration::new(u64::from(r.sec), r.frac * 1000);
        w.write_packet(&PcapPacket::new(ts, r.orig, &r.data)).unwrap();
        assert_eq!(i + 1, i + 1);
    }
    let file = w.into_writer();
    let (got, _) = collect(&file);
    assert_eq!(got, expected_pcap(&recs(), false, 1));
}

#[test]
fn fcs_bits_of_the_link_type_are_masked() {
    let mut file = pcap_header(false, false, 65535, 0x1000_0001);
    pcap_record(&mut file, &recs()[0], false);
    let (got, _) = collect(&file);
    assert_eq!(got[0].linktype, 1);
}

#[test]
fn multi_member_gzip_is_read_through() {
    let (file, _) = pcap_file(false, false, &recs());
    let (a, b) = file.split_at(30);
    let mut gz = gzip(a);
    gz.extend(gzip(b));
    let (got, rep) = collect(&gz);
    assert_eq!(got, expected_pcap(&recs(), false, 1));
    assert_eq!(rep.warning, None);
}

#[test]
fn pcap_truncated_at_every_offset() {
    for be in [false, true] {
        let (file, ends) = pcap_file(be, false, &recs());
        let all = expected_pcap(&recs(), false, 1);
        for cut in 0..=file.len() {
            let (got, res) = collect_with(&file[..cut], 64);
            if (1..4).contains(&cut) {
                assert!(matches!(res, Err(CaptureError::NotACapture { .. })), "cut {cut}");
                continue;
            }
            let rep = res.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(got, all[..complete], "cut {cut}");
            let clean = cut == 24 || ends.contains(&cut);
            match &rep.warning {
                None => assert!(clean, "cut {cut}: no warning"),
                Some(w) => {
                    assert!(!clean, "cut {cut}: warning {w:?} at a record boundary");
                    assert!(w.offset <= cut as u64, "cut {cut}: offset {}", w.offset);
                    let start = if complete == 0 { 24 } else { ends[complete - 1] };
                    if cut >= 24 {
                        assert_eq!(w.offset, start as u64, "cut {cut}");
                    }
                }
            }
        }
    }
}

#[test]
fn gzip_truncated_or_corrupted_keeps_what_came_before() {
    // Enough records that the compressed stream is long.
    let many: Vec<PcapRec> = (0..200)
        .map(|i| PcapRec {
            sec: 1_700_000_000 + i,
            frac: i,
            data: payload(i as usize, 300 + (i as usize % 50)),
            orig: 400,
        })
        .collect();
    let (file, _) = pcap_file(false, false, &many);
    let all = expected_pcap(&many, false, 1);
    let gz = gzip(&file);
    for cut in (0..gz.len()).step_by(97).chain([gz.len() - 1]) {
        let (got, res) = collect_with(&gz[..cut], 4096);
        match res {
            Ok(rep) => {
                assert!(got.len() <= all.len());
                assert_eq!(got, all[..got.len()], "cut {cut}");
                if cut < gz.len() {
                    let w = rep.warning.unwrap_or_else(|| panic!("cut {cut}: no warning"));
                    assert!(w.offset <= file.len() as u64);
                }
            }
            Err(CaptureError::NotACapture { .. }) => assert!(got.is_empty()),
            Err(e) => panic!("cut {cut}: {e}"),
        }
    }
    // Flipped bytes in the middle of the compressed data.
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5a;
    }
    let (got, res) = collect_with(&bad, 4096);
    let rep = res.unwrap();
    assert!(rep.warning.is_some());
    assert_eq!(got, all[..got.len()]);
}

#[test]
fn record_length_limits() {
    // (snaplen, incl_len, accepted)
    let cases: [(u32, u32, bool); 6] = [
        (65535, 0, true),
        (1000, 1001, true), // over the snaplen, under 256 KiB: happens in practice
        (300_000, 300_000, true),
        (300_000, 300_001, false),
        (65535, MIN_RECORD_LIMIT + 1, false),
        (65535, u32::MAX, false),
    ];
    for (snaplen, incl, accepted) in cases {
        let mut file = pcap_header(false, false, snaplen, 1);
        pcap_record(&mut file, &recs()[0], false);
        let second = file.len();
        put32(&mut file, 1, false);
        put32(&mut file, 2, false);
        put32(&mut file, incl, false);
        put32(&mut file, incl, false);
        if accepted {
            file.extend(payload(9, incl as usize));
        } else {
            file.extend(payload(9, 100));
        }
        let (got, rep) = collect(&file);
        if accepted {
            assert_eq!(got.len(), 2, "snaplen {snaplen} incl {incl}");
            assert_eq!(got[1].data.len(), incl as usize);
            assert_eq!(rep.warning, None);
        } else {
            assert_eq!(got.len(), 1, "snaplen {snaplen} incl {incl}");
            let w = rep.warning.expect("warning");
            assert_eq!(w.offset, second as u64);
            assert!(w.reason.contains(&incl.to_string()), "{}", w.reason);
        }
    }
}

#[test]
fn orig_len_below_incl_len_reports_the_captured_length() {
    let mut file = pcap_header(false, false, 65535, 1);
    let r = PcapRec {
        sec: 1,
        frac: 0,
        data: payload(0, 80),
        orig: 20,
    };
    pcap_record(&mut file, &r, false);
    let (got, _) = collect(&file);
    assert_eq!(got[0].wire_len, 80);
}

#[test]
fn callback_can_stop_reading() {
    let (file, _) = pcap_file(false, false, &recs());
    let mut n = 0;
    let rep = read_from("fixture", Cursor::new(&file), &mut |_| {
        n += 1;
        n < 2
    })
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(rep.packets, 2);
    assert!(rep.stopped);
    assert_eq!(rep.warning, None);
}

// -------------------------------------------------------------- pcapng

fn block(btype: u32, body: &[u8], be: bool) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() & 3 != 0 {
        body.push(0);
    }
    let len = 12 + body.len() as u32;
    let mut v = Vec::new();
    put32(&mut v, btype, be);
    put32(&mut v, len, be);
    v.extend(body);
    put32(&mut v, len, be);
    v
}

fn shb(be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, 0x1a2b_3c4d, be);
    put16(&mut b, 1, be);
    put16(&mut b, 0, be);
    b.extend_from_slice(&[0xff; 8]); // section length: unknown
    block(0x0a0d_0d0a, &b, be)
}

fn idb(linktype: u16, snaplen: u32, tsresol: Option<u8>, tsoffset: Option<i64>, be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, linktype, be);
    put16(&mut b, 0, be);
    put32(&mut b, snaplen, be);
    // An option we do not use first (if_name, 5 bytes + padding).
    put16(&mut b, 2, be);
    put16(&mut b, 5, be);
    b.extend_from_slice(b"eth0\0\0\0\0");
    if let Some(r) = tsresol {
        put16(&mut b, 9, be);
        put16(&mut b, 1, be);
        b.extend_from_slice(&[r, 0, 0, 0]);
    }
    if let Some(o) = tsoffset {
        put16(&mut b, 14, be);
        put16(&mut b, 8, be);
        b.extend_from_slice(&if be { o.to_be_bytes() } else { o.to_le_bytes() });
    }
    put32(&mut b, 0, be); // opt_endofopt
    block(1, &b, be)
}

fn epb(iface: u32, ts: u64, data: &[u8], orig: u32, be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, iface, be);
    put32(&mut b, (ts >> 32) as u32, be);
    put32(&mut b, ts as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, orig, be);
    b.extend_from_slice(data);
    while b.len() & 3 != 0 {
        b.push(0);
    }
    // An epb_flags option.
    put16(&mut b, 2, be);
    put16(&mut b, 4, be);
    put32(&mut b, 1, be);
    put32(&mut b, 0, be);
    block(6, &b, be)
}

fn pb(iface: u16, ts: u64, data: &[u8], orig: u32, be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, iface, be);
    put16(&mut b, 0, be);
    put32(&mut b, (ts >> 32) as u32, be);
    put32(&mut b, ts as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, orig, be);
    b.extend_from_slice(data);
    block(2, &b, be)
}

fn spb(data: &[u8], orig: u32, be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, orig, be);
    b.extend_from_slice(data);
    block(3, &b, be)
}

/// Two sections (little then big endian); the first with three interfaces
/// of different link types and timestamp resolutions. Returns the file, the
/// expected packets, and the offset where each block ends.
fn pcapng_fixture() -> (Vec<u8>, Vec<Got>, Vec<usize>) {
    let mut file = Vec::new();
    let mut ends = Vec::new();
    let mut push = |file: &mut Vec<u8>, b: Vec<u8>| {
        file.extend(b);
        ends.push(file.len());
    };
    let mut want = Vec::new();
    let le = false;
    push(&mut file, shb(le));
    push(&mut file, idb(1, 65535, None, None, le)); // Ethernet, µs
    push(&mut file, idb(101, 0, Some(9), None, le)); // raw IP, ns
    push(&mut file, idb(113, 262_144, Some(0x80 | 10), Some(100), le)); // SLL, 2^-10 s, +100 s
    let t_us: u64 = 1_700_000_000_123_456;
    push(&mut file, epb(0, t_us, &payload(0, 64), 64, le));
    want.push(Got {
        ts_ns: t_us * 1000,
        linktype: 1,
        wire_len: 64,
        data: payload(0, 64),
    });
    let t_ns: u64 = 1_700_000_001_987_654_321;
    push(&mut file, epb(1, t_ns, &payload(1, 41), 1400, le));
    want.push(Got {
        ts_ns: t_ns,
        linktype: 101,
        wire_len: 1400,
        data: payload(1, 41),
    });
    let t_bin: u64 = (1_700_000_002u64 << 10) | 512; // 1_700_000_002.5 s
    push(&mut file, epb(2, t_bin, &payload(2, 0), 0, le));
    want.push(Got {
        ts_ns: (1_700_000_002 + 100) * 1_000_000_000 + 500_000_000,
        linktype: 113,
        wire_len: 0,
        data: Vec::new(),
    });
    // Name resolution and interface statistics blocks are skipped.
    push(&mut file, block(4, &[0, 0, 0, 0], le));
    push(&mut file, block(5, &[0; 12], le));
    // Obsolete packet block on interface 1 (ns).
    push(&mut file, pb(1, t_ns + 5, &payload(3, 30), 30, le));
    want.push(Got {
        ts_ns: t_ns + 5,
        linktype: 101,
        wire_len: 30,
        data: payload(3, 30),
    });
    // Simple packet block: interface 0, no timestamp (the last one stands in),
    // captured length = original length (block padding is not data).
    push(&mut file, spb(&payload(4, 22), 22, le));
    want.push(Got {
        ts_ns: t_ns + 5,
        linktype: 1,
        wire_len: 22,
        data: payload(4, 22),
    });

    // Second section, big endian: interfaces start again from 0.
    let be = true;
    push(&mut file, shb(be));
    push(&mut file, idb(228, 100, Some(3), None, be)); // IPv4, ms, snaplen 100
    push(&mut file, epb(0, 1_700_000_003_250, &payload(5, 100), 3000, be));
    want.push(Got {
        ts_ns: 1_700_000_003_250_000_000,
        linktype: 228,
        wire_len: 3000,
        data: payload(5, 100),
    });
    // SPB longer than the snaplen: cut to it.
    push(&mut file, spb(&payload(6, 120), 120, be));
    want.push(Got {
        ts_ns: 1_700_000_003_250_000_000,
        linktype: 228,
        wire_len: 120,
        data: payload(6, 100),
    });
    (file, want, ends)
}

#[test]
fn pcapng_sections_interfaces_and_resolutions() {
    let (file, want, _) = pcapng_fixture();
    let (got, rep) = collect(&file);
    assert_eq!(got, want);
    assert_eq!(rep.format, "pcapng");
    assert_eq!(rep.warning, None);
    assert!(rep.skipped.is_empty());

    let (gz_got, gz_rep) = collect(&gzip(&file));
    assert_eq!(gz_got, want);
    assert_eq!(gz_rep.format, "pcapng+gzip");
}

#[test]
fn pcapng_truncated_at_every_offset() {
    let (file, want, ends) = pcapng_fixture();
    for cut in 0..=file.len() {
        let (got, res) = collect_with(&file[..cut], 64);
        if (1..4).contains(&cut) {
            assert!(matches!(res, Err(CaptureError::NotACapture { .. })), "cut {cut}");
            continue;
        }
        let rep = res.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(got, want[..got.len()], "cut {cut}");
        // Reading the prefix up to the last complete block gives the same packets.
        let last_end = ends.iter().copied().filter(|&e| e <= cut).max().unwrap_or(0);
        let (got_whole, _) = collect_with(&file[..last_end], BUF_SIZE);
        assert_eq!(got, got_whole, "cut {cut}");
        let clean = cut == 0 || ends.contains(&cut);
        match &rep.warning {
            None => assert!(clean, "cut {cut}: no warning"),
            Some(w) => {
                assert!(!clean || cut == 0, "cut {cut}: warning {w:?} at a block boundary");
                assert_eq!(w.offset, last_end as u64, "cut {cut}");
            }
        }
    }
}

/// The fixture's first section up to its first packet, then `tail`, then a
/// packet that must not be read when `tail` is damage.
fn with_block_after_first_packet(tail: &[u8]) -> (Vec<u8>, usize) {
    let mut file = shb(false);
    file.extend(idb(1, 65535, None, None, false));
    file.extend(epb(0, 1, &payload(0, 60), 60, false));
    let at = file.len();
    file.extend_from_slice(tail);
    file.extend(epb(0, 2, &payload(1, 60), 60, false));
    (file, at)
}

#[test]
fn pcapng_lying_block_lengths_are_damage() {
    let good = epb(0, 5, &payload(7, 40), 40, false);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for (what, len) in [
        ("not a multiple of 4", 30u32),
        ("under 12", 8),
        ("huge", 0xffff_fff0),
        ("zero", 0),
    ] {
        let mut b = good.clone();
        b[4..8].copy_from_slice(&len.to_le_bytes());
        cases.push((what, b));
    }
    let mut b = good.clone();
    let n = b.len();
    b[n - 4..].copy_from_slice(&((n as u32) + 4).to_le_bytes());
    cases.push(("trailer differs", b));
    let mut b = good.clone();
    b[20..24].copy_from_slice(&1000u32.to_le_bytes()); // caplen past the block
    cases.push(("captured length past the block", b));
    let mut b = good.clone();
    b[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("captured length 2^32-1", b));
    cases.push(("bad byte-order magic in a later section", {
        let mut s = shb(false);
        s[8..12].copy_from_slice(&[1, 2, 3, 4]);
        s
    }));
    for (what, tail) in cases {
        let (file, at) = with_block_after_first_packet(&tail);
        let (got, rep) = collect(&file);
        assert_eq!(got.len(), 1, "{what}");
        let w = rep.warning.unwrap_or_else(|| panic!("{what}: no warning"));
        assert_eq!(w.offset, at as u64, "{what}");
    }
}

#[test]
fn pcapng_captured_length_over_the_limit_is_damage() {
    // snaplen 1000: 1001 bytes is fine (under 256 KiB), 256 KiB + 1 is not.
    let mut file = shb(false);
    file.extend(idb(1, 1000, None, None, false));
    file.extend(epb(0, 1, &payload(0, 1001), 1001, false));
    let at = file.len();
    file.extend(epb(0, 2, &payload(1, MIN_RECORD_LIMIT as usize + 1), 300_000, false));
    file.extend(epb(0, 3, &payload(2, 10), 10, false));
    let (got, rep) = collect(&file);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data.len(), 1001);
    assert_eq!(rep.warning.map(|w| w.offset), Some(at as u64));
}

#[test]
fn pcapng_packet_on_a_missing_interface_is_skipped_and_counted() {
    let tail = [
        epb(7, 3, &payload(2, 10), 10, false),
        epb(1, 4, &payload(3, 10), 10, false),
    ]
    .concat();
    let (file, at) = with_block_after_first_packet(&tail);
    let (got, rep) = collect(&file);
    assert_eq!(got.len(), 2);
    assert_eq!(rep.warning, None);
    assert_eq!(rep.skipped.len(), 1);
    assert_eq!(rep.skipped[0].count, 2);
    assert_eq!(rep.skipped[0].first_offset, at as u64);
    // A simple packet block before any interface is skipped the same way.
    let mut file = shb(false);
    file.extend(spb(&payload(0, 8), 8, false));
    let (got, rep) = collect(&file);
    assert!(got.is_empty());
    assert_eq!(rep.skipped.len(), 1);
}

#[test]
fn pcapng_interfaces_reset_with_each_section() {
    let mut file = shb(false);
    file.extend(idb(1, 0, None, None, false));
    file.extend(shb(false));
    file.extend(epb(0, 1, &payload(0, 10), 10, false));
    let (got, rep) = collect(&file);
    assert!(got.is_empty());
    assert_eq!(rep.skipped.first().map(|s| s.count), Some(1));
}

#[test]
fn pcapng_timestamp_conversion_saturates() {
    let mut file = shb(false);
    file.extend(idb(1, 0, Some(0), Some(i64::MIN), false)); // seconds, huge negative offset
    file.extend(idb(1, 0, Some(100), None, false)); // 10^-100 s
    file.extend(idb(1, 0, Some(0xff), None, false)); // 2^-127 s
    file.extend(idb(1, 0, Some(0), Some(i64::MAX), false));
    file.extend(idb(1, 0, None, None, false)); // µs, the default
    file.extend(idb(1, 0, Some(9), None, false)); // ns
    file.extend(idb(1, 0, Some(6), Some(-1), false)); // µs, an offset
    let stamps = [1, u64::MAX, u64::MAX, u64::MAX, u64::MAX, 7, 2_000_000];
    for (i, ts) in stamps.into_iter().enumerate() {
        file.extend(epb(i as u32, ts, &[], 0, false));
    }
    let (got, _) = collect(&file);
    let ts: Vec<u64> = got.iter().map(|g| g.ts_ns).collect();
    assert_eq!(
        ts,
        vec![
            0,
            0,
            ((u128::from(u64::MAX) * 1_000_000_000) >> 127) as u64,
            u64::MAX,
            u64::MAX,
            7,
            1_000_000_000
        ]
    );
}

// ------------------------------------------------------- not a capture

/// A tiny deterministic generator for the mutation test.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_captures_never_panic_and_stay_consistent() {
    let (pcapng, _, _) = pcapng_fixture();
    let (pcap_le, _) = pcap_file(false, true, &recs());
    let (pcap_be, _) = pcap_file(true, false, &recs());
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for base in [pcapng, pcap_le, pcap_be] {
        for round in 0..2000 {
            let mut m = base.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() % m.len() as u64) as usize;
                // Past the magic; flip, zero or max out a byte.
                let at = at.max(4);
                m[at] = match rng.next() % 3 {
                    0 => m[at] ^ (1 << (rng.next() % 8)),
                    1 => 0,
                    _ => 0xff,
                };
            }
            let mut n = 0u64;
            let res = read_buffered("m", Cursor::new(&m), 64, &mut |p| {
                assert!(p.data.len() <= p.wire_len as usize);
                n += 1;
                true
            });
            match res {
                Ok(rep) => {
                    assert_eq!(rep.packets, n, "round {round}");
                    if let Some(w) = rep.warning {
                        assert!(w.offset <= m.len() as u64, "round {round}");
                    }
                }
                Err(CaptureError::NotACapture { .. }) => assert_eq!(n, 0),
                Err(e) => panic!("round {round}: {e}"),
            }
        }
    }
}

#[test]
fn not_a_capture_names_the_file_and_the_reason() {
    for bytes in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"\x0a\x0d\x0d\x0a\0\0\0\x1c\x01\x02\x03\x04",
    ] {
        match read_from("notes.txt", Cursor::new(bytes), &mut |_| true) {
            Err(e @ CaptureError::NotACapture { .. }) => {
                let msg = e.to_string();
                assert!(msg.starts_with("notes.txt: not a capture file ("), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }
    match read_from("notes.txt.gz", Cursor::new(gzip(b"hello, world")), &mut |_| true) {
        Err(CaptureError::NotACapture { reason, .. }) => assert!(reason.starts_with("gzip-compressed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match read_from(
        "x.gz",
        Cursor::new([0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        &mut |_| true,
    ) {
        Err(CaptureError::NotACapture { reason, .. }) => assert!(reason.starts_with("gzip-compressed"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_input_is_an_empty_capture_with_a_warning() {
    let (got, rep) = collect(&[]);
    assert!(got.is_empty());
    assert_eq!(rep.warning.map(|w| w.offset), Some(0));
}

#[test]
fn missing_file_is_an_open_error() {
    let p = std::env::temp_dir().join("baikal-capture-no-such-file.pcap");
    match read(&Input::File(p.clone()), &mut |_| true) {
        Err(e @ CaptureError::Open { .. }) => assert!(e.to_string().contains(&p.display().to_string())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_a_file_from_disk() {
    let (file, _) = pcap_file(false, true, &recs());
    let p = std::env::temp_dir().join(format!("baikal-capture-test-{}.pcap.gz", std::process::id()));
    std::fs::write(&p, gzip(&file)).unwrap();
    let mut n = 0;
    let rep = read(&Input::File(p.clone()), &mut |_| {
        n += 1;
        true
    });
    std::fs::remove_file(&p).unwrap();
    let rep = rep.unwrap();
    assert_eq!(n, recs().len());
    assert_eq!(rep.format, "pcap+gzip");
}

/// A reader that fails after some bytes, as a disk or pipe might.
struct Failing<'a> {
    data: &'a [u8],
}
impl Read for Failing<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() {
            return Err(std::io::Error::other("device gone"));
        }
        let k = out.len().min(self.data.len()).min(50);
        out[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

#[test]
fn read_error_mid_file_is_a_warning() {
    let (file, ends) = pcap_file(false, false, &recs());
    let cut = ends[1] + 5;
    let mut n = 0;
    let rep = read_from("f", Failing { data: &file[..cut] }, &mut |_| {
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, 2);
    let w = rep.warning.unwrap();
    assert_eq!(w.offset, ends[1] as u64);
    assert!(w.reason.contains("device gone"), "{}", w.reason);
}

// ------------------------------------------------------------- stripes

/// The sequential reader's packets and report with a packet limit, as the
/// pipeline's callback stops it (after the packet that reaches `limit`).
fn sequential(bytes: &[u8], limit: u64) -> (Vec<Got>, ReadReport) {
    let mut got = Vec::new();
    let rep = read_buffered("fixture", Cursor::new(bytes), 64, &mut |p| {
        got.push(Got::of(p));
        (got.len() as u64) < limit
    })
    .unwrap_or_else(|e| panic!("unexpected error: {e}"));
    (got, rep)
}

/// Reading `bytes` in stripes, for every stripe size in `sizes`, gives the
/// sequential reader's packets, counts, warning and stop: on one thread
/// ([`Stripes::read`]), and cut stripe by stripe with a packet limit, as
/// the pipeline's threads cut them ([`Stripes::cut`]).
fn stripes_read_as_the_sequential_reader(bytes: &[u8], sizes: &[usize], limit: u64, what: &str) {
    let (want, rep) = sequential(bytes, limit);
    for &size in sizes {
        let s = Stripes::of(bytes.to_vec(), size).unwrap_or_else(|| panic!("{what}: not striped"));
        let mut got = Vec::new();
        let one = s.read(&mut |p| {
            got.push(Got::of(p));
            (got.len() as u64) < limit
        });
        assert_eq!(got, want, "{what}, stripes of {size}");
        assert_eq!(one, rep, "{what}, stripes of {size}");

        // Each stripe filled into a buffer of its own, then cut in order,
        // as the pipeline's workers do.
        let mut got = Vec::new();
        let mut total = ReadReport::new(s.format());
        let mut next = Some(s.first());
        for i in 0..s.count() {
            let Some(first) = next else { break };
            let mut buf = Vec::new();
            let filled = s.fill(i, &mut buf);
            let mut frames = Vec::new();
            let c = s.cut(i, &mut buf, filled, &first, limit - total.packets, &mut |f| {
                frames.push(f)
            });
            got.extend(frames.iter().map(|f| Got {
                ts_ns: f.ts_ns,
                linktype: f.linktype,
                wire_len: f.wire_len,
                data: buf[f.off..f.off + f.len].to_vec(),
            }));
            total.packets += c.packets;
            total.bytes += c.bytes;
            total.merge_skipped(&c.skipped);
            (total.warning, total.stopped, next) = (c.warning, c.stopped, c.next);
        }
        assert_eq!(got, want, "{what}, stripes of {size}, cut");
        assert_eq!(total, rep, "{what}, stripes of {size}, cut");
    }
}

const STRIPE_SIZES: [usize; 10] = [1, 2, 3, 7, 16, 17, 61, 100, 1000, 1 << 20];

#[test]
fn stripes_read_every_fixture_as_the_sequential_reader() {
    for be in [false, true] {
        for nanos in [false, true] {
            let (file, ends) = pcap_file(be, nanos, &recs());
            stripes_read_as_the_sequential_reader(&file, &STRIPE_SIZES, u64::MAX, "whole");
            // Every truncation from the first record header on.
            for cut in 24..file.len() {
                stripes_read_as_the_sequential_reader(&file[..cut], &[1, 5, 16, 70, 4096], u64::MAX, "cut");
            }
            // Every limit, reached inside a stripe and at its end.
            for limit in 1..=ends.len() as u64 + 1 {
                stripes_read_as_the_sequential_reader(&file, &STRIPE_SIZES, limit, "limit");
            }
        }
    }
    // A FCS length in the link type's upper bits.
    let mut file = pcap_header(false, false, 65535, 1 | 0x1000_0000);
    pcap_record(&mut file, &recs()[0], false);
    stripes_read_as_the_sequential_reader(&file, &STRIPE_SIZES, u64::MAX, "fcs");
}

#[test]
fn stripes_stop_at_an_absurd_record_length_as_the_sequential_reader() {
    for incl in [300_001, MIN_RECORD_LIMIT + 1, u32::MAX] {
        let mut file = pcap_header(false, false, 65535, 1);
        pcap_record(&mut file, &recs()[0], false);
        put32(&mut file, 1, false);
        put32(&mut file, 2, false);
        put32(&mut file, incl, false);
        put32(&mut file, incl, false);
        file.extend(payload(9, 100));
        pcap_record(&mut file, &recs()[1], false);
        stripes_read_as_the_sequential_reader(&file, &STRIPE_SIZES, u64::MAX, "absurd length");
    }
}

#[test]
fn stripes_of_mutated_captures_read_as_the_sequential_reader() {
    let many: Vec<PcapRec> = (0..40)
        .map(|i| PcapRec {
            sec: 1_700_000_000 + i,
            frac: i * 1000,
            data: payload(i as usize, (i as usize * 37) % 700),
            orig: 700,
        })
        .collect();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for be in [false, true] {
        // Past the file header: a damaged header is the sequential
        // reader's to report.
        mutated_stripes_read_as_the_sequential_reader(&pcap_file(be, false, &many).0, 24, 300, &mut rng);
    }
}

#[test]
fn stripes_read_pcapng_as_the_sequential_reader() {
    let (file, _, ends) = pcapng_fixture();
    stripes_read_as_the_sequential_reader(&file, &STRIPE_SIZES, u64::MAX, "pcapng");
    // Every truncation after the first block's header.
    for cut in 12..file.len() {
        stripes_read_as_the_sequential_reader(&file[..cut], &[1, 5, 16, 70, 4096], u64::MAX, "pcapng cut");
    }
    for limit in 1..=ends.len() as u64 + 1 {
        stripes_read_as_the_sequential_reader(&file, &STRIPE_SIZES, limit, "pcapng limit");
    }
}

#[test]
fn stripes_read_damaged_and_skipped_pcapng_blocks_as_the_sequential_reader() {
    let good = epb(0, 5, &payload(7, 40), 40, false);
    let mut tails: Vec<Vec<u8>> = Vec::new();
    for len in [30u32, 8, 0xffff_fff0, 0] {
        let mut b = good.clone();
        b[4..8].copy_from_slice(&len.to_le_bytes());
        tails.push(b);
    }
    let mut b = good.clone();
    let n = b.len();
    b[n - 4..].copy_from_slice(&((n as u32) + 4).to_le_bytes());
    tails.push(b);
    let mut b = good.clone();
    b[20..24].copy_from_slice(&1000u32.to_le_bytes());
    tails.push(b);
    let mut s = shb(false);
    s[8..12].copy_from_slice(&[1, 2, 3, 4]);
    tails.push(s);
    // Packets on missing interfaces, then a good one: skipped, counted.
    tails.push(
        [
            epb(7, 3, &payload(2, 10), 10, false),
            epb(1, 4, &payload(3, 10), 10, false),
            good,
        ]
        .concat(),
    );
    // A new section: the interfaces start again.
    tails.push([shb(true), epb(0, 1, &payload(0, 10), 10, true)].concat());
    for tail in tails {
        let (file, _) = with_block_after_first_packet(&tail);
        for limit in [1, 2, 3, u64::MAX] {
            stripes_read_as_the_sequential_reader(&file, &STRIPE_SIZES, limit, "pcapng damage");
        }
    }
}

#[test]
fn stripes_of_mutated_pcapng_read_as_the_sequential_reader() {
    let mut rng = XorShift(0x5851_f42d_4c95_7f2d);
    // Past the first block's header: a file whose first block is not a
    // section header is the sequential reader's to report.
    mutated_stripes_read_as_the_sequential_reader(&pcapng_fixture().0, 12, 600, &mut rng);
}

/// `rounds` copies of `base`, each with 1 to 3 bytes from `from` on
/// flipped, zeroed or maxed, read in stripes of a random size against the
/// sequential reader.
fn mutated_stripes_read_as_the_sequential_reader(base: &[u8], from: usize, rounds: usize, rng: &mut XorShift) {
    for _ in 0..rounds {
        let mut m = base.to_vec();
        for _ in 0..1 + rng.next() % 3 {
            let at = from + (rng.next() % (m.len() - from) as u64) as usize;
            m[at] = match rng.next() % 3 {
                0 => m[at] ^ (1 << (rng.next() % 8)),
                1 => 0,
                _ => 0xff,
            };
        }
        let size = [1usize, 13, 333, 4096][(rng.next() % 4) as usize];
        stripes_read_as_the_sequential_reader(&m, &[size], u64::MAX, "mutated");
    }
}
