//! H.323 signalling, on any port (1720 call signalling and 1719 RAS are
//! hints only):
//! - H.225.0 call signalling over TCP: TPKT (RFC 1006: version 3, a
//!   reserved zero, a length counting the header) carrying a Q.931
//!   message: protocol discriminator 0x08, a call reference of one or
//!   two bytes, a known message type, then information elements
//!   (single-byte ones, ordinary ones with a one-byte length, and the
//!   user-user element 0x7e with a two-byte length) that tile the TPKT
//!   packet exactly;
//! - H.225.0 RAS over UDP: a PER-encoded message whose protocol
//!   identifier, the object identifier 0.0.8.2250.0.v (version 1..7),
//!   follows the sequence number.
//!
//! Cleartext (H.235 security, when used, protects the media, and the
//! signalling fields stay readable).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct H323;

const TPKT_HEADER: usize = 4;
/// The H.225.0 protocol identifier without its version byte, with its
/// length byte in front.
const RAS_OID: [u8; 6] = [0x06, 0x00, 0x08, 0x91, 0x4a, 0x00];
const RAS_OID_AT: usize = 4;

fn q931_type(t: u8) -> Option<&'static str> {
    Some(match t {
        0x01 => "alerting",
        0x02 => "call_proceeding",
        0x03 => "progress",
        0x05 => "setup",
        0x07 => "connect",
        0x0d => "setup_acknowledge",
        0x45 => "disconnect",
        0x4d => "release",
        0x5a => "release_complete",
        0x62 => "facility",
        0x6e => "notify",
        0x7b => "information",
        0x7d => "status",
        0x75 => "status_enquiry",
        _ => return None,
    })
}

/// A Q.931 message filling `d` exactly: its type.
fn q931(d: &[u8]) -> Option<&'static str> {
    if *d.first()? != 0x08 {
        return None;
    }
    let cr = usize::from(*d.get(1)? & 0x0f);
    if !(1..=2).contains(&cr) {
        return None;
    }
    let kind = q931_type(*d.get(2 + cr)? & 0x7f)?;
    let mut rest = d.get(3 + cr..)?;
    for _ in 0..64 {
        let Some(&id) = rest.first() else {
            return Some(kind);
        };
        let n = if id & 0x80 != 0 {
            1
        } else if id == 0x7e {
            let l = rest.get(1..3)?;
            3 + usize::from(u16::from_be_bytes([l[0], l[1]]))
        } else {
            2 + usize::from(*rest.get(1)?)
        };
        rest = rest.get(n..)?;
    }
    None
}

/// A TPKT packet at the start of a stream and its Q.931 message; `Err(true)`
/// when the packet has not fully arrived.
fn call_signalling(d: &[u8]) -> Result<&'static str, bool> {
    let h = d.get(..TPKT_HEADER).ok_or(true)?;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] != 3 || h[1] != 0 || len < TPKT_HEADER + 4 {
        return Err(false);
    }
    let pkt = d.get(TPKT_HEADER..len).ok_or(true)?;
    q931(pkt).ok_or(false)
}

fn ras(d: &[u8]) -> bool {
    d.get(RAS_OID_AT..RAS_OID_AT + RAS_OID.len()) == Some(&RAS_OID[..])
        && d.get(RAS_OID_AT + RAS_OID.len()).is_some_and(|v| (1..=7).contains(v))
}

impl Dissector for H323 {
    fn name(&self) -> &'static str {
        "h323"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        match (p.transport, d.first()) {
            (Transport::Tcp, Some(3) | None) => Probe::Maybe,
            (Transport::Udp, _) if d.len() > RAS_OID_AT + RAS_OID.len() => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let kind = match p.transport {
            Transport::Tcp => match call_signalling(p.first_side().stream()) {
                Ok(k) => k,
                Err(true) => return p.undecided(),
                Err(false) => return Parse::NotMine,
            },
            Transport::Udp if ras(p.first_payload()) => "ras",
            Transport::Udp => return Parse::NotMine,
        };
        meta.protocol = Some("h323");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("h323_message", kind);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// h323.pcap: a gatekeeper request (RAS) to 1719.
    const GRQ: &str = "02200000060008914a0004001102007c07f22200ae01003d0001030085c89a51208003014000";

    /// A SETUP shaped as in h323.pcap: bearer capability, display,
    /// user-user with the H.225.0 identifier.
    fn setup() -> Vec<u8> {
        let mut q = vec![0x08, 0x02, 0x77, 0xf4, 0x05];
        q.extend_from_slice(&[0x04, 0x03, 0x80, 0x90, 0xa5]);
        q.extend_from_slice(&[0x28, 0x04, b'j', b'e', b'm', b'e']);
        let uu = [0x05, 0x20, 0xa8, 0x06, 0x00, 0x08, 0x91, 0x4a, 0x00, 0x04, 0x01, 0x40];
        q.extend_from_slice(&[0x7e, 0, uu.len() as u8]);
        q.extend_from_slice(&uu);
        let mut d = vec![3, 0, 0, (TPKT_HEADER + q.len()) as u8];
        d.extend_from_slice(&q);
        d
    }

    #[test]
    fn call_signalling_and_ras() {
        let s = setup();
        let (r, m) = check_split_tcp(&H323, 1720, &s, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("h323"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("h323_message"), Some("setup"));
        let g = hex(GRQ);
        let (r, m) = check_split_udp(&H323, 2034, 1719, &[&g], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("h323_message"), Some("ras"));
    }

    #[test]
    fn not_h323() {
        let s = setup();
        let mut disc = s.clone();
        disc[4] = 0x09;
        let mut ty = s.clone();
        ty[8] = 0x33;
        let mut ie = s.clone();
        ie[10] = 4;
        let mut tpkt = s.clone();
        tpkt[3] -= 1;
        // An RDP connection request: TPKT with X.224, not Q.931.
        let rdp = [3u8, 0, 0, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
        let cases: [&[u8]; 5] = [&disc, &ty, &ie, &tpkt, &rdp];
        for d in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 1720, d, &[], &ends);
            assert!(!crate::dissect::not_refused(&H323, &p), "{d:?}");
        }
        let mut g = hex(GRQ);
        g[10] = 9;
        let f = UdpFixture::new(2034, 1719, &[&g], &[]);
        assert!(!crate::dissect::not_refused(&H323, &f.payloads()));
    }
}
