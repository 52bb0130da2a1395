//! QUIC wire format: variable-length integers, versions, long headers,
//! coalesced packets, frames, and the CRYPTO stream reassembler.

/// Reads a variable-length integer (RFC 9000 §16) at `*pos`.
pub fn varint(d: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *d.get(*pos)?;
    let len = 1usize << (first >> 6);
    let bytes = d.get(*pos..pos.checked_add(len)?)?;
    let mut v = u64::from(first & 0x3f);
    for &b in &bytes[1..] {
        v = (v << 8) | u64::from(b);
    }
    *pos += len;
    Some(v)
}

/// How a version's Initial packets are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// IETF QUIC (v1, v2, drafts, mvfst): TLS in CRYPTO frames, protected.
    Ietf,
    /// Google QUIC with the IETF invariant header and Initial protection:
    /// Q050 (CHLO inside) and T050/T051 (TLS inside).
    GoogleProtected { tls: bool },
    /// Google QUIC Q0xx up to Q046: CHLO in the clear.
    GoogleClear,
}

/// What baikal knows about a version number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub number: u32,
    pub kind: Kind,
    /// Initial salt, for the protected kinds.
    pub salt: Option<&'static [u8; 20]>,
    /// RFC 9369 labels and packet types.
    pub v2: bool,
}

pub const V1: u32 = 0x0000_0001;
pub const V2: u32 = 0x6b33_43cf;

/// RFC 9001 §5.2.
pub const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];
/// RFC 9369 §3.3.1.
pub const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e,
    0xd9,
];
/// draft-ietf-quic-tls-29 §5.2 (drafts 29..32).
pub const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8,
    0x99,
];
/// draft-ietf-quic-tls-23 §5.2 (drafts 23..28).
const SALT_DRAFT23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5,
    0x02,
];
/// draft-ietf-quic-tls-22 §5.2 (drafts up to 22).
const SALT_DRAFT22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64,
    0x4a,
];
/// Google's Initial salts for Q050, T050 and T051.
const SALT_Q050: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b,
    0x45,
];
const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60, 0x48, 0x83,
    0x10,
];
const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda, 0x6e, 0x03,
    0x3d,
];

fn draft_salt(n: u8) -> &'static [u8; 20] {
    match n {
        0..=22 => &SALT_DRAFT22,
        23..=28 => &SALT_DRAFT23,
        29..=32 => &SALT_DRAFT29,
        _ => &SALT_V1,
    }
}

/// Google version tags are four ASCII characters, `Q`/`T` + three digits.
fn google_tag(v: u32) -> Option<(u8, u16)> {
    let b = v.to_be_bytes();
    if !(b[0] == b'Q' || b[0] == b'T') || !b[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = b[1..].iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    Some((b[0], n))
}

/// Looks a version number up; `None` for versions baikal does not know.
pub fn version(v: u32) -> Option<Version> {
    let ietf = |salt| Version {
        number: v,
        kind: Kind::Ietf,
        salt: Some(salt),
        v2: false,
    };
    match v {
        V1 => Some(ietf(&SALT_V1)),
        V2 => Some(Version {
            salt: Some(&SALT_V2),
            v2: true,
            ..ietf(&SALT_V2)
        }),
        // Published drafts end at 34 (0x22).
        0xff00_0000..=0xff00_0022 => Some(ietf(draft_salt(v as u8))),
        0xface_b001 => Some(ietf(&SALT_DRAFT22)),
        0xface_b002 | 0xface_b00e => Some(ietf(&SALT_DRAFT23)),
        // 0x?a?a?a?a forces version negotiation (RFC 9000 §15); clients
        // that send data with it use a recent draft's keys.
        _ if v & 0x0f0f_0f0f == 0x0a0a_0a0a => Some(ietf(&SALT_DRAFT29)),
        _ => {
            let (letter, n) = google_tag(v)?;
            let kind = match (letter, n) {
                (b'Q', 0..=46) => Kind::GoogleClear,
                (b'Q', _) => Kind::GoogleProtected { tls: false },
                (_, _) => Kind::GoogleProtected { tls: true },
            };
            let salt = match v {
                0x5130_3530 => Some(&SALT_Q050),
                0x5430_3530 => Some(&SALT_T050),
                0x5430_3531 => Some(&SALT_T051),
                _ => None,
            };
            Some(Version {
                number: v,
                kind,
                salt,
                v2: false,
            })
        }
    }
}

/// The name reported in `quic_version`.
pub fn version_name(v: u32) -> String {
    match v {
        V1 => "v1".into(),
        V2 => "v2".into(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        0xface_b001 => "mvfst-22".into(),
        0xface_b002 => "mvfst-27".into(),
        0xface_b00e => "mvfst-exp".into(),
        _ if google_tag(v).is_some() => v.to_be_bytes().iter().map(|&b| char::from(b)).collect(),
        _ if v & 0x0f0f_0f0f == 0x0a0a_0a0a => format!("reserved-0x{v:08x}"),
        _ => format!("0x{v:08x}"),
    }
}

/// Long-header packet types, normalised to v1 numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// One long-header packet inside a datagram.
#[derive(Clone, Copy, Debug)]
pub struct Long<'a> {
    pub version: u32,
    pub ty: LongType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// The whole packet, first byte to the end of its Length.
    pub packet: &'a [u8],
    /// Offset of the packet number in `packet` (Initial/0-RTT/Handshake).
    pub pn_offset: usize,
}

/// What a datagram starts with / holds next.
#[derive(Clone, Copy, Debug)]
pub enum Item<'a> {
    Long(Long<'a>),
    /// Version negotiation (version 0): its DCID and SCID.
    VersionNegotiation {
        dcid: &'a [u8],
        scid: &'a [u8],
    },
    /// A short-header packet (rest of the datagram).
    Short,
}

/// Iterates over the coalesced packets of one datagram (RFC 9000 §12.2).
/// Stops at the first malformed or truncated packet.
pub struct Coalesced<'a> {
    rest: &'a [u8],
}

