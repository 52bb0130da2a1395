//! Cross-flow association ("expected connections"): a flow whose own
//! packets prove nothing can still be named from an earlier flow that
//! announced it.
//!
//! The one announcement used today is TURN (RFC 8656). Before a call
//! client may exchange media with a peer through its relay, it installs a
//! permission for the peer's address with a CreatePermission (or
//! ChannelBind) request, authenticated with the relay's REALM. WebRTC-
//! style clients (Telegram's calls among them) then run ICE checks and
//! media *directly* to the same peer addresses: those flows carry only
//! generic STUN and SRTP, nothing app-specific. When the realm names an
//! application in the rules (Telegram: `telegram.org`), every later UDP
//! flow to or from a peer named in the request is associated with it.
//!
//! Where it runs: wherever every packet is seen in capture order. One
//! thread runs one table. With several workers each runs its own: every
//! worker is shown every announcement ([`Associations::announces`]) in
//! capture order and learns from it, and looks up only its own packets
//! ([`Associations::lookup`]). A packet to or from a learned peer carries
//! an [`AssocHint`], and the engine keeps the hint of the packet that
//! *created* the flow (a flow that began before the announcement is not
//! associated). Learning and matching thus depend only on packet order,
//! so the records are the same for any `--threads`.
//!
//! Memory: at most [`MAX_PEERS`] learned peers (the oldest is dropped
//! first when full), each forgotten [`PEER_TTL_NS`] after it was last
//! announced. Per packet: a two-byte compare for learning; while peers
//! are known, two hash lookups for UDP packets.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::decode::{ipproto, Addr, PacketView};
use crate::dissect::stun::turn_permission;

/// Learned peers kept at most (about 100 bytes each).
pub const MAX_PEERS: usize = 4096;
/// A learned peer is forgotten this long after its last announcement:
/// a TURN permission lives 300 s unless refreshed (RFC 8656 section 9).
pub const PEER_TTL_NS: u64 = 300_000_000_000;

/// Why a flow is associated: set on the flow as `extra` fields
/// `assoc_realm`, `assoc_peer` and `assoc_from`.
#[derive(Debug, PartialEq, Eq)]
pub struct AssocInfo {
    /// The TURN realm of the announcing request (mapped to an app by the
    /// rules).
    pub realm: Box<str>,
    /// The peer endpoint this flow talks to, `ip:port`.
    pub peer: String,
    /// The announcing flow, `udp ip:port > ip:port` (client > relay).
    pub from: String,
}

/// Attached to a packet whose flow may be associated. Cheap to clone.
pub type AssocHint = Arc<AssocInfo>;

type Endpoint = (Addr, u16);
type Map<K, V> = hashbrown::HashMap<K, V, foldhash::fast::FixedState>;

struct Learned {
    info: AssocHint,
    /// When it was last announced (capture clock).
    ts_ns: u64,
    /// Which announcement this is: the one `order` entry carrying it is
    /// current. (Timestamps cannot tell: captures repeat them.)
    seq: u64,
}

/// An association table: one per worker, each learning from every
/// announcement in capture order.
pub struct Associations {
    peers: Map<Endpoint, Learned>,
    /// Insertion order for eviction; an entry whose sequence number no
    /// longer matches the map's is stale (the peer was announced again).
    order: VecDeque<(Endpoint, u64)>,
    /// The next announcement's sequence number.
    next_seq: u64,
    cap: usize,
    /// Realms worth remembering (those the rules name an app for).
    known_realm: Box<dyn Fn(&str) -> bool + Send>,
}

impl Associations {
    /// `known_realm` says whether a TURN realm names an application;
    /// announcements under other realms are not remembered.
    pub fn new(cap: usize, known_realm: impl Fn(&str) -> bool + Send + 'static) -> Associations {
        Associations {
            peers: Map::default(),
            order: VecDeque::new(),
            next_seq: 0,
            cap: cap.max(1),
            known_realm: Box::new(known_realm),
        }
    }

