//! Presets: which kinds, how many, and where.

use super::rng::Rng;
use super::truth::Kind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// Issue 2: TCP flows with handshakes, data and FIN, UDP flows,
    /// IPv4 and IPv6, some 802.1Q-tagged frames.
    Basic,
    /// Issue 4: Telegram flows of every kind, half of them outside
    /// Telegram's ranges, and over 1,000 non-Telegram flows (random
    /// payloads, some starting with 0xef, TLS, QUIC, HTTP, DNS, plain).
    Telegram,
    /// A bit of everything: the README's demo capture.
    Demo,
}

/// Placement probabilities of a preset.
pub struct Params {
    pub ipv6: f64,
    pub vlan: f64,
}

impl Mix {
    pub fn params(self) -> Params {
        match self {
            Mix::Basic => Params { ipv6: 0.3, vlan: 0.25 },
            Mix::Telegram => Params { ipv6: 0.25, vlan: 0.05 },
            Mix::Demo => Params { ipv6: 0.25, vlan: 0.1 },
        }
    }

    /// Default counts per kind.
    pub fn counts(self) -> Vec<(Kind, usize)> {
        use Kind::*;
        match self {
            Mix::Basic => vec![
                (PlainTcpText, 8),
                (PlainTcpBinary, 8),
                (PlainUdpText, 6),
                (PlainUdpBinary, 6),
                (Http, 6),
                (Dns, 6),
            ],
            Mix::Telegram => vec![
                (MtprotoAbridged, 30),
                (MtprotoIntermediate, 30),
                (MtprotoPadded, 30),
                (Obfs2Abridged, 30),
                (Obfs2Intermediate, 30),
                (Obfs2Padded, 30),
                (FakeTls, 30),
                (MtproxySecret, 30),
                (MtproxySecretDd, 30),
                (Tls, 200),
                (Quic, 120),
                (Http, 100),
                (Dns, 150),
                (PlainTcpText, 40),
                (PlainTcpBinary, 40),
                (PlainUdpText, 40),
                (PlainUdpBinary, 40),
                (Random, 150),
                (RandomEf, 150),
            ],
            Mix::Demo => vec![
                (PlainTcpText, 3),
                (PlainTcpBinary, 3),
                (PlainUdpText, 2),
                (PlainUdpBinary, 2),
                (Http, 5),
                (Dns, 6),
                (Tls, 8),
                (Quic, 5),
                (MtprotoAbridged, 2),
                (MtprotoIntermediate, 2),
                (MtprotoPadded, 2),
                (Obfs2Abridged, 2),
                (Obfs2Intermediate, 2),
                (Obfs2Padded, 2),
                (FakeTls, 3),
                (Random, 3),
                (RandomEf, 2),
            ],
        }
    }
}

/// The flows to build, in capture order: the preset's counts (scaled to
/// `flows` by largest remainder, every kind at least one when `flows`
/// allows), overridden per kind by `overrides`, then shuffled.
pub fn plan(seed: u64, mix: Mix, flows: Option<usize>, overrides: &[(Kind, usize)]) -> Vec<Kind> {
    let mut counts = mix.counts();
    if let Some(total) = flows {
        let sum: usize = counts.iter().map(|c| c.1).sum();
        let mut scaled: Vec<(Kind, usize, usize)> = counts
            .iter()
            .map(|&(k, n)| {
                let exact = n * total;
                (k, exact / sum.max(1), exact % sum.max(1))
            })
            .collect();
        let given: usize = scaled.iter().map(|s| s.1).sum();
        let mut order: Vec<usize> = (0..scaled.len()).collect();
        order.sort_by(|&a, &b| scaled[b].2.cmp(&scaled[a].2).then(a.cmp(&b)));
        // The remainders: at most one more flow for each kind.
        for &i in order.iter().take(total.saturating_sub(given)) {
            scaled[i].1 += 1;
        }
        counts = scaled.into_iter().map(|(k, n, _)| (k, n)).collect();
    }
    for &(k, n) in overrides {
        match counts.iter_mut().find(|c| c.0 == k) {
            Some(c) => c.1 = n,
            None => counts.push((k, n)),
        }
    }
    let mut plan: Vec<Kind> = counts.iter().flat_map(|&(k, n)| std::iter::repeat_n(k, n)).collect();
    let mut rng = Rng::new(seed ^ 0x005e_ed0f_91a2);
    rng.shuffle(&mut plan);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_scaling() {
        let tg = plan(1, Mix::Telegram, None, &[]);
        let telegram = tg.iter().filter(|k| k.is_telegram()).count();
        assert!(telegram >= 200, "{telegram}");
        assert!(tg.len() - telegram >= 1000);
        assert!(tg.contains(&Kind::RandomEf));
        let small = plan(1, Mix::Telegram, Some(100), &[]);
        assert_eq!(small.len(), 100);
        let o = plan(1, Mix::Basic, None, &[(Kind::Quic, 4), (Kind::Http, 0)]);
        assert_eq!(o.iter().filter(|k| **k == Kind::Quic).count(), 4);
        assert!(!o.contains(&Kind::Http));
        assert_eq!(plan(7, Mix::Demo, None, &[]), plan(7, Mix::Demo, None, &[]));
    }
}
