//! QUIC: IETF QUIC (v1, v2, drafts, mvfst) and Google QUIC.
//!
//! For IETF QUIC the client's Initial packets are protected with keys
//! derived from the Destination Connection ID, so a passive observer can
//! open them (RFC 9001 §5.2): baikal removes header protection, opens the
//! AEAD, reassembles the CRYPTO stream by offset across packets and
//! datagrams, and hands the ClientHello to the shared TLS parser.
//! Google QUIC up to Q046 carries its CHLO in the clear; Q050 and T05x use
//! IETF-style protected Initials with Google's salts.
//!
//! Like every dissector this is a pure function of the datagrams seen so
//! far. The engine parses a flow again at each server datagram; the
//! client side (keys, opened Initials, the reassembled ClientHello) is
//! kept in the flow's dissector state and reused while the client's
//! datagrams are unchanged ([`crate::dissect::Dissector::parse_with_state`]).

pub mod crypto;
pub mod gquic;
pub mod packet;

use crate::dissect::{Dissector, Parse, Payloads, Probe, State, Transport};
use crate::fingerprint::client_hello;
use crate::verdict::{Encryption, Evidence, Meta};

use crypto::{Keys, Labels, Role};
use packet::{Item, Kind, LongType, Reassembler, Version};
pub use packet::{SALT_DRAFT29, SALT_V1, SALT_V2};

/// The QUIC dissector.
pub struct Quic;

/// How far the client's handshake got.
#[derive(Clone, Debug, Default)]
struct Client {
    version: Option<Version>,
    /// An Initial opened (or, for gQUIC, a cleartext header parsed).
    readable: bool,
    /// The handshake message is complete (or proven not to be one).
    hello_done: bool,
    sni: Option<String>,
    user_agent: Option<String>,
    hello: Option<client_hello::ClientHello>,
    /// The complete TLS handshake message, as reassembled.
    hello_msg: Vec<u8>,
    close: Option<u64>,
    /// DCID of the client's first Initial (the Initial keys' input).
    first_dcid: Vec<u8>,
}

impl Client {
    /// Heap bytes held (what [`parse`] keeps for a flow).
    fn heap_bytes(&self) -> usize {
        let strings = |v: &[String]| v.iter().map(String::capacity).sum::<usize>();
        self.hello_msg.capacity()
            + self.first_dcid.capacity()
            + self.sni.as_ref().map_or(0, String::capacity)
            + self.user_agent.as_ref().map_or(0, String::capacity)
            + self.hello.as_ref().map_or(0, |h| {
                2 * (h.cipher_suites.capacity()
                    + h.extensions.capacity()
                    + h.supported_versions.capacity()
                    + h.signature_algorithms.capacity()
                    + h.supported_groups.capacity())
                    + h.ec_point_formats.capacity()
                    + h.sni.as_ref().map_or(0, String::capacity)
                    + strings(&h.alpn)
                    + h.alpn.capacity() * std::mem::size_of::<String>()
                    + h.alpn_first_raw.as_ref().map_or(0, Vec::capacity)
            })
    }
}

/// Initial keys derived so far, by (version, DCID).
#[derive(Default)]
struct KeyCache {
    entries: Vec<(u32, Vec<u8>, Role, Option<Keys>)>,
}

impl KeyCache {
    fn get(&mut self, v: &Version, dcid: &[u8], role: Role) -> Option<&Keys> {
        let i = match self
            .entries
            .iter()
            .position(|(n, d, r, _)| *n == v.number && d == dcid && *r == role)
        {
            Some(i) => i,
            // Each distinct DCID costs a derivation: bounded per call.
            None if self.entries.len() >= 16 => return None,
            None => {
                let labels = if v.v2 { Labels::V2 } else { Labels::V1 };
                let keys = v.salt.and_then(|s| crypto::initial_keys(s, dcid, labels, role));
                self.entries.push((v.number, dcid.to_vec(), role, keys));
                self.entries.len() - 1
            }
        };
        self.entries.get(i).and_then(|e| e.3.as_ref())
    }
}

