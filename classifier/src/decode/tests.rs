//! Decoder tests over frames built in the test (etherparse's PacketBuilder
//! for IP/transport, link and tunnel headers by hand).

use etherparse::PacketBuilder;

use super::*;

const A4: [u8; 4] = [192, 0, 2, 1];
const B4: [u8; 4] = [198, 51, 100, 2];
const C4: [u8; 4] = [10, 9, 8, 7];
const D4: [u8; 4] = [10, 6, 5, 4];
const A6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const MAC: [u8; 12] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];

fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 65535)
        .ack(77)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn tcp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src, dst, 64)
        .tcp(sport, dport, 5, 1000)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn udp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src, dst, 64)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// An IP header of the given family carrying `payload` as protocol `proto`.
fn ip_over(v6: bool, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if v6 {
        v.extend_from_slice(&[0x60, 0, 0, 0]);
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[proto, 64]);
        v.extend_from_slice(&B6);
        v.extend_from_slice(&A6);
    } else {
        v.extend_from_slice(&[0x45, 0]);
        v.extend_from_slice(&((payload.len() + 20) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 64, proto, 0, 0]);
        v.extend_from_slice(&C4);
        v.extend_from_slice(&D4);
    }
    v.extend_from_slice(payload);
    v
}

fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = MAC.to_vec();
    v.extend_from_slice(&et.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn tuple(src: Addr, dst: Addr, sport: u16, dport: u16, proto: u8) -> Tuple {
    Tuple {
        src,
        dst,
        sport,
        dport,
        proto,
    }
}

fn t4(sport: u16, dport: u16, proto: u8) -> Tuple {
    tuple(Addr::from_v4(A4), Addr::from_v4(B4), sport, dport, proto)
}

fn t6(sport: u16, dport: u16, proto: u8) -> Tuple {
    tuple(Addr::from_v6(A6), Addr::from_v6(B6), sport, dport, proto)
}

/// Decodes one frame with a fresh decoder: (tuple, payload, stats).
fn dec(lt: u32, f: &[u8]) -> (Option<(Tuple, Vec<u8>)>, DecodeStats) {
    let mut d = Decoder::new();
    let r = d
        .decode(LinkType(lt), 1, f.len() as u32, f)
        .map(|v| (v.tuple, v.payload.to_vec()));
    let st = d.stats().clone();
    assert_eq!(st.frames(), 1);
    (r, st)
}

fn tuple_of(lt: u32, f: &[u8]) -> Option<Tuple> {
    dec(lt, f).0.map(|x| x.0)
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = eth(0x0800, &tcp4(A4, B4, 40000, 443, b"hello"));
    let mut d = Decoder::new();
    let v = d.decode(LinkType::ETHERNET, 9, 99, &f).unwrap();
    assert_eq!(v.tuple, t4(40000, 443, 6));
    assert_eq!(v.payload, b"hello");
    assert_eq!((v.ts_ns, v.wire_len), (9, 99));
    let tcp = v.tcp.unwrap();
    assert_eq!((tcp.seq, tcp.ack), (1000, 77));
    assert_eq!(tcp.flags & tcpflags::ACK, tcpflags::ACK);
    assert_eq!(d.stats().decoded, 1);
}

#[test]
fn ethernet_ipv6_udp_and_padding() {
    let f = eth(0x86dd, &udp6(A6, B6, 5353, 53, b"q"));
    assert_eq!(dec(1, &f).0, Some((t6(5353, 53, 17), b"q".to_vec())));
    // Ethernet padding after a short IPv4 packet is not payload.
    let mut f = eth(0x0800, &udp4(A4, B4, 1, 2, b"ab"));
    f.extend_from_slice(&[0; 16]);
    assert_eq!(dec(1, &f).0, Some((t4(1, 2, 17), b"ab".to_vec())));
}

#[test]
fn vlan_qinq_and_tag_bound() {
    let ip = tcp4(A4, B4, 1, 2, b"x");
    let one = cat(&[&MAC, &[0x81, 0, 0, 5, 0x08, 0], &ip]);
    assert_eq!(tuple_of(1, &one), Some(t4(1, 2, 6)));
    let qinq = cat(&[
        &MAC,
        &[0x88, 0xa8, 0, 100, 0x81, 0, 0, 5, 0x91, 0, 0, 7, 0x86, 0xdd],
        &tcp6(A6, B6, 3, 4, b""),
    ]);
    assert_eq!(tuple_of(1, &qinq), Some(t6(3, 4, 6)));
    // far too many tags: bounded, counted as malformed
    let mut many = MAC.to_vec();
    for _ in 0..40 {
        many.extend_from_slice(&[0x81, 0, 0, 1]);
    }
    many.extend_from_slice(&[0x08, 0]);
    many.extend_from_slice(&ip);
    let (r, st) = dec(1, &many);
    assert!(r.is_none());
    assert_eq!(st.malformed, 1);
    // a tag cut short
    let (r, st) = dec(1, &cat(&[&MAC, &[0x81, 0, 0]]));
    assert!(r.is_none());
    assert_eq!(st.malformed, 1);
}

#[test]
fn llc_snap_and_not_ip() {
    let ip = udp4(A4, B4, 7, 8, b"");
    let len = (8 + ip.len()) as u16;
    let snap = cat(&[&MAC, &len.to_be_bytes(), &[0xaa, 0xaa, 3, 0, 0, 0, 8, 0], &ip]);
    assert_eq!(tuple_of(1, &snap), Some(t4(7, 8, 17)));
    // STP over LLC, ARP, LLDP
    for f in [
        cat(&[&MAC, &[0, 38, 0x42, 0x42, 3, 0, 0, 0, 0, 0]]),
        eth(0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]),
        eth(0x88cc, &[2, 7, 4]),
    ] {
        let (r, st) = dec(1, &f);
        assert!(r.is_none());
        assert_eq!(st.not_ip, 1);
    }
}

#[test]
fn mpls_stacks() {
    let ip4 = tcp4(A4, B4, 10, 20, b"m");
    let ip6 = tcp6(A6, B6, 10, 20, b"m");
    // two labels (first not bottom), then IPv4
    let f = eth(0x8847, &cat(&[&[0, 1, 0x40, 64, 0, 2, 0x01, 64], &ip4]));
    assert_eq!(tuple_of(1, &f), Some(t4(10, 20, 6)));
    // multicast ethertype, one label, IPv6
    let f = eth(0x8848, &cat(&[&[0, 1, 0x41, 64], &ip6]));
    assert_eq!(tuple_of(1, &f), Some(t6(10, 20, 6)));
    // VLAN then MPLS
    let f = cat(&[&MAC, &[0x81, 0, 0, 9, 0x88, 0x47, 0, 1, 0x41, 64], &ip4]);
    assert_eq!(tuple_of(1, &f), Some(t4(10, 20, 6)));
    // pseudowire: control word then an Ethernet frame
    let f = eth(0x8847, &cat(&[&[0, 1, 0x41, 64, 0, 0, 0, 0], &eth(0x0800, &ip4)]));
    assert_eq!(tuple_of(1, &f), Some(t4(10, 20, 6)));
    // no bottom of stack before the end
    let (r, st) = dec(1, &eth(0x8847, &[0, 1, 0x40, 64, 0, 2, 0x40, 64]));
    assert!(r.is_none());
    assert_eq!(st.malformed, 1);
}

