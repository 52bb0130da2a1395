//! DNSCrypt v2 queries and answers over UDP (and TCP, where each message
//! carries a two-byte length), on any port (443 and 5353 are common).
//!
//! A query is `client magic (8) | client public key (32) | client nonce
//! (12) | ciphertext` and its answer `resolver magic (8) | nonce (24) |
//! ciphertext`, where the resolver magic is the constant `r6fnvWj8` and
//! the answer's nonce starts with the query's 12-byte client nonce. The
//! query alone is random-looking; the flow is claimed on an answer that
//! carries the constant and echoes the nonce of one of the queries seen:
//! 160 bits that do not match by chance.
//!
//! The certificate fetch that precedes a session is ordinary DNS (a TXT
//! query for `2.dnscrypt-cert.<provider>`); the DNS dissector reports
//! it as `dnscrypt` too.
//!
//! Everything past the headers is ciphertext (X25519 key exchange,
//! XSalsa20-Poly1305 or XChaCha20-Poly1305): encrypted.

use super::{agrees, Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct DnsCrypt;

/// The resolver's magic, the first 8 bytes of every answer.
const RESOLVER_MAGIC: &[u8; 8] = b"r6fnvWj8";
/// Client magic, public key and nonce.
const QUERY_HEADER: usize = 8 + 32 + 12;
/// Plus at least the 16-byte authenticator.
const QUERY_MIN: usize = QUERY_HEADER + 16;
/// Resolver magic and the 24-byte nonce, plus the authenticator.
const ANSWER_MIN: usize = 8 + 24 + 16;
/// UDP queries are padded to a multiple of 64 bytes, 256 at least: every
/// DNSCrypt query in the corpus is (512, 576 and 1088 bytes, from three
/// clients). The query itself cannot be told from other random-looking
/// datagrams, so this is what keeps this dissector from holding every
/// unanswered random datagram's flow in inspection while it waits for an
/// answer: one in 64 of them at most.
const UDP_QUERY_MIN: usize = 256;
const UDP_PADDING: usize = 64;
/// A TCP query announces its length first; a DNS message fits in this.
const TCP_QUERY_MAX: usize = 4096;
/// Queries whose nonces an answer may echo (UDP answers can come out of
/// order or be lost).
const QUERIES_LOOKED_AT: usize = 8;

/// The messages of one side: datagrams, or length-prefixed TCP messages
/// (complete ones only).
fn messages<'a>(s: Side<'a>, tcp: bool) -> Vec<&'a [u8]> {
    if !tcp {
        return s.chunks().take(QUERIES_LOOKED_AT).collect();
    }
    let mut out = Vec::new();
    let mut d = s.stream();
    while out.len() < QUERIES_LOOKED_AT {
        let Some((len, rest)) = d.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes(*len));
        let Some(m) = rest.get(..len) else { break };
        out.push(m);
        d = &rest[len..];
    }
    out
}

fn is_query(q: &[u8]) -> bool {
    q.len() >= QUERY_MIN
}

/// An answer to one of `queries`: the magic and that query's nonce.
fn answers<'a>(a: &[u8], queries: &[&'a [u8]]) -> Option<&'a [u8]> {
    if a.len() < ANSWER_MIN || !a.starts_with(RESOLVER_MAGIC) {
        return None;
    }
    let nonce = a.get(8..8 + 12)?;
    queries
        .iter()
        .copied()
        .find(|q| is_query(q) && q.get(40..QUERY_HEADER) == Some(nonce))
}

