//! RDP (MS-RDPBCGR 2.2.1.1): TPKT (RFC 1006: `03 00` + length) carrying an
//! X.224 Connection Request (`E0`) with an optional `Cookie: mstshash=`
//! line and an optional RDP_NEG_REQ; the server answers with a
//! Connection Confirm (`D0`) and RDP_NEG_RSP. Modern RDP then negotiates
//! TLS / CredSSP, so the flow is reported encrypted.
//!
//! Over UDP (MS-RDPEUDP 3.1.5.1.1): the client's SYN datagram, padded to
//! 1232 bytes, with snSourceAck = -1, the SYN flag and MTUs in
//! 1132..=1232; the server's SYN+ACK acknowledges the client's initial
//! sequence number. The payload is then DTLS / TLS.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rdp;

const CR: u8 = 0xe0;
const CC: u8 = 0xd0;
const COOKIE: &[u8] = b"Cookie: mstshash=";
const MAX_TPKT: usize = 4096;
const UDP_SYN_LEN: usize = 1232;
const RDPUDP_SYN: u16 = 0x0001;
const RDPUDP_ACK: u16 = 0x0004;

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// An RDP-UDP SYN: its initial sequence number.
fn udp_syn(d: &[u8]) -> Option<[u8; 4]> {
    if d.len() != UDP_SYN_LEN || d.get(..4)? != [0xff; 4] || be16(d, 6)? & RDPUDP_SYN == 0 {
        return None;
    }
    let (up, down) = (be16(d, 12)?, be16(d, 14)?);
    if !(1132..=1232).contains(&up) || !(1132..=1232).contains(&down) {
        return None;
    }
    d.get(8..12)?.try_into().ok()
}

fn parse_udp(p: &Payloads<'_>, meta: &mut Meta) -> Parse {
    let Some(isn) = udp_syn(p.orig.first()) else {
        return Parse::NotMine;
    };
    meta.protocol = Some("rdp");
    meta.encryption = Encryption::Encrypted;
    meta.set_extra("rdp_transport", "udp");
    let Some(r) = p.resp.chunks().next() else {
        return Parse::Identified;
    };
    let synack = be16(r, 6).is_some_and(|f| f & (RDPUDP_SYN | RDPUDP_ACK) == RDPUDP_SYN | RDPUDP_ACK);
    if synack && r.get(..4) == Some(&isn[..]) {
        Parse::Done
    } else {
        Parse::Identified
    }
}

/// The X.224 TPDU of a complete TPKT at the start of `d`:
/// `Ok(None)` when more bytes are needed, `Err` when not TPKT/X.224.
fn tpkt(d: &[u8], code: u8) -> Result<Option<&[u8]>, ()> {
    if d.first().is_some_and(|&b| b != 3) || d.get(1).is_some_and(|&b| b != 0) {
        return Err(());
    }
    let Some(l) = d.get(2..4) else { return Ok(None) };
    let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
    if !(11..=MAX_TPKT).contains(&len) {
        return Err(());
    }
    // X.224 header: length indicator covers the rest of the TPKT.
    if let Some(&li) = d.get(4) {
        if usize::from(li) != len - 5 {
            return Err(());
        }
    }
    if let Some(&c) = d.get(5) {
        if c & 0xf0 != code {
            return Err(());
        }
    }
    let Some(pkt) = d.get(..len) else { return Ok(None) };
    // dst-ref is zero in a request; class 0.
    if code == CR && pkt[6..8] != [0, 0] {
        return Err(());
    }
    Ok(Some(&pkt[11..]))
}

fn protocols(bits: u32) -> String {
    if bits == 0 {
        return "rdp".into();
    }
    let names = [
        (1, "ssl"),
        (2, "hybrid"),
        (4, "rdstls"),
        (8, "hybrid_ex"),
        (16, "rdsaad"),
    ];
    let v: Vec<&str> = names.iter().filter(|(b, _)| bits & b != 0).map(|(_, n)| *n).collect();
    if v.is_empty() {
        bits.to_string()
    } else {
        v.join("|")
    }
}

/// An RDP_NEG_* structure of the given type: its 32-bit value.
fn neg(d: &[u8], ty: u8) -> Option<u32> {
    if *d.first()? != ty || d.get(2..4)? != [8, 0] {
        return None;
    }
    Some(u32::from_le_bytes(d.get(4..8)?.try_into().ok()?))
}

