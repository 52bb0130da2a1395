//! Dissectors: one file per protocol, registered by one line in
//! [`DISSECTORS`], in priority order.
//!
//! A dissector is a unit struct implementing [`Dissector`]. It is a pure
//! function of what the flow has carried so far ([`Payloads`]): the engine
//! keeps the first bytes of each direction (TCP: reassembled, in order;
//! UDP: the first datagrams) and calls the dissector again each time more
//! arrives. Because the inputs only grow, a dissector never has to keep
//! state of its own, and a split-input test is simply "feed every prefix".
//!
//! Two steps:
//! - [`Dissector::probe`]: cheap, on the first bytes; `Mine`, `Maybe`, or
//!   `NotMine` (the flow never asks this dissector again). A dissector may
//!   also declare the first bytes its probe admits
//!   ([`Dissector::first_bytes`]): the engine drops it from flows that
//!   open with another byte without calling the probe at all.
//! - [`Dissector::parse`]: extracts what the verdict needs into [`Meta`].
//!
//! Invariant: neither step may panic on any input.

use crate::verdict::Meta;

pub mod activision;
pub mod afp;
pub mod alicloud;
pub mod amongus;
pub mod amqp;
pub mod atg;
pub mod avast;
pub mod bacnet;
pub mod battlenet;
pub mod beckhoff_ads;
pub mod bfcp;
pub mod bfd;
pub mod bgp;
pub mod bitcoin;
pub mod bittorrent;
pub mod bjnp;
pub mod c1222;
pub mod c37118;
pub mod can;
pub mod capwap;
pub mod cassandra;
pub mod ceph;
pub mod checkmk;
pub mod cip_io;
pub mod cnp_ip;
pub mod coap;
pub mod cod_mobile;
pub mod collectd;
pub mod crynetwork;
pub mod dcerpc;
pub mod dhcp;
pub mod dhcpv6;
pub mod diameter;
pub mod dingtalk;
pub mod discord;
pub mod dlep;
pub mod dlms;
pub mod dnp3;
pub mod dns;
pub mod dnscrypt;
pub mod dropbox;
pub mod dtls;
pub mod eaq;
pub mod edonkey;
pub mod egd;
pub mod elasticsearch;
pub mod enet;
pub mod epicgames;
pub mod ether_sbus;
pub mod ethereum;
pub mod ethernetip;
pub mod ethersio;
pub mod fastcgi;
pub mod fins;
pub mod fix;
pub mod flute;
pub mod ftp;
pub mod gearman;
pub mod genshin;
pub mod giop;
pub mod git;
pub mod gnutella;
pub mod gtp_c;
pub mod h323;
pub mod hart_ip;
pub mod hislip;
pub mod hl7;
pub mod hots;
pub mod hsrp;
pub mod http;
pub mod http2;
pub mod huawei_push;
pub mod iax2;
pub mod icmp;
pub mod iec104;
pub mod imap;
pub mod ipsec;
pub mod iso9506_mms;
pub mod jrmi;
pub mod kafka;
pub mod kcp;
pub mod kerberos;
pub mod kismet;
pub mod knxip;
pub mod ldap;
pub mod ldp;
pub mod line_call;
pub mod lisp;
pub mod lol_wild_rift;
pub mod lustre;
pub mod memcached;
pub mod mgcp;
pub mod mining;
pub mod modbus;
pub mod monero;
pub mod mpegts;
pub mod mqtt;
pub mod mtproto;
pub mod mumble;
pub mod munin;
pub mod mysql;
pub mod nano;
pub mod natpmp;
pub mod nats;
pub mod netbios;
pub mod netcode;
pub mod netease_games;
pub mod netflow;
pub mod nntp;
pub mod nomachine;
pub mod ntp;
pub mod oicq;
pub mod onc_rpc;
pub mod ookla;
pub mod opcua;
pub mod openflow;
pub mod openvpn;
pub mod ospf;
pub mod pfcp;
pub mod pgm;
pub mod photon;
pub mod pia;
pub mod pim;
pub mod pop3;
pub mod postgres;
pub mod pptp;
pub mod ptp;
pub mod quic;
pub mod radius;
pub mod radmin;
pub mod raft;
pub mod raknet;
pub mod rdp;
pub mod redis;
#[cfg(test)]
mod registry_iot_tests;
pub mod riotgames;
pub mod ripe_atlas;
pub mod rmcp;
pub mod roughtime;
pub mod rsh;
pub mod rsync;
pub mod rtmp;
pub mod rtp;
pub mod rtps;
pub mod rtsp;
pub mod rx;
pub mod s7comm;
pub mod sctp;
pub mod sd_rtn;
pub mod sip;
pub mod skinny;
pub mod slp;
pub mod smb;
pub mod smpp;
pub mod smtp;
pub mod snmp;
pub mod socks;
pub mod softether;
pub mod someip;
pub mod source_engine;
pub mod spotify;
pub mod ssdp;
pub mod ssh;
pub mod statsd;
pub mod steam;
pub mod steam_datagram_relay;
pub mod stun;
pub mod syncthing;
pub mod syslog;
pub mod tailscale;
pub mod tds;
pub mod teamspeak;
pub mod teamviewer;
pub mod telnet;
pub mod tencent_games;
pub mod teredo;
pub mod tes_online;
pub mod text;
pub mod tftp;
pub mod threema;
pub mod thrift;
pub mod tinc;
pub mod tivoconnect;
pub mod tls;
pub mod tplink_shp;
pub mod trdp;
pub mod tuya;
pub mod ubntac2;
pub mod uftp;
pub mod viber;
pub mod vnc;
pub mod weave;
pub mod whatsapp;
pub mod whois;
pub mod wireguard;
pub mod wow;
pub mod wsd;
pub mod xdmcp;
pub mod xiaomi;
pub mod xmpp;
pub mod zabbix;
pub mod zoom;

/// Transport of a flow, as dissectors see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// What one direction has carried so far.
///
/// For TCP, `data` is the in-order reassembled stream prefix and `ends`
/// holds where each segment's new bytes end in it, so [`Side::first`] is the
/// first segment only; a parser that needs a message across segments reads
/// [`Side::stream`]. For UDP, `data` is the datagrams back to back and
/// `ends` holds the end offset of each.
#[derive(Clone, Copy, Debug, Default)]
pub struct Side<'a> {
    pub data: &'a [u8],
    pub ends: &'a [u32],
}

