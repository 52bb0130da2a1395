//! Google QUIC before the IETF packet format: the public header of Q0xx
//! (up to Q043), Q046's long header, the cleartext STREAM frames of
//! stream 1, and the CHLO tag/value message.

use super::packet::Reassembler;

/// Public header of a client packet (version flag set). Returns the
/// version and the payload after the 12-byte message hash.
pub fn clear_payload(d: &[u8]) -> Option<(u32, &[u8])> {
    let flags = *d.first()?;
    let (version, mut pos) = if flags & 0x80 != 0 {
        // Q046: long header, CID lengths nibble byte, DCID, packet number.
        let version = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
        let cil = *d.get(5)?;
        let nib = |n: u8| if n == 0 { 0 } else { usize::from(n) + 3 };
        let pos = 6 + nib(cil >> 4) + nib(cil & 0x0f) + usize::from(flags & 0x03) + 1;
        (version, pos)
    } else {
        // Q0xx public header: flags, CID, version, packet number.
        if flags & 0x01 == 0 || flags & 0x02 != 0 {
            return None;
        }
        let mut pos = 1;
        if flags & 0x08 != 0 {
            pos += 8;
        }
        let version = u32::from_be_bytes(d.get(pos..pos + 4)?.try_into().ok()?);
        pos += 4;
        // 0x04 (diversification nonce) is only set by servers; older
        // versions encoded an 8-byte CID as 0x0c, so clients send 0x0d.
        pos += match (flags >> 4) & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 6,
        };
        (version, pos)
    };
    // Versions before Q034 put a private flags byte before the frames.
    let n = version.to_be_bytes();
    if n[0] == b'Q' && n[1] == b'0' && (n[2] < b'3' || (n[2] == b'3' && n[3] < b'4')) {
        pos += 1;
    }
    pos += 12; // message authentication hash
    Some((version, d.get(pos..)?))
}

/// Feeds the stream-1 data of a cleartext payload into `r`. Falls back to
/// the first "CHLO" when the frames are not the expected STREAM frame.
pub fn stream_data(payload: &[u8], version: u32, r: &mut Reassembler) {
    let big_endian = version >= 0x5130_3339; // "Q039"
    let mut pos = 0usize;
    while let Some(&ty) = payload.get(pos) {
        if ty & 0x80 == 0 {
            break;
        }
        let Some(next) = stream_frame(payload, pos, big_endian, r) else {
            break;
        };
        pos = next;
    }
    if r.is_empty() {
        if let Some(at) = payload.windows(4).position(|w| w == b"CHLO") {
            r.add(0, &payload[at..]);
        }
    }
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0, |a, &x| (a << 8) | u64::from(x))
}

fn stream_frame(p: &[u8], mut pos: usize, big_endian: bool, r: &mut Reassembler) -> Option<usize> {
    let ty = *p.get(pos)?;
    pos += 1;
    let id_len = usize::from(ty & 0x03) + 1;
    let off_len = match (ty >> 2) & 0x07 {
        0 => 0,
        n => usize::from(n) + 1,
    };
    let id = be(p.get(pos..pos + id_len)?);
    pos += id_len;
    let offset = be(p.get(pos..pos + off_len)?);
    pos += off_len;
    let len = if ty & 0x20 != 0 {
        let b: [u8; 2] = p.get(pos..pos + 2)?.try_into().ok()?;
        pos += 2;
        usize::from(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    } else {
        p.len().checked_sub(pos)?
    };
    let data = p.get(pos..pos.checked_add(len)?)?;
    if id == 1 {
        r.add(offset, data);
    }
    Some(pos + len)
}

/// What baikal reads from a CHLO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chlo {
    pub sni: Option<String>,
    pub uaid: Option<String>,
    /// Every tag's value was present.
    pub complete: bool,
}

/// Parses a CHLO message (tag "CHLO", u16 LE tag count, 2 padding bytes,
/// then (tag, u32 LE end offset) pairs and the values). `None` if `m` is
/// not a CHLO.
pub fn parse_chlo(m: &[u8]) -> Option<Chlo> {
    if m.get(..4)? != b"CHLO" {
        return None;
    }
    let n = usize::from(u16::from_le_bytes(m.get(4..6)?.try_into().ok()?));
    let base = 8 + 8 * n;
    let mut out = Chlo::default();
    let mut prev = 0usize;
    for i in 0..n {
        let e = 8 + 8 * i;
        let Some(entry) = m.get(e..e + 8) else { return Some(out) };
        let end = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]) as usize;
        if end < prev {
            return Some(out);
        }
        let Some(value) = m.get(base + prev..base + end) else {
            return Some(out);
        };
        let text = || Some(String::from_utf8_lossy(value).into_owned()).filter(|s| !s.is_empty());
        match &entry[..4] {
            b"SNI\0" => out.sni = text(),
            b"UAID" => out.uaid = text(),
            _ => {}
        }
        prev = end;
    }
    out.complete = true;
    Some(out)
}

#[cfg(test)]
pub(crate) fn build_chlo(tags: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut m = b"CHLO".to_vec();
    m.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    m.extend_from_slice(&[0, 0]);
    let mut end = 0u32;
    for (t, v) in tags {
        end += v.len() as u32;
        m.extend_from_slice(*t);
        m.extend_from_slice(&end.to_le_bytes());
    }
    for (_, v) in tags {
        m.extend_from_slice(v);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chlo_tags() {
        let m = build_chlo(&[
            (b"PAD\0", &[0u8; 20]),
            (b"SNI\0", b"www.google.com"),
            (b"UAID", b"Chrome/80"),
        ]);
        let c = parse_chlo(&m).unwrap();
        assert_eq!(c.sni.as_deref(), Some("www.google.com"));
        assert_eq!(c.uaid.as_deref(), Some("Chrome/80"));
        assert!(c.complete);
        let c = parse_chlo(&m[..m.len() - 3]).unwrap();
        assert_eq!(c.sni.as_deref(), Some("www.google.com"));
        assert!(!c.complete);
        assert!(parse_chlo(b"SHLO").is_none());
        for k in 0..m.len() {
            let _ = parse_chlo(&m[..k]);
        }
        // Absurd counts and offsets.
        assert!(!parse_chlo(b"CHLO\xff\xff\0\0SNI\0\xff\xff\xff\xff").unwrap().complete);
    }

    #[test]
    fn q043_header_and_stream() {
        let chlo = build_chlo(&[(b"SNI\0", b"a.example")]);
        let mut pkt = vec![0x09u8];
        pkt.extend_from_slice(&[7; 8]);
        pkt.extend_from_slice(b"Q043");
        pkt.push(1);
        pkt.extend_from_slice(&[0xee; 12]);
        pkt.extend_from_slice(&[0xa0, 0x01]);
        pkt.extend_from_slice(&(chlo.len() as u16).to_be_bytes());
        pkt.extend_from_slice(&chlo);
        pkt.extend_from_slice(&[0; 30]);
        let (v, p) = clear_payload(&pkt).unwrap();
        assert_eq!(v, 0x5130_3433);
        let mut r = Reassembler::default();
        stream_data(p, v, &mut r);
        assert_eq!(r.prefix(), chlo);
        for k in 0..pkt.len() {
            if let Some((v, p)) = clear_payload(&pkt[..k]) {
                stream_data(p, v, &mut Reassembler::default());
            }
        }
    }
}
