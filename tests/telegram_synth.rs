//! Issue 4 on the generated test set (`baikal synth --mix telegram`, 270
//! Telegram flows, 1,030 others): for each kind whose payload proves
//! Telegram (MTProto in each plain transport, obfuscated2 with each tag)
//! recall ≥ 99%, and not one non-Telegram flow labelled Telegram, by any
//! evidence, proof or guess.
//!
//! The guesses are held to a bar too: the fake-TLS guess on MTProxy's
//! fake-TLS flows and the MTProxy guess on MTProxy-with-secret flows in
//! the abridged or intermediate transport (`mtproxy-secret`) ≥ 99%.
//! `mtproxy-secret-dd` (padded intermediate, "dd" secrets) is not guessed
//! by design (its opening sizes are padded at random; see the rules'
//! `mtproxy_secret`): its recall is printed, not asserted.
//!
//! Needs the MTProto dissector.

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
    let mut false_positives = Vec::new();
    let mut guess_evidence = Vec::new();
    let mut non_telegram = 0usize;
    for t in &truth {
        let k = synth_common::key(t);
        let r = recs.get(&k).unwrap_or_else(|| panic!("missing flow {k:?}"));
        let said = r["app"].as_str() == Some("telegram");
        let kind = t["kind"].as_str().unwrap_or_default().to_string();
        if t["app"].as_str() == Some("telegram") {
            let e = per_kind.entry(kind.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(said);
            e.2 = t["provable"] == true;
            // An MTProxy-secret flow (never in Telegram's ranges) named
            // Telegram is named by the guess: heuristic, with a confidence.
            let heuristic = r["evidence"]
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e == "heuristic"));
            if kind.starts_with("mtproxy-secret") && said && !(heuristic && r["app_confidence"].is_number()) {
                guess_evidence.push(format!(
                    "{kind} {k:?}: evidence {} confidence {}",
                    r["evidence"], r["app_confidence"]
                ));
            }
            continue;
        }
        non_telegram += 1;
        if said {
            false_positives.push(format!(
                "{kind} {k:?} protocol {} evidence {} confidence {}",
                r["protocol"], r["evidence"], r["app_confidence"]
            ));
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
        let guessed = kind == "faketls" || kind == "mtproxy-secret";
        if (*provable || guessed) && recall < 0.99 {
            failed.push(format!("{kind}: recall {:.1}% < 99%", recall * 100.0));
        }
    }
    assert_eq!(
        per_kind.values().filter(|v| v.2).count(),
        6,
        "expected the six payload-provable kinds: {per_kind:?}"
    );
    for k in ["faketls", "mtproxy-secret", "mtproxy-secret-dd"] {
        assert!(
            per_kind.get(k).is_some_and(|v| v.0 >= 20),
            "too few {k} flows: {per_kind:?}"
        );
    }
    eprintln!(
        "non-Telegram flows labelled telegram: {} of {non_telegram}",
        false_positives.len()
    );
    assert!(
        false_positives.is_empty(),
        "non-Telegram flows labelled telegram:\n{}",
        false_positives.join("\n")
    );
    assert!(guess_evidence.is_empty(), "{}", guess_evidence.join("\n"));
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
