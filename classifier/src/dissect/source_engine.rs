//! Source Engine (Valve) server queries over UDP, on any port.
//!
//! Every single-packet message starts with the header `FF FF FF FF`
//! and a type byte. Requests: `T` A2S_INFO (the string
//! `Source Engine Query` and its NUL, possibly followed by a 4-byte
//! challenge), `U` A2S_PLAYER and `V` A2S_RULES (a 4-byte challenge),
//! `W` get-challenge and `i` A2A_PING (nothing more). Answers: `I` info
//! (a protocol version byte, then the NUL-terminated server name),
//! `A` a 4-byte challenge. A multi-packet answer (header `FF FF FF FE`)
//! is left out: it follows a request the dissector already saw.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct SourceEngine;

const HEADER: [u8; 4] = [0xff; 4];
const INFO_QUERY: &[u8] = b"Source Engine Query\0";

/// The query name when `d` is a whole Source Engine message.
fn message(d: &[u8]) -> Option<&'static str> {
    let body = d.strip_prefix(&HEADER)?;
    let (&kind, rest) = body.split_first()?;
    let ok = match kind {
        b'T' => rest
            .strip_prefix(INFO_QUERY)
            .is_some_and(|c| c.is_empty() || c.len() == 4),
        b'U' | b'V' | b'A' => rest.len() == 4,
        b'W' | b'i' => rest.is_empty(),
        // Info answer: protocol version, then a NUL-terminated name.
        b'I' => rest.len() >= 2 && rest[1..].contains(&0),
        _ => false,
    };
    ok.then_some(match kind {
        b'T' => "info_request",
        b'U' => "player_request",
        b'V' => "rules_request",
        b'W' => "challenge_request",
        b'i' => "ping",
        b'A' => "challenge",
        _ => "info",
    })
}

impl Dissector for SourceEngine {
    fn name(&self) -> &'static str {
        "source_engine"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.first_payload().starts_with(&HEADER) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the `ff ff ff ff` header.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0xff]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(kind) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("source_engine");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("source_engine_message", kind);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn info_query_and_answer() {
        let q = b"\xff\xff\xff\xffTSource Engine Query\x00";
        let a = b"\xff\xff\xff\xffI\x11My server\x00de_dust2\x00cstrike\x00";
        let (r, m) = check_split_udp(&SourceEngine, 40000, 27015, &[q], &[a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("source_engine"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("source_engine_message"), Some("info_request"));
        let (_, m) = check_split_udp(&SourceEngine, 27015, 40000, &[a], &[]);
        assert_eq!(m.extra("source_engine_message"), Some("info"));
        let players = b"\xff\xff\xff\xffU\xff\xff\xff\xff";
        let (_, m) = check_split_udp(&SourceEngine, 40000, 27015, &[players], &[]);
        assert_eq!(m.extra("source_engine_message"), Some("player_request"));
    }

    #[test]
    fn not_source_engine() {
        let cases: [&[u8]; 5] = [
            b"\xff\xff\xff\xffTSource Engine Quer",
            b"\xff\xff\xff\xffU\x01\x02\x03",
            b"\xff\xff\xff\xffZ",
            b"\xff\xff\xff\xfeTSource Engine Query\x00",
            b"\xff\xff\xff\xffI\x11no terminator",
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 27015, &[d], &[]);
            let claimed = crate::dissect::not_refused(&SourceEngine, &f.payloads());
            assert!(!claimed, "{d:?}");
        }
    }
}
