//! NoMachine's NX protocol over TCP, on any port (4000 is only a hint).
//! The client opens with the banner `NXSH-<version>\n` (for example
//! `NXSH-8.10.1`), the server answers `NXD-<version>\n`, and from then
//! on both sides speak TLS: a handshake record follows the banners.
//! Encrypted once that TLS record is seen; before it only the cleartext
//! banners have passed.
//!
//! Over UDP (multimedia, also port 4000 by default since NoMachine 8) each
//! datagram opens with a 10-byte header, little-endian 16-bit fields: a
//! message kind, the value 1, the datagram's own length, a sequence
//! number and a zero. A flow is NoMachine over UDP when its first two
//! datagrams (either side) carry that header with the length exact, and
//! none of its datagrams is anything else. NoMachine documents its UDP
//! traffic as encrypted (Blowfish, keyed over the TLS connection):
//! encrypted.

use super::{agrees, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct NoMachine;

const CLIENT: &[u8] = b"NXSH-";
const SERVER: &[u8] = b"NXD-";
const MAX_VERSION: usize = 32;

/// A banner's version and the bytes after it.
type Banner<'a> = (&'a [u8], &'a [u8]);

/// `Ok(Some((version, rest)))` for a banner `<prefix><version>\n` opening
/// `d`, `Ok(None)` for a prefix of one, `Err` otherwise.
fn banner<'a>(d: &'a [u8], prefix: &[u8]) -> Result<Option<Banner<'a>>, ()> {
    if !agrees(d, prefix) {
        return Err(());
    }
    let rest = d.get(prefix.len()..).unwrap_or_default();
    let n = rest.iter().take_while(|b| b.is_ascii_digit() || **b == b'.').count();
    if n > MAX_VERSION {
        return Err(());
    }
    match rest.get(n) {
        None => Ok(None),
        Some(b'\n') if n > 0 && rest[0].is_ascii_digit() => Ok(Some((&rest[..n], &rest[n + 1..]))),
        Some(_) => Err(()),
    }
}

/// A TLS handshake record header (content type 22, version 3.x).
fn tls_record(d: &[u8]) -> bool {
    d.len() >= 3 && d[0] == 0x16 && d[1] == 0x03 && d[2] <= 0x04
}

/// Length of the UDP datagram header.
const UDP_HEADER: usize = 10;

/// Whether `d` is a whole NX UDP datagram: the header with the value 1,
/// its own length and the trailing zero.
fn udp_datagram(d: &[u8]) -> bool {
    let le = |at: usize| d.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    d.len() >= UDP_HEADER && le(2) == Some(1) && le(4).map(usize::from) == Some(d.len()) && le(8) == Some(0)
}

impl NoMachine {
    fn parse_udp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let mut n = 0usize;
        for d in p.orig.chunks().chain(p.resp.chunks()) {
            if !udp_datagram(d) {
                return Parse::NotMine;
            }
            n += 1;
        }
        if n < 2 {
            return p.undecided();
        }
        meta.protocol = Some("nomachine");
        meta.encryption = Encryption::Encrypted;
        Parse::Done
    }
}

