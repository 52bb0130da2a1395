//! Packets and flows on the wire: endpoint allocation, Ethernet (optionally
//! 802.1Q) / IPv4 / IPv6 / TCP / UDP frames built with etherparse, TCP
//! connections with consistent sequence numbers, and the pcap writer.

use std::collections::HashSet;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use etherparse::{IpHeaders, Ipv4Header, Ipv6Header, PacketBuilder, TcpHeader, VlanId};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::addr;
use super::rng::Rng;
use super::truth::Truth;

/// Largest TCP payload per segment.
pub const MSS: usize = 1448;

/// Where a flow is placed, decided by the mix before the flow is built.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    /// Capture time of the first packet, ns since the epoch (whole µs).
    pub t0_ns: u64,
    pub v6: bool,
    pub vlan: Option<u16>,
    /// Server inside Telegram's published ranges (Telegram kinds only).
    pub telegram_range: bool,
}

/// The two endpoints of a flow.
#[derive(Clone, Copy, Debug)]
pub struct Ends {
    pub orig: SocketAddr,
    pub resp: SocketAddr,
    pub vlan: Option<u16>,
    pub mac_orig: [u8; 6],
    pub mac_resp: [u8; 6],
}

struct Pkt {
    ts_ns: u64,
    data: Vec<u8>,
}

/// Everything generated so far: frames and the ground truth.
#[derive(Default)]
pub struct Capture {
    pkts: Vec<Pkt>,
    pub truth: Vec<Truth>,
    used: HashSet<(IpAddr, u16, IpAddr, u16, bool)>,
}

impl Capture {
    pub fn new() -> Capture {
        Capture::default()
    }

    pub fn packets(&self) -> usize {
        self.pkts.len()
    }

    /// Picks fresh endpoints: a client address and ephemeral port, and a
    /// server address (Telegram's ranges, or the generic server pool) on
    /// `resp_port`. The 5-tuple is unique within the capture.
    pub fn ends(&mut self, rng: &mut Rng, place: &Place, resp_port: u16, tcp: bool) -> Ends {
        let resp_ip = if place.telegram_range {
            addr::telegram_addr(rng, place.v6)
        } else {
            addr::server_addr(rng, place.v6)
        };
        self.ends_to(rng, place, SocketAddr::new(resp_ip, resp_port), tcp)
    }

    /// Fresh client endpoints towards a given server.
    pub fn ends_to(&mut self, rng: &mut Rng, place: &Place, resp: SocketAddr, tcp: bool) -> Ends {
        loop {
            let orig_ip = addr::client_addr(rng, place.v6);
            let orig_port = rng.range(32768, 61000) as u16;
            let key = (orig_ip, orig_port, resp.ip(), resp.port(), tcp);
            if self.used.insert(key) {
                let mut mac_orig = rng.array::<6>();
                mac_orig[0] = (mac_orig[0] & 0xfc) | 0x02;
                return Ends {
                    orig: SocketAddr::new(orig_ip, orig_port),
                    resp,
                    vlan: place.vlan,
                    mac_orig,
                    mac_resp: [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01],
                };
            }
        }
    }

    fn push(&mut self, ts_ns: u64, data: Vec<u8>) {
        self.pkts.push(Pkt { ts_ns, data });
    }

    /// Writes the frames in time order (stable: a flow's packets keep
    /// their order) as a little-endian, microsecond, Ethernet pcap.
    pub fn write_pcap<W: Write>(&mut self, out: W) -> Result<()> {
        self.pkts.sort_by_key(|p| p.ts_ns);
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: 65535,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
        };
        let mut w = PcapWriter::with_header(out, header).context("pcap header")?;
        for p in &self.pkts {
            let len = u32::try_from(p.data.len()).context("frame too long")?;
            w.write_packet(&PcapPacket::new(Duration::from_nanos(p.ts_ns), len, &p.data))
                .context("pcap write")?;
        }
        Ok(())
    }
}

/// TCP flags for [`frame`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub psh: bool,
    pub fin: bool,
}

/// Transport header of one frame.
#[derive(Clone, Copy, Debug)]
pub enum L4 {
    Tcp { seq: u32, ack: u32, flags: Flags },
    Udp,
}