impl<'a> Side<'a> {
    /// The TCP stream prefix (or, for UDP, all datagrams concatenated).
    pub fn stream(&self) -> &'a [u8] {
        self.data
    }
    /// The datagrams (UDP) or the in-order segments (TCP).
    pub fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let data = self.data;
        let ends = self.ends;
        let mut start = 0usize;
        ends.iter().map(move |&e| {
            let e = (e as usize).min(data.len());
            let s = start.min(e);
            start = e;
            &data[s..e]
        })
    }
    /// The first datagram or segment, or empty.
    pub fn first(&self) -> &'a [u8] {
        self.chunks().next().unwrap_or(&[])
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Whether `a` and `b` hold the same bytes as far as both go: one is a
/// prefix of the other (an empty slice agrees with any). The test of a
/// signature against data that may have arrived in part: `a` can still
/// become `b`, or already begins with it.
///
/// A loop that stops at the first difference, most often the first byte.
/// The comparison it replaces, `a[..n] == b[..n]` with `n` the shorter
/// length, is of a length known only at run time and called `memcmp`, on
/// every flow whose first payload reached the dissector.
#[inline]
pub fn agrees(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Everything a dissector may look at.
#[derive(Clone, Copy, Debug)]
pub struct Payloads<'a> {
    pub transport: Transport,
    pub orig_port: u16,
    pub resp_port: u16,
    pub orig: Side<'a>,
    pub resp: Side<'a>,
    /// True once the engine will feed no more data (budget spent or flow
    /// ended): a dissector may then decide on partial evidence.
    pub last: bool,
}

impl<'a> Payloads<'a> {
    /// Builds a TCP view from two stream prefixes (tests and fuzzing).
    pub fn tcp(
        orig_port: u16,
        resp_port: u16,
        orig: &'a [u8],
        resp: &'a [u8],
        ends: &'a [[u32; 1]; 2],
    ) -> Payloads<'a> {
        Payloads {
            transport: Transport::Tcp,
            orig_port,
            resp_port,
            orig: Side {
                data: orig,
                ends: &ends[0],
            },
            resp: Side {
                data: resp,
                ends: &ends[1],
            },
            last: false,
        }
    }
    /// The first datagram (or TCP piece) of the originator, or of the
    /// responder when the originator has sent nothing yet.
    pub fn first_payload(&self) -> &'a [u8] {
        self.first_side().first()
    }
    /// The originator's side, or the responder's when the originator has
    /// sent nothing yet: whoever spoke first.
    pub fn first_side(&self) -> Side<'a> {
        if self.orig.is_empty() {
            self.resp
        } else {
            self.orig
        }
    }
    /// The side [`Self::first_side`] is not: the responder's, or the
    /// originator's (empty) when only the responder has spoken.
    pub fn second_side(&self) -> Side<'a> {
        if self.orig.is_empty() {
            self.orig
        } else {
            self.resp
        }
    }
    /// What a parse answers when the bytes so far are neither a match nor
    /// a mismatch: wait for more, unless nothing more will come.
    pub fn undecided(&self) -> Parse {
        if self.last {
            Parse::NotMine
        } else {
            Parse::NeedMore
        }
    }
    /// Either port equals `p`.
    pub fn port(&self, p: u16) -> bool {
        self.orig_port == p || self.resp_port == p
    }
    /// The probe of a protocol whose client speaks first with a known
    /// first byte: `Maybe` while nobody has spoken or when the
    /// originator's first byte passes `first`, `NotMine` otherwise.
    pub fn client_opens_with(&self, first: impl Fn(u8) -> bool) -> Probe {
        match self.orig.stream().first() {
            None if self.resp.is_empty() => Probe::Maybe,
            Some(&b) if first(b) => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
}

/// A set of byte values: what may open a flow a dissector claims
/// ([`Dissector::first_bytes`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    /// The bytes of `v`.
    pub const fn of(v: &[u8]) -> ByteSet {
        let mut s = ByteSet([0; 4]);
        let mut i = 0;
        while i < v.len() {
            s = s.with(v[i]);
            i += 1;
        }
        s
    }
    /// `lo..=hi`.
    pub const fn range(lo: u8, hi: u8) -> ByteSet {
        let mut s = ByteSet([0; 4]);
        let mut b = lo as usize;
        while b <= hi as usize {
            s = s.with(b as u8);
            b += 1;
        }
        s
    }
    /// This set and `b`.
    pub const fn with(self, b: u8) -> ByteSet {
        let mut w = self.0;
        w[(b / 64) as usize] |= 1 << (b % 64);
        ByteSet(w)
    }
    /// The first bytes of `words` (none may be empty): the initials of a
    /// table of methods or commands.
    pub const fn initials(words: &[&[u8]]) -> ByteSet {
        let mut s = ByteSet([0; 4]);
        let mut i = 0;
        while i < words.len() {
            s = s.with(words[i][0]);
            i += 1;
        }
        s
    }
    /// This set with each ASCII letter in both cases.
    pub const fn any_case(self) -> ByteSet {
        let mut s = self;
        let mut b = b'A';
        while b <= b'Z' {
            if self.contains(b) || self.contains(b.to_ascii_lowercase()) {
                s = s.with(b).with(b.to_ascii_lowercase());
            }
            b += 1;
        }
        s
    }
    /// The bytes of either set.
    pub const fn union(self, o: ByteSet) -> ByteSet {
        ByteSet([
            self.0[0] | o.0[0],
            self.0[1] | o.0[1],
            self.0[2] | o.0[2],
            self.0[3] | o.0[3],
        ])
    }
    pub const fn contains(&self, b: u8) -> bool {
        self.0[(b / 64) as usize] & (1 << (b % 64)) != 0
    }
}

/// For each value of the first byte of [`Payloads::first_payload`], the
/// dissectors whose [`Dissector::first_bytes`] admit it (all those that
/// declare none). The engine keeps only these candidates: the others'
/// probes would say `NotMine`.
pub fn admitting(first: u8) -> crate::flow::Candidates {
    static TABLE: std::sync::LazyLock<Vec<crate::flow::Candidates>> = std::sync::LazyLock::new(|| {
        (0..=255u8)
            .map(|b| {
                let mut c = crate::flow::Candidates::default();
                for (i, d) in DISSECTORS.iter().enumerate() {
                    if d.first_bytes().is_none_or(|s| s.contains(b)) {
                        c.insert(i);
                    }
                }
                c
            })
            .collect()
    });
    TABLE[usize::from(first)]
}

