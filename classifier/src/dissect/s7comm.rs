//! Siemens S7 communication (S7comm, protocol id 0x32) and its successor
//! S7CommPlus (protocol id 0x72) over the ISO transport on TCP (RFC 1006
//! TPKTs carrying COTP, ISO 8073; port 102 is usual, not required).
//!
//! The client's stream must be TPKTs: a COTP connection request (CR) or
//! none (a connection seen after its start), then data (DT) whose user
//! data opens with the S7 header, which must account for the TPDU's
//! bytes exactly (when the DT ends the message; at most them otherwise):
//! - S7comm: 0x32, a message type (1 job, 2 ack, 3 ack-data, 7 user
//!   data), two reserved zero bytes, a PDU reference, the parameter and
//!   data lengths; 10 header bytes, 12 for the two ack types (error
//!   class and code).
//! - S7CommPlus: 0x72, a version (1, 2, 3 or 0xfe), a 16-bit data
//!   length, the data, and a trailer repeating 0x72 and the version
//!   before two zero bytes.
//!
//! The server's first TPDU, when there, must be a TPKT: a connection
//! confirm (CC) or data of the same protocol id.
//!
//! Neither protocol is encrypted on the wire in these versions (the
//! S7CommPlus integrity part is a keyed digest, not a cipher): cleartext.

use super::iso9506_mms::{tpkt, Tpdu};
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct S7comm;

const CR: u8 = 0xe0;
const CC: u8 = 0xd0;
const DT: u8 = 0xf0;
const S7: u8 = 0x32;
const S7_PLUS: u8 = 0x72;

/// Whether `d`, the user data of a DT (`eot`: the last of its message),
/// carries an S7 header of protocol `id`. `Err(true)`: need more bytes.
fn header(d: &[u8], eot: bool) -> Result<u8, bool> {
    let id = *d.first().ok_or(true)?;
    let fits = |total: usize| if eot { total == d.len() } else { total >= d.len() };
    match id {
        S7 => {
            let h = d.get(..10).ok_or(false)?;
            let hl = match h[1] {
                1 | 7 => 10,
                2 | 3 => 12,
                _ => return Err(false),
            };
            let param = usize::from(u16::from_be_bytes([h[6], h[7]]));
            let data = usize::from(u16::from_be_bytes([h[8], h[9]]));
            (h[2..4] == [0, 0] && fits(hl + param + data))
                .then_some(id)
                .ok_or(false)
        }
        S7_PLUS => {
            let h = d.get(..4).ok_or(false)?;
            let version = h[1];
            if !matches!(version, 1..=3 | 0xfe) {
                return Err(false);
            }
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if !eot {
                return (4 + len >= d.len()).then_some(id).ok_or(false);
            }
            let trailer = d.get(4 + len..).ok_or(false)?;
            (trailer == [S7_PLUS, version, 0, 0]).then_some(id).ok_or(false)
        }
        _ => Err(false),
    }
}

/// The protocol id of the first DT in `d` (after at most one CR; `cr`
/// the TPDU type the first TPKT must have besides DT: CR for the client,
/// CC for the server).
fn first_dt(d: &[u8], cr: u8) -> Result<u8, bool> {
    let mut at = 0;
    for i in 0..2 {
        let Tpdu { t, hdr, data, end } = tpkt(d, at)?;
        match t {
            DT => {
                // hdr: length indicator, 0xf0, then EOT and the TPDU number.
                let eot = hdr.get(2).is_some_and(|b| b & 0x80 != 0);
                return header(data, eot);
            }
            t if t == cr && i == 0 => at = end,
            _ => return Err(false),
        }
    }
    Err(false)
}

