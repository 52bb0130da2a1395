//! Decode: from a link-layer frame to a [`PacketView`].
//!
//! Contract: [`Decoder::decode`] never panics and never allocates based on
//! an unchecked length field. A truncated frame yields whatever was
//! decodable (lax decoding): a TCP header cut short still gives the
//! addresses, so the packet is still counted in a flow.
//!
//! Addresses are kept as 16 bytes ([`Addr`]); IPv4 is stored IPv4-mapped.
//!
//! The stages, one file each:
//! - `link`: link layer → IP bytes (Ethernet with VLAN/QinQ, MPLS, PPPoE,
//!   LLC/SNAP; Linux SLL/SLL2; raw IP; BSD null/loopback; PPP; Cisco HDLC; PPI).
//! - `ip`: IPv4 / IPv6 with extension headers, lax about truncation.
//! - `frag`: IPv4/IPv6 fragment reassembly with bounded memory.
//! - `tunnel`: IP-in-IP, GRE (incl. ERSPAN II/III, PPTP), VXLAN(-GPE),
//!   Geneve, GTP-U. Flows are keyed on the innermost packet; when an inner
//!   packet cannot be decoded the outer packet is returned instead.
//!
//! Every frame is counted exactly once in [`DecodeStats`]: `decoded`,
//! `skipped_linktype`, `not_ip`, `malformed`, `fragments_held` or
//! `fragments_dropped` (see [`DecodeStats::frames`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod frag;
mod ip;
mod link;
#[cfg(test)]
mod tests;
mod tunnel;

pub use frag::FragLimits;

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
    /// PPP, optionally with HDLC-like address/control bytes.
    pub const PPP: LinkType = LinkType(9);
    /// PPP in HDLC-like framing (RFC 1662).
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// PPPoE session stage without the Ethernet header.
    pub const PPP_ETHER: LinkType = LinkType(51);
    /// Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    /// Per-Packet Information header followed by a frame of another link type.
    pub const PPI: LinkType = LinkType(192);
}

/// An IP address in 16 bytes; IPv4 is IPv4-mapped (`::ffff:a.b.c.d`).
/// Ordered as its bytes are (lexicographically).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Addr(pub [u8; 16]);

impl Ord for Addr {
    /// The bytes' order, compared as one big-endian integer: two loads and
    /// a compare instead of a byte-slice comparison, on every flow-key
    /// canonicalisation (`FlowKey::from_tuple`, the shard hash).
    #[inline]
    fn cmp(&self, other: &Addr) -> std::cmp::Ordering {
        u128::from_be_bytes(self.0).cmp(&u128::from_be_bytes(other.0))
    }
}