#[test]
fn pppoe_session() {
    let ip = udp6(A6, B6, 546, 547, b"d");
    let mut hdr = vec![0x11, 0, 0, 1];
    hdr.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
    let f = eth(0x8864, &cat(&[&hdr, &[0, 0x57], &ip]));
    assert_eq!(tuple_of(1, &f), Some(t6(546, 547, 17)));
    // LCP is not IP
    let (r, st) = dec(1, &eth(0x8864, &cat(&[&hdr, &[0xc0, 0x21, 1, 1, 0, 4]])));
    assert!(r.is_none());
    assert_eq!(st.not_ip, 1);
    // PPP_ETHER link type: PPPoE header without Ethernet
    let ip4 = udp4(A4, B4, 1, 2, b"");
    assert_eq!(tuple_of(51, &cat(&[&hdr, &[0, 0x21], &ip4])), Some(t4(1, 2, 17)));
}

#[test]
fn linux_sll_and_sll2() {
    let ip = tcp4(A4, B4, 5, 6, b"s");
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
    sll.extend_from_slice(&[0x08, 0]);
    assert_eq!(tuple_of(113, &cat(&[&sll, &ip])), Some(t4(5, 6, 6)));
    // VLAN tag kept in the payload
    let mut vl = sll.clone();
    vl[14..16].copy_from_slice(&[0x81, 0]);
    assert_eq!(tuple_of(113, &cat(&[&vl, &[0, 3, 8, 0], &ip])), Some(t4(5, 6, 6)));
    // netlink is not IP
    let mut nl = sll.clone();
    nl[2..4].copy_from_slice(&824u16.to_be_bytes());
    assert_eq!(dec(113, &cat(&[&nl, &ip])).1.not_ip, 1);
    let ip6 = tcp6(A6, B6, 5, 6, b"s");
    let sll2 = [0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
    assert_eq!(tuple_of(276, &cat(&[&sll2, &ip6])), Some(t6(5, 6, 6)));
    assert_eq!(dec(276, &sll2[..19]).1.malformed, 1);
}

#[test]
fn raw_ip_link_types() {
    let ip4 = udp4(A4, B4, 1, 2, b"r");
    let ip6 = udp6(A6, B6, 1, 2, b"r");
    for lt in [12, 14, 101, 228] {
        assert_eq!(tuple_of(lt, &ip4), Some(t4(1, 2, 17)), "linktype {lt}");
    }
    for lt in [12, 14, 101, 229] {
        assert_eq!(tuple_of(lt, &ip6), Some(t6(1, 2, 17)), "linktype {lt}");
    }
    // not IP at all
    assert_eq!(dec(101, &[0x12; 40]).1.malformed, 1);
}

#[test]
fn null_and_loop_both_byte_orders() {
    let ip4 = udp4(A4, B4, 1, 2, b"");
    let ip6 = udp6(A6, B6, 1, 2, b"");
    for lt in [0, 108] {
        for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            assert_eq!(tuple_of(lt, &cat(&[&af, &ip4])), Some(t4(1, 2, 17)));
        }
        for af in [24u32, 28, 30] {
            for b in [af.to_le_bytes(), af.to_be_bytes()] {
                assert_eq!(tuple_of(lt, &cat(&[&b, &ip6])), Some(t6(1, 2, 17)));
            }
        }
        assert_eq!(dec(lt, &cat(&[&7u32.to_le_bytes(), &ip4])).1.not_ip, 1);
        assert_eq!(dec(lt, &[2, 0, 0]).1.malformed, 1);
    }
}

#[test]
fn ppp_chdlc_ppi() {
    let ip = tcp4(A4, B4, 8, 9, b"p");
    assert_eq!(tuple_of(9, &cat(&[&[0xff, 3, 0, 0x21], &ip])), Some(t4(8, 9, 6)));
    assert_eq!(tuple_of(9, &cat(&[&[0x21], &ip])), Some(t4(8, 9, 6)));
    assert_eq!(tuple_of(50, &cat(&[&[0xff, 3, 0, 0x21], &ip])), Some(t4(8, 9, 6)));
    assert_eq!(tuple_of(104, &cat(&[&[0x0f, 0, 8, 0], &ip])), Some(t4(8, 9, 6)));
    // Cisco HDLC inside a capture labelled PPP
    assert_eq!(tuple_of(9, &cat(&[&[0x0f, 0, 8, 0], &ip])), Some(t4(8, 9, 6)));
    assert_eq!(dec(104, &[0x8f, 0, 0x80, 0x35, 0, 0]).1.not_ip, 1);
    // PPI header (8 bytes + 4 bytes of fields) around an Ethernet frame
    let ppi = [0, 0, 12, 0, 1, 0, 0, 0, 9, 9, 9, 9];
    assert_eq!(tuple_of(192, &cat(&[&ppi, &eth(0x0800, &ip)])), Some(t4(8, 9, 6)));
    // PPI with a length beyond the frame
    assert_eq!(dec(192, &[0, 0, 200, 0, 1, 0, 0, 0]).1.malformed, 1);
}

#[test]
fn unknown_link_type_is_counted() {
    let mut d = Decoder::new();
    for _ in 0..3 {
        assert!(d.decode(LinkType(127), 0, 10, &[0; 10]).is_none());
    }
    assert!(d.decode(LinkType(147), 0, 10, &[0; 10]).is_none());
    let st = d.stats();
    assert_eq!(st.skipped_linktype, 4);
    assert_eq!(st.unknown_linktypes, vec![(127, 3), (147, 1)]);
}

#[test]
fn ipv6_extension_headers() {
    // HBH (8) -> routing (24) -> dest opts (8) -> TCP
    let inner = tcp6(A6, B6, 1111, 80, b"GET");
    let tcp = &inner[40..];
    let mut exts = vec![43, 0, 1, 4, 0, 0, 0, 0];
    exts.extend_from_slice(&[60, 2, 0, 1, 0, 0, 0, 0]);
    exts.extend_from_slice(&[0; 16]);
    exts.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    let mut ip = inner[..40].to_vec();
    ip[6] = 0;
    ip[4..6].copy_from_slice(&((exts.len() + tcp.len()) as u16).to_be_bytes());
    let f = eth(0x86dd, &cat(&[&ip, &exts, tcp]));
    assert_eq!(dec(1, &f).0, Some((t6(1111, 80, 6), b"GET".to_vec())));
    // cut in the middle of the routing header: addresses, no ports
    let cut = &f[..14 + 40 + 12];
    assert_eq!(tuple_of(1, cut), Some(t6(0, 0, 43)));
    // ESP stops the walk
    let mut esp = ip.clone();
    esp[6] = 50;
    assert_eq!(
        dec(1, &eth(0x86dd, &cat(&[&esp, &[0; 16]]))).0.map(|x| x.0.proto),
        Some(50)
    );
}

