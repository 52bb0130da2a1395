//! TRDP, the Train Real-time Data Protocol (IEC 61375-2-3): process
//! data (PD, UDP, port 17224) and message data (MD, UDP or TCP, port
//! 17225). The ports are not checked: the header proves itself.
//!
//! Both headers open with a sequence counter, the protocol version
//! (major 1), the message type as two ASCII letters ("Pd", "Pp", "Pr",
//! "Pe" for PD; "Mn", "Mr", "Mp", "Mq", "Mc", "Me" for MD), the ComId,
//! two topology counters and the dataset length, and close with a
//! header FCS: the CRC-32 of the header before it, little-endian. The
//! PD header is 40 bytes, the MD header 116 (reply status, session
//! UUID, reply timeout, source and destination URIs). The FCS must
//! match; over UDP the datagram must also hold the dataset and at most
//! three bytes of padding after it. Over TCP the first header of the
//! side that spoke first decides.
//!
//! TRDP has no encryption (IEC 61375-2-3 leaves security to the train
//! network): cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Trdp;

const PD_HEADER: usize = 40;
const MD_HEADER: usize = 116;

fn be32(d: &[u8], at: usize) -> usize {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]) as usize
}

/// The message type's name and its header length.
fn kind(t: [u8; 2]) -> Option<(&'static str, usize)> {
    Some(match &t {
        b"Pd" => ("pd_data", PD_HEADER),
        b"Pp" => ("pd_pull_reply", PD_HEADER),
        b"Pr" => ("pd_request", PD_HEADER),
        b"Pe" => ("pd_error", PD_HEADER),
        b"Mn" => ("md_notification", MD_HEADER),
        b"Mr" => ("md_request", MD_HEADER),
        b"Mp" => ("md_reply", MD_HEADER),
        b"Mq" => ("md_reply_query", MD_HEADER),
        b"Mc" => ("md_confirm", MD_HEADER),
        b"Me" => ("md_error", MD_HEADER),
        _ => return None,
    })
}

/// A header at the start of `d`: `Ok((type name, ComId, header length,
/// dataset length))`; `Err(true)` when too short to say.
fn header(d: &[u8]) -> Result<(&'static str, usize, usize, usize), bool> {
    let Some(h) = d.get(..8) else {
        let ok = d.get(4).is_none_or(|&b| b == 1);
        return Err(ok);
    };
    if h[4] != 1 {
        return Err(false);
    }
    let (name, len) = kind([h[6], h[7]]).ok_or(false)?;
    let h = d.get(..len).ok_or(true)?;
    let fcs = u32::from_le_bytes([h[len - 4], h[len - 3], h[len - 2], h[len - 1]]);
    if crc32fast::hash(&h[..len - 4]) != fcs {
        return Err(false);
    }
    Ok((name, be32(h, 8), len, be32(h, 20)))
}

impl Dissector for Trdp {
    fn name(&self) -> &'static str {
        "trdp"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        match d.get(4..8) {
            Some([1, _, b'P' | b'M', _]) => Probe::Maybe,
            None if p.transport == Transport::Tcp && d.get(4).is_none_or(|&b| b == 1) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (d, udp) = match p.transport {
            Transport::Udp => (p.first_payload(), true),
            Transport::Tcp => (p.first_side().stream(), false),
        };
        let (name, com_id) = match header(d) {
            Ok((n, c, h, data)) => {
                let end = h.saturating_add(data);
                if udp && !(end..=end.saturating_add(3)).contains(&d.len()) {
                    return Parse::NotMine;
                }
                (n, c)
            }
            Err(true) if !udp => return p.undecided(),
            Err(_) => return Parse::NotMine,
        };
        meta.protocol = Some("trdp");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("trdp_message", name);
        meta.set_extra("trdp_com_id", com_id.to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, not_refused, unhex, UdpFixture};

    /// trdp.pcapng frame 13: PD data to 17224, ComId 0, a 24-byte
    /// dataset ("Hello World" and zeros).
    const PD: &str = "00000000 0100 5064 00000000 00000000 00000000 00000018 00000000 00000000 00000000 ce487aea
        48656c6c6f20576f726c6400000000000000000000000000";
    /// Frame 11: an MD request ("Mr", ComId 1001) to 17225 with a
    /// 13-byte dataset padded to 16.
    const MD_REQUEST: &str = "00000000 0100 4d72 000003e9 00000000 00000000 0000000d 00000000
        51d8f2e65bc811ef98daf02f74ad43f5 001e8480
        0000000000000000000000000000000000000000000000000000000000000000
        0000000000000000000000000000000000000000000000000000000000000000 2c7f7f66
        486f772061726520796f753f00000000";
    /// Frame 12: the reply ("Mp", 17-byte dataset).
    const MD_REPLY: &str = "00000000 0100 4d70 000003e9 00000000 00000000 00000011 00000000
        51d8f2e65bc811ef98daf02f74ad43f5 00000000
        746573745f6d6453696e676c6500000000000000000000000000000000000000
        0000000000000000000000000000000000000000000000000000000000000000 ce14dcc3
        49276d2066696e652c207468616e782100000000";

    #[test]
    fn process_data() {
        let d = unhex(PD);
        let (v, m) = check_split_udp(&Trdp, 47228, 17224, &[&d], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("trdp"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("trdp_message"), Some("pd_data"));
        assert_eq!(m.extra("trdp_com_id"), Some("0"));
    }

    #[test]
    fn message_data_udp_and_tcp() {
        let (q, r) = (unhex(MD_REQUEST), unhex(MD_REPLY));
        let (v, m) = check_split_udp(&Trdp, 45318, 17225, &[&q], &[&r]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("trdp_message"), Some("md_request"));
        assert_eq!(m.extra("trdp_com_id"), Some("1001"));
        // The same messages on a TCP connection (trdp.pcapng frames 4, 6).
        let (v, m) = check_split_tcp(&Trdp, 17225, &q, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("trdp_message"), Some("md_request"));
        let ends = [[60], [0]];
        let p = Payloads::tcp(40000, 17225, &q[..60], &[], &ends);
        assert_eq!(Trdp.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let d = unhex(PD);
        // Any header byte changed breaks the FCS; so do a version 2, an
        // unknown type; a dataset longer than the datagram or padding of
        // four bytes do not fit.
        for at in [0, 4, 7, 11, 23, 36] {
            let mut x = d.clone();
            x[at] ^= 0x01;
            let f = UdpFixture::new(47228, 17224, &[&x], &[]);
            assert!(!not_refused(&Trdp, &f.payloads()), "{at}");
        }
        let f = UdpFixture::new(47228, 17224, &[&d[..d.len() - 1]], &[]);
        assert!(!not_refused(&Trdp, &f.payloads()));
        let padded = [&d[..], &[0, 0, 0, 0]].concat();
        let f = UdpFixture::new(47228, 17224, &[&padded], &[]);
        assert!(!not_refused(&Trdp, &f.payloads()));
        let f = UdpFixture::new(47228, 17224, &[&d[..40]], &[]);
        assert!(!not_refused(&Trdp, &f.payloads()));
    }
}
