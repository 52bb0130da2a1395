//! SOCKS 4, 4a (the SOCKS4 protocol note and its 4a extension) and
//! SOCKS 5 (RFC 1928, username/password from RFC 1929) over TCP, on any
//! port (1080 is not required). The handshake of both sides is parsed in
//! order:
//! - SOCKS4/4a: the client's request (version 4, command CONNECT or
//!   BIND, port, IPv4 address, a NUL-terminated user id; for 4a an
//!   address 0.0.0.x and a NUL-terminated host name) answered by the
//!   8-byte reply (version 0, status 0x5a..0x5d);
//! - SOCKS5: the greeting (version 5, one or more methods, none 0xff)
//!   answered by a method the client offered (or 0xff, no acceptable
//!   method, after which the client must have sent nothing more); the
//!   methods offered are at most 16, distinct, assigned (0..9) or
//!   private (0x80..0xfe); after method 2 the username/password exchange (sub-version
//!   1); after methods 0 and 2 the request (version 5, command 1..3,
//!   reserved 0, address type 1, 3 or 4) and its reply (status 0..8).
//!
//! The tunnelled protocol is not this dissector's: the flow is named
//! once bytes follow the handshake (or nothing more will come), and when
//! the client's bytes after it start a TLS handshake record the decision
//! is left to the TLS dissector (which parses SOCKS preambles itself and
//! ranks first); only if TLS never claims the flow does it end as
//! `socks` with `socks_payload` = `tls`, and then `encrypted`, since what
//! it carries is. Otherwise `cleartext`: SOCKS has no encryption of its
//! own. A method other than none or username/password (GSS-API, private
//! ones) is not followed: the greeting and its answer alone are too few
//! bytes to name the flow.
//!
//! Extras: `socks_version` (`4`, `4a`, `5`), `socks_command`,
//! `socks_target` (`host:port`, IPv6 in brackets), `socks_auth` (SOCKS5
//! method chosen: `none`, `userpass`, `refused`), `socks_status` when
//! the server refused the request.
//!
//! Shadowsocks is not SOCKS: its streams start with a random salt, which
//! fails the version and length checks.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::text::{is_printable, tls_follows, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Socks;

const HOST_MAX: usize = 128;

/// `Err(true)`: more bytes needed; `Err(false)`: not SOCKS.
type Step<T> = Result<T, bool>;

fn byte(b: &[u8], at: usize) -> Step<u8> {
    b.get(at).copied().ok_or(true)
}

/// A NUL-terminated string of at most 255 bytes at `at`: (the string,
/// the offset past the NUL).
fn cstr(b: &[u8], at: usize) -> Step<(&[u8], usize)> {
    let rest = b.get(at..).unwrap_or(&[]);
    match rest.iter().take(256).position(|&c| c == 0) {
        Some(i) => Ok((&rest[..i], at + i + 1)),
        None if rest.len() < 256 => Err(true),
        None => Err(false),
    }
}

fn port(b: &[u8], at: usize) -> Step<u16> {
    Ok(u16::from_be_bytes([byte(b, at)?, byte(b, at + 1)?]))
}

/// What the handshake showed.
struct Handshake {
    version: &'static str,
    command: Option<&'static str>,
    target: Option<String>,
    auth: Option<&'static str>,
    status: Option<u8>,
    /// Where the tunnelled bytes start on each side, once the handshake
    /// is over; `None` while it is not.
    ends: Option<(usize, usize)>,
}

fn command(c: u8) -> &'static str {
    match c {
        1 => "connect",
        2 => "bind",
        _ => "udp_associate",
    }
}

