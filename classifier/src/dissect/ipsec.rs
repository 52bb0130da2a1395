//! IPsec on UDP: IKE (IKEv1, RFC 2408/2409; IKEv2, RFC 7296) on port 500,
//! and on port 4500 the NAT-traversal encapsulation of RFC 3948: IKE after
//! a 4-byte zero "non-ESP marker", ESP packets (SPI, sequence number,
//! ciphertext) and 1-byte 0xff NAT keep-alives on the same 5-tuple.
//!
//! IKE's header is 28 bytes: initiator SPI (8, never zero), responder SPI
//! (8), next payload, version (major in the high nibble: 1 or 2, minor 0),
//! exchange type, flags, message ID (4) and the length of the whole
//! message (4), which must equal the datagram's. With a port gate and the
//! exact length this is far beyond chance, so one message is enough.
//!
//! A flow seen only from its ESP packets (the IKE exchange on an earlier
//! flow) is claimed when one direction carries two ESP packets with the
//! same SPI (>= 256: 1..=255 are reserved, 0 is the marker) and sequence
//! numbers that advance by a little: a 32-bit coincidence in random data.
//!
//! ESP straight over IP (protocol 50) is not a [`Dissector`] flow: the
//! engine calls [`esp_over_ip`] on the first payload, as it does for ICMP.
//!
//! Encryption: `encrypted`. IKE_SA_INIT (IKEv2) and the first exchanges of
//! IKEv1 main mode are cleartext (proposals, Diffie-Hellman values,
//! nonces), but everything after them is encrypted under the keys they
//! agree, and the protocol exists to carry the ESP tunnel, which is
//! encrypted: the class describes the flow's purpose, not its first bytes.

use super::{Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Ipsec;

/// IKE's port.
const IKE: u16 = 500;
/// IKE and ESP behind NAT (RFC 3948).
const NAT_T: u16 = 4500;
const HEADER: usize = 28;
const MARKER: [u8; 4] = [0; 4];
/// Largest sequence-number step between two ESP packets of one direction
/// in the first datagrams the engine keeps (losses, reordering).
const MAX_SEQ_STEP: u32 = 64;

/// An IKE header that spans exactly `d`: (major version, exchange type).
fn ike(d: &[u8]) -> Option<(u8, u8)> {
    if d.len() < HEADER || d.get(..8)? == [0; 8] {
        return None;
    }
    let (next, version, exchange, flags) = (*d.get(16)?, *d.get(17)?, *d.get(18)?, *d.get(19)?);
    let length = u32::from_be_bytes(d.get(24..28)?.try_into().ok()?);
    if usize::try_from(length).ok()? != d.len() {
        return None;
    }
    let ok = match version {
        // IKEv1: payload types 1..=13 (RFC 2408), NAT-D and NAT-OA 20, 21
        // (RFC 3947); exchanges 1..=5, quick mode 32, new group 33;
        // flags encryption, commit, authentication only.
        0x10 => matches!(next, 1..=13 | 20 | 21) && matches!(exchange, 1..=5 | 32 | 33) && flags & !0x07 == 0,
        // IKEv2: payload types 33..=48 and 53 (SKF, RFC 7383); exchanges
        // 34..=37 (RFC 7296), 38 (resumption, RFC 5723), 43 and 44
        // (RFC 9242, 9370); flags initiator, version, response.
        0x20 => {
            let msg_id = d.get(20..24)?;
            matches!(next, 33..=48 | 53)
                && matches!(exchange, 34..=38 | 43 | 44)
                && flags & !0x38 == 0
                // IKE_SA_INIT is always message 0.
                && (exchange != 34 || msg_id == [0; 4])
        }
        _ => false,
    };
    ok.then_some((version >> 4, exchange))
}

/// IP protocol number of ESP (RFC 4303).
pub const ESP: u8 = 50;

/// The SPI when `payload` is an ESP packet carried by IP protocol `proto`:
/// the IP header already says ESP, so a valid SPI (not 0..=255), a
/// sequence number and something after them are all there is to check.
pub fn esp_over_ip(proto: u8, payload: &[u8]) -> Option<u32> {
    if proto != ESP || payload.len() < 16 {
        return None;
    }
    let spi = u32::from_be_bytes(payload.get(..4)?.try_into().ok()?);
    (spi >= 256).then_some(spi)
}

/// What one datagram of the flow is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Datagram {
    /// IKE (on 4500 after the non-ESP marker): version, exchange, the
    /// initiator SPI's offset.
    Ike(u8, u8, usize),
    /// ESP on 4500: SPI and sequence number.
    Esp(u32, u32),
    /// A NAT keep-alive (RFC 3948 section 2.3).
    KeepAlive,
    Other,
}