/// Whether a datagram opens like QUIC: a long header with a version baikal
/// knows, or a Google QUIC public header carrying a version.
fn first_version(d: &[u8]) -> Option<Version> {
    let first = *d.first()?;
    if first & 0x80 != 0 {
        let v = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
        let ver = packet::version(v)?;
        // Connection IDs are at most 20 bytes in every version baikal reads.
        let dcil = usize::from(*d.get(5)?);
        if ver.kind != Kind::GoogleClear && dcil > 20 {
            return None;
        }
        return Some(ver);
    }
    let (v, _) = gquic::clear_payload(d)?;
    packet::version(v).filter(|ver| ver.kind == Kind::GoogleClear)
}

fn analyse_client(p: &Payloads<'_>) -> Option<Client> {
    let first = p.orig.first();
    let version = first_version(first)?;
    let mut c = Client {
        version: Some(version),
        ..Client::default()
    };
    let mut stream = Reassembler::default();
    let mut keys = KeyCache::default();
    let mut first_dcid: Option<&[u8]> = None;
    for dgram in p.orig.chunks() {
        if version.kind == Kind::GoogleClear {
            if let Some((v, payload)) = gquic::clear_payload(dgram) {
                if v == version.number {
                    c.readable = true;
                    gquic::stream_data(payload, v, &mut stream);
                }
            }
        } else {
            let google = matches!(version.kind, Kind::GoogleProtected { .. });
            for item in packet::coalesced(dgram) {
                let Item::Long(l) = item else { continue };
                if l.ty != LongType::Initial || l.version != version.number {
                    continue;
                }
                let first_dcid = *first_dcid.get_or_insert(l.dcid);
                if c.first_dcid.is_empty() {
                    c.first_dcid = first_dcid.to_vec();
                }
                // The packet's own DCID (its keys after a Retry), else the
                // client's first one (later Initials carry the server's
                // CID but keep the first keys).
                let mut opened = None;
                let other = (first_dcid != l.dcid).then_some(first_dcid);
                for dcid in std::iter::once(l.dcid).chain(other) {
                    if let Some(k) = keys.get(&version, dcid, Role::Client) {
                        opened = crypto::open_long(k, l.packet, l.pn_offset);
                    }
                    if opened.is_some() {
                        break;
                    }
                }
                let Some(o) = opened else { continue };
                c.readable = true;
                packet::frames(&o.payload, google, |f| match f {
                    packet::Frame::Crypto { offset, data } => stream.add(offset, data),
                    packet::Frame::ConnectionClose { error } => c.close = Some(error),
                });
            }
        }
        if finish_hello(&version, &stream, &mut c) {
            break;
        }
    }
    Some(c)
}

/// Reads the handshake message once the stream prefix holds all of it.
/// Returns true when nothing more is to be learnt from the client.
fn finish_hello(version: &Version, stream: &Reassembler, c: &mut Client) -> bool {
    if stream.is_empty() || c.hello_done {
        return c.hello_done;
    }
    let prefix = stream.prefix();
    let tls = matches!(version.kind, Kind::Ietf | Kind::GoogleProtected { tls: true });
    if tls {
        let Some(hdr) = prefix.get(..4) else { return false };
        let len = usize::from(hdr[1]) << 16 | usize::from(hdr[2]) << 8 | usize::from(hdr[3]);
        if hdr[0] != 1 {
            c.hello_done = true;
        } else if let Some(msg) = prefix.get(..4 + len) {
            c.hello_done = true;
            c.hello = client_hello::parse_handshake(msg).ok();
            c.hello_msg = msg.to_vec();
        }
    } else {
        // gQUIC stream 1 carries CHLO, REJ, CHLO...: a client's second
        // CHLO starts where the first ended, so read every CHLO seen.
        for start in stream.starts_with(b"CHLO") {
            let Some(chlo) = gquic::parse_chlo(&stream.run_from(start)) else {
                continue;
            };
            c.sni = chlo.sni.or(c.sni.take());
            c.user_agent = chlo.uaid.or(c.user_agent.take());
            c.hello_done |= chlo.complete;
        }
        if !c.hello_done && prefix.len() >= 4 && !prefix.starts_with(b"CHLO") {
            c.hello_done = true;
        }
    }
    c.hello_done
}