fn socks4(o: &[u8], r: &[u8]) -> Step<Handshake> {
    let cmd = byte(o, 1)?;
    if !(1..=2).contains(&cmd) {
        return Err(false);
    }
    let dport = port(o, 2)?;
    let ip = [byte(o, 4)?, byte(o, 5)?, byte(o, 6)?, byte(o, 7)?];
    let (user, mut end) = cstr(o, 8)?;
    if !is_printable(user) {
        return Err(false);
    }
    let mut version = "4";
    let mut host = Ipv4Addr::from(ip).to_string();
    if ip[..3] == [0, 0, 0] && ip[3] != 0 {
        let (name, e) = cstr(o, end)?;
        if name.is_empty() || !is_printable(name) {
            return Err(false);
        }
        version = "4a";
        host = to_string(name, HOST_MAX);
        end = e;
    }
    let (r0, r1) = (byte(r, 0)?, byte(r, 1)?);
    if r0 != 0 || !(0x5a..=0x5d).contains(&r1) {
        return Err(false);
    }
    if r.len() < 8 {
        return Err(true);
    }
    Ok(Handshake {
        version,
        command: Some(command(cmd)),
        target: Some(format!("{host}:{dport}")),
        auth: None,
        status: (r1 != 0x5a).then_some(r1),
        ends: Some((end, 8)),
    })
}

/// A SOCKS5 address at `at`: (text, offset past the port).
fn socks5_addr(b: &[u8], at: usize) -> Step<(String, usize)> {
    let (host, p) = match byte(b, at)? {
        1 => {
            let a = b.get(at + 1..at + 5).ok_or(true)?;
            (Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string(), at + 5)
        }
        3 => {
            let n = usize::from(byte(b, at + 1)?);
            let name = b.get(at + 2..at + 2 + n).ok_or(true)?;
            if n == 0 || !is_printable(name) {
                return Err(false);
            }
            (to_string(name, HOST_MAX), at + 2 + n)
        }
        4 => {
            let a: [u8; 16] = b.get(at + 1..at + 17).ok_or(true)?.try_into().map_err(|_| false)?;
            (format!("[{}]", Ipv6Addr::from(a)), at + 17)
        }
        _ => return Err(false),
    };
    let dport = port(b, p)?;
    let mut s = host;
    let _ = write!(s, ":{dport}");
    Ok((s, p + 2))
}

fn socks5(o: &[u8], r: &[u8]) -> Step<Handshake> {
    let n = usize::from(byte(o, 1)?);
    if n == 0 {
        return Err(false);
    }
    // RFC 1928 methods: 0x00..0x09 assigned, 0x80..0xfe private; each
    // offered once.
    if n > 16 {
        return Err(false);
    }
    let methods = o.get(2..2 + n).ok_or(true)?;
    for (i, &m) in methods.iter().enumerate() {
        if !(m <= 0x09 || (0x80..0xff).contains(&m)) || methods[..i].contains(&m) {
            return Err(false);
        }
    }
    let (r0, m) = (byte(r, 0)?, byte(r, 1)?);
    if r0 != 5 || !(m == 0xff || methods.contains(&m)) {
        return Err(false);
    }
    let mut h = Handshake {
        version: "5",
        command: None,
        target: None,
        auth: Some(match m {
            0 => "none",
            2 => "userpass",
            _ => "refused",
        }),
        status: None,
        ends: None,
    };
    let (mut oa, mut ra) = (2 + n, 2);
    match m {
        0 => {}
        2 => {
            // RFC 1929: 01 ulen user plen pass, answered 01 status.
            if byte(o, oa)? != 1 {
                return Err(false);
            }
            let ulen = usize::from(byte(o, oa + 1)?);
            let plen = usize::from(byte(o, oa + 2 + ulen)?);
            oa += 3 + ulen + plen;
            if o.len() < oa {
                return Err(true);
            }
            let (v, st) = (byte(r, ra)?, byte(r, ra + 1)?);
            if v != 1 {
                return Err(false);
            }
            ra += 2;
            if st != 0 {
                h.status = Some(st);
                h.ends = Some((oa, ra));
                return Ok(h);
            }
        }
        // Refused: the client has nothing more to say.
        0xff if o.len() == oa => {
            h.ends = Some((oa, ra));
            return Ok(h);
        }
        // A method whose exchange this dissector does not follow: too
        // little to tell SOCKS from chance.
        _ => return Err(false),
    }
    let (v, cmd, rsv) = (byte(o, oa)?, byte(o, oa + 1)?, byte(o, oa + 2)?);
    if v != 5 || !(1..=3).contains(&cmd) || rsv != 0 {
        return Err(false);
    }
    let (target, oe) = socks5_addr(o, oa + 3)?;
    h.command = Some(command(cmd));
    h.target = Some(target);
    let (v, rep, rsv) = (byte(r, ra)?, byte(r, ra + 1)?, byte(r, ra + 2)?);
    if v != 5 || rep > 8 || rsv != 0 {
        return Err(false);
    }
    let (_, re) = socks5_addr(r, ra + 3)?;
    if rep != 0 {
        h.status = Some(rep);
    }
    h.ends = Some((oe, re));
    Ok(h)
}