fn datagram(d: &[u8], nat_t: bool) -> Datagram {
    if nat_t {
        if d == [0xff] {
            return Datagram::KeepAlive;
        }
        if let Some(rest) = d.strip_prefix(&MARKER[..]) {
            return ike(rest).map_or(Datagram::Other, |(v, x)| Datagram::Ike(v, x, MARKER.len()));
        }
        let word = |at: usize| {
            d.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
        };
        // SPI, sequence number, then at least an 8-byte ICV's worth.
        return match (word(0), word(4)) {
            (Some(spi), Some(seq)) if spi >= 256 && d.len() >= 16 => Datagram::Esp(spi, seq),
            _ => Datagram::Other,
        };
    }
    ike(d).map_or(Datagram::Other, |(v, x)| Datagram::Ike(v, x, 0))
}

/// The datagrams of a side, keep-alives left out.
fn datagrams<'a>(s: &Side<'a>, nat_t: bool) -> impl Iterator<Item = (Datagram, &'a [u8])> + 'a {
    s.chunks()
        .map(move |d| (datagram(d, nat_t), d))
        .filter(|(k, _)| *k != Datagram::KeepAlive)
}

/// Two ESP packets of one SPI with an advancing sequence number.
fn esp_pair(s: &Side<'_>) -> Option<u32> {
    let mut esp = datagrams(s, true).filter_map(|(k, _)| match k {
        Datagram::Esp(spi, seq) => Some((spi, seq)),
        _ => None,
    });
    let ((spi, seq), (spi2, seq2)) = (esp.next()?, esp.next()?);
    (spi == spi2 && seq2 > seq && seq2 - seq <= MAX_SEQ_STEP).then_some(spi)
}

fn version_name(v: u8) -> &'static str {
    if v == 1 {
        "1"
    } else {
        "2"
    }
}

fn exchange_name(v: u8, x: u8) -> &'static str {
    match (v, x) {
        (1, 1) => "base",
        (1, 2) => "identity_protection",
        (1, 3) => "authentication_only",
        (1, 4) => "aggressive",
        (1, 5) => "informational",
        (1, 32) => "quick_mode",
        (1, 33) => "new_group_mode",
        (_, 34) => "IKE_SA_INIT",
        (_, 35) => "IKE_AUTH",
        (_, 36) => "CREATE_CHILD_SA",
        (_, 37) => "INFORMATIONAL",
        (_, 38) => "IKE_SESSION_RESUME",
        (_, 43) => "IKE_INTERMEDIATE",
        (_, 44) => "IKE_FOLLOWUP_KE",
        _ => "other",
    }
}

impl Ipsec {
    /// Which of the two ports says how to read the flow: `Some(true)` for
    /// NAT traversal, `Some(false)` for plain IKE.
    fn mode(p: &Payloads<'_>) -> Option<bool> {
        if p.port(NAT_T) {
            Some(true)
        } else if p.port(IKE) {
            Some(false)
        } else {
            None
        }
    }
}

