//! Elasticsearch's node-to-node transport protocol over TCP, on any port
//! (9300 is only a hint). Every message opens with `ES` and a big-endian
//! 32-bit length counting the rest of the message (a keep-alive ping is
//! `ES` and length -1, nothing else). A message's own header follows: an
//! 8-byte request id, a status byte (request or response, error,
//! compressed, handshake: the top four bits zero) and the sender's
//! version id (major * 1,000,000 + minor * 10,000 + revision * 100 +
//! build). A response carries the request id of the request it answers.
//!
//! Taken as Elasticsearch: a first message whose length lands exactly on
//! the end of the data or on the next `ES` header, with a plausible
//! version id. Without TLS (taken first by the TLS dissector) actions,
//! documents and queries travel in clear, compressed or not: cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Elasticsearch;

const MAGIC: &[u8] = b"ES";
/// `ES`, length.
const PREFIX: usize = 6;
/// Request id, status, version.
const HEADER: usize = 8 + 1 + 4;
const PING: u32 = u32::MAX;
/// Largest message taken as evidence.
const MAX_LEN: usize = 1 << 24;
/// Version ids from 1.0.0 to 99.x.
const VERSIONS: std::ops::RangeInclusive<u32> = 1_000_000..=99_999_999;

/// A message opening `d`.
#[derive(Debug, PartialEq)]
struct Message {
    /// Offset past the message.
    end: usize,
    /// Request id, status and version (none for a ping).
    header: Option<([u8; 8], u8, u32)>,
}

/// `Ok(None)` while `d` is a prefix of a message, `Err` when `d` cannot
/// open one.
fn message(d: &[u8]) -> Result<Option<Message>, ()> {
    if !agrees(d, MAGIC) {
        return Err(());
    }
    let Some(l) = d.get(2..PREFIX) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]);
    if len == PING {
        return Ok(Some(Message {
            end: PREFIX,
            header: None,
        }));
    }
    let len = len as usize;
    if !(HEADER..=MAX_LEN).contains(&len) {
        return Err(());
    }
    if let Some(&status) = d.get(PREFIX + 8) {
        if status & 0xf0 != 0 {
            return Err(());
        }
    }
    let Some(h) = d.get(PREFIX..PREFIX + HEADER) else {
        return Ok(None);
    };
    let version = u32::from_be_bytes([h[9], h[10], h[11], h[12]]);
    if !VERSIONS.contains(&version) {
        return Err(());
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&h[..8]);
    Ok(Some(Message {
        end: PREFIX + len,
        header: Some((id, h[8], version)),
    }))
}

/// The first message with a header on one side, once it is whole and
/// tiles: followed by nothing or by the start of another message.
fn first(d: &[u8]) -> Result<Option<([u8; 8], u8, u32)>, ()> {
    let mut off = 0;
    // Pings may come first.
    for _ in 0..4 {
        let Some(m) = message(&d[off..])? else {
            return Ok(None);
        };
        let end = off + m.end;
        let rest = match d.get(end..) {
            None => return Ok(None),
            Some(r) => r,
        };
        match m.header {
            Some(h) => {
                message(rest)?;
                return Ok(Some(h));
            }
            None if rest.is_empty() => return Ok(None),
            None => off = end,
        }
    }
    Err(())
}

fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v / 1_000_000, v / 10_000 % 100, v / 100 % 100)
}

impl Dissector for Elasticsearch {
    fn name(&self) -> &'static str {
        "elasticsearch"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if message(p.first_payload()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the `ES` prefix (`message`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"E"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (p.first_side().stream(), p.second_side().stream());
        let Ok(x) = first(a) else {
            return Parse::NotMine;
        };
        let y = if b.is_empty() { Ok(None) } else { first(b) };
        let Ok(y) = y else {
            return Parse::NotMine;
        };
        let Some((id, status, version)) = x else {
            return p.undecided();
        };
        // An answer must be about the same request, in the other role.
        if let Some((rid, rstatus, _)) = y {
            if rid != id || (rstatus ^ status) & 1 == 0 {
                return Parse::NotMine;
            }
        }
        meta.protocol = Some("elasticsearch");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("es_version", version_string(version));
        if y.is_some() {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    // elasticsearch.pcap, 172.16.17.102:40282 -> 172.16.16.107:9300: the
    // transport handshake and its answer.
    const HANDSHAKE: &[u8] = b"ES\x00\x00\x00\x34\x00\x00\x00\x00\x00\x00\x00\x01\x08\x00\x5c\xc6\x63\x00\x00\x01\x06x-pack\x16internal:tcp/handshake\x00\x04\xcb\xf6\xae\x03";
    const ANSWER: &[u8] =
        b"ES\x00\x00\x00\x13\x00\x00\x00\x00\x00\x00\x00\x01\x09\x00\x5c\xc6\x63\x00\x00\xcb\xf6\xae\x03";

    #[test]
    fn handshake() {
        let (r, m) = check_split_tcp(&Elasticsearch, 9300, HANDSHAKE, ANSWER);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("elasticsearch"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("es_version"), Some("6.8.0"));
        let (r, _) = check_split_tcp(&Elasticsearch, 9300, HANDSHAKE, b"");
        assert_eq!(r, Parse::Identified);
        // A keep-alive ping, then the handshake.
        let c = [b"ES\xff\xff\xff\xff", HANDSHAKE].concat();
        let (r, _) = check_split_tcp(&Elasticsearch, 9300, &c, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_elasticsearch() {
        let mut long = HANDSHAKE.to_vec();
        long.push(0);
        let mut status = HANDSHAKE.to_vec();
        status[14] = 0x28;
        let mut version = HANDSHAKE.to_vec();
        version[15..19].copy_from_slice(&[0, 0, 0, 7]);
        let mut other_id = ANSWER.to_vec();
        other_id[13] = 2;
        let cases: [(&[u8], &[u8]); 5] = [
            (&long, b""),
            (&status, b""),
            (&version, b""),
            (HANDSHAKE, &other_id),
            (HANDSHAKE, HANDSHAKE),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let p = Payloads::tcp(40000, 9300, c, s, &ends);
            assert!(!crate::dissect::not_refused(&Elasticsearch, &p), "{c:?} {s:?}");
        }
    }
}