/// Shapes of packets seen when a capture starts mid-connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MidFlow {
    /// IETF short header: fixed bit set, long-header bit clear.
    Short,
    /// Google QUIC public header without version: CID flag only.
    Google,
}

fn shape(d: &[u8]) -> Option<MidFlow> {
    let b = *d.first()?;
    if d.len() < 20 {
        return None;
    }
    if b & 0xc0 == 0x40 {
        Some(MidFlow::Short)
    } else if b & 0xc7 == 0 || (b & 0xcb == 0x08) {
        // 0x08 (8-byte CID; old versions 0x0c) with packet-number bits;
        // servers often omit the CID (flags 0x00..0x30).
        Some(MidFlow::Google)
    } else {
        None
    }
}

/// Where the mid-flow guess stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mid {
    /// Not QUIC seen mid-flow.
    Reject,
    /// Shapes fit so far; no repeated connection ID yet.
    Pending,
    /// Every datagram of both sides has the same shape and one side
    /// repeats the same 8-byte connection ID.
    Match(MidFlow),
}

/// Datagrams (both sides) after which a CID must have repeated.
const MID_FLOW_WINDOW: usize = 6;

fn mid_flow(p: &Payloads<'_>) -> Mid {
    if !(p.port(443) || p.port(80)) {
        return Mid::Reject;
    }
    let Some(kind) = shape(p.orig.first()) else {
        return Mid::Reject;
    };
    let mut repeated = false;
    let mut seen = 0usize;
    for side in [p.orig, p.resp] {
        let mut cid: Option<&[u8]> = None;
        for d in side.chunks() {
            seen += 1;
            if shape(d) != Some(kind) {
                return Mid::Reject;
            }
            let has_cid = kind == MidFlow::Short || d.first().is_some_and(|b| b & 0x08 != 0);
            if let (true, Some(c)) = (has_cid, d.get(1..9)) {
                match cid {
                    Some(prev) if prev == c => repeated = true,
                    Some(_) => {}
                    None => cid = Some(c),
                }
            }
        }
    }
    match (repeated, seen >= MID_FLOW_WINDOW) {
        (true, _) => Mid::Match(kind),
        (false, true) => Mid::Reject,
        (false, false) => Mid::Pending,
    }
}

/// Server datagrams read for a ServerHello before giving up.
const SERVER_DATAGRAMS: usize = 3;

/// What the server's first answer says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Server {
    /// "initial", "retry" or "version_negotiation".
    answer: Option<&'static str>,
    /// The cipher suite chosen in the ServerHello of a decrypted Initial.
    cipher: Option<u16>,
}

/// Reads the responder's first datagrams: the packet type of its answer
/// and, when its Initial opens with the server keys of the client's first
/// DCID, the ServerHello's cipher suite. (The negotiated ALPN travels in
/// EncryptedExtensions, under Handshake keys, so it is not visible.)
fn analyse_server(p: &Payloads<'_>, c: &Client) -> Server {
    let mut s = Server::default();
    let Some(version) = c.version.filter(|v| v.kind != Kind::GoogleClear) else {
        return s;
    };
    let google = matches!(version.kind, Kind::GoogleProtected { .. });
    let mut keys = KeyCache::default();
    let mut stream = Reassembler::default();
    for dgram in p.resp.chunks() {
        for item in packet::coalesced(dgram) {
            let l = match item {
                Item::VersionNegotiation { .. } => {
                    s.answer = s.answer.or(Some("version_negotiation"));
                    continue;
                }
                Item::Long(l) if l.ty == LongType::Retry => {
                    s.answer = s.answer.or(Some("retry"));
                    continue;
                }
                Item::Long(l) if l.ty == LongType::Initial && l.version == version.number => l,
                _ => continue,
            };
            s.answer = s.answer.or(Some("initial"));
            let Some(k) = keys.get(&version, &c.first_dcid, Role::Server) else {
                continue;
            };
            let Some(o) = crypto::open_long(k, l.packet, l.pn_offset) else {
                continue;
            };
            packet::frames(&o.payload, google, |f| {
                if let packet::Frame::Crypto { offset, data } = f {
                    stream.add(offset, data);
                }
            });
        }
        // ServerHello: type 2, u24 length, version, random, session id,
        // cipher suite.
        let hello = stream.prefix();
        if hello.first() == Some(&2) {
            let sid = hello.get(38).map(|&n| 39 + usize::from(n));
            if let Some(cs) = sid.and_then(|i| hello.get(i..i + 2)) {
                s.cipher = Some(u16::from_be_bytes([cs[0], cs[1]]));
                break;
            }
        }
    }
    s
}

