//! Application rules: which app a flow belongs to, from rule files loaded
//! at run time (`rules/*.toml` at the top of the repository, embedded as
//! defaults; `--rules DIR` replaces them).
//!
//! At load the files are compiled into matchers whose per-record cost is
//! a handful of hash lookups:
//!
//! - names (SNI, HTTP Host, DNS query): a reversed-label suffix map. A
//!   name is looked up whole, then with its leftmost label stripped, and
//!   so on; the first (longest) hit wins. `telegram.org` as a suffix
//!   matches `web.telegram.org` and `telegram.org`, never
//!   `nottelegram.org` (only whole labels are stripped).
//! - addresses: a longest-prefix-match trie per family (`prefix-trie`).
//! - JA4 and STUN realms: exact hash maps; STUN software: an Aho-Corasick
//!   automaton (substring, case-insensitive), since vendors append
//!   versions to the software string.
//! - ports: a short sorted list of ranges.
//!
//! Evidence precedence (see [`Rules::label_record`]): names > JA4 > STUN >
//! association with an earlier flow > heuristics > address > port. An address or a port alone never yields
//! DPI evidence.

mod load;

use std::net::IpAddr;
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

pub use load::{parse_file, read_dir, AppRule, At, Entry, PortProto, RuleFile, RulesError};

use crate::engine::Labeler;
use crate::record::FlowRecord;
use crate::verdict::{Encryption, Evidence};

type Map<K, V> = hashbrown::HashMap<K, V, foldhash::fast::FixedState>;

/// The rule files compiled into baikal, as (file name, text).
pub static DEFAULT_FILES: &[(&str, &str)] = &[
    ("circumvention.toml", include_str!("../../../rules/circumvention.toml")),
    ("discord.toml", include_str!("../../../rules/discord.toml")),
    ("line.toml", include_str!("../../../rules/line.toml")),
    ("max.toml", include_str!("../../../rules/max.toml")),
    (
        "microsoft_teams.toml",
        include_str!("../../../rules/microsoft_teams.toml"),
    ),
    ("signal.toml", include_str!("../../../rules/signal.toml")),
    ("telegram.toml", include_str!("../../../rules/telegram.toml")),
    ("threema.toml", include_str!("../../../rules/threema.toml")),
    ("viber.toml", include_str!("../../../rules/viber.toml")),
    ("vk.toml", include_str!("../../../rules/vk.toml")),
    ("wechat.toml", include_str!("../../../rules/wechat.toml")),
    ("whatsapp.toml", include_str!("../../../rules/whatsapp.toml")),
    ("zoom.toml", include_str!("../../../rules/zoom.toml")),
];

/// Confidence of the MTProxy guess when the first client payload is
/// exactly the 64-byte obfuscated2 header, sent on its own, and the
/// server's first payload has the size of a framed `resPQ` (see
/// `mtproxy_secret`).
pub const CONF_MTPROXY_64: f32 = 0.4;
/// Confidence of the MTProxy guess when the first client payload has the
/// size of the obfuscated2 header plus an unencrypted `req_pq_multi`
/// (64 + 1 + 40 abridged, 64 + 4 + 40 intermediate) and the server's
/// first payload that of a `resPQ` in the same transport.
pub const CONF_MTPROXY_REQ_PQ: f32 = 0.5;
/// Confidence of the MTProxy fake-TLS guess (see `fake_tls`): the
/// server's first flight has MTProxy's shape and the client's first
/// application-data record is too long to be a TLS 1.3 Finished.
pub const CONF_FAKE_TLS: f32 = 0.6;
/// JA3S string of MTProxy's fake-TLS ServerHello template: TLS 1.2 legacy
/// version, TLS_AES_128_GCM_SHA256, extensions key_share then
/// supported_versions.
pub const MTPROXY_JA3S: &str = "771,4865,51-43";
/// Confidence of an app named through an earlier flow (see
/// [`crate::assoc`]): the flow's peer was announced in a TURN permission
/// request under the app's realm; the flow itself carries no app-specific
/// bytes.
pub const CONF_ASSOCIATED: f32 = 0.8;
/// Confidence of "random stream" for an unidentified fully encrypted flow.
pub const CONF_RANDOM_STREAM: f32 = 0.5;