impl Dissector for Socks {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "socks"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match (p.orig.stream().first(), p.resp.is_empty()) {
            (None, true) | (Some(4 | 5), _) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The client's SOCKS version, 4 or 5; the server alone is not probed.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[4, 5]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let h = match o.first() {
            Some(4) => socks4(o, r),
            Some(5) => socks5(o, r),
            None => Err(true),
            Some(_) => Err(false),
        };
        let h = match h {
            Ok(h) => h,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let Some((oe, re)) = h.ends else { return p.undecided() };
        let (o_rest, r_rest) = (o.get(oe..).unwrap_or(&[]), r.get(re..).unwrap_or(&[]));
        // TLS inside: the TLS dissector's, unless it never claims it.
        let tls = tls_follows(o, oe) || o_rest == [0x16];
        if tls && !p.last {
            return Parse::NeedMore;
        }
        if o_rest.is_empty() && r_rest.is_empty() && !p.last {
            return Parse::NeedMore;
        }
        meta.protocol = Some("socks");
        meta.encryption = if tls {
            meta.set_extra("socks_payload", "tls");
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        meta.set_extra("socks_version", h.version);
        if let Some(c) = h.command {
            meta.set_extra("socks_command", c);
        }
        if let Some(t) = h.target {
            meta.set_extra("socks_target", t);
        }
        if let Some(a) = h.auth {
            meta.set_extra("socks_auth", a);
        }
        if let Some(s) = h.status {
            meta.set_extra("socks_status", s.to_string());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// socks.pcap, 10.180.156.185:53533 → 1080: a SOCKS4 CONNECT to
    /// 93.184.216.119:80, granted, then HTTP.
    const V4_REQ: &str = "04010050 5db8d877 00 474554202f20";
    const V4_REP: &str = "005adfb20ab49cf9 485454502f";
    /// socks.pcap, 10.0.0.1:1637 → 21477: SOCKS5, no authentication, a
    /// CONNECT to www.google.com:80, then HTTP.
    const V5_REQ: &str = "050100 050100030e7777772e676f6f676c652e636f6d0050 474554202f20";
    const V5_REP: &str = "0500 050000010a0000020050 485454502f";
    /// shadowsocks.pcap, 127.0.0.1:37904 → 1080 (the application's side
    /// of the local Shadowsocks client): two methods offered.
    const V5_SS_REQ: &str = "05020001 05010001805f9bc60050 474554202f20";
    const V5_SS_REP: &str = "0500 05000001000000001010 485454502f";

    fn run(o: &str, r: &str) -> (Parse, Meta) {
        check_split_tcp(&Socks, 1080, &unhex(o), &unhex(r))
    }

    #[test]
    fn socks4_connect() {
        let (r, m) = run(V4_REQ, V4_REP);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("socks"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("socks_version"), Some("4"));
        assert_eq!(m.extra("socks_command"), Some("connect"));
        assert_eq!(m.extra("socks_target"), Some("93.184.216.119:80"));
        // SOCKS4a: 0.0.0.1 and a host name after the user id.
        let mut a = unhex("04010050 00000001");
        a.extend_from_slice(b"bob\0example.com\0GET /");
        let (r, m) = check_split_tcp(&Socks, 1080, &a, &unhex(V4_REP));
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("socks_version"), Some("4a"));
        assert_eq!(m.extra("socks_target"), Some("example.com:80"));
    }

    #[test]
    fn socks5_connect() {
        let (r, m) = run(V5_REQ, V5_REP);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("socks_version"), Some("5"));
        assert_eq!(m.extra("socks_auth"), Some("none"));
        assert_eq!(m.extra("socks_target"), Some("www.google.com:80"));
        let (r, m) = run(V5_SS_REQ, V5_SS_REP);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("socks_target"), Some("128.95.155.198:80"));
        // RFC 1929 username/password, IPv6 target, server speaks first.
        let o = unhex("050102 0103626f62 027077 05010004 20010db8000000000000000000000001 0016");
        let r = unhex("0502 0100 050000010a0000020050 5353482d322e30");
        let (v, m) = check_split_tcp(&Socks, 1080, &o, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("socks_auth"), Some("userpass"));
        assert_eq!(m.extra("socks_target"), Some("[2001:db8::1]:22"));
    }

