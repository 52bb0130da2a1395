//! BitTorrent: the peer wire handshake over TCP (BEP 3: `\x13BitTorrent
//! protocol`, 8 reserved bytes, the 20-byte info hash, the peer id), the
//! DHT over UDP (BEP 5: one bencoded dictionary per datagram), and uTP
//! (BEP 29: a SYN answered by a STATE with the same connection id).
//! Message-stream-encrypted peers (MSE) are not recognised.

use super::{Dissector, Parse, Payloads, Probe, Transport};
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

const ST_STATE: u8 = 2;
const ST_SYN: u8 = 4;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Bittorrent {
    fn tcp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let side = p.first_side().stream();
        let n = side.len().min(HANDSHAKE.len());
        if side[..n] != HANDSHAKE[..n] || side.is_empty() {
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
            _ => Parse::NotMine,
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
                let n = side.len().min(HANDSHAKE.len());
                if side[..n] == HANDSHAKE[..n] {
                    Probe::Maybe
                } else {
                    Probe::NotMine
                }
            }
            Transport::Udp => {
                let first = p.first_payload();
                let syn = !p.orig.is_empty() && utp(first).is_some_and(|u| u.0 == ST_SYN);
                if first.starts_with(b"d1:") || first.starts_with(b"d2:") || first.starts_with(LSD) || syn {
                    Probe::Maybe
                } else {
                    Probe::NotMine
                }
            }
        }
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
}
