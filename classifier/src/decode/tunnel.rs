//! Tunnels: recognise an encapsulation in a transport payload and point at
//! the inner packet. Flows are keyed on the inner packet.
//!
//! - IP-in-IP: protocol 4 (IPv4) and 41 (IPv6), either outer family.
//! - GRE (47, RFC 2784/2890): optional checksum, key and sequence fields;
//!   payload IPv4, IPv6, MPLS, transparent Ethernet bridging (0x6558),
//!   ERSPAN type I/II (0x88be) and type III (0x22eb); GRE version 1 (PPTP)
//!   carrying PPP.
//! - UDP: VXLAN (4789), VXLAN-GPE (4790), Geneve (6081), GTP-U (2152) G-PDU
//!   with optional sequence / N-PDU / extension headers; the CAPWAP data
//!   channel (5247, RFC 5415) carrying 802.3 frames or, with the IEEE 802.11
//!   binding (RFC 5416), 802.11 data frames whose LLC/SNAP header names the
//!   EtherType.

use super::link::ethertype;

/// Where a tunnel's inner packet starts and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inner<'a> {
    /// An IP packet.
    Ip(&'a [u8]),
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
    /// A payload named by an EtherType.
    EtherType(u16, &'a [u8]),
    /// A PPP frame.
    Ppp(&'a [u8]),
}

pub(super) mod port {
    pub const VXLAN: u16 = 4789;
    pub const VXLAN_GPE: u16 = 4790;
    pub const GENEVE: u16 = 6081;
    pub const GTP_U: u16 = 2152;
    pub const CAPWAP_DATA: u16 = 5247;
}

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;

const ERSPAN_II: u16 = 0x88be;
const ERSPAN_III: u16 = 0x22eb;

/// Most GTP-U extension headers walked.
const MAX_GTP_EXTS: usize = 8;

/// A tunnel carried directly over IP.
pub(super) fn ip_proto(proto: u8, p: &[u8]) -> Option<Inner<'_>> {
    match proto {
        IPPROTO_IPIP | IPPROTO_IPV6 => Some(Inner::Ip(p)),
        IPPROTO_GRE => gre(p),
        _ => None,
    }
}

/// A tunnel carried over UDP, recognised by port and a header check.
pub(super) fn udp(sport: u16, dport: u16, p: &[u8]) -> Option<Inner<'_>> {
    match dport {
        port::VXLAN => vxlan(p),
        port::VXLAN_GPE => vxlan_gpe(p),
        port::GENEVE => geneve(p),
        _ if dport == port::GTP_U || sport == port::GTP_U => gtp_u(p),
        _ if dport == port::CAPWAP_DATA || sport == port::CAPWAP_DATA => capwap_data(p),
        _ => None,
    }
}

fn gre(p: &[u8]) -> Option<Inner<'_>> {
    let h = p.first_chunk::<4>()?;
    let flags = u16::from_be_bytes([h[0], h[1]]);
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let (c, r, k, s) = (
        flags & 0x8000 != 0,
        flags & 0x4000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    match flags & 0x7 {
        0 => {
            // Source routing (RFC 1701) is obsolete: not decoded.
            if r {
                return None;
            }
            let len = 4 + if c { 4 } else { 0 } + if k { 4 } else { 0 } + if s { 4 } else { 0 };
            let rest = p.get(len..)?;
            match proto {
                ethertype::TEB => Some(Inner::Ethernet(rest)),
                // ERSPAN type I has no sequence number and no ERSPAN header.
                ERSPAN_II if !s => Some(Inner::Ethernet(rest)),
                ERSPAN_II => Some(Inner::Ethernet(rest.get(8..)?)),
                ERSPAN_III => erspan3(rest),
                ethertype::PPP => Some(Inner::Ppp(rest)),
                et => Some(Inner::EtherType(et, rest)),
            }
        }
        // Enhanced GRE (PPTP, RFC 2637): key always, sequence and
        // acknowledgement optional; carries PPP.
        1 if proto == ethertype::PPP => {
            let a = flags & 0x0080 != 0;
            let len = 8 + if s { 4 } else { 0 } + if a { 4 } else { 0 };
            let rest = p.get(len..)?;
            // A pure acknowledgement carries no payload.
            (!rest.is_empty()).then_some(Inner::Ppp(rest))
        }
        _ => None,
    }
}

