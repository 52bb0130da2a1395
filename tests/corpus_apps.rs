//! Applications against nDPI's answers on the app captures of nDPI's
//! corpus (whatsapp*, signal*, viber*, vk*, discord*, teams*, skype*,
//! zoom*, line*, wechat*, tor*, psiphon3*, telegram*).
//!
//! For every flow to which nDPI gives one of these apps (the app part of
//! `[proto: X.Y/Proto.App]`, or the single name; every confidence), baikal
//! (with its built-in rules, as `baikal classify` runs) must name the
//! same app. A per-app table prints the flows nDPI labels, those baikal
//! agrees on, and the evidence baikal used. The disagreements are listed
//! in `tests/app_disagreements.txt` (see `common::Listed`; the class is
//! `ndpi-app/baikal-app baikal:protocol confidence:nDPI's`); an unlisted
//! disagreement, a stale entry or a wrong count fails.

mod common;

use std::collections::BTreeMap;

const LIST: &str = "app_disagreements.txt";

const PREFIXES: &[&str] = &[
    "whatsapp", "signal", "viber", "vk", "discord", "teams", "skype", "zoom", "line", "wechat", "tor", "psiphon3",
    "telegram",
];

/// nDPI's app name (lowercased) → the baikal app and the rule app names
/// that count as agreeing. nDPI's Skype_Teams covers both products,
/// which baikal's rules keep apart.
fn baikal_apps(ndpi_app: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some(match ndpi_app {
        "whatsapp" | "whatsappcall" | "whatsappfiles" => ("whatsapp", &["whatsapp"]),
        "signal" => ("signal", &["signal"]),
        "viber" => ("viber", &["viber"]),
        "vk" => ("vk", &["vk"]),
        "discord" => ("discord", &["discord"]),
        "teams" => ("teams", &["teams"]),
        "skype" | "skype_teams" | "skype_teamscall" | "skypecall" => ("skype/teams", &["skype", "teams"]),
        "zoom" => ("zoom", &["zoom"]),
        "line" | "linecall" => ("line", &["line"]),
        "wechat" => ("wechat", &["wechat"]),
        "tor" => ("tor", &["tor"]),
        "psiphon" => ("psiphon", &["psiphon"]),
        "telegram" | "telegramvoip" => ("telegram", &["telegram"]),
        _ => return None,
    })
}

#[derive(Default)]
struct Row {
    ndpi: usize,
    agree: usize,
    evidence: BTreeMap<String, usize>,
}

#[test]
fn apps_match_ndpi() {
    let Some(dir) = common::corpus("ndpi") else { return };
    let labeler = common::default_labeler();
    let mut table: BTreeMap<&str, Row> = BTreeMap::new();
    let mut found: Vec<common::Disagreement> = Vec::new();
    for (capture, out) in common::ndpi_outs(&dir) {
        if !PREFIXES.iter().any(|p| capture.starts_with(p)) {
            continue;
        }
        let flows: Vec<_> = common::read_ndpi_out(&out)
            .into_iter()
            .filter_map(|f| baikal_apps(&f.app()).map(|a| (f, a)))
            .collect();
        if flows.is_empty() {
            continue;
        }
        let records = common::run_file_with(&dir.join("pcap").join(&capture), Some(labeler.clone()));
        let rs = records.as_deref().unwrap_or_default();
        let by_key = common::index_records(rs);
        for (f, (app, accept)) in &flows {
            let row = table.entry(app).or_default();
            row.ndpi += 1;
            let got = by_key.get(&f.key()).map(Vec::as_slice).unwrap_or_default();
            if let Some(r) = got
                .iter()
                .find(|r| r.app.as_deref().is_some_and(|a| accept.contains(&a)))
            {
                row.agree += 1;
                let ev = r.evidence.names().collect::<Vec<_>>().join("+");
                *row.evidence.entry(ev).or_default() += 1;
                continue;
            }
            let (have, protocol) = match got.first() {
                None => ("none", "-"),
                Some(r) => (r.app.as_deref().unwrap_or("-"), r.protocol),
            };
            let detail = got.first().map_or_else(
                || "no such flow".to_string(),
                |r| {
                    format!(
                        "sni {:?} dns {:?} evidence {:?}; nDPI {}",
                        r.sni.as_deref().unwrap_or("-"),
                        r.dns_query.as_deref().unwrap_or("-"),
                        r.evidence.names().collect::<Vec<_>>(),
                        f.proto
                    )
                },
            );
            found.push(common::Disagreement {
                capture: capture.clone(),
                flow: f.flow_text(),
                class: format!(
                    "{}/{have} baikal:{protocol} confidence:{}",
                    f.app(),
                    f.confidence.as_deref().unwrap_or("-")
                ),
                detail,
            });
        }
    }
    for d in &found {
        eprintln!("APP-DISAGREE {}\t{}\t{}\t{}", d.capture, d.flow, d.class, d.detail);
    }
    eprintln!("{:<12} {:>6} {:>6}  baikal evidence (flows)", "app", "nDPI", "agree");
    let (mut n, mut a) = (0, 0);
    for (app, row) in &table {
        n += row.ndpi;
        a += row.agree;
        eprintln!("{app:<12} {:>6} {:>6}  {:?}", row.ndpi, row.agree, row.evidence);
    }
    eprintln!("{:<12} {n:>6} {a:>6}", "total");
    assert!(n > 0, "no app flows found in nDPI's app captures");
    let problems = common::check_listed(LIST, &found);
    assert_eq!(problems, 0, "tests/{LIST} does not list the disagreements exactly");
}