fn fill(c: &Client, meta: &mut Meta) {
    meta.protocol = Some("quic");
    meta.encryption = Encryption::Encrypted;
    if let Some(v) = &c.version {
        meta.set_extra("quic_version", packet::version_name(v.number));
        if v.kind != Kind::Ietf {
            meta.set_extra("quic_family", "gquic");
        }
    }
    if let Some(ch) = &c.hello {
        client_hello::fill_meta(ch, 'q', meta);
    }
    if let Some(sni) = &c.sni {
        meta.sni = Some(sni.clone());
    }
    if let Some(ua) = &c.user_agent {
        meta.set_extra("user_agent", ua.clone());
    }
    if let Some(e) = c.close {
        meta.set_extra("quic_close_error", format!("0x{e:x}"));
    }
}

impl Dissector for Quic {
    /// Reads `last`: see [`Dissector::final_pass`].
    fn final_pass(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "quic"
    }

    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }

    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let first = p.orig.first();
        if first.is_empty() {
            return Probe::Maybe;
        }
        match first_version(first) {
            Some(_) => Probe::Mine,
            None if gquic::server_handshake(first).is_some() => Probe::Mine,
            None if shape(first).is_some() && (p.port(443) || p.port(80)) => Probe::Maybe,
            None => Probe::NotMine,
        }
    }

    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        parse(p, &mut State::default(), meta)
    }

    /// As `parse`, keeping the client side's analysis (Initial keys,
    /// opened packets, the reassembled ClientHello) in `state`: a flow is
    /// parsed again at each server datagram, with the client's datagrams
    /// unchanged.
    fn parse_with_state(
        &self,
        p: &Payloads<'_>,
        _prev: Option<&mut Meta>,
        state: &mut State,
        meta: &mut Meta,
    ) -> Parse {
        parse(p, state, meta)
    }
}

/// The client side as analysed from the originator's first `at` =
/// (bytes, datagrams).
struct Seen {
    at: (usize, usize),
    client: Client,
    /// What [`fill`] writes for `client`, written once: a flow is parsed
    /// again at each server datagram, and the ClientHello's fingerprints
    /// (JA4: sorting, formatting, two SHA-256) would be computed again
    /// each time. The parsed hello itself is then not kept.
    filled: Meta,
}

/// [`Quic::parse`], with the client side taken from `state` when it was
/// analysed from the same datagrams (a flow's sides only grow).
fn parse(p: &Payloads<'_>, state: &mut State, meta: &mut Meta) -> Parse {
    if p.orig.first().is_empty() {
        return p.undecided();
    }
    let at = (p.orig.data.len(), p.orig.ends.len());
    if state.get::<Seen>().is_none_or(|s| s.at != at) {
        let Some(mut client) = analyse_client(p) else {
            *state = State::default();
            return without_client(p, meta);
        };
        // The raw message is parsed already, and the parsed hello's
        // fields are in `filled`: neither is kept for the flow.
        let mut filled = Meta::default();
        fill(&client, &mut filled);
        client.hello_msg = Vec::new();
        client.hello = None;
        let heap = client.heap_bytes() + filled.heap_bytes();
        state.set(Seen { at, client, filled }, heap);
    }
    let Some(Seen { client: c, filled, .. }) = state.get::<Seen>() else {
        return without_client(p, meta);
    };
    if c.readable {
        return with_client(p, c, Filled::Known(filled), false, meta);
    }
    // The capture may have seen the server first: try the other side
    // as the client.
    let other = Payloads {
        orig: p.resp,
        resp: p.orig,
        orig_port: p.resp_port,
        resp_port: p.orig_port,
        ..*p
    };
    match analyse_client(&other) {
        Some(s) if s.readable => with_client(p, &s, Filled::No, true, meta),
        _ => with_client(p, c, Filled::Known(filled), false, meta),
    }
}