// ---- tunnels ----

fn check_tunnel(f: &[u8], want: Tuple, payload: &[u8]) {
    let mut d = Decoder::new();
    let v = d.decode(LinkType::ETHERNET, 0, 0, f).unwrap();
    assert_eq!(v.tuple, want);
    assert_eq!(v.payload, payload);
    assert_eq!(d.stats().tunnelled, 1);
    assert_eq!(d.stats().tunnel_inner_undecodable, 0);
}

#[test]
fn ip_in_ip_all_families() {
    let in4 = tcp4(A4, B4, 1, 2, b"in");
    let in6 = tcp6(A6, B6, 1, 2, b"in");
    check_tunnel(&eth(0x0800, &ip_over(false, 4, &in4)), t4(1, 2, 6), b"in");
    check_tunnel(&eth(0x0800, &ip_over(false, 41, &in6)), t6(1, 2, 6), b"in");
    check_tunnel(&eth(0x86dd, &ip_over(true, 4, &in4)), t4(1, 2, 6), b"in");
    check_tunnel(&eth(0x86dd, &ip_over(true, 41, &in6)), t6(1, 2, 6), b"in");
}

#[test]
fn gre_payload_types() {
    let in4 = udp4(A4, B4, 53, 5353, b"g");
    let in6 = udp6(A6, B6, 53, 5353, b"g");
    let want4 = t4(53, 5353, 17);
    let want6 = t6(53, 5353, 17);
    // plain GRE, IPv4
    check_tunnel(
        &eth(0x0800, &ip_over(false, 47, &cat(&[&[0, 0, 8, 0], &in4]))),
        want4,
        b"g",
    );
    // checksum + key + sequence, IPv6 over IPv6
    let gre = [0xb0, 0, 0x86, 0xdd, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1];
    check_tunnel(&eth(0x86dd, &ip_over(true, 47, &cat(&[&gre, &in6]))), want6, b"g");
    // transparent Ethernet bridging
    let f = eth(
        0x0800,
        &ip_over(
            false,
            47,
            &cat(&[&[0x20, 0, 0x65, 0x58, 0, 0, 0, 1], &eth(0x0800, &in4)]),
        ),
    );
    check_tunnel(&f, want4, b"g");
    // ERSPAN type II: sequence number + 8-byte ERSPAN header
    let gre2 = [0x10, 0, 0x88, 0xbe, 0, 0, 0, 5, 0x10, 0x01, 0, 1, 0, 0, 0, 0];
    let f = eth(0x0800, &ip_over(false, 47, &cat(&[&gre2, &eth(0x86dd, &in6)])));
    check_tunnel(&f, want6, b"g");
    // ERSPAN type III with the platform-specific subheader
    let mut e3 = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 5];
    e3.extend_from_slice(&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    e3.extend_from_slice(&[0; 8]);
    let f = eth(0x0800, &ip_over(false, 47, &cat(&[&e3, &eth(0x0800, &in4)])));
    check_tunnel(&f, want4, b"g");
    // MPLS over GRE
    let f = eth(
        0x0800,
        &ip_over(false, 47, &cat(&[&[0, 0, 0x88, 0x47, 0, 1, 0x41, 9], &in4])),
    );
    check_tunnel(&f, want4, b"g");
    // PPTP enhanced GRE with sequence, PPP in HDLC framing
    let pptp = [0x30, 0x01, 0x88, 0x0b, 0, 20, 0, 1, 0, 0, 0, 3];
    let f = eth(0x0800, &ip_over(false, 47, &cat(&[&pptp, &[0xff, 3, 0, 0x21], &in4])));
    check_tunnel(&f, want4, b"g");
}

#[test]
fn vxlan_geneve_gtp() {
    let in4 = tcp4(A4, B4, 40000, 443, b"v");
    let in6 = tcp6(A6, B6, 40000, 443, b"v");
    let want4 = t4(40000, 443, 6);
    let want6 = t6(40000, 443, 6);
    let vx = [0x08, 0, 0, 0, 0, 0, 42, 0];
    let f = eth(0x0800, &udp4(C4, D4, 55555, 4789, &cat(&[&vx, &eth(0x0800, &in4)])));
    check_tunnel(&f, want4, b"v");
    // VXLAN-GPE carrying IPv6 directly
    let gpe = [0x0c, 0, 0, 2, 0, 0, 42, 0];
    let f = eth(0x0800, &udp4(C4, D4, 55555, 4790, &cat(&[&gpe, &in6])));
    check_tunnel(&f, want6, b"v");
    // Geneve with 8 bytes of options, Ethernet payload
    let gen = [0x02, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    let f = eth(0x86dd, &udp6(B6, A6, 1, 6081, &cat(&[&gen, &eth(0x86dd, &in6)])));
    check_tunnel(&f, want6, b"v");
    // Geneve with IPv4 protocol type
    let f = eth(0x0800, &udp4(C4, D4, 1, 6081, &cat(&[&[0, 0, 8, 0, 0, 0, 1, 0], &in4])));
    check_tunnel(&f, want4, b"v");
    // GTP-U, plain
    let g = [0x30, 0xff, 0, in4.len() as u8, 0, 0, 0, 9];
    let f = eth(0x0800, &udp4(C4, D4, 2152, 2152, &cat(&[&g, &in4])));
    check_tunnel(&f, want4, b"v");
    // GTP-U with sequence number and a PDU session container extension
    let g = [0x36, 0xff, 0, 0, 0, 0, 0, 9, 0, 7, 0, 0x85, 1, 0x10, 1, 0];
    let f = eth(0x0800, &udp4(C4, D4, 2152, 2152, &cat(&[&g, &in6])));
    check_tunnel(&f, want6, b"v");
}

/// A CAPWAP data header (HLEN 4, WBID 1, T and W set) and an 802.11 QoS
/// data frame (frame control sent swapped, as Cisco APs do) with LLC/SNAP.
fn capwap_80211(et: u16, inner: &[u8]) -> Vec<u8> {
    let capwap = [0x00, 0x20, 0x03, 0x20, 0, 0, 0, 0, 0x04, 0xc2, 0x25, 0, 0, 0, 0, 0];
    let mut wlan = vec![0x01, 0x88, 0x2c, 0];
    wlan.extend_from_slice(&[2; 18]);
    wlan.extend_from_slice(&[0x70, 0x50, 0, 0]);
    wlan.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
    wlan.extend_from_slice(&et.to_be_bytes());
    cat(&[&capwap, &wlan, inner])
}

#[test]
fn capwap_data_channel() {
    let in4 = tcp4(A4, B4, 40000, 443, b"w");
    let in6 = udp6(A6, B6, 546, 547, b"w");
    let f = eth(0x0800, &udp4(C4, D4, 12380, 5247, &capwap_80211(0x0800, &in4)));
    check_tunnel(&f, t4(40000, 443, 6), b"w");
    let f = eth(0x0800, &udp4(D4, C4, 5247, 12380, &capwap_80211(0x86dd, &in6)));
    check_tunnel(&f, t6(546, 547, 17), b"w");
    // 802.3 frame (T clear, HLEN 2)
    let e = cat(&[&[0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0], &eth(0x0800, &in4)]);
    check_tunnel(&eth(0x0800, &udp4(C4, D4, 5247, 5247, &e)), t4(40000, 443, 6), b"w");
    // an 802.11 management frame (probe request): the outer flow
    let mut probe = vec![0x00, 0x20, 0x03, 0x20, 0, 0, 0, 0, 0x04, 0xc2, 0x25, 0, 0, 0, 0, 0];
    probe.extend_from_slice(&[0x40, 0, 0, 0]);
    probe.extend_from_slice(&[0xff; 40]);
    let (r, st) = dec(1, &eth(0x0800, &udp4(A4, B4, 12380, 5247, &probe)));
    assert_eq!(r.map(|x| x.0), Some(t4(12380, 5247, 17)));
    assert_eq!(st.tunnelled, 0);
    // CAPWAP's DTLS preamble on the data channel: sealed, the outer flow
    probe[0] = 0x01;
    let (r, st) = dec(1, &eth(0x0800, &udp4(A4, B4, 12380, 5247, &probe)));
    assert_eq!(r.map(|x| x.0), Some(t4(12380, 5247, 17)));
    assert_eq!(st.tunnelled, 0);
}

#[test]
fn tunnel_not_matching_stays_outer() {
    // UDP to 4789 without the VXLAN I flag: plain UDP flow
    let f = eth(0x0800, &udp4(A4, B4, 1, 4789, &[0; 30]));
    let (r, st) = dec(1, &f);
    assert_eq!(r.map(|x| x.0), Some(t4(1, 4789, 17)));
    assert_eq!(st.tunnelled, 0);
    // GTP echo request
    let f = eth(
        0x0800,
        &udp4(A4, B4, 2152, 2152, &[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]),
    );
    assert_eq!(dec(1, &f).1.tunnelled, 0);
    // VXLAN whose inner frame is ARP: the outer packet is returned
    let f = eth(
        0x0800,
        &udp4(
            A4,
            B4,
            1,
            4789,
            &cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &eth(0x0806, &[0; 28])]),
        ),
    );
    let (r, st) = dec(1, &f);
    assert_eq!(r.map(|x| x.0), Some(t4(1, 4789, 17)));
    assert_eq!((st.tunnelled, st.tunnel_inner_undecodable), (0, 1));
}

