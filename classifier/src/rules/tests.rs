use std::net::IpAddr;
use std::sync::Arc;

use super::*;
use crate::flow::EndReason;
use crate::record::Transport;

fn rules(text: &str) -> Rules {
    Rules::compile(vec![parse_file("t.toml", text).unwrap()]).unwrap()
}

const DEMO: &str = r#"
[[app]]
name = "telegram"
category = "chat"
[[app.entry]]
source = "s"
date = "2026-01-01"
suffix = ["telegram.org", "t.me"]
exact = ["exact.example"]
prefixes = ["91.108.4.0/22", "149.154.160.0/20", "2001:b28:f23c::/47"]
stun_realm = ["telegram.org"]
stun_software = ["TgVoip"]

[[app]]
name = "inner"
category = "test"
[[app.entry]]
source = "s"
date = "2026-01-01"
suffix = ["cdn.telegram.org"]
prefixes = ["149.154.167.0/24", "2001:b28:f23c:1::/64"]
ja4 = ["t13d1516h2_8daaf6152771_02713d6af862"]
ports = ["udp:8801-8810", "tcp:9001"]

[[app]]
name = "random_stream"
category = "circumvention"
fully_encrypted = true
"#;

fn rec(resp: &str) -> FlowRecord {
    FlowRecord {
        orig_ip: "192.168.1.2".parse().unwrap(),
        orig_port: 40000,
        resp_ip: resp.parse().unwrap(),
        resp_port: 443,
        transport: Transport(6),
        ts_first: 0.0,
        ts_last: 0.0,
        orig_pkts: 1,
        orig_bytes: 1,
        resp_pkts: 1,
        resp_bytes: 1,
        protocol: "unknown",
        app: None,
        encryption: Encryption::Unknown,
        evidence: Evidence::default(),
        sni: None,
        alpn: None,
        ja3: None,
        ja4: None,
        http_host: None,
        dns_query: None,
        source: Arc::from("t"),
        end_reason: EndReason::Eof,
        entropy: Some(4.0),
        ja3s: None,
        ja4_r: None,
        app_confidence: None,
        orig_tcp_flags: None,
        resp_tcp_flags: None,
        extra: Vec::new(),
    }
}

fn ev(r: &FlowRecord) -> Vec<&'static str> {
    r.evidence.names().collect()
}

#[test]
fn suffix_and_exact_names() {
    let r = rules(DEMO);
    assert_eq!(r.match_name("telegram.org"), Some("telegram"));
    assert_eq!(r.match_name("web.telegram.org"), Some("telegram"));
    assert_eq!(r.match_name("WEB.Telegram.ORG."), Some("telegram"));
    assert_eq!(r.match_name("nottelegram.org"), None);
    assert_eq!(r.match_name("telegram.org.evil.com"), None);
    assert_eq!(r.match_name("org"), None);
    assert_eq!(r.match_name("t.me"), Some("telegram"));
    assert_eq!(r.match_name("exact.example"), Some("telegram"));
    assert_eq!(
        r.match_name("sub.exact.example"),
        None,
        "exact rules do not cover subdomains"
    );
    // The longest rule wins.
    assert_eq!(r.match_name("cdn.telegram.org"), Some("inner"));
    assert_eq!(r.match_name("a.b.cdn.telegram.org"), Some("inner"));
    assert_eq!(r.match_name("xcdn.telegram.org"), Some("telegram"));
    assert_eq!(r.match_name(""), None);
    assert_eq!(r.match_name("."), None);
    assert_eq!(r.match_name(".telegram.org"), Some("telegram"));
}