/// Builds one Ethernet frame from `e`, in the direction given.
pub fn frame(e: &Ends, from_orig: bool, l4: L4, payload: &[u8]) -> Result<Vec<u8>> {
    let (src, dst) = if from_orig { (e.orig, e.resp) } else { (e.resp, e.orig) };
    let (smac, dmac) = if from_orig {
        (e.mac_orig, e.mac_resp)
    } else {
        (e.mac_resp, e.mac_orig)
    };
    let ip = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => IpHeaders::Ipv4(
            Ipv4Header {
                time_to_live: if from_orig { 64 } else { 52 },
                source: s.octets(),
                destination: d.octets(),
                ..Default::default()
            },
            Default::default(),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
            Ipv6Header {
                hop_limit: if from_orig { 64 } else { 52 },
                source: s.octets(),
                destination: d.octets(),
                ..Default::default()
            },
            Default::default(),
        ),
        _ => anyhow::bail!("mixed address families"),
    };
    let base = PacketBuilder::ethernet2(smac, dmac);
    let mut out = Vec::with_capacity(payload.len() + 80);
    let tcp_header = |seq: u32, ack: u32, f: Flags| {
        let mut h = TcpHeader::new(src.port(), dst.port(), seq, 64240);
        h.syn = f.syn;
        h.ack = f.ack;
        h.psh = f.psh;
        h.fin = f.fin;
        if f.ack {
            h.acknowledgment_number = ack;
        }
        h
    };
    match (e.vlan, l4) {
        (Some(v), L4::Tcp { seq, ack, flags }) => base
            .single_vlan(VlanId::try_new(v)?)
            .ip(ip)
            .tcp_header(tcp_header(seq, ack, flags))
            .write(&mut out, payload)?,
        (Some(v), L4::Udp) => base
            .single_vlan(VlanId::try_new(v)?)
            .ip(ip)
            .udp(src.port(), dst.port())
            .write(&mut out, payload)?,
        (None, L4::Tcp { seq, ack, flags }) => base
            .ip(ip)
            .tcp_header(tcp_header(seq, ack, flags))
            .write(&mut out, payload)?,
        (None, L4::Udp) => base.ip(ip).udp(src.port(), dst.port()).write(&mut out, payload)?,
    }
    Ok(out)
}

/// Packet timing of one flow: a round-trip time, and a clock that only
/// moves forward (whole microseconds, so the pcap keeps the order).
pub struct Clock {
    pub t_ns: u64,
    rtt_us: u64,
    last_from_orig: Option<bool>,
}

impl Clock {
    pub fn new(rng: &mut Rng, t0_ns: u64) -> Clock {
        Clock {
            t_ns: t0_ns / 1000 * 1000,
            rtt_us: rng.range(8_000, 120_000),
            last_from_orig: None,
        }
    }
    /// Time of the next packet: half an RTT after a packet from the other
    /// side, a few µs after one from the same side.
    pub fn tick(&mut self, rng: &mut Rng, from_orig: bool) -> u64 {
        let us = match self.last_from_orig {
            None => 0,
            Some(prev) if prev == from_orig => rng.range(5, 300),
            Some(_) => self.rtt_us / 2 + rng.range(0, 2000),
        };
        self.last_from_orig = Some(from_orig);
        self.t_ns += us * 1000;
        self.t_ns
    }
    /// An application pause (think time) before the next packet.
    pub fn pause(&mut self, rng: &mut Rng, max_ms: u64) {
        self.t_ns += rng.range(1, max_ms.max(2)) * 1_000_000;
    }
}

/// One TCP connection: handshake, data with consistent sequence and
/// acknowledgement numbers, FIN close. Counts packets per direction.
pub struct Tcp<'a> {
    cap: &'a mut Capture,
    pub ends: Ends,
    rng: Rng,
    pub clock: Clock,
    /// Next sequence number of orig / resp.
    seq: [u32; 2],
    pub pkts: [u64; 2],
}

