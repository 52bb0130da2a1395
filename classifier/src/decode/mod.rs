//! Decode: from a link-layer frame to a [`PacketView`].
//!
//! Contract: [`Decoder::decode`] never panics and never allocates based on
//! an unchecked length field. A truncated frame yields whatever was
//! decodable (lax decoding): a TCP header cut short still gives the
//! addresses, so the packet is still counted in a flow.
//!
//! Addresses are kept as 16 bytes ([`Addr`]); IPv4 is stored IPv4-mapped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A link-layer type as it appears in pcap/pcapng headers. Open newtype:
/// unknown values stay representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// DLT_RAW as used by some BSDs.
    pub const RAW_12: LinkType = LinkType(12);
    /// DLT_RAW as used by OpenBSD.
    pub const RAW_14: LinkType = LinkType(14);
    pub const LOOP: LinkType = LinkType(108);
    pub const RAW: LinkType = LinkType(101);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// An IP address in 16 bytes; IPv4 is IPv4-mapped (`::ffff:a.b.c.d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(pub [u8; 16]);

impl Addr {
    pub fn from_v4(b: [u8; 4]) -> Addr {
        let mut a = [0u8; 16];
        a[10] = 0xff;
        a[11] = 0xff;
        a[12..].copy_from_slice(&b);
        Addr(a)
    }
    pub fn from_v6(b: [u8; 16]) -> Addr {
        Addr(b)
    }
    pub fn is_v4(&self) -> bool {
        self.0[..10] == [0; 10] && self.0[10] == 0xff && self.0[11] == 0xff
    }
    pub fn to_ip(self) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(Ipv4Addr::new(self.0[12], self.0[13], self.0[14], self.0[15]))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.0))
        }
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr::from_v4(v4.octets()),
            IpAddr::V6(v6) => Addr::from_v6(v6.octets()),
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_ip().fmt(f)
    }
}

/// IP protocol numbers we name.
pub mod ipproto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

/// Directional 5-tuple of one packet, as it travelled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub src: Addr,
    pub dst: Addr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
}

/// TCP header fields the flow table needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpMeta {
    pub seq: u32,
    pub ack: u32,
    /// FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80
    pub flags: u8,
}

pub mod tcpflags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// One decoded packet. Borrows the frame (or the decoder's reassembly
/// buffer for a reassembled fragment).
#[derive(Clone, Copy, Debug)]
pub struct PacketView<'a> {
    pub ts_ns: u64,
    /// Frame length on the wire (pcap orig_len).
    pub wire_len: u32,
    pub tuple: Tuple,
    pub tcp: Option<TcpMeta>,
    /// Transport payload as captured (may be shorter than on the wire).
    pub payload: &'a [u8],
}

/// Why a frame produced no [`PacketView`]. Counted, never fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Link type we do not decode.
    LinkType(u32),
    /// Not IP (ARP, LLDP, STP, ...).
    NotIp,
    /// Too short or malformed before the IP addresses.
    Malformed,
    /// A fragment held for reassembly (not yet complete).
    FragmentHeld,
    /// A fragment dropped (limits, overlap, timeout).
    FragmentDropped,
}

/// Counters kept by the decoder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub decoded: u64,
    pub skipped_linktype: u64,
    pub not_ip: u64,
    pub malformed: u64,
    pub fragments_held: u64,
    pub fragments_reassembled: u64,
    pub fragments_dropped: u64,
    pub tunnelled: u64,
    /// Link types seen that we skip, with counts.
    pub unknown_linktypes: Vec<(u32, u64)>,
}

impl DecodeStats {
    pub fn add(&mut self, o: &DecodeStats) {
        self.decoded += o.decoded;
        self.skipped_linktype += o.skipped_linktype;
        self.not_ip += o.not_ip;
        self.malformed += o.malformed;
        self.fragments_held += o.fragments_held;
        self.fragments_reassembled += o.fragments_reassembled;
        self.fragments_dropped += o.fragments_dropped;
        self.tunnelled += o.tunnelled;
        for &(lt, n) in &o.unknown_linktypes {
            self.note_linktype(lt, n);
        }
    }
    fn note_linktype(&mut self, lt: u32, n: u64) {
        if let Some(e) = self.unknown_linktypes.iter_mut().find(|e| e.0 == lt) {
            e.1 += n;
        } else {
            self.unknown_linktypes.push((lt, n));
        }
    }
    fn count(&mut self, s: Skip) {
        match s {
            Skip::LinkType(lt) => {
                self.skipped_linktype += 1;
                self.note_linktype(lt, 1);
            }
            Skip::NotIp => self.not_ip += 1,
            Skip::Malformed => self.malformed += 1,
            Skip::FragmentHeld => self.fragments_held += 1,
            Skip::FragmentDropped => self.fragments_dropped += 1,
        }
    }
}

