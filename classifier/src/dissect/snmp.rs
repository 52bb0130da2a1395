//! SNMP (RFC 1157, 3416, 3412) over UDP, on any port (161 agents, 162
//! traps). A message is one BER SEQUENCE filling the datagram: the
//! version INTEGER (0 = v1, 1 = v2c, 3 = v3), then
//! - v1/v2c: the community OCTET STRING and a PDU (context tags 0..8,
//!   GetRequest .. SNMPv2-Trap, Report) that fills the rest, opening with
//!   its request-id INTEGER (an enterprise OID for a v1 Trap);
//! - v3: msgGlobalData (a SEQUENCE of msgID, msgMaxSize, the one-byte
//!   msgFlags OCTET STRING and msgSecurityModel), the security parameters
//!   OCTET STRING, then the scoped PDU: a SEQUENCE in clear, or an OCTET
//!   STRING when msgFlags has the privacy bit (0x02).
//!
//! v1/v2c carry the community string and the variables in clear; v3
//! with privacy is encrypted, v3 without it cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Snmp;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const PRIV: u8 = 0x02;
const COMMUNITY_MAX: usize = 64;

/// One BER element: tag, then the contents and what follows them.
/// Definite lengths of up to four bytes only.
fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = d.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// A small non-negative INTEGER element and what follows it.
fn integer(d: &[u8]) -> Option<(u64, &[u8])> {
    let (tag, v, rest) = tlv(d)?;
    if tag != INTEGER || v.is_empty() || v.len() > 8 {
        return None;
    }
    Some((v.iter().fold(0u64, |a, &b| a << 8 | u64::from(b)), rest))
}

/// What a datagram shows.
#[derive(Debug, PartialEq)]
struct Message<'a> {
    version: u64,
    community: Option<&'a [u8]>,
    pdu: Option<u8>,
    private: bool,
}

fn message(d: &[u8]) -> Option<Message<'_>> {
    let (tag, body, trailing) = tlv(d)?;
    if tag != SEQUENCE || !trailing.is_empty() {
        return None;
    }
    let (version, rest) = integer(body)?;
    match version {
        0 | 1 => {
            let (tag, community, rest) = tlv(rest)?;
            if tag != OCTET_STRING {
                return None;
            }
            let (pdu, fields, after) = tlv(rest)?;
            if !(0xa0..=0xa8).contains(&pdu) || !after.is_empty() {
                return None;
            }
            // v1 Trap: enterprise OID first; every other PDU: request-id.
            let first_ok = if pdu == 0xa4 {
                tlv(fields).is_some_and(|(t, _, _)| t == OID)
            } else {
                integer(fields).is_some()
            };
            first_ok.then_some(Message {
                version,
                community: Some(community),
                pdu: Some(pdu),
                private: false,
            })
        }
        3 => {
            let (tag, global, rest) = tlv(rest)?;
            if tag != SEQUENCE {
                return None;
            }
            let (_id, g) = integer(global)?;
            let (_max, g) = integer(g)?;
            let (tag, flags, g) = tlv(g)?;
            let (model, g) = integer(g)?;
            if tag != OCTET_STRING || flags.len() != 1 || !g.is_empty() || !(1..=3).contains(&model) {
                return None;
            }
            let (tag, _params, rest) = tlv(rest)?;
            if tag != OCTET_STRING {
                return None;
            }
            let private = flags[0] & PRIV != 0;
            let (tag, _scoped, after) = tlv(rest)?;
            let want = if private { OCTET_STRING } else { SEQUENCE };
            (tag == want && after.is_empty()).then_some(Message {
                version,
                community: None,
                pdu: None,
                private,
            })
        }
        _ => None,
    }
}

fn pdu_name(tag: u8) -> &'static str {
    match tag {
        0xa0 => "get_request",
        0xa1 => "get_next_request",
        0xa2 => "response",
        0xa3 => "set_request",
        0xa4 => "trap",
        0xa5 => "get_bulk_request",
        0xa6 => "inform_request",
        0xa7 => "trap_v2",
        _ => "report",
    }
}