/// What a source contributed (for `baikal rules`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    pub file: String,
    pub source: String,
    pub date: String,
    pub note: Option<String>,
}

/// One loaded application and what its rules hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    pub name: String,
    pub category: String,
    pub fully_encrypted: bool,
    pub file: String,
    pub names: usize,
    pub prefixes_v4: usize,
    pub prefixes_v6: usize,
    pub ja4: usize,
    pub stun: usize,
    pub ports: usize,
    pub sources: Vec<SourceInfo>,
}

#[derive(Clone, Copy, Debug)]
struct NameRule {
    app: u16,
    /// Matches subdomains too.
    suffix: bool,
}

/// Compiled rules. Cheap to share (`Arc<Rules>`); immutable after load.
#[derive(Debug)]
pub struct Rules {
    apps: Vec<App>,
    names: Map<Box<str>, NameRule>,
    v4: PrefixMap<Ipv4Net, u16>,
    v6: PrefixMap<Ipv6Net, u16>,
    ja4: Map<Box<str>, u16>,
    stun_realm: Map<Box<str>, u16>,
    stun_software: Option<(AhoCorasick, Vec<u16>)>,
    /// (proto, lo, hi, app), sorted.
    ports: Vec<(PortProto, u16, u16, u16)>,
    random_stream: Option<u16>,
    telegram: Option<u16>,
    /// JA3S (MD5 hex) of MTProxy's fake-TLS ServerHello.
    mtproxy_ja3s: String,
    /// True when these are the embedded defaults.
    pub defaults: bool,
}

impl Rules {
    /// The embedded defaults.
    pub fn defaults() -> Result<Rules, RulesError> {
        let files = DEFAULT_FILES
            .iter()
            .map(|(name, text)| parse_file(&format!("rules/{name}"), text))
            .collect::<Result<Vec<_>, _>>()?;
        let mut r = Rules::compile(files)?;
        r.defaults = true;
        Ok(r)
    }

    /// The `*.toml` files of `dir`; the defaults when it has none.
    pub fn load_dir(dir: &Path) -> Result<Rules, RulesError> {
        let files = read_dir(dir)?;
        if files.is_empty() {
            return Rules::defaults();
        }
        Rules::compile(files)
    }