/// Result of the cheap probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Mine,
    Maybe,
    NotMine,
}

/// What a dissector keeps between its parses of one flow
/// ([`Dissector::parse_with_state`]).
/// One pointer wide: every flow under inspection carries one, few use it.
#[derive(Default)]
pub struct State(Option<Box<Kept>>);

struct Kept {
    /// Heap bytes held, boxes included, as the dissector counted them.
    bytes: usize,
    value: Box<dyn std::any::Any + Send>,
}

impl State {
    /// The value, if one of type `T` is kept.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_ref()?.value.downcast_ref()
    }
    /// Keeps `v`, which holds `heap` bytes besides itself.
    pub fn set<T: std::any::Any + Send>(&mut self, v: T, heap: usize) {
        let bytes = std::mem::size_of::<Kept>() + std::mem::size_of::<T>() + heap;
        self.0 = Some(Box::new(Kept {
            bytes,
            value: Box::new(v),
        }));
    }
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |k| k.bytes)
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("bytes", &self.heap_bytes()).finish()
    }
}

/// Result of a parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// Not this protocol after all.
    NotMine,
    /// Could be mine, need more bytes to say.
    NeedMore,
    /// This protocol: `meta` is filled as far as the data goes; more data
    /// may add details (e.g. the server's answer).
    Identified,
    /// This protocol, and nothing more to learn: stop inspecting.
    Done,
}

