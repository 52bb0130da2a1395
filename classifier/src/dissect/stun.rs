//! STUN / TURN (RFC 5389, RFC 8489, RFC 8656) over UDP and TCP, and the
//! classic RFC 3489 Binding messages when unambiguous.
//!
//! A message is a 20-byte header (type with the top two bits clear,
//! length a multiple of 4, magic cookie 0x2112A442, 96-bit transaction
//! id) and TLV attributes that fill the length exactly. Over TCP messages
//! follow each other, or are framed with a 2-byte length (RFC 4571, ICE-TCP).
//! Only the STUN messages are parsed; of what follows on the same UDP
//! 5-tuple (RFC 7983 multiplexing) only DTLS records and SRTCP next to RTP
//! of its SSRC are looked for, either making the flow encrypted.

use super::{Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::decode::Addr;
use crate::verdict::{Encryption, Meta};

pub struct Stun;

const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const HEADER: usize = 20;
const REALM: u16 = 0x0014;
const SOFTWARE: u16 = 0x8022;
const MAX_MSGS: usize = 16;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// What one message told us.
#[derive(Default)]
struct Info<'a> {
    realm: Option<&'a [u8]>,
    software: Option<&'a [u8]>,
    attrs: usize,
}

/// Length of the STUN message at the start of `d` (header + body), if
/// the header is STUN; the body may be incomplete.
fn header_len(d: &[u8]) -> Option<usize> {
    let t = be16(d, 0)?;
    let len = be16(d, 2)?;
    let cookie = d.get(4..8)?;
    // Lengths are multiples of 4, except WhatsApp's variant whose last
    // attribute is left unpadded (accepted with the magic cookie only).
    if t & 0xc000 != 0 || (len % 4 != 0 && cookie != COOKIE) {
        return None;
    }
    if cookie == COOKIE {
        // Methods in use: Binding .. ConnectionAttempt (0x001..0x00c),
        // GOOG-PING (0x080) used by WebRTC, and 0x201 (type 0x0801, a
        // bare header) with which WhatsApp's clients open a relay flow.
        let method = (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2);
        if !(1..=0x00c).contains(&method) && method != 0x080 && method != 0x201 {
            return None;
        }
    } else if !matches!(t, 0x0001 | 0x0101 | 0x0111) {
        // RFC 3489: Binding Request / Response / Error Response only.
        return None;
    }
    Some(HEADER + usize::from(len))
}

/// Parses one complete message; `None` unless its attributes fill the
/// body exactly (and, for RFC 3489, are all 3489 attributes).
fn message(d: &[u8]) -> Option<Info<'_>> {
    message_with(d, true)
}

/// `strict`: an RFC 3489 message may only carry RFC 3489 attributes.
fn message_with(d: &[u8], strict: bool) -> Option<Info<'_>> {
    let n = header_len(d)?;
    if d.len() != n {
        return None;
    }
    let classic = d.get(4..8)? != COOKIE;
    // Attributes are padded to 4 bytes; MS-TURN (Teams, Skype) does not
    // pad, so with the magic cookie an unpadded walk is tried too.
    walk(d, n, strict && classic, true).or_else(|| if classic { None } else { walk(d, n, false, false) })
}

fn walk(d: &[u8], n: usize, only_3489: bool, padded: bool) -> Option<Info<'_>> {
    let mut info = Info::default();
    let mut off = HEADER;
    while off < n {
        let t = be16(d, off)?;
        let l = usize::from(be16(d, off + 2)?);
        let v = d.get(off + 4..off + 4 + l)?;
        if only_3489 && !(1..=0x000b).contains(&t) && t != SOFTWARE {
            return None;
        }
        match t {
            REALM => info.realm = Some(v),
            SOFTWARE => info.software = Some(v),
            _ => {}
        }
        info.attrs += 1;
        if off + 4 + l == n {
            return Some(info);
        }
        off += 4 + if padded { l.next_multiple_of(4) } else { l };
    }
    (off == n).then_some(info)
}