pub fn coalesced(datagram: &[u8]) -> Coalesced<'_> {
    Coalesced { rest: datagram }
}

impl<'a> Iterator for Coalesced<'a> {
    type Item = Item<'a>;
    fn next(&mut self) -> Option<Item<'a>> {
        let d = self.rest;
        let first = *d.first()?;
        if first & 0x80 == 0 {
            self.rest = &[];
            return Some(Item::Short);
        }
        self.rest = &[];
        let version = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
        let mut pos = 5;
        let dcil = usize::from(*d.get(pos)?);
        let dcid = d.get(pos + 1..pos + 1 + dcil)?;
        pos += 1 + dcil;
        let scil = usize::from(*d.get(pos)?);
        let scid = d.get(pos + 1..pos + 1 + scil)?;
        pos += 1 + scil;
        if version == 0 {
            return Some(Item::VersionNegotiation { dcid, scid });
        }
        let v2 = version == V2;
        let bits = (first >> 4) & 0x03;
        let ty = match (v2, bits) {
            (false, 0) | (true, 1) => LongType::Initial,
            (false, 1) | (true, 2) => LongType::ZeroRtt,
            (false, 2) | (true, 3) => LongType::Handshake,
            _ => LongType::Retry,
        };
        if ty == LongType::Retry {
            return Some(Item::Long(Long {
                version,
                ty,
                dcid,
                scid,
                packet: d,
                pn_offset: d.len(),
            }));
        }
        if ty == LongType::Initial {
            let tlen = usize::try_from(varint(d, &mut pos)?).ok()?;
            pos = pos.checked_add(tlen)?;
            if pos > d.len() {
                return None;
            }
        }
        let len = usize::try_from(varint(d, &mut pos)?).ok()?;
        let end = pos.checked_add(len)?;
        let packet = d.get(..end)?;
        self.rest = &d[end..];
        Some(Item::Long(Long {
            version,
            ty,
            dcid,
            scid,
            packet,
            pn_offset: pos,
        }))
    }
}

/// Frames of interest in a decrypted Initial payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Crypto { offset: u64, data: &'a [u8] },
    ConnectionClose { error: u64 },
}