impl Dissector for NoMachine {
    fn name(&self) -> &'static str {
        "nomachine"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.transport == Transport::Udp {
            return if udp_datagram(p.first_payload()) {
                Probe::Maybe
            } else {
                Probe::NotMine
            };
        }
        if banner(p.orig.stream(), CLIENT).is_ok() && (p.resp.is_empty() || banner(p.resp.stream(), SERVER).is_ok()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if p.transport == Transport::Udp {
            return self.parse_udp(p, meta);
        }
        let (c, s) = (p.orig.stream(), p.resp.stream());
        let client = match banner(c, CLIENT) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(x)) => x,
        };
        let server = if s.is_empty() { Ok(None) } else { banner(s, SERVER) };
        let Ok(server) = server else {
            return Parse::NotMine;
        };
        meta.protocol = Some("nomachine");
        meta.set_extra("nx_client_version", String::from_utf8_lossy(client.0).into_owned());
        if let Some((v, _)) = server {
            meta.set_extra("nx_server_version", String::from_utf8_lossy(v).into_owned());
        }
        let tls = tls_record(client.1) || server.is_some_and(|(_, rest)| tls_record(rest));
        if tls {
            meta.encryption = Encryption::Encrypted;
            return Parse::Done;
        }
        // Another protocol after the banners is not NX as known.
        if client.1.len() >= 3 || server.is_some_and(|(_, rest)| rest.len() >= 3) {
            return Parse::NotMine;
        }
        meta.encryption = Encryption::Cleartext;
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, UdpFixture};

    #[test]
    fn udp_multimedia() {
        // nomachine.pcapng, the UDP flow on port 4000: the client's first
        // keep-alives (kind 1, sequence 0 and 1), the server's (kind 2),
        // and a kind 0x0b exchange with an 8-byte body.
        let c: [&[u8]; 3] = [
            b"\x01\x00\x01\x00\x0a\x00\x00\x00\x00\x00",
            b"\x01\x00\x01\x00\x0a\x00\x01\x00\x00\x00",
            b"\x0b\x00\x01\x00\x12\x00\x00\x00\x00\x00\xf7\x69\xc1\x18\x90\x02\x69\x65",
        ];
        let s: [&[u8]; 1] = [b"\x02\x00\x01\x00\x0a\x00\x00\x00\x00\x00"];
        let (r, m) = check_split_udp(&NoMachine, 56019, 4000, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("nomachine"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        let (r, _) = check_split_udp(&NoMachine, 56019, 4000, &c[..2], &[]);
        assert_eq!(r, Parse::Done);
        // One datagram is not enough.
        let f = UdpFixture::new(56019, 4000, &c[..1], &[]);
        assert_eq!(NoMachine.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_nomachine_udp() {
        let good: &[u8] = b"\x01\x00\x01\x00\x0a\x00\x00\x00\x00\x00";
        let cases: [&[u8]; 4] = [
            b"\x01\x00\x02\x00\x0a\x00\x00\x00\x00\x00",
            b"\x01\x00\x01\x00\x0b\x00\x00\x00\x00\x00",
            b"\x01\x00\x01\x00\x0a\x00\x00\x00\x01\x00",
            b"\x01\x00\x01\x00\x0a\x00\x00\x00\x00\x00\x00",
        ];
        for bad in cases {
            for (a, b) in [(good, bad), (bad, good)] {
                let f = UdpFixture::new(56019, 4000, &[a], &[b]);
                let mut p = f.payloads();
                p.last = true;
                assert!(!not_refused(&NoMachine, &p), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn banners_then_tls() {
        // nomachine.pcapng, trimmed: the banners and the ClientHello's
        // record header.
        let c = b"NXSH-8.10.1\n\x16\x03\x01\x00\x7d\x01\x00\x00\x79\x03\x03";
        let s = b"NXD-8.10.1\n";
        let (r, m) = check_split_tcp(&NoMachine, 4000, c, s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("nomachine"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("nx_client_version"), Some("8.10.1"));
        assert_eq!(m.extra("nx_server_version"), Some("8.10.1"));
        // The banners alone.
        let (r, m) = check_split_tcp(&NoMachine, 4000, b"NXSH-8.10.1\n", s);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Cleartext);
    }

    #[test]
    fn not_nomachine() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"NXSH-\n", b""),
            (b"NXSH-8.10.1\r\n", b""),
            (b"NXSH-8.10.1\n", b"SSH-2.0-x\r\n"),
            (b"NXSH-8.10.1\nGET / HTTP/1.1\r\n", b""),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let mut p = Payloads::tcp(40000, 4000, c, s, &ends);
            p.last = true;
            let claimed = not_refused(&NoMachine, &p);
            assert!(!claimed, "{c:?}");
        }
    }
}
