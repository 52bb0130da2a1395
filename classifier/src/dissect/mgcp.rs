//! MGCP, the Media Gateway Control Protocol (RFC 3435), over UDP on any
//! port (2427 and 2727 are hints only). A command's first line is
//! `VERB SP transaction-id SP endpoint SP MGCP SP version`: one of the
//! nine verbs of the RFC, a transaction id of 1..9 digits, an endpoint
//! name `local@domain`, and a version `d.d`. A response line is a
//! three-digit code and the transaction id of the command; a responder's
//! first datagram, when there is one, must answer the command's id.
//! Cleartext.

use super::text::to_string;
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Mgcp;

const VERBS: [&[u8]; 9] = [
    b"EPCF", b"CRCX", b"MDCX", b"DLCX", b"RQNT", b"NTFY", b"AUEP", b"AUCX", b"RSIP",
];
const VALUE_MAX: usize = 128;

fn trans_id(t: &[u8]) -> bool {
    (1..=9).contains(&t.len()) && t.iter().all(u8::is_ascii_digit)
}

/// A command line: (verb, transaction id, endpoint).
fn command(l: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut w = l.split(|&c| c == b' ').filter(|w| !w.is_empty());
    let (verb, id, ep, proto, ver) = (w.next()?, w.next()?, w.next()?, w.next()?, w.next()?);
    let ver_ok = matches!(ver, [a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit());
    let ep_ok = ep.iter().filter(|&&c| c == b'@').count() == 1 && ep.len() > 2 && ep.iter().all(u8::is_ascii_graphic);
    (VERBS.contains(&verb) && trans_id(id) && ep_ok && proto == b"MGCP" && ver_ok && w.next().is_none())
        .then_some((verb, id, ep))
}

/// A response line's transaction id.
fn response_id(l: &[u8]) -> Option<&[u8]> {
    let mut w = l.split(|&c| c == b' ');
    let (code, id) = (w.next()?, w.next()?);
    (code.len() == 3 && code.iter().all(u8::is_ascii_digit) && trans_id(id)).then_some(id)
}

/// The first line of a datagram (ending in CR, LF or the datagram).
fn first_line(d: &[u8]) -> &[u8] {
    let end = d.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(d.len());
    &d[..end]
}

/// The first letters of [`VERBS`], which the probe requires.
const FIRST: ByteSet = ByteSet::initials(&VERBS);

impl Dissector for Mgcp {
    fn name(&self) -> &'static str {
        "mgcp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.len() >= 5 && VERBS.contains(&&d[..4]) && d[4] == b' ' {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// A verb's first letter (`FIRST`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(FIRST)
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some((verb, id, ep)) = command(first_line(p.first_payload())) else {
            return Parse::NotMine;
        };
        let answer = p.second_side().first();
        if !answer.is_empty() && response_id(first_line(answer)) != Some(id) {
            return Parse::NotMine;
        }
        meta.protocol = Some("mgcp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("mgcp_verb", to_string(verb, VALUE_MAX));
        meta.set_extra("mgcp_endpoint", to_string(ep, VALUE_MAX));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// mgcp.pcap: a notification request and its (error) answer.
    const RQNT: &[u8] = b"RQNT 1 *@gateway44.myplace.com MGCP 0.1\r\nR: l/hd(n)\r\nX: 2\r\n\r\n";
    const ANSWER: &[u8] = b"510 1 Protocol Error: Forbidden parameter line present.\n";

    #[test]
    fn command_and_response() {
        let (r, m) = check_split_udp(&Mgcp, 2427, 2427, &[RQNT], &[ANSWER]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("mgcp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("mgcp_verb"), Some("RQNT"));
        assert_eq!(m.extra("mgcp_endpoint"), Some("*@gateway44.myplace.com"));
        // mgcp.pcap: a restart without line ends, answered 200.
        let rsip = b"RSIP 31656860 *@gateway44.myplace.com MGCP 1.0\nRM: restart\n";
        let (r, _) = check_split_udp(&Mgcp, 2427, 2427, &[rsip], &[b"200 31656860 ok\r\n\r\n"]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_mgcp() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"RQNT 1 *@gateway44.myplace.com SIP 0.1\r\n", b""),
            (b"RQNT x1 *@gateway44.myplace.com MGCP 0.1\r\n", b""),
            (b"RQNT 1 gateway44.myplace.com MGCP 0.1\r\n", b""),
            (b"SEND 1 *@gateway44.myplace.com MGCP 0.1\r\n", b""),
            (b"RQNT 1 *@gateway44.myplace.com MGCP 1\r\n", b""),
            (RQNT, b"510 2 Protocol Error\n"),
        ];
        for (o, r) in cases {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![r] };
            let f = UdpFixture::new(2427, 2427, &[o], &resp);
            assert!(!crate::dissect::not_refused(&Mgcp, &f.payloads()), "{o:?}");
        }
    }
}