impl Dissector for Snmp {
    fn name(&self) -> &'static str {
        "snmp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        if d.len() >= 2 && d[0] == SEQUENCE {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a BER SEQUENCE tag.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[SEQUENCE]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(m) = message(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("snmp");
        meta.set_extra(
            "snmp_version",
            match m.version {
                0 => "1",
                1 => "2c",
                _ => "3",
            },
        );
        if let Some(c) = m.community {
            let c = &c[..c.len().min(COMMUNITY_MAX)];
            meta.set_extra("snmp_community", String::from_utf8_lossy(c).into_owned());
        }
        if let Some(pdu) = m.pdu {
            meta.set_extra("snmp_pdu", pdu_name(pdu));
        }
        meta.encryption = if m.private {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    // snmp.pcap: a v1 get-next of sysDescr.0 (community "public") and
    // the agent's answer.
    const GET_NEXT: &[u8] = b"\x30\x29\x02\x01\x00\x04\x06public\xa1\x1c\x02\x04\x4b\x78\x1a\x6e\x02\x01\x00\
\x02\x01\x00\x30\x0e\x30\x0c\x06\x08\x2b\x06\x01\x02\x01\x01\x05\x00\x05\x00";
    const RESPONSE: &[u8] = b"\x30\x35\x02\x01\x00\x04\x06public\xa2\x28\x02\x04\x4b\x78\x1a\x6f\x02\x01\x00\
\x02\x01\x00\x30\x1a\x30\x18\x06\x08\x2b\x06\x01\x02\x01\x01\x05\x00\x04\x0cR1.lab.local";

    #[test]
    fn v1_get_next_and_response() {
        let (r, m) = check_split_udp(&Snmp, 43015, 161, &[GET_NEXT], &[RESPONSE]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("snmp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("snmp_version"), Some("1"));
        assert_eq!(m.extra("snmp_community"), Some("public"));
        assert_eq!(m.extra("snmp_pdu"), Some("get_next_request"));
    }

    #[test]
    fn v2c_trap_header() {
        // snmp.pcap's trap to 162 (community "public2c"), its varbinds cut
        // to one: the lengths are rewritten to match.
        let trap: &[u8] = b"\x30\x2b\x02\x01\x01\x04\x08public2c\xa7\x1c\x02\x01\x17\x02\x01\x00\x02\x01\x00\
\x30\x11\x30\x0f\x06\x08\x2b\x06\x01\x02\x01\x01\x03\x00\x43\x03\x03\x3f\xc5";
        let (r, m) = check_split_udp(&Snmp, 54318, 162, &[trap], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("snmp_version"), Some("2c"));
        assert_eq!(m.extra("snmp_pdu"), Some("trap_v2"));
    }

    #[test]
    fn v3_privacy_is_encrypted() {
        // msgGlobalData: id 1, max 65507, flags 0x07 (auth, priv,
        // reportable), USM; the security parameters and an encrypted
        // scoped PDU as OCTET STRINGs.
        let mut v3 = vec![0x30, 0x29, 0x02, 0x01, 0x03];
        v3.extend_from_slice(&[0x30, 0x0e, 0x02, 0x01, 0x01, 0x02, 0x03, 0x00, 0xff, 0xe3]);
        v3.extend_from_slice(&[0x04, 0x01, 0x07, 0x02, 0x01, 0x03]);
        v3.extend_from_slice(&[0x04, 0x04, 1, 2, 3, 4]);
        v3.extend_from_slice(&[0x04, 0x0e]);
        v3.extend_from_slice(&[0x9c; 14]);
        assert_eq!(v3.len(), 0x2b);
        let (r, m) = check_split_udp(&Snmp, 40000, 161, &[&v3], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("snmp_version"), Some("3"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        // The same without the privacy flag carries a clear scoped PDU.
        v3[17] = 0x05;
        let f = UdpFixture::new(40000, 161, &[&v3], &[]);
        assert_eq!(Snmp.parse(&f.payloads(), &mut Meta::default()), Parse::NotMine);
    }

    #[test]
    fn not_snmp() {
        let mut long = GET_NEXT.to_vec();
        long.push(0);
        let mut version = GET_NEXT.to_vec();
        version[4] = 2;
        let mut pdu = GET_NEXT.to_vec();
        pdu[13] = 0xb0;
        let cases: [&[u8]; 5] = [&long, &version, &pdu, &GET_NEXT[..20], b"\x30\x03abc"];
        for d in cases {
            let f = UdpFixture::new(40000, 161, &[d], &[]);
            let p = f.payloads();
            let claimed = crate::dissect::not_refused(&Snmp, &p);
            assert!(!claimed, "{d:?}");
        }
    }
}
