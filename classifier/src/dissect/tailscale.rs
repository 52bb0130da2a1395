//! Tailscale's discovery ("disco") messages over UDP, on any port
//! (41641 is only the default). Tailscale's disco protocol frames each
//! message as the 6-byte magic `TS💬` (`54 53 F0 9F 92 AC`), the
//! sender's 32-byte disco public key, a 24-byte nonce and a NaCl box
//! (a 16-byte authenticator and the sealed ping, pong or call-me-maybe
//! message). The peers' WireGuard traffic then runs on the same
//! 5-tuple.
//!
//! The first datagram of whoever spoke first decides: the magic and at
//! least a box's authenticator after the key and nonce. Encrypted: past
//! the magic and the public key, everything is sealed.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Tailscale;

const MAGIC: &[u8] = b"TS\xf0\x9f\x92\xac";
const KEY: usize = 32;
const NONCE: usize = 24;
const MAC: usize = 16;
const MIN_LEN: usize = 6 + KEY + NONCE + MAC;

impl Dissector for Tailscale {
    fn name(&self) -> &'static str {
        "tailscale"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.first_payload().starts_with(MAGIC) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the disco magic (`TS`...).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"T"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        if !d.starts_with(MAGIC) || d.len() < MIN_LEN {
            return Parse::NotMine;
        }
        meta.protocol = Some("tailscale");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("tailscale".to_string());
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, unhex, UdpFixture};

    /// tailscale.pcap, 192.168.88.3:41641 → 18.196.71.179:41641: a
    /// 92-byte disco message (magic, key, nonce, a 30-byte box).
    const DISCO: &str = "5453f09f92ac
        b6847dd212ae777bfae214b36d0d971152f0c7e0524e0c28b0a0105b5fa61617
        03214ee94e401257e70fa30f02a2c6b15bb7ab39de58a6ab
        a6dfda69f578e7c967976bd80ea2e2ca6e18b699846a9aa1b71d6a965bee";

    #[test]
    fn disco() {
        let d = unhex(DISCO);
        assert_eq!(d.len(), 92);
        let (r, m) = check_split_udp(&Tailscale, 41641, 41641, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tailscale"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.app.as_deref(), Some("tailscale"));
    }

    #[test]
    fn not_tailscale() {
        let d = unhex(DISCO);
        let mut magic = d.clone();
        magic[5] = 0xad;
        let cases: [&[u8]; 3] = [&magic, &d[..MIN_LEN - 1], b"TS"];
        for c in cases {
            let f = UdpFixture::new(41641, 41641, &[c], &[]);
            assert!(!crate::dissect::not_refused(&Tailscale, &f.payloads()), "{c:?}");
        }
    }
}
