//! MTProto (Telegram) transports over TCP, recognised from what the
//! connection itself proves, not from address lists.
//!
//! Transports (core.telegram.org/mtproto/mtproto-transports):
//! - abridged: the client's first byte is `0xef`; each frame starts with
//!   its length in 4-byte words, one byte (< 0x7f) or `0x7f` and three
//!   bytes little-endian;
//! - intermediate: `0xeeeeeeee`, then frames with a 4-byte little-endian
//!   length;
//! - padded intermediate: `0xdddddddd`, then frames with a 4-byte length
//!   that includes 0..15 bytes of random padding;
//! - obfuscated2 (core.telegram.org/mtproto/mtproto-transports#transport-obfuscation):
//!   the client opens with 64 random-looking bytes; bytes 8..40 are an
//!   AES-256-CTR key and 40..56 the IV; decrypting the 64 bytes with them
//!   yields one of the three transport tags at 56..60.
//!
//! A tag alone is never enough for the plain transports: the first frame
//! must be consistent with the bytes that follow. Either it is an
//! unencrypted message (auth_key_id 0, a client msg_id — divisible by 4,
//! upper half a plausible Unix time — and a message length that fills the
//! frame exactly), or it is an encrypted message (auth_key_id ≠ 0,
//! msg_key, a whole number of AES blocks) and the server's first frame
//! carries the same auth_key_id (or a transport error code). Further
//! client frames present must chain (plausible lengths).
//!
//! MTProxy with a secret keys the obfuscated2 header with the secret and
//! cannot be proven; the rules' heuristics deal with it.
//!
//! Over UDP, the same dissector recognises Telegram's call relays
//! (libtgvoip's reflector protocol, reported as protocol `tgvoip`): each
//! datagram opens with a 16-byte peer tag; the relay's own messages (ping,
//! self-info) follow it with twelve `0xff` bytes and a message type. The
//! client's first datagram must carry a random-looking tag, the twelve
//! `0xff` and a type, and the relay's first answer the same tag and mark.

use aes::cipher::{KeyIvInit, StreamCipher};

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Evidence, Meta};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The MTProto dissector.
pub struct MtProto;

const TAG_ABRIDGED: [u8; 4] = [0xef; 4];
const TAG_INTERMEDIATE: [u8; 4] = [0xee; 4];
const TAG_PADDED: [u8; 4] = [0xdd; 4];

