//! Gearman, the job server protocol (gearman.org's PROTOCOL document)
//! over TCP, on any port (4730 is only a hint). Every binary packet has
//! a 12-byte header: the magic `\0REQ` (to the server) or `\0RES` (from
//! it), a packet type (1..=42), and the body size, both 32-bit
//! big-endian; the body's arguments are NUL-separated (function names,
//! unique ids, the job's data). Nothing is encrypted: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Gearman;

const REQ: &[u8; 4] = b"\0REQ";
const RES: &[u8; 4] = b"\0RES";
const HEADER: usize = 12;
const MAX_TYPE: u32 = 42;
/// Bodies larger than this are not taken as evidence (job data may be
/// big, but the first packets of a session are small).
const MAX_BODY: u32 = 1 << 24;

/// `Some(Some(type))` for a packet header opening `d`, `Some(None)` for
/// a prefix of one, `None` when it is not Gearman.
fn header(d: &[u8], magic: &[u8; 4]) -> Option<Option<u32>> {
    let n = d.len().min(4);
    if d[..n] != magic[..n] {
        return None;
    }
    if d.len() < HEADER {
        return Some(None);
    }
    let kind = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
    let size = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
    ((1..=MAX_TYPE).contains(&kind) && size <= MAX_BODY).then_some(Some(kind))
}

fn type_name(t: u32) -> &'static str {
    match t {
        1 => "can_do",
        2 => "cant_do",
        3 => "reset_abilities",
        4 => "pre_sleep",
        6 => "noop",
        7 => "submit_job",
        8 => "job_created",
        9 => "grab_job",
        10 => "no_job",
        11 => "job_assign",
        13 => "work_complete",
        14 => "work_fail",
        16 => "echo_req",
        17 => "echo_res",
        18 => "submit_job_bg",
        19 => "error",
        22 => "set_client_id",
        _ => "other",
    }
}

impl Dissector for Gearman {
    fn name(&self) -> &'static str {
        "gearman"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_side().stream();
        if header(d, REQ).is_some() || header(d, RES).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The NUL of `\0REQ` / `\0RES` (`header` on whoever spoke first).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (c, s) = (p.orig.stream(), p.resp.stream());
        // The client's requests, and the server's responses when any.
        let req = if c.is_empty() { Some(None) } else { header(c, REQ) };
        let res = if s.is_empty() { Some(None) } else { header(s, RES) };
        let (Some(req), Some(res)) = (req, res) else {
            return Parse::NotMine;
        };
        let Some(kind) = req.or(res) else {
            return p.undecided();
        };
        meta.protocol = Some("gearman");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("gearman_packet", type_name(kind));
        if req.is_some() && res.is_some() {
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
    fn worker_session() {
        // gearman.pcap: CAN_DO "wc", GRAB_JOB, and the server's NO_JOB.
        let c = b"\0REQ\x00\x00\x00\x01\x00\x00\x00\x02wc\0REQ\x00\x00\x00\x09\x00\x00\x00\x00";
        let s = b"\0RES\x00\x00\x00\x0a\x00\x00\x00\x00";
        let (r, m) = check_split_tcp(&Gearman, 4730, c, s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("gearman"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("gearman_packet"), Some("can_do"));
    }

    #[test]
    fn not_gearman() {
        let cases: [&[u8]; 4] = [
            b"\0REQ\x00\x00\x00\x00\x00\x00\x00\x00",
            b"\0REQ\x00\x00\x00\x2b\x00\x00\x00\x00",
            b"\0REQ\x00\x00\x00\x01\x7f\x00\x00\x00",
            b"\0RES\x00\x00\x00\x0a\x00\x00\x00\x00",
        ];
        for d in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 4730, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Gearman, &p);
            assert!(!claimed, "{d:?}");
        }
        // A prefix of the magic waits, and is given up at the end.
        let ends = [[3], [0]];
        let mut p = Payloads::tcp(40000, 4730, b"\0RE", &[], &ends);
        assert_eq!(Gearman.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Gearman.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