#[test]
fn longest_prefix_wins_v4_v6() {
    let r = rules(DEMO);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(r.match_ip(ip("91.108.8.1")), None);
    assert_eq!(r.match_ip(ip("91.108.7.255")), Some("telegram"));
    assert_eq!(r.match_ip(ip("91.108.4.0")), Some("telegram"));
    assert_eq!(r.match_ip(ip("91.108.3.255")), None);
    assert_eq!(r.match_ip(ip("149.154.160.1")), Some("telegram"));
    assert_eq!(r.match_ip(ip("149.154.167.91")), Some("inner"));
    assert_eq!(r.match_ip(ip("149.154.176.0")), None);
    assert_eq!(r.match_ip(ip("2001:b28:f23d:f001::a")), Some("telegram"));
    assert_eq!(r.match_ip(ip("2001:b28:f23c:1::5")), Some("inner"));
    assert_eq!(r.match_ip(ip("2001:b28:f23e::1")), None);
    assert_eq!(r.match_ip(ip("::ffff:91.108.4.1")), None, "no v4-mapped guessing");
}

#[test]
fn defaults_load_and_cover_the_brief() {
    let r = Rules::defaults().unwrap();
    assert!(r.defaults);
    for app in [
        "telegram",
        "whatsapp",
        "signal",
        "viber",
        "vk",
        "max",
        "discord",
        "teams",
        "skype",
        "zoom",
        "threema",
        "line",
        "wechat",
        "tor",
        "psiphon",
        "random_stream",
    ] {
        let a = r.apps().iter().find(|a| a.name == app);
        let a = a.unwrap_or_else(|| panic!("{app} missing"));
        assert!(!a.sources.is_empty(), "{app} has no source");
    }
    for n in [
        "telegram.org",
        "web.telegram.org",
        "t.me",
        "telegram.me",
        "telesco.pe",
        "cdn-telegram.org",
        "tdesktop.com",
    ] {
        assert_eq!(r.match_name(n), Some("telegram"), "{n}");
    }
    assert_eq!(r.match_name("nottelegram.org"), None);
    assert_eq!(r.match_name("sun9-1.userapi.com"), Some("vk"));
    assert_eq!(r.match_name("api.oneme.ru"), Some("max"));
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    for a in [
        "91.108.8.1",
        "149.154.167.91",
        "95.161.64.1",
        "185.76.151.1",
        "91.105.193.1",
    ] {
        assert_eq!(r.match_ip(ip(a)), Some("telegram"), "{a}");
    }
    for a in ["2001:b28:f23d:f001::a", "2001:67c:4e8:f002::a", "2a0a:f280:203::a"] {
        assert_eq!(r.match_ip(ip(a)), Some("telegram"), "{a}");
    }
    let tg = r.apps().iter().find(|a| a.name == "telegram").unwrap();
    assert_eq!((tg.prefixes_v4, tg.prefixes_v6), (10, 5));
}

#[test]
fn conflicts_are_errors() {
    let a = parse_file(
        "a.toml",
        "[[app]]\nname = \"a\"\ncategory = \"c\"\n[[app.entry]]\nsource = \"s\"\ndate = \"2026-01-01\"\nsuffix = [\"x.org\"]\n",
    )
    .unwrap();
    let b = parse_file(
        "b.toml",
        "[[app]]\nname = \"b\"\ncategory = \"c\"\n[[app.entry]]\nsource = \"s\"\ndate = \"2026-01-01\"\n\nexact = [\"X.org\"]\n",
    )
    .unwrap();
    let e = Rules::compile(vec![a.clone(), b]).unwrap_err();
    assert_eq!((e.file(), e.line()), ("b.toml", Some(8)), "{e}");
    assert!(e.to_string().contains("already claimed by app 'a'"), "{e}");
    let e = Rules::compile(vec![
        a.clone(),
        RuleFile {
            file: "c.toml".into(),
            ..a
        },
    ])
    .unwrap_err();
    assert!(e.to_string().contains("already defined at a.toml:2"), "{e}");
}