impl Dissector for Rdp {
    fn name(&self) -> &'static str {
        "rdp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.transport == Transport::Udp {
            return if udp_syn(p.orig.first()).is_some() {
                Probe::Mine
            } else {
                Probe::NotMine
            };
        }
        match tpkt(p.orig.stream(), CR) {
            Err(()) => Probe::NotMine,
            Ok(_) => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Udp {
            return parse_udp(p, meta);
        }
        let body = match tpkt(p.orig.stream(), CR) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return Parse::NeedMore,
            Ok(Some(b)) => b,
        };
        // Optional cookie / routing token line, then optional RDP_NEG_REQ.
        let mut rest = body;
        let mut cookie = None;
        if rest.starts_with(b"Cookie: ") {
            let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") else {
                return Parse::NotMine;
            };
            if let Some(v) = rest[..nl].strip_prefix(COOKIE) {
                cookie = Some(String::from_utf8_lossy(&v[..v.len().min(128)]).into_owned());
            }
            rest = &rest[nl + 2..];
        }
        let req = neg(rest, 1);
        if cookie.is_none() && req.is_none() && !body.starts_with(b"Cookie: ") {
            return Parse::NotMine;
        }
        meta.protocol = Some("rdp");
        meta.encryption = Encryption::Encrypted;
        if let Some(c) = cookie {
            meta.set_extra("rdp_cookie", c);
        }
        if let Some(r) = req {
            meta.set_extra("rdp_requested", protocols(r));
        }
        match tpkt(p.resp.stream(), CC) {
            Ok(Some(b)) => {
                if let Some(sel) = neg(b, 2) {
                    meta.set_extra("rdp_selected", protocols(sel));
                    // Standard RDP security (no TLS) is RC4 inside RDP.
                } else if neg(b, 3).is_some() {
                    meta.set_extra("rdp_selected", "failure");
                }
                Parse::Done
            }
            _ => Parse::Identified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn cr(cookie: Option<&str>, neg_req: Option<u32>) -> Vec<u8> {
        let mut x = vec![0, CR, 0, 0, 0x12, 0x34, 0];
        if let Some(c) = cookie {
            x.extend_from_slice(COOKIE);
            x.extend_from_slice(c.as_bytes());
            x.extend_from_slice(b"\r\n");
        }
        if let Some(p) = neg_req {
            x.extend_from_slice(&[1, 0, 8, 0]);
            x.extend_from_slice(&p.to_le_bytes());
        }
        x[0] = (x.len() - 1) as u8;
        let mut v = vec![3, 0];
        v.extend_from_slice(&((x.len() + 4) as u16).to_be_bytes());
        v.extend_from_slice(&x);
        v
    }

    fn cc(sel: u32) -> Vec<u8> {
        let mut v = vec![3, 0, 0, 19, 14, CC, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0];
        v.extend_from_slice(&sel.to_le_bytes());
        v
    }

    #[test]
    fn cookie_and_negotiation() {
        let (r, m) = check_split_tcp(&Rdp, 3389, &cr(Some("Administr"), Some(3)), &cc(2));
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rdp"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("rdp_cookie"), Some("Administr"));
        assert_eq!(m.extra("rdp_requested"), Some("ssl|hybrid"));
        assert_eq!(m.extra("rdp_selected"), Some("hybrid"));
        let (r, m) = check_split_tcp(&Rdp, 3389, &cr(None, Some(0)), b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("rdp_requested"), Some("rdp"));
    }

    #[test]
    fn udp_syn_and_synack() {
        use crate::dissect::check_split_udp;
        let mut syn = vec![
            0xff, 0xff, 0xff, 0xff, 0, 0x40, 0x18, 0x01, 0xbb, 0xff, 0x56, 0x87, 0x04, 0xd0, 0x04, 0xd0,
        ];
        syn.resize(UDP_SYN_LEN, 0);
        let mut sa = vec![
            0xbb, 0xff, 0x56, 0x87, 0, 0x40, 0x10, 0x05, 0x4d, 0x67, 0x79, 0x66, 0x04, 0xd0, 0x04, 0xd0,
        ];
        sa.resize(UDP_SYN_LEN, 0);
        let (r, m) = check_split_udp(&Rdp, 54759, 3389, &[&syn], &[&sa]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rdp"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("rdp_transport"), Some("udp"));
        let (r, _) = check_split_udp(&Rdp, 54759, 3389, &[&syn], &[]);
        assert_eq!(r, Parse::Identified);
        let mut short = syn.clone();
        short.pop();
        let mut bad_mtu = syn.clone();
        bad_mtu[12] = 0x08;
        for d in [short, bad_mtu] {
            let (r, _) = check_split_udp(&Rdp, 54759, 3389, &[&d], &[]);
            assert_eq!(r, Parse::NotMine);
        }
    }

    #[test]
    fn not_rdp() {
        // A bare connection request (no cookie, no negotiation) is too weak;
        // a TPKT with a bad length indicator or another code is not RDP.
        let (r, _) = check_split_tcp(&Rdp, 3389, &cr(None, None), b"");
        assert_eq!(r, Parse::NotMine);
        let mut bad = cr(Some("x"), None);
        bad[4] += 1;
        let (r, _) = check_split_tcp(&Rdp, 3389, &bad, b"");
        assert_eq!(r, Parse::NotMine);
        let mut huge = cr(Some("x"), None);
        huge[2] = 0xff;
        let (r, _) = check_split_tcp(&Rdp, 3389, &huge, b"");
        assert_eq!(r, Parse::NotMine);
        let ends = [[3], [0]];
        let p = Payloads::tcp(1, 3389, b"\x16\x03\x01", b"", &ends);
        assert_eq!(Rdp.probe(&p), Probe::NotMine);
    }
}