impl PartialOrd for Addr {
    #[inline]
    fn partial_cmp(&self, other: &Addr) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Addr {
    /// The IPv4-mapped form `::ffff:a.b.c.d`. Built as one 128-bit
    /// value, not byte by byte: the address is read back whole (hashing,
    /// comparing), and a wide load of a value just stored in pieces
    /// stalls.
    #[inline]
    pub fn from_v4(b: [u8; 4]) -> Addr {
        Addr((0xffff_u128 << 32 | u128::from(u32::from_be_bytes(b))).to_be_bytes())
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
    /// Frame length on the wire (pcap orig_len); for a reassembled
    /// datagram, the sum over its fragments.
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
    /// A fragment dropped on arrival (invalid, over limits, overlapping,
    /// or a truncated non-first fragment).
    FragmentDropped,
}

/// Counters kept by the decoder.
///
/// Per frame (each frame lands in exactly one of these): `decoded`,
/// `skipped_linktype`, `not_ip`, `malformed`, `fragments_held`,
/// `fragments_dropped`. The other counters are details.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub decoded: u64,
    pub skipped_linktype: u64,
    pub not_ip: u64,
    pub malformed: u64,
    /// Fragment frames held for reassembly (including duplicates).
    pub fragments_held: u64,
    /// Datagrams reassembled (the completing frame counts in `decoded`).
    pub fragments_reassembled: u64,
    /// Fragment frames rejected on arrival.
    pub fragments_dropped: u64,
    /// Decoded packets keyed on a tunnelled (inner) packet.
    pub tunnelled: u64,
    /// Link types seen that we skip, with counts.
    pub unknown_linktypes: Vec<(u32, u64)>,
    /// Duplicate fragments (same offset and length as one held); ignored.
    pub frag_duplicates: u64,
    /// Pending datagrams discarded because an overlapping (non-duplicate)
    /// or inconsistent fragment arrived.
    pub frag_overlaps: u64,
    /// Pending datagrams discarded after the timeout.
    pub frag_timeouts: u64,
    /// Pending datagrams evicted to stay within the memory limits.
    pub frag_evictions: u64,
    /// First fragments that cannot be reassembled (cut short by the capture
    /// length, or invalid: length not a multiple of 8, beyond 65535 bytes),
    /// decoded as they are instead of being held.
    pub frag_first_as_is: u64,
    /// A tunnel was recognised but its inner packet was not decodable; the
    /// outer packet was returned.
    pub tunnel_inner_undecodable: u64,
    /// Tunnels nested deeper than the bound; the last decoded layer was returned.
    pub tunnel_depth_exceeded: u64,
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
        self.frag_duplicates += o.frag_duplicates;
        self.frag_overlaps += o.frag_overlaps;
        self.frag_timeouts += o.frag_timeouts;
        self.frag_evictions += o.frag_evictions;
        self.frag_first_as_is += o.frag_first_as_is;
        self.tunnel_inner_undecodable += o.tunnel_inner_undecodable;
        self.tunnel_depth_exceeded += o.tunnel_depth_exceeded;
        for &(lt, n) in &o.unknown_linktypes {
            self.note_linktype(lt, n);
        }
    }
    /// Frames accounted for: every call to [`Decoder::decode`] adds one here.
    pub fn frames(&self) -> u64 {
        self.decoded
            + self.skipped_linktype
            + self.not_ip
            + self.malformed
            + self.fragments_held
            + self.fragments_dropped
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

/// Most tunnel layers removed from one frame; a deeper tunnel is keyed on
/// the last decoded layer.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// Stateful decoder (it owns the fragment reassembly table).
#[derive(Debug, Default)]
pub struct Decoder {
    stats: DecodeStats,
    frags: frag::Reassembler,
    /// The last reassembled datagram; a returned [`PacketView`] borrows it.
    out: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with custom fragment reassembly limits.
    pub fn with_frag_limits(limits: FragLimits) -> Decoder {
        Decoder {
            frags: frag::Reassembler::new(limits),
            ..Decoder::default()
        }
    }

    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Datagrams pending reassembly and the bytes charged for them.
    pub fn frag_pending(&self) -> (usize, usize) {
        self.frags.pending()
    }

    /// Decodes one frame. Returns `None` (and counts why) when the frame
    /// holds no IP packet we can key a flow on. A plain frame (see
    /// [`fast_tuple`]) is read straight from its headers; the rest go
    /// through the full decoder, with the same result.
    pub fn decode<'a>(
        &'a mut self,
        linktype: LinkType,
        ts_ns: u64,
        wire_len: u32,
        frame: &'a [u8],
    ) -> Option<PacketView<'a>> {
        self.frags.expire(ts_ns, &mut self.stats);
        if let Some(v) = plain_view(linktype, ts_ns, wire_len, frame) {
            self.stats.decoded += 1;
            return Some(v);
        }
        self.full(linktype, ts_ns, wire_len, frame)
    }

    /// [`Decoder::decode`] without the plain frames' path: every frame
    /// through the full decoder. For tests and the differential fuzz
    /// target, which hold the two paths to the same views and counters.
    #[doc(hidden)]
    pub fn decode_in_full<'a>(
        &'a mut self,
        linktype: LinkType,
        ts_ns: u64,
        wire_len: u32,
        frame: &'a [u8],
    ) -> Option<PacketView<'a>> {
        self.frags.expire(ts_ns, &mut self.stats);
        self.full(linktype, ts_ns, wire_len, frame)
    }

    fn full<'a>(
        &'a mut self,
        linktype: LinkType,
        ts_ns: u64,
        wire_len: u32,
        frame: &'a [u8],
    ) -> Option<PacketView<'a>> {
        let Decoder { stats, frags, out } = self;
        let mut cx = Cx {
            stats,
            frags,
            out: Some(out),
            ts_ns,
        };
        let r = decode_frame(&mut cx, linktype, wire_len, frame);
        match r {
            Ok(v) => {
                cx.stats.decoded += 1;
                Some(v)
            }
            Err(s) => {
                cx.stats.count(s);
                None
            }
        }
    }
}

