//! TeamSpeak 3's server list announcement (the "weblist"): a TeamSpeak 3
//! server that is listed publicly reports itself over UDP to TeamSpeak's
//! list server on port 2010. There is no published description; what is
//! checked is the structure the exchange shows on the wire (teamspeak3.pcap):
//!
//! - every datagram opens with a 4-byte header: version 1, a 16-bit
//!   little-endian counter that grows by one per request, and the
//!   message type (1: ask for a token, 2: announce);
//! - the list server answers each request with the request's header
//!   unchanged: a token request with a 4-byte token, an announcement
//!   with a one-byte status;
//! - the announcement that follows carries that token, then the
//!   server's voice port (little-endian, 9987 in the capture), its slot
//!   count and its user counts.
//!
//! Counters, tokens, ports and counts travel in the clear: `cleartext`.
//! The voice protocol (UDP 9987: `TS3INIT1` handshake, then EAX-sealed
//! commands and voice) is a different exchange and is not taken here.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct TeamSpeak;

const HEADER: usize = 4;
const VERSION: u8 = 1;
const TOKEN_REQUEST: u8 = 1;
const ANNOUNCE: u8 = 2;
const TOKEN: usize = 4;
/// Shortest announcement: header, token, voice port.
const ANNOUNCE_MIN: usize = HEADER + TOKEN + 2;
/// Longest announcement taken (the capture's are 16 bytes).
const ANNOUNCE_MAX: usize = 64;
/// Datagrams per side compared.
const LOOK: usize = 8;

/// The message type of a well-formed request.
fn request(d: &[u8]) -> Option<u8> {
    match d {
        [VERSION, _, _, TOKEN_REQUEST] => Some(TOKEN_REQUEST),
        [VERSION, _, _, ANNOUNCE, ..] if (ANNOUNCE_MIN..=ANNOUNCE_MAX).contains(&d.len()) => Some(ANNOUNCE),
        _ => None,
    }
}

/// `a` answers the request `q`: the same header and the length its type
/// gives.
fn answers(q: &[u8], a: &[u8]) -> bool {
    let want = match request(q) {
        Some(TOKEN_REQUEST) => HEADER + TOKEN,
        Some(_) => HEADER + 1,
        None => return false,
    };
    a.len() == want && a.get(..HEADER) == q.get(..HEADER)
}

impl Dissector for TeamSpeak {
    fn name(&self) -> &'static str {
        "teamspeak"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if request(p.orig.first()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let q = p.orig.first();
        if request(q).is_none() {
            return Parse::NotMine;
        }
        match p.resp.first() {
            [] => return p.undecided(),
            a if answers(q, a) => {}
            _ => return Parse::NotMine,
        }
        // Every later request is well formed too, and an announcement
        // after a token answer carries that token.
        let token = p
            .resp
            .first()
            .get(HEADER..HEADER + TOKEN)
            .filter(|_| request(q) == Some(TOKEN_REQUEST));
        for d in p.orig.chunks().take(LOOK).skip(1) {
            match request(d) {
                None => return Parse::NotMine,
                Some(ANNOUNCE) if token.is_some() && d.get(HEADER..HEADER + TOKEN) != token => return Parse::NotMine,
                _ => {}
            }
        }
        meta.protocol = Some("teamspeak");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("teamspeak".to_string());
        meta.set_extra("teamspeak_message", "weblist");
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// teamspeak3.pcap frames 14-17: token request, token, announcement
    /// (the token, voice port 9987, 32 slots, no users), status.
    const ASK: [u8; 4] = [0x01, 0x80, 0x84, 0x01];
    const TOKEN_ANSWER: [u8; 8] = [0x01, 0x80, 0x84, 0x01, 0x7c, 0x65, 0xd9, 0xa7];
    const ANNOUNCEMENT: [u8; 16] = [
        0x01, 0x81, 0x84, 0x02, 0x7c, 0x65, 0xd9, 0xa7, 0x03, 0x27, 0x20, 0, 0, 0, 0, 0,
    ];
    const STATUS: [u8; 5] = [0x01, 0x81, 0x84, 0x02, 0x00];

    #[test]
    fn token_then_announcement() {
        let (r, m) = check_split_udp(
            &TeamSpeak,
            2011,
            2010,
            &[&ASK, &ANNOUNCEMENT],
            &[&TOKEN_ANSWER, &STATUS],
        );
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("teamspeak"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("teamspeak_message"), Some("weblist"));
        // The token request answered: enough.
        let (r, _) = check_split_udp(&TeamSpeak, 2011, 2010, &[&ASK], &[&TOKEN_ANSWER]);
        assert_eq!(r, Parse::Identified);
        // Unanswered: wait.
        let (r, _) = check_split_udp(&TeamSpeak, 2011, 2010, &[&ASK], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn not_teamspeak() {
        let mut other_header = TOKEN_ANSWER;
        other_header[1] ^= 1;
        let mut version = ASK;
        version[0] = 2;
        let mut kind = ASK;
        kind[3] = 3;
        let cases: [(&[u8], &[u8]); 5] = [
            (&ASK, &other_header),
            (&ASK, &TOKEN_ANSWER[..7]),
            (&version, &TOKEN_ANSWER),
            (&kind, &TOKEN_ANSWER),
            (&ASK, &STATUS),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(2011, 2010, &[o], &[r]);
            assert!(!crate::dissect::not_refused(&TeamSpeak, &f.payloads()), "{o:?} {r:?}");
        }
        // An announcement carrying another token than the one given.
        let mut stolen = ANNOUNCEMENT;
        stolen[5] ^= 1;
        let f = UdpFixture::new(2011, 2010, &[&ASK, &stolen], &[&TOKEN_ANSWER]);
        assert!(!crate::dissect::not_refused(&TeamSpeak, &f.payloads()));
    }
}
