//! ISO 9506 MMS (Manufacturing Message Specification, the application
//! layer of IEC 61850 and ICCP) over the ISO transport on TCP (RFC 1006,
//! usually port 102; not required), named from a connection's start.
//!
//! The client's stream must be TPKTs (version 3, reserved 0, a length of
//! at least 7) carrying COTP TPDUs (ISO 8073): first a connection
//! request (CR, 0xe0) whose length indicator fits the TPKT, then data
//! (DT, 0xf0). The first DT must open an ISO session (a CONNECT SPDU,
//! 0x0d, ISO 8327) whose presentation and ACSE parameters name MMS: an
//! OBJECT IDENTIFIER 1.0.9506.2.x (the MMS abstract syntax or
//! application context) within the first 1024 bytes. The server's first
//! TPDU, when there, must be a connection confirm (CC, 0xd0) in a TPKT.
//! Other applications on the same stack (S7comm, plain COTP, RDP, which
//! has its own dissector) fail the session or OID checks.
//!
//! A connection seen after its start is not named: past the CONNECT,
//! nothing in the session and presentation framing says MMS.
//!
//! MMS has no encryption of its own (IEC 62351-4 secures it with TLS
//! underneath, a different flow shape): cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Iso9506Mms;

const MAX_TPDUS: usize = 4;
const SCAN: usize = 1024;
/// OBJECT IDENTIFIER, 5 bytes: 1.0.9506.2 and one more arc.
const MMS_OID: [u8; 6] = [0x06, 0x05, 0x28, 0xca, 0x22, 0x02];

/// A COTP TPDU in its TPKT.
pub(crate) struct Tpdu<'a> {
    /// 0xe0 (CR), 0xd0 (CC) or 0xf0 (DT).
    pub(crate) t: u8,
    /// The COTP header, from its length indicator.
    pub(crate) hdr: &'a [u8],
    /// The user data.
    pub(crate) data: &'a [u8],
    /// Offset past the TPKT.
    pub(crate) end: usize,
}

/// A TPKT at `at`. `Err(true)`: more bytes needed.
pub(crate) fn tpkt(d: &[u8], at: usize) -> Result<Tpdu<'_>, bool> {
    let want = [3u8, 0];
    for (i, w) in want.iter().enumerate() {
        match d.get(at + i) {
            None => return Err(true),
            Some(b) if b != w => return Err(false),
            _ => {}
        }
    }
    let len = usize::from(u16::from_be_bytes([
        *d.get(at + 2).ok_or(true)?,
        *d.get(at + 3).ok_or(true)?,
    ]));
    let li = usize::from(*d.get(at + 4).ok_or(true)?);
    if len < 7 || li < 2 || 4 + 1 + li > len {
        return Err(false);
    }
    let code = *d.get(at + 5).ok_or(true)?;
    let t = match code & 0xf0 {
        0xe0 | 0xd0 => code & 0xf0,
        0xf0 if code == 0xf0 => 0xf0,
        _ => return Err(false),
    };
    let pkt = d.get(at..at + len).ok_or(true)?;
    Ok(Tpdu {
        t,
        hdr: &pkt[4..5 + li],
        data: &pkt[5 + li..],
        end: at + len,
    })
}

/// What the client's stream shows: `Ok(Some(tsap))` for an MMS
/// connection (the called TSAP, if the CR gave one).
fn client(d: &[u8]) -> Result<Option<u16>, bool> {
    let mut at = 0;
    let mut tsap = None;
    for i in 0..MAX_TPDUS {
        let Tpdu { t, hdr, data, end } = tpkt(d, at)?;
        match (i, t) {
            (0, 0xe0) => {
                // Variable part after the 7 fixed bytes: parameters
                // (code, length, value); 0xc2 is the called TSAP.
                let mut p = 7;
                while p + 2 <= hdr.len() {
                    let (code, l) = (hdr[p], usize::from(hdr[p + 1]));
                    if code == 0xc2 && l == 2 && p + 4 <= hdr.len() {
                        tsap = Some(u16::from_be_bytes([hdr[p + 2], hdr[p + 3]]));
                    }
                    p += 2 + l;
                }
            }
            (0, _) => return Err(false),
            (_, 0xf0) => {
                // ISO 8327 CONNECT SPDU, then MMS's OID somewhere in its
                // parameters.
                if data.first() != Some(&0x0d) {
                    return Err(false);
                }
                let scan = &data[..data.len().min(SCAN)];
                return if scan.windows(MMS_OID.len()).any(|w| w == MMS_OID) {
                    Ok(tsap)
                } else {
                    Err(false)
                };
            }
            _ => return Err(false),
        }
        at = end;
    }
    Err(false)
}