    /// Number of peers currently remembered.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Learns from `pkt` (a TURN permission request under a known realm)
    /// and returns the hint for its flow when one of its endpoints is a
    /// learned peer.
    pub fn observe(&mut self, pkt: &PacketView<'_>) -> Option<AssocHint> {
        if pkt.tuple.proto != ipproto::UDP {
            return None;
        }
        if let Some(p) = turn_permission(pkt.payload) {
            self.learn(pkt, &p.realm_str()?, &p.peers);
            return None;
        }
        self.lookup(pkt)
    }

    /// Whether `observe` would learn from a packet of this protocol and
    /// payload (a TURN permission request, whatever its realm). Threaded
    /// runs hand such packets to every worker, so that each worker's table
    /// learns what the single table would have, in the same order; for all
    /// other packets `observe` is [`Associations::lookup`].
    pub fn announces(proto: u8, payload: &[u8]) -> bool {
        proto == ipproto::UDP && turn_permission(payload).is_some()
    }

    /// The hint for `pkt`'s flow, without learning: `observe` for a packet
    /// that does not [announce](Associations::announces).
    pub fn lookup(&self, pkt: &PacketView<'_>) -> Option<AssocHint> {
        if pkt.tuple.proto != ipproto::UDP || self.peers.is_empty() {
            return None;
        }
        let t = &pkt.tuple;
        let hit = self
            .peers
            .get(&(t.dst, t.dport))
            .or_else(|| self.peers.get(&(t.src, t.sport)))?;
        (pkt.ts_ns.saturating_sub(hit.ts_ns) <= PEER_TTL_NS).then(|| hit.info.clone())
    }

    fn learn(&mut self, pkt: &PacketView<'_>, realm: &str, peers: &[Endpoint]) {
        if !(self.known_realm)(realm) {
            return;
        }
        let t = &pkt.tuple;
        let from = format!("udp {} > {}", endpoint(t.src, t.sport), endpoint(t.dst, t.dport));
        for &peer in peers {
            self.expire(pkt.ts_ns);
            if !self.peers.contains_key(&peer) && self.peers.len() >= self.cap {
                self.evict_oldest();
            }
            let info = Arc::new(AssocInfo {
                realm: realm.into(),
                peer: endpoint(peer.0, peer.1),
                from: from.clone(),
            });
            let seq = self.next_seq;
            self.next_seq += 1;
            self.peers.insert(
                peer,
                Learned {
                    info,
                    ts_ns: pkt.ts_ns,
                    seq,
                },
            );
            self.order.push_back((peer, seq));
            // Stale order entries (re-announced peers) are bounded too.
            if self.order.len() > 2 * self.cap {
                let peers = &self.peers;
                self.order
                    .retain(|(k, seq)| peers.get(k).is_some_and(|l| l.seq == *seq));
            }
        }
    }

    /// Drops peers not announced for [`PEER_TTL_NS`] (from the front of
    /// the order, which is oldest first unless the clock went back).
    fn expire(&mut self, now_ns: u64) {
        while let Some(&(k, seq)) = self.order.front() {
            let current = self.peers.get(&k).filter(|l| l.seq == seq);
            if current.is_some_and(|l| now_ns.saturating_sub(l.ts_ns) <= PEER_TTL_NS) {
                break;
            }
            let current = current.is_some();
            self.order.pop_front();
            if current {
                self.peers.remove(&k);
            }
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((k, seq)) = self.order.pop_front() {
            if self.peers.get(&k).is_some_and(|l| l.seq == seq) {
                self.peers.remove(&k);
                return;
            }
        }
    }
}

impl crate::dissect::stun::TurnPermission<'_> {
    /// The realm as text (trimmed of quotes and NULs), when it is UTF-8.
    fn realm_str(&self) -> Option<String> {
        let s = std::str::from_utf8(self.realm).ok()?;
        let s = s.trim_matches(char::from(0)).trim().trim_matches('"');
        (!s.is_empty()).then(|| s.to_ascii_lowercase())
    }
}

