//! BitTorrent: the peer wire handshake over TCP (BEP 3: `\x13BitTorrent
//! protocol`, 8 reserved bytes, the 20-byte info hash, the peer id), the
//! DHT over UDP (BEP 5: one bencoded dictionary per datagram), and uTP
//! (BEP 29: a SYN answered by a STATE with the same connection id; or,
//! in a capture that starts mid-connection, a run of uTP headers of one
//! connection whose data packets carry peer wire messages).
//! Message-stream-encrypted peers (MSE) are not recognised.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Bittorrent;

const HANDSHAKE: &[u8] = b"\x13BitTorrent protocol";
/// Handshake prefix up to and including the info hash.
const WITH_HASH: usize = 20 + 8 + 20;
const MAX_DEPTH: usize = 16;
/// Local Service Discovery (BEP 14), an HTTP-like datagram on 6771.
const LSD: &[u8] = b"BT-SEARCH * HTTP/1.1\r\n";

fn local_discovery(d: &[u8], meta: &mut Meta) -> Parse {
    meta.protocol = Some("bittorrent");
    meta.encryption = Encryption::Cleartext;
    meta.set_extra("bt_transport", "lsd");
    for line in super::text::lines(d, 16) {
        if let Some(v) = super::text::starts_with_ci(line, b"infohash:").then(|| &line[9..]) {
            let v = String::from_utf8_lossy(v).trim().to_ascii_lowercase();
            if v.len() == 40 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                meta.set_extra("bt_info_hash", v);
            }
        }
    }
    Parse::Done
}
const MAX_ITEMS: usize = 512;

/// Validates one bencoded value at `off`; returns the offset after it.
fn bvalue(d: &[u8], off: usize, depth: usize, items: &mut usize) -> Option<usize> {
    *items += 1;
    if depth > MAX_DEPTH || *items > MAX_ITEMS {
        return None;
    }
    match *d.get(off)? {
        b'i' => {
            let end = off + 1 + d.get(off + 1..)?.iter().take(21).position(|&b| b == b'e')?;
            let num = d.get(off + 1..end)?;
            let digits = num.strip_prefix(b"-").unwrap_or(num);
            (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit)).then_some(end + 1)
        }
        b'l' | b'd' => {
            let dict = d[off] == b'd';
            let mut o = off + 1;
            loop {
                if *d.get(o)? == b'e' {
                    return Some(o + 1);
                }
                if dict {
                    // Keys are strings.
                    if !d.get(o)?.is_ascii_digit() {
                        return None;
                    }
                    o = bvalue(d, o, depth + 1, items)?;
                }
                o = bvalue(d, o, depth + 1, items)?;
            }
        }
        b'0'..=b'9' => {
            let colon = d.get(off..)?.iter().take(8).position(|&b| b == b':')?;
            let len: usize = std::str::from_utf8(d.get(off..off + colon)?).ok()?.parse().ok()?;
            let start = off + colon + 1;
            d.get(start..start.checked_add(len)?)?;
            Some(start + len)
        }
        _ => None,
    }
}

/// A DHT datagram: one whole bencoded dictionary with a message type.
fn is_dht(d: &[u8]) -> bool {
    let known_start = [&b"d1:ad2:id20:"[..], b"d1:rd2:id20:", b"d1:eli", b"d2:ip"];
    let plausible = known_start.iter().any(|s| d.starts_with(s)) || d.windows(5).any(|w| w == b"1:y1:");
    let mut items = 0;
    plausible && d.first() == Some(&b'd') && bvalue(d, 0, 0, &mut items) == Some(d.len())
}

/// A uTP header: (type, connection id, seq_nr, ack_nr).
/// uTP header fields: (type, connection id, seq_nr, ack_nr).
type Utp = (u8, [u8; 2], [u8; 2], [u8; 2]);