/// The tuple [`Decoder::decode`] would give a plain frame, found by
/// reading a few header fields instead of decoding it, for handing frames
/// to the worker that owns their flow.
///
/// Plain means: Ethernet (with up to two 802.1Q / 802.1ad tags) or raw IP
/// link type; an IPv4 packet that is not a fragment and carries no AH, or
/// an IPv6 packet whose next header is TCP, UDP or ICMPv6; and no tunnel
/// (IP-in-IP, GRE, or UDP to a tunnel port). Anything else is `None` and
/// needs the full decoder. Contract: when this returns `Some(t)`,
/// `decode` of the same frame returns a view with tuple `t` and leaves the
/// fragment reassembly table alone (tests check it over every fixture and
/// every truncation).
#[inline]
pub fn fast_tuple(lt: LinkType, frame: &[u8]) -> Option<Tuple> {
    fast_l4(lt, frame).map(|(t, _)| t)
}

/// [`fast_tuple`], plus the UDP payload exactly as `decode` would give it
/// (empty for other transports): what the association table needs to look
/// at without a full decode.
#[inline]
pub fn fast_l4(lt: LinkType, frame: &[u8]) -> Option<(Tuple, &[u8])> {
    let (src, dst, proto, payload) = plain_ip(lt, frame)?;
    let (mut sport, mut dport) = (0, 0);
    let mut udp_payload: &[u8] = &[];
    if proto == ipproto::TCP || proto == ipproto::UDP {
        if let Some(&[a, b, c, d]) = payload.first_chunk::<4>() {
            sport = u16::from_be_bytes([a, b]);
            dport = u16::from_be_bytes([c, d]);
        }
        let tunnel_port = |p: u16| matches!(p, tunnel::port::VXLAN | tunnel::port::VXLAN_GPE | tunnel::port::GENEVE);
        let both_ways = |p: u16| matches!(p, tunnel::port::GTP_U | tunnel::port::CAPWAP_DATA);
        if proto == ipproto::UDP && (tunnel_port(dport) || both_ways(dport) || both_ways(sport)) {
            return None;
        }
        if proto == ipproto::UDP {
            udp_payload = udp_data(payload);
        }
    }
    Some((
        Tuple {
            src,
            dst,
            sport,
            dport,
            proto,
        },
        udp_payload,
    ))
}