/// The messages of one side: datagrams (UDP), or back-to-back / RFC 4571
/// framed messages (TCP). `Err` when the side is not STUN; the flag says
/// whether the last one is incomplete.
fn messages<'a>(t: Transport, side: Side<'a>) -> Result<(Vec<&'a [u8]>, bool), ()> {
    match t {
        Transport::Udp => {
            let mut v = Vec::new();
            for d in side.chunks().take(MAX_MSGS) {
                // Later datagrams may be media (RTP, DTLS): stop there.
                // With the magic cookie, a datagram may carry more after
                // the message (MS-TURN in Teams does).
                let n = header_len(d).filter(|&n| n == d.len() || n < d.len() && d.get(4..8) == Some(&COOKIE[..]));
                let Some(n) = n else {
                    if v.is_empty() {
                        return Err(());
                    }
                    break;
                };
                v.push(&d[..n]);
            }
            Ok((v, false))
        }
        Transport::Tcp => {
            let s = side.stream();
            let framed = s.len() >= 2 && header_len(s).is_none() && {
                let rest = &s[2..];
                rest.len() < 4 || header_len(rest).is_some_and(|n| be16(s, 0) == Some(n as u16))
            };
            let mut v = Vec::new();
            let mut off = 0;
            while off < s.len() && v.len() < MAX_MSGS {
                let start = if framed { off + 2 } else { off };
                let Some(rest) = s.get(start..) else {
                    return Ok((v, true));
                };
                if rest.len() < 8 {
                    return Ok((v, true));
                }
                let Some(n) = header_len(rest) else {
                    return if v.is_empty() { Err(()) } else { Ok((v, false)) };
                };
                let Some(m) = rest.get(..n) else { return Ok((v, true)) };
                v.push(m);
                off = start + n;
            }
            Ok((v, false))
        }
    }
}

fn set_text(meta: &mut Meta, key: &'static str, v: &[u8]) {
    let s = String::from_utf8_lossy(&v[..v.len().min(256)])
        .trim_matches(char::from(0))
        .trim()
        .to_string();
    if !s.is_empty() {
        meta.set_extra(key, s);
    }
}