fn utp(d: &[u8]) -> Option<Utp> {
    let h = d.get(..20)?;
    let t = h[0] >> 4;
    if h[0] & 0x0f != 1 || t > 4 || h[1] > 2 {
        return None;
    }
    // Without extensions the header is the whole packet for SYN / STATE.
    if h[1] == 0 && matches!(t, 2 | 4) && d.len() != 20 {
        return None;
    }
    Some((t, [h[2], h[3]], [h[16], h[17]], [h[18], h[19]]))
}

const ST_DATA: u8 = 0;
const ST_STATE: u8 = 2;
const ST_SYN: u8 = 4;

/// Datagrams of one side a mid-connection uTP guess needs.
const UTP_MID_FLOW: usize = 3;
/// Largest step of uTP's microsecond timestamp between two packets.
const UTP_MAX_TS_STEP: u32 = 10_000_000;
/// Most extensions walked after a uTP header.
const UTP_MAX_EXTS: usize = 4;
/// Largest peer wire message length taken as one (a 16 KiB block plus
/// its header, or an extension message).
const MAX_MESSAGE: u32 = 1 << 20;

/// The payload of a uTP packet: after the header and its extension chain.
fn utp_payload(d: &[u8]) -> Option<&[u8]> {
    let mut next = *d.get(1)?;
    let mut pos = 20usize;
    for _ in 0..UTP_MAX_EXTS {
        if next == 0 {
            return d.get(pos..);
        }
        next = *d.get(pos)?;
        pos += 2 + usize::from(*d.get(pos + 1)?);
    }
    None
}

/// A peer wire message starts here (BEP 3: 32-bit length, message id up
/// to 20, the extension protocol's) or the handshake does.
fn peer_wire_start(d: &[u8]) -> bool {
    if d.starts_with(HANDSHAKE) {
        return true;
    }
    match (d.first_chunk::<4>(), d.get(4)) {
        (Some(l), Some(&id)) => {
            let len = u32::from_be_bytes(*l);
            (1..=MAX_MESSAGE).contains(&len) && id <= 20
        }
        _ => false,
    }
}

/// A uTP connection seen from its middle: every datagram of `side` is a
/// uTP packet of one connection id, sequence numbers advancing by 0 or 1
/// and timestamps by less than [`UTP_MAX_TS_STEP`]. `Some(true)` once a
/// data packet opens with a peer wire message (cleartext BitTorrent),
/// `Some(false)` while the headers fit but no such packet was seen.
fn utp_mid_flow(side: super::Side<'_>) -> Option<bool> {
    let mut prev: Option<(Utp, u32)> = None;
    let mut n = 0usize;
    let mut wire = false;
    for d in side.chunks() {
        let u = utp(d)?;
        let ts = u32::from_be_bytes(*d.get(4..)?.first_chunk::<4>()?);
        if let Some((p, pts)) = prev {
            let seq_step = u16::from_be_bytes(u.2).wrapping_sub(u16::from_be_bytes(p.2));
            if u.1 != p.1 || seq_step > 1 || ts.wrapping_sub(pts) >= UTP_MAX_TS_STEP {
                return None;
            }
        }
        if u.0 == ST_DATA && utp_payload(d).is_some_and(peer_wire_start) {
            wire = true;
        }
        prev = Some((u, ts));
        n += 1;
    }
    (n >= UTP_MID_FLOW).then_some(wire)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Bittorrent {
    fn tcp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let side = p.first_side().stream();
        if !agrees(side, HANDSHAKE) || side.is_empty() {
            return Parse::NotMine;
        }
        let Some(hash) = side.get(28..WITH_HASH) else {
            return Parse::NeedMore;
        };
        meta.protocol = Some("bittorrent");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("bt_info_hash", hex(hash));
        Parse::Done
    }

    fn udp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_payload();
        if first.starts_with(LSD) {
            return local_discovery(first, meta);
        }
        if is_dht(first) {
            meta.protocol = Some("bittorrent");
            meta.encryption = Encryption::Cleartext;
            meta.set_extra("bt_transport", "dht");
            return Parse::Done;
        }
        // uTP: SYN, then a STATE naming the same connection and acking it.
        match utp(p.orig.first()) {
            Some((ST_SYN, conn, seq, _)) => {
                let Some(reply) = p.resp.chunks().next() else {
                    return Parse::NeedMore;
                };
                match utp(reply) {
                    Some((ST_STATE, c, _, ack)) if c == conn && ack == seq => {
                        meta.protocol = Some("bittorrent");
                        meta.encryption = Encryption::Cleartext;
                        meta.set_extra("bt_transport", "utp");
                        Parse::Done
                    }
                    _ => Parse::NotMine,
                }
            }
            Some(_) => match utp_mid_flow(p.first_side()) {
                Some(true) => {
                    meta.protocol = Some("bittorrent");
                    meta.encryption = Encryption::Cleartext;
                    meta.set_extra("bt_transport", "utp");
                    meta.set_extra("bt_utp", "mid_flow");
                    Parse::Done
                }
                Some(false) => p.undecided(),
                None if p.first_side().chunks().count() < UTP_MID_FLOW => p.undecided(),
                None => Parse::NotMine,
            },
            None => Parse::NotMine,
        }
    }
}

