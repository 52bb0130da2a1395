//! IPv4 and IPv6 (with extension headers), lax about truncation: once the
//! addresses are present the packet is decoded; whatever follows is taken
//! as far as it was captured.

use super::{Addr, Skip};

/// Fragment header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Frag {
    /// Identification (16 bits in IPv4, 32 bits in IPv6).
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
}

/// One IP header, decoded.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ip<'a> {
    pub src: Addr,
    pub dst: Addr,
    pub v6: bool,
    /// Transport protocol (for a fragment: of the fragmentable part).
    pub proto: u8,
    /// Bytes after the IP header (and IPv6 extension headers), cut to the
    /// length the header states when the capture holds more (padding).
    pub payload: &'a [u8],
    pub frag: Option<Frag>,
    /// The capture holds fewer bytes than the header states.
    pub truncated: bool,
}

/// Most IPv6 extension headers walked before giving up.
const MAX_V6_EXTS: usize = 16;

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

/// Decodes the IP header at the start of `b` (version from the first nibble).
pub(super) fn parse(b: &[u8]) -> Result<Ip<'_>, Skip> {
    match b.first().map(|v| v >> 4) {
        Some(4) => v4(b),
        Some(6) => v6(b),
        _ => Err(Skip::Malformed),
    }
}

fn v4(b: &[u8]) -> Result<Ip<'_>, Skip> {
    let Some(h) = b.first_chunk::<20>() else {
        return Err(Skip::Malformed);
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(Skip::Malformed);
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // total == 0 happens with TCP segmentation offload: use what is there.
    let (end, truncated) = if total >= ihl && total <= b.len() {
        (total, false)
    } else {
        (b.len(), total > b.len())
    };
    let flags_off = u16::from_be_bytes([h[6], h[7]]);
    let more = flags_off & 0x2000 != 0;
    let offset = u32::from(flags_off & 0x1fff) * 8;
    let frag = (more || offset != 0).then_some(Frag {
        id: u32::from(u16::from_be_bytes([h[4], h[5]])),
        offset,
        more,
    });
    let payload = b.get(ihl..end).unwrap_or(&[]);
    // An authentication header is part of the fragmentable payload in IPv4:
    // skipped here for whole packets, after reassembly for fragments.
    let (proto, payload) = if frag.is_none() {
        skip_v4_ah(h[9], payload)
    } else {
        (h[9], payload)
    };
    Ok(Ip {
        src: Addr::from_v4([h[12], h[13], h[14], h[15]]),
        dst: Addr::from_v4([h[16], h[17], h[18], h[19]]),
        v6: false,
        proto,
        payload,
        frag,
        truncated: truncated || ihl > end,
    })
}

/// Skips an IPv4 authentication header (RFC 4302), if `proto` is one and it
/// was captured whole.
pub(super) fn skip_v4_ah(proto: u8, b: &[u8]) -> (u8, &[u8]) {
    if proto != AH {
        return (proto, b);
    }
    match (b.first(), b.get(1).and_then(|&l| b.get((usize::from(l) + 2) * 4..))) {
        (Some(&next), Some(rest)) if b.len() >= 12 => (next, rest),
        _ => (proto, &[]),
    }
}

const AH: u8 = 51;

/// The upper layer of a fragmentable part (a reassembled datagram or a
/// first fragment decoded as it is): IPv6 extension headers walked (a
/// nested fragment header ends the walk), an IPv4 AH skipped.
pub(super) fn upper_layer(v6: bool, proto: u8, b: &[u8]) -> (u8, &[u8]) {
    if v6 {
        match walk_v6_exts(proto, b) {
            (p, rest, None) => (p, rest),
            (_, _, Some(_)) => (44, &[]),
        }
    } else {
        skip_v4_ah(proto, b)
    }
}

