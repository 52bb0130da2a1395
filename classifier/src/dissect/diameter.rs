//! Diameter base protocol (RFC 6733) over TCP, on any port (3868 is not
//! required; Diameter over TLS, 5868, is the TLS dissector's).
//!
//! The 20-byte header: version 1, a 24-bit message length (a multiple of
//! 4, at least 20), the command flags (R, P, E, T; the four low bits
//! reserved, zero; E never on a request), a 24-bit command code,
//! application id, hop-by-hop and end-to-end identifiers. Then AVPs:
//! code, flags (V, M, P; five reserved bits zero), a 24-bit length of at
//! least 8 (12 with the vendor bit), padded to 4 bytes, each inside the
//! message. The header and every AVP within the bytes seen (at least one
//! whole) must check; when the other side has answered, its first
//! message must be an answer (R clear) to the same command with the same
//! hop-by-hop identifier.
//!
//! Reported: `diameter_command` (code, with the name of the base and a
//! few common application commands), `diameter_application` (id),
//! `diameter_origin_host` (Origin-Host AVP, 264).
//!
//! Diameter itself is cleartext (its TLS/DTLS transports are other
//! flows' dissectors).

use super::text::{is_printable, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Diameter;

const HEADER: usize = 20;
const MAX_LEN: usize = 1 << 20;
const MAX_AVPS: usize = 64;
const ORIGIN_HOST: u32 = 264;
const VALUE_MAX: usize = 128;

fn be24(d: &[u8], at: usize) -> usize {
    usize::from(d[at]) << 16 | usize::from(d[at + 1]) << 8 | usize::from(d[at + 2])
}

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

struct Header {
    request: bool,
    command: usize,
    app: u32,
    hop: u32,
    len: usize,
}

/// The header at the start of `d`. `Err(true)`: more bytes needed.
fn header(d: &[u8]) -> Result<Header, bool> {
    match (d.first(), d.get(4)) {
        (Some(&v), _) if v != 1 => return Err(false),
        (_, Some(&f)) if f & 0x0f != 0 || f & 0xa0 == 0xa0 => return Err(false),
        _ => {}
    }
    if d.len() < HEADER {
        return Err(true);
    }
    let len = be24(d, 1);
    if len < HEADER || !len.is_multiple_of(4) || len > MAX_LEN {
        return Err(false);
    }
    Ok(Header {
        request: d[4] & 0x80 != 0,
        command: be24(d, 5),
        app: be32(d, 8),
        hop: be32(d, 12),
        len,
    })
}

/// Walks the AVPs of the message at the start of `d` (`len` long) as far
/// as the bytes go: (whole AVPs, Origin-Host). `None` on a bad AVP.
fn avps(d: &[u8], len: usize) -> Option<(usize, Option<&[u8]>)> {
    let end = len.min(d.len());
    let mut at = HEADER;
    let mut n = 0;
    let mut origin = None;
    while at + 8 <= end && n < MAX_AVPS {
        let code = be32(d, at);
        let flags = d[at + 4];
        let alen = be24(d, at + 5);
        let vendor = flags & 0x80 != 0;
        let min = if vendor { 12 } else { 8 };
        if flags & 0x1f != 0 || alen < min || at + alen > len {
            return None;
        }
        let padded = (alen + 3) & !3;
        if at + padded > len {
            return None;
        }
        if at + alen <= end {
            if code == ORIGIN_HOST && !vendor {
                origin = Some(&d[at + 8..at + alen]);
            }
            n += 1;
        }
        at += padded;
    }
    Some((n, origin))
}

fn command_name(code: usize) -> Option<&'static str> {
    Some(match code {
        257 => "capabilities_exchange",
        258 => "re_auth",
        271 => "accounting",
        272 => "credit_control",
        274 => "abort_session",
        275 => "session_termination",
        280 => "device_watchdog",
        282 => "disconnect_peer",
        316 => "update_location",
        317 => "cancel_location",
        318 => "authentication_information",
        _ => return None,
    })
}

impl Dissector for Diameter {
    fn name(&self) -> &'static str {
        "diameter"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match header(p.first_payload()) {
            Err(false) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// Version 1 (`header`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[1]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (p.first_side().stream(), p.second_side().stream());
        let h = match header(a) {
            Ok(h) => h,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let Some((n, origin)) = avps(a, h.len) else {
            return Parse::NotMine;
        };
        if n == 0 {
            return if a.len() >= h.len {
                Parse::NotMine
            } else {
                p.undecided()
            };
        }
        let answered = match header(b) {
            Ok(r) => {
                if r.command != h.command || r.hop != h.hop || r.request == h.request || avps(b, r.len).is_none() {
                    return Parse::NotMine;
                }
                true
            }
            Err(true) => false,
            Err(false) => return Parse::NotMine,
        };
        meta.protocol = Some("diameter");
        meta.encryption = Encryption::Cleartext;
        let code = match command_name(h.command) {
            Some(name) => format!("{} ({name})", h.command),
            None => h.command.to_string(),
        };
        meta.set_extra("diameter_command", code);
        meta.set_extra("diameter_application", h.app.to_string());
        if let Some(o) = origin.filter(|o| !o.is_empty() && is_printable(o)) {
            meta.set_extra("diameter_origin_host", to_string(o, VALUE_MAX));
        }
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
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// diameter.pcap (50957 → 3868): the first 80 bytes of a
    /// Credit-Control-Request (length 344) and of its answer (length
    /// 236), with their first AVPs (Session-Id, then Origin-Host /
    /// Result-Code), the lengths set to what is kept.
    fn ccr() -> Vec<u8> {
        unhex(
            "01000050 80000110 00000004 02ea4930 26f00003
             00000107 4000001d 6e786c3b6170693b31323633323738383738313437 000000
             00000108 40000019 6e786c312e6e65747863656c6c2e636f6d 000000",
        )
    }
    fn cca() -> Vec<u8> {
        unhex(
            "01000040 40000110 00000004 02ea4930 26f00003
             00000107 4000001d 6e786c3b6170693b31323633323738383738313437 000000
             0000010c 4000000c 000007d1",
        )
    }

    #[test]
    fn credit_control() {
        let (o, r) = (ccr(), cca());
        assert_eq!(o.len(), 0x50);
        assert_eq!(r.len(), 0x40);
        let (v, m) = check_split_tcp(&Diameter, 3868, &o, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("diameter"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("diameter_command"), Some("272 (credit_control)"));
        assert_eq!(m.extra("diameter_application"), Some("4"));
        assert_eq!(m.extra("diameter_origin_host"), Some("nxl1.netxcell.com"));
        let (v, _) = check_split_tcp(&Diameter, 3868, &o, &[]);
        assert_eq!(v, Parse::Identified);
    }

    #[test]
    fn not_diameter() {
        let (o, r) = (ccr(), cca());
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, v) in [
            (0, 2u8),
            (3, 0x51),
            (3, 0x10),
            (4, 0x81),
            (4, 0xa0),
            (24, 0x41),
            (27, 0x06),
            (27, 0x60),
        ] {
            let mut c = o.clone();
            c[i] = v;
            cases.push((c, Vec::new()));
        }
        // An answer to another command, to another hop-by-hop id, or a
        // second request.
        for (i, v) in [(7, 0x11), (15, 0x31), (4, 0x80)] {
            let mut c = r.clone();
            c[i] = v;
            cases.push((o.clone(), c));
        }
        cases.push((o.clone(), b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 3868, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Diameter, &p), "{o:02x?} {r:02x?}");
        }
    }
}