#[test]
fn tunnel_depth_is_bounded() {
    let mut p = udp4(A4, B4, 7, 7, b"deep");
    for _ in 0..10 {
        p = ip_over(false, 4, &p);
    }
    let mut d = Decoder::new();
    let v = d.decode(LinkType::RAW, 0, 0, &p).unwrap();
    // outermost + MAX_TUNNEL_DEPTH layers removed: still an IP-in-IP header
    assert_eq!(v.tuple.proto, 4);
    assert_eq!(v.tuple.src, Addr::from_v4(C4));
    assert_eq!(d.stats().tunnel_depth_exceeded, 1);
    assert_eq!(d.stats().tunnelled, 1);
    // exactly MAX_TUNNEL_DEPTH layers decode to the inner flow
    let mut p = udp4(A4, B4, 7, 7, b"deep");
    for _ in 0..MAX_TUNNEL_DEPTH {
        p = ip_over(false, 4, &p);
    }
    let mut d = Decoder::new();
    assert_eq!(d.decode(LinkType::RAW, 0, 0, &p).unwrap().tuple, t4(7, 7, 17));
}

// ---- fragments ----

/// Splits an IPv4 packet (20-byte header) into fragments of `chunk` bytes.
fn frag4(pkt: &[u8], chunk: usize, id: u16) -> Vec<Vec<u8>> {
    let (h, data) = pkt.split_at(20);
    let n = data.len().div_ceil(chunk);
    (0..n)
        .map(|i| {
            let part = &data[i * chunk..data.len().min((i + 1) * chunk)];
            let mut f = h.to_vec();
            f[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
            f[4..6].copy_from_slice(&id.to_be_bytes());
            let mf = if i + 1 < n { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&(((i * chunk / 8) as u16) | mf).to_be_bytes());
            f.extend_from_slice(part);
            f
        })
        .collect()
}

/// Splits an IPv6 packet (no extension headers) into fragments of `chunk` bytes.
fn frag6(pkt: &[u8], chunk: usize, id: u32) -> Vec<Vec<u8>> {
    let (h, data) = pkt.split_at(40);
    let nh = h[6];
    let n = data.len().div_ceil(chunk);
    (0..n)
        .map(|i| {
            let part = &data[i * chunk..data.len().min((i + 1) * chunk)];
            let mut f = h.to_vec();
            f[4..6].copy_from_slice(&((8 + part.len()) as u16).to_be_bytes());
            f[6] = 44;
            let m = u16::from(i + 1 < n);
            f.push(nh);
            f.push(0);
            f.extend_from_slice(&((i * chunk) as u16 | m).to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(part);
            f
        })
        .collect()
}

fn big_payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Feeds raw IP fragments; returns the views' (tuple, payload, wire_len).
fn feed(d: &mut Decoder, frags: &[Vec<u8>], ts: u64) -> Vec<(Tuple, Vec<u8>, u32)> {
    let mut out = Vec::new();
    for f in frags {
        if let Some(v) = d.decode(LinkType::RAW, ts, f.len() as u32, f) {
            out.push((v.tuple, v.payload.to_vec(), v.wire_len));
        }
    }
    out
}

#[test]
fn ipv4_fragments_in_order_and_reversed() {
    let data = big_payload(3000);
    let pkt = udp4(A4, B4, 4000, 5000, &data);
    let frags = frag4(&pkt, 1480, 77);
    assert_eq!(frags.len(), 3);
    let total_wire: usize = frags.iter().map(Vec::len).sum();
    for order in [frags.clone(), frags.iter().rev().cloned().collect()] {
        let mut d = Decoder::new();
        let got = feed(&mut d, &order, 1);
        assert_eq!(got, vec![(t4(4000, 5000, 17), data.clone(), total_wire as u32)]);
        let st = d.stats();
        assert_eq!((st.fragments_held, st.fragments_reassembled, st.decoded), (2, 1, 1));
        assert_eq!(d.frag_pending(), (0, 0));
    }
}

#[test]
fn ipv4_fragments_duplicated_and_interleaved() {
    let a = udp4(A4, B4, 1, 2, &big_payload(2000));
    let b = udp4(A4, B4, 3, 4, &big_payload(1000));
    let fa = frag4(&a, 800, 1);
    let fb = frag4(&b, 512, 2);
    let mut d = Decoder::new();
    let seq = vec![
        fa[0].clone(),
        fb[1].clone(),
        fa[0].clone(),
        fa[2].clone(),
        fb[0].clone(),
        fa[1].clone(),
        fa[1].clone(),
    ];
    let got = feed(&mut d, &seq, 1);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, t4(3, 4, 17));
    assert_eq!(got[0].1, big_payload(1000));
    assert_eq!(got[1].0, t4(1, 2, 17));
    assert_eq!(got[1].1, big_payload(2000));
    let st = d.stats();
    assert_eq!(st.frag_duplicates, 1);
    // held: fa[0], fb[1], fa[0] again, fa[2], and the late copy of fa[1]
    // (its datagram is complete, so it starts a new one)
    assert_eq!(st.fragments_held, 5);
    assert_eq!(d.frag_pending().0, 1);
    assert_eq!(st.frames(), 7);
}

#[test]
fn ipv4_overlap_drops_datagram() {
    let pkt = udp4(A4, B4, 1, 2, &big_payload(2000));
    let frags = frag4(&pkt, 800, 5);
    // a fragment covering bytes 400..1200 overlaps the first and the second
    let mut bad = frags[1].clone();
    bad[6..8].copy_from_slice(&(0x2000u16 | 50).to_be_bytes());
    let mut d = Decoder::new();
    let got = feed(&mut d, &[frags[0].clone(), bad, frags[1].clone(), frags[2].clone()], 1);
    assert!(got.is_empty());
    let st = d.stats();
    assert_eq!(st.frag_overlaps, 1);
    assert_eq!(st.fragments_dropped, 1);
    // what came after the overlap is held again, then times out
    assert_eq!(d.frag_pending().0, 1);
    d.decode(LinkType::RAW, 31_000_000_001, 0, &[]);
    assert_eq!(d.frag_pending(), (0, 0));
}

#[test]
fn missing_fragment_times_out_and_frees_memory() {
    let pkt = udp4(A4, B4, 1, 2, &big_payload(3000));
    let frags = frag4(&pkt, 1000, 9);
    let mut d = Decoder::new();
    assert!(feed(&mut d, &[frags[0].clone(), frags[2].clone()], 1_000_000_000).is_empty());
    let (n, bytes) = d.frag_pending();
    assert_eq!(n, 1);
    assert!(bytes >= 2008);
    // 29 s later: still pending; the missing piece would still complete it
    let other = udp4(C4, D4, 1, 1, b"");
    d.decode(LinkType::RAW, 30_000_000_000, 0, &other);
    assert_eq!(d.frag_pending().0, 1);
    // past 30 s: gone
    d.decode(LinkType::RAW, 31_000_000_001, 0, &other);
    assert_eq!(d.frag_pending(), (0, 0));
    assert_eq!(d.stats().frag_timeouts, 1);
    // the late piece alone is just held, not turned into a flow
    assert!(feed(&mut d, &[frags[1].clone()], 31_000_000_002).is_empty());
    assert_eq!(d.stats().fragments_reassembled, 0);
}

#[test]
fn ipv6_fragments_orders() {
    let data = big_payload(2500);
    let pkt = tcp6(A6, B6, 443, 50000, &data);
    let frags = frag6(&pkt, 1232, 0xdead_beef);
    assert_eq!(frags.len(), 3);
    let mut dup = frags.clone();
    dup.insert(1, frags[0].clone());
    let orders = [
        frags.clone(),
        frags.iter().rev().cloned().collect::<Vec<_>>(),
        dup,
        vec![frags[1].clone(), frags[0].clone(), frags[2].clone()],
    ];
    for order in orders {
        let mut d = Decoder::new();
        let got = feed(&mut d, &order, 1);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, t6(443, 50000, 6));
        assert_eq!(got[0].1, data);
        assert_eq!(d.frag_pending(), (0, 0));
    }
    // overlap: second fragment moved back by 8 bytes
    let mut bad = frags[1].clone();
    bad[42..44].copy_from_slice(&((1232 - 8) as u16 | 1).to_be_bytes());
    let mut d = Decoder::new();
    assert!(feed(&mut d, &[frags[0].clone(), bad], 1).is_empty());
    assert_eq!(d.stats().frag_overlaps, 1);
    assert_eq!(d.frag_pending(), (0, 0));
    // missing piece times out
    let mut d = Decoder::new();
    assert!(feed(&mut d, &[frags[0].clone(), frags[2].clone()], 1).is_empty());
    d.decode(LinkType::RAW, 40_000_000_000, 0, &[]);
    assert_eq!(d.frag_pending(), (0, 0));
    assert_eq!(d.stats().frag_timeouts, 1);
}