impl Dissector for Stun {
    fn name(&self) -> &'static str {
        "stun"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let side = p.first_side();
        let d = match p.transport {
            Transport::Udp => side.first(),
            Transport::Tcp => side.stream(),
        };
        if d.len() < 8 && p.transport == Transport::Tcp {
            return Probe::Maybe;
        }
        let direct = header_len(d).is_some();
        let framed =
            p.transport == Transport::Tcp && d.get(2..).is_some_and(|r| r.len() < 8 || header_len(r).is_some());
        if direct || framed {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Ok((o, o_part)) = messages(p.transport, p.orig) else {
            return Parse::NotMine;
        };
        // The responder may answer with media; its STUN messages only add.
        let (r, _) = messages(p.transport, p.resp).unwrap_or_default();
        let parsed_o: Vec<Info<'_>> = o.iter().map_while(|m| message(m)).collect();
        let parsed_r: Vec<Info<'_>> = r.iter().map_while(|m| message(m)).collect();
        let opening = o.first().or(r.first());
        let Some(first) = opening else {
            return if o_part || p.transport == Transport::Tcp && p.orig.is_empty() {
                Parse::NeedMore
            } else {
                Parse::NotMine
            };
        };
        // A classic (no cookie) message needs its answer (same
        // transaction id in the reply), or, on the STUN ports, at least
        // one attribute that fills the message exactly (vendors such as
        // Zoom send classic requests with private attributes).
        let classic = first.get(4..8) != Some(&COOKIE[..]);
        let on_port = matches!(p.resp_port, 3478 | 3479);
        let lax = classic && on_port && message_with(first, false).is_some_and(|i| i.attrs > 0);
        if message(first).is_none() && !lax {
            return Parse::NotMine;
        }
        if classic {
            let tid = first.get(4..20);
            let answered = !o.is_empty() && r.first().is_some_and(|a| message(a).is_some() && a.get(4..20) == tid);
            if !answered {
                if !r.is_empty() {
                    return Parse::NotMine;
                }
                if !lax {
                    return Parse::NeedMore;
                }
            }
        }
        meta.protocol = Some("stun");
        meta.encryption = Encryption::Cleartext;
        for i in parsed_o.iter().chain(parsed_r.iter()) {
            if let Some(v) = i.realm {
                set_text(meta, "stun_realm", v);
            }
            if let Some(v) = i.software {
                set_text(meta, "stun_software", v);
            }
        }
        if p.transport == Transport::Udp {
            // ICE (WebRTC) runs DTLS on the same 5-tuple once the checks
            // succeed (RFC 7983): then the flow is encrypted. Keep looking until the
            // engine's packet budget is spent.
            if p.orig.chunks().chain(p.resp.chunks()).any(dtls_record) {
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("stun_mux", "dtls");
                return Parse::Done;
            }
            // Or SRTP keyed elsewhere (e.g. WhatsApp calls), told by its
            // SRTCP next to RTP of the same SSRC.
            if super::rtp::srtp_evidence(p.orig) || super::rtp::srtp_evidence(p.resp) {
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("stun_mux", "srtp");
                return Parse::Done;
            }
            return Parse::Identified;
        }
        if parsed_o.len() + parsed_r.len() >= 6 {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

/// XOR-PEER-ADDRESS (RFC 8656 14.3).
const XOR_PEER_ADDRESS: u16 = 0x0012;
/// Peers kept from one request (a CreatePermission may name several).
const MAX_PEERS: usize = 8;

/// A TURN request that installs a permission for peers (RFC 8656
/// sections 9 and 11): CreatePermission or ChannelBind. Both are
/// authenticated with the long-term credential, so they carry the REALM
/// of the TURN service, next to the transport addresses of the peers the
/// client is about to talk to.
#[derive(Debug, PartialEq, Eq)]
pub struct TurnPermission<'a> {
    pub realm: &'a [u8],
    /// Peer address (IPv4 mapped into IPv6 as in [`Addr`]) and port.
    pub peers: Vec<(Addr, u16)>,
}

/// Parses one datagram as a CreatePermission / ChannelBind request with
/// the magic cookie, a REALM and at least one XOR-PEER-ADDRESS; `None`
/// for anything else (cheap: two compares reject other datagrams).
pub fn turn_permission(d: &[u8]) -> Option<TurnPermission<'_>> {
    if !matches!(d, [0x00, 0x08 | 0x09, _, _, 0x21, 0x12, 0xa4, 0x42, ..]) {
        return None;
    }
    let n = header_len(d)?;
    let tid = d.get(8..HEADER)?;
    let mut realm = None;
    let mut peers = Vec::new();
    let mut off = HEADER;
    while off < n {
        let t = be16(d, off)?;
        let l = usize::from(be16(d, off + 2)?);
        let v = d.get(off + 4..off + 4 + l)?;
        match t {
            REALM => realm = Some(v),
            XOR_PEER_ADDRESS if peers.len() < MAX_PEERS => {
                if let Some(p) = xor_address(v, tid) {
                    peers.push(p);
                }
            }
            _ => {}
        }
        off += 4 + l.next_multiple_of(4);
    }
    let realm = realm.filter(|r| !r.is_empty())?;
    (!peers.is_empty()).then_some(TurnPermission { realm, peers })
}

/// An XOR-MAPPED-ADDRESS-style value: reserved byte, family (1 IPv4,
/// 2 IPv6), port and address XORed with the cookie (and, for IPv6, the
/// transaction id).
fn xor_address(v: &[u8], tid: &[u8]) -> Option<(Addr, u16)> {
    let port = be16(v, 2)? ^ 0x2112;
    match (v.get(1)?, v.len()) {
        (1, 8) => {
            let mut a = [0u8; 4];
            for (i, b) in a.iter_mut().enumerate() {
                *b = v[4 + i] ^ COOKIE[i];
            }
            Some((Addr::from_v4(a), port))
        }
        (2, 20) => {
            let mut a = [0u8; 16];
            let key = COOKIE.iter().chain(tid);
            for ((b, x), k) in a.iter_mut().zip(&v[4..20]).zip(key) {
                *b = x ^ k;
            }
            Some((Addr::from_v6(a), port))
        }
        _ => None,
    }
}

/// A DTLS record multiplexed with STUN (RFC 7983 section 7: first byte
/// 20..=63 is DTLS): content type 20..=25, version 1.0 (`FE FF`) or 1.2
/// (`FE FD`), and the 13-byte record header present (RFC 6347 4.1).
fn dtls_record(d: &[u8]) -> bool {
    d.len() >= 13 && matches!(d, [20..=25, 0xfe, 0xff | 0xfd, ..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    fn attr(t: u16, v: &[u8]) -> Vec<u8> {
        let mut a = t.to_be_bytes().to_vec();
        a.extend_from_slice(&(v.len() as u16).to_be_bytes());
        a.extend_from_slice(v);
        while !a.len().is_multiple_of(4) {
            a.push(0);
        }
        a
    }

    fn msg(t: u16, cookie: bool, tid: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = attrs.concat();
        let mut m = t.to_be_bytes().to_vec();
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        if cookie {
            m.extend_from_slice(&COOKIE);
        } else {
            m.extend_from_slice(&[tid; 4]);
        }
        m.extend_from_slice(&[tid; 12]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn turn_allocate_with_realm_and_software() {
        let req = msg(
            0x0003,
            true,
            1,
            &[attr(SOFTWARE, b"libjingle"), attr(0x0019, &[17, 0, 0, 0])],
        );
        let err = msg(
            0x0113,
            true,
            1,
            &[
                attr(0x0009, &[0, 0, 4, 1]),
                attr(REALM, b"example.org"),
                attr(0x0015, b"nonce123"),
            ],
        );
        let (r, m) = check_split_udp(&Stun, 50000, 3478, &[&req], &[&err]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("stun"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("stun_realm"), Some("example.org"));
        assert_eq!(m.extra("stun_software"), Some("libjingle"));
    }

    #[test]
    fn whatsapp_relay_opening() {
        // lru_ipv6_caches.pcapng: a WhatsApp relay flow on 3478 opens with
        // a bare 20-byte message of type 0x0801, then an Allocate.
        let open = b"\x08\x01\x00\x00\x21\x12\xa4\x42CCFJeWNTsWPs";
        let alloc = msg(0x0003, true, 2, &[attr(0x4000, &[9; 8])]);
        let (r, m) = check_split_udp(&Stun, 48415, 3478, &[open, &alloc], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("stun"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // Without the magic cookie, or another method of that range, no.
        let mut classic = open.to_vec();
        classic[4] = 0x22;
        let mut other = open.to_vec();
        other[1] = 0x02;
        for d in [classic, other] {
            let f = UdpFixture::new(48415, 3478, &[&d], &[]);
            let mut p = f.payloads();
            p.last = true;
            assert!(!crate::dissect::not_refused(&Stun, &p), "{d:?}");
        }
    }

    #[test]
    fn unpadded_last_attribute_with_cookie() {
        let mut m = msg(0x0003, true, 4, &[attr(0x4000, &[1, 2, 3, 4, 5, 6])]);
        m.truncate(m.len() - 2);
        m[3] -= 2;
        let (r, _) = check_split_udp(&Stun, 50000, 3478, &[&m], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn trailing_bytes_after_a_cookie_message() {
        let mut m = msg(0x0003, true, 6, &[attr(0x000f, &[1, 2, 3, 4])]);
        m.extend_from_slice(&[0x99; 146]);
        let (r, _) = check_split_udp(&Stun, 50036, 3478, &[&m], &[]);
        assert_eq!(r, Parse::Identified);
        let mut c = msg(0x0001, false, 6, &[attr(0x0003, &[0, 0, 0, 0])]);
        c.extend_from_slice(&[0x99; 8]);
        let (r, _) = check_split_udp(&Stun, 50036, 3478, &[&c], &[]);
        assert_eq!(r, Parse::NotMine);
    }

    #[test]
    fn ms_turn_unpadded_attributes() {
        let mut body = attr(0x000f, &[1, 2, 3, 4]);
        body.extend_from_slice(&[0, 0x15, 0, 10]);
        body.extend_from_slice(b"\"rtcmedia\"");
        body.extend_from_slice(&attr(0x0006, &[7; 8]));
        let mut m = vec![0, 3];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&COOKIE);
        m.extend_from_slice(&[1; 12]);
        m.extend_from_slice(&body);
        let (r, _) = check_split_udp(&Stun, 50036, 3478, &[&m], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn binding_then_media_over_udp() {
        let req = msg(0x0001, true, 2, &[attr(0x0006, b"ab:cd")]);
        let rtp = [0x80u8, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 9, 9, 9, 9];
        let (r, _) = check_split_udp(&Stun, 50000, 50001, &[&req, &rtp], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn classic_needs_matching_answer() {
        let req = msg(0x0001, false, 7, &[attr(0x0003, &[0, 0, 0, 0])]);
        let resp = msg(0x0101, false, 7, &[attr(0x0001, &[0, 1, 0x0d, 0x96, 10, 0, 0, 1])]);
        let (r, _) = check_split_udp(&Stun, 40000, 3478, &[&req], &[&resp]);
        assert_eq!(r, Parse::Identified);
        let f = UdpFixture::new(40000, 3480, &[&req], &[]);
        assert_eq!(Stun.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let other = msg(0x0101, false, 8, &[attr(0x0001, &[0, 1, 0x0d, 0x96, 10, 0, 0, 1])]);
        let f = UdpFixture::new(40000, 3478, &[&req], &[&other]);
        assert_eq!(Stun.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn classic_with_private_attribute_on_stun_port() {
        let req = msg(0x0001, false, 5, &[attr(0x0101, b"12345678901234567890")]);
        let (r, _) = check_split_udp(&Stun, 23903, 3478, &[&req], &[]);
        assert_eq!(r, Parse::Identified);
        let (r, _) = check_split_udp(&Stun, 23903, 40000, &[&req], &[]);
        assert_eq!(r, Parse::NotMine);
        let bare = msg(0x0001, false, 5, &[]);
        let (r, _) = check_split_udp(&Stun, 23903, 3478, &[&bare], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn tcp_plain_and_framed() {
        let a = msg(0x0001, true, 3, &[attr(SOFTWARE, b"x")]);
        let b = msg(0x0101, true, 3, &[]);
        let mut two = a.clone();
        two.extend_from_slice(&a);
        let (r, m) = check_split_tcp(&Stun, 3478, &two, &b);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("stun_software"), Some("x"));
        let mut framed = (a.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&a);
        let (r, _) = check_split_tcp(&Stun, 443, &framed, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_stun() {
        let mut bad_len = msg(0x0001, true, 1, &[attr(SOFTWARE, b"abcd")]);
        bad_len[3] += 4;
        let dns = [0u8, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
        for d in [&bad_len[..], &dns, b"GET / HTTP/1.1\r\n\r\n"] {
            let f = UdpFixture::new(1, 3478, &[d], &[]);
            let claimed = Stun.probe(&f.payloads()) != Probe::NotMine
                && matches!(
                    Stun.parse(&f.payloads(), &mut Meta::default()),
                    Parse::Identified | Parse::Done
                );
            assert!(!claimed);
        }
        // Absurd attribute length inside a sane header.
        let mut m = msg(0x0001, true, 1, &[attr(SOFTWARE, b"abcd")]);
        m[22] = 0xff;
        let (r, _) = check_split_udp(&Stun, 1, 3478, &[&m], &[]);
        assert_eq!(r, Parse::NotMine);
    }

    /// XOR-PEER-ADDRESS value for an IPv4 peer.
    fn xor_v4(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut v = vec![0, 1];
        v.extend_from_slice(&(port ^ 0x2112).to_be_bytes());
        v.extend(ip.iter().zip(COOKIE).map(|(a, c)| a ^ c));
        v
    }

    #[test]
    fn turn_permission_peers_and_realm() {
        // CreatePermission as the Telegram client sends it (nDPI capture
        // telegram_videocall.pcapng, frame 628): peer 93.36.13.115:35393.
        let req = msg(
            0x0008,
            true,
            9,
            &[
                attr(XOR_PEER_ADDRESS, &xor_v4([93, 36, 13, 115], 35393)),
                attr(0x0006, b"1648053953:73f8038ca65102d5b5"),
                attr(REALM, b"telegram.org"),
                attr(0x0015, b"nonce"),
                attr(0x0008, &[0xaa; 20]),
            ],
        );
        let p = turn_permission(&req).unwrap();
        assert_eq!(p.realm, b"telegram.org");
        assert_eq!(p.peers, vec![(Addr::from_v4([93, 36, 13, 115]), 35393)]);
        // IPv6 peer: XORed with cookie and transaction id.
        let ip6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
        let mut v = vec![0, 2];
        v.extend_from_slice(&(443u16 ^ 0x2112).to_be_bytes());
        let key: Vec<u8> = COOKIE.iter().copied().chain([9u8; 12]).collect();
        v.extend(ip6.iter().zip(&key).map(|(a, k)| a ^ k));
        let bind = msg(0x0009, true, 9, &[attr(XOR_PEER_ADDRESS, &v), attr(REALM, b"x.org")]);
        let p = turn_permission(&bind).unwrap();
        assert_eq!(p.peers, vec![(Addr::from_v6(ip6), 443)]);
        // Not a permission: no realm, no peer, a response, an indication,
        // a truncated attribute, no cookie.
        let peer = attr(XOR_PEER_ADDRESS, &xor_v4([10, 0, 0, 1], 1));
        let no_realm = msg(0x0008, true, 1, std::slice::from_ref(&peer));
        let no_peer = msg(0x0008, true, 1, &[attr(REALM, b"telegram.org")]);
        let resp = msg(0x0108, true, 1, &[peer.clone(), attr(REALM, b"telegram.org")]);
        let ind = msg(0x0016, true, 1, &[peer.clone(), attr(REALM, b"telegram.org")]);
        let classic = msg(0x0008, false, 1, &[peer.clone(), attr(REALM, b"telegram.org")]);
        let good = msg(0x0008, true, 1, &[peer, attr(REALM, b"telegram.org")]);
        assert!(turn_permission(&good).is_some());
        for m in [&no_realm, &no_peer, &resp, &ind, &classic] {
            assert_eq!(turn_permission(m), None);
        }
        for cut in 0..good.len() {
            assert_eq!(turn_permission(&good[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn dtls_after_stun_makes_the_flow_encrypted() {
        let mut req = vec![0x00, 0x01, 0x00, 0x00];
        req.extend_from_slice(&COOKIE);
        req.extend_from_slice(&[7u8; 12]);
        let mut resp = vec![0x01, 0x01, 0x00, 0x00];
        resp.extend_from_slice(&COOKIE);
        resp.extend_from_slice(&[7u8; 12]);
        // DTLS 1.2 handshake record header + a few bytes.
        let mut hello = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4];
        hello.extend_from_slice(&[1, 0, 0, 0]);
        let plain = UdpFixture::new(50000, 3478, &[&req], &[&resp]);
        let mut m = Meta::default();
        assert_eq!(Stun.parse(&plain.payloads(), &mut m), Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
        let muxed = UdpFixture::new(50000, 3478, &[&req, &hello], &[&resp]);
        let mut m = Meta::default();
        assert_eq!(Stun.parse(&muxed.payloads(), &mut m), Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("stun_mux"), Some("dtls"));
        // Not DTLS: wrong version bytes, or too short for a record header.
        assert!(!dtls_record(&[22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]));
        assert!(!dtls_record(&[22, 0xfe, 0xfd, 0]));
    }

    #[test]
    fn srtp_after_stun_makes_the_flow_encrypted() {
        let mut req = vec![0x00, 0x01, 0x00, 0x00];
        req.extend_from_slice(&COOKIE);
        req.extend_from_slice(&[7u8; 12]);
        let mut resp = vec![0x01, 0x01, 0x00, 0x00];
        resp.extend_from_slice(&COOKIE);
        resp.extend_from_slice(&[7u8; 12]);
        let mut media = vec![0x80, 0x78, 0x41, 0x2e, 0, 0, 0x3c, 0, 0x54, 0x59, 0x28, 0x24];
        media.extend_from_slice(&[0x9e; 60]);
        // Receiver report header, then E flag and index 5, 80-bit tag.
        let mut srtcp = vec![0x81, 0xc9, 0x00, 0x01, 0x54, 0x59, 0x28, 0x24, 0x80, 0, 0, 5];
        srtcp.extend_from_slice(&[0x3b; 10]);
        let rtp_only = UdpFixture::new(50000, 3478, &[&req, &media, &media], &[&resp]);
        let mut m = Meta::default();
        assert_eq!(Stun.parse(&rtp_only.payloads(), &mut m), Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
        let (r, m) = check_split_udp(&Stun, 50000, 3478, &[&req, &media, &srtcp], &[&resp]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("stun_mux"), Some("srtp"));
    }
}
