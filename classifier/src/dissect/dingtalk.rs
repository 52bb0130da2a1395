//! DingTalk's own handshake over TCP (seen on port 443 instead of TLS),
//! described from two independent samples (the corpus capture and one
//! quoted in another classifier's sources, different lengths and client
//! strings). The client's first message is a 4-byte header (the byte
//! 0x10, the length of the rest in one byte, then 0x87 0x80) and fields
//! that fill that length exactly, each a type byte, a big-endian 16-bit
//! length and the value: type 1 (one byte), type 2 the marker `dk`, type
//! 3 a 32-byte value, types 4 and 5 eight bytes each, 0x82 two bytes
//! (`WK`), 0x84 the client's platform and version as text.
//!
//! A flow is DingTalk when that message is whole, its fields tile it and
//! the `dk` field comes second. The message carries identifiers, a
//! 32-byte key-sized value and text, nothing enciphered: cleartext when
//! nothing else has passed; what follows the handshake is not described,
//! so then the class is left unknown.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct DingTalk;

const HEAD: [u8; 4] = [0x10, 0x00, 0x87, 0x80];
const HEADER: usize = 4;
/// The opening fields: type 1 of one byte (its value free), then type 2
/// `dk`.
const OPENING: &[u8] = b"\x01\x00\x01";
const MARKER: &[u8] = b"\x02\x00\x02dk";
const CLIENT_FIELD: u8 = 0x84;

/// What the start of the client's stream holds.
enum Hello<'a> {
    No,
    Short,
    /// The whole first message: its client string, and its length.
    Whole(Option<&'a [u8]>, usize),
}

fn hello(d: &[u8]) -> Hello<'_> {
    // The fixed bytes of the header, then of the opening fields.
    let fixed = |i: usize| match i {
        0 | 2 | 3 => Some(HEAD[i]),
        4..=6 => Some(OPENING[i - 4]),
        8..=12 => Some(MARKER[i - 8]),
        _ => None,
    };
    for (i, &b) in d.iter().enumerate().take(13) {
        if fixed(i).is_some_and(|f| f != b) {
            return Hello::No;
        }
    }
    let Some(&n) = d.get(1) else {
        return Hello::Short;
    };
    let end = HEADER + usize::from(n);
    let Some(body) = d.get(HEADER..end) else {
        return Hello::Short;
    };
    let mut at = 0usize;
    let mut client = None;
    while at < body.len() {
        let Some(h) = body.get(at..at + 3) else {
            return Hello::No;
        };
        let len = usize::from(u16::from_be_bytes([h[1], h[2]]));
        let Some(v) = body.get(at + 3..at + 3 + len) else {
            return Hello::No;
        };
        if h[0] == CLIENT_FIELD {
            client = Some(v);
        }
        at += 3 + len;
    }
    Hello::Whole(client, end)
}

impl Dissector for DingTalk {
    fn name(&self) -> &'static str {
        "dingtalk"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match hello(p.orig.stream()) {
            Hello::No => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let c = p.orig.stream();
        let (client, end) = match hello(c) {
            Hello::No => return Parse::NotMine,
            Hello::Short => return p.undecided(),
            Hello::Whole(client, end) => (client, end),
        };
        meta.protocol = Some("dingtalk");
        meta.app = Some("dingtalk".to_string());
        meta.encryption = if c.len() == end && p.resp.is_empty() {
            Encryption::Cleartext
        } else {
            Encryption::Unknown
        };
        if let Some(v) = client.filter(|v| v.iter().all(|b| b.is_ascii_graphic())) {
            meta.set_extra("dingtalk_client", String::from_utf8_lossy(v).into_owned());
        }
        Parse::Identified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// dingtalk.pcap, the flow to 47.246.133.39:443: the client's whole
    /// 104-byte handshake message.
    const HELLO: &[u8] = b"\x10\x64\x87\x80\x01\x00\x01\x00\x02\x00\x02dk\x03\x00\x20\x16\x6d\xdd\x35\x5a\x39\xce\x32\x7b\xb2\x84\xe5\x3a\xc4\x5a\xf7\xeb\x6c\x7d\x1d\x93\xa8\xf8\xa3\x75\x4c\xfc\x18\x23\x3b\x8a\x3d\x04\x00\x08\x9a\x90\x6e\x16\xd1\xfc\xf4\xa3\x05\x00\x08\x37\x9d\x23\x83\x41\x44\x55\x24\x82\x00\x02WK\x84\x00\x1aandroid/3.0.28-dingtalk.gp";

    #[test]
    fn handshake() {
        assert_eq!(HELLO.len(), 104);
        let (r, m) = check_split_tcp(&DingTalk, 443, HELLO, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("dingtalk"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dingtalk_client"), Some("android/3.0.28-dingtalk.gp"));
        // The server's answer is not described: the class is left open.
        let (r, m) = check_split_tcp(&DingTalk, 443, HELLO, b"\x10\x20\x87\x80");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.encryption, Encryption::Unknown);
    }

    #[test]
    fn not_dingtalk() {
        // A length one off, so the fields no longer tile it.
        let mut short = HELLO.to_vec();
        short[1] = 0x63;
        let mut long = HELLO.to_vec();
        long[1] = 0x65;
        long.push(0);
        let mut marker = HELLO.to_vec();
        marker[12] = b'K';
        let mut tls = HELLO.to_vec();
        tls[0] = 0x16;
        for d in [short, long, marker, tls] {
            let ends = [[d.len() as u32], [0]];
            let mut p = Payloads::tcp(40000, 443, &d, &[], &ends);
            p.last = true;
            assert!(!not_refused(&DingTalk, &p), "{d:?}");
        }
    }
}
