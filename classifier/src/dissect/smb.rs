//! SMB over TCP (MS-SMB2 2.1, MS-CIFS 2.1): NetBIOS session service
//! messages (RFC 1002: type, 17-bit length) carrying `\xffSMB` (SMB1) or
//! `\xfeSMB` (SMB2/3). Port 139 sessions open with a NetBIOS session
//! request (0x81) first. The dialect comes from the server's NEGOTIATE
//! response. SMB is reported cleartext: SMB3 encryption is rare, and when
//! a transform header (`\xfdSMB`) shows up the flow is reported encrypted.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Smb;

const SESSION_MESSAGE: u8 = 0x00;
const SESSION_REQUEST: u8 = 0x81;
const POSITIVE_RESPONSE: u8 = 0x82;
const KEEPALIVE: u8 = 0x85;
const SMB2_HEADER: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Magic {
    V1,
    V2,
    Transform,
    Compressed,
}

fn magic(d: &[u8]) -> Option<Magic> {
    match d.get(..4)? {
        b"\xffSMB" => Some(Magic::V1),
        b"\xfeSMB" => Some(Magic::V2),
        b"\xfdSMB" => Some(Magic::Transform),
        b"\xfcSMB" => Some(Magic::Compressed),
        _ => None,
    }
}

/// The first SMB message in a NetBIOS stream: `Ok(None)` = need more,
/// `Err` = not SMB. Returns the message bytes present (may be partial
/// past the magic).
fn first_smb(s: &[u8]) -> Result<Option<&[u8]>, ()> {
    let mut off = 0usize;
    for _ in 0..4 {
        let Some(h) = s.get(off..off + 4) else {
            return if s
                .get(off)
                .is_some_and(|t| ![SESSION_MESSAGE, SESSION_REQUEST, POSITIVE_RESPONSE, KEEPALIVE].contains(t))
            {
                Err(())
            } else {
                Ok(None)
            };
        };
        if h[1] & 0xfe != 0 {
            return Err(());
        }
        let len = usize::from(h[1] & 1) << 16 | usize::from(u16::from_be_bytes([h[2], h[3]]));
        match h[0] {
            SESSION_MESSAGE => {
                if len < 32 {
                    return Err(());
                }
                let body = &s[off + 4..];
                if body.len() < 4 {
                    return Ok(None);
                }
                magic(body).ok_or(())?;
                return Ok(Some(&body[..body.len().min(len)]));
            }
            SESSION_REQUEST | POSITIVE_RESPONSE | KEEPALIVE => {
                if len > 256 {
                    return Err(());
                }
                off += 4 + len;
            }
            _ => return Err(()),
        }
    }
    Err(())
}

fn dialect(d: u16) -> String {
    match d {
        0x0202 => "2.0.2".into(),
        0x0210 => "2.1".into(),
        0x0300 => "3.0".into(),
        0x0302 => "3.0.2".into(),
        0x0311 => "3.1.1".into(),
        0x02ff => "2".into(),
        _ => format!("0x{d:04x}"),
    }
}

/// The dialect of an SMB2 NEGOTIATE response.
fn negotiated(m: &[u8]) -> Option<String> {
    let command = u16::from_le_bytes(m.get(12..14)?.try_into().ok()?);
    let flags = m.get(16)?;
    if command != 0 || flags & 1 == 0 || m.get(SMB2_HEADER..SMB2_HEADER + 2)? != [65, 0] {
        return None;
    }
    let d = u16::from_le_bytes(m.get(SMB2_HEADER + 4..SMB2_HEADER + 6)?.try_into().ok()?);
    Some(dialect(d))
}