impl Dissector for Ipsec {
    fn name(&self) -> &'static str {
        "ipsec"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let Some(nat_t) = Ipsec::mode(p) else {
            return Probe::NotMine;
        };
        match datagrams(&p.first_side(), nat_t).next() {
            None => Probe::Maybe,
            Some((Datagram::Ike(..), _)) => Probe::Mine,
            Some((Datagram::Esp(..), _)) => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(nat_t) = Ipsec::mode(p) else {
            return Parse::NotMine;
        };
        let side = p.first_side();
        let other = p.second_side();
        match datagrams(&side, nat_t).next() {
            None => p.undecided(),
            Some((Datagram::Ike(v, x, at), d)) => {
                meta.protocol = Some("ipsec");
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("ike_version", version_name(v));
                meta.set_extra("ike_exchange", exchange_name(v, x));
                if nat_t {
                    meta.set_extra("ipsec_nat_t", "true");
                }
                // The answer names the same initiator SPI.
                let spi = d.get(at..at + 8);
                let answered = datagrams(&other, nat_t).any(|(k, a)| match k {
                    Datagram::Ike(_, _, o) => a.get(o..o + 8) == spi,
                    _ => false,
                });
                if answered {
                    Parse::Done
                } else {
                    Parse::Identified
                }
            }
            Some((Datagram::Esp(..), _)) => {
                let spi = esp_pair(&side).or_else(|| esp_pair(&other));
                let Some(spi) = spi else {
                    // Anything but ESP after the first ESP packet.
                    let all_esp = datagrams(&side, true)
                        .chain(datagrams(&other, true))
                        .all(|(k, _)| matches!(k, Datagram::Esp(..) | Datagram::Ike(..)));
                    return if all_esp { p.undecided() } else { Parse::NotMine };
                };
                meta.protocol = Some("ipsec");
                meta.encryption = Encryption::Encrypted;
                meta.set_extra("ipsec_nat_t", "true");
                meta.set_extra("esp_spi", format!("0x{spi:08x}"));
                Parse::Done
            }
            Some(_) => Parse::NotMine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// An IKE message: header with `spi_i`, `spi_r`, then `body`.
    fn ike_msg(spi_i: u64, spi_r: u64, next: u8, version: u8, exchange: u8, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut v = spi_i.to_be_bytes().to_vec();
        v.extend_from_slice(&spi_r.to_be_bytes());
        v.extend_from_slice(&[next, version, exchange, flags, 0, 0, 0, 0]);
        v.extend_from_slice(&((HEADER + body.len()) as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn esp(spi: u32, seq: u32, len: usize) -> Vec<u8> {
        let mut v = spi.to_be_bytes().to_vec();
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend((0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(seq as u8)));
        v
    }

    fn claims(f: &UdpFixture) -> bool {
        Ipsec.probe(&f.payloads()) != Probe::NotMine
            && matches!(
                Ipsec.parse(&f.payloads(), &mut Meta::default()),
                Parse::Identified | Parse::Done
            )
    }

    #[test]
    fn ikev2_sa_init_answered() {
        // IKE_SA_INIT request (initiator flag), the response (response
        // flag, the responder's SPI filled in).
        let q = ike_msg(
            0xb64e_f321_31a4_8952,
            0,
            33,
            0x20,
            34,
            0x08,
            &[0x22, 0, 0, 4, 9, 9, 9, 9],
        );
        let a = ike_msg(0xb64e_f321_31a4_8952, 0x86ba_bd39, 33, 0x20, 34, 0x20, &[0; 8]);
        let (r, m) = check_split_udp(&Ipsec, 10500, IKE, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ipsec"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("ike_version"), Some("2"));
        assert_eq!(m.extra("ike_exchange"), Some("IKE_SA_INIT"));
        assert_eq!(m.extra("ipsec_nat_t"), None);
        // Unanswered: identified, more may come.
        let (r, _) = check_split_udp(&Ipsec, 10500, IKE, &[&q], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn ikev1_main_mode() {
        let q = ike_msg(0x1122_3344_5566_7788, 0, 1, 0x10, 2, 0, &[0; 40]);
        let (r, m) = check_split_udp(&Ipsec, 500, IKE, &[&q], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("ike_version"), Some("1"));
        assert_eq!(m.extra("ike_exchange"), Some("identity_protection"));
    }

    #[test]
    fn ike_after_non_esp_marker_then_esp() {
        let mut q = MARKER.to_vec();
        q.extend(ike_msg(7, 9, 46, 0x20, 35, 0x08, &[0x23, 0, 0, 4, 1, 2, 3, 4]));
        let mut a = MARKER.to_vec();
        a.extend(ike_msg(7, 9, 46, 0x20, 35, 0x20, &[0x24, 0, 0, 4, 5, 6, 7, 8]));
        let e1 = esp(0x0488_8fe4, 1, 40);
        let (r, m) = check_split_udp(&Ipsec, 14500, NAT_T, &[&[0xff], &q, &e1], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("ike_exchange"), Some("IKE_AUTH"));
        assert_eq!(m.extra("ipsec_nat_t"), Some("true"));
    }

    #[test]
    fn esp_in_udp_needs_two_packets_of_one_spi() {
        let (e1, e2) = (esp(0xcbb7_a0c6, 1, 40), esp(0xcbb7_a0c6, 2, 40));
        let (r, m) = check_split_udp(&Ipsec, 14500, NAT_T, &[&esp(0x0488_8fe4, 5, 60)], &[&e1, &e2]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("esp_spi"), Some("0xcbb7a0c6"));
        let (r, _) = check_split_udp(&Ipsec, 14500, NAT_T, &[&e1], &[]);
        assert_eq!(r, Parse::NeedMore);
        // Another SPI, a sequence number going back or leaping: not ESP.
        for second in [
            esp(0xcbb7_a0c7, 2, 40),
            esp(0xcbb7_a0c6, 1, 40),
            esp(0xcbb7_a0c6, 900, 40),
        ] {
            let f = UdpFixture::new(14500, NAT_T, &[&e1, &second], &[]);
            assert!(!claims(&f));
        }
    }

    #[test]
    fn esp_straight_over_ip() {
        let e = esp(0x0488_8fe4, 1, 40);
        assert_eq!(esp_over_ip(ESP, &e), Some(0x0488_8fe4));
        assert_eq!(esp_over_ip(17, &e), None);
        assert_eq!(esp_over_ip(ESP, &e[..15]), None);
        assert_eq!(esp_over_ip(ESP, &esp(255, 1, 40)), None);
    }

    #[test]
    fn not_ipsec() {
        let good = ike_msg(5, 0, 33, 0x20, 34, 0x08, &[0; 8]);
        let mut cases: Vec<(u16, Vec<u8>)> = vec![(9999, good.clone())];
        let mut bad_len = good.clone();
        bad_len.push(0);
        cases.push((IKE, bad_len));
        cases.push((IKE, ike_msg(0, 0, 33, 0x20, 34, 0x08, &[0; 8])));
        cases.push((IKE, ike_msg(5, 0, 33, 0x30, 34, 0x08, &[0; 8])));
        cases.push((IKE, ike_msg(5, 0, 1, 0x20, 34, 0x08, &[0; 8])));
        cases.push((IKE, ike_msg(5, 0, 33, 0x20, 99, 0x08, &[0; 8])));
        cases.push((IKE, ike_msg(5, 0, 33, 0x20, 34, 0x01, &[0; 8])));
        cases.push((IKE, ike_msg(5, 0, 33, 0x10, 2, 0, &[0; 8])));
        let mut sa_init_mid = good.clone();
        sa_init_mid[23] = 1;
        cases.push((IKE, sa_init_mid));
        // IKE without the marker on 4500 reads as ESP, and alone is not enough.
        cases.push((NAT_T, good.clone()));
        cases.push((NAT_T, vec![0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]));
        cases.push((NAT_T, vec![0xff]));
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[&d], &[]);
            assert!(!claims(&f), "{port} {d:?}");
        }
    }
}