/// ERSPAN type III: 12-byte header, an 8-byte platform subheader when the
/// O flag is set; frame type 0 is Ethernet, 2 is IP.
fn erspan3(p: &[u8]) -> Option<Inner<'_>> {
    let h = p.first_chunk::<12>()?;
    let o = h[11] & 0x01 != 0;
    let frame_type = (h[10] >> 2) & 0x1f;
    let rest = p.get(if o { 20 } else { 12 }..)?;
    match frame_type {
        0 => Some(Inner::Ethernet(rest)),
        2 => Some(Inner::Ip(rest)),
        _ => None,
    }
}

/// VXLAN (RFC 7348): 8-byte header with the I flag, then Ethernet.
fn vxlan(p: &[u8]) -> Option<Inner<'_>> {
    let h = p.first_chunk::<8>()?;
    (h[0] & 0x08 != 0).then_some(Inner::Ethernet(p.get(8..)?))
}

/// VXLAN-GPE: next protocol 1 IPv4, 2 IPv6, 3 Ethernet.
fn vxlan_gpe(p: &[u8]) -> Option<Inner<'_>> {
    let h = p.first_chunk::<8>()?;
    let rest = p.get(8..)?;
    if h[0] & 0x04 == 0 {
        // P bit clear: plain VXLAN framing.
        return vxlan(p);
    }
    match h[3] {
        1 | 2 => Some(Inner::Ip(rest)),
        3 => Some(Inner::Ethernet(rest)),
        _ => None,
    }
}

/// Geneve (RFC 8926): version 0, options length in 4-byte units, protocol type.
fn geneve(p: &[u8]) -> Option<Inner<'_>> {
    let h = p.first_chunk::<8>()?;
    if h[0] >> 6 != 0 {
        return None;
    }
    let len = 8 + usize::from(h[0] & 0x3f) * 4;
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let rest = p.get(len..)?;
    match proto {
        ethertype::TEB => Some(Inner::Ethernet(rest)),
        et => Some(Inner::EtherType(et, rest)),
    }
}

/// GTP-U (3GPP TS 29.281) G-PDU: version 1, PT 1, message type 0xff.
fn gtp_u(p: &[u8]) -> Option<Inner<'_>> {
    let h = p.first_chunk::<8>()?;
    if h[0] >> 5 != 1 || h[0] & 0x10 == 0 || h[1] != 0xff {
        return None;
    }
    if h[0] & 0x07 == 0 {
        return Some(Inner::Ip(p.get(8..)?));
    }
    // sequence (2), N-PDU (1), next extension type (1)
    let mut next = *p.get(11)?;
    let mut rest = p.get(12..)?;
    for _ in 0..MAX_GTP_EXTS {
        if next == 0 {
            return Some(Inner::Ip(rest));
        }
        // length in 4-byte units including the length byte and the next type.
        let len = usize::from(*rest.first()?) * 4;
        if len == 0 {
            return None;
        }
        next = *rest.get(len - 1)?;
        rest = rest.get(len..)?;
    }
    None
}

