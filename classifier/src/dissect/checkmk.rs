//! The Checkmk agent's plain-text output over TCP (the monitoring
//! server pulls it, 6556 by convention; the port is not used here).
//!
//! The server connects and sends nothing; the agent writes its report
//! and closes. The report is sections, each opened by a header line
//! `<<<name>>>`; the legacy (1.x, unencrypted) agent opens with the
//! `<<<check_mk>>>` section: `Version:`, `AgentOS:`, `Hostname:` and
//! directory lines. Taken as Checkmk: the agent's (responder's) bytes
//! open with exactly `<<<check_mk>>>` and a line end while the
//! connecting side has sent nothing, and the next line, once there, is
//! a `Key: value` line.
//!
//! That output is cleartext (the 2.x agent controller's TLS is the TLS
//! dissector's).

use super::text::{lines, to_string};
use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct CheckMk;

const HEADER: &[u8] = b"<<<check_mk>>>";
/// Lines of the first section looked at.
const MAX_LINES: usize = 16;
const VALUE_MAX: usize = 64;

/// Whether `r` still agrees with the header line, as far as it goes.
fn header_prefix(r: &[u8]) -> bool {
    agrees(r, HEADER) && r.get(HEADER.len()).is_none_or(|&b| b == b'\n' || b == b'\r')
}

impl Dissector for CheckMk {
    fn name(&self) -> &'static str {
        "checkmk"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.orig.is_empty() && header_prefix(p.resp.stream()) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The `<` of `<<<check_mk>>>`: only the agent (responder) speaks.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"<"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let r = p.resp.stream();
        if !p.orig.is_empty() || !header_prefix(r) {
            return Parse::NotMine;
        }
        let mut it = lines(r, MAX_LINES);
        if it.next().is_none() {
            return p.undecided();
        }
        let mut first = true;
        let mut complete = false;
        for line in it {
            if line.starts_with(b"<<<") {
                complete = true;
                break;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                if first {
                    return Parse::NotMine;
                }
                continue;
            };
            let (key, value) = (&line[..colon], &line[colon + 1..]);
            if first && (key.is_empty() || !key.iter().all(u8::is_ascii_alphanumeric)) {
                return Parse::NotMine;
            }
            first = false;
            let slot = match key {
                b"Version" => "checkmk_agent_version",
                b"AgentOS" => "checkmk_agent_os",
                b"Hostname" => "checkmk_hostname",
                _ => continue,
            };
            meta.set_extra(slot, to_string(value, VALUE_MAX));
        }
        if first {
            return p.undecided();
        }
        meta.protocol = Some("checkmk");
        meta.encryption = Encryption::Cleartext;
        if complete {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// check_mk_new.pcap, 192.168.100.22:58998 → 192.168.100.50:6556:
    /// the agent's first section and the next header.
    const REPORT: &[u8] = b"<<<check_mk>>>\nVersion: 1.4.0p9\nAgentOS: linux\nHostname: buildhost-9\nAgentDirectory: /etc/check_mk\nDataDirectory: /var/lib/check_mk_agent\nSpoolDirectory: /var/lib/check_mk_agent/spool\nPluginsDirectory: /usr/lib/check_mk_agent/plugins\nLocalDirectory: /usr/lib/check_mk_agent/local\nOnlyFrom: \n<<<df>>>\n";

    #[test]
    fn agent_report() {
        let (r, m) = check_split_tcp(&CheckMk, 6556, b"", REPORT);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("checkmk"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("checkmk_agent_version"), Some("1.4.0p9"));
        assert_eq!(m.extra("checkmk_agent_os"), Some("linux"));
        assert_eq!(m.extra("checkmk_hostname"), Some("buildhost-9"));
        let (r, _) = check_split_tcp(&CheckMk, 6556, b"", &REPORT[..32]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_checkmk() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"GET / HTTP/1.1\r\n\r\n", REPORT),
            (b"", b"<<<check_mk>>>>\nVersion: 1\n"),
            (b"", b"<<<check_mkx>>>\nVersion: 1\n"),
            (b"", b"<<<df>>>\nVersion: 1\n"),
            (b"", b"<<<check_mk>>>\nno key here\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 6556, o, r, &ends);
            assert!(!not_refused(&CheckMk, &p), "{}", String::from_utf8_lossy(r));
        }
        // The header alone at the end of the flow.
        let h = b"<<<check_mk>>>\n";
        let ends = [[0], [h.len() as u32]];
        let mut p = Payloads::tcp(40000, 6556, &[], h, &ends);
        p.last = true;
        assert!(!not_refused(&CheckMk, &p));
    }
}
