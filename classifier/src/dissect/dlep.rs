//! DLEP (RFC 8175, Dynamic Link Exchange Protocol) on port 854 (either
//! side). Discovery over UDP: the magic `DLEP`, then a signal (type 1
//! Peer Discovery or 2 Peer Offer, a 16-bit length) whose data items
//! fill the datagram exactly. Sessions over TCP: messages of a 16-bit
//! type (1..=16: session initialization up to heartbeat) and a 16-bit
//! length, whose data items (16-bit type, 16-bit length) fill the
//! message exactly; the first message must be whole. Cleartext (a
//! session secured with TLS is taken by the TLS dissector).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Dlep;

const PORT: u16 = 854;
const MAGIC: &[u8; 4] = b"DLEP";

/// Whether `d` is data items back to back, exactly.
fn items(mut d: &[u8]) -> bool {
    while !d.is_empty() {
        let Some(h) = d.get(..4) else { return false };
        let n = 4 + usize::from(u16::from_be_bytes([h[2], h[3]]));
        let Some(rest) = d.get(n..) else { return false };
        d = rest;
    }
    true
}

/// `Some(Some(type))` when `d` starts with a whole signal or message of
/// a type in `types`, `Some(None)` for a prefix, `None` otherwise.
fn message(d: &[u8], types: std::ops::RangeInclusive<u16>) -> Option<Option<u16>> {
    let Some(h) = d.get(..4) else { return Some(None) };
    let kind = u16::from_be_bytes([h[0], h[1]]);
    if !types.contains(&kind) {
        return None;
    }
    let end = 4 + usize::from(u16::from_be_bytes([h[2], h[3]]));
    match d.get(4..end) {
        Some(body) => items(body).then_some(Some(kind)),
        None => Some(None),
    }
}

impl Dissector for Dlep {
    fn name(&self) -> &'static str {
        "dlep"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let kind = match p.transport {
            Transport::Udp => {
                let d = p.first_payload();
                if d.is_empty() {
                    return p.undecided();
                }
                let Some(signal) = d.strip_prefix(MAGIC) else {
                    return Parse::NotMine;
                };
                // A datagram is one signal, exactly.
                let len = signal
                    .get(2..4)
                    .map(|l| 4 + usize::from(u16::from_be_bytes([l[0], l[1]])));
                match message(signal, 1..=2) {
                    Some(Some(k)) if len == Some(signal.len()) => k,
                    _ => return Parse::NotMine,
                }
            }
            Transport::Tcp => {
                let d = p.first_side().stream();
                if d.is_empty() {
                    return p.undecided();
                }
                match message(d, 1..=16) {
                    None => return Parse::NotMine,
                    Some(None) => return p.undecided(),
                    Some(Some(k)) => k,
                }
            }
        };
        meta.protocol = Some("dlep");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("dlep_type", kind.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    // dlep.pcapng: a router's Peer Discovery signal and its Session
    // Initialization message (heartbeat interval, peer type, extensions).
    const DISCOVERY: [u8; 28] = *b"DLEP\x00\x01\x00\x14\x00\x04\x00\x10\x00emulated-router";
    const INIT: [u8; 40] = *b"\x00\x01\x00\x24\x00\x05\x00\x04\x00\x00\xea\x60\x00\x04\x00\x10\x00emulated-router\x00\x06\x00\x04\xff\xf1\xff\xf4";

    #[test]
    fn discovery_and_session() {
        let (r, m) = check_split_udp(&Dlep, 57060, PORT, &[&DISCOVERY], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dlep"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dlep_type"), Some("1"));
        let (r, m) = check_split_tcp(&Dlep, PORT, &INIT, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("dlep_type"), Some("1"));
    }

    #[test]
    fn not_dlep() {
        let mut magic = DISCOVERY;
        magic[0] = b'X';
        let mut item = DISCOVERY;
        item[11] = 0x11;
        let mut signal = DISCOVERY;
        signal[5] = 3;
        let cases: [(u16, &[u8]); 4] = [(855, &DISCOVERY), (PORT, &magic), (PORT, &item), (PORT, &signal)];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Dlep, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
        let mut bad = INIT;
        bad[1] = 17;
        let ends = [[bad.len() as u32], [0]];
        let p = Payloads::tcp(40000, PORT, &bad, &[], &ends);
        assert_eq!(Dlep.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
