//! Syslog (RFC 3164, RFC 5424; over TCP, RFC 6587), on any port (514 is
//! only a hint). A message opens with the priority `<PRI>`: one to three
//! decimal digits, no leading zero, at most 191 (facility × 8 +
//! severity), then the header and message as text: RFC 5424 puts the
//! version `1` and a space next, RFC 3164 a `Mmm dd hh:mm:ss` timestamp,
//! and many senders something of their own. The checks here: a valid
//! priority, then a line of at least `MIN_BODY` characters, all text
//! (UTF-8, no control bytes but tab; a trailing newline or NUL is
//! allowed); over TCP the message may be preceded by its length
//! (octet counting) or end with a newline (non-transparent framing).
//! The first message of the first side to speak decides. Cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Syslog;

const MIN_BODY: usize = 8;
/// Enough of a message to judge it; longer ones are judged on this much.
const WINDOW: usize = 512;

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
    "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// The priority at the start of `d` and the offset past `>`; `Err(())`
/// when `d` could still become one.
fn priority(d: &[u8]) -> Result<Option<(u8, usize)>, ()> {
    if d.is_empty() {
        return Err(());
    }
    if d[0] != b'<' {
        return Ok(None);
    }
    let mut v = 0u16;
    for i in 1..=4 {
        let Some(&c) = d.get(i) else { return Err(()) };
        match c {
            b'>' if i > 1 => return Ok(u8::try_from(v).ok().filter(|&v| v <= 191).map(|v| (v, i + 1))),
            b'0'..=b'9' if i < 4 => {
                // No leading zero, except `<0>` itself.
                if i == 2 && d[1] == b'0' {
                    return Ok(None);
                }
                v = v * 10 + u16::from(c - b'0');
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// How the text after the priority reads: `Some(true)` a message,
/// `Some(false)` not one, `None` too short to say yet.
fn body(d: &[u8], complete: bool) -> Option<bool> {
    let w = &d[..d.len().min(WINDOW)];
    let (line, ended) = match w.iter().position(|&c| c == b'\n' || c == 0) {
        Some(i) => (&w[..i], true),
        None => (w, complete || w.len() == WINDOW),
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = match std::str::from_utf8(line) {
        Ok(s) => s,
        // A character cut by the window or by the end of a segment.
        Err(e) if e.error_len().is_none() && !ended => return None,
        Err(e) if e.error_len().is_none() && w.len() == WINDOW => {
            std::str::from_utf8(&line[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Some(false),
    };
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Some(false);
    }
    if text.chars().count() >= MIN_BODY {
        Some(true)
    } else if ended {
        Some(false)
    } else {
        None
    }
}

/// A syslog message at the start of `d` (its priority), `Err(())` when
/// more bytes are needed.
fn message(d: &[u8], complete: bool) -> Result<Option<u8>, ()> {
    let Some((pri, off)) = priority(d)? else {
        return Ok(None);
    };
    match body(&d[off..], complete) {
        Some(true) => Ok(Some(pri)),
        Some(false) => Ok(None),
        None => Err(()),
    }
}

/// Over TCP, an octet-counted frame `LEN SP MSG`: the offset of MSG.
fn octet_count(d: &[u8]) -> Result<Option<usize>, ()> {
    let digits = d.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 5 || d[0] == b'0' {
        return Ok(None);
    }
    match d.get(digits) {
        None => Err(()),
        Some(b' ') => Ok(Some(digits + 1)),
        Some(_) => Ok(None),
    }
}

impl Dissector for Syslog {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "syslog"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            Some(b'<') => Probe::Maybe,
            Some(c) if p.transport == Transport::Tcp && (b'1'..=b'9').contains(c) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits a priority's `<`, or (TCP) an octet count's first digit.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"<").union(ByteSet::range(b'1', b'9')))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (d, complete) = match p.transport {
            Transport::Udp => (p.first_payload(), true),
            Transport::Tcp => {
                let s = p.first_side().stream();
                match octet_count(s) {
                    Ok(Some(off)) => (&s[off..], p.last),
                    Ok(None) => (s, p.last),
                    Err(()) => return p.undecided(),
                }
            }
        };
        match message(d, complete) {
            Ok(Some(pri)) => {
                meta.protocol = Some("syslog");
                meta.encryption = Encryption::Cleartext;
                let facility = FACILITIES.get(usize::from(pri >> 3)).copied().unwrap_or("unknown");
                meta.set_extra("syslog_facility", facility);
                meta.set_extra("syslog_severity", (pri & 7).to_string());
                Parse::Done
            }
            Ok(None) => Parse::NotMine,
            // A datagram is whole: one too short for a message is not one.
            Err(()) if p.transport == Transport::Udp => Parse::NotMine,
            Err(()) => p.undecided(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// syslog.pcap (a QLogic switch, 514 → 514).
    const QLOGIC: &[u8] = b"<134>854 08/20/2013-19:05:23 CONFIG QLA23XX PCIDEV03 DiscLoopId qla23xxStMachRun.cxx 3510\n0 Local Port Connection Type= LOOP: loopId=0x7D\n\n\0";
    /// syslog.pcap, RFC 3164 style.
    const BSD: &[u8] = b"<26>Jan 01 00:01:47 nb6 nbd: 01=7;03=95.136.242.54;04=NB6-FXC-r2";
    /// rsh-syslog-false-positive.pcap: RFC 5424-style timestamps over TCP
    /// 514, newline framed.
    const TCP: &[u8] = b"<167>2016-05-24T09:50:52.926451+02:00 ldap01 slapd[34534]: conn=1159023 op=44 SRCH base=\"ou=people\"\n<167>2016-05-24T09:50:52.926475+02:00 ldap01 slapd[34534]: conn=1159023 op=44 SRCH attr=uid\n";

    #[test]
    fn udp_messages() {
        let (r, m) = check_split_udp(&Syslog, 514, 514, &[QLOGIC], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("syslog"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("syslog_facility"), Some("local0"));
        assert_eq!(m.extra("syslog_severity"), Some("6"));
        let (r, m) = check_split_udp(&Syslog, 40000, 514, &[BSD], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("syslog_facility"), Some("daemon"));
        let v5424 = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 - \u{feff}Ünïcode";
        let (r, _) = check_split_udp(&Syslog, 40000, 514, &[v5424.as_bytes()], &[]);
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn tcp_framings() {
        let (r, m) = check_split_tcp(&Syslog, 514, TCP, b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("syslog_facility"), Some("local4"));
        let mut counted = format!("{} ", BSD.len()).into_bytes();
        counted.extend_from_slice(BSD);
        let (r, _) = check_split_tcp(&Syslog, 601, &counted, b"");
        assert_eq!(r, Parse::Done);
        // A prefix shorter than a message waits.
        let ends = [[6], [0]];
        let p = Payloads::tcp(40000, 514, &TCP[..6], &[], &ends);
        assert_eq!(Syslog.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_syslog() {
        let cases: [&[u8]; 9] = [
            b"<192>Jan 01 00:01:47 nb6 nbd: x",
            b"<01>Jan 01 00:01:47 nb6 nbd: x",
            b"<>Jan 01 00:01:47 nb6 nbd: x",
            b"<1234>Jan 01 00:01:47 nb6 nbd",
            b"<13>Jan 01\x01 00:01:47 nb6 nbd: x",
            b"<13>short\n",
            b"<html><body>hello world</body></html>",
            b"<?xml version=\"1.0\"?><a/>",
            b"<13>Jan 01 \xff\xfe 00:01:47 nb6 nbd: x",
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 514, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Syslog, &f.payloads()), "{d:?}");
        }
    }
}
