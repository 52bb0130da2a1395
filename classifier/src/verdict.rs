//! What a flow is, and why we think so.
//!
//! A [`Meta`] is the owned, per-flow result of dissection. It is only
//! allocated for flows that carried payload, so the per-flow cost of a
//! SYN flood stays in the flow table itself.

use serde::Serialize;

/// Encryption class of a flow (see issue 3 / README).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// No payload, or nothing decided.
    #[default]
    Unknown,
    /// Identified cleartext protocol.
    Cleartext,
    /// Identified encrypted protocol (TLS, QUIC, SSH, WireGuard, ...).
    Encrypted,
    /// Not identified, and the first client payload looks random
    /// (Wu et al., USENIX Security 2023).
    FullyEncrypted,
}

impl Encryption {
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::Unknown => "unknown",
            Encryption::Cleartext => "cleartext",
            Encryption::Encrypted => "encrypted",
            Encryption::FullyEncrypted => "fully_encrypted",
        }
    }
}

/// What a verdict rests on: a small bit set, printed as a list of names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Evidence(pub u16);

impl Evidence {
    /// Payload parsed by a dissector.
    pub const DPI: Evidence = Evidence(1);
    /// Application from the TLS/QUIC server name.
    pub const SNI: Evidence = Evidence(1 << 1);
    /// Application from an HTTP Host header.
    pub const HTTP_HOST: Evidence = Evidence(1 << 2);
    /// Application from a DNS query name.
    pub const DNS: Evidence = Evidence(1 << 3);
    /// Application from a JA4 fingerprint.
    pub const JA4: Evidence = Evidence(1 << 4);
    /// Application from STUN attributes (realm, software).
    pub const STUN: Evidence = Evidence(1 << 5);
    /// MTProto framing or obfuscated2 header proven from the payload.
    pub const MTPROTO: Evidence = Evidence(1 << 6);
    /// Address list.
    pub const IP: Evidence = Evidence(1 << 7);
    /// Well-known port: weak.
    pub const PORT: Evidence = Evidence(1 << 8);
    /// Statistical guess.
    pub const HEURISTIC: Evidence = Evidence(1 << 9);

    const NAMES: [(Evidence, &'static str); 10] = [
        (Evidence::DPI, "dpi"),
        (Evidence::SNI, "sni"),
        (Evidence::HTTP_HOST, "http_host"),
        (Evidence::DNS, "dns"),
        (Evidence::JA4, "ja4"),
        (Evidence::STUN, "stun"),
        (Evidence::MTPROTO, "mtproto"),
        (Evidence::IP, "ip"),
        (Evidence::PORT, "port"),
        (Evidence::HEURISTIC, "heuristic"),
    ];

    pub fn contains(self, other: Evidence) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
    pub fn insert(&mut self, other: Evidence) {
        self.0 |= other.0;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The names of the bits set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(e, _)| self.contains(*e))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for Evidence {
    type Output = Evidence;
    fn bitor(self, rhs: Evidence) -> Evidence {
        Evidence(self.0 | rhs.0)
    }
}

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

/// Per-flow dissection result. Dissectors fill what they know; the
/// engine and the rules fill `app` and add evidence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    /// Lowercase protocol name, `None` while unknown.
    pub protocol: Option<&'static str>,
    pub encryption: Encryption,
    pub evidence: Evidence,
    /// Lowercase application name, from the rules.
    pub app: Option<String>,
    /// How strong a heuristic app guess is, 0..=1, when one was made.
    pub app_confidence: Option<f32>,
    pub sni: Option<String>,
    /// Offered ALPN values, comma-separated, in offer order.
    pub alpn: Option<String>,
    pub ja3: Option<String>,
    pub ja3s: Option<String>,
    pub ja4: Option<String>,
    pub ja4_r: Option<String>,
    pub http_host: Option<String>,
    pub dns_query: Option<String>,
    /// Shannon entropy (bits per byte) of the first originator payload.
    pub entropy: Option<f32>,
    /// Everything else a dissector wants to report (version, banners,
    /// user agent, rcode, ...), in insertion order.
    pub extra: Vec<(&'static str, String)>,
}

impl Meta {
    /// Sets or replaces an extra field.
    pub fn set_extra(&mut self, key: &'static str, value: impl Into<String>) {
        let value = value.into();
        if let Some(slot) = self.extra.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.extra.push((key, value));
        }
    }
    pub fn extra(&self, key: &str) -> Option<&str> {
        self.extra.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
    /// Heap bytes held by its strings and its extras vector.
    pub fn heap_bytes(&self) -> usize {
        let named = [
            &self.app,
            &self.sni,
            &self.alpn,
            &self.ja3,
            &self.ja3s,
            &self.ja4,
            &self.ja4_r,
            &self.http_host,
            &self.dns_query,
        ];
        named
            .iter()
            .map(|s| s.as_ref().map_or(0, String::capacity))
            .sum::<usize>()
            + self.extra.capacity() * std::mem::size_of::<(&str, String)>()
            + self.extra.iter().map(|(_, v)| v.capacity()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_names_in_fixed_order() {
        let e = Evidence::IP | Evidence::DPI | Evidence::SNI;
        assert_eq!(e.names().collect::<Vec<_>>(), ["dpi", "sni", "ip"]);
        assert!(e.contains(Evidence::SNI));
        assert!(!e.contains(Evidence::PORT));
        assert!(!Evidence::default().contains(Evidence::default()));
    }

    #[test]
    fn extra_replaces() {
        let mut m = Meta::default();
        m.set_extra("k", "a");
        m.set_extra("k", "b");
        assert_eq!(m.extra("k"), Some("b"));
        assert_eq!(m.extra.len(), 1);
    }
}
