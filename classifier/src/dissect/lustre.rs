//! Lustre's network layer, LNet, over TCP (the socket LND, port 988;
//! not checked). All integers are little-endian.
//!
//! Two openings are recognised:
//! - a new connection: the active side's acceptor request (magic
//!   0xacce7100, version 1, its peer's NID) and, after it or from the
//!   passive side, the socket LND hello (magic 0x45726963, protocol
//!   version 1..=3, source and destination NIDs);
//! - a connection seen after its start: a socket LND message of type
//!   LNET (0xc1) carrying an LNet header (destination and source NID,
//!   the two process ids, message type ACK..HELLO), answered by the
//!   other side with the two NIDs swapped.
//!
//! Every NID checked must be on a TCP network (LND type 2, the top 16
//! bits); a new connection's messages are checked as far as they go.
//!
//! Encryption: LNet never encrypts. Lustre's optional privacy flavors
//! (krb5p, skpi) would encrypt RPC bodies above it; they are off unless
//! configured and not told apart here: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Lustre;

const ACCEPTOR_MAGIC: [u8; 4] = 0xacce_7100u32.to_le_bytes();
const HELLO_MAGIC: [u8; 4] = 0x4572_6963u32.to_le_bytes();
const ACCEPTOR_LEN: usize = 16;
/// A hello without its IP list.
const HELLO_LEN: usize = 56;
const KSOCK_LNET: u8 = 0xc1;
/// Socket LND header (type, checksum, two cookies) and the LNet header's
/// NIDs, pids and message type.
const MSG_LEN: usize = 24 + 28;
const SOCKLND: u16 = 2;

