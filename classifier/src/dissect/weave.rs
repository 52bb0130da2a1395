//! Nest Weave over TCP (port 11095; nDPI's "NestLogSink"), as OpenWeave
//! defines its message layer. Each message is a little-endian 16-bit
//! length (of what follows), a 16-bit header field (bits 12-15 the
//! message version, 1 or 2; bits 4-7 the encryption type, 0 none or 1
//! AES-128-CTR with SHA-1; bits 8-11 flags: 0x100 destination node ID,
//! 0x200 source node ID present), a 32-bit message id, the node IDs
//! (8 bytes each) the flags announce, a 16-bit key id when encrypted, and
//! the payload.
//!
//! A session opens with unencrypted messages (the security profile's
//! CASE or PASE key agreement) and continues with messages of encryption
//! type 1. The class follows what was seen: encrypted once any message
//! says encryption type 1 (the session that matters is sealed), else
//! cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Weave;

const PORT: u16 = 11095;
const FLAG_DEST: u16 = 0x0100;
const FLAG_SOURCE: u16 = 0x0200;
/// How many messages of each side are walked.
const MAX_MESSAGES: usize = 16;

/// One message header: (encryption type, header size, whole message
/// size); `Err` when `d` cannot start a Weave message, `Ok(None)` when
/// too short to tell.
fn header(d: &[u8]) -> Result<Option<(u8, usize, usize)>, ()> {
    let (Some(l), Some(h)) = (d.get(..2), d.get(2..4)) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_le_bytes([l[0], l[1]]));
    let field = u16::from_le_bytes([h[0], h[1]]);
    let version = field >> 12;
    let enc = ((field >> 4) & 0xf) as u8;
    if !(1..=2).contains(&version) || enc > 1 || field & 0x000f != 0 || field & 0x0c00 != 0 {
        return Err(());
    }
    let mut size = 2 + 2 + 4;
    if field & FLAG_SOURCE != 0 {
        size += 8;
    }
    if field & FLAG_DEST != 0 {
        size += 8;
    }
    if enc != 0 {
        size += 2;
    }
    if 2 + len < size {
        return Err(());
    }
    Ok(Some((enc, size, 2 + len)))
}

/// What one side says: `Err` not Weave; otherwise the whole messages
/// walked, whether one was encrypted, and the first message's security
/// profile (unencrypted messages only).
fn walk(d: &[u8]) -> Result<(usize, bool, Option<u32>), ()> {
    let (mut at, mut n, mut enc, mut profile) = (0usize, 0usize, false, None);
    while n < MAX_MESSAGES {
        let Some(rest) = d.get(at..).filter(|r| !r.is_empty()) else {
            break;
        };
        let Some((e, hsize, size)) = header(rest)? else {
            break;
        };
        if rest.len() < size {
            break;
        }
        if n == 0 && e == 0 {
            // Exchange header: flags, message type, exchange id, profile.
            profile = rest
                .get(hsize + 4..hsize + 8)
                .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
        }
        enc |= e != 0;
        n += 1;
        at += size;
    }
    Ok((n, enc, profile))
}

impl Dissector for Weave {
    fn name(&self) -> &'static str {
        "weave"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && header(p.first_side().stream()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let (Ok(o), Ok(r)) = (walk(p.orig.stream()), walk(p.resp.stream())) else {
            return Parse::NotMine;
        };
        let first = if p.orig.is_empty() { r } else { o };
        if first.0 == 0 {
            return p.undecided();
        }
        meta.protocol = Some("weave");
        meta.app = Some("nest".to_string());
        if let Some(profile) = first.2 {
            meta.set_extra("weave_profile", format!("0x{profile:08x}"));
        }
        if o.1 || r.1 {
            meta.encryption = Encryption::Encrypted;
            return Parse::Done;
        }
        meta.encryption = Encryption::Cleartext;
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn message(enc: bool, payload: &[u8]) -> Vec<u8> {
        let field: u16 = 0x1000 | FLAG_SOURCE | FLAG_DEST | if enc { 0x10 } else { 0 };
        let mut body = field.to_le_bytes().to_vec();
        body.extend_from_slice(&[8, 3, 0, 0]);
        body.extend_from_slice(&[0x36, 0x9e, 0x27, 0, 0, 0x30, 0xb4, 0x18]);
        body.extend_from_slice(&[4, 0, 0, 0, 2, 0x30, 0xb4, 0x18]);
        if enc {
            body.extend_from_slice(&[0xea, 0x20]);
        }
        body.extend_from_slice(payload);
        let mut v = (body.len() as u16).to_le_bytes().to_vec();
        v.extend(body);
        v
    }

    /// A CASE exchange header: security profile (4), message type 0x0a.
    const CASE: [u8; 12] = [0x11, 0x0a, 0x89, 0x06, 4, 0, 0, 0, 0x81, 0, 0, 0x39];

    #[test]
    fn key_agreement_then_sealed() {
        let mut c = message(false, &CASE);
        c.extend(message(true, &[0xb2, 0x72, 0x96, 0xe3, 0xf5, 0x83]));
        let s = message(false, &CASE);
        let (r, m) = check_split_tcp(&Weave, PORT, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("weave"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("weave_profile"), Some("0x00000004"));
        // The key agreement alone is cleartext so far.
        let c = message(false, &CASE);
        let (r, m) = check_split_tcp(&Weave, PORT, &c, &s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn not_weave() {
        let good = message(false, &CASE);
        let mut v3 = good.clone();
        v3[3] = 0x33;
        let mut enc5 = good.clone();
        enc5[2] = 0x50;
        let mut short = good.clone();
        short[0] = 3;
        short[1] = 0;
        let cases: [(u16, &[u8]); 4] = [(9999, &good), (PORT, &v3), (PORT, &enc5), (PORT, &short)];
        for (port, d) in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, port, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Weave, &p);
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
