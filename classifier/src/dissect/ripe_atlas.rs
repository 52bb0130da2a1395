//! RIPE Atlas "MGLNDD" probes: a short ASCII message, `MGLNDD_`, the
//! address the probe was sent to, `_`, and the port it was sent to
//! (e.g. `MGLNDD_11.111.11.111_1114`), optionally ended by a newline.
//! RIPE Atlas anchors send these to check reachability (the text names
//! its own target so that a reply or a log line can be matched to it).
//! The check: the magic, then an IPv4 or IPv6 address that parses, then
//! a decimal port of 1..=65535, and nothing else but a trailing CR/LF.
//! The first message of whoever spoke first (UDP: the first datagram;
//! TCP: the stream's first bytes) decides. Cleartext: the whole message
//! is readable text.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct RipeAtlas;

const MAGIC: &[u8] = b"MGLNDD_";
/// `MGLNDD_` + the longest IPv6 text (45) + `_65535` + CR LF.
const MAX_LEN: usize = 7 + 45 + 6 + 2;

/// The target (`address:port`, IPv6 in brackets) `d` names, if `d` is a
/// whole probe message.
fn target(d: &[u8]) -> Option<String> {
    if d.len() > MAX_LEN {
        return None;
    }
    let text = std::str::from_utf8(d.strip_prefix(MAGIC)?).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let (addr, port) = text.rsplit_once('_')?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|c| c.is_ascii_digit()) || port.starts_with('0') {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    let addr: std::net::IpAddr = addr.parse().ok()?;
    Some(std::net::SocketAddr::new(addr, port).to_string())
}

impl Dissector for RipeAtlas {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "ripe_atlas"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp, Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        let n = d.len().min(MAGIC.len());
        if n > 0 && d[..n] == MAGIC[..n] {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only a prefix of the `MGLNDD_` magic.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"M"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = match p.transport {
            Transport::Udp => p.first_payload(),
            Transport::Tcp => p.first_side().stream(),
        };
        let Some(target) = target(d) else {
            // A TCP message may still be arriving.
            let whole = p.transport == Transport::Udp || d.len() > MAX_LEN || d.ends_with(b"\n");
            return if !whole && MAGIC.starts_with(&d[..d.len().min(MAGIC.len())]) {
                p.undecided()
            } else {
                Parse::NotMine
            };
        };
        if p.transport == Transport::Tcp && !d.ends_with(b"\n") && !p.last {
            // The port may go on in the next segment.
            return Parse::NeedMore;
        }
        meta.protocol = Some("ripe_atlas");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("ripe_atlas_target", target);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, check_split_udp, UdpFixture};

    /// ripe_atlas.pcap (a fuzzed trace: addresses and ports are random),
    /// 207.246.88.254:56857 → 96.78.208.202:29195.
    const PROBE: &[u8] = b"MGLNDD_11.111.11.111_1114";

    #[test]
    fn udp_probe() {
        let (r, m) = check_split_udp(&RipeAtlas, 56857, 29195, &[PROBE], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ripe_atlas"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ripe_atlas_target"), Some("11.111.11.111:1114"));
        let (r, m) = check_split_udp(&RipeAtlas, 40000, 443, &[b"MGLNDD_2001:db8::1_443\n"], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("ripe_atlas_target"), Some("[2001:db8::1]:443"));
    }

    #[test]
    fn tcp_probe() {
        let (r, m) = check_split_tcp(&RipeAtlas, 80, b"MGLNDD_192.0.2.7_80\n", b"");
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("ripe_atlas_target"), Some("192.0.2.7:80"));
        // Without the newline the port may still grow.
        let ends = [[19], [0]];
        let p = Payloads::tcp(40000, 80, b"MGLNDD_192.0.2.7_80", &[], &ends);
        assert_eq!(RipeAtlas.parse(&p, &mut Meta::default()), Parse::NeedMore);
    }

    #[test]
    fn not_ripe_atlas() {
        let cases: [&[u8]; 9] = [
            b"MGLNDD_11.111.11.111_",
            b"MGLNDD_11.111.11.111_99999",
            b"MGLNDD_11.111.11.111_0114",
            b"MGLNDD_11.111.11.1111_1114",
            b"MGLNDD_11.111.11_1114",
            b"MGLNDD_11.111.11.111_1114 hello",
            b"MGLNDD11.111.11.111_1114",
            b"mglndd_11.111.11.111_1114",
            b"MGLNDD_11.111.11.111_1114\n\n",
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 1114, &[d], &[]);
            assert!(!crate::dissect::not_refused(&RipeAtlas, &f.payloads()), "{d:?}");
        }
        let mut long = b"MGLNDD_11.111.11.111_1114".to_vec();
        long.resize(200, b'1');
        let ends = [[200], [0]];
        let p = Payloads::tcp(40000, 80, &long, &[], &ends);
        assert!(!crate::dissect::not_refused(&RipeAtlas, &p));
    }
}
