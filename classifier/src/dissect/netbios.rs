//! NetBIOS over TCP/IP (RFC 1001/1002): the name service (NBNS, UDP 137),
//! the datagram service (NBDS, UDP 138) and the session service's
//! request (NBSS, TCP 139).
//!
//! Every NetBIOS name travels "first-level encoded": a label of exactly
//! 32 bytes, each in `A`..`P` (one nibble of the 16-byte name plus `A`),
//! then optional scope labels and a zero byte. That encoding is the
//! structure checked here, with the framing around it:
//! - NBNS uses the DNS message layout with its own opcodes (query,
//!   registration, release, WACK, refresh) and exactly one question or
//!   one answer, of type NB (0x20) or NBSTAT (0x21), class IN. The DNS
//!   dissector leaves ports 137/138 alone; so this one requires port 137
//!   for the name service (the DNS header alone is too generic).
//! - NBDS: message type 0x10..0x12 (direct unique, direct group,
//!   broadcast) with a 14-byte header whose datagram length counts the
//!   rest of the datagram exactly and a source and destination name
//!   after it; or 0x14..0x16 (query requests and answers) with a
//!   destination name after 10 bytes. Port 138 required.
//! - NBSS: a session request (0x81, length = the two names called and
//!   calling, exactly), on any port.
//!
//! Names and datagrams travel in clear: cleartext. The first name is
//! decoded into `netbios_name`. SMB carried over NBSS session messages is
//! the SMB dissector's.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Netbios;

const NS_PORT: u16 = 137;
const DGM_PORT: u16 = 138;
const DNS_HEADER: usize = 12;
const DGM_HEADER: usize = 14;
const MAX_SCOPE_LABELS: usize = 16;

/// A first-level encoded name at the start of `d`: the decoded 16 bytes
/// and the offset past its terminating zero. `None` when malformed;
/// `Err(())` when `d` ends before the name does.
fn encoded_name(d: &[u8]) -> Result<Option<([u8; 16], usize)>, ()> {
    let Some(&len) = d.first() else { return Err(()) };
    if len != 32 {
        return Ok(None);
    }
    let mut raw = [0u8; 16];
    for i in 0..32 {
        let Some(&c) = d.get(1 + i) else {
            return Err(());
        };
        if !(b'A'..=b'P').contains(&c) {
            return Ok(None);
        }
        raw[i / 2] = raw[i / 2] << 4 | (c - b'A');
    }
    let mut off = 33;
    for _ in 0..MAX_SCOPE_LABELS {
        let Some(&l) = d.get(off) else { return Err(()) };
        if l == 0 {
            return Ok(Some((raw, off + 1)));
        }
        if l > 63 {
            return Ok(None);
        }
        let label = d.get(off + 1..off + 1 + usize::from(l)).ok_or(())?;
        if !label
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Ok(None);
        }
        off += 1 + usize::from(l);
    }
    Ok(None)
}

/// The printable part of a decoded name: 15 characters, trailing spaces
/// cut (the 16th byte is the service suffix).
fn name_string(raw: &[u8; 16]) -> String {
    let n = &raw[..15];
    let end = n.iter().rposition(|&c| c != b' ' && c != 0).map_or(0, |i| i + 1);
    n[..end]
        .iter()
        .map(|&c| if (0x20..0x7f).contains(&c) { char::from(c) } else { '.' })
        .collect()
}