/// Parses the frames of an Initial payload (RFC 9000 §19), calling `f`
/// for CRYPTO and CONNECTION_CLOSE; stops safely at an unknown type or a
/// truncated frame. `google` selects the frame numbering of Q050/T05x,
/// whose CRYPTO frame is type 0x08.
pub fn frames<'a>(p: &'a [u8], google: bool, mut f: impl FnMut(Frame<'a>)) {
    let mut pos = 0usize;
    while pos < p.len() {
        let Some(ty) = varint(p, &mut pos) else { return };
        let ok = match (ty, google) {
            // PADDING, one byte each: a client Initial carries hundreds;
            // the whole run is skipped at once.
            (0x00, _) => {
                let rest = p.get(pos..).unwrap_or_default();
                pos += rest.iter().position(|&b| b != 0).unwrap_or(rest.len());
                Some(())
            }
            (0x01, false) => Some(()),
            (0x02 | 0x03, false) => ack(p, &mut pos, ty == 0x03),
            (0x06, false) | (0x08, true) => (|| {
                let offset = varint(p, &mut pos)?;
                let len = usize::try_from(varint(p, &mut pos)?).ok()?;
                let data = p.get(pos..pos.checked_add(len)?)?;
                pos += len;
                f(Frame::Crypto { offset, data });
                Some(())
            })(),
            (0x1c | 0x1d, false) => (|| {
                let error = varint(p, &mut pos)?;
                if ty == 0x1c {
                    varint(p, &mut pos)?;
                }
                let len = usize::try_from(varint(p, &mut pos)?).ok()?;
                p.get(pos..pos.checked_add(len)?)?;
                pos += len;
                f(Frame::ConnectionClose { error });
                Some(())
            })(),
            _ => None,
        };
        if ok.is_none() {
            return;
        }
    }
}

fn ack(p: &[u8], pos: &mut usize, ecn: bool) -> Option<()> {
    varint(p, pos)?; // largest acknowledged
    varint(p, pos)?; // delay
    let ranges = varint(p, pos)?;
    varint(p, pos)?; // first range
                     // Each range takes at least two bytes, so this loop ends with the data.
    for _ in 0..ranges {
        varint(p, pos)?;
        varint(p, pos)?;
    }
    if ecn {
        for _ in 0..3 {
            varint(p, pos)?;
        }
    }
    Some(())
}

/// Reassembles a handshake stream (CRYPTO frames, or gQUIC's stream 1)
/// from fragments in any order, bounded in size and fragment count.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    frags: Vec<(u64, Vec<u8>)>,
    bytes: usize,
}

impl Reassembler {
    /// Stream bytes beyond this offset are ignored.
    pub const CAP: u64 = 64 * 1024;
    /// At most this many fragments are kept.
    pub const MAX_FRAGS: usize = 512;

    pub fn add(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() || self.frags.len() >= Self::MAX_FRAGS || offset >= Self::CAP {
            return;
        }
        let room = usize::try_from(Self::CAP - offset).unwrap_or(usize::MAX);
        let data = &data[..data.len().min(room)];
        // Total kept bytes bounded too (retransmissions could repeat).
        if self.bytes + data.len() > 4 * Self::CAP as usize {
            return;
        }
        self.bytes += data.len();
        self.frags.push((offset, data.to_vec()));
    }

    /// The contiguous stream prefix from offset 0.
    pub fn prefix(&self) -> Vec<u8> {
        self.run_from(0)
    }

    /// The contiguous stream bytes from `start` on.
    pub fn run_from(&self, start: u64) -> Vec<u8> {
        let mut order: Vec<&(u64, Vec<u8>)> = self.frags.iter().collect();
        order.sort_by_key(|(o, _)| *o);
        let mut out = Vec::new();
        let mut end = start;
        for (off, data) in order {
            let data_end = off.saturating_add(data.len() as u64);
            if data_end <= end {
                continue;
            }
            if *off > end {
                break;
            }
            let skip = usize::try_from(end - off).unwrap_or(usize::MAX);
            if let Some(tail) = data.get(skip..) {
                out.extend_from_slice(tail);
                end = data_end;
            }
        }
        out
    }