fn endpoint(a: Addr, port: u16) -> String {
    match a.to_ip() {
        std::net::IpAddr::V4(ip) => format!("{ip}:{port}"),
        std::net::IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Tuple;
    use crate::verdict::Evidence;

    const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

    /// A CreatePermission request naming `peers`, under `realm`.
    fn create_permission(realm: &[u8], peers: &[([u8; 4], u16)]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut attr = |t: u16, v: &[u8]| {
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        };
        for (ip, port) in peers {
            let mut v = vec![0, 1];
            v.extend_from_slice(&(port ^ 0x2112).to_be_bytes());
            v.extend(ip.iter().zip(COOKIE).map(|(a, c)| a ^ c));
            attr(0x0012, &v);
        }
        attr(0x0006, b"user");
        attr(0x0014, realm);
        let mut m = vec![0x00, 0x08];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&COOKIE);
        m.extend_from_slice(&[5; 12]);
        m.extend_from_slice(&body);
        m
    }

    fn udp<'a>(ts_s: u64, src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &'a [u8]) -> PacketView<'a> {
        PacketView {
            ts_ns: ts_s * 1_000_000_000,
            wire_len: 42 + payload.len() as u32,
            tuple: Tuple {
                src: Addr::from_v4(src.0),
                dst: Addr::from_v4(dst.0),
                sport: src.1,
                dport: dst.1,
                proto: ipproto::UDP,
            },
            tcp: None,
            payload,
        }
    }

    const HOST: ([u8; 4], u16) = ([192, 168, 12, 169], 42405);
    const RELAY: ([u8; 4], u16) = ([91, 108, 9, 35], 1400);
    const PEER: ([u8; 4], u16) = ([93, 36, 13, 115], 35393);

    fn telegram_only() -> Associations {
        Associations::new(MAX_PEERS, |r| r == "telegram.org")
    }

    #[test]
    fn peer_named_in_a_permission_is_associated_both_ways() {
        let mut a = telegram_only();
        let req = create_permission(b"telegram.org", &[PEER]);
        let ice = b"\x00\x01\x00\x00\x21\x12\xa4\x42................";
        // Before the announcement: nothing.
        assert_eq!(a.observe(&udp(1, HOST, PEER, ice)), None);
        assert_eq!(a.observe(&udp(2, ([192, 168, 12, 169], 49780), RELAY, &req)), None);
        assert_eq!(a.len(), 1);
        let h = a.observe(&udp(3, HOST, PEER, ice)).unwrap();
        assert_eq!(&*h.realm, "telegram.org");
        assert_eq!(h.peer, "93.36.13.115:35393");
        assert_eq!(h.from, "udp 192.168.12.169:49780 > 91.108.9.35:1400");
        assert!(a.observe(&udp(3, PEER, HOST, ice)).is_some());
        // Another port of the peer, or the relay itself: no.
        assert_eq!(a.observe(&udp(3, HOST, ([93, 36, 13, 115], 35520), ice)), None);
        assert_eq!(a.observe(&udp(3, HOST, RELAY, ice)), None);
        // TCP to the peer endpoint: no (the permission is for UDP).
        let mut tcp = udp(3, HOST, PEER, ice);
        tcp.tuple.proto = ipproto::TCP;
        assert_eq!(a.observe(&tcp), None);
        // Forgotten once the permission lapsed unrefreshed.
        assert_eq!(a.observe(&udp(2 + 301, HOST, PEER, ice)), None);
    }

    #[test]
    fn announcements_are_what_observe_learns_from_and_lookup_never_learns() {
        let req = create_permission(b"telegram.org", &[PEER]);
        let ice = b"\x00\x01\x00\x00\x21\x12\xa4\x42................";
        assert!(Associations::announces(ipproto::UDP, &req));
        assert!(!Associations::announces(ipproto::TCP, &req));
        assert!(!Associations::announces(ipproto::UDP, ice));
        // Under an unknown realm it still announces (the realm is the
        // table's business), but nothing is learned.
        assert!(Associations::announces(
            ipproto::UDP,
            &create_permission(b"example.org", &[PEER])
        ));
        let mut a = telegram_only();
        assert_eq!(a.lookup(&udp(1, HOST, RELAY, &req)), None);
        assert!(a.is_empty());
        a.observe(&udp(1, HOST, RELAY, &req));
        assert_eq!(a.lookup(&udp(2, HOST, PEER, ice)), a.observe(&udp(2, HOST, PEER, ice)));
        assert!(a.lookup(&udp(2, PEER, HOST, ice)).is_some());
        assert_eq!(a.lookup(&udp(2 + 301, HOST, PEER, ice)), None);
    }

    #[test]
    fn unknown_realms_are_not_remembered() {
        let mut a = telegram_only();
        let req = create_permission(b"example.org", &[PEER]);
        a.observe(&udp(1, HOST, RELAY, &req));
        assert!(a.is_empty());
        assert_eq!(a.observe(&udp(2, HOST, PEER, b"x")), None);
    }

    #[test]
    fn memory_is_capped_oldest_first() {
        let mut a = Associations::new(3, |_| true);
        for i in 0..10u8 {
            let req = create_permission(b"r", &[([10, 0, 0, i], 1000)]);
            a.observe(&udp(u64::from(i), HOST, RELAY, &req));
            assert!(a.len() <= 3);
            assert!(a.order.len() <= 6);
        }
        assert_eq!(a.len(), 3);
        assert!(a.observe(&udp(10, HOST, ([10, 0, 0, 9], 1000), b"x")).is_some());
        assert!(a.observe(&udp(10, HOST, ([10, 0, 0, 6], 1000), b"x")).is_none());
        // Re-announcing the same peer refreshes it without growing.
        for t in 0..20 {
            let req = create_permission(b"r", &[([10, 0, 0, 9], 1000)]);
            a.observe(&udp(20 + t, HOST, RELAY, &req));
            assert!(a.len() <= 3 && a.order.len() <= 6);
        }
        assert!(a.observe(&udp(300, HOST, ([10, 0, 0, 9], 1000), b"x")).is_some());
    }

    /// Captures repeat timestamps (or step back): re-announcing a peer
    /// at the same instant must not grow the eviction order either.
    #[test]
    fn repeated_timestamps_do_not_grow_the_order() {
        let mut a = Associations::new(3, |_| true);
        let req = create_permission(b"r", &[([10, 0, 0, 9], 1000)]);
        for i in 0..100u64 {
            a.observe(&udp(5 + (i % 2), HOST, RELAY, &req));
            assert!(a.len() == 1 && a.order.len() <= 6, "{i}: {}", a.order.len());
        }
        assert!(a.observe(&udp(7, HOST, ([10, 0, 0, 9], 1000), b"x")).is_some());
    }

    /// An ICE connectivity check (Binding request with USERNAME).
    fn binding(tid: u8) -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0x00, 0x10];
        m.extend_from_slice(&COOKIE);
        m.extend_from_slice(&[tid; 12]);
        m.extend_from_slice(&[0x00, 0x06, 0x00, 0x09]);
        m.extend_from_slice(b"l/wc:SuU3\0\0\0");
        m
    }

    /// An associated flow carries a verdict (its `assoc_*` extras) before
    /// any dissector identified it: a pause must not end its inspection
    /// as if it were an identified flow that stalled (unidentified flows
    /// keep waiting for a late packet).
    #[test]
    fn an_unidentified_associated_flow_is_not_given_up_on_a_pause() {
        use crate::engine::Engine;
        use crate::flow::{FlowConfig, INSPECT_IDLE_NS};
        use crate::record::FlowRecord;

        let mut a = telegram_only();
        let mut e = Engine::new(FlowConfig::default(), None);
        let req = create_permission(b"telegram.org", &[PEER]);
        // A classic STUN request (no cookie) off the STUN port waits for
        // its answer, which comes after a pause.
        let mut first = vec![0x00, 0x01, 0x00, 0x00];
        first.extend_from_slice(&[0x3c; 16]);
        let mut b = vec![0x01, 0x01, 0x00, 0x0c];
        b.extend_from_slice(&[0x3c; 16]);
        b.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0, 1, 0xa5, 0xa5, 192, 168, 12, 169]);
        let src: Arc<str> = Arc::from("t");
        let mut out: Vec<FlowRecord> = Vec::new();
        let later = 3 + INSPECT_IDLE_NS / 1_000_000_000 + 1;
        for p in [
            udp(1, HOST, RELAY, &req),
            udp(2, HOST, PEER, &first),
            udp(later, PEER, HOST, &b),
        ] {
            let h = a.observe(&p);
            e.process_hinted(&p, h.as_ref(), &src, &mut |r| out.push(r));
        }
        e.finish(&src, &mut |r| out.push(r));
        let r = out.iter().find(|r| r.resp_port == PEER.1).unwrap();
        let x = |k: &str| r.extra.iter().find(|e| e.0 == k).map(|e| e.1.clone());
        assert_eq!(x("assoc_peer").as_deref(), Some("93.36.13.115:35393"));
        // The answer after the pause was still inspected.
        assert_eq!(r.protocol, "stun");
    }

    #[test]
    fn engine_and_rules_name_the_associated_flow() {
        use crate::engine::{Engine, Labeler};
        use crate::flow::FlowConfig;
        use crate::record::FlowRecord;
        use crate::rules::{Rules, CONF_ASSOCIATED};

        let rules = Arc::new(Rules::defaults().unwrap());
        let r2 = rules.clone();
        let mut a = Associations::new(MAX_PEERS, move |r| r2.knows_stun_realm(r));
        let mut e = Engine::new(FlowConfig::default(), Some(rules as Arc<dyn Labeler>));
        let early = ([192, 168, 12, 169], 42000);
        let client = ([192, 168, 12, 169], 49780);
        let req = create_permission(b"telegram.org", &[PEER]);
        let (b1, b2, b3) = (binding(1), binding(2), binding(3));
        let media = [0x90u8, 0x6f, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4, 0xbe, 0xde, 0, 1, 7, 7, 7, 7];
        let pkts = [
            udp(1, early, PEER, &b1),
            udp(2, client, RELAY, &req),
            udp(3, HOST, PEER, &b2),
            udp(3, PEER, HOST, &b3),
            udp(4, HOST, PEER, &media),
            udp(4, early, PEER, &b1),
        ];
        let src: Arc<str> = Arc::from("t");
        let mut out: Vec<FlowRecord> = Vec::new();
        for p in &pkts {
            let h = a.observe(p);
            e.process_hinted(p, h.as_ref(), &src, &mut |r| out.push(r));
        }
        e.finish(&src, &mut |r| out.push(r));
        let by_port = |port: u16| out.iter().find(|r| r.orig_port == port).unwrap();
        let r = by_port(HOST.1);
        assert_eq!(r.protocol, "stun");
        assert_eq!(r.app.as_deref(), Some("telegram"));
        assert!(r.evidence.contains(Evidence::HEURISTIC) && r.evidence.contains(Evidence::DPI));
        assert!(!r.evidence.contains(Evidence::STUN) && !r.evidence.contains(Evidence::IP));
        assert_eq!(r.app_confidence, Some(CONF_ASSOCIATED));
        let x = |k: &str| r.extra.iter().find(|e| e.0 == k).map(|e| e.1.as_str());
        assert_eq!(x("assoc_realm"), Some("telegram.org"));
        assert_eq!(x("assoc_peer"), Some("93.36.13.115:35393"));
        assert_eq!(x("assoc_from"), Some("udp 192.168.12.169:49780 > 91.108.9.35:1400"));
        // The announcing flow is Telegram from its own realm.
        let relay = by_port(client.1);
        assert_eq!(relay.app.as_deref(), Some("telegram"));
        assert!(relay.evidence.contains(Evidence::STUN));
        // A flow to the peer that began before the announcement: no.
        let early = by_port(early.1);
        assert_eq!(early.protocol, "stun");
        assert_eq!(early.app, None);
        assert!(early.extra.iter().all(|e| !e.0.starts_with("assoc_")));
    }
}
