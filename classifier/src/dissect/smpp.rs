//! SMPP (Short Message Peer-to-Peer, v3.3/v3.4/v5.0) over TCP, named from
//! the ESME's bind; port 2775 is usual, not required.
//!
//! Every PDU starts with a 16-byte header: command_length (the whole
//! PDU), command_id, command_status, sequence_number, all 32-bit big
//! endian. A session opens with a bind: bind_receiver (1),
//! bind_transmitter (2) or bind_transceiver (9), status 0, a sequence
//! number of 1 to 0x7fffffff, and the body system_id (at most 16 bytes
//! with its NUL), password (9), system_type (13), interface_version,
//! addr_ton, addr_npi and address_range (41): printable C-strings that,
//! with the three bytes, fill command_length exactly. The SMSC's answer,
//! when there, must be the matching bind response (command_id with bit
//! 31 set, the same sequence number, a length of 16 or more).
//!
//! SMPP has no encryption of its own (the password is in the clear):
//! cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Smpp;

const HEADER: usize = 16;
const MAX_BIND: usize = HEADER + 16 + 9 + 13 + 3 + 41;
const RESP: u32 = 0x8000_0000;

fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A printable C-string of at most `max` bytes (NUL included) at `at`
/// in `d`: the offset past it.
fn cstring(d: &[u8], at: usize, max: usize) -> Option<usize> {
    let rest = d.get(at..)?;
    let nul = rest.iter().take(max).position(|&b| b == 0)?;
    rest[..nul].iter().all(u8::is_ascii_graphic).then_some(at + nul + 1)
}

/// The bind at the start of `d`: (command id, system id, sequence).
/// `Err(true)`: need more.
fn bind(d: &[u8]) -> Result<(u32, &[u8], u32), bool> {
    if d.len() < HEADER {
        // The length's high bytes are zero for any bind.
        return if d.iter().take(2).all(|&b| b == 0) {
            Err(true)
        } else {
            Err(false)
        };
    }
    let (len, id, status, seq) = (be32(d, 0), be32(d, 4), be32(d, 8), be32(d, 12));
    let (Some(len), Some(id), Some(status), Some(seq)) = (len, id, status, seq) else {
        return Err(true);
    };
    let len = len as usize;
    if !matches!(id, 1 | 2 | 9)
        || status != 0
        || seq == 0
        || seq > 0x7fff_ffff
        || !(HEADER + 7..=MAX_BIND).contains(&len)
    {
        return Err(false);
    }
    let pdu = d.get(..len).ok_or(true)?;
    let s1 = cstring(pdu, HEADER, 16).ok_or(false)?;
    let s2 = cstring(pdu, s1, 9).ok_or(false)?;
    let s3 = cstring(pdu, s2, 13).ok_or(false)?;
    let end = cstring(pdu, s3 + 3, 41).ok_or(false)?;
    if end != len {
        return Err(false);
    }
    Ok((id, &pdu[HEADER..s1 - 1], seq))
}

impl Dissector for Smpp {
    fn name(&self) -> &'static str {
        "smpp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        p.client_opens_with(|b| b == 0)
    }
    /// The client must open with a bind's zero length high byte
    /// (`client_opens_with`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (id, system_id, seq) = match bind(p.orig.stream()) {
            Ok(x) => x,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let r = p.resp.stream();
        let answered = if r.is_empty() {
            false
        } else {
            match (be32(r, 0), be32(r, 4), be32(r, 12)) {
                (Some(l), Some(rid), Some(rseq)) if l >= HEADER as u32 && rid == id | RESP && rseq == seq => true,
                _ if r.len() < HEADER => return p.undecided(),
                _ => return Parse::NotMine,
            }
        };
        meta.protocol = Some("smpp");
        meta.encryption = Encryption::Cleartext;
        let kind = match id {
            1 => "bind_receiver",
            2 => "bind_transmitter",
            _ => "bind_transceiver",
        };
        meta.set_extra("smpp_bind", kind);
        if !system_id.is_empty() {
            meta.set_extra("smpp_system_id", super::text::to_string(system_id, 16));
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
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    // smpp_in_general.pcap, 10.226.202.118:1770 -> 10.226.202.53:9000.
    const BIND: &str = "00000028000000020000000000000001616268696b0070617373776f726400534d50500001000000";
    const BIND_RESP: &str = "00000015800000020000000000000001534d534300";

    #[test]
    fn bind_transmitter() {
        let (c, s) = (unhex(BIND), unhex(BIND_RESP));
        for port in [2775, 9000] {
            let (r, m) = check_split_tcp(&Smpp, port, &c, &s);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("smpp"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.extra("smpp_bind"), Some("bind_transmitter"));
            assert_eq!(m.extra("smpp_system_id"), Some("abhik"));
        }
        let (r, _) = check_split_tcp(&Smpp, 9000, &c, &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn not_smpp() {
        let c = unhex(BIND);
        let mutate = |i: usize, v: u8| {
            let mut d = c.clone();
            d[i] = v;
            d
        };
        let cases: [(Vec<u8>, Vec<u8>); 6] = [
            (mutate(3, 0x29), vec![]),                                        // length past the PDU
            (mutate(7, 0x04), vec![]),                                        // submit_sm, not a bind
            (mutate(11, 0x01), vec![]),                                       // a status in a request
            (mutate(20, 0x01), vec![]),                                       // control byte in system_id
            (mutate(39, 0x41), vec![]),                                       // address_range without its NUL
            (c.clone(), unhex("00000015800000020000000000000002534d534300")), // another sequence
        ];
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 9000, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Smpp, &p), "{o:?}");
        }
    }
}