    #[test]
    fn refused() {
        let (o, r) = (unhex("050100"), unhex("05ff"));
        let ends = [[3], [2]];
        let mut p = Payloads::tcp(40000, 1080, &o, &r, &ends);
        p.last = true;
        let mut m = Meta::default();
        assert_eq!(Socks.parse(&p, &mut m), Parse::Done);
        assert_eq!(m.extra("socks_auth"), Some("refused"));
    }

    #[test]
    fn handshake_alone_waits_and_tls_is_left_to_tls() {
        let o = unhex("050100 050100030e7777772e676f6f676c652e636f6d0050");
        let r = unhex("0500 050000010a0000020050");
        let ends = [[o.len() as u32], [r.len() as u32]];
        let mut p = Payloads::tcp(40000, 1080, &o, &r, &ends);
        assert_eq!(Socks.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Socks.parse(&p, &mut Meta::default()), Parse::Done);
        let mut t = o.clone();
        t.extend_from_slice(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
        let ends = [[t.len() as u32], [r.len() as u32]];
        let mut p = Payloads::tcp(40000, 1080, &t, &r, &ends);
        assert_eq!(Socks.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        let mut m = Meta::default();
        assert_eq!(Socks.parse(&p, &mut m), Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("socks_payload"), Some("tls"));
    }

    #[test]
    fn not_socks() {
        let v4 = (unhex(V4_REQ), unhex(V4_REP));
        let v5 = (unhex(V5_REQ), unhex(V5_REP));
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut c = v4.clone();
        c.0[1] = 3; // command
        cases.push(c);
        let mut c = v4.clone();
        c.1[1] = 0x5e; // status
        cases.push(c);
        let mut c = v4.clone();
        c.1[0] = 4; // reply version
        cases.push(c);
        let mut c = v5.clone();
        c.1[1] = 2; // a method not offered
        cases.push(c);
        let mut c = v5.clone();
        c.0[1] = 0; // no methods
        cases.push(c);
        let mut c = v5.clone();
        c.0[4] = 9; // command
        cases.push(c);
        let mut c = v5.clone();
        c.0[6] = 2; // address type
        cases.push(c);
        let mut c = v5.clone();
        c.1[3] = 9; // reply status
        cases.push(c);
        let mut c = v5.clone();
        c.0[2] = 0x20; // an unassigned method
        c.1[1] = 0x20;
        cases.push(c);
        // A method offered twice; GSS-API chosen (not followed).
        cases.push((unhex("0502 0000"), unhex("0500")));
        cases.push((unhex("0502 0001 0101"), unhex("0501 0101")));
        // Refused, but the client goes on.
        cases.push((unhex("050100 050100"), unhex("05ff")));
        // Shadowsocks: a random salt first (shadowsocks.pcap, 44276 →
        // 8388), and the same with a first byte that happens to be 5.
        let ss = unhex("f49cfb0b8796ba8714263d68fc34ad9ceb53ef21eb4996f0");
        let ss_r = unhex("fc62f76f04bdb29d58c631621e83e732b7ef716ffac57931");
        cases.push((ss.clone(), ss_r.clone()));
        let mut ss5 = ss.clone();
        ss5[0] = 5;
        cases.push((ss5, ss_r));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 1080, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Socks, &p), "{o:02x?} {r:02x?}");
        }
    }
}