/// Largest frame accepted (the MTProto servers cap messages far below).
const MAX_FRAME: usize = 1 << 24;
/// Smallest frame: an unencrypted message has a 20-byte header plus a
/// constructor; an encrypted one 8 + 16 bytes of header plus a block.
const MIN_FRAME: usize = 24;
/// Transport error codes a server may answer with (4-byte frames).
const TRANSPORT_ERRORS: [i32; 3] = [-404, -429, -444];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Abridged,
    Intermediate,
    Padded,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Abridged => "abridged",
            Kind::Intermediate => "intermediate",
            Kind::Padded => "padded",
        }
    }
    fn from_tag(t: &[u8]) -> Option<Kind> {
        match t {
            _ if t == TAG_ABRIDGED => Some(Kind::Abridged),
            _ if t == TAG_INTERMEDIATE => Some(Kind::Intermediate),
            _ if t == TAG_PADDED => Some(Kind::Padded),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Yes,
    No,
    More,
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_le(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Reads a frame header at the start of `b`: (header length, frame
/// length), or `None` when more bytes are needed.
fn frame_header(kind: Kind, b: &[u8]) -> Option<(usize, usize)> {
    match kind {
        Kind::Abridged => {
            let first = *b.first()?;
            // The top bit asks for a quick ack.
            let v = first & 0x7f;
            if v == 0x7f {
                let s = b.get(1..4)?;
                let words = u32::from_le_bytes([s[0], s[1], s[2], 0]) as usize;
                Some((4, words * 4))
            } else {
                Some((1, usize::from(v) * 4))
            }
        }
        Kind::Intermediate | Kind::Padded => {
            // The top bit asks for a quick ack.
            let n = u32_le(b, 0)? & 0x7fff_ffff;
            Some((4, n as usize))
        }
    }
}

fn plausible_len(kind: Kind, len: usize) -> bool {
    let aligned = kind == Kind::Padded || len & 3 == 0;
    (MIN_FRAME..=MAX_FRAME).contains(&len) && aligned
}

/// Checks the client's frames (after the transport tag) and, for an
/// encrypted first message, the server's first frame.
fn check_frames(kind: Kind, client: &[u8], server: &[u8]) -> Check {
    let Some((hdr, len)) = frame_header(kind, client) else {
        return Check::More;
    };
    if !plausible_len(kind, len) {
        return Check::No;
    }
    let body = client.get(hdr..).unwrap_or(&[]);
    let Some(auth_key_id) = u64_le(body, 0) else {
        return Check::More;
    };
    let first = if auth_key_id == 0 {
        let (Some(msg_id), Some(data_len)) = (u64_le(body, 8), u32_le(body, 16)) else {
            return Check::More;
        };
        let data_len = data_len as usize;
        let secs = msg_id >> 32;
        let fills = match kind {
            Kind::Padded => (20 + data_len..=20 + data_len + 15).contains(&len),
            _ => len == 20 + data_len,
        };
        // Client message ids are divisible by 4 and carry Unix time
        // (2010..2100) in their upper half.
        if msg_id & 3 != 0 || !(1_262_304_000..4_102_444_800).contains(&secs) || data_len < 4 || !fills {
            return Check::No;
        }
        // The whole (small) message must be there.
        if body.len() < len {
            return Check::More;
        }
        Check::Yes
    } else {
        // auth_key_id, msg_key (16), then whole AES blocks.
        if len < 40 || (kind != Kind::Padded && (len - 24) & 15 != 0) {
            return Check::No;
        }
        check_server(kind, server, auth_key_id)
    };
    if first == Check::No {
        return Check::No;
    }
    // Frames that follow must chain.
    let mut at = hdr + len;
    while at < client.len() {
        let rest = client.get(at..).unwrap_or(&[]);
        let Some((h, l)) = frame_header(kind, rest) else { break };
        if !plausible_len(kind, l) {
            return Check::No;
        }
        at = at.saturating_add(h + l);
    }
    first
}

fn check_server(kind: Kind, server: &[u8], auth_key_id: u64) -> Check {
    let Some((hdr, len)) = frame_header(kind, server) else {
        return Check::More;
    };
    let body = server.get(hdr..).unwrap_or(&[]);
    if len == 4 {
        return match u32_le(body, 0) {
            Some(code) if TRANSPORT_ERRORS.contains(&(code as i32)) => Check::Yes,
            Some(_) => Check::No,
            None => Check::More,
        };
    }
    if !plausible_len(kind, len) {
        return Check::No;
    }
    match u64_le(body, 0) {
        Some(id) if id == auth_key_id => Check::Yes,
        Some(_) => Check::No,
        None => Check::More,
    }
}

/// Decrypts the obfuscated2 header; returns the transport it names.
fn obfuscated2(head: &[u8]) -> Option<Kind> {
    let head: &[u8; 64] = head.get(..64)?.try_into().ok()?;
    // Values a client never sends first (they would look like another
    // transport or protocol): skip the AES work.
    if head[0] == 0xef
        || Kind::from_tag(&head[..4]).is_some()
        || [b"HEAD", b"POST", b"GET ", b"OPTI"].iter().any(|t| head[..4] == t[..])
        || head[4..8] == [0; 4]
    {
        return None;
    }
    let mut cipher = Aes256Ctr::new_from_slices(&head[8..40], &head[40..56]).ok()?;
    let mut buf = *head;
    cipher.apply_keystream(&mut buf);
    Kind::from_tag(&buf[56..60])
}

/// Twelve `0xff` after the peer tag: a relay (reflector) message.
const REFLECTOR_MARK: [u8; 12] = [0xff; 12];

fn parse_reflector(p: &Payloads<'_>, meta: &mut Meta) -> Parse {
    let d = p.orig.first();
    let (Some(tag), Some(mark), Some(kind)) = (d.get(..16), d.get(16..28), d.get(28..32)) else {
        return if p.last || !d.is_empty() {
            Parse::NotMine
        } else {
            Parse::NeedMore
        };
    };
    // RTP carrying mu-law silence is 0xff after its 12-byte header: a
    // random peer tag and a message type other than 0xffffffff keep it out.
    if mark != REFLECTOR_MARK || kind == [0xff; 4] || tag.iter().filter(|&&b| b == 0xff).count() > 4 {
        return Parse::NotMine;
    }
    // The relay's answer must echo the tag and the mark.
    let r = p.resp.first();
    if r.is_empty() {
        return p.undecided();
    }
    if r.get(..16) != Some(tag) || r.get(16..28) != Some(&REFLECTOR_MARK[..]) {
        return Parse::NotMine;
    }
    meta.protocol = Some("tgvoip");
    meta.encryption = Encryption::Encrypted;
    meta.app = Some("telegram".to_string());
    Parse::Done
}

fn identified(meta: &mut Meta, kind: Kind, obfuscated: bool) -> Parse {
    meta.protocol = Some("mtproto");
    meta.encryption = Encryption::Encrypted;
    meta.evidence.insert(Evidence::MTPROTO);
    meta.app = Some("telegram".to_string());
    meta.set_extra("mtproto_transport", kind.name());
    if obfuscated {
        meta.set_extra("obfuscated2", "true");
    }
    Parse::Done
}

impl Dissector for MtProto {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "mtproto"
    }

    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }

    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.transport == Transport::Udp {
            let d = p.orig.first();
            return match d.get(16..28) {
                _ if d.is_empty() => Probe::Maybe,
                Some(m) if m == REFLECTOR_MARK => Probe::Mine,
                _ => Probe::NotMine,
            };
        }
        let o = p.orig.stream();
        match o.first() {
            None => Probe::Maybe,
            // Not obfuscated2 (its first four bytes never look like these)
            // and not a plain tag.
            Some(_) if o.len() >= 4 && [b"HEAD", b"POST", b"GET ", b"OPTI"].iter().any(|t| o[..4] == t[..]) => {
                Probe::NotMine
            }
            Some(_) if o.len() >= 8 && Kind::from_tag(&o[..4]).is_none() && o[0] != 0xef && o[4..8] == [0; 4] => {
                Probe::NotMine
            }
            Some(_) => Probe::Maybe,
        }
    }

    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Udp {
            return parse_reflector(p, meta);
        }
        let o = p.orig.stream();
        let s = p.resp.stream();
        let undecided = p.undecided();
        let Some(&b0) = o.first() else { return undecided };
        let (kind, rest) = if b0 == 0xef {
            (Kind::Abridged, &o[1..])
        } else if o.len() < 4 && o.iter().all(|&b| b == b0) && (b0 == 0xee || b0 == 0xdd) {
            return undecided;
        } else if let Some(k) = o.get(..4).and_then(Kind::from_tag) {
            (k, &o[4..])
        } else {
            if o.len() < 64 {
                return undecided;
            }
            return match obfuscated2(o) {
                Some(k) => identified(meta, k, true),
                None => Parse::NotMine,
            };
        };
        match check_frames(kind, rest, s) {
            Check::Yes => identified(meta, kind, false),
            Check::No => Parse::NotMine,
            Check::More => undecided,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, Side};

    /// xorshift: deterministic pseudo-random bytes.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    const MSG_ID: u64 = (1_700_000_000u64 << 32) | 0x1234_5678 & !3;

    /// An unencrypted req_pq_multi: auth_key_id 0, msg_id, length 20,
    /// constructor 0xbe7e8ef1 and a 16-byte nonce.
    fn req_pq(rng: &mut Rng) -> Vec<u8> {
        let mut m = vec![0u8; 8];
        m.extend_from_slice(&MSG_ID.to_le_bytes());
        m.extend_from_slice(&20u32.to_le_bytes());
        m.extend_from_slice(&0xbe7e_8ef1u32.to_le_bytes());
        m.extend(rng.bytes(16));
        m
    }

    /// An encrypted message: auth_key_id, msg_key, `blocks` AES blocks.
    fn encrypted(rng: &mut Rng, key_id: u64, blocks: usize) -> Vec<u8> {
        let mut m = key_id.to_le_bytes().to_vec();
        m.extend(rng.bytes(16 + 16 * blocks));
        m
    }

    fn frame(kind: Kind, msg: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut f = Vec::new();
        match kind {
            Kind::Abridged => {
                let w = msg.len() / 4;
                if w < 0x7f {
                    f.push(w as u8);
                } else {
                    f.push(0x7f);
                    f.extend_from_slice(&(w as u32).to_le_bytes()[..3]);
                }
                f.extend_from_slice(msg);
            }
            Kind::Intermediate => {
                f.extend_from_slice(&(msg.len() as u32).to_le_bytes());
                f.extend_from_slice(msg);
            }
            Kind::Padded => {
                let pad = (rng.next() % 16) as usize;
                f.extend_from_slice(&((msg.len() + pad) as u32).to_le_bytes());
                f.extend_from_slice(msg);
                f.extend(rng.bytes(pad));
            }
        }
        f
    }

    fn tag(kind: Kind) -> Vec<u8> {
        match kind {
            Kind::Abridged => vec![0xef],
            Kind::Intermediate => TAG_INTERMEDIATE.to_vec(),
            Kind::Padded => TAG_PADDED.to_vec(),
        }
    }

    fn parse(orig: &[u8], resp: &[u8], last: bool) -> (Parse, Meta) {
        let ends = [[orig.len() as u32], [resp.len() as u32]];
        let mut p = Payloads::tcp(40000, 443, orig, resp, &ends);
        p.last = last;
        let mut m = Meta::default();
        let r = MtProto.parse(&p, &mut m);
        (r, m)
    }

    const KINDS: [Kind; 3] = [Kind::Abridged, Kind::Intermediate, Kind::Padded];

    #[test]
    fn plain_transports_unencrypted_first_message() {
        let mut rng = Rng(7);
        for kind in KINDS {
            let mut orig = tag(kind);
            orig.extend(frame(kind, &req_pq(&mut rng), &mut rng));
            let (r, m) = check_split_tcp(&MtProto, 443, &orig, &[]);
            assert_eq!(r, Parse::Done, "{kind:?}");
            assert_eq!(m.protocol, Some("mtproto"));
            assert_eq!(m.app.as_deref(), Some("telegram"));
            assert_eq!(m.encryption, Encryption::Encrypted);
            assert!(m.evidence.contains(Evidence::MTPROTO));
            assert_eq!(m.extra("mtproto_transport"), Some(kind.name()));
            assert_eq!(m.extra("obfuscated2"), None);
            // Every strict prefix is undecided, never identified.
            for k in 0..orig.len() {
                let (r, _) = parse(&orig[..k], &[], false);
                assert_eq!(r, Parse::NeedMore, "{kind:?} prefix {k}");
            }
        }
    }

    #[test]
    fn plain_transports_encrypted_session_with_server_answer() {
        let mut rng = Rng(11);
        for kind in KINDS {
            for blocks in [2, 40] {
                let key_id = rng.next() | 1;
                let mut orig = tag(kind);
                orig.extend(frame(kind, &encrypted(&mut rng, key_id, blocks), &mut rng));
                orig.extend(frame(kind, &encrypted(&mut rng, key_id, 3), &mut rng));
                let resp = frame(kind, &encrypted(&mut rng, key_id, 5), &mut rng);
                let (r, m) = check_split_tcp(&MtProto, 443, &orig, &resp);
                assert_eq!(r, Parse::Done, "{kind:?} {blocks}");
                assert_eq!(m.extra("mtproto_transport"), Some(kind.name()));
                // Without the server's answer: undecided, then not mine.
                assert_eq!(parse(&orig, &[], false).0, Parse::NeedMore);
                assert_eq!(parse(&orig, &[], true).0, Parse::NotMine);
                // A server frame with another auth_key_id: not mine.
                let other = frame(kind, &encrypted(&mut rng, key_id ^ 0x100, 5), &mut rng);
                assert_eq!(parse(&orig, &other, false).0, Parse::NotMine, "{kind:?}");
                // A transport error from the server.
                let mut err = frame(kind, &(-404i32).to_le_bytes(), &mut rng);
                if kind == Kind::Padded {
                    err = [4u32.to_le_bytes(), (-404i32).to_le_bytes()].concat();
                }
                assert_eq!(parse(&orig, &err, false).0, Parse::Done, "{kind:?}");
            }
        }
    }

    #[test]
    fn abridged_long_length_form() {
        let mut rng = Rng(3);
        let key_id = 0x1122_3344_5566_7788;
        // 24 + 16 * 40 = 664 bytes = 166 words ≥ 0x7f: four-byte form.
        let msg = encrypted(&mut rng, key_id, 40);
        let f = frame(Kind::Abridged, &msg, &mut rng);
        assert_eq!(f[0], 0x7f);
        let orig = [vec![0xef], f].concat();
        let resp = frame(Kind::Abridged, &encrypted(&mut rng, key_id, 1), &mut rng);
        assert_eq!(parse(&orig, &resp, false).0, Parse::Done);
    }

    fn obfuscate(rng: &mut Rng, kind: Kind, payload: &[u8]) -> Vec<u8> {
        let mut head = loop {
            let h = rng.bytes(64);
            if obfuscated_allowed(&h) {
                break h;
            }
        };
        let tag = match kind {
            Kind::Abridged => TAG_ABRIDGED,
            Kind::Intermediate => TAG_INTERMEDIATE,
            Kind::Padded => TAG_PADDED,
        };
        head[56..60].copy_from_slice(&tag);
        let mut enc = head.clone();
        enc.extend_from_slice(payload);
        let mut c = Aes256Ctr::new_from_slices(&head[8..40], &head[40..56]).unwrap();
        c.apply_keystream(&mut enc);
        // The first 56 bytes go out as generated; the rest encrypted.
        enc[..56].copy_from_slice(&head[..56]);
        enc
    }

    fn obfuscated_allowed(h: &[u8]) -> bool {
        h[0] != 0xef
            && Kind::from_tag(&h[..4]).is_none()
            && ![b"HEAD", b"POST", b"GET ", b"OPTI"].iter().any(|t| h[..4] == t[..])
            && h[4..8] != [0; 4]
    }

    #[test]
    fn obfuscated2_all_tags_random_keys() {
        let mut rng = Rng(99);
        for kind in KINDS {
            for _ in 0..20 {
                let inner = frame(kind, &req_pq(&mut rng), &mut rng);
                let orig = obfuscate(&mut rng, kind, &inner);
                let (r, m) = check_split_tcp(&MtProto, 443, &orig, &[]);
                assert_eq!(r, Parse::Done, "{kind:?}");
                assert_eq!(m.extra("mtproto_transport"), Some(kind.name()));
                assert_eq!(m.extra("obfuscated2"), Some("true"));
                assert_eq!(m.app.as_deref(), Some("telegram"));
                assert_eq!(m.encryption, Encryption::Encrypted);
                assert_eq!(parse(&orig[..63], &[], false).0, Parse::NeedMore);
                assert_eq!(parse(&orig[..63], &[], true).0, Parse::NotMine);
                // One flipped bit in the key breaks it.
                let mut bad = orig.clone();
                bad[20] ^= 1;
                assert_eq!(parse(&bad, &[], false).0, Parse::NotMine);
            }
        }
    }

    #[test]
    fn random_data_is_not_mtproto() {
        let mut rng = Rng(0x5eed);
        let mut hits = 0;
        for i in 0..10_000 {
            let n = 1 + (rng.next() % 1500) as usize;
            let mut orig = rng.bytes(n);
            let rn = (rng.next() % 400) as usize;
            let resp = rng.bytes(rn);
            let (r, _) = parse(&orig, &resp, true);
            hits += usize::from(matches!(r, Parse::Identified | Parse::Done));
            // Starting with 0xef.
            orig[0] = 0xef;
            let (r, _) = parse(&orig, &resp, true);
            assert!(
                !matches!(r, Parse::Identified | Parse::Done),
                "0xef payload {i} matched"
            );
            let (r, _) = parse(&orig, &[], false);
            assert!(
                !matches!(r, Parse::Identified | Parse::Done),
                "0xef payload {i} matched"
            );
        }
        assert_eq!(hits, 0);
    }

    #[test]
    fn inconsistent_lengths_are_not_mtproto() {
        let mut rng = Rng(5);
        let msg = req_pq(&mut rng);
        // 0xeeeeeeee and a length that does not fit the message.
        for len in [0u32, 7, 41, 44, 100, 0x7fff_ffff] {
            let orig = [TAG_INTERMEDIATE.to_vec(), len.to_le_bytes().to_vec(), msg.clone()].concat();
            assert_eq!(parse(&orig, &[], false).0, Parse::NotMine, "len {len}");
        }
        // A lone 0xef byte is never enough.
        assert_eq!(parse(&[0xef], &[], false).0, Parse::NeedMore);
        assert_eq!(parse(&[0xef], &[], true).0, Parse::NotMine);
        // Right length, but a server msg_id (≡ 1 mod 4) from the client.
        let mut m = msg.clone();
        m[8] |= 1;
        let orig = [vec![0xef], frame(Kind::Abridged, &m, &mut rng)].concat();
        assert_eq!(parse(&orig, &[], false).0, Parse::NotMine);
        // A second frame that does not chain.
        let mut orig = [vec![0xef], frame(Kind::Abridged, &msg, &mut rng)].concat();
        orig.push(0x01);
        assert_eq!(parse(&orig, &[], false).0, Parse::NotMine);
        // HTTP is refused by the probe.
        let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let ends = [[http.len() as u32], [0]];
        let p = Payloads::tcp(1, 80, http, &[], &ends);
        assert_eq!(MtProto.probe(&p), Probe::NotMine);
    }

    fn udp<'a>(orig: &'a [u8], resp: &'a [u8], ends: &'a [[u32; 1]; 2]) -> Payloads<'a> {
        let mut p = Payloads::tcp(28150, 533, orig, resp, ends);
        p.transport = Transport::Udp;
        p
    }

    #[test]
    fn telegram_call_relay_over_udp() {
        let mut rng = Rng(21);
        let tag = rng.bytes(16);
        let query = rng.bytes(8);
        let ping = [tag.clone(), vec![0xff; 12], vec![0xfe, 0xff, 0xff, 0xff], query.clone()].concat();
        let answer = [
            tag.clone(),
            vec![0xff; 12],
            vec![0xc7, 0x72, 0x15, 0xc0],
            rng.bytes(4),
            query,
        ]
        .concat();
        let ends = [[ping.len() as u32], [answer.len() as u32]];
        let p = udp(&ping, &answer, &ends);
        assert_eq!(MtProto.probe(&p), Probe::Mine);
        let mut m = Meta::default();
        assert_eq!(MtProto.parse(&p, &mut m), Parse::Done);
        assert_eq!((m.protocol, m.app.as_deref()), (Some("tgvoip"), Some("telegram")));
        assert_eq!(m.encryption, Encryption::Encrypted);
        let ends1 = [[ping.len() as u32], [0]];
        assert_eq!(
            MtProto.parse(&udp(&ping, &[], &ends1), &mut Meta::default()),
            Parse::NeedMore
        );
        let mut last = udp(&ping, &[], &ends1);
        last.last = true;
        assert_eq!(MtProto.parse(&last, &mut Meta::default()), Parse::NotMine);
        // RTP with mu-law silence (0xff payload) both ways: not mine.
        let rtp = |ssrc: u8| {
            [
                vec![0x80, 0x00, 0x05, 0x94, 0, 5, 0x87, 0x78, 0x1e, 6, 0x3b, ssrc],
                vec![0xff; 160],
            ]
            .concat()
        };
        let (a, b) = (rtp(0x22), rtp(0x22));
        let e = [[a.len() as u32], [b.len() as u32]];
        assert_eq!(MtProto.parse(&udp(&a, &b, &e), &mut Meta::default()), Parse::NotMine);
        // Another tag in the answer, or no mark: not mine.
        let mut other = answer.clone();
        other[3] ^= 1;
        assert_eq!(
            MtProto.parse(&udp(&ping, &other, &ends), &mut Meta::default()),
            Parse::NotMine
        );
        let mut noise = ping.clone();
        noise[20] = 0;
        assert_eq!(MtProto.probe(&udp(&noise, &answer, &ends)), Probe::NotMine);
        assert_eq!(
            MtProto.parse(&udp(&noise, &answer, &ends), &mut Meta::default()),
            Parse::NotMine
        );
        for _ in 0..1000 {
            let n = (rng.next() % 200) as usize;
            let d = rng.bytes(n);
            let e = [[d.len() as u32], [0]];
            let r = MtProto.parse(&udp(&d, &[], &e), &mut Meta::default());
            assert!(!matches!(r, Parse::Identified | Parse::Done));
        }
    }

    #[test]
    fn probe_is_cheap_and_permissive() {
        let p = Payloads {
            transport: Transport::Tcp,
            orig_port: 1,
            resp_port: 2,
            orig: Side::default(),
            resp: Side::default(),
            last: false,
        };
        assert_eq!(MtProto.probe(&p), Probe::Maybe);
    }
}