/// What [`fill`] wrote for the client passed with it, if known.
enum Filled<'a> {
    Known(&'a Meta),
    No,
}

/// The verdict of a flow whose originator sent no readable client
/// Initial (see [`Quic::parse`]).
fn without_client(p: &Payloads<'_>, meta: &mut Meta) -> Parse {
    // Only the server seen (one-way capture or lost client
    // packets): Google QUIC's REJ/SHLO is in the clear, then
    // everything is sealed.
    if let Some(msg) = gquic::server_handshake(p.orig.first()) {
        meta.protocol = Some("quic");
        meta.encryption = Encryption::Encrypted;
        meta.set_extra("quic_family", "gquic");
        meta.set_extra("quic_client", "resp");
        meta.set_extra("quic_server", msg);
        return Parse::Done;
    }
    // A capture that starts mid-connection: decided only when the
    // engine stops feeding, so every exact dissector had its turn.
    let kind = match (mid_flow(p), p.last) {
        (Mid::Reject, _) | (Mid::Pending, true) => return Parse::NotMine,
        (_, false) => return Parse::NeedMore,
        (Mid::Match(kind), true) => kind,
    };
    meta.protocol = Some("quic");
    meta.encryption = Encryption::Encrypted;
    meta.evidence.insert(Evidence::HEURISTIC);
    meta.set_extra(
        "quic_mid_flow",
        if kind == MidFlow::Short {
            "short_header"
        } else {
            "gquic"
        },
    );
    if kind == MidFlow::Google {
        meta.set_extra("quic_family", "gquic");
    }
    Parse::Identified
}

/// The rest of [`parse`], given the client side `c` (`swapped`: read
/// from the responder's datagrams). `meta` is empty on entry.
fn with_client(p: &Payloads<'_>, c: &Client, filled: Filled<'_>, swapped: bool, meta: &mut Meta) -> Parse {
    if !c.readable {
        // Undecryptable: at the end, accept only a well-formed long
        // header whose Length fits the datagram.
        let well_formed = matches!(packet::coalesced(p.orig.first()).next(), Some(Item::Long(_)));
        if !p.last {
            return Parse::NeedMore;
        }
        if !well_formed {
            return Parse::NotMine;
        }
    }
    match filled {
        Filled::Known(m) => meta.clone_from(m),
        Filled::No => fill(c, meta),
    }
    let server_side = if swapped {
        meta.set_extra("quic_client", "resp");
        Payloads { resp: p.orig, ..*p }
    } else {
        *p
    };
    let server = analyse_server(&server_side, c);
    if let Some(a) = server.answer {
        meta.set_extra("quic_server", a);
    }
    if let Some(cs) = server.cipher {
        meta.set_extra("quic_server_cipher", format!("0x{cs:04x}"));
    }
    // Done once the client's hello is read and the server's answer is
    // known: a ServerHello, a Retry or Version Negotiation, or a few
    // datagrams without either (a first Initial may carry only an ACK).
    let gquic_clear = c.version.is_some_and(|v| v.kind == Kind::GoogleClear);
    let answered = server.cipher.is_some()
        || matches!(server.answer, Some("retry" | "version_negotiation"))
        || server_side.resp.chunks().count() >= SERVER_DATAGRAMS;
    if c.hello_done && (gquic_clear || answered) {
        Parse::Done
    } else {
        Parse::Identified
    }
}

#[cfg(test)]
mod tests;
