//! SSDP, the discovery protocol of UPnP (UPnP Device Architecture 2.0,
//! §1.3): HTTP messages over UDP, on any port (1900, multicast
//! 239.255.255.250 / ff02::c, is only a hint; Plex's GDM sends the same
//! search to 32412/32414). Requests have the target `*`:
//! `M-SEARCH * HTTP/1.1` (search) and `NOTIFY * HTTP/1.1` (alive and
//! bye-bye announcements). The unicast answer to a search opens with
//! `HTTP/1.1 200 OK` and carries the `ST` and `USN` fields. The search
//! target, notification type and user agent go into the meta.
//! Cleartext.

use super::text::{lines, starts_with_ci, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ssdp;

const SEARCH: &[u8] = b"M-SEARCH * HTTP/1.1";
const NOTIFY: &[u8] = b"NOTIFY * HTTP/1.1";
const OK: &[u8] = b"HTTP/1.1 200 OK";
const MAX_LINES: usize = 32;
const VALUE_MAX: usize = 255;

/// The kind of SSDP message a datagram is.
fn kind(d: &[u8]) -> Option<&'static str> {
    let first = lines(d, 1).next()?;
    if first.eq_ignore_ascii_case(SEARCH) {
        Some("search")
    } else if first.eq_ignore_ascii_case(NOTIFY) {
        Some("notify")
    } else if first.eq_ignore_ascii_case(OK) && field(d, b"st:").is_some() && field(d, b"usn:").is_some() {
        Some("search_response")
    } else {
        None
    }
}

/// The value of header field `name` (with its colon), if present.
fn field<'a>(d: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    lines(d, MAX_LINES)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find(|l| starts_with_ci(l, name))
        .map(|l| l[name.len()..].trim_ascii())
}

/// The first letters of the start lines the probe admits, both cases.
const FIRST: ByteSet = ByteSet::initials(&[SEARCH, NOTIFY, OK]).any_case();

impl Dissector for Ssdp {
    fn name(&self) -> &'static str {
        "ssdp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if [SEARCH, NOTIFY, OK].iter().any(|s| starts_with_ci(d, s)) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The first letter of a start line, any case (`FIRST`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(FIRST)
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        let Some(k) = kind(d) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("ssdp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ssdp_method", k);
        for (key, name) in [
            ("ssdp_st", &b"st:"[..]),
            ("ssdp_nt", b"nt:"),
            ("ssdp_user_agent", b"user-agent:"),
            ("ssdp_server", b"server:"),
        ] {
            if let Some(v) = field(d, name).filter(|v| !v.is_empty()) {
                meta.set_extra(key, to_string(v, VALUE_MAX));
            }
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    #[test]
    fn search_notify_and_answer() {
        // ssdp-m-search-ua.pcap
        let search = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n\
ST: urn:dial-multiscreen-org:service:dial:1\r\nUSER-AGENT: Google Chrome/99.0.4844.74 Mac OS X\r\n\r\n";
        let (r, m) = check_split_udp(&Ssdp, 52000, 1900, &[search], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ssdp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ssdp_method"), Some("search"));
        assert_eq!(m.extra("ssdp_st"), Some("urn:dial-multiscreen-org:service:dial:1"));
        assert_eq!(m.extra("ssdp_user_agent"), Some("Google Chrome/99.0.4844.74 Mac OS X"));
        // ssdp-m-search.pcap: Plex's bare search line to 32412.
        let (r, m) = check_split_udp(&Ssdp, 42253, 32412, &[b"M-SEARCH * HTTP/1.1\r\n"], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("ssdp_method"), Some("search"));
        let notify =
            b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n";
        let (_, m) = check_split_udp(&Ssdp, 1900, 1900, &[notify], &[]);
        assert_eq!(m.extra("ssdp_nt"), Some("upnp:rootdevice"));
        let answer = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: upnp:rootdevice\r\n\
USN: uuid:2f402f80-da50-11e1-9b23-00178809ea66::upnp:rootdevice\r\nSERVER: Linux/3.14 UPnP/1.0 IpBridge/1.26.0\r\n\r\n";
        let (r, m) = check_split_udp(&Ssdp, 1900, 52000, &[answer], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("ssdp_method"), Some("search_response"));
        assert_eq!(m.extra("ssdp_server"), Some("Linux/3.14 UPnP/1.0 IpBridge/1.26.0"));
    }

    #[test]
    fn not_ssdp() {
        let cases: [&[u8]; 5] = [
            b"M-SEARCH * HTTP/1.1",
            b"M-SEARCH / HTTP/1.1\r\n\r\n",
            b"GET * HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\nST: a\r\nUSN: b\r\n",
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 1900, &[d], &[]);
            let p = f.payloads();
            let claimed = crate::dissect::not_refused(&Ssdp, &p);
            assert!(!claimed, "{d:?}");
        }
    }
}
