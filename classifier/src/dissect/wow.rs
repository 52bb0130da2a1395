//! World of Warcraft's world-server connection (TCP; port 3724 in the
//! captures). The server opens with a 16-bit little-endian length and
//! the NUL-terminated `WORLD OF WARCRAFT CONNECTION - SERVER TO CLIENT`;
//! the client answers with the same frame, `CLIENT TO SERVER`. What
//! follows in these builds (before the `- V2` strings of later ones) is
//! the client's authentication session in the clear (account, build,
//! a zlib-compressed add-on list) and game messages whose bodies are
//! readable: only the few header bytes of each message are scrambled
//! with a session stream cipher. The class is `cleartext`.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Wow;

const SERVER_HELLO: &[u8] = b"WORLD OF WARCRAFT CONNECTION - SERVER TO CLIENT\0";
const CLIENT_HELLO: &[u8] = b"WORLD OF WARCRAFT CONNECTION - CLIENT TO SERVER\0";
/// What every connection string starts with.
const PREFIX: &[u8] = b"WORLD OF WARCRAFT CONNECTION - ";

/// How far `d` agrees with the frame `len16 ++ text`: `Some(true)`
/// whole, `Some(false)` a prefix so far, `None` not this frame.
fn frame(d: &[u8], text: &[u8]) -> Option<bool> {
    let len = text.len() as u16;
    let mut want = len.to_le_bytes().to_vec();
    want.extend_from_slice(text);
    let n = d.len().min(want.len());
    if !agrees(d, &want) {
        return None;
    }
    Some(n == want.len())
}

/// Cheap look: the 16-bit length of a connection string, then its first
/// letters so far.
fn looks_like(d: &[u8]) -> bool {
    let len = SERVER_HELLO.len() as u16;
    let head = len.to_le_bytes();
    if !agrees(d, &head) {
        return false;
    }
    let rest = d.get(2..).unwrap_or_default();
    agrees(rest, PREFIX)
}

impl Dissector for Wow {
    fn name(&self) -> &'static str {
        "wow"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        if (o.is_empty() || looks_like(o)) && (r.is_empty() || looks_like(r)) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The low byte of the hello's length (`looks_like` on both sides).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&(SERVER_HELLO.len() as u16).to_le_bytes()[..1]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        // The server speaks first; either string is proof on its own,
        // and the other side, once it has spoken, must agree.
        let server = frame(r, SERVER_HELLO);
        let client = frame(o, CLIENT_HELLO);
        let verdict = match (o.is_empty(), r.is_empty()) {
            (true, true) => return p.undecided(),
            (true, false) => server,
            (false, true) => client,
            (false, false) => match (client, server) {
                (Some(c), Some(s)) => Some(c || s),
                _ => None,
            },
        };
        match verdict {
            None => Parse::NotMine,
            Some(false) => p.undecided(),
            Some(true) => {
                meta.protocol = Some("wow");
                meta.encryption = Encryption::Cleartext;
                meta.app = Some("worldofwarcraft".to_string());
                meta.set_extra("wow_message", "world_connection");
                Parse::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    fn hello(text: &[u8]) -> Vec<u8> {
        let mut v = (text.len() as u16).to_le_bytes().to_vec();
        v.extend_from_slice(text);
        v
    }

    #[test]
    fn connection_strings() {
        // wow.pcap frames 54-55: the two strings, as sent (0x30 = 48).
        let s = hello(SERVER_HELLO);
        let c = hello(CLIENT_HELLO);
        assert_eq!(&s[..2], &[0x30, 0x00]);
        let (r, m) = check_split_tcp(&Wow, 3724, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("wow"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // The server's string alone is enough.
        let (r, _) = check_split_tcp(&Wow, 3724, &[], &s);
        assert_eq!(r, Parse::Done);
        // A prefix waits.
        let (r, _) = check_split_tcp(&Wow, 3724, &[], &s[..20]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn not_wow() {
        let s = hello(SERVER_HELLO);
        let c = hello(CLIENT_HELLO);
        let mut bad_len = s.clone();
        bad_len[0] = 0x31;
        let mut bad_text = s.clone();
        bad_text[40] = b'x';
        let cases: [(&[u8], &[u8]); 4] = [
            (&[], &bad_len),
            (&[], &bad_text),
            // The server string from the client, and the reverse.
            (&s, &c),
            (b"GET / HTTP/1.1\r\n\r\n", &s),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 3724, o, r, &ends);
            let claimed = Wow.probe(&p) != Probe::NotMine && Wow.parse(&p, &mut Meta::default()) == Parse::Done;
            assert!(!claimed, "{o:?} {r:?}");
        }
    }
}
