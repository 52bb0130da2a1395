//! DTLS 1.0 / 1.2 / 1.3 (RFC 6347, RFC 9147) over UDP: records of content
//! type 20..=23 with versions 0xfeff, 0xfefd, 0xfefc (1.3 uses 0xfefd on
//! the wire for compatibility) that fill the datagram exactly. The server
//! name comes from the ClientHello's SNI extension (RFC 6066), parsed with
//! every length checked against the bytes present.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Dtls;

const RECORD_HEADER: usize = 13;
const HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
fn be24(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(*b.get(at)?) << 16 | usize::from(be16(b, at + 1)?))
}

/// 0x0100 is the pre-RFC version OpenSSL calls DTLS1_BAD_VER, still used
/// by Cisco AnyConnect.
fn version_ok(v: u16) -> bool {
    matches!(v, 0xfeff | 0xfefd | 0xfefc | 0x0100)
}

/// The records of a datagram, `None` unless they fill it exactly.
/// A record: (content type, version, epoch, fragment).
type Record<'a> = (u8, u16, u16, &'a [u8]);

fn records(d: &[u8]) -> Option<Vec<Record<'_>>> {
    let mut v = Vec::new();
    let mut off = 0;
    while off < d.len() && v.len() < 16 {
        let ct = *d.get(off)?;
        let ver = be16(d, off + 1)?;
        let epoch = be16(d, off + 3)?;
        let len = usize::from(be16(d, off + 11)?);
        if !(20..=23).contains(&ct) || !version_ok(ver) {
            return None;
        }
        let body = d.get(off + RECORD_HEADER..off + RECORD_HEADER + len)?;
        v.push((ct, ver, epoch, body));
        off += RECORD_HEADER + len;
    }
    (off == d.len() && !v.is_empty()).then_some(v)
}

/// The SNI of a ClientHello handshake fragment (first fragment only).
fn client_hello_sni(hs: &[u8]) -> Option<String> {
    // msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3)
    if *hs.first()? != CLIENT_HELLO || be24(hs, 6)? != 0 {
        return None;
    }
    let frag_len = be24(hs, 9)?;
    let body = hs.get(12..)?;
    let body = body.get(..frag_len.min(body.len()))?;
    // client_version(2) random(32)
    let mut off = 34;
    let sid = usize::from(*body.get(off)?);
    off += 1 + sid;
    let cookie = usize::from(*body.get(off)?);
    off += 1 + cookie;
    off += 2 + usize::from(be16(body, off)?);
    off += 1 + usize::from(*body.get(off)?);
    let ext_len = usize::from(be16(body, off)?);
    off += 2;
    let exts = body.get(off..(off + ext_len).min(body.len()))?;
    let mut e = 0;
    while e + 4 <= exts.len() {
        let t = be16(exts, e)?;
        let l = usize::from(be16(exts, e + 2)?);
        let v = exts.get(e + 4..e + 4 + l)?;
        if t == 0 {
            // server_name_list(2) { name_type(1) name(2+n) }
            let list = v.get(2..)?;
            if *list.first()? == 0 {
                let n = usize::from(be16(list, 1)?);
                let name = list.get(3..3 + n)?;
                if name.iter().all(|b| b.is_ascii_graphic()) {
                    return Some(String::from_utf8_lossy(name).to_ascii_lowercase());
                }
            }
            return None;
        }
        e += 4 + l;
    }
    None
}

fn version_name(v: u16) -> &'static str {
    match v {
        0xfeff => "1.0",
        0xfefd => "1.2",
        0x0100 => "0.9",
        _ => "1.3",
    }
}