#[test]
fn ipv6_fragment_after_extension_header() {
    // HBH before the fragment header (unfragmentable part), dest opts after it
    let data = big_payload(300);
    let full = udp6(A6, B6, 9, 10, &data);
    let mut frag_part = vec![17, 0, 1, 4, 0, 0, 0, 0]; // dest opts -> UDP
    frag_part.extend_from_slice(&full[40..]);
    let (p1, p2) = frag_part.split_at(160);
    let mk = |off: u16, more: bool, part: &[u8]| {
        let mut f = full[..40].to_vec();
        f[6] = 0;
        f.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        f.extend_from_slice(&[60, 0]);
        f.extend_from_slice(&(off | u16::from(more)).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1]);
        f.extend_from_slice(part);
        let plen = (f.len() - 40) as u16;
        f[4..6].copy_from_slice(&plen.to_be_bytes());
        f
    };
    let mut d = Decoder::new();
    let got = feed(&mut d, &[mk(160, false, p2), mk(0, true, p1)], 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, t6(9, 10, 17));
    assert_eq!(got[0].1, data);
}

#[test]
fn fragment_flood_stays_within_cap() {
    let limits = FragLimits {
        max_bytes: 256 << 10,
        max_datagrams: 64,
        ..FragLimits::default()
    };
    let mut d = Decoder::with_frag_limits(limits);
    let first = frag4(&udp4(A4, B4, 1, 2, &big_payload(2960)), 1480, 0);
    let mut peak = 0;
    for i in 0..5000u32 {
        // a different id each time, first fragment only: never completes
        let mut f = first[0].clone();
        f[4..6].copy_from_slice(&(i as u16).to_be_bytes());
        f[12] = (i >> 16) as u8 + 1;
        assert!(d.decode(LinkType::RAW, u64::from(i) * 1000, 0, &f).is_none());
        let (n, bytes) = d.frag_pending();
        assert!(n <= 64 && bytes <= 256 << 10, "{n} {bytes}");
        peak = peak.max(bytes);
    }
    assert!(peak > 64 * 1000, "the flood did fill the table: {peak}");
    assert!(d.stats().frag_evictions > 4000);
    // a tiny byte cap: evictions by bytes
    let limits = FragLimits {
        max_bytes: 10_000,
        ..FragLimits::default()
    };
    let mut d = Decoder::with_frag_limits(limits);
    for i in 0..500u16 {
        let mut f = first[0].clone();
        f[4..6].copy_from_slice(&i.to_be_bytes());
        d.decode(LinkType::RAW, 0, 0, &f);
        assert!(d.frag_pending().1 <= 10_000);
    }
    // a real datagram still reassembles under the flood limits
    let ok = frag4(&udp4(C4, D4, 5, 6, b"fine, thanks"), 8, 4242);
    assert_eq!(feed(&mut d, &ok, 0).len(), 1);
}

