//! Apache Kafka's wire protocol (kafka.apache.org, "A Guide To The Kafka
//! Protocol") over TCP, on any port (9092 is only a hint). Every message
//! is a 32-bit big-endian size and that many bytes. A request opens
//! with api_key (16 bits, 0..=74 today), api_version (16 bits),
//! correlation_id (32 bits) and client_id (a 16-bit length, -1 for
//! null, then that many bytes); a response opens with the
//! correlation_id of the request it answers.
//!
//! Taken as Kafka: a first request whose size lands exactly on the end
//! of the data (or on the next request), with a printable client id,
//! or any first request answered by a response echoing its correlation
//! id. Without TLS (which the TLS dissector takes first) the records
//! travel in clear: cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Kafka;

const MAX_API_KEY: u16 = 74;
const MAX_API_VERSION: u16 = 20;
/// Requests larger than this are not taken as evidence (the broker's
/// default limit is 100 MiB, but a session opens small).
const MAX_SIZE: u32 = 1 << 24;
const CLIENT_MAX: usize = 255;
/// Size, api_key, api_version, correlation_id, client_id length.
const HEADER: usize = 4 + 2 + 2 + 4 + 2;

/// A request header opening `d`.
#[derive(Debug, PartialEq)]
struct Request<'a> {
    size: usize,
    api_key: u16,
    correlation: [u8; 4],
    client: Option<&'a [u8]>,
}

/// `Ok(Some)` for a request header, `Ok(None)` for a prefix of one,
/// `Err` when `d` does not open with one.
fn request(d: &[u8]) -> Result<Option<Request<'_>>, ()> {
    let be16 = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    if d.len() >= 4 {
        let size = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        if !(HEADER as u32 - 4..=MAX_SIZE).contains(&size) {
            return Err(());
        }
    }
    if d.len() >= 6 && be16(4) > MAX_API_KEY {
        return Err(());
    }
    if d.len() >= 8 && be16(6) > MAX_API_VERSION {
        return Err(());
    }
    if d.len() < HEADER {
        return Ok(None);
    }
    let size = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize;
    let len = be16(12);
    let client = if len == u16::MAX {
        None
    } else {
        let len = usize::from(len);
        if len > CLIENT_MAX || HEADER - 4 + len > size {
            return Err(());
        }
        let Some(c) = d.get(HEADER..HEADER + len) else {
            return Ok(None);
        };
        if !c.iter().all(|b| b.is_ascii_graphic()) {
            return Err(());
        }
        Some(c)
    };
    Ok(Some(Request {
        size,
        api_key: be16(4),
        correlation: [d[8], d[9], d[10], d[11]],
        client,
    }))
}

fn api_name(k: u16) -> &'static str {
    match k {
        0 => "produce",
        1 => "fetch",
        2 => "list_offsets",
        3 => "metadata",
        8 => "offset_commit",
        9 => "offset_fetch",
        10 => "find_coordinator",
        11 => "join_group",
        12 => "heartbeat",
        17 => "sasl_handshake",
        18 => "api_versions",
        36 => "sasl_authenticate",
        _ => "other",
    }
}

impl Dissector for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if request(p.orig.stream()).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = p.orig.stream();
        let r = match request(c) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(r)) => r,
        };
        let end = 4 + r.size;
        // The answer: a size, then the same correlation id.
        let s = p.resp.stream();
        let answered = s.len() >= 8 && s[4..8] == r.correlation && {
            let size = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
            (4..=MAX_SIZE).contains(&size)
        };
        if s.len() >= 8 && !answered {
            return Parse::NotMine;
        }
        // A server answers a request it has whole: the size must frame the
        // client's data exactly or lead to the next request. (A matching
        // correlation id alone is weak: clients start at 0, and so do
        // zero-filled binary headers.)
        if c.len() < end {
            return if answered { Parse::NotMine } else { p.undecided() };
        }
        match request(&c[end..]) {
            _ if c.len() == end => {}
            Ok(Some(_)) => {}
            Ok(None) => return p.undecided(),
            Err(()) => return Parse::NotMine,
        }
        // Without an answer, also a client id.
        if !answered && r.client.is_none_or(<[u8]>::is_empty) {
            return p.undecided();
        }
        meta.protocol = Some("kafka");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("kafka_api", api_name(r.api_key));
        if let Some(client) = r.client {
            meta.set_extra("kafka_client_id", String::from_utf8_lossy(client).into_owned());
        }
        if answered {
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

    // kafka.pcapng: librdkafka's ApiVersions request (correlation id 4).
    const API_VERSIONS: &[u8] = b"\x00\x00\x00\x15\x00\x12\x00\x00\x00\x00\x00\x04\x00\x07rdkafka\x00\x00\x00\x00";

    #[test]
    fn unanswered_api_versions() {
        let (r, m) = check_split_tcp(&Kafka, 9092, API_VERSIONS, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("kafka"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("kafka_api"), Some("api_versions"));
        assert_eq!(m.extra("kafka_client_id"), Some("rdkafka"));
    }

    #[test]
    fn metadata_request_and_response() {
        // kafka.pcapng: a Metadata request (correlation id 2, null client
        // id) cut to its header, and the broker's answer.
        let mut req = b"\x00\x00\x00\x1b\x00\x03\x00\x02\x00\x00\x00\x02\xff\xff".to_vec();
        req.extend_from_slice(b"\x00\x00\x00\x01\x00\x0bLB_MAIN_LOG");
        let resp = b"\x00\x00\x00\x39\x00\x00\x00\x02\x00\x00\x00\x01\x00\x11";
        let (r, m) = check_split_tcp(&Kafka, 9092, &req, resp);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("kafka_api"), Some("metadata"));
        assert_eq!(m.extra("kafka_client_id"), None);
    }

    #[test]
    fn an_answer_to_a_request_not_yet_whole_is_not_kafka() {
        // A length-prefixed binary stream (baikal's own generator): the
        // first four bytes read as a 328 013-byte request, produce v0 with
        // correlation id 0, and the other side's first frame repeats the
        // zero id. No server answers a request it has not received.
        let c = b"\x00\x05\x01\x4d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x03\x00\x00\x00\x00\x00\x01";
        let s = b"\x00\x05\x01\x06\x00\x00\x00\x00\x96\x01\x00\x00\x00\x01\x00\x02";
        let (r, _) = check_split_tcp(&Kafka, 44131, c, s);
        assert_eq!(r, Parse::NotMine);
    }

    #[test]
    fn not_kafka() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"\x00\x00\x00\x15\x00\x99\x00\x00\x00\x00\x00\x04\x00\x07rdkafka\x00\x00\x00\x00", b""),
            (b"\x00\x00\x00\x15\x00\x12\x00\x00\x00\x00\x00\x04\x00\x07rd\x01afka\x00\x00\x00\x00", b""),
            (b"\x00\x00\x00\x16\x00\x12\x00\x00\x00\x00\x00\x04\x00\x07rdkafka\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", b""),
            (API_VERSIONS, b"\x00\x00\x00\x10\x00\x00\x00\x05"),
            (b"GET / HTTP/1.1\r\n\r\n", b""),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let mut p = Payloads::tcp(40000, 9092, c, s, &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Kafka, &p);
            assert!(!claimed, "{c:?}");
        }
    }
}
