//! Discord voice (UDP): the client opens with IP discovery, documented in
//! Discord's developer docs ("Voice Connections", IP Discovery): a 74-byte
//! packet of type (2 bytes, 0x1 request / 0x2 response), length (2 bytes,
//! always 70), SSRC (4 bytes), address (64 bytes, NUL-padded string) and
//! port (2 bytes), all big-endian. The voice server answers with a
//! response of the same shape carrying the client's external address.
//! Voice packets that follow are RTP with an encrypted payload (the docs'
//! encryption modes), so the flow is encrypted.
//!
//! Before joining, the client also measures its latency to the voice
//! servers of several regions: on flows of their own, it sends 8-byte
//! datagrams, the magic `13 37 ca fe` and a 32-bit counter, to the
//! server's voice port (Discord's voice range is UDP 50000..=65535), and
//! the server echoes each one unchanged. This is undocumented; the magic
//! and the exact echo are what the captures show. Such a flow carries
//! only the counter, but it belongs to the voice service and is reported
//! with its class (`encrypted`), `discord_probe` = `latency` in extra.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct DiscordVoice;

const LEN: usize = 74;
const BODY: [u8; 2] = [0, 70];
/// A latency probe: magic, then a 32-bit counter.
const PROBE_MAGIC: [u8; 4] = [0x13, 0x37, 0xca, 0xfe];
const PROBE_LEN: usize = 8;
/// Discord's voice servers listen in this range.
const VOICE_PORTS: std::ops::RangeInclusive<u16> = 50000..=65535;

fn probe_ping(d: &[u8]) -> bool {
    d.len() == PROBE_LEN && d.starts_with(&PROBE_MAGIC)
}

/// An IP discovery packet of `kind` (1 request, 2 response): its SSRC.
fn discovery(d: &[u8], kind: u8) -> Option<&[u8]> {
    if d.len() != LEN || d.get(..2) != Some(&[0, kind][..]) || d.get(2..4) != Some(&BODY[..]) {
        return None;
    }
    d.get(4..8)
}

impl Dissector for DiscordVoice {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "discord_voice"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.first() {
            [] => Probe::Maybe,
            d if discovery(d, 1).is_some() => Probe::Maybe,
            d if probe_ping(d) && VOICE_PORTS.contains(&p.resp_port) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let first = p.orig.first();
        if probe_ping(first) && VOICE_PORTS.contains(&p.resp_port) {
            // The server echoes the probe byte for byte.
            return match p.resp.first() {
                [] => p.undecided(),
                echo if echo == first => {
                    meta.protocol = Some("discord_voice");
                    meta.encryption = Encryption::Encrypted;
                    meta.app = Some("discord".to_string());
                    meta.set_extra("discord_probe", "latency");
                    Parse::Done
                }
                _ => Parse::NotMine,
            };
        }
        let Some(ssrc) = discovery(first, 1) else {
            return Parse::NotMine;
        };
        let answer = match p.resp.first() {
            [] if p.last => return Parse::NotMine,
            [] => return Parse::NeedMore,
            d => discovery(d, 2),
        };
        // The response echoes the request's SSRC.
        if answer != Some(ssrc) {
            return Parse::NotMine;
        }
        meta.protocol = Some("discord_voice");
        meta.encryption = Encryption::Encrypted;
        meta.app = Some("discord".to_string());
        if let Ok(b) = <[u8; 4]>::try_from(ssrc) {
            meta.set_extra("discord_ssrc", u32::from_be_bytes(b).to_string());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn packet(kind: u8, ssrc: u32, addr: &[u8], port: u16) -> Vec<u8> {
        let mut v = vec![0, kind, 0, 70];
        v.extend_from_slice(&ssrc.to_be_bytes());
        let mut a = [0u8; 64];
        a[..addr.len()].copy_from_slice(addr);
        v.extend_from_slice(&a);
        v.extend_from_slice(&port.to_be_bytes());
        v
    }

    #[test]
    fn ip_discovery_request_and_response() {
        let req = packet(1, 44259, b"", 0);
        let resp = packet(2, 44259, b"198.51.100.7", 57955);
        let (r, m) = check_split_udp(&DiscordVoice, 57955, 50004, &[&req], &[&resp]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("discord_voice"));
        assert_eq!(m.app.as_deref(), Some("discord"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("discord_ssrc"), Some("44259"));
    }

    #[test]
    fn latency_probe_echoed() {
        let ping = [0x13, 0x37, 0xca, 0xfe, 0x05, 0, 0, 0];
        let (r, m) = check_split_udp(&DiscordVoice, 56271, 50004, &[&ping], &[&ping]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("discord_voice"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("discord_probe"), Some("latency"));
        let mut m = Meta::default();
        // Not echoed exactly, not the voice port range, longer, unanswered at the end.
        let other = [0x13, 0x37, 0xca, 0xfe, 0x06, 0, 0, 0];
        let f = UdpFixture::new(56271, 50004, &[&ping], &[&other]);
        assert_eq!(DiscordVoice.parse(&f.payloads(), &mut m), Parse::NotMine);
        let f = UdpFixture::new(56271, 8181, &[&ping], &[&ping]);
        assert_eq!(DiscordVoice.probe(&f.payloads()), Probe::NotMine);
        assert_eq!(DiscordVoice.parse(&f.payloads(), &mut m), Parse::NotMine);
        let long = [0x13, 0x37, 0xca, 0xfe, 0x05, 0, 0, 0, 0];
        let f = UdpFixture::new(56271, 50004, &[&long], &[&long]);
        assert_eq!(DiscordVoice.probe(&f.payloads()), Probe::NotMine);
        let f = UdpFixture::new(56271, 50004, &[&ping], &[]);
        let mut p = f.payloads();
        assert_eq!(DiscordVoice.parse(&p, &mut m), Parse::NeedMore);
        p.last = true;
        assert_eq!(DiscordVoice.parse(&p, &mut m), Parse::NotMine);
    }

    #[test]
    fn other_shapes_are_not_mine() {
        let req = packet(1, 7, b"", 0);
        let mut m = Meta::default();
        // Wrong SSRC in the answer, wrong type, wrong length field, size.
        for resp in [packet(2, 8, b"x", 1), packet(1, 7, b"x", 1)] {
            let f = UdpFixture::new(1, 50004, &[&req], &[&resp]);
            assert_eq!(DiscordVoice.parse(&f.payloads(), &mut m), Parse::NotMine);
        }
        let mut bad = req.clone();
        bad[3] = 71;
        let f = UdpFixture::new(1, 50004, &[&bad], &[]);
        assert_eq!(DiscordVoice.probe(&f.payloads()), Probe::NotMine);
        let f = UdpFixture::new(1, 50004, &[&req[..73]], &[]);
        assert_eq!(DiscordVoice.parse(&f.payloads(), &mut m), Parse::NotMine);
        // A request with no answer yet waits; at the end it is not enough.
        let f = UdpFixture::new(1, 50004, &[&req], &[]);
        assert_eq!(DiscordVoice.parse(&f.payloads(), &mut m), Parse::NeedMore);
        let mut p = f.payloads();
        p.last = true;
        assert_eq!(DiscordVoice.parse(&p, &mut m), Parse::NotMine);
    }
}
