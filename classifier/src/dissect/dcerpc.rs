//! DCE/RPC (The Open Group C706, chapter 12 "RPC PDU Encodings"), both
//! forms, on any port (135 and PROFINET's 34964 are not required):
//!
//! - connectionless (version 4) over UDP: the 80-byte header, with the
//!   packet type (0..10), flags2 with its must-be-zero bits clear, the
//!   data representation (integer and character format 0 or 1, float
//!   format 0..3, third byte 0), a fragment number of 0 on a packet that
//!   is not a fragment, and the body length (in the byte order the data
//!   representation gives) equal to what the datagram carries after the
//!   header (or, with an authentication protocol set, leaving room for
//!   the verifier). Every datagram of the first side must be such a
//!   packet, and the other side's too when it answered. The interface
//!   UUID is reported; PROFINET IO's context manager interfaces
//!   (`DEA0000x-6C97-11D1-8271-00A02442DF7D`, IEC 61158-6-10) add
//!   `dcerpc_service` = `profinet_io`.
//! - connection-oriented (version 5, minor 0 or 1) over TCP: the 16-byte
//!   common header (packet type 0..19, data representation as above with
//!   the fourth byte 0, a fragment length of at least 16 that holds the
//!   authentication length), the first PDU complete; a bind or
//!   alter-context must carry a context list that fits it (its first
//!   abstract syntax is the interface reported). When the other side
//!   answered, its first PDU header must be valid too.
//!
//! DCE/RPC itself is cleartext: with an authentication level of packet
//! privacy the stub data is sealed, but the headers (and the bind's
//! interface) are not, so the flow is reported `cleartext` with the
//! authentication length as `dcerpc_auth` when present.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct DceRpc;

const CL_HEADER: usize = 80;
const CO_HEADER: usize = 16;

/// PROFINET IO context manager interfaces: the UUID's bytes after the
/// first two (which are 0x0001..0x0004 in `DEA0000x`).
const PNIO_TAIL: [u8; 12] = [0x6c, 0x97, 0x11, 0xd1, 0x82, 0x71, 0x00, 0xa0, 0x24, 0x42, 0xdf, 0x7d];

/// Data representation: (little endian, valid).
fn drep(d: &[u8]) -> Option<bool> {
    let (&d0, &d1, &d2) = (d.first()?, d.get(1)?, d.get(2)?);
    (d0 & 0xee == 0 && d1 <= 3 && d2 == 0).then_some(d0 & 0x10 != 0)
}

fn u16_at(d: &[u8], off: usize, le: bool) -> Option<u16> {
    let b = [*d.get(off)?, *d.get(off + 1)?];
    Some(if le {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    })
}

/// A UUID (16 bytes at the start of `b`) in the usual text form, its
/// first three fields in the byte order `le` says.
fn uuid(b: &[u8], le: bool) -> Option<[u8; 16]> {
    let b: [u8; 16] = b.get(..16)?.try_into().ok()?;
    let mut u = b;
    if le {
        u[..4].reverse();
        u[4..6].reverse();
        u[6..8].reverse();
    }
    Some(u)
}

fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        crate::fingerprint::fmt::push_hex2(&mut s, *b);
    }
    s
}

fn is_pnio(u: &[u8; 16]) -> bool {
    u[..3] == [0xde, 0xa0, 0x00] && (1..=4).contains(&u[3]) && u[4..] == PNIO_TAIL
}

/// PDU type names (C706): connectionless PDUs use types 0..=10, the
/// connection-oriented ones all 20.
const PTYPES: [&str; 20] = [
    "request",
    "ping",
    "response",
    "fault",
    "working",
    "nocall",
    "reject",
    "ack",
    "cl_cancel",
    "fack",
    "cancel_ack",
    "bind",
    "bind_ack",
    "bind_nak",
    "alter_context",
    "alter_context_resp",
    "auth3",
    "shutdown",
    "co_cancel",
    "orphaned",
];

