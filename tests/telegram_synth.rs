//! Issue 4 on the generated test set (`baikal synth --mix telegram`, 210
//! Telegram flows, 1,030 others): for each kind whose payload proves
//! Telegram (MTProto in each plain transport, obfuscated2 with each tag)
//! recall ≥ 99%, and no non-Telegram flow labelled Telegram.
//!
//! A label is a *proof* when it has no `app_confidence`, a *guess* when it
//! has one. Proofs: zero false positives, no exception. Guesses:
//! - the MTProxy guess from a fully encrypted first payload of 64 / 105 /
//!   108 bytes also fires on a random (obfs4-like) flow whose first payload
//!   happens to have that size: at most 1% of the non-Telegram flows;
//! - KNOWN WEAKNESS, listed and counted but not failed: the fake-TLS guess
//!   (`protocol` tls, server flight ServerHello + ChangeCipherSpec +
//!   application data) also matches every real TLS 1.3 handshake whose
//!   server name names no app. It is printed with its rate so that a fix in
//!   the rules shows here.
//!
//! Needs the MTProto dissector; prints SKIP without one.

mod synth_common;

use std::collections::BTreeMap;

use baikal_classifier::dissect::by_name;

#[test]
fn telegram_recall_and_no_false_positives() {
    assert!(by_name("mtproto").is_some(), "the mtproto dissector is registered");
    let dir = tempfile::tempdir().expect("temp dir");
    let (truth, recs) = synth_common::synth_and_classify(dir.path(), &["--mix", "telegram", "--seed", "4"]);
    // kind -> (flows, labelled telegram, provable)
    let mut per_kind: BTreeMap<String, (usize, usize, bool)> = BTreeMap::new();
    let (mut proofs, mut guesses, mut fake_tls_guesses) = (Vec::new(), Vec::new(), Vec::new());
    let mut non_telegram = 0usize;
    for t in &truth {
        let k = synth_common::key(t);
        let r = recs.get(&k).unwrap_or_else(|| panic!("missing flow {k:?}"));
        let said = r["app"].as_str() == Some("telegram");
        let kind = t["kind"].as_str().unwrap_or_default().to_string();
        if t["app"].as_str() == Some("telegram") {
            let e = per_kind.entry(kind).or_default();
            e.0 += 1;
            e.1 += usize::from(said);
            e.2 = t["provable"] == true;
            continue;
        }
        non_telegram += 1;
        if !said {
            continue;
        }
        let line = format!(
            "{kind} {k:?} protocol {} evidence {} confidence {}",
            r["protocol"], r["evidence"], r["app_confidence"]
        );
        if !r["app_confidence"].is_number() {
            proofs.push(line);
        } else if r["protocol"] == "tls" {
            fake_tls_guesses.push(line);
        } else {
            guesses.push(line);
        }
    }
    assert!(
        non_telegram >= 1000,
        "test set too small: {non_telegram} non-Telegram flows"
    );
    let mut failed = Vec::new();
    for (kind, (n, hit, provable)) in &per_kind {
        let recall = *hit as f64 / *n as f64;
        eprintln!(
            "{kind}: {hit}/{n} = {:.1}%{}",
            recall * 100.0,
            if *provable { " (provable)" } else { "" }
        );
        // fake-TLS is not provable (the header is keyed by the secret),
        // but its shape (MTProxy's ServerHello and the client's long first
        // record) is held to the same bar.
        if (*provable || kind == "faketls") && recall < 0.99 {
            failed.push(format!("{kind}: recall {:.1}% < 99%", recall * 100.0));
        }
    }
    assert_eq!(
        per_kind.values().filter(|v| v.2).count(),
        6,
        "expected the six payload-provable kinds: {per_kind:?}"
    );
    assert!(
        fake_tls_guesses.is_empty(),
        "fake-TLS guesses on non-Telegram TLS flows:\n{}",
        fake_tls_guesses.join("\n")
    );
    eprintln!(
        "other telegram guesses on non-Telegram flows: {} of {non_telegram}\n{}",
        guesses.len(),
        guesses.join("\n")
    );
    assert!(
        proofs.is_empty(),
        "non-Telegram flows proven telegram:\n{}",
        proofs.join("\n")
    );
    assert!(
        guesses.len() * 100 <= non_telegram,
        "heuristic false positives above 1%: {} of {non_telegram}",
        guesses.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
