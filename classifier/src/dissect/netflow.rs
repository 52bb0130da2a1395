//! NetFlow export (Cisco NetFlow v1, v5 and v7; v9, RFC 3954) and IPFIX
//! (NetFlow v10, RFC 7011) over UDP, on any port (2055, 2057, 4739,
//! 9995, 9996 are common, none is checked).
//!
//! The first datagram of the exporter is one export packet, and every
//! check ends on its last byte:
//! - v1, v5, v7: the version, a record count of 1 to 24 (v1) or 30 (v5,
//!   v7), and a datagram exactly as long as the header (16 bytes for v1,
//!   24 for v5 and v7) plus the count's fixed-size records (48 bytes;
//!   52 for v7);
//! - v9: the version, a 20-byte header, then FlowSets (id 0 templates,
//!   1 option templates, 256 or more data; length at least 4) that fill
//!   the datagram exactly, and in a template FlowSet, templates (id 256
//!   or more, a field count, four bytes a field) that fill it but for
//!   padding;
//! - IPFIX: version 10, the message length equal to the datagram's,
//!   a 16-byte header, then Sets (2 templates, 3 option templates, 256
//!   or more data) that fill the message exactly, template Sets checked
//!   as for v9 (enterprise fields carry four more bytes).
//!
//! NetFlow and IPFIX over UDP are cleartext (IPFIX may run over DTLS,
//! which the DTLS dissector names).

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Netflow;

fn be16(d: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?])))
}

/// Templates filling a template set body (`ipfix`: enterprise bit).
fn templates(b: &[u8], ipfix: bool) -> bool {
    let mut at = 0;
    // A template is at least 4 bytes; fewer left is padding.
    while b.len() - at >= 4 {
        let (Some(id), Some(count)) = (be16(b, at), be16(b, at + 2)) else {
            return false;
        };
        if id == 0 && count == 0 && b[at..].iter().all(|&x| x == 0) {
            return true;
        }
        if id < 256 || count == 0 {
            return false;
        }
        at += 4;
        for _ in 0..count {
            let Some(t) = be16(b, at) else { return false };
            at += if ipfix && t & 0x8000 != 0 { 8 } else { 4 };
            if at > b.len() {
                return false;
            }
        }
    }
    true
}

/// Sets (or FlowSets) from `at` filling `d` exactly.
fn sets(d: &[u8], mut at: usize, ipfix: bool) -> bool {
    let (template, options) = if ipfix { (2, 3) } else { (0, 1) };
    if at >= d.len() {
        return false;
    }
    while at < d.len() {
        let (Some(id), Some(len)) = (be16(d, at), be16(d, at + 2)) else {
            return false;
        };
        if len < 4 || (id != template && id != options && id < 256) {
            return false;
        }
        let Some(body) = d.get(at + 4..at + len) else {
            return false;
        };
        if id == template && !templates(body, ipfix) {
            return false;
        }
        at += len;
    }
    true
}

/// The version and record count (IPFIX: none in the header) of a whole
/// export packet.
fn export(d: &[u8]) -> Option<(u16, Option<usize>)> {
    let version = u16::try_from(be16(d, 0)?).ok()?;
    let count = be16(d, 2)?;
    let fixed = |header: usize, record: usize, max: usize| {
        ((1..=max).contains(&count) && d.len() == header + record * count).then_some((version, Some(count)))
    };
    match version {
        1 => fixed(16, 48, 24),
        5 => fixed(24, 48, 30),
        7 => fixed(24, 52, 30),
        9 => (d.len() >= 20 && sets(d, 20, false)).then_some((9, Some(count))),
        10 => (count == d.len() && d.len() >= 16 && sets(d, 16, true)).then_some((10, None)),
        _ => None,
    }
}