impl Dissector for Smb {
    fn name(&self) -> &'static str {
        "smb"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        // The server's side alone can prove SMB when the client's opening
        // was missed or is unreadable.
        match (first_smb(p.orig.stream()), first_smb(p.resp.stream())) {
            (Ok(Some(_)), _) | (_, Ok(Some(_))) => Probe::Mine,
            (Err(()), Err(())) => Probe::NotMine,
            (Err(()), Ok(None)) if !p.resp.is_empty() => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = first_smb(p.orig.stream());
        let s = first_smb(p.resp.stream());
        let (cm, sm) = match (c, s) {
            (Ok(Some(c)), s) => (magic(c), s.ok().flatten().and_then(magic)),
            (_, Ok(Some(s))) => (None, magic(s)),
            (Err(()), Err(())) => return Parse::NotMine,
            (Err(()), Ok(None)) if !p.resp.is_empty() => return Parse::NotMine,
            _ => return Parse::NeedMore,
        };
        let s = s.ok().flatten();
        if cm.is_none() && sm.is_none() {
            return Parse::NotMine;
        }
        meta.protocol = Some("smb");
        meta.encryption = Encryption::Cleartext;
        let version = match (cm, sm) {
            (_, Some(Magic::V2)) => s.and_then(negotiated).unwrap_or_else(|| "2".into()),
            (_, Some(Magic::V1)) => "1".into(),
            (Some(Magic::V1), _) => "1".into(),
            (Some(Magic::Transform), _) | (_, Some(Magic::Transform)) => "3".into(),
            _ => "2".into(),
        };
        meta.set_extra("smb_version", version);
        if cm == Some(Magic::Transform) || sm == Some(Magic::Transform) {
            meta.encryption = Encryption::Encrypted;
        }
        if sm.is_some() && cm.is_some() {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn nbss(body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn smb2(command: u16, response: bool, body: &[u8]) -> Vec<u8> {
        let mut h = b"\xfeSMB".to_vec();
        h.extend_from_slice(&[64, 0, 0, 0, 0, 0, 0, 0]);
        h.extend_from_slice(&command.to_le_bytes());
        h.extend_from_slice(&[1, 0]);
        h.extend_from_slice(&[u8::from(response), 0, 0, 0]);
        h.resize(64, 0);
        h.extend_from_slice(body);
        h
    }

    #[test]
    fn smb2_negotiate() {
        let req = nbss(&smb2(0, false, &[36, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0x11, 3]));
        let resp = nbss(&smb2(0, true, &[65, 0, 1, 0, 0x11, 3, 0, 0]));
        let (r, m) = check_split_tcp(&Smb, 445, &req, &resp);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("smb"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("smb_version"), Some("3.1.1"));
    }

    #[test]
    fn smb1_over_139_with_session_request() {
        let mut o = vec![SESSION_REQUEST, 0, 0, 4, 1, 2, 3, 4];
        let mut body = b"\xffSMBr".to_vec();
        body.resize(40, 0);
        o.extend_from_slice(&nbss(&body));
        let (r, m) = check_split_tcp(&Smb, 139, &o, &[POSITIVE_RESPONSE, 0, 0, 0]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("smb_version"), Some("1"));
    }

    #[test]
    fn server_side_alone() {
        let resp = nbss(&smb2(0, true, &[65, 0, 1, 0, 0x10, 2, 0, 0]));
        let junk = [0xb4u8, 0x46, 0x82, 0xa6, 0x85, 0x0d, 0x31, 0x01];
        let (r, m) = check_split_tcp(&Smb, 445, &junk, &resp);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("smb_version"), Some("2.1"));
        let ends = [[8], [0]];
        let p = Payloads::tcp(1, 445, &junk, b"", &ends);
        assert_eq!(Smb.probe(&p), Probe::Maybe);
        let ends = [[8], [8]];
        let p = Payloads::tcp(1, 445, &junk, &junk, &ends);
        assert_eq!(Smb.probe(&p), Probe::NotMine);
    }

    #[test]
    fn transform_is_encrypted() {
        let mut body = b"\xfdSMB".to_vec();
        body.resize(80, 0x42);
        let (r, m) = check_split_tcp(&Smb, 445, &nbss(&body), b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("smb_version"), Some("3"));
    }

    #[test]
    fn not_smb() {
        // With a non-SMB answer from the server these are NotMine; with
        // no answer yet the server could still prove SMB (NeedMore).
        let mut body = b"\xfeSMX".to_vec();
        body.resize(64, 0);
        let answer = b"HTTP/1.1 400 Bad Request\r\n\r\n";
        let cases = [
            nbss(&body),
            vec![0, 0xff, 0xff, 0xff, 0xfe],
            b"GET / HTTP/1.1\r\n".to_vec(),
            [0x85, 0, 0, 0].repeat(5),
        ];
        for o in cases {
            let (r, _) = check_split_tcp(&Smb, 445, &o, answer);
            assert_eq!(r, Parse::NotMine, "{o:?}");
            let (r, _) = check_split_tcp(&Smb, 445, &o, b"");
            assert_eq!(r, Parse::NeedMore, "{o:?}");
        }
    }
}