/// How one datagram or stream prefix reads.
enum Verdict {
    Yes(&'static str, [u8; 16]),
    No,
    More,
}

fn from(r: Result<Option<([u8; 16], usize)>, ()>) -> Result<([u8; 16], usize), Verdict> {
    match r {
        Ok(Some(x)) => Ok(x),
        Ok(None) => Err(Verdict::No),
        Err(()) => Err(Verdict::More),
    }
}

/// An NBNS message.
fn name_service(d: &[u8]) -> Verdict {
    if d.len() < DNS_HEADER {
        return Verdict::More;
    }
    let flags = u16::from_be_bytes([d[2], d[3]]);
    let kind = match (flags >> 11) & 0xf {
        0 => "name_query",
        5 => "name_registration",
        6 => "name_release",
        7 => "wack",
        8 | 9 => "name_refresh",
        _ => return Verdict::No,
    };
    // Z bits (4..6) are zero.
    if flags & 0x0060 != 0 {
        return Verdict::No;
    }
    let count = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    // (Widened: the counts are u16 each, and 0xffff + 2 must not wrap to 1.)
    if u32::from(qd) + u32::from(an) != 1 || ns > 1 || ar > 1 {
        return Verdict::No;
    }
    let (raw, off) = match from(encoded_name(&d[DNS_HEADER..])) {
        Ok(x) => x,
        Err(v) => return v,
    };
    let Some(tc) = d.get(DNS_HEADER + off..DNS_HEADER + off + 4) else {
        return Verdict::More;
    };
    let rtype = u16::from_be_bytes([tc[0], tc[1]]);
    if !(rtype == 0x20 || rtype == 0x21) || tc[2..4] != [0, 1] {
        return Verdict::No;
    }
    let kind = if flags & 0x8000 != 0 {
        match kind {
            "name_query" => "name_query_response",
            "name_registration" => "name_registration_response",
            "name_release" => "name_release_response",
            k => k,
        }
    } else {
        kind
    };
    Verdict::Yes(kind, raw)
}

/// An NBDS datagram.
fn datagram_service(d: &[u8]) -> Verdict {
    let Some(&t) = d.first() else { return Verdict::More };
    let Some(&flags) = d.get(1) else { return Verdict::More };
    if flags & 0xf0 != 0 {
        return Verdict::No;
    }
    match t {
        0x10..=0x12 => {
            if d.len() < DGM_HEADER {
                return Verdict::More;
            }
            let len = usize::from(u16::from_be_bytes([d[10], d[11]]));
            let first_fragment = d[12..14] == [0, 0];
            // Unfragmented: the length counts the rest exactly.
            if flags & 0x03 == 0x02 && first_fragment && d.len() - DGM_HEADER != len {
                return Verdict::No;
            }
            if d.len() - DGM_HEADER > len {
                return Verdict::No;
            }
            let (raw, off) = match from(encoded_name(&d[DGM_HEADER..])) {
                Ok(x) => x,
                Err(v) => return v,
            };
            match from(encoded_name(&d[DGM_HEADER + off..])) {
                Ok(_) => Verdict::Yes("datagram", raw),
                Err(v) => v,
            }
        }
        0x14..=0x16 => {
            let Some(rest) = d.get(10..) else { return Verdict::More };
            match from(encoded_name(rest)) {
                Ok((raw, off)) if 10 + off == d.len() => Verdict::Yes("datagram_query", raw),
                Ok(_) => Verdict::No,
                Err(v) => v,
            }
        }
        _ => Verdict::No,
    }
}

/// An NBSS session request at the start of a TCP stream.
fn session_request(d: &[u8]) -> Verdict {
    let Some(&t) = d.first() else { return Verdict::More };
    if t != 0x81 {
        return Verdict::No;
    }
    if d.len() < 4 {
        return if d.get(1).is_some_and(|&f| f & 0xfe != 0) {
            Verdict::No
        } else {
            Verdict::More
        };
    }
    if d[1] & 0xfe != 0 {
        return Verdict::No;
    }
    let len = usize::from(d[1] & 1) << 16 | usize::from(u16::from_be_bytes([d[2], d[3]]));
    let (raw, off) = match from(encoded_name(&d[4..])) {
        Ok(x) => x,
        Err(v) => return v,
    };
    match from(encoded_name(&d[4 + off..])) {
        Ok((_, off2)) if off + off2 == len => Verdict::Yes("session_request", raw),
        Ok(_) => Verdict::No,
        Err(v) => v,
    }
}

fn whole(v: Verdict) -> Verdict {
    match v {
        Verdict::More => Verdict::No,
        v => v,
    }
}

impl Netbios {
    fn judge(&self, p: &Payloads<'_>) -> Verdict {
        let d = p.first_payload();
        match p.transport {
            Transport::Tcp => session_request(d),
            // A datagram is whole: one that ends early is not NetBIOS.
            Transport::Udp if p.port(NS_PORT) => whole(name_service(d)),
            Transport::Udp if p.port(DGM_PORT) => whole(datagram_service(d)),
            Transport::Udp => Verdict::No,
        }
    }
}

impl Dissector for Netbios {
    fn name(&self) -> &'static str {
        "netbios"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.transport {
            Transport::Tcp if p.first_payload().first().is_some_and(|&b| b != 0x81) => Probe::NotMine,
            Transport::Udp if !p.port(NS_PORT) && !p.port(DGM_PORT) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        match self.judge(p) {
            Verdict::Yes(kind, raw) => {
                meta.protocol = Some("netbios");
                meta.encryption = Encryption::Cleartext;
                meta.set_extra("netbios_message", kind);
                let name = name_string(&raw);
                if !name.is_empty() {
                    meta.set_extra("netbios_name", name);
                }
                Parse::Done
            }
            Verdict::No => Parse::NotMine,
            Verdict::More => p.undecided(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// netbios.pcap: a broadcast name registration of "FIFDFEFCFEEB..."
    /// (`WORKGROUP`-like), flags 0x0110.
    const QUERY: &str =
        "a7490110000100000000000020464946444645464345464542454e46504549464a4341434143414341434141410000200001";
    /// netbios.pcap: a node status query for `*` and its answer.
    const STATUS_Q: &str =
        "20a80000000100000000000020434b4141414141414141414141414141414141414141414141414141414141410000210001";
    const STATUS_A: &str = "20a88400000000010000000020434b41414141414141414141414141414141414141414141414141414141414100002100010000000000770447554e4e4152202020202020202020000400564947494c414e545f47524f55502000840047554e4e4152202020202020202020200400564947494c414e545f47524f5550201e8400001cc410790f00000000000000000000";
    /// dos_win98_smb_netbeui.pcap: a browser announcement (NBDS direct
    /// group datagram carrying SMB), 201 bytes.
    const DATAGRAM: &str = "1102000cc0a8ef81008a00bb000020454e4545454b4643444a444943414341434143414341434143414341434141410020464845504643454c45484643455046464641434143414341434143414341424e00ff534d4225000000000000000000000000000000000000000000000000000000110000210000000000000000000000000000000000000021005600030001000100020032005c4d41494c534c4f545c42524f57534500010360ea00004d444a52393800000000000000000000040003204000150455aa00";

    #[test]
    fn name_service() {
        let q0 = hex(QUERY);
        let (r, m) = check_split_udp(&Netbios, 137, 137, &[&q0], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("netbios"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("netbios_message"), Some("name_query"));
        assert_eq!(m.extra("netbios_name"), Some("XSTREAM_HY"));
        // The same as a registration (opcode 5) with its additional record.
        let mut reg = q0.clone();
        reg[2] = 0x29;
        reg[11] = 1;
        let (r, m) = check_split_udp(&Netbios, 137, 137, &[&reg], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("netbios_message"), Some("name_registration"));
        let (q, a) = (hex(STATUS_Q), hex(STATUS_A));
        let (r, m) = check_split_udp(&Netbios, 57836, 137, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("netbios_message"), Some("name_query"));
        assert_eq!(m.extra("netbios_name"), Some("*"));
        let (r, m) = check_split_udp(&Netbios, 137, 57836, &[&a], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("netbios_message"), Some("name_query_response"));
    }

    /// The CI fuzz smoke's find: question and answer counts 0xffff and 2
    /// wrapped to 1 in a u16 sum. A name query with such counts is not one.
    #[test]
    fn counts_that_wrap_are_refused() {
        let mut q = hex(QUERY);
        (q[4], q[5], q[6], q[7]) = (0xff, 0xff, 0, 2);
        let f = UdpFixture::new(137, 137, &[&q], &[]);
        assert_eq!(Netbios.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
        (q[4], q[5], q[6], q[7]) = (0, 1, 0, 0);
        let f = UdpFixture::new(137, 137, &[&q], &[]);
        assert_eq!(Netbios.parse(&f.payloads(), &mut Meta::default()), Parse::Done);
    }

    #[test]
    fn datagram_service() {
        let d = hex(DATAGRAM);
        assert_eq!(d.len(), 201);
        let (r, m) = check_split_udp(&Netbios, 138, 138, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("netbios_message"), Some("datagram"));
        assert_eq!(m.extra("netbios_name"), Some("MDJR98"));
    }

    #[test]
    fn session_request() {
        let mut s = vec![0x81, 0, 0, 68];
        let called = &hex(DATAGRAM)[14..48];
        let calling = &hex(DATAGRAM)[48..82];
        s.extend_from_slice(called);
        s.extend_from_slice(calling);
        let (r, m) = check_split_tcp(&Netbios, 139, &s, &[0x82, 0, 0, 0]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("netbios_message"), Some("session_request"));
        let mut long = s.clone();
        long[3] = 69;
        let ends = [[long.len() as u32], [0]];
        let p = Payloads::tcp(40000, 139, &long, &[], &ends);
        assert!(!crate::dissect::not_refused(&Netbios, &p));
    }

    #[test]
    fn not_netbios() {
        let reg = hex(QUERY);
        let dns_q: &[u8] =
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
        let mut lower = reg.clone();
        lower[20] = b'a';
        let mut letter = reg.clone();
        letter[20] = b'Q';
        let mut opcode = reg.clone();
        opcode[2] = 0x11;
        let mut two = reg.clone();
        two[5] = 2;
        let mut rtype = reg.clone();
        rtype[47] = 1;
        let d = hex(DATAGRAM);
        let mut dlen = d.clone();
        dlen[11] += 1;
        let mut dname = d.clone();
        dname[14] = 31;
        let cases: [(u16, &[u8]); 8] = [
            (137, dns_q),
            (137, &lower),
            (137, &letter),
            (137, &opcode),
            (137, &two),
            (137, &rtype),
            (138, &dlen),
            (138, &dname),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(port, port, &[d], &[]);
            assert!(!crate::dissect::not_refused(&Netbios, &f.payloads()), "{d:?}");
        }
        // The name service's shape on another port is not claimed.
        let f = UdpFixture::new(40000, 5353, &[&reg], &[]);
        assert!(!crate::dissect::not_refused(&Netbios, &f.payloads()));
    }
}
