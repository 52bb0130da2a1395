//! Viber's TCP channel to its servers (ports 4244 and 5242 in the
//! captures; Viber's help pages list TCP 4244, 5242, 5243 and 9785),
//! described from the captures. Every client message opens with a
//! little-endian 16-bit length (the whole message), a 4-byte id, the
//! marker `fc ff` and a little-endian 16-bit message type with the high
//! bit set.
//!
//! The class follows the message type:
//! - 0x8003, the session on port 4244: after a short sub-header the body
//!   is structureless, and so is everything the server sends back;
//!   Viber's security overview describes its client-server transport as
//!   encrypted: encrypted.
//! - 0x8005, a lookup on port 5242: the server answers with a plain list
//!   of its addresses and ports (IPv4 and port, little-endian): cleartext.
//!
//! Other types are identified without a class.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Viber;

const MARKER: [u8; 2] = [0xfc, 0xff];
const HEADER: usize = 10;
const SESSION: u16 = 0x8003;
const LOOKUP: u16 = 0x8005;
/// Viber's documented TCP ports.
const PORTS: [u16; 4] = [4244, 5242, 5243, 9785];

/// The message type of the client's first message, when `d` (the whole
/// stream so far) holds its header; `Err` when it cannot be Viber.
fn first_message(d: &[u8]) -> Result<Option<u16>, ()> {
    let Some(h) = d.get(..HEADER) else {
        // Check what there is of the marker.
        return match d.get(6..) {
            Some(m) if !MARKER.starts_with(m) => Err(()),
            _ => Ok(None),
        };
    };
    let len = usize::from(u16::from_le_bytes([h[0], h[1]]));
    let kind = u16::from_le_bytes([h[8], h[9]]);
    if h[6..8] != MARKER || len < HEADER || kind & 0x8000 == 0 {
        return Err(());
    }
    // Wait for the whole first message.
    Ok((d.len() >= len).then_some(kind))
}

impl Dissector for Viber {
    fn name(&self) -> &'static str {
        "viber"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if !PORTS.contains(&p.resp_port) {
            return Probe::NotMine;
        }
        match first_message(p.orig.stream()) {
            Err(()) => Probe::NotMine,
            Ok(_) => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !PORTS.contains(&p.resp_port) {
            return Parse::NotMine;
        }
        let kind = match first_message(p.orig.stream()) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(k)) => k,
        };
        meta.protocol = Some("viber");
        meta.app = Some("viber".to_string());
        meta.encryption = match kind {
            SESSION => Encryption::Encrypted,
            LOOKUP => Encryption::Cleartext,
            _ => Encryption::Unknown,
        };
        meta.set_extra("viber_message", format!("0x{kind:04x}"));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut v = ((HEADER + body.len()) as u16).to_le_bytes().to_vec();
        v.extend_from_slice(&[0xad, 0xd4, 0xdc, 0x17]);
        v.extend_from_slice(&MARKER);
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn session_and_lookup() {
        let c = message(SESSION, &[0x59, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0xa9, 0xfc, 0xbd, 0xe6]);
        let (r, m) = check_split_tcp(&Viber, 4244, &c, &[0xda, 0x0a, 0x12, 0]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("viber"));
        assert_eq!(m.app.as_deref(), Some("viber"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("viber_message"), Some("0x8003"));
        let c = message(LOOKUP, &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x33]);
        let (r, m) = check_split_tcp(&Viber, 5242, &c, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn not_viber() {
        let mut no_marker = message(SESSION, &[0; 4]);
        no_marker[7] = 0xfe;
        let mut low_type = message(SESSION, &[0; 4]);
        low_type[9] = 0x00;
        let mut short_len = message(SESSION, &[0; 4]);
        short_len[0] = 4;
        let good = message(SESSION, &[0; 4]);
        let cases = [
            (4244, &no_marker),
            (4244, &low_type),
            (4244, &short_len),
            (4244, &b"GET / HTTP/1.1\r\n".to_vec()),
            (443, &good),
        ];
        for (port, d) in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, port, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Viber, &p);
            assert!(!claimed, "{d:?}");
        }
        // The first message must be whole.
        let ends = [[good.len() as u32 - 1], [0]];
        let p = Payloads::tcp(40000, 4244, &good[..good.len() - 1], &[], &ends);
        assert_eq!(Viber.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }
}
