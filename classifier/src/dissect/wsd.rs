//! WS-Discovery (OASIS WS-Discovery 1.1, and Microsoft's 2005/04 draft
//! that Windows uses), SOAP over UDP, usually multicast to 3702 (a hint
//! only here). A datagram is one SOAP envelope: an optional XML
//! declaration, then the `Envelope` element in the SOAP 1.2 (or 1.1)
//! namespace; it declares a WS-Discovery namespace, and its WS-Addressing
//! `Action` is that namespace followed by `/Hello`, `/Bye`, `/Probe`,
//! `/ProbeMatches`, `/Resolve` or `/ResolveMatches`. The action goes into
//! the meta. Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Wsd;

const DISCOVERY_NS: [&[u8]; 2] = [
    b"http://schemas.xmlsoap.org/ws/2005/04/discovery",
    b"http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01",
];
const SOAP_NS: [&[u8]; 2] = [
    b"http://www.w3.org/2003/05/soap-envelope",
    b"http://schemas.xmlsoap.org/soap/envelope/",
];
const ACTIONS: [&str; 6] = ["Hello", "Bye", "ProbeMatches", "Probe", "ResolveMatches", "Resolve"];
/// Envelopes are judged on this much (the action is in the header).
const WINDOW: usize = 4096;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The root element's name starts after the XML declaration.
fn root(d: &[u8]) -> Option<&[u8]> {
    let mut d = d.trim_ascii_start();
    if d.starts_with(b"<?xml") {
        d = d[find(d, b"?>")? + 2..].trim_ascii_start();
    }
    let tag = d.strip_prefix(b"<")?;
    let end = tag
        .iter()
        .position(|&c| c == b' ' || c == b'>' || c == b'\t' || c == b'\r' || c == b'\n')?;
    Some(&tag[..end])
}

/// The WS-Discovery action of an envelope.
fn action(d: &[u8]) -> Option<&'static str> {
    let d = &d[..d.len().min(WINDOW)];
    let name = root(d)?;
    if name != b"Envelope" && !name.ends_with(b":Envelope") {
        return None;
    }
    SOAP_NS.iter().find_map(|ns| find(d, ns))?;
    // The Action element's content: the namespace, a slash, the verb.
    let at = find(d, b"Action")?;
    let rest = &d[at..];
    let open = rest.iter().position(|&c| c == b'>')? + 1;
    let value = rest[open..].trim_ascii_start();
    let ns = DISCOVERY_NS.iter().find(|ns| value.starts_with(ns))?;
    let verb = value[ns.len()..].strip_prefix(b"/")?;
    ACTIONS.iter().copied().find(|a| {
        verb.starts_with(a.as_bytes())
            && matches!(verb.get(a.len()), Some(b'<') | Some(b' ') | Some(b'\r') | Some(b'\n'))
    })
}

impl Dissector for Wsd {
    fn name(&self) -> &'static str {
        "wsd"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().trim_ascii_start().first() {
            Some(b'<') => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only `<` after leading ASCII whitespace.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"< \t\n\x0c\r"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(a) = action(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("wsd");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("wsd_action", a);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// upnp.pcap: a Resolve.
    const RESOLVE: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"><soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Resolve</wsa:Action><wsa:MessageID>urn:uuid:3f42dc9a-24ce-48d1-88f9-16b96a137d71</wsa:MessageID></soap:Header><soap:Body><wsd:Resolve><wsa:EndpointReference><wsa:Address>urn:uuid:e3248000-80ce-11db-8000-001ba99ec956</wsa:Address></wsa:EndpointReference></wsd:Resolve></soap:Body></soap:Envelope>"#;

    #[test]
    fn resolve_and_probe() {
        let (r, m) = check_split_udp(&Wsd, 58931, 3702, &[RESOLVE], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("wsd"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("wsd_action"), Some("Resolve"));
        let s = std::str::from_utf8(RESOLVE).unwrap_or_default();
        let probe = s.replace("discovery/Resolve</wsa:Action>", "discovery/ProbeMatches</wsa:Action>");
        let (r, m) = check_split_udp(&Wsd, 3702, 58931, &[probe.as_bytes()], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("wsd_action"), Some("ProbeMatches"));
    }

    #[test]
    fn not_wsd() {
        let s = std::str::from_utf8(RESOLVE).unwrap_or_default();
        let verb = s.replace("discovery/Resolve</wsa:Action>", "discovery/Fetch</wsa:Action>");
        let ns = s.replace(
            "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/",
            "<wsa:Action>http://example.com/discovery/",
        );
        let soap = s.replace("http://www.w3.org/2003/05/soap-envelope", "http://example.com/env");
        let root = s.replace("soap:Envelope", "soap:Letter");
        let cases: [&[u8]; 5] = [
            verb.as_bytes(),
            ns.as_bytes(),
            soap.as_bytes(),
            root.as_bytes(),
            b"<html><body>hello</body></html>",
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 3702, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Wsd, &f.payloads()), "{d:?}");
        }
    }
}