impl<'a> Tcp<'a> {
    /// Opens with SYN, SYN-ACK, ACK.
    pub fn open(cap: &'a mut Capture, rng: &mut Rng, ends: Ends, t0_ns: u64) -> Result<Tcp<'a>> {
        let mut rng = rng.fork();
        let clock = Clock::new(&mut rng, t0_ns);
        let isn = [rng.u32(), rng.u32()];
        let mut t = Tcp {
            cap,
            ends,
            rng,
            clock,
            seq: isn,
            pkts: [0, 0],
        };
        let syn = Flags {
            syn: true,
            ..Default::default()
        };
        t.emit(true, syn, &[])?;
        t.seq[0] = t.seq[0].wrapping_add(1);
        let synack = Flags {
            syn: true,
            ack: true,
            ..Default::default()
        };
        t.emit(false, synack, &[])?;
        t.seq[1] = t.seq[1].wrapping_add(1);
        t.ack(true)?;
        Ok(t)
    }

    fn emit(&mut self, from_orig: bool, flags: Flags, payload: &[u8]) -> Result<()> {
        let d = usize::from(!from_orig);
        let l4 = L4::Tcp {
            seq: self.seq[d],
            ack: self.seq[1 - d],
            flags,
        };
        let f = frame(&self.ends, from_orig, l4, payload)?;
        let ts = self.clock.tick(&mut self.rng, from_orig);
        self.cap.push(ts, f);
        self.pkts[d] += 1;
        Ok(())
    }

    /// A bare ACK.
    pub fn ack(&mut self, from_orig: bool) -> Result<()> {
        let f = Flags {
            ack: true,
            ..Default::default()
        };
        self.emit(from_orig, f, &[])
    }

    /// Sends `data` in MSS-sized segments.
    pub fn send(&mut self, from_orig: bool, data: &[u8]) -> Result<()> {
        self.send_cut(from_orig, data, &[])
    }

    /// Sends `data` cut at the given offsets (ascending, within `data`),
    /// each piece further cut to the MSS.
    pub fn send_cut(&mut self, from_orig: bool, data: &[u8], cuts: &[usize]) -> Result<()> {
        let mut start = 0usize;
        let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c > 0 && c < data.len()).collect();
        bounds.push(data.len());
        for end in bounds {
            let mut piece = data.get(start..end).unwrap_or(&[]);
            while !piece.is_empty() {
                let n = piece.len().min(MSS);
                let (seg, rest) = piece.split_at(n);
                let f = Flags {
                    ack: true,
                    psh: rest.is_empty(),
                    ..Default::default()
                };
                self.emit(from_orig, f, seg)?;
                let d = usize::from(!from_orig);
                self.seq[d] = self.seq[d].wrapping_add(n as u32);
                piece = rest;
            }
            start = end;
        }
        Ok(())
    }

    pub fn pause(&mut self, max_ms: u64) {
        self.clock.pause(&mut self.rng, max_ms);
    }

    /// Closes with FIN from the originator, FIN from the responder, final
    /// ACK. Returns the packet counts (orig, resp).
    pub fn close(mut self) -> Result<[u64; 2]> {
        let fin = Flags {
            fin: true,
            ack: true,
            ..Default::default()
        };
        self.emit(true, fin, &[])?;
        self.seq[0] = self.seq[0].wrapping_add(1);
        self.emit(false, fin, &[])?;
        self.seq[1] = self.seq[1].wrapping_add(1);
        self.ack(true)?;
        Ok(self.pkts)
    }
}

/// One UDP flow: datagrams both ways, counted per direction.
pub struct Udp<'a> {
    cap: &'a mut Capture,
    pub ends: Ends,
    rng: Rng,
    pub clock: Clock,
    pub pkts: [u64; 2],
}