/// The link and IP layers of a plain frame (see [`fast_tuple`]): its
/// addresses, IP protocol and IP payload exactly as the decoder's
/// `ip::parse` would give them; `None` for anything else.
#[inline]
fn plain_ip(lt: LinkType, frame: &[u8]) -> Option<(Addr, Addr, u8, &[u8])> {
    let ip = match lt {
        LinkType::ETHERNET => {
            let mut et = u16::from_be_bytes(*frame.get(12..)?.first_chunk::<2>()?);
            let mut rest = frame.get(14..)?;
            for _ in 0..2 {
                if et != link::ethertype::VLAN && et != link::ethertype::QINQ {
                    break;
                }
                et = u16::from_be_bytes(*rest.get(2..)?.first_chunk::<2>()?);
                rest = rest.get(4..)?;
            }
            if et != link::ethertype::IPV4 && et != link::ethertype::IPV6 {
                return None;
            }
            rest
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => frame,
        _ => return None,
    };
    match ip.first()? >> 4 {
        4 => {
            let h = ip.first_chunk::<20>()?;
            let ihl = usize::from(h[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            // More fragments or an offset: reassembly is the decoder's.
            if ihl < 20 || u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
                return None;
            }
            let proto = h[9];
            // IP-in-IP, IPv6-in-IPv4, GRE, AH.
            if matches!(proto, 4 | 41 | 47 | 51) {
                return None;
            }
            let end = if total >= ihl && total <= ip.len() {
                total
            } else {
                ip.len()
            };
            Some((
                Addr::from_v4([h[12], h[13], h[14], h[15]]),
                Addr::from_v4([h[16], h[17], h[18], h[19]]),
                proto,
                ip.get(ihl..end).unwrap_or(&[]),
            ))
        }
        6 => {
            let h = ip.first_chunk::<40>()?;
            let proto = h[6];
            if !matches!(proto, ipproto::TCP | ipproto::UDP | ipproto::ICMPV6) {
                return None;
            }
            let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let end = if plen != 0 && 40 + plen <= ip.len() {
                40 + plen
            } else {
                ip.len()
            };
            let (mut s, mut d) = ([0u8; 16], [0u8; 16]);
            s.copy_from_slice(&h[8..24]);
            d.copy_from_slice(&h[24..40]);
            Some((Addr(s), Addr(d), proto, ip.get(40..end).unwrap_or(&[])))
        }
        _ => None,
    }
}

/// The view [`Decoder::decode`] gives a plain frame (see [`fast_tuple`]),
/// straight from its headers: the link and IP layers as [`fast_l4`] reads
/// them, then the decoder's own transport step. `None` for any other frame,
/// and for a tunnel (UDP to a tunnel port, or an IP protocol that carries
/// one), which the full decoder takes. Most frames are plain, and this
/// skips the general link layer (MPLS, PPPoE, Linux cooked captures...),
/// the IPv4 options and IPv6 extension walk, and fragment handling.
/// Tests hold it to the full decoder on every fixture, prefix and
/// byte-flipped copy, and on every frame of the corpus.
#[inline]
fn plain_view(lt: LinkType, ts_ns: u64, wire_len: u32, frame: &[u8]) -> Option<PacketView<'_>> {
    let (src, dst, proto, payload) = plain_ip(lt, frame)?;
    match transport(proto, payload) {
        (l4, None) => Some(l4.view(ts_ns, wire_len, src, dst, proto)),
        (_, Some(_)) => None,
    }
}

/// The payload of a UDP datagram `t` (header included): the UDP length is
/// trusted when it fits what was captured (that drops the Ethernet padding
/// of short or tunnelled frames), else everything after the header.
#[inline]
fn udp_data(t: &[u8]) -> &[u8] {
    let ulen = t.get(4..6).map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
    let end = if ulen >= 8 && ulen <= t.len() { ulen } else { t.len() };
    t.get(8..end).unwrap_or(&[])
}

/// What one decode call works with: counters, the reassembly table and the
/// (single-use) output buffer for a reassembled datagram.
struct Cx<'s, 'a> {
    stats: &'s mut DecodeStats,
    frags: &'s mut frag::Reassembler,
    out: Option<&'a mut Vec<u8>>,
    ts_ns: u64,
}

/// One decoded layer and, when its payload is a tunnel, the inner packet.
struct Layer<'a> {
    view: PacketView<'a>,
    inner: Option<tunnel::Inner<'a>>,
}

fn decode_frame<'a>(cx: &mut Cx<'_, 'a>, lt: LinkType, wire_len: u32, frame: &'a [u8]) -> Result<PacketView<'a>, Skip> {
    let ip = link::to_ip(lt, frame)?;
    let mut layer = decode_ip(cx, wire_len, ip)?;
    let mut depth = 0;
    while let Some(inner) = layer.inner {
        if depth >= MAX_TUNNEL_DEPTH {
            cx.stats.tunnel_depth_exceeded += 1;
            break;
        }
        let next = link::inner_to_ip(inner).and_then(|ip| decode_ip(cx, layer.view.wire_len, ip));
        match next {
            Ok(l) => {
                layer = l;
                depth += 1;
            }
            Err(e @ (Skip::FragmentHeld | Skip::FragmentDropped)) => return Err(e),
            Err(_) => {
                cx.stats.tunnel_inner_undecodable += 1;
                break;
            }
        }
    }
    if depth > 0 {
        cx.stats.tunnelled += 1;
    }
    Ok(layer.view)
}