    /// Compiles checked files. Conflicts (one app defined twice, one name,
    /// prefix, JA4 or realm claimed by two apps) are errors.
    pub fn compile(files: Vec<RuleFile>) -> Result<Rules, RulesError> {
        let mut r = Rules {
            apps: Vec::new(),
            names: Map::default(),
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
            ja4: Map::default(),
            stun_realm: Map::default(),
            stun_software: None,
            ports: Vec::new(),
            random_stream: None,
            telegram: None,
            mtproxy_ja3s: md5_hex(MTPROXY_JA3S),
            defaults: false,
        };
        let mut software: Vec<(String, u16)> = Vec::new();
        // Where each app was defined, for conflict messages.
        let mut defined: Map<String, (String, usize)> = Map::default();
        for f in files {
            for a in f.apps {
                let conflict = |line: usize, message: String| RulesError::Conflict {
                    file: f.file.clone(),
                    line,
                    message,
                };
                if let Some((file, line)) = defined.get(&a.name) {
                    return Err(conflict(
                        a.line,
                        format!("app '{}' is already defined at {file}:{line}", a.name),
                    ));
                }
                let id = u16::try_from(r.apps.len()).map_err(|_| conflict(a.line, "too many apps".into()))?;
                defined.insert(a.name.clone(), (f.file.clone(), a.line));
                let owner = |id2: u16| r.apps.get(usize::from(id2)).map_or("?", |x| x.name.as_str());
                let mut app = App {
                    name: a.name.clone(),
                    category: a.category.clone(),
                    fully_encrypted: a.fully_encrypted,
                    file: f.file.clone(),
                    names: 0,
                    prefixes_v4: 0,
                    prefixes_v6: 0,
                    ja4: 0,
                    stun: 0,
                    ports: 0,
                    sources: Vec::new(),
                };
                for e in &a.entries {
                    app.sources.push(SourceInfo {
                        file: f.file.clone(),
                        source: e.source.clone(),
                        date: e.date.clone(),
                        note: e.note.clone(),
                    });
                    for (list, suffix) in [(&e.suffix, true), (&e.exact, false)] {
                        for d in list {
                            let key: Box<str> = d.value.as_str().into();
                            match r.names.get_mut(&key) {
                                Some(old) if old.app != id => {
                                    return Err(conflict(
                                        d.line,
                                        format!("name '{}' is already claimed by app '{}'", d.value, owner(old.app)),
                                    ))
                                }
                                Some(old) => old.suffix |= suffix,
                                None => {
                                    r.names.insert(key, NameRule { app: id, suffix });
                                    app.names += 1;
                                }
                            }
                        }
                    }
                    for p in &e.prefixes {
                        let prev = match p.value {
                            IpNet::V4(n) => {
                                app.prefixes_v4 += 1;
                                r.v4.insert(n, id)
                            }
                            IpNet::V6(n) => {
                                app.prefixes_v6 += 1;
                                r.v6.insert(n, id)
                            }
                        };
                        if let Some(old) = prev.filter(|&o| o != id) {
                            return Err(conflict(
                                p.line,
                                format!("prefix {} is already claimed by app '{}'", p.value, owner(old)),
                            ));
                        }
                    }
                    for j in &e.ja4 {
                        if let Some(&old) = r.ja4.get(j.value.as_str()).filter(|&&o| o != id) {
                            return Err(conflict(
                                j.line,
                                format!("JA4 {} is already claimed by app '{}'", j.value, owner(old)),
                            ));
                        }
                        r.ja4.insert(j.value.as_str().into(), id);
                        app.ja4 += 1;
                    }
                    for s in &e.stun_realm {
                        if let Some(&old) = r.stun_realm.get(s.value.as_str()).filter(|&&o| o != id) {
                            return Err(conflict(
                                s.line,
                                format!("STUN realm '{}' is already claimed by app '{}'", s.value, owner(old)),
                            ));
                        }
                        r.stun_realm.insert(s.value.as_str().into(), id);
                        app.stun += 1;
                    }
                    for s in &e.stun_software {
                        software.push((s.value.clone(), id));
                        app.stun += 1;
                    }
                    for p in &e.ports {
                        let (proto, lo, hi) = p.value;
                        r.ports.push((proto, lo, hi, id));
                        app.ports += 1;
                    }
                }
                if a.fully_encrypted && r.random_stream.is_none() {
                    r.random_stream = Some(id);
                }
                if a.name == "telegram" {
                    r.telegram = Some(id);
                }
                r.apps.push(app);
            }
        }
        r.ports
            .sort_unstable_by_key(|&(p, lo, hi, _)| (p == PortProto::Udp, lo, hi));
        if !software.is_empty() {
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(software.iter().map(|(s, _)| s.as_str()))
                .map_err(|e| RulesError::Invalid {
                    file: "(stun_software)".into(),
                    line: 1,
                    message: e.to_string(),
                })?;
            r.stun_software = Some((ac, software.into_iter().map(|(_, id)| id).collect()));
        }
        Ok(r)
    }