/// CAPWAP data channel (RFC 5415 4.3): preamble version 0, type 0 (type 1
/// is DTLS: sealed, not decoded), HLEN in 4-byte words covering the whole
/// header (radio MAC and wireless-specific information included). Keep-
/// alives (K) carry no frame; fragments (F) are not reassembled. T set:
/// the frame is in the binding's native format, decoded for IEEE 802.11
/// (WBID 1) only; T clear: an 802.3 frame.
fn capwap_data(p: &[u8]) -> Option<Inner<'_>> {
    let h = p.first_chunk::<8>()?;
    if h[0] != 0 {
        return None;
    }
    let bits = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    let hlen = (bits >> 19) as usize * 4;
    let wbid = (bits >> 9) & 0x1f;
    let (t, f, k) = (bits & 0x100 != 0, bits & 0x80 != 0, bits & 0x08 != 0);
    if hlen < 8 || f || k {
        return None;
    }
    let frame = p.get(hlen..)?;
    match (t, wbid) {
        (false, _) => Some(Inner::Ethernet(frame)),
        (true, 1) => ieee80211_data(frame),
        _ => None,
    }
}

/// An 802.11 data frame carrying an LLC/SNAP-encapsulated payload (RFC
/// 1042 or 802.1H bridge tunnel): the EtherType and what follows.
///
/// Some access points (Cisco's) send the two frame-control bytes swapped:
/// the standard order is tried first, then the swapped one, and either is
/// taken only when the LLC/SNAP header sits where its header length says.
fn ieee80211_data(f: &[u8]) -> Option<Inner<'_>> {
    let fc = f.first_chunk::<2>()?;
    ieee80211_body(f, fc[0], fc[1]).or_else(|| ieee80211_body(f, fc[1], fc[0]))
}