/// Decodes an IP packet (reassembling fragments) and its transport header.
fn decode_ip<'a>(cx: &mut Cx<'_, 'a>, wire_len: u32, bytes: &'a [u8]) -> Result<Layer<'a>, Skip> {
    let p = ip::parse(bytes)?;
    let mut wire_len = wire_len;
    let (proto, payload) = match p.frag {
        None => (p.proto, p.payload),
        Some(f) => {
            let key = frag::Key::new(&p, f.id);
            let added = if p.truncated {
                // The capture cut this fragment short: its bytes cannot be placed.
                frag::Added::Invalid
            } else {
                cx.frags.add(key, f, p.proto, p.payload, cx.ts_ns, wire_len, cx.stats)
            };
            match added {
                frag::Added::Held => return Err(Skip::FragmentHeld),
                frag::Added::Dropped => return Err(Skip::FragmentDropped),
                // A first fragment that cannot be reassembled is decoded as it
                // is (ports and the start of the payload); a later one is dropped.
                frag::Added::Invalid if f.offset == 0 => {
                    cx.stats.frag_first_as_is += 1;
                    return Ok(transport_layer(
                        cx,
                        wire_len,
                        &p,
                        ip::upper_layer(p.v6, p.proto, p.payload),
                    ));
                }
                frag::Added::Invalid => return Err(Skip::FragmentDropped),
                frag::Added::Complete => {}
            }
            let Some(buf) = cx.out.take() else {
                // A second reassembly inside one frame (fragments of a
                // tunnel inside a reassembled datagram): not supported.
                cx.frags.discard(&key);
                return Err(Skip::FragmentDropped);
            };
            let Some((proto, wl)) = cx.frags.assemble(&key, buf) else {
                return Err(Skip::FragmentDropped);
            };
            cx.stats.fragments_reassembled += 1;
            wire_len = u32::try_from(wl).unwrap_or(u32::MAX);
            let data: &'a [u8] = buf;
            ip::upper_layer(p.v6, proto, data)
        }
    };
    Ok(transport_layer(cx, wire_len, &p, (proto, payload)))
}

fn transport_layer<'a>(cx: &Cx<'_, 'a>, wire_len: u32, p: &ip::Ip<'_>, (proto, payload): (u8, &'a [u8])) -> Layer<'a> {
    let (l4, inner) = transport(proto, payload);
    Layer {
        view: l4.view(cx.ts_ns, wire_len, p.src, p.dst, proto),
        inner,
    }
}

/// What a packet's transport header gives its view: ports, TCP fields and
/// the payload.
#[derive(Default)]
struct L4<'a> {
    sport: u16,
    dport: u16,
    tcp: Option<TcpMeta>,
    payload: &'a [u8],
}

/// The transport fields of `t`, an IP payload of protocol `proto`, and
/// the inner packet when it is a tunnel we decapsulate.
///
/// Returned by value, for the caller to build its view in one go: a view
/// filled in place through `&mut` and then moved was written in pieces
/// and read back in wider loads, and store-to-load forwarding fails on
/// such loads (the frame's decode stalled on it in the profile).
#[inline(always)]
fn transport<'a>(proto: u8, t: &'a [u8]) -> (L4<'a>, Option<tunnel::Inner<'a>>) {
    match proto {
        ipproto::TCP => {
            let mut l4 = L4::default();
            if let (Some(&[a, b, c, d]), Some(rest)) = (t.first_chunk::<4>(), t.get(4..)) {
                l4.sport = u16::from_be_bytes([a, b]);
                l4.dport = u16::from_be_bytes([c, d]);
                if let (Some(seq), Some(ack), Some(&[off, flags])) = (
                    rest.first_chunk::<4>(),
                    rest.get(4..).and_then(|r| r.first_chunk::<4>()),
                    rest.get(8..).and_then(|r| r.first_chunk::<2>()),
                ) {
                    l4.tcp = Some(TcpMeta {
                        seq: u32::from_be_bytes(*seq),
                        ack: u32::from_be_bytes(*ack),
                        flags,
                    });
                    let off = usize::from(off >> 4) * 4;
                    if off >= 20 {
                        l4.payload = t.get(off..).unwrap_or(&[]);
                    }
                }
            }
            (l4, None)
        }
        ipproto::UDP => {
            if let Some(&[a, b, c, d]) = t.first_chunk::<4>() {
                let (sport, dport) = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
                let payload = udp_data(t);
                let l4 = L4 {
                    sport,
                    dport,
                    tcp: None,
                    payload,
                };
                return (l4, tunnel::udp(sport, dport, payload));
            }
            (L4::default(), None)
        }
        p => (
            L4 {
                payload: t,
                ..L4::default()
            },
            tunnel::ip_proto(p, t),
        ),
    }
}

impl<'a> L4<'a> {
    /// The view of a packet with these transport fields.
    #[inline]
    fn view(self, ts_ns: u64, wire_len: u32, src: Addr, dst: Addr, proto: u8) -> PacketView<'a> {
        PacketView {
            ts_ns,
            wire_len,
            tuple: Tuple {
                src,
                dst,
                sport: self.sport,
                dport: self.dport,
                proto,
            },
            tcp: self.tcp,
            payload: self.payload,
        }
    }
}
