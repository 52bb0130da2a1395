//! LDAP (RFC 4511) over TCP and connectionless LDAP over UDP, on any
//! port (389 and 1389 are not required; LDAPS is the TLS dissector's).
//!
//! An LDAPMessage in BER (definite lengths only, as RFC 4511 5.1
//! requires): a SEQUENCE holding an INTEGER messageID (1..4 bytes, not
//! negative), a protocolOp with an application tag of the operation's
//! form (constructed for all but unbindRequest 2, delRequest 10 and
//! abandonRequest 16, which are primitive; 17, 18, 20..22 and 26+ do not
//! exist), and optionally the controls (`[0]`) ending exactly where the
//! SEQUENCE does. A bindRequest must start with version 1..3, an
//! LDAPResult with an ENUMERATED resultCode.
//!
//! The first message of the side that spoke first must be whole and
//! valid (over UDP: exactly one message in the datagram). The flow is
//! named when the other side's first message is valid too and has the
//! same messageID, or when one side alone holds a bindRequest or two
//! whole messages (or nothing more will come).
//!
//! LDAP is cleartext; a StartTLS extended request (OID
//! 1.3.6.1.4.1.1466.20037) is reported as `ldap_starttls`, and when the
//! client's bytes then start a TLS record the flow is `encrypted`.

use super::text::{is_printable, tls_follows, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ldap;

const MAX_MSG: usize = 1 << 20;
const VALUE_MAX: usize = 128;
const STARTTLS: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// A BER TLV at `at`: (tag, content offset, content length).
/// `Err(true)`: more bytes needed.
fn tlv(d: &[u8], at: usize) -> Result<(u8, usize, usize), bool> {
    let tag = *d.get(at).ok_or(true)?;
    if tag & 0x1f == 0x1f {
        return Err(false);
    }
    let l0 = *d.get(at + 1).ok_or(true)?;
    if l0 < 0x80 {
        return Ok((tag, at + 2, usize::from(l0)));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 || n > 3 {
        return Err(false);
    }
    let mut len = 0usize;
    for i in 0..n {
        len = len << 8 | usize::from(*d.get(at + 2 + i).ok_or(true)?);
    }
    if len > MAX_MSG {
        return Err(false);
    }
    Ok((tag, at + 2 + n, len))
}

fn op_name(n: u8) -> Option<&'static str> {
    Some(match n {
        0 => "bind_request",
        1 => "bind_response",
        2 => "unbind_request",
        3 => "search_request",
        4 => "search_result_entry",
        5 => "search_result_done",
        6 => "modify_request",
        7 => "modify_response",
        8 => "add_request",
        9 => "add_response",
        10 => "del_request",
        11 => "del_response",
        12 => "modify_dn_request",
        13 => "modify_dn_response",
        14 => "compare_request",
        15 => "compare_response",
        16 => "abandon_request",
        19 => "search_result_reference",
        23 => "extended_request",
        24 => "extended_response",
        25 => "intermediate_response",
        _ => return None,
    })
}

struct Msg<'a> {
    id: u32,
    op: u8,
    /// The protocolOp's content.
    body: &'a [u8],
    /// Offset past the message.
    end: usize,
}

/// The LDAPMessage at `at`.
fn message(d: &[u8], at: usize) -> Result<Msg<'_>, bool> {
    let (tag, start, len) = tlv(d, at)?;
    if tag != 0x30 || len < 5 {
        return Err(false);
    }
    let end = start + len;
    let (t, s, l) = tlv(d, start)?;
    if t != 0x02 || !(1..=4).contains(&l) {
        return Err(false);
    }
    let id_bytes = d.get(s..s + l).ok_or(true)?;
    // Not negative, minimally encoded.
    if id_bytes[0] & 0x80 != 0 || (l > 1 && id_bytes[0] == 0 && id_bytes[1] & 0x80 == 0) {
        return Err(false);
    }
    let id = id_bytes.iter().fold(0u32, |a, &b| a << 8 | u32::from(b));
    let (op, os, ol) = tlv(d, s + l)?;
    let n = op & 0x1f;
    let primitive = matches!(n, 2 | 10 | 16);
    let want = if primitive { 0x40 } else { 0x60 };
    if op & 0xe0 != want || op_name(n).is_none() || os + ol > end || (n == 2 && ol != 0) {
        return Err(false);
    }
    // Controls, or nothing, up to the end of the SEQUENCE.
    if os + ol < end {
        let (c, cs, cl) = tlv(d, os + ol)?;
        if c != 0xa0 || cs + cl != end {
            return Err(false);
        }
    }
    let body = d.get(os..os + ol).ok_or(true)?;
    if d.len() < end {
        return Err(true);
    }
    match n {
        0 if !matches!(body, [0x02, 0x01, 1..=3, ..]) => return Err(false),
        1 | 5 | 7 | 9 | 11 | 13 | 15 | 24 if !matches!(body, [0x0a, 1..=4, ..]) => return Err(false),
        _ => {}
    }
    Ok(Msg { id, op: n, body, end })
}

/// The bind DN of a bindRequest body.
fn bind_dn(body: &[u8]) -> Option<&[u8]> {
    let (t, s, l) = tlv(body, 3).ok()?;
    (t == 0x04).then(|| body.get(s..s + l)).flatten()
}

