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

/// Most bytes of frames (ACK, STOP_WAITING, padding, a STREAM frame
/// header) before a server's REJ or SHLO in its packet.
const SERVER_MSG_WINDOW: usize = 64;
/// Most tags in a handshake message taken as one.
const MAX_TAGS: usize = 128;

/// The first packet of a Google QUIC server (Q0xx public header: no
/// version, no reset, an 8-byte connection ID, perhaps the 32-byte
/// diversification nonce, a packet number, the 12-byte message hash)
/// whose cleartext frames carry the server's handshake message: REJ or
/// SHLO, a tag/value message whose tag count, zero padding and tag table
/// (tags of capitals, digits, NUL or 0xff; end offsets not decreasing)
/// are checked. Returns "rej" or "shlo". What follows it is sealed.
pub fn server_handshake(d: &[u8]) -> Option<&'static str> {
    let flags = *d.first()?;
    if flags & 0x83 != 0 || flags & 0x08 == 0 {
        return None;
    }
    let pn = match (flags >> 4) & 0x03 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 6,
    };
    let nonce = if flags & 0x04 != 0 { 32 } else { 0 };
    let payload = d.get(1 + 8 + nonce + pn + 12..)?;
    let window = &payload[..payload.len().min(SERVER_MSG_WINDOW + 4)];
    let at = window.windows(4).position(|w| w == b"REJ\0" || w == b"SHLO")?;
    let msg = &payload[at..];
    let n = usize::from(u16::from_le_bytes([*msg.get(4)?, *msg.get(5)?]));
    if n == 0 || n > MAX_TAGS || msg.get(6..8)? != [0, 0] {
        return None;
    }
    let mut prev = 0u32;
    for i in 0..n {
        let e = msg.get(8 + 8 * i..16 + 8 * i)?;
        let tag_byte = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == 0 || *b == 0xff;
        if !e[..4].iter().all(tag_byte) {
            return None;
        }
        let end = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        if end < prev {
            return None;
        }
        prev = end;
    }
    Some(if msg.starts_with(b"SHLO") { "shlo" } else { "rej" })
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

    #[test]
    fn server_rej_packet() {
        let mut rej = build_chlo(&[(b"SNO\0", &[1; 16]), (b"STK\0", &[2; 20]), (b"CRT\xff", &[3; 40])]);
        rej[..4].copy_from_slice(b"REJ\0");
        // flags 0x08 (CID), CID, 1-byte packet number, hash, an ACK frame,
        // then a STREAM frame of stream 1 (2-byte big-endian length).
        let mut pkt = vec![0x08u8];
        pkt.extend_from_slice(&[0x25; 8]);
        pkt.push(1);
        pkt.extend_from_slice(&[0x6b; 12]);
        pkt.extend_from_slice(&[0x40, 0x01, 0x03, 0xa5, 0x01, 0x00, 0x06, 0x00, 0xa0, 0x01]);
        pkt.extend_from_slice(&(rej.len() as u16).to_be_bytes());
        pkt.extend_from_slice(&rej);
        assert_eq!(server_handshake(&pkt), Some("rej"));
        let mut shlo = pkt.clone();
        let at = shlo.windows(4).position(|w| w == b"REJ\0").unwrap();
        shlo[at..at + 4].copy_from_slice(b"SHLO");
        assert_eq!(server_handshake(&shlo), Some("shlo"));
        // The tag table cut short, a client packet (version flag), no CID,
        // a lowercase tag, offsets going back.
        assert_eq!(server_handshake(&pkt[..pkt.len() - 80]), None);
        for (i, v) in [(0, 0x09), (0, 0x00)] {
            let mut q = pkt.clone();
            q[i] = v;
            assert_eq!(server_handshake(&q), None);
        }
        let mut q = pkt.clone();
        q[at + 8] = b's';
        assert_eq!(server_handshake(&q), None);
        let mut q = pkt.clone();
        q[at + 20] = 0xff;
        assert_eq!(server_handshake(&q), None);
        for k in 0..pkt.len() {
            let _ = server_handshake(&pkt[..k]);
        }
    }
}
