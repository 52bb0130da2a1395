//! Dropbox LAN sync discovery: the desktop client broadcasts, usually
//! from and to UDP 17500 (only a hint here), a JSON object announcing
//! itself: `host_int` (a 128-bit host id, a number), `version` (an array
//! of numbers), `port` (the TCP port of its LAN sync server) and
//! `namespaces` (an array of shared-folder ids, numbers), often with a
//! `displayname` string. The datagram must be exactly one JSON object
//! (parsed with serde_json) holding those four keys with those types.
//! Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};
use serde_json::Value;

pub struct Dropbox;

/// Longer than any announcement seen; longer datagrams are not parsed.
const MAX_LEN: usize = 8192;

fn numbers(v: Option<&Value>) -> Option<&Vec<Value>> {
    v?.as_array().filter(|a| a.iter().all(Value::is_number))
}

/// The announcement's LAN sync port and version, if `d` is one.
fn announcement(d: &[u8]) -> Option<(u64, String)> {
    if d.len() > MAX_LEN {
        return None;
    }
    let v: Value = serde_json::from_slice(d).ok()?;
    let o = v.as_object()?;
    o.get("host_int")?.is_number().then_some(())?;
    let port = o.get("port")?.as_u64().filter(|p| (1..=65535).contains(p))?;
    numbers(o.get("namespaces"))?;
    let version = numbers(o.get("version")).filter(|a| !a.is_empty())?;
    let version: Vec<String> = version.iter().take(4).map(|n| n.to_string()).collect();
    Some((port, version.join(".")))
}

impl Dissector for Dropbox {
    fn name(&self) -> &'static str {
        "dropbox"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            Some(b'{') => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only a JSON object's `{`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"{"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some((port, version)) = announcement(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("dropbox");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("dropbox_lansync_port", port.to_string());
        meta.set_extra("dropbox_version", version);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// dropbox.pcap, 17500 → 17500 broadcast.
    const HELLO: &[u8] = br#"{"host_int": 274363570036934823360341409051841573579, "version": [2, 0], "displayname": "", "port": 17500, "namespaces": [20603140, 16715686, 48745895, 19076040, 879568043, 123535030, 182164922]}"#;

    #[test]
    fn lan_sync_announcement() {
        let (r, m) = check_split_udp(&Dropbox, 17500, 17500, &[HELLO], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dropbox"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dropbox_lansync_port"), Some("17500"));
        assert_eq!(m.extra("dropbox_version"), Some("2.0"));
        // Key order does not matter (android.pcap's order differs).
        let other = br#"{"version": [2, 0], "port": 17500, "host_int": 330402624013167112717714583297153688482, "displayname": "", "namespaces": []}"#;
        let (r, _) = check_split_udp(&Dropbox, 17500, 17500, &[other], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_dropbox() {
        let s = std::str::from_utf8(HELLO).unwrap_or_default();
        let no_host = s.replace("host_int", "host_id");
        let port_str = s.replace("\"port\": 17500", "\"port\": \"17500\"");
        let big_port = s.replace("\"port\": 17500", "\"port\": 99999");
        let ns_str = s.replace("[20603140,", "[\"a\",");
        let cases: [&[u8]; 6] = [
            &HELLO[..HELLO.len() - 1],
            no_host.as_bytes(),
            port_str.as_bytes(),
            big_port.as_bytes(),
            ns_str.as_bytes(),
            br#"{"messageType":"UPDATE","messageContent":"Fri Feb 19 20:41:11 EET 2016"}"#,
        ];
        for d in cases {
            let f = UdpFixture::new(17500, 17500, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Dropbox, &f.payloads()), "{d:?}");
        }
    }
}