impl Dissector for Ldap {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "ldap"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            None | Some(0x30) => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    /// The probe admits only a SEQUENCE tag, 0x30.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x30]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let udp = p.transport == Transport::Udp;
        let (a, b) = if udp {
            (p.first_side().first(), p.second_side().first())
        } else {
            (p.first_side().stream(), p.second_side().stream())
        };
        let m = match message(a, 0) {
            Ok(m) => m,
            Err(true) if !udp => return p.undecided(),
            Err(_) => return Parse::NotMine,
        };
        if udp && m.end != a.len() {
            return Parse::NotMine;
        }
        let answered = match message(b, 0) {
            Ok(r) if r.id == m.id && (!udp || r.end == b.len()) => true,
            Err(true) if !udp || b.is_empty() => false,
            _ => return Parse::NotMine,
        };
        let second = !udp && message(a, m.end).is_ok();
        if !answered && !second && m.op != 0 && !p.last {
            return Parse::NeedMore;
        }
        meta.protocol = Some("ldap");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ldap_operation", op_name(m.op).unwrap_or(""));
        if m.op == 0 {
            if let Some(dn) = bind_dn(m.body).filter(|d| !d.is_empty() && is_printable(d)) {
                meta.set_extra("ldap_bind_dn", to_string(dn, VALUE_MAX));
            }
        }
        let orig = p.orig.stream();
        if let Ok(o) = message(orig, 0) {
            if o.op == 23 && o.body.windows(STARTTLS.len()).any(|w| w == STARTTLS) {
                meta.set_extra("ldap_starttls", "true");
                if tls_follows(orig, o.end) {
                    meta.encryption = Encryption::Encrypted;
                }
            }
        }
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
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, unhex, UdpFixture};

    /// log4j-webapp-exploit.pcap (57650 → 1389): an anonymous simple
    /// bind (LDAPv3) and its success.
    const BIND: &str = "300c020101600702010304008000";
    const BIND_OK: &str = "300c02010161070a010004000400";
    /// The same flow: the search for the exploit's object and the start
    /// of the answer (a search result entry).
    const SEARCH: &str = "304302010263210401610a01000a0103020100020100010100870b6f626a656374436c6173733000a01b30190417322e31362e3834302e312e3131333733302e332e342e32";

    #[test]
    fn bind_and_search() {
        let (o, r) = (unhex(BIND), unhex(BIND_OK));
        let (v, m) = check_split_tcp(&Ldap, 1389, &o, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("ldap"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ldap_operation"), Some("bind_request"));
        // The bind alone is enough; a search alone waits for its answer.
        let (v, _) = check_split_tcp(&Ldap, 1389, &o, &[]);
        assert_eq!(v, Parse::Identified);
        let s = unhex(SEARCH);
        let ends = [[s.len() as u32], [0]];
        let p = Payloads::tcp(40000, 1389, &s, &[], &ends);
        assert_eq!(Ldap.parse(&p, &mut Meta::default()), Parse::NeedMore);
        let done = unhex("300c02010265070a010004000400");
        let (v, m) = check_split_tcp(&Ldap, 1389, &s, &done);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("ldap_operation"), Some("search_request"));
        // Two messages on one side.
        let both = [o.clone(), s.clone()].concat();
        let (v, _) = check_split_tcp(&Ldap, 1389, &both, &[]);
        assert_eq!(v, Parse::Identified);
    }

    #[test]
    fn named_bind_and_starttls() {
        let mut o = unhex("3000 020101 6000 020103 0413");
        o.extend_from_slice(b"cn=admin,dc=example");
        o.extend_from_slice(&[0x80, 0x00]);
        o[1] = (o.len() - 2) as u8;
        o[6] = (o.len() - 7) as u8;
        let (v, m) = check_split_tcp(&Ldap, 389, &o, &[]);
        assert_eq!(v, Parse::Identified);
        assert_eq!(m.extra("ldap_bind_dn"), Some("cn=admin,dc=example"));
        let mut x = unhex("301d 020101 7718 8016");
        x.extend_from_slice(STARTTLS);
        x.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x05]);
        let r = unhex("300c02010178070a010004000400");
        let (v, m) = check_split_tcp(&Ldap, 389, &x, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("ldap_starttls"), Some("true"));
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn connectionless() {
        let (o, r) = (unhex(SEARCH), unhex("300c02010265070a010004000400"));
        let (v, _) = check_split_udp(&Ldap, 40000, 389, &[&o], &[&r]);
        assert_eq!(v, Parse::Done);
        let mut extra = o.clone();
        extra.push(0);
        let f = UdpFixture::new(40000, 389, &[&extra], &[]);
        assert!(!not_refused(&Ldap, &f.payloads()));
    }

    #[test]
    fn not_ldap() {
        let (o, r) = (unhex(BIND), unhex(BIND_OK));
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, v) in [
            (0, 0x31u8),
            (1, 0x0d),
            (2, 0x04),
            (3, 0),
            (4, 0x81),
            (5, 0x40),
            (5, 0x71),
            (9, 4),
            (7, 0x03),
        ] {
            let mut c = o.clone();
            c[i] = v;
            cases.push((c, Vec::new()));
        }
        // Another message id in the answer; an answer that is not LDAP.
        let mut c = r.clone();
        c[4] = 2;
        cases.push((o.clone(), c));
        cases.push((o.clone(), b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 389, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Ldap, &p), "{o:02x?} {r:02x?}");
        }
    }
}