fn v6(b: &[u8]) -> Result<Ip<'_>, Skip> {
    let Some(h) = b.first_chunk::<40>() else {
        return Err(Skip::Malformed);
    };
    let plen = usize::from(be16(h, 4));
    // plen == 0: jumbogram or offload; use what is there.
    let (end, truncated) = if plen == 0 {
        (b.len(), false)
    } else if 40 + plen <= b.len() {
        (40 + plen, false)
    } else {
        (b.len(), true)
    };
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    dst.copy_from_slice(&h[24..40]);
    let (proto, payload, frag) = walk_v6_exts(h[6], b.get(40..end).unwrap_or(&[]));
    Ok(Ip {
        src: Addr::from_v6(src),
        dst: Addr::from_v6(dst),
        v6: true,
        proto,
        payload,
        frag,
        truncated,
    })
}

/// Walks IPv6 extension headers starting with next-header `nh` over `b`.
/// Returns the upper-layer protocol, its bytes and the fragment header if
/// the packet is a fragment (then the bytes are the fragmentable part and
/// the protocol is the fragment header's next header). A truncated
/// extension header yields its own number and no bytes. An atomic fragment
/// (offset 0, no more fragments, RFC 6946) is not a fragment.
pub(super) fn walk_v6_exts(mut nh: u8, b: &[u8]) -> (u8, &[u8], Option<Frag>) {
    let mut rest = b;
    for _ in 0..MAX_V6_EXTS {
        let len = match nh {
            // hop-by-hop, routing, destination options, mobility, HIP,
            // shim6, experimental: length in 8-octet units, not counting the first.
            0 | 43 | 60 | 135 | 139 | 140 | 253 | 254 => rest.get(1).map(|&l| (usize::from(l) + 1) * 8),
            // authentication header: length in 4-octet units, minus 2.
            AH => rest.get(1).map(|&l| (usize::from(l) + 2) * 4),
            44 => {
                let Some(f) = rest.first_chunk::<8>() else {
                    return (nh, &[], None);
                };
                let off = u16::from_be_bytes([f[2], f[3]]);
                let frag = Frag {
                    id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                    offset: u32::from(off & 0xfff8),
                    more: off & 1 != 0,
                };
                nh = f[0];
                rest = rest.get(8..).unwrap_or(&[]);
                if frag.offset == 0 && !frag.more {
                    continue;
                }
                return (nh, rest, Some(frag));
            }
            _ => return (nh, rest, None),
        };
        match (len.and_then(|l| rest.get(l..)), rest.first()) {
            (Some(r), Some(&next)) => {
                rest = r;
                nh = next;
            }
            _ => return (nh, &[], None),
        }
    }
    (nh, &[], None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_header_fields_and_padding() {
        let mut b = vec![
            0x45, 0, 0, 24, 0x12, 0x34, 0x20, 0x01, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 2, 3, 4,
        ];
        b.extend_from_slice(&[0xee; 6]); // Ethernet padding
        let p = parse(&b).unwrap();
        assert_eq!(p.src, Addr::from_v4([10, 0, 0, 1]));
        assert_eq!(p.dst, Addr::from_v4([10, 0, 0, 2]));
        assert_eq!(p.proto, 17);
        assert_eq!(p.payload, &[1, 2, 3, 4]);
        assert_eq!(
            p.frag,
            Some(Frag {
                id: 0x1234,
                offset: 8,
                more: true
            })
        );
        assert!(!p.truncated);
        // total length beyond the capture
        b[3] = 200;
        let p = parse(&b).unwrap();
        assert!(p.truncated);
        assert_eq!(p.payload.len(), 10);
    }

    #[test]
    fn v4_bad_ihl_and_short() {
        let b = [0x44, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
        assert_eq!(parse(&b).err(), Some(Skip::Malformed));
        assert_eq!(parse(&b[..19]).err(), Some(Skip::Malformed));
        assert_eq!(parse(&[]).err(), Some(Skip::Malformed));
        // options longer than captured: addresses still there
        let mut b = b;
        b[0] = 0x4f;
        let p = parse(&b).unwrap();
        assert!(p.truncated);
        assert!(p.payload.is_empty());
    }

    /// Cross-check against etherparse's lax IP parser on every prefix of
    /// packets with IPv6 extension headers and IPv4 AH.
    #[test]
    fn agrees_with_etherparse() {
        let mut pkts = Vec::new();
        let mut v4 = Vec::new();
        etherparse::PacketBuilder::ipv4([1, 2, 3, 4], [5, 6, 7, 8], 9)
            .tcp(1, 2, 3, 4)
            .write(&mut v4, b"four")
            .unwrap();
        pkts.push(v4.clone());
        // IPv4 with AH (16 bytes) before TCP
        let mut ah = v4[..20].to_vec();
        ah[9] = 51;
        ah[3] += 16;
        ah.extend_from_slice(&[6, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
        ah.extend_from_slice(&v4[20..]);
        pkts.push(ah);
        let mut v6 = Vec::new();
        etherparse::PacketBuilder::ipv6([1; 16], [2; 16], 9)
            .udp(53, 5353)
            .write(&mut v6, b"six")
            .unwrap();
        pkts.push(v6.clone());
        let mut ext = v6[..40].to_vec();
        ext[6] = 0;
        ext.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&[51, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&v6[40..]);
        let plen = (ext.len() - 40) as u16;
        ext[4..6].copy_from_slice(&plen.to_be_bytes());
        pkts.push(ext);
        for p in &pkts {
            for n in 0..=p.len() {
                let b = &p[..n];
                let ours = parse(b).ok();
                let theirs = etherparse::LaxIpSlice::from_slice(b).ok();
                assert_eq!(ours.is_some(), theirs.is_some(), "prefix {n} of {p:?}");
                let (Some(o), Some((t, err))) = (ours, theirs) else {
                    continue;
                };
                let (src, dst) = match &t {
                    etherparse::LaxIpSlice::Ipv4(s) => (
                        Addr::from_v4(s.header().source()),
                        Addr::from_v4(s.header().destination()),
                    ),
                    etherparse::LaxIpSlice::Ipv6(s) => (
                        Addr::from_v6(s.header().source()),
                        Addr::from_v6(s.header().destination()),
                    ),
                };
                assert_eq!((o.src, o.dst), (src, dst));
                assert_eq!(o.truncated, t.payload().incomplete, "prefix {n}");
                if err.is_none() {
                    assert_eq!(o.proto, t.payload().ip_number.0, "prefix {n}");
                    assert_eq!(o.payload, t.payload().payload, "prefix {n}");
                }
            }
        }
    }

    #[test]
    fn v6_ext_walk() {
        // HBH(8) -> DST(16) -> AH(16) -> TCP
        let mut e = vec![60, 0, 1, 4, 0, 0, 0, 0];
        e.extend_from_slice(&[51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        e.extend_from_slice(&[6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        e.extend_from_slice(b"TCP!");
        let (p, pl, f) = walk_v6_exts(0, &e);
        assert_eq!((p, pl, f), (6, &b"TCP!"[..], None));
        // cut inside the AH header
        let (p, pl, f) = walk_v6_exts(0, &e[..30]);
        assert_eq!((p, pl, f), (51, &[][..], None));
        // atomic fragment is skipped, real fragment is reported
        let atomic = [17, 0, 0, 0, 0, 0, 0, 9, 0xaa];
        assert_eq!(walk_v6_exts(44, &atomic), (17, &[0xaa][..], None));
        let real = [17, 0, 0, 0x11, 0, 0, 0, 9, 0xaa];
        assert_eq!(
            walk_v6_exts(44, &real),
            (
                17,
                &[0xaa][..],
                Some(Frag {
                    id: 9,
                    offset: 16,
                    more: true
                })
            )
        );
        // a loop of headers stops
        let lots = [0u8; 8 * 40];
        assert_eq!(walk_v6_exts(0, &lots).1.len(), 0);
    }
}
