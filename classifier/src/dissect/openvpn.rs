//! OpenVPN over UDP, and over TCP where each packet carries a 2-byte
//! length prefix. A session opens with a hard reset from the client
//! (P_CONTROL_HARD_RESET_CLIENT_V1 = 1, V2 = 7, V3 = 10, key id 0)
//! carrying its 8-byte session id, answered by a server hard reset
//! (V1 = 2, V2 = 8). We claim the flow when the server reply echoes the
//! client's session id (plain or tls-auth), or, with tls-crypt where the
//! echo is encrypted, when the client's next packet keeps its session id.

use super::{Dissector, Parse, Payloads, Probe, Side, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Openvpn;

const CLIENT_RESETS: [u8; 3] = [1, 7, 10];
const SERVER_RESETS: [u8; 2] = [2, 8];
/// Control-channel opcodes a client may send after its reset:
/// P_CONTROL_V1, P_ACK_V1, P_CONTROL_WKC_V1 (10 is V3 reset), and data.
const CLIENT_NEXT: [u8; 5] = [4, 5, 6, 9, 11];
/// A client hard reset: 14 bytes bare, larger with tls-auth / tls-crypt /
/// a wrapped client key (V3), but not large.
const MIN_RESET: usize = 14;
const MAX_RESET: usize = 1200;

fn packets<'a>(t: Transport, side: Side<'a>) -> Vec<&'a [u8]> {
    match t {
        Transport::Udp => side.chunks().take(4).collect(),
        Transport::Tcp => {
            let s = side.stream();
            let mut v = Vec::new();
            let mut off = 0usize;
            while v.len() < 4 {
                let Some(l) = s.get(off..off + 2) else { break };
                let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
                let Some(pkt) = s.get(off + 2..off + 2 + len) else {
                    break;
                };
                v.push(pkt);
                off += 2 + len;
            }
            v
        }
    }
}

fn op(pkt: &[u8]) -> Option<(u8, u8)> {
    pkt.first().map(|b| (b >> 3, b & 7))
}

fn client_reset(pkt: &[u8]) -> bool {
    op(pkt).is_some_and(|(o, k)| CLIENT_RESETS.contains(&o) && k == 0) && (MIN_RESET..=MAX_RESET).contains(&pkt.len())
}

/// Resets without tls-auth / tls-crypt have every byte after the session
/// id fixed: the client's carries an empty ack array and packet id 0
/// (14 bytes); the server's acks packet 0 of the client's session and
/// has packet id 0 (26 bytes). Such a packet proves OpenVPN on its own
/// (e.g. when NAT splits the two directions into two flows).
fn bare_client_reset(pkt: &[u8]) -> bool {
    pkt.len() == MIN_RESET && client_reset(pkt) && pkt[9..14] == [0; 5]
}

fn bare_server_reset(pkt: &[u8]) -> bool {
    pkt.len() == 26
        && op(pkt).is_some_and(|(o, k)| SERVER_RESETS.contains(&o) && k == 0)
        && pkt[9..14] == [1, 0, 0, 0, 0]
        && pkt[22..26] == [0; 4]
}

fn identified(meta: &mut Meta, opcode: u8) {
    meta.protocol = Some("openvpn");
    meta.encryption = Encryption::Encrypted;
    let v = match opcode {
        1 | 2 => "v1",
        7 | 8 => "v2",
        _ => "v3",
    };
    meta.set_extra("openvpn_reset", v);
}

impl Dissector for Openvpn {
    fn name(&self) -> &'static str {
        "openvpn"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let s = p.orig.stream();
        let first = match p.transport {
            Transport::Udp => p.orig.first(),
            Transport::Tcp => {
                if s.len() < 3 {
                    return if s.is_empty() { Probe::NotMine } else { Probe::Maybe };
                }
                let len = usize::from(u16::from_be_bytes([s[0], s[1]]));
                if !(MIN_RESET..=MAX_RESET).contains(&len) {
                    return Probe::NotMine;
                }
                // Only the opcode needs to be there yet.
                return if op(&s[2..]).is_some_and(|(o, k)| CLIENT_RESETS.contains(&o) && k == 0) {
                    Probe::Maybe
                } else {
                    Probe::NotMine
                };
            }
        };
        if client_reset(first) || bare_server_reset(first) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let o = packets(p.transport, p.orig);
        let Some(&first) = o.first() else {
            return if p.transport == Transport::Tcp && !p.orig.is_empty() {
                Parse::NeedMore
            } else {
                Parse::NotMine
            };
        };
        if bare_server_reset(first) && p.transport == Transport::Udp {
            identified(meta, first[0] >> 3);
            return Parse::Identified;
        }
        if !client_reset(first) {
            return Parse::NotMine;
        }
        let Some(session) = first.get(1..9) else {
            return Parse::NotMine;
        };
        let r = packets(p.transport, p.resp);
        let Some(&reply) = r.first() else {
            if p.resp.is_empty() && bare_client_reset(first) {
                identified(meta, first[0] >> 3);
                return Parse::Identified;
            }
            return if p.resp.is_empty() {
                Parse::NeedMore
            } else {
                Parse::NotMine
            };
        };
        let server_reset = op(reply).is_some_and(|(o, k)| SERVER_RESETS.contains(&o) && k == 0) && reply.len() >= 9;
        if !server_reset {
            return Parse::NotMine;
        }
        let echoed = reply.get(9..).is_some_and(|rest| rest.windows(8).any(|w| w == session));
        let kept = o.get(1).is_some_and(|n| {
            op(n).is_some_and(|(o, k)| CLIENT_NEXT.contains(&o) && k == 0) && n.get(1..9) == Some(session)
        });
        if !(echoed || kept) {
            return if o.len() < 2 { Parse::NeedMore } else { Parse::NotMine };
        }
        identified(meta, first[0] >> 3);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    const SID: [u8; 8] = [0x33, 0x48, 0x57, 0x70, 0x3d, 0x96, 0xdb, 0x39];