impl<'a> Udp<'a> {
    pub fn new(cap: &'a mut Capture, rng: &mut Rng, ends: Ends, t0_ns: u64) -> Udp<'a> {
        let mut rng = rng.fork();
        let clock = Clock::new(&mut rng, t0_ns);
        Udp {
            cap,
            ends,
            rng,
            clock,
            pkts: [0, 0],
        }
    }

    pub fn send(&mut self, from_orig: bool, datagram: &[u8]) -> Result<()> {
        let f = frame(&self.ends, from_orig, L4::Udp, datagram)?;
        let ts = self.clock.tick(&mut self.rng, from_orig);
        self.cap.push(ts, f);
        self.pkts[usize::from(!from_orig)] += 1;
        Ok(())
    }

    pub fn pause(&mut self, max_ms: u64) {
        self.clock.pause(&mut self.rng, max_ms);
    }
}

/// Helpers used by the address pools.
pub fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}
pub fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use pcap_file::pcap::PcapReader;

    /// (src, dst, seq, ack, syn, fin, payload) of each TCP frame, plus the
    /// VLAN id, read back from a pcap.
    type Seg = (SocketAddr, SocketAddr, u32, u32, bool, bool, Vec<u8>, Option<u16>);

    fn read_back(pcap: &[u8]) -> Vec<Seg> {
        let mut r = PcapReader::new(pcap).unwrap();
        let mut out = Vec::new();
        let mut last_ts = Duration::ZERO;
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            assert!(p.timestamp >= last_ts, "pcap not in time order");
            last_ts = p.timestamp;
            let s = SlicedPacket::from_ethernet(&p.data).unwrap();
            let vlan = s.link_exts.first().and_then(|e| match e {
                etherparse::LinkExtSlice::Vlan(v) => Some(v.vlan_identifier().value()),
                _ => None,
            });
            let (src, dst): (IpAddr, IpAddr) = match s.net.unwrap() {
                NetSlice::Ipv4(i) => (i.header().source_addr().into(), i.header().destination_addr().into()),
                NetSlice::Ipv6(i) => (i.header().source_addr().into(), i.header().destination_addr().into()),
                _ => panic!("not IP"),
            };
            match s.transport.unwrap() {
                TransportSlice::Tcp(t) => out.push((
                    SocketAddr::new(src, t.source_port()),
                    SocketAddr::new(dst, t.destination_port()),
                    t.sequence_number(),
                    t.acknowledgment_number(),
                    t.syn(),
                    t.fin(),
                    t.payload().to_vec(),
                    vlan,
                )),
                TransportSlice::Udp(u) => out.push((
                    SocketAddr::new(src, u.source_port()),
                    SocketAddr::new(dst, u.destination_port()),
                    0,
                    0,
                    false,
                    false,
                    u.payload().to_vec(),
                    vlan,
                )),
                _ => panic!("not TCP/UDP"),
            }
        }
        out
    }

    /// Reassembles one direction by sequence number from the SYN on.
    fn reassemble(segs: &[Seg], from: SocketAddr) -> Vec<u8> {
        let mine: Vec<&Seg> = segs.iter().filter(|s| s.0 == from).collect();
        let isn = mine.iter().find(|s| s.4).expect("SYN").2.wrapping_add(1);
        let mut data = Vec::new();
        for s in mine.iter().filter(|s| !s.6.is_empty()) {
            let off = s.2.wrapping_sub(isn) as usize;
            assert_eq!(off, data.len(), "hole or overlap in the stream");
            data.extend_from_slice(&s.6);
        }
        data
    }

    #[test]
    fn tcp_streams_reassemble_and_pcap_parses_back() {
        for (v6, vlan) in [(false, None), (true, Some(42)), (false, Some(4094))] {
            let mut rng = Rng::new(31);
            let mut cap = Capture::new();
            let place = Place {
                t0_ns: 1_767_225_600_000_000_000,
                v6,
                vlan,
                telegram_range: false,
            };
            let ends = cap.ends(&mut rng, &place, 443, true);
            let a = rng.bytes(5000);
            let b = rng.bytes(3000);
            let c = rng.bytes(700);
            let mut t = Tcp::open(&mut cap, &mut rng, ends, place.t0_ns).unwrap();
            t.send_cut(true, &a, &[1, 17, 2000]).unwrap();
            t.send(false, &b).unwrap();
            t.send(true, &c).unwrap();
            let pk = t.close().unwrap();
            let mut out = Vec::new();
            cap.write_pcap(&mut out).unwrap();
            let segs = read_back(&out);
            assert_eq!(segs.len() as u64, pk[0] + pk[1]);
            assert_eq!(segs.iter().filter(|s| s.0 == ends.orig).count() as u64, pk[0]);
            assert!(segs.iter().all(|s| s.7 == vlan));
            let mut want = a.clone();
            want.extend_from_slice(&c);
            assert_eq!(reassemble(&segs, ends.orig), want);
            assert_eq!(reassemble(&segs, ends.resp), b);
            // Every ACK acknowledges exactly what the other side sent so far.
            let mut next = std::collections::HashMap::new();
            for s in &segs {
                if let Some(&n) = next.get(&s.1) {
                    assert_eq!(s.3, n, "ack number");
                }
                let adv = s.6.len() as u32 + u32::from(s.4) + u32::from(s.5);
                next.insert(s.0, s.2.wrapping_add(adv));
            }
            // Handshake then FIN from both sides.
            assert!(segs[0].4 && segs[1].4);
            assert_eq!(segs.iter().filter(|s| s.5).count(), 2);
        }
    }

    #[test]
    fn udp_datagrams_parse_back() {
        let mut rng = Rng::new(32);
        let mut cap = Capture::new();
        let place = Place {
            t0_ns: 1_767_225_600_000_000_000,
            v6: true,
            vlan: None,
            telegram_range: true,
        };
        let ends = cap.ends(&mut rng, &place, 443, false);
        assert!(super::super::addr::in_telegram_ranges(ends.resp.ip()));
        let mut u = Udp::new(&mut cap, &mut rng, ends, place.t0_ns);
        u.send(true, b"one").unwrap();
        u.send(false, b"two").unwrap();
        u.send(true, b"three").unwrap();
        assert_eq!(u.pkts, [2, 1]);
        let mut out = Vec::new();
        cap.write_pcap(&mut out).unwrap();
        let segs = read_back(&out);
        let p: Vec<&[u8]> = segs.iter().map(|s| &s.6[..]).collect();
        assert_eq!(p, [&b"one"[..], b"two", b"three"]);
        assert_eq!(segs[1].0, ends.resp);
    }
}
