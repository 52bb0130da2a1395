//! Activision's Call of Duty peer/server UDP probes (the console's port
//! 3074 in the captures). The format is not published; what is checked
//! is what the captures show, and each check ties the answer to the
//! request, so a lone look-alike datagram is never enough:
//!
//! - address probe: 29 bytes, `0d 02 00`, a 16-byte nonce, the sender's
//!   private IPv4 address and its port (little-endian), six more bytes;
//!   the peer answers with the same 29 bytes, type `0c`;
//! - ping: 18 bytes, `28`, a 64-bit little-endian clock, a 32-bit
//!   little-endian sequence number, a 4-byte id and a zero; the peer
//!   answers with 27 bytes: `29`, the sequence number, the clock, `01 00
//!   00 00` and ten zero bytes.
//!
//! Addresses, clocks and counters travel as they are: the flow is
//! cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Activision;

const PROBE_LEN: usize = 29;
const PING_LEN: usize = 18;
const PONG_LEN: usize = 27;

fn probe_req(d: &[u8]) -> bool {
    d.len() == PROBE_LEN && d.get(..3) == Some(&[0x0d, 0x02, 0x00][..])
}

fn ping(d: &[u8]) -> bool {
    d.len() == PING_LEN && d.first() == Some(&0x28) && d.last() == Some(&0)
}

/// `a` is the peer's answer to the address probe `q`.
fn probe_answers(q: &[u8], a: &[u8]) -> bool {
    a.len() == PROBE_LEN && a.first() == Some(&0x0c) && a.get(1..) == q.get(1..)
}

/// `a` is the peer's answer to the ping `q`.
fn pong_answers(q: &[u8], a: &[u8]) -> bool {
    a.len() == PONG_LEN
        && a.first() == Some(&0x29)
        && a.get(1..5) == q.get(9..13)
        && a.get(5..13) == q.get(1..9)
        && a.get(13..17) == Some(&[1, 0, 0, 0][..])
        && a.get(17..).is_some_and(|z| z.iter().all(|&b| b == 0))
}

impl Dissector for Activision {
    fn name(&self) -> &'static str {
        "activision"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let q = p.first_payload();
        if probe_req(q) || ping(q) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only an address probe (`0d`, `probe_req`) or a
    /// ping (`28`, `ping`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x0d, 0x28]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let q = p.first_payload();
        let message = if probe_req(q) {
            "address_probe"
        } else if ping(q) {
            "ping"
        } else {
            return Parse::NotMine;
        };
        let a = p.second_side().first();
        if a.is_empty() {
            return p.undecided();
        }
        // The first answer may belong to any of the first few requests
        // (a lost or late datagram); every request must be of one kind.
        let answered = p.first_side().chunks().take(4).any(|r| {
            if message == "ping" {
                ping(r) && pong_answers(r, a)
            } else {
                probe_req(r) && probe_answers(r, a)
            }
        });
        if !answered {
            return Parse::NotMine;
        }
        meta.protocol = Some("activision");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("activision".to_string());
        meta.set_extra("activision_message", message);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// activision.pcap, frames 1-4 (192.168.2.100:3074 and a server).
    const PROBE: &str = "0d0200d3dded03961669981a27af4f381bc0a80015020c6c3deb1fa182";
    const PROBE_ANSWER: &str = "0c0200d3dded03961669981a27af4f381bc0a80015020c6c3deb1fa182";
    const PING: &str = "2837303e4800000000280000005a1000c600";
    const PONG: &str = "292800000037303e48000000000100000000000000000000000000";

    #[test]
    fn probe_and_ping_answered() {
        let (q, a, pi, po) = (hex(PROBE), hex(PROBE_ANSWER), hex(PING), hex(PONG));
        let (r, m) = check_split_udp(&Activision, 3074, 33441, &[&q, &pi], &[&a, &po]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("activision"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("activision_message"), Some("address_probe"));
        let (r, m) = check_split_udp(&Activision, 3074, 33441, &[&pi], &[&po]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("activision_message"), Some("ping"));
        // A request alone waits, and is let go at the end.
        let (r, _) = check_split_udp(&Activision, 3074, 33441, &[&q], &[]);
        assert_eq!(r, Parse::NeedMore);
        let mut f = UdpFixture::new(3074, 33441, &[&q], &[]);
        let mut p = f.payloads();
        p.last = true;
        assert_eq!(Activision.parse(&p, &mut Meta::default()), Parse::NotMine);
        f.orig_port = 40000;
        assert_eq!(Activision.probe(&f.payloads()), Probe::Maybe);
    }

    #[test]
    fn not_activision() {
        let (q, a, pi, po) = (hex(PROBE), hex(PROBE_ANSWER), hex(PING), hex(PONG));
        let mut bad_echo = a.clone();
        bad_echo[20] ^= 1;
        let mut bad_seq = po.clone();
        bad_seq[1] ^= 1;
        let mut bad_clock = po.clone();
        bad_clock[6] ^= 1;
        let mut bad_tail = po.clone();
        bad_tail[26] = 1;
        let cases: [(&[u8], &[u8]); 7] = [
            (&q, &bad_echo),
            (&q, &po),
            (&pi, &a),
            (&pi, &bad_seq),
            (&pi, &bad_clock),
            (&pi, &bad_tail),
            (&q[..28], &a[..28]),
        ];
        for (o, r) in cases {
            let f = UdpFixture::new(3074, 40000, &[o], &[r]);
            let claimed = Activision.probe(&f.payloads()) != Probe::NotMine
                && Activision.parse(&f.payloads(), &mut Meta::default()) == Parse::Done;
            assert!(!claimed, "{o:?} {r:?}");
        }
    }
}
