//! Syncthing's local discovery (UDP 21027, broadcast and IPv6 multicast),
//! as Syncthing's documentation specifies it ("Local Discovery Protocol
//! v4"): a datagram is the magic 0x2EA7D90B (big-endian) and a protobuf
//! `Announce` message: the device ID (field 1, 32 bytes), its addresses
//! (field 2, strings such as `tcp://192.0.2.7:22000`, `quic://...`,
//! `relay://...`) and an instance ID (field 3). Everything is in the
//! clear: the flow is cleartext (nDPI flags Syncthing encrypted as a
//! protocol constant; the sync connections themselves are TLS, which
//! baikal's tls dissector reports).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Syncthing;

const PORT: u16 = 21027;
const MAGIC: [u8; 4] = [0x2e, 0xa7, 0xd9, 0x0b];
const DEVICE_ID_LEN: u8 = 32;

/// The first announced address, when `d` is an announcement: magic, then
/// the device ID field of 32 bytes, then at least one address field.
fn announcement(d: &[u8]) -> Option<&str> {
    if d.get(..4) != Some(&MAGIC[..]) || d.get(4..6) != Some(&[0x0a, DEVICE_ID_LEN][..]) {
        return None;
    }
    let rest = d.get(6 + usize::from(DEVICE_ID_LEN)..)?;
    let (&key, rest) = rest.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if key != 0x12 || len & 0x80 != 0 {
        return None;
    }
    let addr = std::str::from_utf8(rest.get(..usize::from(len))?).ok()?;
    addr.contains("://").then_some(addr)
}

impl Dissector for Syncthing {
    fn name(&self) -> &'static str {
        "syncthing"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().get(..4) == Some(&MAGIC[..]) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the announcement magic (`MAGIC`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[MAGIC[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let Some(addr) = announcement(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("syncthing");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("syncthing".to_string());
        meta.set_extra("syncthing_address", addr);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn announce(addr: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[0x0a, DEVICE_ID_LEN]);
        v.extend((0..DEVICE_ID_LEN).map(|i| i.wrapping_mul(73)));
        v.extend_from_slice(&[0x12, addr.len() as u8]);
        v.extend_from_slice(addr);
        v.extend_from_slice(&[0x18, 0xd4, 0x84, 0xc4, 0x2d]);
        v
    }

    #[test]
    fn local_announcement() {
        let d = announce(b"tcp://192.168.2.100:22000");
        let (r, m) = check_split_udp(&Syncthing, 54977, PORT, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("syncthing"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("syncthing_address"), Some("tcp://192.168.2.100:22000"));
    }

    #[test]
    fn not_syncthing() {
        let good = announce(b"quic://192.0.2.1:22000");
        let mut bad_magic = good.clone();
        bad_magic[0] = 0x2f;
        let no_scheme = announce(b"192.0.2.1");
        let mut short_id = good.clone();
        short_id[5] = 20;
        let cases: [(u16, &[u8]); 5] = [
            (9999, &good),
            (PORT, &bad_magic),
            (PORT, &no_scheme),
            (PORT, &short_id),
            (PORT, &good[..30]),
        ];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Syncthing, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