#[test]
fn load_dir_replaces_defaults_and_refuses_half_loaded() {
    let dir = std::env::temp_dir().join(format!("baikal-rules-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Empty directory: the defaults.
    assert!(Rules::load_dir(&dir).unwrap().defaults);
    std::fs::write(
        dir.join("a.toml"),
        "[[app]]\nname = \"madeup\"\ncategory = \"test\"\n[[app.entry]]\nsource = \"test\"\ndate = \"2026-01-01\"\nsuffix = [\"madeup.example\"]\n",
    )
    .unwrap();
    let r = Rules::load_dir(&dir).unwrap();
    assert!(!r.defaults);
    assert_eq!(r.apps().len(), 1);
    assert_eq!(r.match_name("www.madeup.example"), Some("madeup"));
    assert_eq!(r.match_name("telegram.org"), None, "defaults replaced");
    std::fs::write(dir.join("b.toml"), "[[app]]\nname = \"b\"\ncategory = \"c\"\n[[app.entry]]\nsource = \"s\"\ndate = \"2026-01-01\"\nprefixes = [\"1.2.3.4/40\"]\n").unwrap();
    let e = Rules::load_dir(&dir).unwrap_err();
    assert!(e.file().ends_with("b.toml"), "{e}");
    assert_eq!(e.line(), Some(7));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn evidence_precedence() {
    let r = rules(DEMO);
    // SNI beats a disagreeing address; the address adds no evidence.
    let mut x = rec("149.154.167.91");
    x.sni = Some("web.telegram.org".into());
    r.label_record(&mut x);
    assert_eq!(x.app.as_deref(), Some("telegram"));
    assert_eq!(ev(&x), ["sni"]);
    // SNI and DNS agree: both bits; an agreeing address still adds none.
    let mut x = rec("91.108.4.1");
    x.sni = Some("telegram.org".into());
    x.dns_query = Some("t.me".into());
    r.label_record(&mut x);
    assert_eq!(ev(&x), ["sni", "dns"]);
    // HTTP Host with a port.
    let mut x = rec("10.0.0.1");
    x.http_host = Some("cdn.telegram.org:8080".into());
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("inner"), vec!["http_host"]));
    // JA4 beats the address.
    let mut x = rec("91.108.4.1");
    x.ja4 = Some("t13d1516h2_8daaf6152771_02713d6af862".into());
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("inner"), vec!["ja4"]));
    // STUN realm / software.
    let mut x = rec("10.0.0.1");
    x.extra.push(("stun_realm", "Telegram.org".into()));
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("telegram"), vec!["stun"]));
    let mut x = rec("10.0.0.1");
    x.extra.push(("stun_software", "libtgvoip TGVOIP 2.4".into()));
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("telegram"), vec!["stun"]));
    // Address only: app, IP evidence, never DPI.
    let mut x = rec("2001:b28:f23c::1");
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("telegram"), vec!["ip"]));
    assert_eq!(x.app_confidence, None);
    // Port only: weakest, and only when nothing else.
    let mut x = rec("10.0.0.1");
    x.resp_port = 9001;
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("inner"), vec!["port"]));
    let mut x = rec("91.108.4.1");
    x.resp_port = 9001;
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("telegram"), vec!["ip"]));
    let mut x = rec("10.0.0.1");
    x.resp_port = 9001;
    x.entropy = None;
    r.label_record(&mut x);
    assert_eq!(x.app, None, "no payload, no port label");
    let mut x = rec("10.0.0.1");
    x.transport = Transport(17);
    x.resp_port = 9001;
    r.label_record(&mut x);
    assert_eq!(x.app, None, "tcp:9001 does not match udp");
    // Nothing matches: nothing set.
    let mut x = rec("10.0.0.1");
    x.sni = Some("example.com".into());
    r.label_record(&mut x);
    assert_eq!((x.app, x.evidence), (None, Evidence::default()));
}

#[test]
fn dissector_app_is_kept() {
    let r = rules(DEMO);
    let mut x = rec("149.154.167.91");
    x.protocol = "mtproto";
    x.app = Some("telegram".into());
    x.evidence = Evidence::DPI | Evidence::MTPROTO;
    r.label_record(&mut x);
    assert_eq!(x.app.as_deref(), Some("telegram"));
    assert_eq!(ev(&x), ["dpi", "mtproto"], "no IP bit over a proof");
    // mtproto without an app from the dissector: named here.
    let mut x = rec("10.0.0.1");
    x.protocol = "mtproto";
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), ev(&x)), (Some("telegram"), vec!["mtproto"]));
}

