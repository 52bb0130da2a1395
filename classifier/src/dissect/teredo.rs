//! Teredo (RFC 4380): IPv6 carried in UDP through NATs, to and from the
//! servers' and relays' UDP 3544 (a hint only here). A datagram is an
//! IPv6 packet, optionally preceded by an authentication indicator
//! (`00 01`, client-id length, authentication length, the two values, an
//! 8-byte nonce and a confirmation byte) and/or an origin indicator
//! (`00 00`, an obfuscated port and IPv4 address). The IPv6 header must
//! have version 6, a payload length that counts the rest of the datagram
//! exactly, a known next header, and a Teredo (2001:0::/32) or
//! link-local source or destination. The tunnel adds no encryption; the
//! inner packets (router solicitations, bubbles, ...) are cleartext
//! headers, so the flow is cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Teredo;

const IPV6_HEADER: usize = 40;

/// The offset of the IPv6 packet after any indicators, if well formed.
fn indicators(d: &[u8]) -> Option<usize> {
    let mut off = 0;
    if d.get(..2)? == [0, 1] {
        let (id, au) = (usize::from(*d.get(2)?), usize::from(*d.get(3)?));
        off = 4 + id + au + 9;
    }
    if d.get(off..off + 2)? == [0, 0] {
        off += 8;
    }
    Some(off)
}

/// Whether `d` is a whole IPv6 packet; its next header's name.
fn ipv6(d: &[u8]) -> Option<&'static str> {
    let h = d.get(..IPV6_HEADER)?;
    if h[0] >> 4 != 6 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if IPV6_HEADER + len != d.len() {
        return None;
    }
    // One end is a Teredo address (2001:0::/32) or, during
    // qualification, link-local (fe80::/10).
    let teredo_end = |a: &[u8]| a[..4] == [0x20, 0x01, 0, 0] || (a[0] == 0xfe && a[1] & 0xc0 == 0x80);
    if !teredo_end(&h[8..24]) && !teredo_end(&h[24..40]) {
        return None;
    }
    Some(match h[6] {
        0 => "hop_by_hop",
        6 => "tcp",
        17 => "udp",
        43 => "routing",
        44 => "fragment",
        58 => "icmpv6",
        59 => "bubble",
        60 => "destination_options",
        _ => return None,
    })
}

impl Dissector for Teredo {
    fn name(&self) -> &'static str {
        "teredo"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            Some(b) if *b == 0 || b >> 4 == 6 => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits an indicator's zero byte or an IPv6 version nibble.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]).union(ByteSet::range(0x60, 0x6f)))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_payload();
        let Some(next) = indicators(d).and_then(|off| ipv6(d.get(off..)?)) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("teredo");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("teredo_inner", next);
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::unhex as hex;
    use crate::dissect::{check_split_udp, UdpFixture};

    /// teredo.pcap: a qualification router solicitation (authentication
    /// indicator, IPv6, ICMPv6 type 133), 61 bytes.
    const SOLICIT: &str = "00010000b11b3fea46a9afe9006000000000083afffe800000000000000000fffffffffffeff02000000000000000000000000000285007d3800000000";

    #[test]
    fn qualification() {
        let d = hex(SOLICIT);
        assert_eq!(d.len(), 61);
        let (r, m) = check_split_udp(&Teredo, 52513, 3544, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("teredo"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("teredo_inner"), Some("icmpv6"));
        // A bubble with an origin indicator.
        let mut bubble = vec![0, 0, 0x32, 0xde, 0x46, 0xf9, 0x3f, 0x46];
        bubble.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 59, 0x15]);
        bubble.extend_from_slice(&[0x20, 0x01, 0, 0]);
        bubble.extend_from_slice(&[0x20; 28]);
        let (r, m) = check_split_udp(&Teredo, 3544, 52513, &[&bubble], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("teredo_inner"), Some("bubble"));
    }

    #[test]
    fn not_teredo() {
        let d = hex(SOLICIT);
        let mut version = d.clone();
        version[13] = 0x40;
        let mut len = d.clone();
        len[18] = 9;
        let mut next = d.clone();
        next[19] = 0x99;
        let mut addr = d.clone();
        addr[21] = 0x20;
        addr[37] = 0x20;
        let mut auth = d.clone();
        auth[2] = 1;
        let mut longer = d.clone();
        longer.push(0);
        let cases: [&[u8]; 7] = [&version, &len, &next, &addr, &auth, &longer, &d[..40]];
        for x in cases {
            let f = UdpFixture::new(40000, 3544, &[x], &[]);
            assert!(!crate::dissect::not_refused(&Teredo, &f.payloads()), "{x:?}");
        }
    }
}
