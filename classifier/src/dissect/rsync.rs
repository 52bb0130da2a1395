//! The rsync daemon protocol (rsync's own documentation, `rsyncd.conf`
//! and the protocol notes) over TCP, on any port (873 is only a hint):
//! both sides open with the greeting `@RSYNCD: <major>.<minor>` (an
//! optional space-separated list of checksum names may follow in newer
//! versions), ended by a newline; the client then names a module and the
//! daemon answers `@RSYNCD: OK` (or `@ERROR`). The file list and data
//! that follow are not encrypted (rsync over SSH never shows this
//! greeting): cleartext.

use super::text::{could_start_with_ci, lines, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Rsync;

const GREETING: &[u8] = b"@RSYNCD: ";
const MAX_LINE: usize = 256;

/// The protocol version of a greeting line (`30.0`), if it is one.
fn greeting(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(GREETING)?;
    let version = rest.split(|&b| b == b' ').next()?;
    let (major, minor) = version.split_at(version.iter().position(|&b| b == b'.')?);
    let digits = |s: &[u8]| !s.is_empty() && s.len() <= 3 && s.iter().all(u8::is_ascii_digit);
    (digits(major) && digits(&minor[1..]) && rest.iter().all(|b| b.is_ascii_graphic() || *b == b' ')).then_some(version)
}

/// `Some(version)` for a side that opened with a greeting, `None` when
/// it may still, `Err` when it did not.
fn side(d: &[u8]) -> Result<Option<&[u8]>, ()> {
    match lines(d, 1).next() {
        Some(l) => greeting(l).map(Some).ok_or(()),
        None if d.len() < MAX_LINE && could_start_with_ci(d, GREETING) => Ok(None),
        None => Err(()),
    }
}

impl Dissector for Rsync {
    fn name(&self) -> &'static str {
        "rsync"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_side().stream();
        if could_start_with_ci(d, GREETING) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The `@` of `@RSYNCD: ` on whoever spoke first.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"@"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = side(p.first_side().stream());
        let second = p.second_side().stream();
        let second = if second.is_empty() { Ok(None) } else { side(second) };
        let (Ok(a), Ok(b)) = (first, second) else {
            return Parse::NotMine;
        };
        let Some(version) = a.or(b) else {
            return p.undecided();
        };
        meta.protocol = Some("rsync");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("rsync_version", to_string(version, 16));
        if let Some(module) = lines(p.orig.stream(), 2).nth(1) {
            if !module.is_empty() && module[0] != b'@' {
                meta.set_extra("rsync_module", to_string(module, MAX_LINE));
            }
        }
        if a.is_some() && b.is_some() {
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

    #[test]
    fn greeting_and_module() {
        // rsync.pcap
        let c = b"@RSYNCD: 30.0\nflag\n";
        let s = b"@RSYNCD: 30.0\n@RSYNCD: OK\n";
        let (r, m) = check_split_tcp(&Rsync, 873, c, s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("rsync"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rsync_version"), Some("30.0"));
        assert_eq!(m.extra("rsync_module"), Some("flag"));
        let c = b"@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4\n";
        let (r, m) = check_split_tcp(&Rsync, 8873, c, b"");
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("rsync_version"), Some("31.0"));
    }

    #[test]
    fn not_rsync() {
        let cases: [&[u8]; 4] = [b"@RSYNCD: x.0\n", b"@RSYNCD: 30\n", b"@RSYNCD 30.0\n", b"SSH-2.0-x\r\n"];
        for d in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 873, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Rsync, &p);
            assert!(!claimed, "{d:?}");
        }
        // A daemon greeting answered by something else.
        let c = b"GET / HTTP/1.1\r\n";
        let ends = [[c.len() as u32], [14]];
        let p = Payloads::tcp(40000, 873, c, b"@RSYNCD: 30.0\n", &ends);
        assert_eq!(Rsync.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