/// A connectionless PDU filling datagram `d`: (packet type, interface
/// UUID).
fn cl_pdu(d: &[u8]) -> Option<(u8, [u8; 16])> {
    let h = d.get(..CL_HEADER)?;
    let (ptype, flags1, flags2) = (h[1], h[2], h[3]);
    if h[0] != 4 || ptype > 10 || flags2 & 0xfc != 0 {
        return None;
    }
    let le = drep(&h[4..7])?;
    let len = usize::from(u16_at(h, 74, le)?);
    let fragnum = u16_at(h, 76, le)?;
    // Not a fragment: fragment number 0.
    if flags1 & 0x04 == 0 && fragnum != 0 {
        return None;
    }
    let body = d.len() - CL_HEADER;
    let fits = if h[78] == 0 {
        len == body
    } else {
        len < body && body - len <= 1024
    };
    if !fits {
        return None;
    }
    Some((ptype, uuid(&h[24..40], le)?))
}

/// A connection-oriented PDU header at the start of `d`: (packet type,
/// little endian, fragment length, auth length). `Err(true)`: more bytes
/// needed.
fn co_header(d: &[u8]) -> Result<(u8, bool, usize, usize), bool> {
    for (i, &b) in d.iter().take(CO_HEADER).enumerate() {
        let ok = match i {
            0 => b == 5,
            1 => b <= 1,
            2 => b <= 19,
            4 => b & 0xee == 0,
            5 => b <= 3,
            6 | 7 => b == 0,
            _ => true,
        };
        if !ok {
            return Err(false);
        }
    }
    if d.len() < CO_HEADER {
        return Err(true);
    }
    let le = d[4] & 0x10 != 0;
    let frag = usize::from(u16_at(d, 8, le).ok_or(true)?);
    let auth = usize::from(u16_at(d, 10, le).ok_or(true)?);
    // The auth verifier is an 8-byte sec_trailer plus the credentials.
    let need = if auth == 0 { CO_HEADER } else { CO_HEADER + 8 + auth };
    if frag < need {
        return Err(false);
    }
    Ok((d[2], le, frag, auth))
}

/// The first abstract syntax of a bind / alter-context body (`pdu` is
/// the whole PDU, `frag` long).
fn co_bind_interface(pdu: &[u8], le: bool, frag: usize, auth: usize) -> Option<[u8; 16]> {
    // max_xmit, max_recv (2+2), assoc_group (4), n_context (1), 3 reserved.
    let n_ctx = *pdu.get(24)?;
    // p_cont_elem: context id (2), n_transfer (1), reserved (1),
    // abstract syntax (20), transfer syntaxes (20 each).
    let n_tr = usize::from(*pdu.get(30)?);
    let end = frag - if auth == 0 { 0 } else { 8 + auth };
    if n_ctx == 0 || n_tr == 0 || 28 + 4 + 20 + 20 * n_tr > end {
        return None;
    }
    uuid(pdu.get(32..48)?, le)
}

