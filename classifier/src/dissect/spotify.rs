//! Spotify's LAN discovery (UDP 57621, broadcast by the desktop client),
//! described from the captures: the ASCII magic `SpotUdp0`, an 8-byte
//! client id, a 16-bit version (1), a 16-bit count of extra bytes (0 or
//! 4), the extra bytes and a 20-byte digest identifying the user. There
//! is no cipher anywhere: ids and a digest in the clear, so the flow is
//! cleartext (nDPI flags Spotify encrypted as a protocol constant; the
//! client's connections to its access points are TLS or Spotify's own
//! encrypted channel, not this).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Spotify;

const PORT: u16 = 57621;
const MAGIC: &[u8; 8] = b"SpotUdp0";
const DIGEST: usize = 20;

/// The client id (hex) when `d` is a whole discovery datagram.
fn discovery(d: &[u8]) -> Option<&[u8]> {
    if d.get(..8) != Some(&MAGIC[..]) || d.get(16..18) != Some(&[0, 1][..]) {
        return None;
    }
    let extra = usize::from(u16::from_be_bytes([*d.get(18)?, *d.get(19)?]));
    (d.len() == 20 + extra + DIGEST).then(|| d.get(8..16)).flatten()
}

impl Dissector for Spotify {
    fn name(&self) -> &'static str {
        "spotify"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && p.first_payload().starts_with(MAGIC) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the `SpotUdp0` magic.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"S"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let Some(id) = discovery(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("spotify");
        meta.encryption = Encryption::Cleartext;
        meta.app = Some("spotify".to_string());
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        meta.set_extra("spotify_client", hex);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn datagram(extra: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[0xdc, 0x15, 0x74, 0x28, 0x2e, 0x52, 0x62, 0x4c, 0, 1]);
        v.extend_from_slice(&(extra.len() as u16).to_be_bytes());
        v.extend_from_slice(extra);
        v.extend_from_slice(&[0x89; DIGEST]);
        v
    }

    #[test]
    fn discovery_broadcast() {
        for extra in [&[][..], &[0x48, 0x95, 0xc2, 0x03]] {
            let d = datagram(extra);
            let (r, m) = check_split_udp(&Spotify, PORT, PORT, &[&d], &[]);
            assert_eq!(r, Parse::Done);
            assert_eq!(m.protocol, Some("spotify"));
            assert_eq!(m.encryption, Encryption::Cleartext);
            assert_eq!(m.app.as_deref(), Some("spotify"));
            assert_eq!(m.extra("spotify_client"), Some("dc1574282e52624c"));
        }
    }

    #[test]
    fn not_spotify() {
        let good = datagram(&[]);
        let mut long = good.clone();
        long.push(0);
        let mut v2 = good.clone();
        v2[17] = 2;
        let cases: [(u16, &[u8]); 4] = [(9999, &good), (PORT, &long), (PORT, &v2), (PORT, b"SpotUdp1xxxxxxxx")];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Spotify, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
