//! Kerberos v5 (RFC 4120) on port 88 (either side). A message is one
//! DER-encoded application tag (AS-REQ 10, AS-REP 11, TGS-REQ 12,
//! TGS-REP 13, AP-REQ 14, AP-REP 15, KRB-ERROR 30) whose length covers
//! the rest of the message exactly, wrapping a SEQUENCE. Over UDP the
//! message is the datagram; over TCP it follows a 4-byte length (high
//! bit reserved) that must match too. Kerberos is cleartext framing
//! around encrypted parts (tickets, authenticators): principal names,
//! realms and options travel in the clear, so the flow is `cleartext`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Kerberos;

const PORT: u16 = 88;
/// Largest message accepted (the TCP length field allows more).
const MAX_LEN: usize = 1 << 20;

fn message_name(tag: u8) -> Option<&'static str> {
    Some(match tag {
        0x6a => "as_req",
        0x6b => "as_rep",
        0x6c => "tgs_req",
        0x6d => "tgs_rep",
        0x6e => "ap_req",
        0x6f => "ap_rep",
        0x7e => "krb_error",
        _ => return None,
    })
}

/// (header length, content length) of the DER element at the start.
fn der_header(d: &[u8]) -> Option<(usize, usize)> {
    let b = *d.get(1)?;
    if b < 0x80 {
        return Some((2, usize::from(b)));
    }
    let n = usize::from(b & 0x7f);
    if !(1..=3).contains(&n) {
        return None;
    }
    let bytes = d.get(2..2 + n)?;
    let len = bytes.iter().fold(0usize, |a, &x| a << 8 | usize::from(x));
    Some((2 + n, len))
}

/// `Some(Some(name))`: a whole message; `Some(None)`: a prefix that may
/// become one (TCP); `None`: not Kerberos.
fn message(d: &[u8], partial_ok: bool) -> Option<Option<&'static str>> {
    let name = message_name(*d.first()?)?;
    let Some((h, len)) = der_header(d) else {
        return (partial_ok && d.len() < 5).then_some(None);
    };
    if len > MAX_LEN {
        return None;
    }
    match d.get(h) {
        Some(0x30) => {}
        Some(_) => return None,
        None => return partial_ok.then_some(None),
    }
    if h + len == d.len() {
        Some(Some(name))
    } else if partial_ok && h + len > d.len() {
        Some(None)
    } else {
        None
    }
}

/// As [`message`], for what the side carried on `transport`.
fn opening(p: &Payloads<'_>) -> Option<Option<&'static str>> {
    match p.transport {
        Transport::Udp => message(p.first_payload(), false),
        Transport::Tcp => {
            let s = p.first_side().stream();
            let Some(rec) = s.get(..4) else {
                // A length prefix still arriving: its high byte is small.
                return s.first().is_none_or(|&b| b < 0x80).then_some(None);
            };
            let len = u32::from_be_bytes([rec[0], rec[1], rec[2], rec[3]]);
            let len = usize::try_from(len).ok()?;
            if len > MAX_LEN || len == 0 {
                return None;
            }
            let body = s.get(4..).unwrap_or_default();
            let body = body.get(..len).unwrap_or(body);
            match message(body, true)? {
                Some(n) => Some(Some(n)),
                None if body.len() < len => Some(None),
                None => None,
            }
        }
    }
}

impl Dissector for Kerberos {
    fn name(&self) -> &'static str {
        "kerberos"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && opening(p).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// UDP: a message tag (0x6a..=0x7e); TCP: a record length's high
    /// byte, below 0x80 (`opening`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0, 0x7f))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let name = match opening(p) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(n)) => n,
        };
        meta.protocol = Some("kerberos");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("kerberos_message", name);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// An AS-REQ shaped message: application 10 { SEQUENCE { pvno 5 } }.
    fn as_req(filler: usize) -> Vec<u8> {
        let mut inner = vec![0xa1, 0x03, 0x02, 0x01, 0x05];
        inner.extend(std::iter::repeat_n(0x04, filler));
        let mut seq = vec![0x30];
        push_len(&mut seq, inner.len());
        seq.extend_from_slice(&inner);
        let mut v = vec![0x6a];
        push_len(&mut v, seq.len());
        v.extend_from_slice(&seq);
        v
    }

    fn push_len(v: &mut Vec<u8>, n: usize) {
        if n < 0x80 {
            v.push(n as u8);
        } else {
            v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
        }
    }

    #[test]
    fn as_req_over_udp_and_tcp() {
        let m = as_req(200);
        let (r, meta) = check_split_udp(&Kerberos, 40000, PORT, &[&m], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(meta.protocol, Some("kerberos"));
        assert_eq!(meta.encryption, Encryption::Cleartext);
        assert_eq!(meta.extra("kerberos_message"), Some("as_req"));
        let mut t = (m.len() as u32).to_be_bytes().to_vec();
        t.extend_from_slice(&m);
        let (r, meta) = check_split_tcp(&Kerberos, PORT, &t, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(meta.extra("kerberos_message"), Some("as_req"));
        let small = as_req(3);
        let (r, _) = check_split_udp(&Kerberos, PORT, 40000, &[&small], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_kerberos() {
        let mut long = as_req(10);
        long.push(0);
        let mut not_seq = as_req(10);
        not_seq[2] = 0x31;
        let mut tag = as_req(10);
        tag[0] = 0x60;
        let cases: [(u16, Vec<u8>); 4] = [(9999, as_req(10)), (PORT, long), (PORT, not_seq), (PORT, tag)];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[&d], &[]);
            let claimed = crate::dissect::not_refused(&Kerberos, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