impl DceRpc {
    fn parse_udp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.first_side();
        let mut found = None;
        for dg in first.chunks().chain(p.second_side().chunks()) {
            match cl_pdu(dg) {
                Some(x) => {
                    if found.is_none() {
                        found = Some(x);
                    }
                }
                None => return Parse::NotMine,
            }
        }
        let Some((ptype, iface)) = found else {
            return p.undecided();
        };
        meta.protocol = Some("dcerpc");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("dcerpc_version", "4");
        meta.set_extra("dcerpc_ptype", PTYPES[usize::from(ptype)]);
        meta.set_extra("dcerpc_interface", uuid_text(&iface));
        if is_pnio(&iface) {
            meta.set_extra("dcerpc_service", "profinet_io");
        }
        if p.second_side().is_empty() {
            Parse::Identified
        } else {
            Parse::Done
        }
    }

    fn parse_tcp(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_side().stream();
        let (ptype, le, frag, auth) = match co_header(d) {
            Ok(x) => x,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let Some(pdu) = d.get(..frag) else { return p.undecided() };
        let iface = if ptype == 11 || ptype == 14 {
            match co_bind_interface(pdu, le, frag, auth) {
                Some(u) => Some(u),
                None => return Parse::NotMine,
            }
        } else {
            None
        };
        let answer = p.second_side().stream();
        let answered = match co_header(answer) {
            Ok(_) => true,
            Err(true) if answer.is_empty() => false,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        meta.protocol = Some("dcerpc");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("dcerpc_version", if pdu[1] == 1 { "5.1" } else { "5.0" });
        meta.set_extra("dcerpc_ptype", PTYPES[usize::from(ptype)]);
        if let Some(u) = iface {
            meta.set_extra("dcerpc_interface", uuid_text(&u));
        }
        if auth != 0 {
            meta.set_extra("dcerpc_auth", auth.to_string());
        }
        if answered {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

impl Dissector for DceRpc {
    fn name(&self) -> &'static str {
        "dcerpc"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let want = match p.transport {
            Transport::Tcp => 5,
            Transport::Udp => 4,
        };
        match p.first_payload().first() {
            None => Probe::Maybe,
            Some(&b) if b == want => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    /// The probe admits only version 5 (TCP) or 4 (UDP).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[4, 5]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        match p.transport {
            Transport::Udp => self.parse_udp(p, meta),
            Transport::Tcp => self.parse_tcp(p, meta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, unhex, UdpFixture};

    /// dcerpc.pcap frame 9: a big-endian PNIO control request
    /// (controller 49155 → device 34964).
    const BE_REQ: &str = "0400200000000000dea000006c9711d1827100010101014ddea000016c9711d1827100a02442df7d35fda900358a12128004001c060b26ed0000000000000001000000020004ffffffff00340000000000000020000000200000002000000000000000200110001c0100000009f1a530c75f6d47b67f8073439deaad0002000000010000";
    /// dcerpc.pcap frame 3: the device's little-endian connect response
    /// (49161 → 49155, no request on that port pair).
    const LE_RESP: &str = "04020a00100000000000a0de976cd111827100010101014d0100a0de976cd111827100a02442df7d00a9fd358a3512128004001c060b26ed0000000001000000000000000000ffffffff5a000000000000000000460000002d03000000000000460000008101001e0100000109f1a530c75f6d47b67f8073439deaad0002000ef0489e058892810200080100000100018000810200080100000200028010810300080100000100140598";
    /// profinet-io-le.pcap frame 1: a read-implicit request (1566 → 34964).
    const LE_READ: &str = "04000800100000000000a0de976cd111827100010003015a0100a0de976cd111827100a02442df7ddbabbaec1d005443b2500b01630abafd0000000001000000000000000500ffffffff54000000000040800000400000004080000000000000400000000009003c0100000a0000000000000000000000000000000000000000000000010000f84000008000000000000000000000000000000000000000000000000000";

    #[test]
    fn connectionless_profinet() {
        let req = unhex(BE_REQ);
        let (r, m) = check_split_udp(&DceRpc, 49155, 34964, &[&req, &req], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("dcerpc"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("dcerpc_ptype"), Some("request"));
        assert_eq!(
            m.extra("dcerpc_interface"),
            Some("dea00001-6c97-11d1-8271-00a02442df7d")
        );
        assert_eq!(m.extra("dcerpc_service"), Some("profinet_io"));
        let resp = unhex(LE_RESP);
        let (r, m) = check_split_udp(&DceRpc, 49161, 49155, &[&resp], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("dcerpc_ptype"), Some("response"));
        assert_eq!(
            m.extra("dcerpc_interface"),
            Some("dea00001-6c97-11d1-8271-00a02442df7d")
        );
        let read = unhex(LE_READ);
        let (r, m) = check_split_udp(&DceRpc, 1566, 34964, &[&read], &[&resp]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("dcerpc_service"), Some("profinet_io"));
    }

    #[test]
    fn connectionless_near_misses() {
        let req = unhex(BE_REQ);
        let mut cases = Vec::new();
        for (i, v) in [(0, 5u8), (1, 11), (3, 0x80), (4, 0x20), (5, 4), (6, 1), (75, 0x35)] {
            let mut c = req.clone();
            c[i] = v;
            cases.push(c);
        }
        // Not a fragment, but a fragment number.
        let mut c = req.clone();
        c[77] = 1;
        cases.push(c);
        // One byte more or less than the body length says.
        let mut c = req.clone();
        c.push(0);
        cases.push(c);
        cases.push(req[..req.len() - 1].to_vec());
        for c in &cases {
            let f = UdpFixture::new(49155, 34964, &[c], &[]);
            assert!(!not_refused(&DceRpc, &f.payloads()), "{c:02x?}");
        }
        // A valid request answered by something else.
        let f = UdpFixture::new(49155, 34964, &[&req], &[b"\x04hello"]);
        assert!(!not_refused(&DceRpc, &f.payloads()));
        // An unrelated interface is still DCE/RPC, without the service.
        let mut other = req.clone();
        other[24] = 0x12;
        let f = UdpFixture::new(40000, 135, &[&other], &[]);
        let mut m = Meta::default();
        assert_eq!(DceRpc.parse(&f.payloads(), &mut m), Parse::Identified);
        assert_eq!(m.extra("dcerpc_service"), None);
    }

    /// A connection-oriented bind to the endpoint mapper and its
    /// bind_ack, built from C706 12.6 (the corpus has no TCP DCE/RPC with
    /// payload): little endian, one context, NDR transfer syntax.
    fn co_bind() -> (Vec<u8>, Vec<u8>) {
        let mut b = unhex("05000b0310000000 4800 0000 01000000 b810b810 00000000 01000000 0000 01 00");
        b.extend(unhex("083afa e1 0cc8 d011 a1 3f 00 00 f8 75 7e 08 03000000"));
        b.extend(unhex("045d888aeb1cc9119fe808002b104860 02000000"));
        let mut a = unhex("05000c0310000000 3c00 0000 01000000 b810b810 12340000 0400 3133 3500 0000");
        a.extend(unhex("01000000 0000 0000 045d888aeb1cc9119fe808002b104860 02000000"));
        (b, a)
    }

    #[test]
    fn connection_oriented_bind() {
        let (b, a) = co_bind();
        assert_eq!(b.len(), 0x48);
        assert_eq!(a.len(), 0x3c);
        let (r, m) = check_split_tcp(&DceRpc, 135, &b, &a);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("dcerpc"));
        assert_eq!(m.extra("dcerpc_version"), Some("5.0"));
        assert_eq!(m.extra("dcerpc_ptype"), Some("bind"));
        assert_eq!(
            m.extra("dcerpc_interface"),
            Some("e1fa3a08-c80c-11d0-a13f-0000f8757e08")
        );
        let (r, _) = check_split_tcp(&DceRpc, 135, &b, &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn connection_oriented_near_misses() {
        let (b, a) = co_bind();
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, v) in [(1, 2u8), (2, 20), (4, 0x02), (7, 1), (8, 0x0f), (24, 0), (30, 0)] {
            let mut c = b.clone();
            c[i] = v;
            cases.push((c, Vec::new()));
        }
        // Context list longer than the PDU.
        let mut c = b.clone();
        c[30] = 3;
        cases.push((c, Vec::new()));
        cases.push((b.clone(), b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 135, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&DceRpc, &p), "{o:02x?}");
        }
        // The answer alone is a valid header, not a bind: a flow seen
        // from the server's side is still DCE/RPC.
        let ends = [[0], [a.len() as u32]];
        let p = Payloads::tcp(40000, 135, &[], &a, &ends);
        assert_eq!(DceRpc.parse(&p, &mut Meta::default()), Parse::Identified);
    }
}