    /// The loaded applications, in load order.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    fn app_name(&self, id: u16) -> Option<&str> {
        self.apps.get(usize::from(id)).map(|a| a.name.as_str())
    }

    /// The app a DNS name belongs to (longest matching rule).
    pub fn match_name(&self, name: &str) -> Option<&str> {
        self.name_id(name).and_then(|id| self.app_name(id))
    }

    fn name_id(&self, name: &str) -> Option<u16> {
        let name = name.trim().trim_end_matches('.');
        if name.is_empty() {
            return None;
        }
        let lower;
        let mut n = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        if let Some(r) = self.names.get(n) {
            return Some(r.app);
        }
        while let Some(i) = n.find('.') {
            n = &n[i + 1..];
            if let Some(r) = self.names.get(n).filter(|r| r.suffix) {
                return Some(r.app);
            }
        }
        None
    }

    /// The app an address belongs to (longest prefix).
    pub fn match_ip(&self, ip: IpAddr) -> Option<&str> {
        self.ip_id(ip).and_then(|id| self.app_name(id))
    }

    fn ip_id(&self, ip: IpAddr) -> Option<u16> {
        match ip {
            IpAddr::V4(a) => {
                let k = Ipv4Net::new(a, 32).ok()?;
                self.v4.get_lpm(&k).map(|(_, &id)| id)
            }
            IpAddr::V6(a) => {
                let k = Ipv6Net::new(a, 128).ok()?;
                self.v6.get_lpm(&k).map(|(_, &id)| id)
            }
        }
    }

    fn port_id(&self, proto: PortProto, port: u16) -> Option<u16> {
        self.ports
            .iter()
            .find(|&&(p, lo, hi, _)| p == proto && lo <= port && port <= hi)
            .map(|&(.., id)| id)
    }

    fn stun_id(&self, realm: Option<&str>, software: Option<&str>) -> Option<u16> {
        if let Some(realm) = realm {
            let r = realm.trim().trim_matches('"');
            let hit = if r.bytes().any(|b| b.is_ascii_uppercase()) {
                self.stun_realm.get(r.to_ascii_lowercase().as_str())
            } else {
                self.stun_realm.get(r)
            };
            if let Some(&id) = hit {
                return Some(id);
            }
        }
        let (ac, ids) = self.stun_software.as_ref()?;
        let m = ac.find(software?)?;
        ids.get(m.pattern().as_usize()).copied()
    }

    /// Whether a STUN/TURN realm names an app (the association table
    /// remembers only those announcements, [`crate::assoc`]).
    pub fn knows_stun_realm(&self, realm: &str) -> bool {
        self.stun_realm.contains_key(realm.to_ascii_lowercase().as_str())
    }

    /// Labels one record. See the module documentation for the order.
    pub fn label_record(&self, rec: &mut FlowRecord) {
        // 1. Payload evidence, strongest first. The first app found wins;
        //    later sources that agree add their evidence bit.
        let host = rec.http_host.as_deref().map(strip_port);
        let payload: [(Option<u16>, Evidence); 6] = [
            (rec.sni.as_deref().and_then(|n| self.name_id(n)), Evidence::SNI),
            (host.and_then(|n| self.name_id(n)), Evidence::HTTP_HOST),
            (rec.dns_query.as_deref().and_then(|n| self.name_id(n)), Evidence::DNS),
            (rec.ja4.as_deref().and_then(|j| self.ja4.get(j).copied()), Evidence::JA4),
            (
                if self.stun_realm.is_empty() && self.stun_software.is_none() {
                    None
                } else {
                    self.stun_id(extra(rec, "stun_realm"), extra(rec, "stun_software"))
                },
                Evidence::STUN,
            ),
            // A dissector that proved MTProto names Telegram itself.
            (
                (rec.protocol == "mtproto").then_some(self.telegram).flatten(),
                Evidence::MTPROTO,
            ),
        ];
        let mut best: Option<u16> = None;
        let mut agree = Evidence::default();
        for (id, ev) in payload {
            let Some(id) = id else { continue };
            match best {
                None => {
                    best = Some(id);
                    agree.insert(ev);
                }
                Some(b) if b == id => agree.insert(ev),
                Some(_) => {}
            }
        }
        if let Some(app) = rec.app.as_deref() {
            // Already named (by a dissector): only add agreeing evidence.
            if best.and_then(|b| self.app_name(b)) == Some(app) {
                rec.evidence.insert(agree);
            }
            return;
        }
        if let Some(id) = best {
            self.set(rec, id, agree, None);
            return;
        }
        let ip_id = self.ip_id(rec.resp_ip).or_else(|| self.ip_id(rec.orig_ip));
        // 2. Association: the peer was announced by an earlier flow under
        //    an app's TURN realm (`assoc_*` extras, see crate::assoc).
        if let Some(id) = extra(rec, "assoc_realm").and_then(|r| self.stun_id(Some(r), None)) {
            let mut ev = Evidence::HEURISTIC;
            if ip_id == Some(id) {
                ev.insert(Evidence::IP);
            }
            self.set(rec, id, ev, Some(CONF_ASSOCIATED));
            return;
        }
        // 3. Heuristics (Telegram's MTProxy), with a confidence.
        if let Some((tg, conf)) = self.telegram.zip(telegram_heuristic(rec, &self.mtproxy_ja3s)) {
            let mut ev = Evidence::HEURISTIC;
            if ip_id == Some(tg) {
                ev.insert(Evidence::IP);
            }
            self.set(rec, tg, ev, Some(conf));
            return;
        }
        // 4. Address lists: weak.
        if let Some(id) = ip_id {
            self.set(rec, id, Evidence::IP, None);
            return;
        }
        // 5. An unidentified stream that looks random.
        if let (Some(id), true) = (
            self.random_stream,
            rec.protocol == "unknown" && rec.encryption == Encryption::FullyEncrypted,
        ) {
            self.set(rec, id, Evidence::HEURISTIC, Some(CONF_RANDOM_STREAM));
            return;
        }
        // 6. Well-known port: weakest, and only for a flow whose
        //    originator sent payload (a SYN scan is no application).
        if rec.entropy.is_none() {
            return;
        }
        let proto = match rec.transport.0 {
            crate::decode::ipproto::TCP => PortProto::Tcp,
            crate::decode::ipproto::UDP => PortProto::Udp,
            _ => return,
        };
        if let Some(id) = self
            .port_id(proto, rec.resp_port)
            .or_else(|| self.port_id(proto, rec.orig_port))
        {
            self.set(rec, id, Evidence::PORT, None);
        }
    }

    fn set(&self, rec: &mut FlowRecord, id: u16, ev: Evidence, conf: Option<f32>) {
        if let Some(name) = self.app_name(id) {
            rec.app = Some(name.to_string());
            rec.evidence.insert(ev);
            if conf.is_some() {
                rec.app_confidence = conf;
            }
        }
    }
}

