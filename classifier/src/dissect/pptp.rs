//! PPTP control connection (RFC 2637) over TCP, on any port (1723 is not
//! required).
//!
//! Every control message starts with its length (16 bits), the PPTP
//! message type 1 (control), the magic cookie 0x1A2B3C4D, the control
//! message type (1..15) and a reserved zero word; the length must be the
//! fixed size RFC 2637 gives that control message type (156 for
//! Start-Control-Connection-Request, 168 for Outgoing-Call-Request, ...).
//! One such message identifies the flow; the other side's first message,
//! when there, must be one too. From a Start-Control-Connection-Request
//! or -Reply the host name and vendor strings are reported.
//!
//! The control connection is cleartext. The PPP frames of the tunnel go
//! in a separate GRE flow, usually MPPE-encrypted; that flow is not this
//! dissector's.

use super::text::{is_printable, to_string};
use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Pptp;

const COOKIE: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];
const HEADER: usize = 12;
const VALUE_MAX: usize = 64;

/// Fixed size and name of control message type `t` (RFC 2637 2.1-2.15).
fn control(t: u16) -> Option<(usize, &'static str)> {
    Some(match t {
        1 => (156, "start_control_connection_request"),
        2 => (156, "start_control_connection_reply"),
        3 => (16, "stop_control_connection_request"),
        4 => (16, "stop_control_connection_reply"),
        5 => (16, "echo_request"),
        6 => (20, "echo_reply"),
        7 => (168, "outgoing_call_request"),
        8 => (32, "outgoing_call_reply"),
        9 => (220, "incoming_call_request"),
        10 => (24, "incoming_call_reply"),
        11 => (28, "incoming_call_connected"),
        12 => (16, "call_clear_request"),
        13 => (148, "call_disconnect_notify"),
        14 => (32, "wan_error_notify"),
        15 => (24, "set_link_info"),
        _ => return None,
    })
}

/// The header at the start of `d`: (control type, size). `Err(true)`:
/// more bytes needed. Checks what is there byte by byte.
fn header(d: &[u8]) -> Result<(u16, usize), bool> {
    let want = [
        None,
        None,
        Some(0),
        Some(1),
        Some(COOKIE[0]),
        Some(COOKIE[1]),
        Some(COOKIE[2]),
        Some(COOKIE[3]),
    ];
    for (w, &b) in want.iter().zip(d) {
        if w.is_some_and(|w| w != b) {
            return Err(false);
        }
    }
    let h = d.get(..HEADER).ok_or(true)?;
    let len = usize::from(u16::from_be_bytes([h[0], h[1]]));
    let t = u16::from_be_bytes([h[8], h[9]]);
    match control(t) {
        Some((size, _)) if size == len && h[10] == 0 && h[11] == 0 => Ok((t, len)),
        _ => Err(false),
    }
}

/// A NUL-padded 64-byte string field.
fn field(d: &[u8], at: usize) -> Option<String> {
    let f = d.get(at..at + 64)?;
    let s = &f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())];
    (!s.is_empty() && is_printable(s)).then(|| to_string(s, VALUE_MAX))
}

impl Dissector for Pptp {
    fn name(&self) -> &'static str {
        "pptp"
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
        let (t, size) = match header(a) {
            Ok(x) => x,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let answered = match header(b) {
            Ok(_) => true,
            Err(true) => false,
            Err(false) => return Parse::NotMine,
        };
        meta.protocol = Some("pptp");
        meta.encryption = Encryption::Cleartext;
        let name = control(t).map_or("", |c| c.1);
        meta.set_extra("pptp_message", name);
        // Start-Control-Connection-Request / -Reply: host name at 28,
        // vendor at 92.
        let keys = [
            ("pptp_hostname", "pptp_vendor"),
            ("pptp_server_hostname", "pptp_server_vendor"),
        ];
        for (d, (hk, vk)) in [p.orig.stream(), p.resp.stream()].into_iter().zip(keys) {
            if matches!(header(d), Ok((1 | 2, _))) && d.len() >= 156 {
                if let Some(h) = field(d, 28) {
                    meta.set_extra(hk, h);
                }
                if let Some(v) = field(d, 92) {
                    meta.set_extra(vk, v);
                }
            }
        }
        if answered && a.len() >= size {
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

    /// pptp.pcap (41366 → 1723): Start-Control-Connection-Request (host
    /// "local", vendor "cananian") and the server's Reply (vendor
    /// "Microsoft").
    fn sccrq() -> Vec<u8> {
        let mut m = unhex("009c00011a2b3c4d00010000 01000000 00000003 00000003 ffff 0001");
        let mut host = b"local".to_vec();
        host.resize(64, 0);
        let mut vendor = b"cananian".to_vec();
        vendor.resize(64, 0);
        m.extend(host);
        m.extend(vendor);
        m
    }
    fn sccrp() -> Vec<u8> {
        let mut m = unhex("009c00011a2b3c4d00020000 0100 01 00 00000002 00000003 0000 0000");
        m.resize(92, 0);
        let mut vendor = b"Microsoft".to_vec();
        vendor.resize(64, 0);
        m.extend(vendor);
        m
    }

    #[test]
    fn control_connection() {
        let (o, r) = (sccrq(), sccrp());
        assert_eq!(o.len(), 156);
        assert_eq!(r.len(), 156);
        let (v, m) = check_split_tcp(&Pptp, 1723, &o, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("pptp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("pptp_message"), Some("start_control_connection_request"));
        assert_eq!(m.extra("pptp_hostname"), Some("local"));
        assert_eq!(m.extra("pptp_vendor"), Some("cananian"));
        assert_eq!(m.extra("pptp_server_vendor"), Some("Microsoft"));
        assert_eq!(m.extra("pptp_server_hostname"), None);
        // pptp.pcap: the Outgoing-Call-Reply, seen alone.
        let ocrp = unhex("002000011a2b3c4d000800002deb00000100000000e40b544000000000000000");
        let ends = [[0], [ocrp.len() as u32]];
        let p = Payloads::tcp(40000, 1723, &[], &ocrp, &ends);
        let mut m = Meta::default();
        let v = Pptp.parse(&p, &mut m);
        assert_eq!(v, Parse::Identified);
        assert_eq!(m.extra("pptp_message"), Some("outgoing_call_reply"));
    }

    #[test]
    fn not_pptp() {
        let o = sccrq();
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, v) in [(1, 0x9d), (3, 2), (4, 0x1b), (7, 0x4e), (9, 0), (9, 16), (10, 1)] {
            let mut c = o.clone();
            c[i] = v;
            cases.push((c, Vec::new()));
        }
        // Echo-Request length with the SCCRQ type.
        let mut c = o.clone();
        c[1] = 16;
        cases.push((c, Vec::new()));
        cases.push((o.clone(), b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 1723, o, r, &ends);
            assert!(!not_refused(&Pptp, &p), "{o:02x?}");
        }
    }
}