    fn client() -> Vec<u8> {
        let mut v = vec![7 << 3];
        v.extend_from_slice(&SID);
        v.extend_from_slice(&[0, 0, 0, 0, 0]);
        v
    }

    fn server() -> Vec<u8> {
        let mut v = vec![8 << 3, 0xd3, 0x1c, 0x3a, 0x69, 0x64, 0x60, 0x2f, 0xa0, 1, 0, 0, 0, 0];
        v.extend_from_slice(&SID);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v
    }

    #[test]
    fn udp_reset_echoed() {
        let (r, m) = check_split_udp(&Openvpn, 60000, 1194, &[&client()], &[&server()]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("openvpn"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("openvpn_reset"), Some("v2"));
    }

    #[test]
    fn bare_resets_alone() {
        let (r, m) = check_split_udp(&Openvpn, 60201, 443, &[&client()], &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("openvpn_reset"), Some("v2"));
        let (r, _) = check_split_udp(&Openvpn, 443, 60201, &[&server()], &[]);
        assert_eq!(r, Parse::Identified);
        // With an HMAC (longer, non-zero tail) a lone reset is not enough.
        let mut hmac = client();
        hmac.extend_from_slice(&[0x5a; 28]);
        let (r, _) = check_split_udp(&Openvpn, 60201, 443, &[&hmac], &[]);
        assert_eq!(r, Parse::NeedMore);
        let mut nonzero = client();
        nonzero[12] = 1;
        let (r, _) = check_split_udp(&Openvpn, 60201, 443, &[&nonzero], &[]);
        assert_eq!(r, Parse::NeedMore);
    }

    #[test]
    fn tls_crypt_session_kept() {
        // Server reply without a visible echo; the client's P_ACK keeps its id.
        let mut s = server();
        s.truncate(9);
        s.extend_from_slice(&[0x55; 60]);
        let mut ack = vec![5 << 3];
        ack.extend_from_slice(&SID);
        ack.extend_from_slice(&[0x77; 40]);
        let f = UdpFixture::new(1, 1194, &[&client()], &[&s]);
        assert_eq!(Openvpn.parse(&f.payloads(), &mut Meta::default()), Parse::NeedMore);
        let (r, _) = check_split_udp(&Openvpn, 1, 1194, &[&client(), &ack], &[&s]);
        assert_eq!(r, Parse::Done);
        ack[3] ^= 1;
        let (r, _) = check_split_udp(&Openvpn, 1, 1194, &[&client(), &ack], &[&s]);
        assert_eq!(r, Parse::NotMine);
    }

    #[test]
    fn tcp_framed() {
        let frame = |b: Vec<u8>| {
            let mut v = (b.len() as u16).to_be_bytes().to_vec();
            v.extend_from_slice(&b);
            v
        };
        let (r, _) = check_split_tcp(&Openvpn, 443, &frame(client()), &frame(server()));
        assert_eq!(r, Parse::Done);
    }

    #[test]
    fn not_openvpn() {
        let mut wrong_key = client();
        wrong_key[0] |= 1;
        let mut other_reply = server();
        other_reply[0] = 4 << 3;
        for (o, r) in [
            (wrong_key, server()),
            (client(), other_reply),
            (b"\x38abc".to_vec(), vec![]),
        ] {
            let f = UdpFixture::new(1, 1194, &[&o], &[&r]);
            let claimed = Openvpn.probe(&f.payloads()) != Probe::NotMine
                && matches!(
                    Openvpn.parse(&f.payloads(), &mut Meta::default()),
                    Parse::Identified | Parse::Done
                );
            assert!(!claimed);
        }
        let ends = [[4], [0]];
        let p = Payloads::tcp(1, 443, b"\xff\xff\x38\x00", b"", &ends);
        assert_eq!(Openvpn.probe(&p), Probe::NotMine);
    }
}