fn ieee80211_body(f: &[u8], fc: u8, flags: u8) -> Option<Inner<'_>> {
    // Version 0, type 2 (data); the null subtypes (bit 2 set) carry nothing.
    if fc & 0x0f != 0x08 || fc & 0x40 != 0 {
        return None;
    }
    // Protected: the body is ciphertext.
    if flags & 0x40 != 0 {
        return None;
    }
    let qos = fc & 0x80 != 0;
    let len = 24
        + if flags & 0x03 == 0x03 { 6 } else { 0 }
        + if qos { 2 } else { 0 }
        + if qos && flags & 0x80 != 0 { 4 } else { 0 };
    let body = f.get(len..)?;
    let snap = body.first_chunk::<8>()?;
    if snap[..3] != [0xaa, 0xaa, 0x03] || !(snap[3..6] == [0, 0, 0] || snap[3..6] == [0, 0, 0xf8]) {
        return None;
    }
    Some(Inner::EtherType(u16::from_be_bytes([snap[6], snap[7]]), body.get(8..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_optional_fields() {
        // C + K + S set: 4 + 12 bytes before the payload
        let p = [0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 7, 0x45];
        assert_eq!(gre(&p), Some(Inner::EtherType(0x0800, &[0x45][..])));
        assert_eq!(gre(&p[..15]), None);
        // routing bit: not decoded
        assert_eq!(gre(&[0x40, 0, 0x08, 0, 0, 0, 0, 0]), None);
        // ERSPAN I / II
        assert_eq!(gre(&[0, 0, 0x88, 0xbe, 9]), Some(Inner::Ethernet(&[9][..])));
        let e2 = [0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 1, 0, 0, 0, 0, 9];
        assert_eq!(gre(&e2), Some(Inner::Ethernet(&[9][..])));
    }

    #[test]
    fn erspan3_subheader_and_frame_type() {
        let mut e = vec![0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        e.push(7);
        assert_eq!(erspan3(&e), Some(Inner::Ethernet(&[7][..])));
        e[11] = 1; // O flag: 8 more bytes
        assert_eq!(erspan3(&e), None);
        e.splice(12..12, [0u8; 8]);
        assert_eq!(erspan3(&e), Some(Inner::Ethernet(&[7][..])));
        e[10] = 2 << 2; // frame type IP
        assert_eq!(erspan3(&e), Some(Inner::Ip(&[7][..])));
    }

    #[test]
    fn gtp_extension_headers() {
        // E flag, one extension (PDU session container, 4 bytes), then IP
        let p = [0x34, 0xff, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0x00, 0x45];
        assert_eq!(gtp_u(&p), Some(Inner::Ip(&[0x45][..])));
        // extension length 0 is invalid
        let mut bad = p;
        bad[12] = 0;
        assert_eq!(gtp_u(&bad), None);
        // not a G-PDU (echo request)
        let mut echo = p;
        echo[1] = 1;
        assert_eq!(gtp_u(&echo), None);
        // cut anywhere: never panics
        for n in 0..p.len() {
            let _ = gtp_u(&p[..n]);
        }
    }

    /// A CAPWAP data header (HLEN 4: wireless-specific information of 4
    /// bytes and padding), WBID 1 and T set, as a Cisco AP sends it.
    const CAPWAP_80211: [u8; 16] = [0x00, 0x20, 0x03, 0x20, 0, 0, 0, 0, 0x04, 0xc2, 0x25, 0, 0, 0, 0, 0];

    /// An 802.11 data frame (frame control `fc`), three addresses, then
    /// LLC/SNAP for IPv4 and one IP byte.
    fn wlan(fc: [u8; 2], qos: bool) -> Vec<u8> {
        let mut f = fc.to_vec();
        f.extend_from_slice(&[0x2c, 0]);
        f.extend_from_slice(&[1; 18]);
        f.extend_from_slice(&[0x70, 0x50]);
        if qos {
            f.extend_from_slice(&[0, 0]);
        }
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]);
        f
    }

    #[test]
    fn capwap_80211_data() {
        let ip = Some(Inner::EtherType(0x0800, &[0x45][..]));
        for (fc, qos) in [
            ([0x08, 0x01], false),
            ([0x11, 0x08], false),
            ([0x88, 0x01], true),
            ([0x01, 0x88], true),
        ] {
            let mut p = CAPWAP_80211.to_vec();
            p.extend_from_slice(&wlan(fc, qos));
            assert_eq!(udp(12380, port::CAPWAP_DATA, &p), ip, "{fc:?}");
            assert_eq!(udp(port::CAPWAP_DATA, 41264, &p), ip, "{fc:?}");
            // cut anywhere: never panics, never a frame before the IP byte
            for n in 0..p.len() - 1 {
                assert_eq!(capwap_data(&p[..n]), None, "{fc:?} {n}");
            }
        }
        // protected, null data, management: not decapsulated
        for fc in [[0x08, 0x41], [0x48, 0x01], [0x40, 0x00], [0xc8, 0x01]] {
            let mut p = CAPWAP_80211.to_vec();
            p.extend_from_slice(&wlan(fc, false));
            assert_eq!(capwap_data(&p), None, "{fc:?}");
        }
        // no LLC/SNAP where the header length says
        let mut p = CAPWAP_80211.to_vec();
        p.extend_from_slice(&wlan([0x08, 0x01], true));
        assert_eq!(capwap_data(&p), None);
    }

    #[test]
    fn capwap_header_checks() {
        let mut p = CAPWAP_80211.to_vec();
        p.extend_from_slice(&wlan([0x08, 0x01], false));
        // DTLS preamble, version 1
        for b in [0x01, 0x10] {
            let mut q = p.clone();
            q[0] = b;
            assert_eq!(capwap_data(&q), None);
        }
        // fragment, keep-alive
        for (i, bit) in [(3, 0x80), (3, 0x08)] {
            let mut q = p.clone();
            q[i] |= bit;
            assert_eq!(capwap_data(&q), None);
        }
        // HLEN below the fixed header, and beyond the datagram
        let mut q = p.clone();
        q[1] = 0x08;
        assert_eq!(capwap_data(&q), None);
        q[1] = 0xf8;
        assert_eq!(capwap_data(&q[..40]), None);
        // another binding in native format: not decoded
        let mut q = p.clone();
        q[2] = 0x05;
        assert_eq!(capwap_data(&q), None);
        // T clear: an 802.3 frame (HLEN 2)
        let e = [0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0, 9];
        assert_eq!(capwap_data(&e), Some(Inner::Ethernet(&[9][..])));
        // not on the CAPWAP ports
        assert_eq!(udp(1, 2, &p), None);
    }
}
