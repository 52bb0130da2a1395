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
//!
//! The voice protocol (UDP 9987) is taken by its opening: the client's
//! `Init1` packets carry the fixed MAC `TS3INIT1`, packet id 101
//! (`00 65`), client id 0, the type byte `0x88` (Init1, unencrypted
//! flag), a 4-byte client version and the handshake step: 0 (34 bytes
//! in all), 2 (38) or 4 (the puzzle's solution and the first command,
//! longer); the server's answers carry the same MAC, packet id and type
//! byte (no client id). That handshake is an RSA puzzle, and every
//! packet after it is sealed with AES-EAX (the datagrams that follow in
//! the capture are random past their 8-byte MAC and header): `encrypted`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
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

const INIT_MAC: &[u8; 8] = b"TS3INIT1";
const INIT_ID: [u8; 2] = [0x00, 0x65];
const INIT_TYPE: u8 = 0x88;

/// A client's Init1 packet (voice handshake): MAC, packet id, client id
/// 0, type, version, then a step whose length is known.
fn client_init(d: &[u8]) -> bool {
    if d.len() < 18 || !d.starts_with(INIT_MAC) || d[8..10] != INIT_ID || d[10..12] != [0, 0] || d[12] != INIT_TYPE {
        return false;
    }
    match d[17] {
        0 => d.len() == 34,
        2 => d.len() == 38,
        4 => d.len() > 38,
        _ => false,
    }
}

/// A server's Init1 packet: MAC, packet id, type (no client id).
fn server_init(d: &[u8]) -> bool {
    d.len() > 11 && d.starts_with(INIT_MAC) && d[8..10] == INIT_ID && d[10] == INIT_TYPE
}

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
        if request(p.orig.first()).is_some() || client_init(p.orig.first()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the originator's weblist request (version 1,
    /// `request`) or `TS3INIT1` (`client_init`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[VERSION, b'T']))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let q = p.orig.first();
        if client_init(q) {
            return match p.resp.first() {
                a if a.is_empty() || server_init(a) => {
                    meta.protocol = Some("teamspeak");
                    meta.encryption = Encryption::Encrypted;
                    meta.app = Some("teamspeak".to_string());
                    meta.set_extra("teamspeak_message", "voice");
                    Parse::Done
                }
                _ => Parse::NotMine,
            };
        }
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

    /// teamspeak3.pcap, 10.0.0.1:53187 -> 10.0.0.2:9987: the client's
    /// Init1, step 0 (version, step, time stamp, random, reserved).
    const INIT0: &str = "545333494e49543100650000880dd05766005f5916e0ade76b610000000000000000";

    #[test]
    fn voice_handshake() {
        let q = crate::dissect::unhex(INIT0);
        let (r, m) = check_split_udp(&TeamSpeak, 53187, 9987, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("teamspeak"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("teamspeak_message"), Some("voice"));
        let mut a = b"TS3INIT1\x00\x65\x88\x01".to_vec();
        a.extend_from_slice(&[0x5a; 20]);
        let (r, _) = check_split_udp(&TeamSpeak, 53187, 9987, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        let mut other = a.clone();
        other[7] = b'2';
        let mut step = q.clone();
        step[17] = 1;
        let mut client = q.clone();
        client[11] = 1;
        let cases: [(&[u8], &[u8]); 4] = [(&q, &other), (&step, &[]), (&client, &[]), (&q[..33], &[])];
        for (o, r) in cases {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![r] };
            let f = UdpFixture::new(53187, 9987, &[o], &resp);
            assert!(!crate::dissect::not_refused(&TeamSpeak, &f.payloads()), "{o:?}");
        }
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
