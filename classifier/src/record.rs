//! The flow record: what baikal reports per flow.
//!
//! Field names are part of the interface (jq scripts and pandas notebooks
//! depend on them); see README "Output". JSON lines and CSV carry the same
//! columns, in the order of [`COLUMNS`].

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::decode::ipproto;
use crate::flow::{EndReason, Ended};
use crate::verdict::{Encryption, Evidence, Meta};

/// One finished flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowRecord {
    pub orig_ip: IpAddr,
    pub orig_port: u16,
    pub resp_ip: IpAddr,
    pub resp_port: u16,
    pub transport: Transport,
    /// Epoch seconds.
    pub ts_first: f64,
    pub ts_last: f64,
    pub orig_pkts: u64,
    pub orig_bytes: u64,
    pub resp_pkts: u64,
    pub resp_bytes: u64,
    pub protocol: &'static str,
    pub app: Option<String>,
    pub encryption: Encryption,
    pub evidence: Evidence,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub ja3: Option<String>,
    pub ja4: Option<String>,
    pub http_host: Option<String>,
    pub dns_query: Option<String>,
    pub source: Arc<str>,
    /// Why the flow ended: `fin`, `rst`, `idle`, `evicted`, `eof`.
    pub end_reason: EndReason,
    /// Shannon entropy of the first originator payload, bits per byte.
    pub entropy: Option<f32>,
    pub ja3s: Option<String>,
    pub ja4_r: Option<String>,
    /// Strength of a heuristic application guess, 0..1.
    pub app_confidence: Option<f32>,
    /// TCP flags seen, per direction, as letters (e.g. `SAF`).
    pub orig_tcp_flags: Option<&'static str>,
    pub resp_tcp_flags: Option<&'static str>,
    /// Dissector-specific details (versions, banners, user agent, ...).
    #[serde(serialize_with = "ser_extra")]
    pub extra: Vec<(&'static str, String)>,
}

/// Transport name: `tcp`, `udp`, `icmp`, `icmpv6`, or the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transport(pub u8);

impl Transport {
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self.0 {
            ipproto::TCP => "tcp".into(),
            ipproto::UDP => "udp".into(),
            ipproto::ICMP => "icmp".into(),
            ipproto::ICMPV6 => "icmpv6".into(),
            n => n.to_string().into(),
        }
    }
}

impl Serialize for Transport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// A record's `extra` as it is serialized: an object, in the order the
/// fields were set (for a CSV cell, which holds its JSON text).
pub struct ExtraMap<'a>(pub &'a [(&'static str, String)]);

impl Serialize for ExtraMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ser_extra(self.0, s)
    }
}

fn ser_extra<S: serde::Serializer>(v: &[(&'static str, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(v.len()))?;
    for (k, val) in v {
        m.serialize_entry(k, val)?;
    }
    m.end()
}

/// Column order shared by JSON lines and CSV.
pub const COLUMNS: &[&str] = &[
    "orig_ip",
    "orig_port",
    "resp_ip",
    "resp_port",
    "transport",
    "ts_first",
    "ts_last",
    "orig_pkts",
    "orig_bytes",
    "resp_pkts",
    "resp_bytes",
    "protocol",
    "app",
    "encryption",
    "evidence",
    "sni",
    "alpn",
    "ja3",
    "ja4",
    "http_host",
    "dns_query",
    "source",
    "end_reason",
    "entropy",
    "ja3s",
    "ja4_r",
    "app_confidence",
    "orig_tcp_flags",
    "resp_tcp_flags",
    "extra",
];

/// The letters of the flags set in `f`, from a table of all 256 made once
/// (two strings built for every TCP record showed in the allocation
/// profile).
fn flag_letters(f: u8) -> &'static str {
    static TABLE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=u8::MAX).map(letters).collect())[usize::from(f)].as_str()
}

fn letters(f: u8) -> String {
    const L: [(u8, char); 8] = [
        (0x02, 'S'),
        (0x10, 'A'),
        (0x08, 'P'),
        (0x01, 'F'),
        (0x04, 'R'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'C'),
    ];
    L.iter().filter(|(b, _)| f & b != 0).map(|(_, c)| *c).collect()
}

fn secs(ns: u64) -> f64 {
    // Microsecond precision is what an f64 epoch can hold exactly enough.
    (ns / 1_000) as f64 / 1e6
}

impl FlowRecord {
    /// Builds the record of a flow that left the table.
    pub fn from_ended(e: Ended, source: &Arc<str>) -> FlowRecord {
        let f = e.flow;
        let t = f.orig_tuple();
        // Counters are indexed by direction: 0 = orig, 1 = resp.
        let (o, r) = (0usize, 1usize);
        let meta: Meta = e.meta.unwrap_or_default();
        let is_tcp = t.proto == ipproto::TCP;
        FlowRecord {
            orig_ip: t.src.to_ip(),
            orig_port: t.sport,
            resp_ip: t.dst.to_ip(),
            resp_port: t.dport,
            transport: Transport(t.proto),
            ts_first: secs(f.ts_first),
            ts_last: secs(f.ts_last),
            orig_pkts: f.counts.pkts(o),
            orig_bytes: f.counts.bytes(o),
            resp_pkts: f.counts.pkts(r),
            resp_bytes: f.counts.bytes(r),
            protocol: meta.protocol.unwrap_or("unknown"),
            app: meta.app,
            encryption: meta.encryption,
            evidence: meta.evidence,
            sni: meta.sni,
            alpn: meta.alpn,
            ja3: meta.ja3,
            ja4: meta.ja4,
            http_host: meta.http_host,
            dns_query: meta.dns_query,
            source: source.clone(),
            end_reason: e.reason,
            entropy: meta.entropy.map(|x| (x * 1000.0).round() / 1000.0),
            ja3s: meta.ja3s,
            ja4_r: meta.ja4_r,
            app_confidence: meta.app_confidence,
            orig_tcp_flags: is_tcp.then(|| flag_letters(f.tcp_flags[o])),
            resp_tcp_flags: is_tcp.then(|| flag_letters(f.tcp_flags[r])),
            extra: meta.extra,
        }
    }

    /// A stable sort key: first timestamp, then endpoints.
    pub fn sort_key(&self) -> (u64, IpAddr, u16, IpAddr, u16, u8) {
        (
            (self.ts_first * 1e6) as u64,
            self.orig_ip,
            self.orig_port,
            self.resp_ip,
            self.resp_port,
            self.transport.0,
        )
    }

    /// One JSON object, no trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_letters_from_the_table() {
        assert_eq!(flag_letters(0), "");
        assert_eq!(flag_letters(0x02), "S");
        assert_eq!(flag_letters(0x12), "SA");
        assert_eq!(flag_letters(0x19), "APF");
        assert_eq!(flag_letters(0xff), "SAPFRUEC");
        for f in 0..=u8::MAX {
            assert_eq!(flag_letters(f), letters(f));
            assert_eq!(flag_letters(f).len(), f.count_ones() as usize);
        }
    }
}
