//! TiVoConnect discovery beacons (TiVo's "TiVo Connect Discovery
//! Protocol"), over UDP (broadcast to 2190 by convention; the port is
//! not used here) or TCP.
//!
//! A beacon is text: `key=value` lines, the first of which is
//! `tivoconnect=1` (any case), then keys such as `swversion`, `method`
//! (`broadcast` or `connected`), `identity`, `machine`, `platform` and
//! `services`. Taken as TiVoConnect: a first datagram (or TCP stream)
//! that opens with that line, whose following lines, as far as they go,
//! are all `key=value` with a non-empty key of letters and digits.
//!
//! The beacons are cleartext.

use super::text::{lines, starts_with_ci, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct TivoConnect;

const FIRST: &[u8] = b"tivoconnect=1";
const MAX_LINES: usize = 32;
const VALUE_MAX: usize = 64;

impl Dissector for TivoConnect {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "tivoconnect"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if super::text::could_start_with_ci(p.first_payload(), FIRST) {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only `tivoconnect=1` (any case).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"tT"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = if p.transport == Transport::Udp {
            p.first_payload()
        } else {
            p.first_side().stream()
        };
        if !starts_with_ci(d, FIRST) {
            return if super::text::could_start_with_ci(d, FIRST) {
                p.undecided()
            } else {
                Parse::NotMine
            };
        }
        let mut it = lines(d, MAX_LINES);
        match it.next() {
            Some(l) if l.eq_ignore_ascii_case(FIRST) => {}
            Some(_) => return Parse::NotMine,
            None if d.len() > FIRST.len() + 1 => return Parse::NotMine,
            None => return p.undecided(),
        }
        let mut keys = 0;
        for line in it {
            let Some(eq) = line.iter().position(|&b| b == b'=') else {
                if line.is_empty() {
                    continue;
                }
                return Parse::NotMine;
            };
            let (key, value) = (&line[..eq], &line[eq + 1..]);
            if key.is_empty() || !key.iter().all(u8::is_ascii_alphanumeric) {
                return Parse::NotMine;
            }
            keys += 1;
            let slot = match key.to_ascii_lowercase().as_slice() {
                b"machine" => "tivo_machine",
                b"platform" => "tivo_platform",
                b"method" => "tivo_method",
                _ => continue,
            };
            meta.set_extra(slot, to_string(value, VALUE_MAX));
        }
        if keys == 0 && p.transport == Transport::Tcp && !p.last {
            return Parse::NeedMore;
        }
        meta.protocol = Some("tivoconnect");
        meta.encryption = Encryption::Cleartext;
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, UdpFixture};

    /// TivoDVR.pcap, 98.245.242.69:2190 → 255.255.255.255:2190.
    const BEACON: &[u8] = b"TiVoConnect=1\nswversion=1.0\nmethod=broadcast\nidentity=uuid:4d696e69-444c-164e-9d41-1459c099c043\nmachine=R7000P\nplatform=pc/minidlna\nservices=TiVoMediaServer:8200/http\n";

    #[test]
    fn broadcast_beacon() {
        let (r, m) = check_split_udp(&TivoConnect, 2190, 2190, &[BEACON], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tivoconnect"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("tivo_machine"), Some("R7000P"));
        assert_eq!(m.extra("tivo_platform"), Some("pc/minidlna"));
        assert_eq!(m.extra("tivo_method"), Some("broadcast"));
    }

    #[test]
    fn not_tivoconnect() {
        let s = String::from_utf8_lossy(BEACON);
        let cases = [
            s.replace("TiVoConnect=1", "TiVoConnect=2"),
            s.replace("TiVoConnect=1\n", "TiVoConnect=1 \n"),
            s.replace("machine=", "machine "),
            s.replace("platform=", "plat form="),
            format!("x{s}"),
        ];
        for x in cases {
            let f = UdpFixture::new(2190, 2190, &[x.as_bytes()], &[]);
            assert!(!not_refused(&TivoConnect, &f.payloads()), "{x}");
        }
    }
}
