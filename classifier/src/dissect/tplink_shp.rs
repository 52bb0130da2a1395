//! TP-Link's Smart Home Protocol (Kasa plugs, bulbs and switches) on
//! port 9999 (either side): a JSON command such as
//! `{"system":{"get_sysinfo":{}}}` run through an autokey XOR whose
//! first key is 171 (each plain byte is XORed with the previous cipher
//! byte). Over UDP a datagram is one message; over TCP each message is
//! preceded by its 32-bit big-endian length. The key is fixed and
//! public, so the JSON is only obfuscated: cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct TplinkShp;

const PORT: u16 = 9999;
const FIRST_KEY: u8 = 171;
/// Over TCP, how much of a message is enough to decide.
const ENOUGH: usize = 24;
/// Longest first key reported.
const KEY_MAX: usize = 32;

/// Decodes `d` (a message from its start) and checks it is JSON text
/// opening an object with a key: `{"`, then printable ASCII or
/// whitespace throughout. Returns the first key when it ends within `d`.
fn plain_json(d: &[u8]) -> Option<String> {
    let mut key = FIRST_KEY;
    let mut first_key = String::new();
    let mut in_key = true;
    for (i, &c) in d.iter().enumerate() {
        let b = c ^ key;
        key = c;
        let ok = match i {
            0 => b == b'{',
            1 => b == b'"',
            _ => b.is_ascii_graphic() || b.is_ascii_whitespace(),
        };
        if !ok {
            return None;
        }
        if i >= 2 && in_key {
            if b == b'"' {
                in_key = false;
            } else if first_key.len() < KEY_MAX {
                first_key.push(char::from(b));
            }
        }
    }
    Some(if in_key { String::new() } else { first_key })
}

/// Decodes the last byte of a UDP message, which must close the object.
fn last_plain(d: &[u8]) -> Option<u8> {
    let (&last, rest) = d.split_last()?;
    Some(last ^ rest.last().copied().unwrap_or(FIRST_KEY))
}

impl Dissector for TplinkShp {
    fn name(&self) -> &'static str {
        "tplink_shp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let key = match p.transport {
            Transport::Udp => {
                let d = p.first_payload();
                if d.is_empty() {
                    return p.undecided();
                }
                if d.len() < 3 || last_plain(d) != Some(b'}') {
                    return Parse::NotMine;
                }
                match plain_json(d) {
                    Some(k) => k,
                    None => return Parse::NotMine,
                }
            }
            Transport::Tcp => {
                let s = p.first_side().stream();
                let Some(len) = s.get(..4) else {
                    return p.undecided();
                };
                let len = usize::try_from(u32::from_be_bytes([len[0], len[1], len[2], len[3]])).unwrap_or(usize::MAX);
                if !(3..=0x10_0000).contains(&len) {
                    return Parse::NotMine;
                }
                let body = &s[4..];
                let body = &body[..body.len().min(len)];
                let Some(k) = plain_json(body) else {
                    return Parse::NotMine;
                };
                if body.len() < len.min(ENOUGH) {
                    return p.undecided();
                }
                k
            }
        };
        meta.protocol = Some("tplink_shp");
        meta.encryption = Encryption::Cleartext;
        if !key.is_empty() {
            meta.set_extra("tplink_shp_command", key);
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    fn encode(plain: &[u8]) -> Vec<u8> {
        let mut key = FIRST_KEY;
        plain
            .iter()
            .map(|&b| {
                key ^= b;
                key
            })
            .collect()
    }

    #[test]
    fn sysinfo_query() {
        let q = encode(br#"{"system":{"get_sysinfo":{}}}"#);
        // As sent by a Kasa app (first bytes from a capture).
        assert_eq!(q[..4], [0xd0, 0xf2, 0x81, 0xf8]);
        let (r, m) = check_split_udp(&TplinkShp, PORT, PORT, &[&q], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tplink_shp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("tplink_shp_command"), Some("system"));
        let mut t = u32::try_from(q.len()).unwrap_or(0).to_be_bytes().to_vec();
        t.extend_from_slice(&q);
        let (r, m) = check_split_tcp(&TplinkShp, PORT, &t, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("tplink_shp_command"), Some("system"));
    }

    #[test]
    fn not_tplink_shp() {
        let q = encode(br#"{"system":{"get_sysinfo":{}}}"#);
        let plain = br#"{"system":{"get_sysinfo":{}}}"#;
        let binary = encode(b"{\"a\x01\":1}");
        let cases: [(u16, &[u8]); 4] = [(5000, &q), (PORT, plain), (PORT, &binary), (PORT, &q[..10])];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&TplinkShp, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