    /// Offsets of the fragments whose data starts with `magic`, ascending.
    pub fn starts_with(&self, magic: &[u8]) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .frags
            .iter()
            .filter(|(_, d)| d.starts_with(magic))
            .map(|(o, _)| *o)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn is_empty(&self) -> bool {
        self.frags.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_rfc9000_a1() {
        for (hex, v) in [
            (
                &[0xc2u8, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652u64,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d][..], 494_878_333),
            (&[0x7b, 0xbd][..], 15_293),
            (&[0x25][..], 37),
            (&[0x40, 0x25][..], 37),
        ] {
            let mut pos = 0;
            assert_eq!(varint(hex, &mut pos), Some(v));
            assert_eq!(pos, hex.len());
        }
        let mut pos = 0;
        assert_eq!(varint(&[0xc2, 0x19], &mut pos), None);
        assert_eq!(pos, 0);
    }

    #[test]
    fn versions() {
        assert_eq!(version(V1).unwrap().salt, Some(&SALT_V1));
        assert!(version(V2).unwrap().v2);
        assert_eq!(version(0xff00_001d).unwrap().salt, Some(&SALT_DRAFT29));
        assert_eq!(version(0xff00_001b).unwrap().salt, Some(&SALT_DRAFT23));
        assert_eq!(version(0x5130_3436).unwrap().kind, Kind::GoogleClear);
        assert_eq!(version(0x5430_3531).unwrap().kind, Kind::GoogleProtected { tls: true });
        assert_eq!(version(0x1234_5678), None);
        assert_eq!(version(0xff00_00a0), None);
        assert_eq!(version_name(0xff00_001d), "draft-29");
        assert_eq!(version_name(0x5130_3436), "Q046");
        assert_eq!(version_name(V2), "v2");
        assert_eq!(version_name(0xbaba_baba), "reserved-0xbabababa");
    }

    #[test]
    fn frames_parse_and_stop() {
        // PADDING, PING, ACK (1 range + ECN), CRYPTO, CONNECTION_CLOSE, unknown 0x30, CRYPTO.
        let p = [
            0x00, 0x00, 0x01, 0x03, 0x05, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x02, 0x03, 0x06, 0x02, 0x03, b'a', b'b',
            b'c', 0x1c, 0x0a, 0x06, 0x01, b'x', 0x30, 0x06, 0x00, 0x01, b'z',
        ];
        let mut seen = Vec::new();
        frames(&p, false, |f| seen.push(f));
        assert_eq!(
            seen,
            [
                Frame::Crypto {
                    offset: 2,
                    data: b"abc"
                },
                Frame::ConnectionClose { error: 10 }
            ]
        );
        // A long run of PADDING between frames, and at the end.
        let mut padded = vec![0u8; 1000];
        padded.extend_from_slice(&[0x06, 0x00, 0x01, b'q']);
        padded.extend_from_slice(&[0u8; 300]);
        let mut seen = Vec::new();
        frames(&padded, false, |f| seen.push(f));
        assert_eq!(seen, [Frame::Crypto { offset: 0, data: b"q" }]);
        // Truncated CRYPTO: nothing, no panic.
        let mut n = 0;
        frames(&[0x06, 0x00, 0x44, 0x00, 1, 2], false, |_| n += 1);
        frames(&[0x02, 0x00, 0x00, 0xbf, 0xff, 0xff, 0xff], false, |_| n += 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn reassembly_any_order_and_bounded() {
        let mut r = Reassembler::default();
        r.add(6, b"ghij");
        r.add(0, b"abc");
        assert_eq!(r.prefix(), b"abc");
        r.add(2, b"cdef");
        assert_eq!(r.prefix(), b"abcdefghij");
        assert_eq!(r.run_from(4), b"efghij");
        assert_eq!(r.run_from(11), b"");
        assert_eq!(r.starts_with(b"gh"), [6]);
        r.add(Reassembler::CAP - 1, b"xyz");
        r.add(u64::MAX, b"q");
        assert_eq!(r.prefix(), b"abcdefghij");
        let mut r = Reassembler::default();
        for i in 0..10_000u64 {
            r.add(i + 1, b"k");
        }
        assert!(r.frags.len() <= Reassembler::MAX_FRAGS);
        assert!(r.prefix().is_empty());
    }

    #[test]
    fn coalesced_stops_on_garbage() {
        assert_eq!(coalesced(&[]).count(), 0);
        // Long header with absurd length.
        let d = [0xc0, 0, 0, 0, 1, 0, 0, 0, 0x7f, 0xff, 1, 2, 3];
        assert_eq!(coalesced(&d).count(), 0);
        // Truncated DCID.
        assert_eq!(coalesced(&[0xc0, 0, 0, 0, 1, 20, 1, 2]).count(), 0);
        // Two tiny Handshake packets then a short one.
        let d = [0xe0, 0, 0, 0, 1, 0, 0, 1, 0xaa, 0xe0, 0, 0, 0, 1, 0, 0, 0, 0x40, 9];
        let items: Vec<_> = coalesced(&d).collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(
            items[0],
            Item::Long(Long {
                ty: LongType::Handshake,
                ..
            })
        ));
        assert!(matches!(items[2], Item::Short));
    }
}