#[test]
fn fragments_inside_a_tunnel() {
    // inner IPv4 fragments carried over GRE, reassembled on the inner key
    let data = big_payload(1500);
    let inner = tcp4(A4, B4, 22, 60000, &data);
    let frags = frag4(&inner, 800, 3);
    let mut d = Decoder::new();
    let mut got = Vec::new();
    for f in &frags {
        let outer = eth(0x0800, &ip_over(false, 47, &cat(&[&[0, 0, 8, 0], f])));
        if let Some(v) = d.decode(LinkType::ETHERNET, 0, 0, &outer) {
            got.push((v.tuple, v.payload.to_vec()));
        }
    }
    assert_eq!(got, vec![(t4(22, 60000, 6), data)]);
    assert_eq!(d.stats().tunnelled, 1);
}

#[test]
fn truncated_first_fragment_is_decoded_as_is() {
    let pkt = udp4(A4, B4, 1, 2, &big_payload(3000));
    let frags = frag4(&pkt, 1480, 1);
    let mut d = Decoder::new();
    // snaplen 96: the first fragment still gives the ports
    let v = d.decode(LinkType::RAW, 0, 1500, &frags[0][..96]).unwrap();
    assert_eq!(v.tuple, t4(1, 2, 17));
    assert_eq!(d.stats().frag_first_as_is, 1);
    // later fragments cut short are dropped
    assert!(d.decode(LinkType::RAW, 0, 1500, &frags[1][..96]).is_none());
    assert_eq!(d.stats().fragments_dropped, 1);
    // a first fragment whose length is not a multiple of 8 cannot be
    // reassembled: decoded as it is
    let odd = frag4(&udp4(A4, B4, 443, 1, &big_payload(200)), 61, 2);
    assert_eq!(
        d.decode(LinkType::RAW, 0, 0, &odd[0]).map(|v| v.tuple),
        Some(t4(443, 1, 17))
    );
    assert!(d.decode(LinkType::RAW, 0, 0, &odd[1]).is_none());
    assert_eq!(d.stats().frag_first_as_is, 2, "{:?}", d.stats());
    assert_eq!(d.stats().fragments_dropped, 2);
    assert_eq!(d.frag_pending(), (0, 0));
}

// ---- truncation ----

#[test]
fn every_truncation_of_a_tcp_frame() {
    let ip = tcp4(A4, B4, 40000, 443, b"0123456789");
    let f = eth(0x0800, &ip);
    let mut d = Decoder::new();
    for n in 0..=f.len() {
        let r = d
            .decode(LinkType::ETHERNET, 0, f.len() as u32, &f[..n])
            .map(|v| (v.tuple, v.tcp, v.payload.len()));
        match n {
            0..34 => assert!(r.is_none(), "{n}"),
            34..38 => assert_eq!(r.map(|x| x.0), Some(t4(0, 0, 6)), "{n}"),
            _ => {
                let (t, tcp, len) = r.unwrap();
                assert_eq!(t, t4(40000, 443, 6), "{n}");
                assert_eq!(tcp.is_some(), n >= 48, "{n}");
                assert_eq!(len, n.saturating_sub(54), "{n}");
            }
        }
    }
    let ip6 = tcp6(A6, B6, 40000, 443, b"0123456789");
    let f = eth(0x86dd, &ip6);
    for n in 0..=f.len() {
        let r = d.decode(LinkType::ETHERNET, 0, 0, &f[..n]).map(|v| v.tuple);
        match n {
            0..54 => assert!(r.is_none(), "{n}"),
            54..58 => assert_eq!(r, Some(t6(0, 0, 6)), "{n}"),
            _ => assert_eq!(r, Some(t6(40000, 443, 6)), "{n}"),
        }
    }
    assert_eq!(d.stats().frames(), d.stats().decoded + d.stats().malformed);
}

/// Every prefix of many frames (tunnels, fragments, link types) decodes
/// without panicking and keeps the per-frame accounting.
#[test]
fn every_truncation_of_every_fixture() {
    let in4 = tcp4(A4, B4, 1, 2, b"payload");
    let in6 = udp6(A6, B6, 1, 2, b"payload");
    let mut fixtures: Vec<(u32, Vec<u8>)> = vec![
        (1, eth(0x0800, &udp4(C4, D4, 12380, 5247, &capwap_80211(0x0800, &in4)))),
        (
            1,
            eth(
                0x0800,
                &udp4(C4, D4, 1, 4789, &cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &eth(0x0800, &in4)])),
            ),
        ),
        (
            1,
            eth(
                0x0800,
                &udp4(
                    C4,
                    D4,
                    2152,
                    2152,
                    &cat(&[&[0x36, 0xff, 0, 0, 0, 0, 0, 9, 0, 7, 0, 0x85, 1, 0x10, 1, 0], &in6]),
                ),
            ),
        ),
        (
            1,
            eth(
                0x0800,
                &udp4(
                    C4,
                    D4,
                    1,
                    6081,
                    &cat(&[
                        &[2, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8],
                        &eth(0x86dd, &in6),
                    ]),
                ),
            ),
        ),
        (
            1,
            eth(
                0x86dd,
                &ip_over(
                    true,
                    47,
                    &cat(&[
                        &[
                            0xb0, 0, 0x88, 0xbe, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1, 0x10, 1, 0, 1, 0, 0, 0, 0,
                        ],
                        &eth(0x0800, &in4),
                    ]),
                ),
            ),
        ),
        (
            1,
            eth(
                0x8847,
                &cat(&[&[0, 1, 0x40, 64, 0, 1, 0x41, 64, 0, 0, 0, 0], &eth(0x0800, &in4)]),
            ),
        ),
        (
            1,
            cat(&[
                &MAC,
                &[
                    0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x88, 0x64, 0x11, 0, 0, 1, 0, 0, 0, 0x21,
                ],
                &in4,
            ]),
        ),
        (
            113,
            cat(&[&[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd], &in6]),
        ),
        (
            192,
            cat(&[&[0, 0, 8, 0, 1, 0, 0, 0], &eth(0x0800, &ip_over(false, 41, &in6))]),
        ),
        (0, cat(&[&30u32.to_le_bytes(), &in6])),
        (9, cat(&[&[0xff, 3, 0, 0x57], &in6])),
    ];
    let whole = fixtures.len();
    for f in frag6(&udp6(A6, B6, 3, 4, &big_payload(100)), 48, 1) {
        fixtures.push((101, f));
    }
    for f in frag4(&udp4(A4, B4, 3, 4, &big_payload(100)), 48, 1) {
        fixtures.push((1, eth(0x0800, &f)));
    }
    let mut d = Decoder::new();
    let mut n_frames = 0;
    for (i, (lt, f)) in fixtures.iter().enumerate() {
        for n in 0..=f.len() {
            let _ = d.decode(LinkType(*lt), n as u64, 0, &f[..n]).map(|v| v.payload.len());
            n_frames += 1;
        }
        // the full frame of a non-fragment fixture decodes to the inner flow
        let v = d.decode(LinkType(*lt), 0, 0, f).map(|v| (v.tuple.sport, v.tuple.dport));
        n_frames += 1;
        if i < whole {
            assert_eq!(v, Some((1, 2)), "fixture {i}");
        }
    }
    assert_eq!(d.stats().frames(), n_frames);
}