impl Dissector for Iso9506Mms {
    fn name(&self) -> &'static str {
        "iso9506_mms"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match (p.orig.stream().first(), p.orig.stream().get(5)) {
            (None, _) => Probe::Maybe,
            (Some(3), None) => Probe::Maybe,
            (Some(3), Some(c)) if c & 0xf0 == 0xe0 => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (o, r) = (p.orig.stream(), p.resp.stream());
        let answered = match tpkt(r, 0) {
            Ok(Tpdu { t: 0xd0, .. }) => true,
            Ok(_) | Err(false) => return Parse::NotMine,
            Err(true) => false,
        };
        let tsap = match client(o) {
            Ok(t) => t,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        meta.protocol = Some("iso9506_mms");
        meta.encryption = Encryption::Cleartext;
        if let Some(t) = tsap {
            meta.set_extra("cotp_called_tsap", format!("{t:04x}"));
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

    /// iso9506-1-mms.pcap (1345 → 102): the COTP connection request and
    /// the first DT (session CONNECT, presentation, ACSE AARQ, MMS
    /// initiate request); the server's connection confirm.
    const CR: &str = "0300001611e00000077800c1020001c2020001c0010d";
    const DT: &str = "030000a702f0800d9e0506130100160102140200023302000134020001c188318185a003800101a27e810400000001820400000001a423300f0201010604520100013004060251013010020103060528ca2202013004060251018802060061473045020101a040603e80020780a107060528ca220203be2f282d020103a028a826800300fa0081010a82010a830105a416800101810305e100820c03a00000000000000000e110";
    const CC: &str = "0300001611d00778340000c1020001c2020001c0010a";

    #[test]
    fn connect() {
        let o = [unhex(CR), unhex(DT)].concat();
        let cc = unhex(CC);
        let (v, m) = check_split_tcp(&Iso9506Mms, 102, &o, &cc);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("iso9506_mms"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("cotp_called_tsap"), Some("0001"));
        // The CR alone waits.
        let cr = unhex(CR);
        let ends = [[cr.len() as u32], [cc.len() as u32]];
        let p = Payloads::tcp(40000, 102, &cr, &cc, &ends);
        assert_eq!(Iso9506Mms.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_mms() {
        let (cr, dt, cc) = (unhex(CR), unhex(DT), unhex(CC));
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        // The OID's 9506 changed; no session CONNECT; a CR that is a DT;
        // a bad TPKT version.
        let mut d = dt.clone();
        assert_eq!((d[0x50], d[0x72]), (0xca, 0xca));
        d[0x50] = 0xcb;
        d[0x72] = 0xcb;
        cases.push(([cr.clone(), d].concat(), cc.clone()));
        let mut d = dt.clone();
        d[7] = 0x0e;
        cases.push(([cr.clone(), d].concat(), cc.clone()));
        let mut c = cr.clone();
        c[5] = 0xf0;
        cases.push(([c, dt.clone()].concat(), cc.clone()));
        let mut c = cr.clone();
        c[0] = 2;
        cases.push(([c, dt.clone()].concat(), cc.clone()));
        // S7comm after the same CR: protocol id 0x32 in the DT.
        let s7 = unhex("0300001902f08032010000000000080000f0000001000101e0");
        cases.push(([cr.clone(), s7].concat(), cc.clone()));
        // A server answer that is not a CC.
        cases.push(([cr.clone(), dt.clone()].concat(), dt.clone()));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 102, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Iso9506Mms, &p), "{o:02x?}");
        }
    }
}