impl Labeler for Rules {
    fn label(&self, rec: &mut FlowRecord) {
        self.label_record(rec);
    }
}

fn extra<'a>(rec: &'a FlowRecord, key: &str) -> Option<&'a str> {
    rec.extra.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
}

/// `host:port` → `host` (IPv6 literals are left alone: they match no name).
fn strip_port(h: &str) -> &str {
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

/// Telegram guesses for flows the mtproto dissector cannot prove: MTProxy
/// with a secret (the obfuscated2 header is keyed by the secret, so it is
/// undecryptable) and MTProxy fake-TLS. Returns the confidence.
///
/// MTProxy (secret): see [`mtproxy_secret`].
fn telegram_heuristic(rec: &FlowRecord, mtproxy_ja3s: &str) -> Option<f32> {
    if rec.protocol == "unknown" && rec.encryption == Encryption::FullyEncrypted {
        let len = |k| extra(rec, k).and_then(|v| v.trim().parse::<u32>().ok());
        return mtproxy_secret(len("orig_first_len")?, len("resp_first_len")?);
    }
    fake_tls(rec, mtproxy_ja3s)
}

/// Length of the unencrypted `resPQ` message a Telegram server answers
/// `req_pq_multi` with: auth_key_id (8) + msg_id (8) + length (4) + body
/// (64: constructor 4, nonce 16, server_nonce 16, `pq` as TL bytes 12,
/// a vector of one key fingerprint 4 + 4 + 8).
const RES_PQ: u32 = 84;
/// Length of `req_pq_multi`: 20-byte header + constructor 4 + nonce 16.
const REQ_PQ: u32 = 40;
/// The obfuscated2 header.
const OBFS2_HEADER: u32 = 64;

/// MTProxy with a secret, from the opening lengths of both directions of
/// an unidentified, fully encrypted flow (the engine's `orig_first_len`
/// and `resp_first_len`). Every MTProto connection starts with the
/// auth-key exchange's first round trip, whose sizes are fixed; obfuscation
/// is a stream cipher, so it keeps them:
///
/// - the client writes the 64-byte header and its framed `req_pq_multi`:
///   64 + 1 + 40 = 105 bytes in the abridged transport, 64 + 4 + 40 = 108
///   in the intermediate one (or the header alone, 64);
/// - the server answers with no header of its own, only the framed
///   `resPQ`: 1 + 84 = 85 (abridged) or 4 + 84 = 88 (intermediate).
///
/// Both directions must match, and for 105/108 in the same transport.
/// Either side alone is one size among hundreds a random-looking protocol
/// (Shadowsocks, obfs4, VMess) may open with; the pair is two
/// independent coincidences (for opening lengths spread over a few
/// hundred to a thousand values each way, a few in a million; the
/// client-side size alone fired on 12 of 8,240 random-payload and other
/// non-Telegram flows of eight `baikal synth --mix telegram` seeds, the
/// pair on none, and it no longer names a Shadowsocks flow of nDPI's
/// shadowsocks.pcap Telegram). A flow
/// whose server has not answered is not guessed. Padded intermediate
/// ("dd" secrets) pads both messages by 0..15 random bytes, which makes
/// the pair 256 times likelier by chance: not guessed. Confidence
/// [`CONF_MTPROXY_REQ_PQ`] (header and request together) or
/// [`CONF_MTPROXY_64`] (header alone): nothing in the bytes proves
/// Telegram. The pair in one transport weighs more than the header
/// alone.
fn mtproxy_secret(orig_first: u32, resp_first: u32) -> Option<f32> {
    const ABRIDGED: (u32, u32) = (OBFS2_HEADER + 1 + REQ_PQ, 1 + RES_PQ);
    const INTERMEDIATE: (u32, u32) = (OBFS2_HEADER + 4 + REQ_PQ, 4 + RES_PQ);
    match (orig_first, resp_first) {
        p if p == ABRIDGED || p == INTERMEDIATE => Some(CONF_MTPROXY_REQ_PQ),
        (OBFS2_HEADER, r) if r == ABRIDGED.1 || r == INTERMEDIATE.1 => Some(CONF_MTPROXY_64),
        _ => None,
    }
}

/// MTProxy fake-TLS. The proxy answers a ClientHello with a fixed
/// template: ServerHello (TLS 1.3, TLS_AES_128_GCM_SHA256, extensions
/// key_share then supported_versions: JA3S [`MTPROXY_JA3S`]), then
/// ChangeCipherSpec, then one application-data record of random bytes,
/// and no cleartext Certificate. The TLS dissector reports that as
/// `server_records` "22,20,23", `server_hs` "2", `tls_version` "1.3".
///
/// The server side alone proves nothing: every BoringSSL-based TLS 1.3
/// server (Google, Cloudflare, ...) that picks AES-128-GCM answers with
/// the very same first flight. Over the nDPI captures a server-only guess
/// named 73 Google flows Telegram and no real MTProxy flow, so it is not
/// made. What separates them is the client's next flight: a real TLS 1.3
/// client's first application-data record is its Finished (53 bytes with
/// SHA-256 suites, 69 with SHA-384), while a Telegram client's carries the
/// 64-byte obfuscated2 header and a first MTProto frame (>= 105 bytes). The
/// guess ([`CONF_FAKE_TLS`]) is made only when the TLS dissector reports
/// that length as `client_appdata_first_len`. Runs only when the SNI named
/// no app (a Telegram SNI is Telegram's own web service, named by the
/// rules).
fn fake_tls(rec: &FlowRecord, mtproxy_ja3s: &str) -> Option<f32> {
    if rec.protocol != "tls"
        || !extra(rec, "server_records")?
            .split(',')
            .map(str::trim)
            .eq(["22", "20", "23"])
        || extra(rec, "server_hs")?.trim() != "2"
        || extra(rec, "tls_version")? != "1.3"
        || rec.ja3s.as_deref()? != mtproxy_ja3s
    {
        return None;
    }
    let client = extra(rec, "client_appdata_first_len")?.trim().parse::<u32>().ok()?;
    (client >= 64 + 41).then_some(CONF_FAKE_TLS)
}

/// MD5 of a JA3/JA3S string, lowercase hex (how JA3S is reported).
fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