#[test]
fn association_with_an_earlier_flow() {
    let r = rules(DEMO);
    assert!(r.knows_stun_realm("telegram.org") && r.knows_stun_realm("Telegram.ORG"));
    assert!(!r.knows_stun_realm("example.org"));
    let assoc = |resp: &str, realm: &str| {
        let mut x = rec(resp);
        x.protocol = "stun";
        x.evidence = Evidence::DPI;
        x.extra.push(("assoc_realm", realm.into()));
        x.extra.push(("assoc_peer", format!("{resp}:443")));
        x.extra
            .push(("assoc_from", "udp 192.168.1.2:49780 > 91.108.9.35:1400".into()));
        x
    };
    let mut x = assoc("198.51.100.7", "telegram.org");
    r.label_record(&mut x);
    assert_eq!(x.app.as_deref(), Some("telegram"));
    assert_eq!(x.app_confidence, Some(CONF_ASSOCIATED));
    assert_eq!(ev(&x), ["dpi", "heuristic"]);
    // On a Telegram address too: the address adds its bit.
    let mut x = assoc("91.108.4.9", "telegram.org");
    r.label_record(&mut x);
    assert_eq!(ev(&x), ["dpi", "ip", "heuristic"]);
    // A realm no app claims: nothing from the association.
    let mut x = assoc("198.51.100.7", "example.org");
    r.label_record(&mut x);
    assert_eq!(x.app, None);
    // Payload evidence of the flow itself outranks the association.
    let mut x = assoc("198.51.100.7", "telegram.org");
    x.ja4 = Some("t13d1516h2_8daaf6152771_02713d6af862".into());
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), x.app_confidence), (Some("inner"), None));
}

#[test]
fn telegram_heuristics() {
    let r = rules(DEMO);
    let fe = |orig: &str, resp: &str| {
        let mut x = rec("198.51.100.7");
        x.encryption = Encryption::FullyEncrypted;
        x.evidence = Evidence::HEURISTIC;
        x.extra.push(("orig_first_len", orig.into()));
        if !resp.is_empty() {
            x.extra.push(("resp_first_len", resp.into()));
        }
        x
    };
    for (o, r2, conf) in [
        ("64", "85", CONF_MTPROXY_64),
        ("64", "88", CONF_MTPROXY_64),
        ("105", "85", CONF_MTPROXY_REQ_PQ),
        ("108", "88", CONF_MTPROXY_REQ_PQ),
    ] {
        let mut x = fe(o, r2);
        r.label_record(&mut x);
        assert_eq!(x.app.as_deref(), Some("telegram"), "{o}/{r2}");
        assert_eq!(x.app_confidence, Some(conf));
        assert_eq!(ev(&x), ["heuristic"]);
    }
    // One direction alone, transports mixed, or other sizes: a random
    // stream, not Telegram.
    for (o, r2) in [
        ("64", ""),
        ("108", ""),
        ("105", "88"),
        ("108", "85"),
        ("64", "84"),
        ("108", "300"),
        ("517", "85"),
        ("64", "1200"),
    ] {
        let mut x = fe(o, r2);
        r.label_record(&mut x);
        assert_eq!(x.app.as_deref(), Some("random_stream"), "{o}/{r2}");
        assert_eq!(x.app_confidence, Some(CONF_RANDOM_STREAM));
    }
    // Not fully encrypted: no guess.
    let mut x = fe("108", "88");
    x.encryption = Encryption::Unknown;
    r.label_record(&mut x);
    assert_eq!(x.app, None);
    // Fake-TLS shape.
    let tls = |records: &str, hs: &str, sni: &str| {
        let mut x = rec("198.51.100.7");
        x.protocol = "tls";
        x.encryption = Encryption::Encrypted;
        x.evidence = Evidence::DPI;
        x.sni = Some(sni.into());
        x.ja3s = Some(md5_hex("771,4865,51-43"));
        x.extra.push(("tls_version", "1.3".into()));
        x.extra.push(("server_records", records.into()));
        x.extra.push(("server_hs", hs.into()));
        x
    };
    let tls_c = |records: &str, hs: &str, sni: &str| {
        let mut x = tls(records, hs, sni);
        x.extra.push(("client_appdata_first_len", "211".into()));
        x
    };
    assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    // The server's flight alone: what any BoringSSL TLS 1.3 server sends.
    let mut x = tls("22,20,23", "2", "www.google.com");
    r.label_record(&mut x);
    assert_eq!(x.app, None, "server shape alone is no evidence");
    // The client's first application-data record decides.
    let mut x = tls("22,20,23", "2", "www.google.com");
    x.extra.push(("client_appdata_first_len", "211".into()));
    r.label_record(&mut x);
    assert_eq!(x.app.as_deref(), Some("telegram"));
    assert_eq!(x.app_confidence, Some(CONF_FAKE_TLS));
    assert_eq!(ev(&x), ["dpi", "heuristic"]);
    let mut x = tls("22,20,23", "2", "www.google.com");
    x.extra.push(("client_appdata_first_len", "53".into()));
    r.label_record(&mut x);
    assert_eq!(x.app, None, "a TLS 1.3 Finished: a real TLS client");
    for (records, hs) in [
        ("22,22,22,22", "2,11,12,14"),
        ("22,20,23,23,23", "2"),
        ("22,20,23", "2,11"),
    ] {
        let mut x = tls_c(records, hs, "www.google.com");
        r.label_record(&mut x);
        assert_eq!(x.app, None, "{records} / {hs}");
    }
    // OpenSSL / Go servers order supported_versions first: not the template.
    let mut x = tls_c("22,20,23", "2", "www.example.com");
    x.ja3s = Some(md5_hex("771,4865,43-51"));
    r.label_record(&mut x);
    assert_eq!(x.app, None);
    let mut x = tls_c("22,20,23", "2", "www.example.com");
    x.extra.retain(|(k, _)| *k != "tls_version");
    r.label_record(&mut x);
    assert_eq!(x.app, None, "TLS version unknown");
    // A Telegram SNI is Telegram by name, not a fake-TLS guess.
    let mut x = tls_c("22,20,23", "2", "web.telegram.org");
    r.label_record(&mut x);
    assert_eq!((x.app.as_deref(), x.app_confidence), (Some("telegram"), None));
    assert_eq!(ev(&x), ["dpi", "sni"]);
}