impl Dissector for DnsCrypt {
    fn name(&self) -> &'static str {
        "dnscrypt"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let tcp = p.transport == Transport::Tcp;
        // The originator speaks first, with a whole query header: a padded
        // datagram (UDP), or a length prefix announcing one (TCP).
        let query_shaped = if tcp {
            let d = p.orig.stream();
            d.len() < 2 || (QUERY_MIN..=TCP_QUERY_MAX).contains(&usize::from(u16::from_be_bytes([d[0], d[1]])))
        } else {
            let n = p.orig.first().len();
            n >= UDP_QUERY_MIN && n.is_multiple_of(UDP_PADDING)
        };
        if p.orig.is_empty() || !query_shaped {
            return Probe::NotMine;
        }
        // The resolver's magic opens the responder's first message.
        let resp = if tcp {
            p.resp.stream().get(2..).unwrap_or_default()
        } else {
            p.resp.first()
        };
        if !agrees(resp, RESOLVER_MAGIC) {
            return Probe::NotMine;
        }
        Probe::Maybe
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let tcp = p.transport == Transport::Tcp;
        let queries = messages(p.orig, tcp);
        let answers_seen = messages(p.resp, tcp);
        let Some(first) = answers_seen.first() else {
            return p.undecided();
        };
        let Some(q) = answers(first, &queries) else {
            // A TCP query may still be arriving.
            let partial = tcp && queries.is_empty();
            return if partial { p.undecided() } else { Parse::NotMine };
        };
        meta.protocol = Some("dnscrypt");
        meta.encryption = Encryption::Encrypted;
        meta.set_extra("dnscrypt_version", "2");
        meta.set_extra("dnscrypt_client_magic", crate::fingerprint::fmt::hex(&q[..8]));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    /// dnscrypt-v2.pcap (nDPI corpus): the first query (1088 bytes; the
    /// first 128 here, the rest is ciphertext no check reads) and the
    /// first 64 bytes of its answer.
    const QUERY: &str = "e3c3eac4701b47d5dec5672004a90bde439e38f593136bcabfb1b76fe34e5bceb606fc1bd6b85e45\
                         0a50507d66afa7bc382bbf7e26e7f1c61302fb1170d640f3f95374ed735f1eb8c59bc6c3d8c35688\
                         72b83e362bc52847ad0d90d76ac660e6d2a5658855978b39a58d39f6943ec24c7a180ddcea8e3907\
                         9871d461eecd7a3c";
    const ANSWER: &str = "7236666e76576a380a50507d66afa7bc382bbf7e70c0f164928905af515a8a03bc1fe084c3d5d9f6\
                          ff7888a61dbe1a1f1fbfebd13debba5b59f59b8c630eb728";

    /// The query at its real length: the ciphertext past the first 128
    /// bytes replaced by zeros (no check reads it).
    fn query() -> Vec<u8> {
        let mut q = unhex(QUERY);
        assert_eq!(q.len(), 128);
        q.resize(1088, 0);
        q
    }

    #[test]
    fn query_and_answer() {
        let (q, a) = (query(), unhex(ANSWER));
        let (r, m) = check_split_udp(&DnsCrypt, 50893, 5353, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dnscrypt"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("dnscrypt_client_magic"), Some("e3c3eac4701b47d5"));
        // The answer to the second query of the socket.
        let mut q2 = q.clone();
        q2[40] ^= 0x55;
        let (r, _) = check_split_udp(&DnsCrypt, 50893, 5353, &[&q2, &q], &[&a]);
        assert_eq!(r, Parse::Done);
        // The query alone waits for its answer.
        let f = UdpFixture::new(50893, 5353, &[&q], &[]);
        let mut m = Meta::default();
        assert_eq!(DnsCrypt.parse(&f.payloads(), &mut m), Parse::NeedMore);
    }

    #[test]
    fn over_tcp_with_length_prefixes() {
        let (q, a) = (query(), unhex(ANSWER));
        let framed = |m: &[u8]| {
            let mut v = (m.len() as u16).to_be_bytes().to_vec();
            v.extend_from_slice(m);
            v
        };
        let (r, m) = crate::dissect::check_split_tcp(&DnsCrypt, 443, &framed(&q), &framed(&a));
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dnscrypt"));
    }

    #[test]
    fn not_dnscrypt() {
        let (q, a) = (query(), unhex(ANSWER));
        // Another nonce, another magic, a short query, an unpadded one, no
        // query at all.
        let mut nonce = a.clone();
        nonce[19] ^= 1;
        let mut magic = a.clone();
        magic[0] = b'R';
        let cases: [(&[&[u8]], &[u8]); 5] = [
            (&[&q], &nonce),
            (&[&q], &magic),
            (&[&q[..60]], &a),
            (&[&q[..1087]], &a),
            (&[], &a),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(50893, 5353, o, &[r]);
            let mut p = f.payloads();
            p.last = true;
            assert!(!not_refused(&DnsCrypt, &p), "{o:?}");
        }
        // Truncations of both: no panic.
        for k in 0..a.len() {
            let f = UdpFixture::new(50893, 5353, &[&q], &[&a[..k]]);
            let mut m = Meta::default();
            let _ = DnsCrypt.probe(&f.payloads());
            let _ = DnsCrypt.parse(&f.payloads(), &mut m);
        }
    }
}