/// A protocol dissector. See the module documentation.
pub trait Dissector: Sync {
    /// Lowercase protocol name, as reported in `protocol`.
    fn name(&self) -> &'static str;
    /// Which transports it runs on.
    fn transports(&self) -> &'static [Transport];
    /// Cheap look at the first bytes.
    fn probe(&self, p: &Payloads<'_>) -> Probe;
    /// The bytes that may begin [`Payloads::first_payload`] of a flow
    /// this dissector claims, or `None` for any. Contract: whenever the
    /// first payload is not empty and begins with a byte outside the set,
    /// [`Dissector::probe`] says `NotMine`, whatever else the flow holds
    /// (ports, the other side, more bytes). The engine then drops the
    /// dissector from a flow's candidates without asking its probe (on
    /// the bench capture a run of the candidate loop called some 50
    /// probes, most refusing at the first byte). A test holds every
    /// declared set to its probe.
    fn first_bytes(&self) -> Option<ByteSet> {
        None
    }
    /// Full parse; fills `meta` (protocol, encryption, names, ...).
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse;
    /// [`Dissector::parse`] again on a flow this dissector identified,
    /// given `prev`, the meta its latest identifying call filled (as that
    /// call left it, plus the engine's defaults). Since that call the
    /// flow's sides only grew at their ends, or `last` was set: a side
    /// never changes what it held. A dissector whose work on a prefix is
    /// finished and costly (TLS: the ClientHello's fingerprints) may take
    /// it from `prev` instead of redoing it. Contract: the same verdict
    /// and meta as `parse`.
    ///
    /// `prev` is the flow's verdict until this call says otherwise: when
    /// it returns `Identified` or `Done`, its meta replaces `prev`, which
    /// the engine then drops, so the dissector may move fields out of
    /// `prev` instead of copying them; when it returns `NeedMore` or
    /// `NotMine`, `prev` stays the flow's verdict and must be left as it
    /// was.
    fn parse_again(&self, p: &Payloads<'_>, prev: &mut Meta, meta: &mut Meta) -> Parse {
        let _ = prev;
        self.parse(p, meta)
    }
    /// [`Dissector::parse`], or with `prev` [`Dissector::parse_again`]
    /// (the engine passes `prev` under the same condition), given
    /// `state`: this dissector's own for the flow, empty at its first
    /// parse of it, kept by the engine while the dissector is the flow's
    /// chosen one, dropped with the flow's payload. A dissector may keep
    /// there what it derived from the flow's bytes to save deriving it
    /// again; the flow's sides only grow, so a value can say which prefix
    /// it was derived from. Contract: the same verdict and meta as
    /// without the state (QUIC keeps its decrypted client side).
    fn parse_with_state(&self, p: &Payloads<'_>, prev: Option<&mut Meta>, state: &mut State, meta: &mut Meta) -> Parse {
        let _ = state;
        match prev {
            Some(prev) => self.parse_again(p, prev, meta),
            None => self.parse(p, meta),
        }
    }
    /// True when [`Dissector::parse_again`] reads `prev`. The engine
    /// then keeps the verdict of a flow this dissector identified
    /// unpacked while the flow is still inspected, instead of packing it
    /// after every packet and unpacking it for the next parse; for other
    /// dissectors it neither keeps nor unpacks it (`prev` goes unread).
    fn reuses_prev(&self) -> bool {
        false
    }
    /// True when a verdict of this dissector can change when only
    /// [`Payloads::last`] does: its parse reads `last` (beyond returning
    /// [`Payloads::undecided`], whose two answers are alike to a flow
    /// already identified). When a flow this dissector identified ends,
    /// or stalls, with no data it has not parsed, the engine runs the
    /// final pass (`last` set) only for such dissectors; for the others
    /// it would rebuild the verdict the flow already has. A test scans
    /// the dissectors' sources: a file that reads `last` must say true.
    fn final_pass(&self) -> bool {
        false
    }
}

/// The registry, in priority order: earlier entries are asked first, and
/// the first that identifies a flow wins. Adding a dissector is one line
/// here plus its file.
///
/// `tls`, `quic` and `mtproto` come first. Then: exact binary signatures
/// (magic strings, magic cookies, exact sizes) before text protocols, and
/// text protocols before the loosest shapes (DNS header, OpenVPN opcode,
/// NTP first byte), so a loose probe never steals a flow a strict one
/// would have proven.
pub static DISSECTORS: &[&dyn Dissector] = &[
    &tls::Tls,
    &quic::Quic,
    &mtproto::MtProto,
    // Magic strings / exact framing (TCP; rdp and bittorrent also UDP).
    &ssh::Ssh,
    &bittorrent::Bittorrent,
    &rdp::Rdp,
    &smb::Smb,
    &http2::Http2,
    &whatsapp::WhatsApp,
    &alicloud::AliCloud,
    &avast::Avast,
    &xiaomi::Xiaomi,
    &teamviewer::TeamViewer,
    &viber::Viber,
    &zabbix::Zabbix,
    &postgres::Postgres,
    &mysql::Mysql,
    &rtmp::Rtmp,
    &gearman::Gearman,
    &rsync::Rsync,
    &cassandra::Cassandra,
    &vnc::Vnc,
    &nomachine::NoMachine,
    &radmin::Radmin,
    &dingtalk::DingTalk,
    &wow::Wow,
    &huawei_push::HuaweiPush,
    &mqtt::Mqtt,
    &hl7::Hl7,
    &fastcgi::FastCgi,
    &thrift::Thrift,
    &checkmk::CheckMk,
    &h323::H323,
    &bitcoin::Bitcoin,
    &monero::Monero,
    &pptp::Pptp,
    &giop::Giop,
    &opcua::OpcUa,
    &diameter::Diameter,
    &socks::Socks,
    &bgp::Bgp,
    &ceph::Ceph,
    &lustre::Lustre,
    &raft::Raft,
    &threema::Threema,
    &battlenet::Battlenet,
    // UDP, exact sizes and magic cookies.
    &wireguard::Wireguard,
    &stun::Stun,
    &dtls::Dtls,
    &dnscrypt::DnsCrypt,
    &capwap::Capwap,
    &dhcp::Dhcp,
    &dhcpv6::Dhcpv6,
    &ipsec::Ipsec,
    &discord::DiscordVoice,
    &sd_rtn::SdRtn,
    &riotgames::RiotGames,
    &spotify::Spotify,
    &syncthing::Syncthing,
    &dropbox::Dropbox,
    &tuya::Tuya,
    &pia::Pia,
    &zoom::Zoom,
    &crynetwork::CryNetwork,
    &radius::Radius,
    &snmp::Snmp,
    &xdmcp::Xdmcp,
    &activision::Activision,
    &photon::Photon,
    &amongus::AmongUs,
    &mumble::Mumble,
    &genshin::Genshin,
    &teamspeak::TeamSpeak,
    &hots::Hots,
    &uftp::Uftp,
    &softether::SoftEther,
    &steam::Steam,
    &can::Can,
    &dcerpc::DceRpc,
    &iax2::Iax2,
    &lisp::Lisp,
    &ptp::Ptp,
    &ldp::Ldp,
    &netflow::Netflow,
    &trdp::Trdp,
    // Online games: exact sizes and magic words.
    &lol_wild_rift::LolWildRift,
    &netcode::Netcode,
    &netease_games::NetEaseGames,
    &epicgames::EpicGames,
    &tencent_games::TencentGames,
    &enet::Enet,
    &statsd::Statsd,
    &cod_mobile::CodMobile,
    &steam_datagram_relay::SteamSdr,
    &ripe_atlas::RipeAtlas,
    &egd::Egd,
    &gtp_c::GtpC,
    &tailscale::Tailscale,
    &cnp_ip::CnpIp,
    &ethersio::EtherSio,
    // Text protocols.
    &http::Http,
    &smtp::Smtp,
    &ftp::Ftp,
    &imap::Imap,
    &pop3::Pop3,
    &nntp::Nntp,
    &ookla::Ookla,
    &xmpp::Xmpp,
    &sip::Sip,
    &ssdp::Ssdp,
    &wsd::Wsd,
    &rtsp::Rtsp,
    &mgcp::Mgcp,
    &nats::Nats,
    &munin::Munin,
    &fix::Fix,
    &mining::Mining,
    &tivoconnect::TivoConnect,
    &tinc::Tinc,
    &kismet::Kismet,
    &redis::Redis,
    &memcached::Memcached,
    &telnet::Telnet,
    &git::Git,
    &jrmi::Jrmi,
    &smpp::Smpp,
    &openflow::OpenFlow,
    &afp::Afp,
    &beckhoff_ads::BeckhoffAds,
    &syslog::Syslog,
    // Looser binary shapes last.
    &netbios::Netbios,
    &onc_rpc::OncRpc,
    &dns::Dns,
    &teredo::Teredo,
    &openvpn::Openvpn,
    &ntp::Ntp,
    &slp::Slp,
    &gnutella::Gnutella,
    &ethereum::Ethereum,
    &nano::Nano,
    &source_engine::SourceEngine,
    &bacnet::Bacnet,
    &bjnp::Bjnp,
    &natpmp::NatPmp,
    &coap::Coap,
    &kerberos::Kerberos,
    &ldap::Ldap,
    &iec104::Iec104,
    &iso9506_mms::Iso9506Mms,
    &s7comm::S7comm,
    &weave::Weave,
    &eaq::Eaq,
    &oicq::Oicq,
    &dnp3::Dnp3,
    &tplink_shp::TplinkShp,
    &rmcp::Rmcp,
    &hsrp::Hsrp,
    &tftp::Tftp,
    &raknet::Raknet,
    &kcp::Kcp,
    &bfd::Bfd,
    &kafka::Kafka,
    &tds::Tds,
    &elasticsearch::Elasticsearch,
    &ubntac2::Ubntac2,
    &collectd::Collectd,
    &roughtime::Roughtime,
    &ethernetip::EthernetIp,
    &amqp::Amqp,
    &tes_online::TesOnline,
    &rsh::Rsh,
    &modbus::Modbus,
    &knxip::KnxIp,
    &hart_ip::HartIp,
    &someip::SomeIp,
    &c1222::C1222,
    &rtps::Rtps,
    &hislip::HiSlip,
    &pfcp::Pfcp,
    &cip_io::CipIo,
    &c37118::C37118,
    &mpegts::MpegTs,
    &fins::Fins,
    &ether_sbus::EtherSbus,
    &dlep::Dlep,
    &atg::Atg,
    &dlms::Dlms,
    &bfcp::Bfcp,
    &skinny::Skinny,
    &whois::Whois,
    &edonkey::Edonkey,
    &line_call::LineCall,
    &flute::Flute,
    // Two datagrams of one Rx connection.
    &rx::Rx,
    // Needs two packets of a stream: after every one-packet decision.
    &rtp::Rtp,
];

/// Finds a dissector by protocol name.
pub fn by_name(name: &str) -> Option<&'static dyn Dissector> {
    DISSECTORS.iter().copied().find(|d| d.name() == name)
}

