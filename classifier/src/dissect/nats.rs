//! NATS, the messaging protocol (docs.nats.io, "Client Protocol") over
//! TCP, on any port (4222 is only a hint). Text lines ending in CRLF:
//! the server opens with `INFO {json}`, the client answers
//! `CONNECT {json}`, then `PUB`, `SUB`, `MSG`, `PING`, `PONG`, `+OK`,
//! `-ERR`. When the server's INFO says `"tls_required":true` (or the
//! client's CONNECT asks for TLS) the connection is upgraded: the next
//! bytes are a TLS handshake. Without that upgrade everything, subjects
//! and payloads, is in clear: cleartext; with it, encrypted.

use super::text::{lines_with_end, to_string};
use super::{agrees, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Nats;

const INFO: &[u8] = b"INFO {";
const CONNECT: &[u8] = b"CONNECT {";
const MAX_LINE: usize = 8192;

/// The JSON object of an `INFO`/`CONNECT` line opening `d`, and the
/// offset past the line; `Ok(None)` for a prefix, `Err` otherwise.
fn opening<'a>(d: &'a [u8], verb: &[u8]) -> Result<Option<(&'a [u8], usize)>, ()> {
    if !agrees(d, verb) {
        return Err(());
    }
    let Some((line, end)) = lines_with_end(d, 1).next() else {
        return if d.len() < MAX_LINE { Ok(None) } else { Err(()) };
    };
    let json = line[verb.len() - 1..].trim_ascii_end();
    if !json.ends_with(b"}") || d.get(end.saturating_sub(2)..end) != Some(&b"\r\n"[..]) {
        return Err(());
    }
    Ok(Some((json, end)))
}

/// Does a JSON object say `"key":true`? A plain byte search: the
/// objects are flat and the keys are fixed.
fn flag(json: &[u8], key: &[u8]) -> bool {
    let Some(at) = json.windows(key.len()).position(|w| w == key) else {
        return false;
    };
    let rest = json[at + key.len()..].trim_ascii_start();
    rest.strip_prefix(b":")
        .is_some_and(|r| r.trim_ascii_start().starts_with(b"true"))
}

/// A string value `"key":"value"` of a flat JSON object.
fn string<'a>(json: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = json.windows(key.len()).position(|w| w == key)?;
    let rest = json[at + key.len()..].trim_ascii_start().strip_prefix(b":")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(&rest[..end])
}

fn tls_record(d: &[u8]) -> bool {
    d.len() >= 3 && d[0] == 0x16 && d[1] == 0x03
}

impl Dissector for Nats {
    fn name(&self) -> &'static str {
        "nats"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let info = opening(p.resp.stream(), INFO).is_ok();
        if info || p.resp.is_empty() && opening(p.orig.stream(), CONNECT).is_ok() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (c, s) = (p.orig.stream(), p.resp.stream());
        let info = match opening(s, INFO) {
            Err(()) => return Parse::NotMine,
            Ok(None) => return p.undecided(),
            Ok(Some(x)) => x,
        };
        let connect = if c.is_empty() { Ok(None) } else { opening(c, CONNECT) };
        // An upgraded client sends its ClientHello right after INFO.
        let client_tls = tls_record(c);
        let connect = match connect {
            Ok(x) => x,
            Err(()) if client_tls => None,
            Err(()) => return Parse::NotMine,
        };
        meta.protocol = Some("nats");
        if let Some(v) = string(info.0, b"\"version\"") {
            meta.set_extra("nats_server_version", to_string(v, 32));
        }
        if let Some((json, _)) = connect {
            if let Some(v) = string(json, b"\"lang\"") {
                meta.set_extra("nats_client_lang", to_string(v, 32));
            }
        }
        let tls_asked = flag(info.0, b"\"tls_required\"") || connect.is_some_and(|(j, _)| flag(j, b"\"tls_required\""));
        let tls_seen = client_tls || connect.is_some_and(|(_, end)| tls_record(&c[end..])) || tls_record(&s[info.1..]);
        if tls_asked && tls_seen {
            meta.encryption = Encryption::Encrypted;
            return Parse::Done;
        }
        meta.encryption = Encryption::Cleartext;
        if connect.is_some() && !tls_asked {
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

    // nats.pcap, the INFO trimmed.
    const INFO_PLAIN: &[u8] = b"INFO {\"server_id\":\"NALG56HQZ4C4ILRHCGYWMCSBVC5W2QHX6WKGH7A2I34P3DCEHISN72B7\",\"version\":\"2.1.6\",\"proto\":1,\"go\":\"go1.13.9\",\"host\":\"0.0.0.0\",\"port\":4222,\"max_payload\":1048576,\"client_id\":1} \r\n";
    const CONNECT_C: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"name\":\"\",\"lang\":\"C\",\"version\":\"2.1.0\",\"protocol\":1,\"echo\":true}\r\nPING\r\n";

    #[test]
    fn plain_session() {
        let (r, m) = check_split_tcp(&Nats, 4222, CONNECT_C, INFO_PLAIN);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("nats"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("nats_server_version"), Some("2.1.6"));
        assert_eq!(m.extra("nats_client_lang"), Some("C"));
        // The server's INFO alone.
        let (r, _) = check_split_tcp(&Nats, 4222, b"", INFO_PLAIN);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn tls_upgrade() {
        let info = b"INFO {\"server_id\":\"x\",\"version\":\"2.10.1\",\"tls_required\":true}\r\n";
        let hello = b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03";
        let (r, m) = check_split_tcp(&Nats, 4222, hello, info);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_nats() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"", b"INFO {\"a\":1}\n"),
            (b"", b"INFO [1]\r\n"),
            (b"GET / HTTP/1.1\r\n", INFO_PLAIN),
            (b"CONNECT example.org:443 HTTP/1.1\r\n", b""),
        ];
        for (c, s) in cases {
            let ends = [[c.len() as u32], [s.len() as u32]];
            let mut p = Payloads::tcp(40000, 4222, c, s, &ends);
            p.last = true;
            let claimed = crate::dissect::not_refused(&Nats, &p);
            assert!(!claimed, "{c:?} {s:?}");
        }
    }
}
