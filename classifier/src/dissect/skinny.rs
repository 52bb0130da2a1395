//! Cisco Skinny Client Control Protocol (SCCP) over TCP, on any port
//! (2000 is not required; SCCP over TLS, 2443, is the TLS dissector's).
//!
//! Every message is a 12-byte header of little-endian 32-bit words: a
//! length (the message id and data that follow the second word, 4 to
//! 4096 here), a header version (0 for the basic layout, 0x0a..0x17 for
//! the CallManager protocol versions 10 to 23 as Wireshark's packet-skinny
//! lists them) and a message id (station to CallManager 0x0000..0x00ff,
//! CallManager to station 0x0081..0x01ff, and the newer 0x8000..0x81ff).
//! The bytes seen so far must tile into such messages (a partial last one
//! allowed), and the flow is named when the other side's first message
//! is one too, or when one side alone has carried three.
//!
//! SCCP has no encryption of its own: cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Skinny;

const HEADER: usize = 12;
const MAX_LEN: usize = 4096;
/// Messages checked per side.
const MAX_MSGS: usize = 16;

fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// A message header at the start of `d`: (message id, header version,
/// total size). `Err(true)`: more bytes needed.
fn header(d: &[u8]) -> Result<(u32, u32, usize), bool> {
    // The high bytes of every word are zero: check what is there early.
    for (i, &b) in d.iter().take(HEADER).enumerate() {
        if matches!(i, 2 | 3 | 6 | 7 | 10 | 11) && b != 0 {
            return Err(false);
        }
    }
    let (Some(len), Some(ver), Some(id)) = (le32(d, 0), le32(d, 4), le32(d, 8)) else {
        return Err(true);
    };
    let len = len as usize;
    let ver_ok = ver == 0 || (0x0a..=0x17).contains(&ver);
    let id_ok = id < 0x200 || (0x8000..0x8200).contains(&id);
    if !(4..=MAX_LEN).contains(&len) || !ver_ok || !id_ok {
        return Err(false);
    }
    Ok((id, ver, 8 + len))
}

/// The messages a side's prefix tiles into: (complete messages, first
/// message's id and version). `Err(false)` when a header is invalid.
fn tile(d: &[u8]) -> Result<(usize, Option<(u32, u32)>), bool> {
    let mut at = 0;
    let mut n = 0;
    let mut first = None;
    while at < d.len() && n < MAX_MSGS {
        match header(&d[at..]) {
            Ok((id, ver, size)) => {
                if d.len() - at < size {
                    break;
                }
                first.get_or_insert((id, ver));
                n += 1;
                at += size;
            }
            Err(true) => break,
            Err(false) => return Err(false),
        }
    }
    Ok((n, first))
}

impl Dissector for Skinny {
    fn name(&self) -> &'static str {
        "skinny"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match header(p.first_payload()) {
            Err(false) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (p.first_side().stream(), p.second_side().stream());
        let (Ok((na, fa)), Ok((nb, _))) = (tile(a), tile(b)) else {
            return Parse::NotMine;
        };
        let Some((id, ver)) = fa else { return p.undecided() };
        if nb == 0 && na < 3 {
            return p.undecided();
        }
        meta.protocol = Some("skinny");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("skinny_first_message", format!("0x{id:04x}"));
        meta.set_extra("skinny_header_version", ver.to_string());
        if nb > 0 {
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

    /// sccp_hw_conf_register.pcapng (46461 → 2000): a station's Register
    /// (header version 0) then IpPort; the CallManager's RegisterAck
    /// and CapabilitiesReq.
    const REGISTER: &str = "8000000000000000010000004e4f4e5345435552455f434f4e4600000000000001000000ac126e3a3400000008000000000000001202010080007f3a555981c000000000000000000000000002000000006616f900000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000 08000000000000000200000000000000";
    const REGISTER_ACK: &str =
        "1800000000000000810000001e000000556e7573656400003c00000012008028 04000000000000009b000000";
    /// skinny.pcap (49399 → 2000): a SoftKeyEvent (header version 0x14)
    /// answered by a CallState.
    const SOFTKEY: &str = "100000001400000026000000010000000000000000000000";
    const CALLSTATE: &str = "14000000140000008500000001000000010000000000000000000000";

    #[test]
    fn register_and_ack() {
        let (o, r) = (unhex(REGISTER), unhex(REGISTER_ACK));
        assert_eq!(o.len(), 0x88 + 16);
        let (v, m) = check_split_tcp(&Skinny, 2000, &o, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("skinny"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("skinny_first_message"), Some("0x0001"));
        let (v, m) = check_split_tcp(&Skinny, 2000, &unhex(SOFTKEY), &unhex(CALLSTATE));
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("skinny_first_message"), Some("0x0026"));
        assert_eq!(m.extra("skinny_header_version"), Some("20"));
    }

    #[test]
    fn one_side_needs_three_messages() {
        let one = unhex(SOFTKEY);
        let ends = [[one.len() as u32], [0]];
        let mut p = Payloads::tcp(40000, 2000, &one, &[], &ends);
        assert_eq!(Skinny.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Skinny.parse(&p, &mut Meta::default()), Parse::NotMine);
        let three = [one.clone(), one.clone(), one].concat();
        let (v, _) = check_split_tcp(&Skinny, 2000, &three, &[]);
        assert_eq!(v, Parse::Identified);
    }

    #[test]
    fn not_skinny() {
        let (o, r) = (unhex(SOFTKEY), unhex(CALLSTATE));
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, v) in [(0, 3u8), (1, 0x20), (4, 0x09), (4, 0x18), (9, 0x02), (11, 1)] {
            let mut c = o.clone();
            c[i] = v;
            cases.push((c, r.clone()));
        }
        // The answer is not SCCP.
        cases.push((o.clone(), b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
        // A second message with a bad header after a good one.
        let mut two = o.clone();
        two.extend_from_slice(&[0x10, 0, 0, 0, 0x14, 0, 0, 0, 0x26, 0, 0, 0x01]);
        cases.push((two, r.clone()));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 2000, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&Skinny, &p), "{o:02x?}");
        }
    }
}