/// Stateful decoder (it owns the fragment reassembly table).
#[derive(Debug, Default)]
pub struct Decoder {
    stats: DecodeStats,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Decodes one frame. Returns `None` (and counts why) when the frame
    /// holds no IP packet we can key a flow on.
    pub fn decode<'a>(
        &'a mut self,
        linktype: LinkType,
        ts_ns: u64,
        wire_len: u32,
        frame: &'a [u8],
    ) -> Option<PacketView<'a>> {
        match decode_frame(linktype, ts_ns, wire_len, frame) {
            Ok(v) => {
                self.stats.decoded += 1;
                Some(v)
            }
            Err(s) => {
                self.stats.count(s);
                None
            }
        }
    }
}

fn decode_frame(lt: LinkType, ts_ns: u64, wire_len: u32, frame: &[u8]) -> Result<PacketView<'_>, Skip> {
    let ip = match lt {
        LinkType::ETHERNET => {
            let p = etherparse::LaxSlicedPacket::from_ethernet(frame).map_err(|_| Skip::Malformed)?;
            match p.ether_payload() {
                Some(ep) => {
                    let et = ep.ether_type;
                    if et != etherparse::EtherType::IPV4 && et != etherparse::EtherType::IPV6 {
                        return Err(Skip::NotIp);
                    }
                    ep.payload
                }
                None => return Err(Skip::Malformed),
            }
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => frame,
        other => return Err(Skip::LinkType(other.0)),
    };
    decode_ip(ts_ns, wire_len, ip)
}

fn decode_ip(ts_ns: u64, wire_len: u32, ip: &[u8]) -> Result<PacketView<'_>, Skip> {
    let s = etherparse::LaxIpSlice::from_slice(ip).map_err(|_| Skip::Malformed)?.0;
    let (src, dst) = match &s {
        etherparse::LaxIpSlice::Ipv4(v4) => (
            Addr::from_v4(v4.header().source()),
            Addr::from_v4(v4.header().destination()),
        ),
        etherparse::LaxIpSlice::Ipv6(v6) => (
            Addr::from_v6(v6.header().source()),
            Addr::from_v6(v6.header().destination()),
        ),
    };
    let pl = s.payload();
    let proto = pl.ip_number.0;
    let mut view = PacketView {
        ts_ns,
        wire_len,
        tuple: Tuple {
            src,
            dst,
            sport: 0,
            dport: 0,
            proto,
        },
        tcp: None,
        payload: &[],
    };
    let t = pl.payload;
    match proto {
        ipproto::TCP if t.len() >= 4 => {
            view.tuple.sport = u16::from_be_bytes([t[0], t[1]]);
            view.tuple.dport = u16::from_be_bytes([t[2], t[3]]);
            if t.len() >= 20 {
                let off = usize::from(t[12] >> 4) * 4;
                view.tcp = Some(TcpMeta {
                    seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
                    ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
                    flags: t[13],
                });
                if off >= 20 && off <= t.len() {
                    view.payload = &t[off..];
                }
            }
        }
        ipproto::UDP if t.len() >= 4 => {
            view.tuple.sport = u16::from_be_bytes([t[0], t[1]]);
            view.tuple.dport = u16::from_be_bytes([t[2], t[3]]);
            if t.len() >= 8 {
                view.payload = &t[8..];
            }
        }
        _ => view.payload = t,
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_v4_roundtrip() {
        let a = Addr::from_v4([10, 1, 2, 3]);
        assert!(a.is_v4());
        assert_eq!(a.to_string(), "10.1.2.3");
        let b = Addr::from(IpAddr::V6("2001:db8::1".parse().unwrap()));
        assert!(!b.is_v4());
        assert_eq!(b.to_string(), "2001:db8::1");
    }
}
