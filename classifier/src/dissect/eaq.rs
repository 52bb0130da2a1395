//! EAQ, the broadband quality probes of Brazil's "Entidade Aferidora da
//! Qualidade" (UDP port 6000). Described from the captures: the client
//! sends 16-byte datagrams, a big-endian sequence number (0, 1, 2, ...),
//! two 32-bit counters, then the marker `00 00 90 00`; the server echoes
//! each datagram with the marker `00 00 60 00`. Nothing is encrypted:
//! the flow is cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Eaq;

const PORT: u16 = 6000;
const LEN: usize = 16;
const CLIENT: [u8; 4] = [0, 0, 0x90, 0];
const SERVER: [u8; 4] = [0, 0, 0x60, 0];

/// The sequence number when `d` is one EAQ probe or echo.
fn probe_seq(d: &[u8]) -> Option<u32> {
    if d.len() != LEN {
        return None;
    }
    let marker = d.get(12..16)?;
    if marker != CLIENT && marker != SERVER {
        return None;
    }
    Some(u32::from_be_bytes(d.get(..4)?.try_into().ok()?))
}

impl Dissector for Eaq {
    fn name(&self) -> &'static str {
        "eaq"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && probe_seq(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let Some(seq) = probe_seq(p.first_payload()) else {
            return Parse::NotMine;
        };
        // Every datagram seen so far must have the same shape.
        let side_ok = |s: super::Side<'_>| s.chunks().all(|d| probe_seq(d).is_some());
        if !side_ok(p.orig) || !side_ok(p.resp) {
            return Parse::NotMine;
        }
        meta.protocol = Some("eaq");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("eaq_seq", seq.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn dgram(seq: u32, marker: [u8; 4]) -> Vec<u8> {
        let mut v = seq.to_be_bytes().to_vec();
        v.extend_from_slice(&[0, 0, 0x0d, 0xda, 0, 1, 0x4b, 0x07]);
        v.extend_from_slice(&marker);
        v
    }

    #[test]
    fn probe_and_echo() {
        let (q, a) = (dgram(0, CLIENT), dgram(0, SERVER));
        let (r, m) = check_split_udp(&Eaq, 52257, PORT, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("eaq"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("eaq_seq"), Some("0"));
        let q3 = dgram(3, CLIENT);
        let (r, m) = check_split_udp(&Eaq, 52257, PORT, &[&q3], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("eaq_seq"), Some("3"));
    }

    #[test]
    fn not_eaq() {
        let good = dgram(0, CLIENT);
        let mut bad_marker = good.clone();
        bad_marker[14] = 0x91;
        let mut long = good.clone();
        long.push(0);
        let cases: [(u16, &[u8]); 4] = [(9999, &good), (PORT, &bad_marker), (PORT, &long), (PORT, &good[..15])];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Eaq, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
        // A following datagram of another shape undoes the match.
        let f = UdpFixture::new(40000, PORT, &[&good, b"hello"], &[]);
        assert_eq!(Eaq.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
    }
}