impl Dissector for Netflow {
    fn name(&self) -> &'static str {
        "netflow"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload() {
            [0, 1 | 5 | 7 | 9 | 10, ..] => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only a big-endian version 1, 5, 7, 9 or 10.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some((version, count)) = export(p.first_payload()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("netflow");
        meta.encryption = Encryption::Cleartext;
        let v = if version == 10 {
            "ipfix".to_string()
        } else {
            version.to_string()
        };
        meta.set_extra("netflow_version", v);
        if let Some(c) = count {
            meta.set_extra("netflow_records", c.to_string());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    /// netflow-fritz.pcap (a FRITZ!Box exporting IPFIX to 2055): a
    /// template set (one template of 22 fields, some enterprise-specific
    /// with their four-byte enterprise number) and an options template
    /// set.
    const IPFIX: &str = "
        000a00b4594ac59d025965c4000401000002007001cd00160001000480cf0004000068f280ccffff000068f280cdffff
        000068f200070002000b00020006000200b1000100b0000100b4000200b500020002000400cd000200b9000400b80004
        00080004000c000400360004005800020004000100c000018001ffff000068f20003003401d200070001008f00040029
        0008002a00080028000801300002013100040132000401d300020001008e00040052ffff";

    /// A v5 header and one record (values made up, layout per the
    /// Cisco documentation).
    fn v5() -> Vec<u8> {
        let mut d = unhex("0005 0001 00001000 65000000 00000000 00000001 00 00 0000");
        d.extend_from_slice(&unhex(
            "c0000201 c6336401 00000000 0001 0002 0000000a 00000400 00000f00 00001000 d431 0050 00 1b 06 00 0000 0000 18 18 0000",
        ));
        d
    }

    #[test]
    fn ipfix_message() {
        let d = unhex(IPFIX);
        assert_eq!(d.len(), 0xb4);
        let (v, m) = check_split_udp(&Netflow, 23384, 2055, &[&d], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.protocol, Some("netflow"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("netflow_version"), Some("ipfix"));
    }

    #[test]
    fn v5_and_v9() {
        let d = v5();
        let (v, m) = check_split_udp(&Netflow, 40000, 2055, &[&d], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("netflow_version"), Some("5"));
        assert_eq!(m.extra("netflow_records"), Some("1"));
        // v9 (netflowv9.pcap layout): a template FlowSet, then its data.
        let v9 = unhex(
            "0009 0002 244e08ee 5d67a80c 166fa688 00000001
             0000 0010 0103 0002 0008 0004 000c 0004
             0103 000c c0000201 c0000202",
        );
        let (v, m) = check_split_udp(&Netflow, 48629, 2057, &[&v9], &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("netflow_version"), Some("9"));
    }

    #[test]
    fn near_misses() {
        let d = unhex(IPFIX);
        // The IPFIX length, a set length, a reserved set id, a template id
        // below 256, a field count past the set.
        for (at, v) in [(3, 0xb3), (19, 0x71), (17, 0x04), (20, 0x00), (23, 0x30)] {
            let mut x = d.clone();
            x[at] = v;
            let f = UdpFixture::new(23384, 2055, &[&x], &[]);
            assert!(!not_refused(&Netflow, &f.payloads()), "{at} {v}");
        }
        let f = UdpFixture::new(23384, 2055, &[&d[..d.len() - 1]], &[]);
        assert!(!not_refused(&Netflow, &f.payloads()));
        // v5: a byte short or long, a count of 0 or 31, version 6.
        let x = v5();
        let cases: [Vec<u8>; 5] = [
            x[..x.len() - 1].to_vec(),
            [&x[..], &[0]].concat(),
            [&x[..3], &[0], &x[4..]].concat(),
            [&x[..3], &[31], &x[4..]].concat(),
            [&[0, 6], &x[2..]].concat(),
        ];
        for c in &cases {
            let f = UdpFixture::new(40000, 2055, &[c], &[]);
            assert!(!not_refused(&Netflow, &f.payloads()));
        }
    }
}
