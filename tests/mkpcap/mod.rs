//! Shared by the integration tests: a synthetic capture.
#![allow(dead_code)]

use std::path::Path;

/// Ethernet + IPv4 + TCP/UDP frame.
pub fn frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, tcp: Option<(u32, u8)>, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]);
    let l4 = if tcp.is_some() { 20 } else { 8 };
    let total = (20 + l4 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, if tcp.is_some() { 6 } else { 17 }, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    match tcp {
        Some((seq, flags)) => {
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&0u32.to_be_bytes());
            f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        }
        None => {
            f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0]);
        }
    }
    f.extend_from_slice(payload);
    f
}

/// A pcap with `flows` flows of mixed kinds, interleaved over time.
pub fn synthetic_pcap(path: &Path, flows: u32) {
    let mut pkts: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut x = 0x1234_5678u32;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for i in 0..flows {
        let c = [10, 1, (i >> 8) as u8, i as u8];
        let s = [192, 0, 2, (i % 7) as u8 + 1];
        let sport = 30000 + (i % 20000) as u16;
        let t0 = u64::from(i) * 3_000_000 + u64::from(rnd() % 1000);
        let n = 1 + rnd() % 6;
        let kind = i % 4;
        for k in 0..n {
            let ts = t0 + u64::from(k) * 50_000_000;
            let up = k % 2 == 0;
            let body: Vec<u8> = (0..(rnd() % 300)).map(|_| rnd() as u8).collect();
            let f = if kind == 3 {
                if up {
                    frame(c, s, sport, 53, None, &body)
                } else {
                    frame(s, c, 53, sport, None, &body)
                }
            } else {
                let flags = match (k, kind) {
                    (0, _) => 0x02,
                    (_, 1) if k + 1 == n => 0x14,
                    (_, 2) if k + 2 >= n => 0x11,
                    _ => 0x18,
                };
                let seq = 1000 + k * 400;
                if up {
                    frame(c, s, sport, 443, Some((seq, flags)), if k == 0 { &[] } else { &body })
                } else {
                    frame(s, c, 443, sport, Some((seq, flags)), &body)
                }
            };
            pkts.push((ts, f));
        }
        // A second life of some UDP flows after their idle timeout.
        if kind == 3 && i % 8 == 3 {
            pkts.push((t0 + 200_000_000_000, frame(c, s, sport, 53, None, b"again")));
        }
    }
    // One late packet: in one thread its sweep ends every other flow as
    // idle; the workers that do not see it must end theirs the same way.
    let end = pkts.iter().map(|p| p.0).max().unwrap_or(0) + 300_000_000_000;
    pkts.push((end, frame([10, 9, 9, 9], [192, 0, 2, 9], 4444, 123, None, b"late")));
    pkts.sort_by_key(|p| p.0);
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (ts, f) in pkts {
        let ts = ts + 1_700_000_000_000_000_000;
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    }
    std::fs::write(path, out).unwrap();
}