impl Dissector for Dtls {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "dtls"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let first = p.first_payload();
        if records(first).is_some() {
            Probe::Mine
        } else {
            Probe::NotMine
        }
    }
    /// A record's content type, 20 to 23 (`records`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(20, 23))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let from_orig = !p.orig.is_empty();
        let first = if from_orig { p.orig.first() } else { p.resp.first() };
        let Some(recs) = records(first) else {
            return Parse::NotMine;
        };
        // A flow seen mid-session: application data needs a second
        // well-formed datagram before we claim it.
        let handshake = recs.iter().any(|r| r.0 == HANDSHAKE && r.2 == 0);
        let well_formed = p
            .orig
            .chunks()
            .chain(p.resp.chunks())
            .take(8)
            .filter(|d| records(d).is_some())
            .count();
        if !handshake && well_formed < 2 {
            // A flow that ends after one datagram (dtls_mid_sessions.pcapng:
            // one record of application data, epoch 1) is taken on that
            // record alone when it is nothing else: a single record of
            // epoch 1 or later whose 48-bit sequence number has its top
            // 16 bits clear (a session's counter; random bytes rarely are).
            let lone = p.last
                && well_formed == 1
                && p.orig.chunks().chain(p.resp.chunks()).count() == 1
                && recs.len() == 1
                && recs[0].2 >= 1
                && first.get(5..7) == Some(&[0, 0][..]);
            if !lone {
                return p.undecided();
            }
        }
        meta.protocol = Some("dtls");
        meta.encryption = Encryption::Encrypted;
        meta.set_extra("dtls_version", version_name(recs[0].1));
        // The ClientHello is the first handshake record of the originator
        // (it may be repeated with a cookie after a HelloVerifyRequest).
        let hello = p
            .orig
            .chunks()
            .take(4)
            .filter_map(records)
            .flatten()
            .find_map(|(ct, _, epoch, body)| {
                (ct == HANDSHAKE && epoch == 0)
                    .then(|| client_hello_sni(body))
                    .flatten()
            });
        if let Some(sni) = hello {
            meta.sni = Some(sni);
        }
        let answered = from_orig && p.resp.chunks().next().is_some_and(|d| records(d).is_some());
        if answered {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn record(ct: u8, ver: u16, epoch: u16, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ct];
        v.extend_from_slice(&ver.to_be_bytes());
        v.extend_from_slice(&epoch.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn client_hello(sni: Option<&str>) -> Vec<u8> {
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&[7; 32]);
        b.push(0); // session id
        b.push(0); // cookie
        b.extend_from_slice(&[0, 4, 0xc0, 0x2b, 0xc0, 0x2f]);
        b.extend_from_slice(&[1, 0]);
        let mut ext = Vec::new();
        if let Some(s) = sni {
            let n = s.len() as u16;
            ext.extend_from_slice(&[0, 0]);
            ext.extend_from_slice(&(n + 5).to_be_bytes());
            ext.extend_from_slice(&(n + 3).to_be_bytes());
            ext.push(0);
            ext.extend_from_slice(&n.to_be_bytes());
            ext.extend_from_slice(s.as_bytes());
        }
        ext.extend_from_slice(&[0, 0x0e, 0, 5, 0, 2, 0, 1, 0]); // use_srtp
        b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        b.extend_from_slice(&ext);
        let n = b.len();
        let mut hs = vec![
            CLIENT_HELLO,
            0,
            (n >> 8) as u8,
            n as u8,
            0,
            0,
            0,
            0,
            0,
            0,
            (n >> 8) as u8,
            n as u8,
        ];
        hs.extend_from_slice(&b);
        record(HANDSHAKE, 0xfeff, 0, &hs)
    }

    #[test]
    fn client_hello_with_sni_and_answer() {
        let ch = client_hello(Some("Media.Example.NET"));
        let hvr = record(
            HANDSHAKE,
            0xfeff,
            0,
            &[3, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0xfe, 0xff, 0],
        );
        let (r, m) = check_split_udp(&Dtls, 50000, 443, &[&ch], &[&hvr]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dtls"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.sni.as_deref(), Some("media.example.net"));
        assert_eq!(m.extra("dtls_version"), Some("1.0"));
        let mut cisco = client_hello(None);
        cisco[1..3].copy_from_slice(&[1, 0]);
        let (r, m) = check_split_udp(&Dtls, 50000, 443, &[&cisco], &[]);
        assert_eq!(m.extra("dtls_version"), Some("0.9"));
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.sni, None);
    }

    #[test]
    fn mid_session_needs_two() {
        let a = record(23, 0xfefd, 1, &[9; 40]);
        let f = UdpFixture::new(1, 2, &[&a], &[]);
        assert_eq!(Dtls.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let (r, _) = check_split_udp(&Dtls, 1, 2, &[&a, &a], &[]);
        assert_eq!(r, Parse::Identified);
        // A flow of one datagram, at its end: one record of epoch 1 with
        // a small sequence number (dtls_mid_sessions.pcapng's 53558 →
        // 443: DTLS1_BAD_VER, epoch 1, sequence 0xd415, 80 bytes).
        let mut lone = record(23, 0x0100, 1, &[0x5a; 80]);
        lone[9..11].copy_from_slice(&[0xd4, 0x15]);
        let last = |d: &[u8]| {
            let f = UdpFixture::new(53558, 443, &[d], &[]);
            let mut p = f.payloads();
            p.last = true;
            let mut m = Meta::default();
            (Dtls.parse(&p, &mut m), m.protocol)
        };
        assert_eq!(last(&lone), (Parse::Identified, Some("dtls")));
        let mut high_seq = lone.clone();
        high_seq[5] = 0x80;
        let mut epoch0 = lone.clone();
        epoch0[4] = 0;
        let mut two = lone.clone();
        two.extend_from_slice(&record(23, 0x0100, 1, &[1; 8]));
        for d in [&high_seq, &epoch0, &two] {
            assert_eq!(last(d).0, Parse::NotMine);
        }
    }

    #[test]
    fn not_dtls_and_absurd() {
        let tls = [0x16u8, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0];
        let mut long = client_hello(Some("a.b"));
        long[12] = 0xff; // record length beyond the datagram
        let mut bad_ext = client_hello(Some("a.b"));
        let n = bad_ext.len();
        bad_ext[n - 20] = 0xff;
        for d in [&tls[..], &long, b"\x17\xfe\xfd"] {
            let f = UdpFixture::new(1, 2, &[d], &[]);
            assert_eq!(Dtls.probe(&f.payloads()), Probe::NotMine);
        }
        let (r, _) = check_split_udp(&Dtls, 1, 2, &[&bad_ext], &[]);
        assert_eq!(r, Parse::Identified);
    }
}