/// Deterministic pseudo-random frames and byte-flipped fixtures for every
/// link type: no panic, every frame counted once, fragment memory bounded.
#[test]
fn random_and_mutated_frames() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let limits = FragLimits {
        max_bytes: 64 << 10,
        max_datagrams: 32,
        ..FragLimits::default()
    };
    let mut d = Decoder::with_frag_limits(limits);
    let in4 = tcp4(A4, B4, 1, 2, b"payload");
    let seeds: Vec<Vec<u8>> = vec![
        eth(
            0x0800,
            &udp4(C4, D4, 1, 4789, &cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &eth(0x0800, &in4)])),
        ),
        eth(
            0x0800,
            &ip_over(
                false,
                47,
                &cat(&[&[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1], &[0; 12], &eth(0x0800, &in4)]),
            ),
        ),
        eth(
            0x86dd,
            &udp6(
                A6,
                B6,
                2152,
                2152,
                &cat(&[&[0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0], &in4]),
            ),
        ),
        eth(
            0x8847,
            &cat(&[&[0, 0, 1, 0], &ip_over(true, 41, &tcp6(A6, B6, 1, 2, b"x"))]),
        ),
        frag6(&udp6(A6, B6, 3, 4, &big_payload(200)), 64, 5).remove(0),
        frag4(&udp4(A4, B4, 3, 4, &big_payload(200)), 64, 5).remove(1),
    ];
    let lts = [0u32, 1, 9, 12, 14, 50, 51, 101, 104, 108, 113, 192, 228, 229, 276, 127];
    let mut frames = 0;
    for round in 0..20_000u64 {
        let lt = lts[(next() % lts.len() as u64) as usize];
        let mut f = if round % 2 == 0 {
            let len = (next() % 200) as usize;
            (0..len).map(|_| next() as u8).collect::<Vec<u8>>()
        } else {
            let mut f = seeds[(next() % seeds.len() as u64) as usize].clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % f.len() as u64) as usize;
                f[i] = next() as u8;
            }
            f
        };
        if round % 3 == 0 {
            // steer random bytes towards IP
            if let Some(b) = f.first_mut() {
                *b = if next() % 2 == 0 { 0x45 } else { 0x60 };
            }
        }
        let _ = d
            .decode(LinkType(lt), round * 1_000_000, f.len() as u32, &f)
            .map(|v| v.payload.len());
        frames += 1;
        assert!(d.frag_pending().1 <= 64 << 10);
    }
    assert_eq!(d.stats().frames(), frames);
    assert!(d.stats().decoded > 1000, "{:?}", d.stats());
}

/// A frame and its link type.
type Frame = (u32, Vec<u8>);

/// Frames the plain path takes (Ethernet, VLAN and raw IP, IPv4 and IPv6,
/// TCP, UDP, ICMP, and TCP with options) and frames it must leave to the
/// full decoder (tunnels, fragments, other link layers, three VLAN tags).
fn plain_and_other_frames() -> (Vec<Frame>, Vec<Frame>) {
    let in4 = tcp4(A4, B4, 1, 2, b"payload");
    let in6 = udp6(A6, B6, 1, 2, b"payload");
    let vlan = |et: u16, tag: u16, p: &[u8]| cat(&[&MAC, &tag.to_be_bytes(), &[0, 7], &et.to_be_bytes(), p]);
    let mut plain: Vec<(u32, Vec<u8>)> = vec![
        (1, eth(0x0800, &in4)),
        (1, eth(0x86dd, &in6)),
        (1, eth(0x86dd, &tcp6(A6, B6, 443, 50000, b"x"))),
        (1, eth(0x0800, &udp4(A4, B4, 53, 40000, b"q"))),
        (1, vlan(0x0800, 0x8100, &in4)),
        (1, vlan(0x86dd, 0x88a8, &in6)),
        (1, eth(0x0800, &ip_over(false, 1, &[8, 0, 0, 0, 0, 1, 0, 1]))),
        (1, eth(0x86dd, &ip_over(true, 58, &[128, 0, 0, 0, 0, 1, 0, 1]))),
        (101, in4.clone()),
        (228, in4.clone()),
        (229, in6.clone()),
        // The EtherType says IPv4, the packet is IPv6: decoded by its version.
        (1, eth(0x0800, &in6)),
    ];
    let mut others: Vec<(u32, Vec<u8>)> = vec![
        (1, eth(0x0800, &udp4(C4, D4, 12380, 5247, &capwap_80211(0x0800, &in4)))),
        (1, eth(0x0800, &udp4(C4, D4, 5247, 12380, &capwap_80211(0x86dd, &in6)))),
        (
            1,
            eth(
                0x0800,
                &udp4(C4, D4, 1, 4789, &cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &eth(0x0800, &in4)])),
            ),
        ),
        (
            1,
            eth(
                0x0800,
                &udp4(C4, D4, 2152, 9, &cat(&[&[0x30, 0xff, 0, 0, 0, 0, 0, 9], &in4])),
            ),
        ),
        (
            1,
            eth(
                0x0800,
                &udp4(C4, D4, 9, 6081, &cat(&[&[0, 0, 0x08, 0, 0, 0, 1, 0], &in4])),
            ),
        ),
        (
            1,
            eth(
                0x0800,
                &udp4(C4, D4, 9, 4790, &cat(&[&[0x0c, 0, 0, 1, 0, 0, 1, 0], &in4])),
            ),
        ),
        (1, eth(0x0800, &ip_over(false, 4, &in4))),
        (1, eth(0x0800, &ip_over(false, 41, &in6))),
        (1, eth(0x86dd, &ip_over(true, 41, &in6))),
        (1, eth(0x0800, &ip_over(false, 47, &cat(&[&[0, 0, 0x08, 0], &in4])))),
        (
            1,
            eth(
                0x86dd,
                &ip_over(
                    true,
                    0,
                    &cat(&[&[6, 0, 1, 4, 0, 0, 0, 0], &tcp6(A6, B6, 1, 2, b"")[40..]]),
                ),
            ),
        ),
        (
            113,
            cat(&[&[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd], &in6]),
        ),
        (
            1,
            cat(&[&MAC, &[0x81, 0, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x08, 0], &in4]),
        ),
    ];
    for f in frag4(&udp4(A4, B4, 3, 4, &big_payload(100)), 48, 1) {
        others.push((1, eth(0x0800, &f)));
    }
    for f in frag6(&udp6(A6, B6, 3, 4, &big_payload(100)), 48, 1) {
        others.push((101, f));
    }
    // TCP with 12 bytes of options (data offset 8), and with a data
    // offset below the header's 20 bytes; IPv4 with 4 bytes of options.
    let mut opts = tcp4(A4, B4, 40000, 443, b"0123456789ab-payload");
    opts[32] = 0x80;
    plain.push((1, eth(0x0800, &opts)));
    let mut short_off = tcp4(A4, B4, 40000, 443, b"payload");
    short_off[32] = 0x30;
    plain.push((1, eth(0x0800, &short_off)));
    let mut v4opts = tcp4(A4, B4, 40000, 443, b"payload");
    v4opts[0] = 0x46;
    plain.push((101, v4opts));
    (plain, others)
}