/// Test helper: runs `parse` on every split of `orig` (the first `k`
/// bytes, then all) and checks the final verdict equals the whole-input
/// one and no prefix panics. Returns the whole-input meta.
#[cfg(test)]
pub(crate) fn check_split_tcp(d: &dyn Dissector, port: u16, orig: &[u8], resp: &[u8]) -> (Parse, Meta) {
    let ends = [[orig.len() as u32], [resp.len() as u32]];
    let full = Payloads::tcp(40000, port, orig, resp, &ends);
    let mut whole = Meta::default();
    let r = d.parse(&full, &mut whole);
    for k in 0..orig.len() {
        let ends = [[k as u32], [0]];
        let p = Payloads::tcp(40000, port, &orig[..k], &[], &ends);
        let mut m = Meta::default();
        let _ = d.probe(&p);
        let _ = d.parse(&p, &mut m);
    }
    for k in 0..resp.len() {
        let ends = [[orig.len() as u32], [k as u32]];
        let p = Payloads::tcp(40000, port, orig, &resp[..k], &ends);
        let mut m = Meta::default();
        let _ = d.parse(&p, &mut m);
    }
    (r, whole)
}

/// Test helper: a view of UDP datagrams.
#[cfg(test)]
pub(crate) struct UdpFixture {
    pub orig_port: u16,
    pub resp_port: u16,
    pub orig: Vec<u8>,
    pub orig_ends: Vec<u32>,
    pub resp: Vec<u8>,
    pub resp_ends: Vec<u32>,
}

#[cfg(test)]
impl UdpFixture {
    pub fn new(orig_port: u16, resp_port: u16, orig: &[&[u8]], resp: &[&[u8]]) -> UdpFixture {
        let cat = |d: &[&[u8]]| {
            let mut v = Vec::new();
            let mut e = Vec::new();
            for x in d {
                v.extend_from_slice(x);
                e.push(v.len() as u32);
            }
            (v, e)
        };
        let (o, oe) = cat(orig);
        let (r, re) = cat(resp);
        UdpFixture {
            orig_port,
            resp_port,
            orig: o,
            orig_ends: oe,
            resp: r,
            resp_ends: re,
        }
    }
    pub fn payloads(&self) -> Payloads<'_> {
        Payloads {
            transport: Transport::Udp,
            orig_port: self.orig_port,
            resp_port: self.resp_port,
            orig: Side {
                data: &self.orig,
                ends: &self.orig_ends,
            },
            resp: Side {
                data: &self.resp,
                ends: &self.resp_ends,
            },
            last: false,
        }
    }
}

/// Test fixtures written as hex (whitespace and other non-hex characters
/// are skipped).
#[cfg(test)]
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Test helper: whether the engine would keep inspecting `p` with `d`:
/// neither its probe nor its parse refuses it. Near-miss tests assert this
/// is false.
#[cfg(test)]
pub(crate) fn not_refused(d: &dyn Dissector, p: &Payloads<'_>) -> bool {
    d.probe(p) != Probe::NotMine && d.parse(p, &mut Meta::default()) != Parse::NotMine
}