fn le32(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// A NID on a TCP network (its 8 bytes at `at`).
fn tcp_nid(d: &[u8], at: usize) -> bool {
    u16::from_le_bytes([d[at + 6], d[at + 7]]) == SOCKLND
}

/// A valid hello at the start of `d` (`Err(true)`: too short to say).
fn hello(d: &[u8]) -> Result<u32, bool> {
    let n = d.len().min(4);
    if d[..n] != HELLO_MAGIC[..n] {
        return Err(false);
    }
    let h = d.get(..HELLO_LEN).ok_or(true)?;
    let version = le32(h, 4);
    if (1..=3).contains(&version) && tcp_nid(h, 8) && tcp_nid(h, 16) {
        Ok(version)
    } else {
        Err(false)
    }
}

/// A connection's opening on one side: acceptor request then hello, or
/// a hello. `Ok(Some(v))` with the hello's version, `Ok(None)` valid so
/// far, `Err(())` not LNet.
fn opening(d: &[u8]) -> Result<Option<u32>, ()> {
    let n = d.len().min(4);
    let rest = if d[..n] == ACCEPTOR_MAGIC[..n] {
        let Some(a) = d.get(..ACCEPTOR_LEN) else {
            return Ok(None);
        };
        if le32(a, 4) != 1 || !tcp_nid(a, 8) {
            return Err(());
        }
        &d[ACCEPTOR_LEN..]
    } else {
        d
    };
    match hello(rest) {
        Ok(v) => Ok(Some(v)),
        Err(true) => Ok(None),
        Err(false) => Err(()),
    }
}

/// A socket LND LNET message at the start of `d`: its (destination,
/// source) NIDs.
fn lnet_message(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let m = d.get(..MSG_LEN)?;
    let ok = m[0] == KSOCK_LNET && m[1..4] == [0, 0, 0] && tcp_nid(m, 24) && tcp_nid(m, 32) && le32(m, 48) <= 4;
    ok.then(|| (&m[24..32], &m[32..40]))
}

impl Dissector for Lustre {
    fn name(&self) -> &'static str {
        "lustre"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_side().stream();
        let n = d.len().min(4);
        if d.is_empty() || d[..n] == ACCEPTOR_MAGIC[..n] || d[..n] == HELLO_MAGIC[..n] || d[0] == KSOCK_LNET {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The acceptor or hello magic, or the ksocklnd byte, on whoever
    /// spoke first.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[ACCEPTOR_MAGIC[0], HELLO_MAGIC[0], KSOCK_LNET]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (p.first_side().stream(), p.second_side().stream());
        if a.first() == Some(&KSOCK_LNET) {
            // Mid-connection: both sides' first messages, NIDs swapped.
            match (lnet_message(a), lnet_message(b)) {
                (Some((dst, src)), Some((dst2, src2))) => {
                    if dst != src2 || src != dst2 {
                        return Parse::NotMine;
                    }
                    meta.set_extra("lustre_opening", "lnet_message");
                }
                (None, _) if a.len() >= MSG_LEN => return Parse::NotMine,
                (_, None) if b.len() >= MSG_LEN => return Parse::NotMine,
                _ => return p.undecided(),
            }
        } else {
            let mut version = None;
            for side in [a, b] {
                if side.is_empty() {
                    continue;
                }
                match opening(side) {
                    Ok(Some(v)) => {
                        version.get_or_insert(v);
                    }
                    Ok(None) => return p.undecided(),
                    Err(()) => return Parse::NotMine,
                }
            }
            match version {
                Some(v) => meta.set_extra("lustre_opening", format!("hello_v{v}")),
                None => return p.undecided(),
            }
        }
        meta.protocol = Some("lustre");
        meta.encryption = Encryption::Cleartext;
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// lustre.pcapng frames 4 and 6: the client's acceptor request (to
    /// 192.168.88.131@tcp) and its hello (version 3).
    const CONNREQ_HELLO: &str = "0071ceac 01000000 8358a8c000000200
        63697245 03000000 8458a8c000000200 8358a8c000000200 39300000 00000000
        f0ee59a00882f017 0000000000000000 02000000 00000000";
    /// Frame 8: the server's hello.
    const HELLO_S: &str = "63697245 03000000 8358a8c000000200 8458a8c000000200 39300000 00000000
        22b18f960b82f017 0000000000000000 03000000 00000000";
    /// Frames 9 and 12 (another connection, seen after its start): an
    /// LNet PUT from 192.168.88.119 to .118 and the answer the other way
    /// (headers only, the bodies cut).
    const PUT: &str = "c1000000 00000000 0000000000000000 0000000000000000
        7758a8c000000200 7658a8c000000200 39300000 39300000 01000000 08020000";
    const ANSWER: &str = "c1000000 00000000 0000000000000000 0000000000000000
        7658a8c000000200 7758a8c000000200 39300000 39300000 01000000 a0010000";

    #[test]
    fn new_connection() {
        let (c, s) = (unhex(CONNREQ_HELLO), unhex(HELLO_S));
        let (v, m) = check_split_tcp(&Lustre, 988, &c, &s);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("lustre"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("lustre_opening"), Some("hello_v3"));
        let ends = [[20], [0]];
        let p = Payloads::tcp(1022, 988, &c[..20], &[], &ends);
        assert_eq!(Lustre.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn mid_connection() {
        let (q, r) = (unhex(PUT), unhex(ANSWER));
        let (v, m) = check_split_tcp(&Lustre, 988, &q, &r);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("lustre"));
        assert_eq!(m.extra("lustre_opening"), Some("lnet_message"));
        // One side alone waits.
        let ends = [[q.len() as u32], [0]];
        let p = Payloads::tcp(1023, 988, &q, &[], &ends);
        assert_eq!(Lustre.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn near_misses() {
        let (c, s) = (unhex(CONNREQ_HELLO), unhex(HELLO_S));
        // Acceptor version 2, a non-TCP NID, hello version 4, a bad magic.
        for (at, v) in [(4, 2), (15, 3), (20, 4), (16, 0x64)] {
            let mut x = c.clone();
            x[at] = v;
            let ends = [[x.len() as u32], [s.len() as u32]];
            assert!(!not_refused(&Lustre, &Payloads::tcp(1022, 988, &x, &s, &ends)), "{at}");
        }
        let (q, r) = (unhex(PUT), unhex(ANSWER));
        // NIDs not swapped, another socket LND type, LNet type 5.
        for (at, v) in [(24, 0x78), (0, 0xc2), (48, 5)] {
            let mut x = r.clone();
            x[at] = v;
            let ends = [[q.len() as u32], [x.len() as u32]];
            assert!(!not_refused(&Lustre, &Payloads::tcp(1023, 988, &q, &x, &ends)), "{at}");
        }
    }
}