/// Calls `f` on every frame, every prefix of it, and 300 copies with one
/// to three bytes changed; the number of calls that returned true.
fn each_variant(frames: &[Frame], mut f: impl FnMut(u32, &[u8]) -> bool) -> usize {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut accepted = 0;
    for (lt, fr) in frames {
        for n in 0..=fr.len() {
            accepted += usize::from(f(*lt, &fr[..n]));
        }
        for _ in 0..300 {
            let mut g = fr.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() % g.len() as u64) as usize;
                g[i] = next() as u8;
            }
            accepted += usize::from(f(*lt, &g));
        }
    }
    accepted
}

/// `fast_tuple` either declines or gives exactly the tuple `decode` gives,
/// without `decode` touching the reassembly table: checked on every
/// prefix of plain, tagged, tunnelled and fragmented frames and on
/// byte-flipped copies of them.
#[test]
fn fast_tuple_agrees_with_decode() {
    let (plain, others) = plain_and_other_frames();
    let check = |lt: u32, f: &[u8]| -> bool {
        let Some((t, udp_payload)) = fast_l4(LinkType(lt), f) else {
            return false;
        };
        assert_eq!(fast_tuple(LinkType(lt), f), Some(t));
        // The full decoder's answer (`decode` takes plain frames by a
        // path of its own, held to the full decoder below).
        let mut d = Decoder::new();
        let got = d
            .decode_in_full(LinkType(lt), 1, f.len() as u32, f)
            .map(|v| (v.tuple, v.payload.to_vec()));
        let want_payload = if t.proto == ipproto::UDP {
            got.as_ref().map(|g| g.1.clone())
        } else {
            Some(Vec::new())
        };
        assert_eq!(got.map(|g| g.0), Some(t), "link type {lt}, frame {f:02x?}");
        assert_eq!(
            Some(udp_payload.to_vec()),
            want_payload,
            "UDP payload, link type {lt}, frame {f:02x?}"
        );
        assert_eq!(d.frag_pending(), (0, 0));
        assert_eq!(d.stats().decoded, 1);
        true
    };
    for (lt, f) in &plain {
        assert!(check(*lt, f), "a plain frame was declined: {f:02x?}");
    }
    for (lt, f) in &others {
        assert!(!check(*lt, f), "not a plain frame: {f:02x?}");
    }
    let all: Vec<_> = plain.iter().chain(&others).cloned().collect();
    let accepted = each_variant(&all, check);
    assert!(accepted > 1000, "{accepted}");
}

/// `decode` reads a plain frame straight from its headers (`plain_view`);
/// that path gives exactly the view and the counters the full decoder
/// gives, takes every plain frame and leaves the others alone: checked on
/// the same frames, prefixes and byte-flipped copies as `fast_tuple`.
#[test]
fn the_plain_path_decodes_as_the_full_decoder_does() {
    let (plain, others) = plain_and_other_frames();
    let owned = |v: Option<PacketView<'_>>| v.map(|v| (v.ts_ns, v.wire_len, v.tuple, v.tcp, v.payload.to_vec()));
    let check = |lt: u32, f: &[u8]| -> bool {
        let (mut quick, mut full) = (Decoder::new(), Decoder::new());
        let wire = f.len() as u32 + 4;
        let got = owned(quick.decode(LinkType(lt), 7, wire, f));
        let want = owned(full.decode_in_full(LinkType(lt), 7, wire, f));
        assert_eq!(got, want, "link type {lt}, frame {f:02x?}");
        assert_eq!(quick.stats(), full.stats(), "link type {lt}, frame {f:02x?}");
        let taken = owned(plain_view(LinkType(lt), 7, wire, f));
        if taken.is_some() {
            assert_eq!(taken, want, "link type {lt}, frame {f:02x?}");
        }
        taken.is_some()
    };
    for (lt, f) in &plain {
        assert!(check(*lt, f), "a plain frame was not taken: {f:02x?}");
    }
    for (lt, f) in &others {
        assert!(!check(*lt, f), "not a plain frame: {f:02x?}");
    }
    let all: Vec<_> = plain.iter().chain(&others).cloned().collect();
    let taken = each_variant(&all, check);
    assert!(taken > 1000, "{taken}");
}

#[test]
fn an_ipv4_address_is_mapped_into_ipv6() {
    let a = Addr::from_v4([192, 0, 2, 200]);
    assert_eq!(a.0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 200]);
    assert!(a.is_v4());
    assert_eq!(a.to_ip(), "192.0.2.200".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(Addr::from_v4([0; 4]).0[10..], [0xff, 0xff, 0, 0, 0, 0]);
}

#[test]
fn addresses_order_as_their_bytes() {
    // Pairs that differ in each byte, in the sign bit of a byte, and not
    // at all, plus a pseudo-random sweep.
    let mut addrs = vec![Addr([0; 16]), Addr([0xff; 16]), Addr::from_v4([10, 0, 0, 1])];
    for i in 0..16 {
        for v in [1u8, 0x7f, 0x80, 0xff] {
            let mut a = [0u8; 16];
            a[i] = v;
            addrs.push(Addr(a));
        }
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        let mut a = [0u8; 16];
        for b in &mut a {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x % 3) as u8 * 0x7f;
        }
        addrs.push(Addr(a));
    }
    for a in &addrs {
        for b in &addrs {
            assert_eq!(a.cmp(b), a.0.cmp(&b.0), "{a:?} {b:?}");
            assert_eq!(a.partial_cmp(b), Some(a.0.cmp(&b.0)));
        }
    }
}