impl Dissector for Bittorrent {
    fn name(&self) -> &'static str {
        "bittorrent"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.transport {
            Transport::Tcp => {
                let side = p.first_side().stream();
                if agrees(side, HANDSHAKE) {
                    Probe::Maybe
                } else {
                    Probe::NotMine
                }
            }
            Transport::Udp => {
                let first = p.first_payload();
                let syn = !p.orig.is_empty() && utp(first).is_some();
                if first.starts_with(b"d1:") || first.starts_with(b"d2:") || first.starts_with(LSD) || syn {
                    Probe::Maybe
                } else {
                    Probe::NotMine
                }
            }
        }
    }
    /// TCP: the handshake's 0x13; UDP: `d` (bencoded DHT), `B` (LSD's
    /// `BT-SEARCH`) or a uTP type/version byte (`utp`: version 1, type 0..=4).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x13, b'd', b'B', 0x01, 0x11, 0x21, 0x31, 0x41]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        match p.transport {
            Transport::Tcp => self.tcp(p, meta),
            Transport::Udp => self.udp(p, meta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    #[test]
    fn tcp_handshake() {
        let mut h = HANDSHAKE.to_vec();
        h.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 5]);
        h.extend((0..20u8).map(|i| i * 11));
        h.extend_from_slice(b"-qB4650-abcdefghijkl");
        let (r, m) = check_split_tcp(&Bittorrent, 6881, &h, &h);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("bittorrent"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(
            m.extra("bt_info_hash"),
            Some("000b16212c37424d58636e79848f9aa5b0bbc6d1")
        );
        let ends = [[10], [0]];
        let p = Payloads::tcp(1, 2, &h[..10], b"", &ends);
        assert_eq!(Bittorrent.parse(&p, &mut Meta::default()), Parse::NeedMore);
        let ends = [[5], [0]];
        let p = Payloads::tcp(1, 2, b"\x13BitX", b"", &ends);
        assert_eq!(Bittorrent.probe(&p), Probe::NotMine);
    }

    #[test]
    fn dht_ping() {
        let q = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        let r = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
        let (res, m) = check_split_udp(&Bittorrent, 6881, 51413, &[q], &[r]);
        assert_eq!(res, Parse::Done);
        assert_eq!(m.extra("bt_transport"), Some("dht"));
        // A length past the end, a bad integer, trailing garbage.
        for bad in [
            &b"d1:ad2:id99:abce1:y1:qe"[..],
            b"d1:ad2:idi1x2ee1:y1:qe",
            b"d1:y1:qex",
            b"d1:y1:q",
        ] {
            let f = UdpFixture::new(1, 2, &[bad], &[]);
            assert_eq!(
                Bittorrent.parse(&f.payloads(), &mut Meta::default()),
                Parse::NotMine,
                "{bad:?}"
            );
        }
        // Deep nesting is bounded.
        let mut deep = b"d1:y".to_vec();
        deep.extend(std::iter::repeat_n(b'l', 5000));
        let f = UdpFixture::new(1, 2, &[&deep], &[]);
        assert_eq!(Bittorrent.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn local_service_discovery() {
        let d = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 61197\r\nInfohash: ED4F1085E885F98F9A69B70EE89EB988B8FD9115\r\n\r\n\r\n";
        let (r, m) = check_split_udp(&Bittorrent, 6771, 6771, &[d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("bt_transport"), Some("lsd"));
        assert_eq!(
            m.extra("bt_info_hash"),
            Some("ed4f1085e885f98f9a69b70ee89eb988b8fd9115")
        );
    }

    #[test]
    fn utp_syn_state() {
        let mut syn = [0u8; 20];
        syn[0] = 0x41;
        syn[2..4].copy_from_slice(&[0x12, 0x34]);
        syn[16..18].copy_from_slice(&[0, 1]);
        let mut st = [0u8; 20];
        st[0] = 0x21;
        st[2..4].copy_from_slice(&[0x12, 0x34]);
        st[18..20].copy_from_slice(&[0, 1]);
        let (r, m) = check_split_udp(&Bittorrent, 40000, 6881, &[&syn], &[&st]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("bt_transport"), Some("utp"));
        st[3] = 0x35;
        let (r, _) = check_split_udp(&Bittorrent, 40000, 6881, &[&syn], &[&st]);
        assert_eq!(r, Parse::NotMine);
    }

    /// A uTP header (type, connection id 0xacd2, timestamp, seq_nr).
    fn utp_pkt(ty: u8, ts: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(ty << 4) | 1, 0, 0xac, 0xd2];
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&[0xba, 0xf0, 0xf0, 0xfc, 0, 0x10, 0, 0]);
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0x6c, 0x42]);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn utp_mid_connection() {
        let msg = b"\0\0\0\x1b\x14\x02d8:msg_typei0e5:piecei0ee";
        let a = utp_pkt(2, 0xf82a_43d2, 0xd449, &[]);
        let b = utp_pkt(2, 0xf82a_483d, 0xd449, &[]);
        let c = utp_pkt(0, 0xf82a_5000, 0xd44a, msg);
        let (r, m) = check_split_udp(&Bittorrent, 6881, 60506, &[&a, &b, &c], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("bt_utp"), Some("mid_flow"));
        // Headers only: not yet; MSE-like data (no peer wire message): never.
        let (r, _) = check_split_udp(&Bittorrent, 6881, 60506, &[&a, &b, &b], &[]);
        assert_eq!(r, Parse::NeedMore);
        let sealed = utp_pkt(0, 0xf82a_5000, 0xd44a, &[0xe3; 40]);
        let (r, _) = check_split_udp(&Bittorrent, 6881, 60506, &[&a, &b, &sealed], &[]);
        assert_eq!(r, Parse::NeedMore);
        // Another connection id, a sequence jump, a timestamp leap.
        let mut other = c.clone();
        other[3] = 0xd3;
        let jump = utp_pkt(0, 0xf82a_5000, 0xd460, msg);
        let leap = utp_pkt(0, 0x0000_5000, 0xd44a, msg);
        for bad in [&other, &jump, &leap] {
            let (r, _) = check_split_udp(&Bittorrent, 6881, 60506, &[&a, &b, bad], &[]);
            assert_eq!(r, Parse::NotMine);
        }
        // Extension chain walked (selective ack, 4 bytes).
        let mut e = utp_pkt(0, 0xf82a_5000, 0xd44a, &[]);
        e[1] = 1;
        e.extend_from_slice(&[0, 4, 1, 2, 3, 4]);
        e.extend_from_slice(msg);
        assert_eq!(utp_payload(&e), Some(&msg[..]));
        for k in 0..e.len() {
            let _ = utp_payload(&e[..k]);
        }
    }
}
