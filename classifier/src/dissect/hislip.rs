//! HiSLIP (IVI-6.1, High-Speed LAN Instrument Protocol) on TCP port
//! 4880 (either side). Every message has a 16-byte header: the prologue
//! `HS`, a message type (0..=37 in HiSLIP 2.0), a control code, a 32-bit
//! message parameter and a 64-bit payload length; the first message must
//! be whole. Cleartext (SCPI text and instrument data), unless the
//! client asks for HiSLIP 2.0's TLS upgrade (StartTLS, AsyncStartTLS),
//! after which the session is encrypted.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct HiSlip;

const PORT: u16 = 4880;
const HEADER: usize = 16;
const PROLOGUE: &[u8; 2] = b"HS";
const LAST_TYPE: u8 = 37;
const START_TLS: u8 = 28;
const ASYNC_START_TLS: u8 = 29;

/// What the stream `d` says: `None` not HiSLIP, `Some(None)` a prefix
/// of the first message, `Some(Some((first type, TLS asked)))` at least
/// one whole message (the messages after it read as far as they go).
fn messages(d: &[u8]) -> Option<Option<(u8, bool)>> {
    let mut rest = d;
    let mut first = None;
    let mut tls = false;
    while !rest.is_empty() {
        let n = rest.len().min(2);
        if rest[..n] != PROLOGUE[..n] || rest.get(2).is_some_and(|&t| t > LAST_TYPE) {
            // Past the first message, a TLS upgrade makes the rest ciphertext.
            return if first.is_some() && tls {
                Some(first.map(|t| (t, tls)))
            } else {
                None
            };
        }
        let Some(h) = rest.get(..HEADER) else { break };
        let len = u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]);
        let end = usize::try_from(len).ok().and_then(|l| l.checked_add(HEADER));
        let Some(next) = end.and_then(|e| rest.get(e..)) else {
            break;
        };
        tls |= matches!(h[2], START_TLS | ASYNC_START_TLS);
        first.get_or_insert(h[2]);
        rest = next;
    }
    Some(first.map(|t| (t, tls)))
}

impl Dissector for HiSlip {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "hislip"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && messages(p.first_payload()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the `HS` prologue (`messages`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"H"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let d = p.first_side().stream();
        if d.is_empty() {
            return p.undecided();
        }
        let (kind, tls) = match messages(d) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(m)) => m,
        };
        meta.protocol = Some("hislip");
        meta.encryption = if tls {
            Encryption::Encrypted
        } else {
            Encryption::Cleartext
        };
        meta.set_extra("hislip_message_type", kind.to_string());
        if tls || p.last {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    // hislip.pcap: Initialize (version 1.0, vendor "RS", sub-address
    // "hislip0") and its response.
    const INITIALIZE: [u8; 23] = [
        0x48, 0x53, 0x00, 0x00, 0x01, 0x00, 0x52, 0x53, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, b'h', b'i',
        b's', b'l', b'i', b'p', b'0',
    ];
    const RESPONSE: [u8; 16] = [
        0x48, 0x53, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn initialize() {
        let (r, m) = check_split_tcp(&HiSlip, PORT, &INITIALIZE, &RESPONSE);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.protocol, Some("hislip"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("hislip_message_type"), Some("0"));
        // A StartTLS request, then TLS.
        let mut tls = INITIALIZE.to_vec();
        tls.extend_from_slice(b"HS\x1c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        tls.extend_from_slice(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
        let (r, m) = check_split_tcp(&HiSlip, PORT, &tls, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_hislip() {
        let mut kind = INITIALIZE;
        kind[2] = 40;
        let mut prologue = INITIALIZE;
        prologue[1] = b'T';
        let mut after = INITIALIZE.to_vec();
        after.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let cases: [(u16, &[u8]); 4] = [(4881, &INITIALIZE), (PORT, &kind), (PORT, &prologue), (PORT, &after)];
        for (port, d) in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, port, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&HiSlip, &p);
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