/// End to end through the engine: TCP packets in, labelled records out.
mod engine {
    use super::*;
    use crate::decode::{Addr, PacketView, TcpMeta, Tuple};
    use crate::engine::Engine;
    use crate::flow::FlowConfig;
    use aes::cipher::{KeyIvInit, StreamCipher};

    fn tcp<'a>(ts: u64, fwd: bool, seq: u32, flags: u8, payload: &'a [u8], server: [u8; 4]) -> PacketView<'a> {
        let (c, s) = (Addr::from_v4([192, 168, 1, 2]), Addr::from_v4(server));
        let tuple = if fwd {
            Tuple {
                src: c,
                dst: s,
                sport: 40000,
                dport: 443,
                proto: 6,
            }
        } else {
            Tuple {
                src: s,
                dst: c,
                sport: 443,
                dport: 40000,
                proto: 6,
            }
        };
        PacketView {
            ts_ns: ts,
            wire_len: 54 + payload.len() as u32,
            tuple,
            tcp: Some(TcpMeta { seq, ack: 0, flags }),
            payload,
        }
    }

    fn run(rules: Rules, client: &[u8], server: [u8; 4]) -> FlowRecord {
        run_both(rules, client, &[], server)
    }

    /// Handshake, the client's first payload, then the server's (if any).
    fn run_both(rules: Rules, client: &[u8], reply: &[u8], server: [u8; 4]) -> FlowRecord {
        let mut e = Engine::new(FlowConfig::default(), Some(Arc::new(rules)));
        let src: Arc<str> = Arc::from("t");
        let mut out = Vec::new();
        let mut pkts = vec![
            tcp(1, true, 100, 0x02, &[], server),
            tcp(2, false, 500, 0x12, &[], server),
            tcp(3, true, 101, 0x18, client, server),
        ];
        if !reply.is_empty() {
            pkts.push(tcp(4, false, 501, 0x18, reply, server));
        }
        for p in &pkts {
            e.process(p, &src, &mut |r| out.push(r));
        }
        e.finish(&src, &mut |r| out.push(r));
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    fn noise(seed: u32, n: usize) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect()
    }

    #[test]
    fn obfuscated2_to_any_address_is_telegram_by_payload() {
        let mut head = noise(1, 64);
        head[0] = 0x42;
        head[56..60].copy_from_slice(&[0xef; 4]);
        let mut enc = head.clone();
        let mut c = ctr::Ctr128BE::<aes::Aes256>::new_from_slices(&head[8..40], &head[40..56]).unwrap();
        c.apply_keystream(&mut enc);
        enc[..56].copy_from_slice(&head[..56]);
        enc.extend(noise(2, 41));
        // Not a Telegram address: the verdict rests on the payload alone.
        let r = run(Rules::defaults().unwrap(), &enc, [198, 51, 100, 7]);
        assert_eq!(r.protocol, "mtproto");
        assert_eq!(r.app.as_deref(), Some("telegram"));
        assert_eq!(ev(&r), ["dpi", "mtproto"]);
        assert_eq!(r.encryption, Encryption::Encrypted);
        assert_eq!(
            r.extra
                .iter()
                .find(|(k, _)| *k == "obfuscated2")
                .map(|(_, v)| v.as_str()),
            Some("true")
        );
        // Same flow to a Telegram address: still no IP bit over the proof.
        let r = run(Rules::defaults().unwrap(), &enc, [149, 154, 167, 51]);
        assert_eq!(ev(&r), ["dpi", "mtproto"]);
    }

    #[test]
    fn mtproxy_guess_from_both_opening_lengths() {
        let rules = || Rules::defaults().unwrap();
        // Header + abridged req_pq_multi, answered by an abridged resPQ.
        let r = run_both(rules(), &noise(3, 105), &noise(4, 85), [198, 51, 100, 7]);
        assert_eq!(r.protocol, "unknown");
        assert_eq!(r.encryption, Encryption::FullyEncrypted);
        assert_eq!(r.app.as_deref(), Some("telegram"));
        assert_eq!(r.app_confidence, Some(CONF_MTPROXY_REQ_PQ));
        assert_eq!(ev(&r), ["heuristic"]);
        // The header alone, answered by an intermediate resPQ.
        let r = run_both(rules(), &noise(3, 64), &noise(4, 88), [198, 51, 100, 7]);
        assert_eq!(r.app.as_deref(), Some("telegram"));
        assert_eq!(r.app_confidence, Some(CONF_MTPROXY_64));
        // The client side alone is no longer enough.
        let r = run(rules(), &noise(3, 64), [198, 51, 100, 7]);
        assert_eq!(r.app.as_deref(), Some("random_stream"));
        // Another answer size: a random stream.
        let r = run_both(rules(), &noise(3, 108), &noise(4, 300), [198, 51, 100, 7]);
        assert_eq!(r.app.as_deref(), Some("random_stream"));
    }
}

#[test]
fn loader_survives_garbage_and_truncation() {
    // Every prefix of a good file, and byte-mangled copies: an error or a
    // load, never a panic; errors always name a line inside the text.
    let text = DEMO;
    for k in 0..text.len() {
        let Some(prefix) = text.get(..k) else { continue };
        if let Err(e) = parse_file("p.toml", prefix).and_then(|f| Rules::compile(vec![f])) {
            let lines = prefix.lines().count().max(1) + 1;
            assert!(e.line().is_some_and(|l| l >= 1 && l <= lines), "{k}: {e}");
        }
    }
    let mut x = 0x9e37_79b9u32;
    for _ in 0..300 {
        let mut b = text.as_bytes().to_vec();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = x as usize % b.len();
            b[i] = (x >> 8) as u8 & 0x7f;
        }
        let s = String::from_utf8_lossy(&b);
        let _ = parse_file("m.toml", &s).and_then(|f| Rules::compile(vec![f]));
    }
}