/// Test helper for UDP: parses the whole exchange, then every prefix of
/// every datagram (earlier datagrams whole), probing and parsing each so
/// no truncation panics. Returns the whole-input verdict.
#[cfg(test)]
pub(crate) fn check_split_udp(
    d: &dyn Dissector,
    orig_port: u16,
    resp_port: u16,
    orig: &[&[u8]],
    resp: &[&[u8]],
) -> (Parse, Meta) {
    let full = UdpFixture::new(orig_port, resp_port, orig, resp);
    let mut whole = Meta::default();
    let r = d.parse(&full.payloads(), &mut whole);
    for i in 0..orig.len() + resp.len() {
        let (o_n, r_n, dg) = if i < orig.len() {
            (i, 0, orig[i])
        } else {
            (orig.len(), i - orig.len(), resp[i - orig.len()])
        };
        for k in 0..=dg.len() {
            let mut o: Vec<&[u8]> = orig[..o_n].to_vec();
            let mut rr: Vec<&[u8]> = resp[..r_n].to_vec();
            if i < orig.len() {
                o.push(&dg[..k]);
            } else {
                rr.push(&dg[..k]);
            }
            let f = UdpFixture::new(orig_port, resp_port, &o, &rr);
            let mut m = Meta::default();
            let _ = d.probe(&f.payloads());
            let _ = d.parse(&f.payloads(), &mut m);
        }
    }
    (r, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a dissector as the engine does: probe, then parse.
    fn claims(d: &dyn Dissector, p: &Payloads<'_>) -> bool {
        if d.probe(p) == Probe::NotMine {
            return false;
        }
        let mut m = Meta::default();
        matches!(d.parse(p, &mut m), Parse::Identified | Parse::Done)
    }

    /// Every declared [`Dissector::first_bytes`] holds: a first payload
    /// that begins with another byte gets `NotMine` from the probe,
    /// whatever follows it, whoever spoke first, on any port. (The engine
    /// drops such dissectors without asking; a set too small would lose
    /// flows, and the corpus tests would show it too.)
    #[test]
    fn first_bytes_are_what_the_probes_admit() {
        /// The originator's and the responder's pieces.
        type Shape<'s> = (Vec<&'s [u8]>, Vec<&'s [u8]>);
        let mut x = 0x9e37_79b9u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        const PORTS: [u16; 14] = [
            0, 53, 80, 123, 443, 1194, 1883, 3478, 5060, 8080, 9000, 27015, 51820, 65535,
        ];
        let mut declared = 0;
        for d in DISSECTORS {
            let Some(set) = d.first_bytes() else { continue };
            declared += 1;
            for &t in d.transports() {
                for b in (0..=255u8).filter(|&b| !set.contains(b)) {
                    for len in [0usize, 5, 19, 120] {
                        let mut first = vec![b];
                        first.extend((0..len).map(|_| next() as u8));
                        let other: Vec<u8> = (0..1 + next() as usize % 64).map(|_| next() as u8).collect();
                        let more: Vec<u8> = (0..1 + next() as usize % 64).map(|_| next() as u8).collect();
                        let port = PORTS[next() as usize % PORTS.len()];
                        let any = (next() % 65536) as u16;
                        // Only the originator spoke; both did; only the
                        // responder did; the originator twice.
                        let (first, other, more) = (&first[..], &other[..], &more[..]);
                        let shapes: [Shape<'_>; 4] = [
                            (vec![first], vec![]),
                            (vec![first], vec![other]),
                            (vec![], vec![first]),
                            (vec![first, more], vec![other]),
                        ];
                        for (o, r) in &shapes {
                            for (op, rp) in [(port, any), (any, port)] {
                                let f = UdpFixture::new(op, rp, o, r);
                                let p = Payloads {
                                    transport: t,
                                    last: len % 2 == 1,
                                    ..f.payloads()
                                };
                                assert_eq!(
                                    d.probe(&p),
                                    Probe::NotMine,
                                    "{}: first byte {b:#04x} is outside its first_bytes, yet the probe admits {:02x?} / {:02x?} on {t:?} ports {op}/{rp}",
                                    d.name(),
                                    &f.orig[..f.orig.len().min(24)],
                                    &f.resp[..f.resp.len().min(24)],
                                );
                            }
                        }
                    }
                }
            }
        }
        // 128 declare a set today: the test is not run on a handful.
        assert!(declared >= 100, "only {declared} dissectors declare their first bytes");
    }

    #[test]
    fn the_engine_keeps_the_candidates_a_first_byte_admits() {
        for b in 0..=255u8 {
            let c = admitting(b);
            for (i, d) in DISSECTORS.iter().enumerate() {
                assert_eq!(
                    c.contains(i),
                    d.first_bytes().is_none_or(|s| s.contains(b)),
                    "{} {b}",
                    d.name()
                );
            }
        }
        let s = ByteSet::of(b"GP").union(ByteSet::range(0x14, 0x17)).with(0xff);
        let inside: Vec<u8> = (0..=255u8).filter(|&b| s.contains(b)).collect();
        assert_eq!(inside, [0x14, 0x15, 0x16, 0x17, b'G', b'P', 0xff]);
        assert!(!ByteSet::default().contains(0));
        let words: [&[u8]; 3] = [b"GET", b"put", b"Post"];
        assert_eq!(ByteSet::initials(&words), ByteSet::of(b"GpP"));
        assert_eq!(ByteSet::initials(&words).with(0).any_case(), ByteSet::of(b"GgPp\0"));
    }

    #[test]
    fn random_payloads_are_claimed_by_no_dissector() {
        let mut x = 0x1234_5678u32;
        let mut next = move || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        };
        let mut claimed: Vec<(&str, usize)> = Vec::new();
        for i in 0..10_000usize {
            let len = 1 + (usize::from(next()) << 8 | usize::from(next())) % 599;
            let a: Vec<u8> = (0..len).map(|_| next()).collect();
            let rlen = 1 + usize::from(next()) * 2;
            let b: Vec<u8> = (0..rlen).map(|_| next()).collect();
            // Neutral ports and the well-known ports of the dissectors;
            // both transports; with and without an answer.
            const PORTS: [u16; 21] = [
                9000, 123, 53, 5353, 80, 22, 25, 143, 110, 3478, 1194, 51820, 67, 3389, 445, 6881, 443, 500, 4500,
                8801, 50004,
            ];
            let port = PORTS[i % PORTS.len()];
            let ends = [[a.len() as u32], [b.len() as u32]];
            let tcp = Payloads::tcp(40000 + (i as u16 % 1000), port, &a, &b, &ends);
            let ends0 = [[a.len() as u32], [0]];
            let tcp0 = Payloads::tcp(40000, port, &a, &[], &ends0);
            let u = UdpFixture::new(40000, port, &[&a], &[&b]);
            let u0 = UdpFixture::new(40000, port, &[&a], &[]);
            for d in DISSECTORS {
                for p in [tcp, tcp0, u.payloads(), u0.payloads()] {
                    if d.transports().contains(&p.transport) && claims(*d, &p) {
                        claimed.push((d.name(), i));
                    }
                }
            }
        }
        assert!(claimed.is_empty(), "claimed: {claimed:?}");
    }

    /// The first dissector in registry order that claims the flow.
    fn first_claimant(p: &Payloads<'_>) -> Option<&'static str> {
        DISSECTORS
            .iter()
            .find(|d| d.transports().contains(&p.transport) && claims(**d, p))
            .map(|d| d.name())
    }

    #[test]
    fn registry_order_gives_each_protocol_its_dissector() {
        let dns_q: &[u8] =
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
        let mut stun = vec![0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[7; 12]);
        stun.extend_from_slice(&[0x80, 0x22, 0, 4, b'a', b'b', b'c', b'd']);
        let mut wg = vec![1u8, 0, 0, 0];
        wg.resize(148, 0x5a);
        let mut dhcp = vec![0u8; 240];
        dhcp[..4].copy_from_slice(&[1, 1, 6, 0]);
        dhcp[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
        dhcp.extend_from_slice(&[53, 1, 1, 255]);
        let mut ntp = vec![0u8; 48];
        ntp[0] = 0x23;
        let ovpn_c = [0x38u8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0];
        let ovpn_s = [
            0x40u8, 9, 9, 9, 9, 9, 9, 9, 9, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0,
        ];
        let mut ike = vec![0x11u8; 8];
        ike.extend_from_slice(&[0; 8]);
        ike.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 36]);
        ike.extend_from_slice(&[0; 8]);
        let rtp = |seq: u8| [0x80u8, 0, 0, seq, 0, 0, seq, 0, 1, 2, 3, 4, 0xd5, 0xd5];
        let udp: [(u16, &[u8], &[u8], &str); 7] = [
            (500, &ike, &[], "ipsec"),
            (53, dns_q, &[], "dns"),
            (3478, &stun, &[], "stun"),
            (51820, &wg, &[], "wireguard"),
            (67, &dhcp, &[], "dhcp"),
            (123, &ntp, &[], "ntp"),
            (1194, &ovpn_c, &ovpn_s, "openvpn"),
        ];
        for (port, o, r, want) in udp {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![r] };
            let f = UdpFixture::new(40000, port, &[o], &resp);
            assert_eq!(first_claimant(&f.payloads()), Some(want), "{want}");
        }
        // RTP needs two packets of one stream.
        let (r1, r2) = (rtp(1), rtp(2));
        let f = UdpFixture::new(40000, 5004, &[&r1, &r2], &[]);
        assert_eq!(first_claimant(&f.payloads()), Some("rtp"));
        let mut bt = b"\x13BitTorrent protocol".to_vec();
        bt.resize(68, 0x33);
        let tcp: [(u16, &[u8], &[u8], &str); 5] = [
            (80, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", b"", "http"),
            (22, b"SSH-2.0-OpenSSH_9.6\r\n", b"SSH-2.0-OpenSSH_9.6\r\n", "ssh"),
            (25, b"EHLO a\r\n", b"220 mx ESMTP\r\n", "smtp"),
            (6881, &bt, b"", "bittorrent"),
            (
                3389,
                b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00",
                b"",
                "rdp",
            ),
        ];
        for (port, o, r, want) in tcp {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, port, o, r, &ends);
            assert_eq!(first_claimant(&p), Some(want), "{want}");
        }
    }

    /// The industrial, network-control and game protocols after the
    /// loose shapes: none of the earlier dissectors takes their flows.
    #[test]
    fn registry_order_leaves_late_protocols_to_their_dissectors() {
        let mut tuya = vec![0u8, 0, 0x55, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0x13, 0, 0, 0, 12];
        tuya.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0xaa, 0x55]);
        let mut key = 171u8;
        let shp: Vec<u8> = br#"{"system":{"get_sysinfo":{}}}"#
            .iter()
            .map(|&b| {
                key ^= b;
                key
            })
            .collect();
        let mut kcp = vec![
            0x0a, 0, 0, 0, 81, 0, 0x80, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0,
        ];
        kcp.extend_from_slice(b"abcd");
        let mut raknet = vec![
            0x05, 0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd,
        ];
        raknet.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x0b]);
        raknet.resize(1400, 0);
        let bfd = [
            0x20u8, 0xc0, 0x03, 0x18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x0f, 0x42, 0x40, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 0,
        ];
        let hsrp = [
            0u8, 0, 0x10, 0x03, 0x0a, 0x5a, 0x0a, 0, b'c', b'i', b's', b'c', b'o', 0, 0, 0, 10, 28, 168, 254,
        ];
        let udp: [(u16, &[u8], &[u8], &str); 8] = [
            (6667, &tuya, &[], "tuya_lp"),
            (9999, &shp, &[], "tplink_shp"),
            (8000, &kcp, &[], "kcp"),
            (19132, &raknet, &[], "raknet"),
            (3784, &bfd, &[], "bfd"),
            (1985, &hsrp, &[], "hsrp"),
            (69, b"\x00\x01boot.img\x00octet\x00", &[], "tftp"),
            (
                623,
                &[0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0, 0, 0],
                &[],
                "rmcp",
            ),
        ];
        for (port, o, r, want) in udp {
            let resp: Vec<&[u8]> = if r.is_empty() { vec![] } else { vec![r] };
            let f = UdpFixture::new(40000, port, &[o], &resp);
            assert_eq!(first_claimant(&f.payloads()), Some(want), "{want}");
        }
        let tcp: [(u16, &[u8], &[u8], &str); 4] = [
            (10051, b"ZBXD\x01\x03\x00\x00\x00\x00\x00\x00\x00abc", b"", "zabbix"),
            (
                5432,
                b"\x00\x00\x00\x12\x00\x03\x00\x00user\x00bob\x00\x00",
                b"",
                "postgresql",
            ),
            (502, &[0, 1, 0, 0, 0, 6, 1, 3, 0, 1, 0, 1], &[], "modbus"),
            (
                20000,
                &[0x05, 0x64, 0x05, 0xc9, 0x04, 0x00, 0x03, 0x00, 0x12, 0x34],
                &[],
                "dnp3",
            ),
        ];
        for (port, o, r, want) in tcp {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, port, o, r, &ends);
            assert_eq!(first_claimant(&p), Some(want), "{want}");
        }
    }

    #[test]
    fn registry_order_gives_app_protocols_their_dissector() {
        // UDP: exact shapes behind their ports.
        let mut eaq = vec![0u8; 12];
        eaq.extend_from_slice(&[0, 0, 0x90, 0]);
        let mut oicq = vec![2u8, 0x3b, 0x0b, 0, 1, 0, 0x17, 0x56, 0x1f, 0x0c, 0x7b];
        oicq.extend_from_slice(&[0x5a; 32]);
        oicq.push(3);
        let mut sd_rtn = vec![0u8, 0x5a, 0x38, 0x4c, 0, 0, 0x21, 0, 0, 0, 0, 0, 1];
        sd_rtn.extend_from_slice(b"SNI\0\x04\x00a.io");
        let mut riot = vec![0x73u8; 28];
        riot.extend_from_slice(&[0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb]);
        let mut spotify = b"SpotUdp0".to_vec();
        spotify.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 0]);
        spotify.extend_from_slice(&[0x89; 20]);
        let mut syncthing = vec![0x2e, 0xa7, 0xd9, 0x0b, 0x0a, 32];
        syncthing.extend_from_slice(&[7; 32]);
        syncthing.extend_from_slice(b"\x12\x15tcp://192.0.2.1:22000");
        let udp: [(u16, &[u8], &str); 6] = [
            (6000, &eaq, "eaq"),
            (8000, &oicq, "oicq"),
            (8130, &sd_rtn, "sd_rtn"),
            (8181, &riot, "riotgames"),
            (57621, &spotify, "spotify"),
            (21027, &syncthing, "syncthing"),
        ];
        for (port, o, want) in udp {
            let f = UdpFixture::new(40000, port, &[o], &[]);
            assert_eq!(first_claimant(&f.payloads()), Some(want), "{want}");
        }
        // TCP: framed binary channels, some on ports of text protocols.
        let mut alicloud = vec![0xce, 0xfa, 0xbe, 0xba, 16, 0, 0, 0];
        alicloud.extend_from_slice(&[0x72; 16]);
        let mut avast = b"NOSA\x00\x10\x01\x01".to_vec();
        avast.extend_from_slice(&[0; 8]);
        let mut xiaomi = vec![0xc2, 0xfe, 0, 5, 0, 0, 0, 8];
        xiaomi.extend_from_slice(&[0x30; 12]);
        let xmpp = b"<?xml version='1.0'?><stream:stream to='a.example' xmlns='jabber:client'>";
        let mut teamviewer = vec![0x17, 0x24, 0x0a, 2, 0, 0x20, 0x20];
        teamviewer.extend_from_slice(&[0x17, 0x24, 0x28, 0, 0]);
        let mut viber = vec![14, 0, 0xad, 0xd4, 0xdc, 0x17, 0xfc, 0xff, 3, 0x80];
        viber.extend_from_slice(&[0x59, 0, 0x0a, 0]);
        let mut weave = vec![22, 0, 0x00, 0x13, 8, 3, 0, 0];
        weave.extend_from_slice(&[1; 16]);
        let tcp: [(u16, &[u8], &str); 7] = [
            (8999, &alicloud, "alicloud"),
            (80, &avast, "avast"),
            (5222, &xiaomi, "xiaomi"),
            (5222, xmpp, "xmpp"),
            (5938, &teamviewer, "teamviewer"),
            (4244, &viber, "viber"),
            (11095, &weave, "weave"),
        ];
        for (port, o, want) in tcp {
            let ends = [[o.len() as u32], [0]];
            let p = Payloads::tcp(40000, port, o, &[], &ends);
            assert_eq!(first_claimant(&p), Some(want), "{want}");
        }
    }

    /// Remote-access and app protocols added for the nDPI encryption
    /// comparison: no earlier dissector takes their flows.
    #[test]
    fn registry_order_gives_remote_access_their_dissector() {
        let steam: &[u8] = b"\xff\xff\xff\xff\x21\x4c\x5f\xa0\x04\x00\x00\x00\x08\x01\x10\x00\x02\x00\x00\x00\x08\x01";
        let pack: &[u8] = b"\x00\x00\x00\x02\x00\x00\x00\x07opcode\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x09get_token\x00\x00\x00\x03ok\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01";
        for (port, o, want) in [(27036, steam, "steam"), (5004, pack, "softether")] {
            let f = UdpFixture::new(40000, port, &[o], &[]);
            assert_eq!(first_claimant(&f.payloads()), Some(want), "{want}");
        }
        let c: &[u8] = b"\x01\x00\x00\x00\x01\x00\x00\x00\x08\x08";
        let s: &[u8] = b"\x01\x00\x00\x00\x05\x00\x00\x00\x27\x27\x00\x00\x00\x00";
        let ends = [[c.len() as u32], [s.len() as u32]];
        let p = Payloads::tcp(40000, 4899, c, s, &ends);
        assert_eq!(first_claimant(&p), Some("radmin"));
    }

    /// The source of a dissector file without its test module.
    fn code_of(path: &std::path::Path) -> String {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        let cut = [
            "#[cfg(test)]\nmod tests",
            "#[cfg(test)]\npub(crate) mod tests",
            "#[cfg(test)]\npub mod tests",
        ]
        .iter()
        .filter_map(|m| s.find(m))
        .min()
        .unwrap_or(s.len());
        s[..cut].to_string()
    }

    /// Whether `code` reads or sets a field `last` (`p.last`), as opposed
    /// to calling a method such as `slice.last()`.
    fn touches_last(code: &str) -> bool {
        code.match_indices(".last").any(|(i, m)| {
            code[i + m.len()..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '('))
        })
    }

    #[test]
    fn touches_last_tells_fields_from_methods() {
        assert!(touches_last("if p.last {"));
        assert!(touches_last("midstream(a, b, p.last, meta)"));
        assert!(touches_last("Foo { last: p.last }"));
        assert!(!touches_last("v.last() == Some(&0)"));
        assert!(!touches_last("p.last_seen + p.lasting"));
    }

    /// A dissector whose code reads `Payloads::last` must ask for the
    /// final pass ([`Dissector::final_pass`]), or the engine would keep a
    /// verdict that `last` would have changed; and one that does not read
    /// it must not ask (the pass would be wasted). One `impl Dissector`
    /// per file, so the file is the unit.
    #[test]
    fn final_pass_is_declared_exactly_where_last_is_read() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/dissect");
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("dissect dir").flatten() {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 150, "found {} dissector files", files.len());
        let mut wrong = Vec::new();
        let mut reading = 0;
        for path in files {
            // The module root defines `Payloads::undecided` (whose two
            // answers are alike to an identified flow); test files only test.
            if path == root.join("mod.rs") || path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let code = code_of(&path);
            let reads = touches_last(&code);
            let declares = code.contains("fn final_pass(&self) -> bool {\n        true");
            reading += usize::from(reads);
            if reads != declares {
                wrong.push(format!(
                    "{} (reads last: {reads}, final_pass: {declares})",
                    path.display()
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "final_pass out of step with the code:\n{}",
            wrong.join("\n")
        );
        assert!(reading >= 20, "only {reading} files read `last`: is the scan broken?");
        let asking = DISSECTORS.iter().filter(|d| d.final_pass()).count();
        assert_eq!(asking, reading, "one dissector per file that reads `last`");
    }

    #[test]
    fn agreeing_is_comparing_the_common_prefix() {
        let sig = b"GET ";
        for (d, want) in [
            (&b""[..], true),
            (b"G", true),
            (b"GE", true),
            (b"GET /index", true),
            (b"GEX", false),
            (b"X", false),
            (b"get ", false),
        ] {
            assert_eq!(agrees(d, sig), want, "{d:?}");
            assert_eq!(agrees(sig, d), want, "{d:?} (either way round)");
        }
        // The comparison it replaces, on every pair of short slices over
        // two byte values.
        let all: Vec<Vec<u8>> = (0..5usize)
            .flat_map(|len| (0..1u32 << len).map(move |bits| (0..len).map(|i| (bits >> i & 1) as u8).collect()))
            .collect();
        for a in &all {
            for b in &all {
                let n = a.len().min(b.len());
                assert_eq!(agrees(a, b), a[..n] == b[..n], "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn registry_names_unique_and_lowercase() {
        let mut names: Vec<&str> = DISSECTORS.iter().map(|d| d.name()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| !c.is_ascii_uppercase())));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(DISSECTORS.len() <= crate::flow::Candidates::BITS);
        assert!(DISSECTORS.len() <= usize::from(u8::MAX) + 1, "Inspect::chosen is a u8");
    }
}
