//! ONC RPC (RFC 5531), the transport of NFS (RFC 1813, 7530), its mount
//! and lock daemons and the portmapper (RFC 1833), on any port (111, 2049
//! and the ports the portmapper hands out are hints only).
//!
//! A call is: transaction id, message type 0, RPC version 2, program,
//! program version, procedure, then two opaque authenticators
//! (credential and verifier): a flavor (AUTH_NONE, AUTH_SYS, AUTH_SHORT,
//! AUTH_DH, RPCSEC_GSS) and a length of at most 400 bytes, padded to
//! four, which must fit the message. Over TCP each message is preceded by
//! a record mark (last-fragment bit and a 31-bit fragment length) that
//! must hold at least the call. When the responder has answered, its
//! first message must be the reply (message type 1) to the same
//! transaction id, accepted or denied with a valid status.
//!
//! The protocol reported is `nfs` for the NFS family (NFS, mount, lock
//! manager, status monitor, NFS ACL), `portmap` for the portmapper, and
//! `onc_rpc` for other programs. RPC itself is cleartext (RPCSEC_GSS
//! privacy is an option of the procedure bodies; the headers stay clear).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct OncRpc;

const CALL_FIXED: usize = 24;
const MAX_AUTH: usize = 400;
const MAX_FRAGMENT: u32 = 1 << 24;

/// What a program number names.
fn program_name(prog: u32) -> Option<&'static str> {
    match prog {
        100000 => Some("portmap"),
        100003 | 100005 | 100021 | 100024 | 100227 => Some("nfs"),
        // Other Sun-assigned programs, and the user-defined range.
        100001..=100299 | 200000..=200299 | 300000..=399999 | 0x2000_0000..=0x3fff_ffff => Some("onc_rpc"),
        _ => None,
    }
}

fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    d.get(off..off + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// An authenticator at `off`: the offset past it. `Err(true)` when `d`
/// ends first, `Err(false)` when malformed.
fn auth(d: &[u8], off: usize) -> Result<usize, bool> {
    let (Some(flavor), Some(len)) = (u32_at(d, off), u32_at(d, off + 4)) else {
        return Err(true);
    };
    if !matches!(flavor, 0 | 1 | 2 | 3 | 6) || len as usize > MAX_AUTH {
        return Err(false);
    }
    if flavor == 0 && len != 0 {
        return Err(false);
    }
    let end = off + 8 + (len as usize).div_ceil(4) * 4;
    if end > d.len() {
        return Err(true);
    }
    Ok(end)
}

struct Call {
    xid: u32,
    prog: u32,
    vers: u32,
    procedure: u32,
}

/// A call at the start of `d`; `Err(true)` when more bytes are needed.
fn call(d: &[u8]) -> Result<Call, bool> {
    let f = |i: usize| u32_at(d, 4 * i);
    let (Some(xid), Some(mtype)) = (f(0), f(1)) else {
        return Err(true);
    };
    if mtype != 0 {
        return Err(false);
    }
    let Some(rpcvers) = f(2) else { return Err(true) };
    if rpcvers != 2 {
        return Err(false);
    }
    let (Some(prog), Some(vers), Some(procedure)) = (f(3), f(4), f(5)) else {
        return Err(true);
    };
    if program_name(prog).is_none() || vers == 0 || vers > 64 || procedure > 1024 {
        return Err(false);
    }
    let off = auth(d, CALL_FIXED)?;
    auth(d, off)?;
    Ok(Call {
        xid,
        prog,
        vers,
        procedure,
    })
}

/// Whether `d` starts with a reply to `xid`; `Err(())` when more bytes
/// are needed.
fn reply(d: &[u8], xid: u32) -> Result<bool, ()> {
    let f = |i: usize| u32_at(d, 4 * i);
    let (Some(x), Some(mtype), Some(stat)) = (f(0), f(1), f(2)) else {
        return Err(());
    };
    if x != xid || mtype != 1 {
        return Ok(false);
    }
    match stat {
        // Accepted: a verifier, then the accept status.
        0 => match auth(d, 12) {
            Ok(off) => match u32_at(d, off) {
                Some(s) => Ok(s <= 5),
                None => Err(()),
            },
            Err(true) => Err(()),
            Err(false) => Ok(false),
        },
        // Denied: RPC_MISMATCH or AUTH_ERROR.
        1 => match f(3) {
            Some(s) => Ok(s <= 1),
            None => Err(()),
        },
        _ => Ok(false),
    }
}

/// The first message of a side: a UDP datagram, or a TCP record's body.
/// `Err(true)` when more bytes are needed.
fn message<'a>(p: &Payloads<'a>, side: super::Side<'a>) -> Result<&'a [u8], bool> {
    match p.transport {
        Transport::Udp => Ok(side.first()),
        Transport::Tcp => {
            let d = side.stream();
            let Some(mark) = u32_at(d, 0) else {
                return Err(true);
            };
            let len = mark & 0x7fff_ffff;
            if !(CALL_FIXED as u32..=MAX_FRAGMENT).contains(&len) {
                return Err(false);
            }
            Ok(&d[4..d.len().min(4 + len as usize)])
        }
    }
}

impl Dissector for OncRpc {
    fn name(&self) -> &'static str {
        "onc_rpc"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = match (p.transport, p.first_payload()) {
            (Transport::Tcp, d) => d.get(4..).unwrap_or(&[]),
            (Transport::Udp, d) => d,
        };
        match d.get(4..8) {
            Some(t) if t != [0, 0, 0, 0] => Probe::NotMine,
            // The smallest call: fixed part and two empty authenticators.
            _ if p.transport == Transport::Udp && d.len() < CALL_FIXED + 16 => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        // A UDP datagram is whole: too short is not a call.
        let udp = p.transport == Transport::Udp;
        let c = match message(p, p.first_side()).and_then(call) {
            Ok(c) => c,
            Err(true) if !udp => return p.undecided(),
            Err(true) => return Parse::NotMine,
            Err(false) => return Parse::NotMine,
        };
        let answered = !p.second_side().is_empty();
        if answered {
            match message(p, p.second_side()).map_err(|more| more.then_some(())) {
                Ok(r) => match reply(r, c.xid) {
                    Ok(true) => {}
                    Ok(false) => return Parse::NotMine,
                    Err(()) if !udp => return p.undecided(),
                    Err(()) => return Parse::NotMine,
                },
                Err(Some(())) => return p.undecided(),
                Err(None) => return Parse::NotMine,
            }
        }
        meta.protocol = program_name(c.prog);
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("rpc_program", c.prog.to_string());
        meta.set_extra("rpc_version", c.vers.to_string());
        meta.set_extra("rpc_procedure", c.procedure.to_string());
        if answered {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// nfsv2.pcap: a portmapper GETPORT for mountd over UDP, and its
    /// answer (port 1048).
    const GETPORT: &str = "3841aadf0000000000000002000186a0000000030000000300000000000000000000000000000000000186a30000000200000003756470000000000000000000";
    /// nfsv3.pcap: a mount call with AUTH_SYS credentials, and its reply.
    const MNT: &str = "384476590000000000000002000186a5000000030000000100000001000000343847760b00000009776572726d7363686500000000000000000000010000000500000001000000000000000200000003000000110000000000000000000000142f686f6d652f6769726c6963682f6578706f7274";
    const MNT_REPLY: &str = "384476590000000100000000000000000000000000000000000000000000002000101085000003e7000a00000000b25a00000029000a00000000b25a000000290000000100000001";

    #[test]
    fn udp_calls_and_replies() {
        let q = hex(GETPORT);
        let a = hex("3841aadf00000001000000000000000000000000000000000000000000000418");
        let (r, m) = check_split_udp(&OncRpc, 3291, 111, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("portmap"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("rpc_program"), Some("100000"));
        let (q, a) = (hex(MNT), hex(MNT_REPLY));
        let (r, m) = check_split_udp(&OncRpc, 706, 1048, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("nfs"));
        assert_eq!(m.extra("rpc_program"), Some("100005"));
        assert_eq!(m.extra("rpc_version"), Some("3"));
        let (r, _) = check_split_udp(&OncRpc, 706, 1048, &[&q], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn tcp_record_marking() {
        let q = hex(MNT);
        let mut s = (0x8000_0000u32 | q.len() as u32).to_be_bytes().to_vec();
        s.extend_from_slice(&q);
        let a = hex(MNT_REPLY);
        let mut r = (0x8000_0000u32 | a.len() as u32).to_be_bytes().to_vec();
        r.extend_from_slice(&a);
        let (v, m) = check_split_tcp(&OncRpc, 2049, &s, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("nfs"));
    }

    #[test]
    fn not_rpc() {
        let q = hex(MNT);
        let a = hex(MNT_REPLY);
        let mut vers = q.clone();
        vers[11] = 3;
        let mut prog = q.clone();
        prog[13] = 0x20;
        let mut flavor = q.clone();
        flavor[27] = 9;
        let mut long = q.clone();
        long[30] = 0x10;
        let mut xid = a.clone();
        xid[0] ^= 1;
        let mut stat = a.clone();
        stat[23] = 9;
        let cases: [(&[u8], &[u8]); 6] = [
            (&vers, &[]),
            (&prog, &[]),
            (&flavor, &[]),
            (&long, &[]),
            (&q, &xid),
            (&q, &stat),
        ];
        for (o, r) in cases {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![r] };
            let f = UdpFixture::new(706, 1048, &[o], &resp);
            assert!(!crate::dissect::not_refused(&OncRpc, &f.payloads()), "{o:?} {r:?}");
        }
        let zeros = [0u8; 64];
        let f = UdpFixture::new(706, 1048, &[&zeros], &[]);
        assert!(!crate::dissect::not_refused(&OncRpc, &f.payloads()));
    }
}
