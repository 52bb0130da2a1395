//! RDP (MS-RDPBCGR 2.2.1.1): TPKT (RFC 1006: `03 00` + length) carrying an
//! X.224 Connection Request (`E0`) with an optional `Cookie: mstshash=`
//! line and an optional RDP_NEG_REQ; the server answers with a
//! Connection Confirm (`D0`) and RDP_NEG_RSP. Modern RDP then negotiates
//! TLS / CredSSP, so the flow is reported encrypted.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rdp;

const CR: u8 = 0xe0;
const CC: u8 = 0xd0;
const COOKIE: &[u8] = b"Cookie: mstshash=";
const MAX_TPKT: usize = 4096;

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
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match tpkt(p.orig.stream(), CR) {
            Err(()) => Probe::NotMine,
            Ok(_) => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
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
