//! MySQL and MariaDB's client/server protocol over TCP, on any port
//! (3306 is only a hint). Packets are a 3-byte little-endian payload
//! length and a sequence number. The server speaks first: the initial
//! handshake (protocol version 10), with a NUL-terminated server version,
//! a connection id, 8 bytes of the auth challenge, a zero filler, the
//! capability flags (CLIENT_PROTOCOL_41 among them), a character set,
//! status flags, the upper capability flags, the challenge length and ten
//! reserved bytes (zero; MariaDB puts its extended capabilities in the
//! last four). The client answers with sequence 1: a handshake
//! response, or a 32-byte SSLRequest (CLIENT_SSL set) after which both
//! sides run TLS.
//!
//! Taken on the whole initial handshake. Cleartext (queries and rows in
//! clear), or encrypted when the client sent an SSLRequest and a TLS
//! handshake follows it.

use super::text::to_string;
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Mysql;

const PROTOCOL: u8 = 10;
const CLIENT_PROTOCOL_41: u16 = 0x0200;
const CLIENT_SSL: u16 = 0x0800;
const SSL_REQUEST: usize = 32;
const MAX_VERSION: usize = 64;

/// The server version of the initial handshake opening `d`: `Ok(None)`
/// while it is a prefix, `Err` when `d` does not open with one.
fn greeting(d: &[u8]) -> Result<Option<&[u8]>, ()> {
    if d.len() >= 4 && (d[3] != 0 || d[2] != 0) {
        return Err(());
    }
    if d.len() >= 5 && d[4] != PROTOCOL {
        return Err(());
    }
    if d.len() < 5 {
        return Ok(None);
    }
    let len = usize::from(u16::from_le_bytes([d[0], d[1]]));
    let Some(p) = d.get(4..4 + len) else {
        return if d.len() < 4 + len { Ok(None) } else { Err(()) };
    };
    let body = p.get(1..).ok_or(())?;
    let nul = body.iter().take(MAX_VERSION + 1).position(|&b| b == 0).ok_or(())?;
    let version = &body[..nul];
    if version.is_empty() || !version[0].is_ascii_digit() || !version.iter().all(|b| b.is_ascii_graphic()) {
        return Err(());
    }
    // Connection id (4), challenge (8), filler, capabilities, charset,
    // status (2), upper capabilities (2), challenge length, reserved (10).
    let rest = body.get(nul + 1..).ok_or(())?;
    let fixed = rest.get(..4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10).ok_or(())?;
    let caps = u16::from_le_bytes([fixed[13], fixed[14]]);
    if fixed[12] != 0 || caps & CLIENT_PROTOCOL_41 == 0 || fixed[21..27].iter().any(|&b| b != 0) {
        return Err(());
    }
    // The greeting is the server's whole first flight: what follows is
    // its answer to the client (sequence 2) or a TLS handshake.
    let after = &d[4 + len..];
    match after {
        [] => {}
        [0x16, 0x03, ..] => {}
        [_, _, _, 2, ..] => {}
        _ if after.len() < 4 => return Ok(None),
        _ => return Err(()),
    }
    Ok(Some(version))
}

impl Dissector for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if greeting(p.resp.stream()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let version = match greeting(p.resp.stream()) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(v)) => v,
        };
        meta.protocol = Some("mysql");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("mysql_server_version", to_string(version, MAX_VERSION));
        let c = p.orig.stream();
        let Some(h) = c.get(..6) else {
            return Parse::Identified;
        };
        let len = usize::from(u16::from_le_bytes([h[0], h[1]])) | usize::from(h[2]) << 16;
        let caps = u16::from_le_bytes([h[4], h[5]]);
        if h[3] != 1 {
            return Parse::Done;
        }
        if len == SSL_REQUEST && caps & CLIENT_SSL != 0 {
            let after = &c[(4 + SSL_REQUEST).min(c.len())..];
            if after.len() < 2 {
                return Parse::Identified;
            }
            if after[0] == 0x16 && after[1] == 0x03 {
                meta.encryption = Encryption::Encrypted;
            }
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    // mysql.pcapng, 192.168.88.231:36272 -> 192.168.88.200:3306: MySQL
    // 8.0.36's greeting, the client's SSLRequest, the ClientHello's start.
    const GREETING: &[u8] = b"\x4a\x00\x00\x00\x0a\x38\x2e\x30\x2e\x33\x36\x00\x0c\x00\x00\x00\x31\x74\x75\x67\x78\x5f\x23\x56\x00\xff\xff\xff\x02\x00\xff\xdf\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x70\x22\x3e\x34\x6d\x0f\x36\x7c\x31\x22\x6a\x7c\x00\x63\x61\x63\x68\x69\x6e\x67\x5f\x73\x68\x61\x32\x5f\x70\x61\x73\x73\x77\x6f\x72\x64\x00";
    const SSL: &[u8] = b"\x20\x00\x00\x01\x85\xae\xff\x19\x00\x00\x00\x01\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    const HELLO: &[u8] = b"\x16\x03\x01\x01\x3d\x01\x00\x01\x39\x03\x03\x5c";
    // mysql.pcapng, 192.168.88.231:36732: MariaDB's client answer, start.
    const LOGIN: &[u8] = b"\xd6\x00\x00\x01\x84\xa6\xff\x20\x00\x00\x00\x01\x21\x00\x00\x00";

    #[test]
    fn greeting_and_tls() {
        assert_eq!(GREETING.len(), 78);
        let (r, m) = check_split_tcp(&Mysql, 3306, b"", GREETING);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("mysql"));
        assert_eq!(m.extra("mysql_server_version"), Some("8.0.36"));
        let c = [SSL, HELLO].concat();
        let (r, m) = check_split_tcp(&Mysql, 3306, &c, GREETING);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, m) = check_split_tcp(&Mysql, 3306, LOGIN, GREETING);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn not_mysql() {
        let mut protocol = GREETING.to_vec();
        protocol[4] = 9;
        let mut reserved = GREETING.to_vec();
        reserved[36] = 1;
        let mut filler = GREETING.to_vec();
        filler[24] = 1;
        let mut version = GREETING.to_vec();
        version[5] = b'v';
        let mut long = GREETING.to_vec();
        long[0] = 0x40;
        let empty = b"\x00\x00\x00\x00\x0a".to_vec();
        for s in [protocol, reserved, filler, version, long, empty] {
            let ends = [[0], [s.len() as u32]];
            let p = Payloads::tcp(40000, 3306, &[], &s, &ends);
            assert!(!crate::dissect::not_refused(&Mysql, &p), "{s:?}");
        }
    }
}