impl Dissector for S7comm {
    fn name(&self) -> &'static str {
        "s7comm"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match (p.orig.stream().first(), p.orig.stream().get(5)) {
            (None, _) | (Some(3), None) => Probe::Maybe,
            (Some(3), Some(&c)) if c & 0xf0 == CR || c == DT => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let id = match first_dt(o, CR) {
            Ok(id) => id,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        // The server: a CC (then its DT, if any, of the same protocol).
        let answered = match tpkt(r, 0) {
            Err(true) => false,
            Err(false) => return Parse::NotMine,
            Ok(t) if t.t == CC => match first_dt(r, CC) {
                Ok(rid) if rid != id => return Parse::NotMine,
                Err(false) if r.len() > t.end => return Parse::NotMine,
                _ => true,
            },
            Ok(_) => match first_dt(r, CC) {
                Ok(rid) if rid == id => true,
                Err(true) => false,
                _ => return Parse::NotMine,
            },
        };
        meta.protocol = Some(if id == S7 { "s7comm" } else { "s7comm_plus" });
        meta.encryption = Encryption::Cleartext;
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

    /// s7comm.pcap, 192.168.1.10:4185 -> 192.168.1.40:102: COTP CR, then
    /// the S7comm setup-communication job; the server's CC and ack-data.
    const S7_CLIENT: &str = "0300001611e00000000700c1020100c2020102c0010a
        0300001902f08032010000020000080000f0000001000101e0";
    const S7_SERVER: &str = "0300001611d00007000300c0010ac1020100c2020102
        0300001b02f080320300000200000800000000f0000001000100f0";

    /// s7comm-plus.pcap, 192.168.25.177:53162 -> 192.168.25.131:102: the
    /// CR, then an S7CommPlus (version 1) message cut to its header plus
    /// trailer by a TPKT length of 4 + 3 + 4 + 8 + 4 (the capture's runs
    /// 202 data bytes).
    fn plus_client() -> Vec<u8> {
        let mut d = unhex("030000241fe00000011200c1020620c21053494d415449432d524f4f542d484d49c0010a");
        d.extend_from_slice(&unhex("0300001702f080 720100 08 0000000100000120 72010000"));
        d
    }

    #[test]
    fn s7comm_setup() {
        let (c, s) = (unhex(S7_CLIENT), unhex(S7_SERVER));
        let (r, m) = check_split_tcp(&S7comm, 102, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("s7comm"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // Caught after the connection request: the DT alone.
        let (r, _) = check_split_tcp(&S7comm, 40001, &c[22..], &s[22..]);
        assert_eq!(r, Parse::Done);
        // Unanswered: named on the client's message alone.
        let (r, _) = check_split_tcp(&S7comm, 102, &c, &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn s7comm_plus() {
        let c = plus_client();
        let s = unhex("030000241fd00112000900c0010ac1020620c21053494d415449432d524f4f542d484d49");
        let (r, m) = check_split_tcp(&S7comm, 102, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("s7comm_plus"));
    }

    #[test]
    fn not_s7() {
        let c = unhex(S7_CLIENT);
        let mutate = |d: &[u8], i: usize, v: u8| {
            let mut d = d.to_vec();
            d[i] = v;
            d
        };
        let plus = plus_client();
        let cases: [Vec<u8>; 7] = [
            mutate(&c, 29, 0x33),    // another protocol id
            mutate(&c, 30, 0x04),    // message type 4
            mutate(&c, 31, 0x01),    // reserved not zero
            mutate(&c, 36, 0x09),    // parameter length off by one
            mutate(&c, 0, 0x04),     // TPKT version
            mutate(&plus, 55, 0x73), // trailer's protocol id
            mutate(&plus, 44, 0x05), // S7CommPlus version 5
        ];
        for d in &cases {
            let ends = [[d.len() as u32], [0]];
            let mut p = Payloads::tcp(40000, 102, d, &[], &ends);
            p.last = true;
            assert!(!not_refused(&S7comm, &p), "{d:?}");
        }
        // The server answering with another protocol id.
        let s = mutate(&unhex(S7_SERVER), 29, 0x72);
        let ends = [[c.len() as u32], [s.len() as u32]];
        let p = Payloads::tcp(40000, 102, &c, &s, &ends);
        assert!(!not_refused(&S7comm, &p));
    }
}
