//! VNC's Remote Framebuffer protocol (RFC 6143) over TCP, on any port
//! (5900+, 5800+ are only hints). The server opens with its
//! ProtocolVersion, exactly 12 bytes `RFB xxx.yyy\n` (three digits
//! each: 003.003, 003.007, 003.008, RealVNC's 004.00x, Apple's 003.889),
//! and the client answers with its own. Then the security handshake:
//! from 3.7 on the server lists the security types it offers (a count,
//! then one byte each) and the client picks one byte; in 3.3 the server
//! decides with a 32-bit type.
//!
//! The encryption class follows the chosen security type (IANA "Remote
//! Framebuffer Security Types"): None (1), VNC Authentication (2, a DES
//! challenge only) and Tight (16) leave the session in clear:
//! cleartext; TLS (18) and VeNCrypt (19) wrap it: encrypted. The others
//! (RealVNC's 3..15, 128..255, vendor types) are not public: the class
//! stays unknown. Before a type is chosen only the cleartext banners
//! have passed: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Vnc;

const BANNER: usize = 12;

/// The version of a ProtocolVersion message opening `d` (`003.008`),
/// `Ok(None)` for a prefix of one, `Err` when it is not one.
fn banner(d: &[u8]) -> Result<Option<&[u8]>, ()> {
    const SHAPE: &[u8; BANNER] = b"RFB ddd.ddd\n";
    for (&b, &s) in d.iter().zip(SHAPE.iter()) {
        let ok = if s == b'd' { b.is_ascii_digit() } else { b == s };
        if !ok {
            return Err(());
        }
    }
    if d.len() < BANNER {
        return Ok(None);
    }
    Ok(Some(&d[4..11]))
}

/// The security type the handshake settled on, if it got that far.
fn security(version: &[u8], server: &[u8], client: &[u8]) -> Option<u8> {
    let s = server.get(BANNER..)?;
    if version == b"003.003" {
        // A 32-bit type chosen by the server.
        let t = s.get(..4)?;
        return (t[..3] == [0, 0, 0]).then_some(t[3]);
    }
    let count = usize::from(*s.first()?);
    let offered = s.get(1..1 + count)?;
    let chosen = *client.get(BANNER)?;
    offered.contains(&chosen).then_some(chosen)
}

impl Dissector for Vnc {
    fn name(&self) -> &'static str {
        "vnc"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if banner(p.first_side().stream()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The `R` of the `RFB ` banner (`banner` on whoever spoke first).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"R"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        // The server speaks first; when only one side has spoken, it is
        // taken for the server (the capture may have missed the SYN).
        let (c, s) = match (p.orig.stream(), p.resp.stream()) {
            (c, []) => (&[][..], c),
            (c, s) => (c, s),
        };
        let server = match banner(s) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(v)) => v,
        };
        let client = if c.is_empty() { Ok(None) } else { banner(c) };
        let Ok(client) = client else {
            return Parse::NotMine;
        };
        meta.protocol = Some("vnc");
        meta.set_extra("vnc_server_version", String::from_utf8_lossy(server).into_owned());
        if let Some(v) = client {
            meta.set_extra("vnc_client_version", String::from_utf8_lossy(v).into_owned());
        }
        let Some(t) = client.and_then(|v| security(v, s, c)) else {
            meta.encryption = Encryption::Cleartext;
            return Parse::Identified;
        };
        meta.set_extra("vnc_security", t.to_string());
        meta.encryption = match t {
            1 | 2 | 16 => Encryption::Cleartext,
            18 | 19 => Encryption::Encrypted,
            _ => Encryption::Unknown,
        };
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    #[test]
    fn vnc_authentication_is_cleartext() {
        let s = b"RFB 003.008\n\x02\x02\x10";
        let c = b"RFB 003.008\n\x02";
        let (r, m) = check_split_tcp(&Vnc, 5900, c, s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("vnc"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("vnc_security"), Some("2"));
        // 3.3: the server decides.
        let (r, m) = check_split_tcp(&Vnc, 5900, b"RFB 003.003\n", b"RFB 003.003\n\x00\x00\x00\x01");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("vnc_security"), Some("1"));
    }

    #[test]
    fn realvnc_and_vencrypt() {
        // vnc.pcap: RealVNC 4.1 offers 7 types, the viewer picks 13.
        let s = b"RFB 004.001\n\x07\x0d\x85\x05\x81\x06\x82\x02";
        let c = b"RFB 004.001\n\x0d";
        let (r, m) = check_split_tcp(&Vnc, 6900, c, s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("vnc_server_version"), Some("004.001"));
        assert_eq!(m.extra("vnc_security"), Some("13"));
        assert_eq!(m.encryption, Encryption::Unknown);
        let (_, m) = check_split_tcp(&Vnc, 5900, b"RFB 003.008\n\x13", b"RFB 003.008\n\x02\x13\x02");
        assert_eq!(m.encryption, Encryption::Encrypted);
        // The server's banner alone, on either side.
        let (r, m) = check_split_tcp(&Vnc, 6900, b"", b"RFB 004.001\n");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
        let (r, _) = check_split_tcp(&Vnc, 40001, b"RFB 004.001\n", b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_vnc() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"", b"RFB 3.8\n"),
            (b"", b"RFB 003.008\r\n"),
            (b"GET / HTTP/1.1\r\n", b"RFB 003.008\n"),
            (b"RFB 003.008 ", b""),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let mut p = Payloads::tcp(40000, 5900, c, s, &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Vnc, &p);
            assert!(!claimed, "{c:?} {s:?}");
        }
    }
}
