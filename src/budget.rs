//! `baikal budget`: what classifying a country's traffic would cost.
//!
//! The model (all per second, at the peak):
//!
//! ```text
//! pps        = traffic_bits / 8 / avg_packet_bytes
//! new_flows  = traffic_Gbit × new_flows_per_gbit
//! cores      = (pps × ns_per_packet + new_flows × ns_per_flow) / 1e9 × peak_factor
//! servers    = ceil(cores / cores_per_server)
//! MW         = servers × watts_per_server × PUE / 1e6
//! GWh/year   = MW × 8766 h / 1000
//! cost/year  = GWh/year × 1e6 × tariff (per kWh)
//! ```
//!
//! `ns_per_packet` and `ns_per_flow` come from `baikal bench` (its
//! `cost_model`), for three depths of inspection shown side by side:
//! - first packets (SNI blocking): every packet pays decode + flow lookup and
//!   counters, each flow pays the dissection of its first packets;
//! - every packet (throttling, shaping by content): every packet also pays
//!   the mean cost of a dissected packet;
//! - QUIC Initial decryption: first packets, plus the decryption of the
//!   client's Initial on the share of new flows that are QUIC;
//! - flows only (IP-list blocking): flows tracked and counted with no
//!   deep packet inspection, measured by `bench` with the dissectors off
//!   (`classify --no-dpi`). Shown when the cost model has it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A malformed quantity on the command line.
#[derive(Debug, Error, PartialEq)]
pub enum UnitError {
    #[error("empty value")]
    Empty,
    #[error("'{0}': no number (expected e.g. {1})")]
    NoNumber(String, &'static str),
    #[error("'{0}': must not be negative")]
    Negative(String),
    #[error("'{input}': unknown unit '{unit}' (use {expected})")]
    UnknownUnit {
        input: String,
        unit: String,
        expected: &'static str,
    },
    #[error("'{0}': a unit is required (use {1})")]
    MissingUnit(String, &'static str),
}

fn split_number(s: &str, example: &'static str) -> Result<(f64, String), UnitError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0) || c == '_'))
        .map_or(s.len(), |(i, _)| i);
    let (num, unit) = s.split_at(end);
    let v: f64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| UnitError::NoNumber(s.to_string(), example))?;
    if !v.is_finite() {
        return Err(UnitError::NoNumber(s.to_string(), example));
    }
    if v < 0.0 {
        return Err(UnitError::Negative(s.to_string()));
    }
    Ok((v, unit.trim().to_string()))
}

const RATE_UNITS: &str = "bps, kbps, Mbps, Gbps, Tbps or bit/s, kbit/s, Mbit/s, Gbit/s, Tbit/s";

/// Parses a bit rate: `725.6Tbps`, `10 Gbit/s`, `400Mbps`, `1e3bps` is not
/// accepted (plain decimals only). Returns bits per second.
pub fn parse_rate(s: &str) -> Result<f64, UnitError> {
    let (v, unit) = split_number(s, "10Gbps")?;
    if unit.is_empty() {
        return Err(UnitError::MissingUnit(s.trim().to_string(), RATE_UNITS));
    }
    let mult = match unit.as_str() {
        "bps" | "bit/s" | "b/s" => 1.0,
        "kbps" | "Kbps" | "kbit/s" | "Kbit/s" => 1e3,
        "Mbps" | "Mbit/s" => 1e6,
        "Gbps" | "Gbit/s" => 1e9,
        "Tbps" | "Tbit/s" => 1e12,
        "Pbps" | "Pbit/s" => 1e15,
        _ => {
            return Err(UnitError::UnknownUnit {
                input: s.trim().to_string(),
                unit,
                expected: RATE_UNITS,
            })
        }
    };
    Ok(v * mult)
}

const SIZE_UNITS: &str = "B, kB, KiB, MB or MiB";

/// Parses a size: `900B`, `1.5kB` (1000), `1KiB` (1024), `1MB`, `1MiB`.
/// Returns bytes.
pub fn parse_size(s: &str) -> Result<f64, UnitError> {
    let (v, unit) = split_number(s, "900B")?;
    let mult = match unit.as_str() {
        "" => return Err(UnitError::MissingUnit(s.trim().to_string(), SIZE_UNITS)),
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "KiB" => 1024.0,
        "MB" => 1e6,
        "MiB" => 1024.0 * 1024.0,
        _ => {
            return Err(UnitError::UnknownUnit {
                input: s.trim().to_string(),
                unit,
                expected: SIZE_UNITS,
            })
        }
    };
    Ok(v * mult)
}

/// Parses a plain non-negative number (with an optional `_` separator).
pub fn parse_plain(s: &str) -> Result<f64, UnitError> {
    let (v, unit) = split_number(s, "3000")?;
    if !unit.is_empty() {
        return Err(UnitError::UnknownUnit {
            input: s.trim().to_string(),
            unit,
            expected: "a plain number",
        });
    }
    Ok(v)
}

/// A named figure with where it comes from.
pub struct Preset {
    pub name: &'static str,
    pub value: &'static str,
    pub what: &'static str,
    pub source: &'static str,
}

/// The presets `--presets` prints; their names are accepted in place of
/// the values of `--traffic` and `--tariff`.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "tspu",
        value: "725.6Tbps",
        what: "traffic: capacity target of Russia's TSPU filtering equipment",
        source: "Roskomnadzor / Russian government statements on the capacity TSPU (technical means of countering \
                 threats, deployed under the 2019 'sovereign Internet' law) is to filter, as reported in the Russian \
                 press; the figure is the one quoted in baikal's issue and is not re-checked here",
    },
    Preset {
        name: "msk-ix-2021",
        value: "5.06Tbps",
        what: "traffic: MSK-IX (Moscow Internet exchange) peak of 2021",
        source: "MSK-IX press release on its 2021 results (peak traffic across its exchange points)",
    },
    Preset {
        name: "irkutsk-low",
        value: "2 RUB/kWh",
        what: "electricity: Irkutsk region, low end of the range (among the cheapest in Russia: hydro power)",
        source: "Irkutsk region regulated tariffs, range 2-5 RUB/kWh by consumer class (approximate)",
    },
    Preset {
        name: "irkutsk-high",
        value: "5 RUB/kWh",
        what: "electricity: Irkutsk region, high end of the range",
        source: "Irkutsk region regulated tariffs, range 2-5 RUB/kWh by consumer class (approximate)",
    },
    Preset {
        name: "france",
        value: "0.18 EUR/kWh",
        what: "electricity: France",
        source: "order of magnitude of French regulated/non-household electricity prices, EUR 0.18/kWh (approximate)",
    },
];

/// Resolves `--traffic`: a preset name or a rate.
pub fn traffic_of(s: &str) -> Result<f64, UnitError> {
    match s.trim() {
        "tspu" => parse_rate("725.6Tbps"),
        "msk-ix-2021" | "msk-ix" => parse_rate("5.06Tbps"),
        other => parse_rate(other),
    }
}

/// Resolves `--tariff`: a preset name (which also names its currency) or a
/// plain number per kWh.
pub fn tariff_of(s: &str) -> Result<(f64, Option<&'static str>), UnitError> {
    match s.trim() {
        "irkutsk-low" => Ok((2.0, Some("RUB"))),
        "irkutsk-high" | "irkutsk" => Ok((5.0, Some("RUB"))),
        "france" => Ok((0.18, Some("EUR"))),
        other => Ok((parse_plain(other)?, None)),
    }
}

/// Per-packet and per-flow costs, nanoseconds of one core. The fields are
/// those of `baikal bench --format json`'s `cost_model`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Decode + flow lookup + counters (+ reading), per packet.
    pub ns_per_packet: f64,
    /// Creating a flow and dissecting its first packets, per new flow.
    pub ns_per_new_flow: f64,
    /// Per-packet cost when every packet is inspected.
    pub every_packet_ns_per_packet: f64,
    /// Decrypting one QUIC client Initial (key derivation + header
    /// protection + AEAD over a 1200-byte packet).
    pub quic_initial_decrypt_ns: f64,
    /// Per packet and per new flow with no deep packet inspection (flows
    /// tracked, IP rules only). Absent from bench files of before they
    /// were measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows_only_ns_per_packet: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows_only_ns_per_new_flow: Option<f64>,
}

impl CostModel {
    /// The depths this model has costs for.
    pub fn depths(&self) -> Vec<Depth> {
        Depth::ALL
            .into_iter()
            .filter(|&d| d != Depth::FlowsOnly || self.flows_only().is_some())
            .collect()
    }
    fn flows_only(&self) -> Option<(f64, f64)> {
        Some((self.flows_only_ns_per_packet?, self.flows_only_ns_per_new_flow?))
    }
}

/// Depth of inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Depth {
    /// First packets of each flow only (SNI blocking).
    FirstPackets,
    /// Every packet inspected (throttling, shaping by content).
    EveryPacket,
    /// First packets plus decryption of QUIC client Initials.
    QuicInitial,
    /// No deep packet inspection: flows tracked, IP rules only (blocking
    /// by IP lists).
    FlowsOnly,
}

impl Depth {
    pub const ALL: [Depth; 4] = [
        Depth::FirstPackets,
        Depth::EveryPacket,
        Depth::QuicInitial,
        Depth::FlowsOnly,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Depth::FirstPackets => "first-packets",
            Depth::EveryPacket => "every-packet",
            Depth::QuicInitial => "quic-initial",
            Depth::FlowsOnly => "flows-only",
        }
    }
}

/// The traffic and the hardware.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inputs {
    pub traffic_bps: f64,
    pub avg_packet_bytes: f64,
    pub new_flows_per_gbit: f64,
    pub cores_per_server: f64,
    pub watts_per_server: f64,
    pub pue: f64,
    pub tariff_per_kwh: f64,
    pub currency: String,
    pub peak_factor: f64,
    /// Share of new flows that are QUIC (for the QUIC Initial depth).
    pub quic_share: f64,
}

/// What one depth costs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub depth: Depth,
    pub ns_per_packet: f64,
    pub ns_per_flow: f64,
    pub packets_per_s: f64,
    pub new_flows_per_s: f64,
    pub cores: f64,
    pub servers: u64,
    pub megawatts: f64,
    pub gwh_per_year: f64,
    pub cost_per_year: f64,
}

pub const HOURS_PER_YEAR: f64 = 8766.0;

/// The model of the module docs for one depth; `None` for `flows-only`
/// when the cost model does not have it.
pub fn estimate(i: &Inputs, c: &CostModel, depth: Depth) -> Option<Estimate> {
    let (ns_pkt, ns_flow) = match depth {
        Depth::FirstPackets => (c.ns_per_packet, c.ns_per_new_flow),
        Depth::EveryPacket => (c.every_packet_ns_per_packet, c.ns_per_new_flow),
        Depth::QuicInitial => (
            c.ns_per_packet,
            c.ns_per_new_flow + i.quic_share * c.quic_initial_decrypt_ns,
        ),
        Depth::FlowsOnly => c.flows_only()?,
    };
    let pps = i.traffic_bps / 8.0 / i.avg_packet_bytes;
    let nfps = i.traffic_bps / 1e9 * i.new_flows_per_gbit;
    let cores = (pps * ns_pkt + nfps * ns_flow) / 1e9 * i.peak_factor;
    let servers = (cores / i.cores_per_server).ceil() as u64;
    let megawatts = servers as f64 * i.watts_per_server * i.pue / 1e6;
    let gwh_per_year = megawatts * HOURS_PER_YEAR / 1000.0;
    Some(Estimate {
        depth,
        ns_per_packet: ns_pkt,
        ns_per_flow: ns_flow,
        packets_per_s: pps,
        new_flows_per_s: nfps,
        cores,
        servers,
        megawatts,
        gwh_per_year,
        cost_per_year: gwh_per_year * 1e6 * i.tariff_per_kwh,
    })
}

/// Checks the inputs make sense (positive where dividing).
pub fn validate(i: &Inputs) -> Result<(), String> {
    for (name, v) in [
        ("--avg-packet", i.avg_packet_bytes),
        ("--cores-per-server", i.cores_per_server),
        ("--pue", i.pue),
        ("--peak-factor", i.peak_factor),
    ] {
        if !(v > 0.0 && v.is_finite()) {
            return Err(format!("{name} must be positive"));
        }
    }
    if !(0.0..=1.0).contains(&i.quic_share) {
        return Err("--quic-share must be between 0 and 1".into());
    }
    Ok(())
}

/// Reads the cost model from a `baikal bench --format json` file.
pub fn cost_from_bench(json: &str) -> Result<CostModel, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let m = v
        .get("cost_model")
        .ok_or("no `cost_model` object (written by `baikal bench --format json`)")?;
    serde_json::from_value(m.clone()).map_err(|e| format!("cost_model: {e}"))
}

fn si(v: f64) -> String {
    let (d, u) = if v >= 1e12 {
        (1e12, "T")
    } else if v >= 1e9 {
        (1e9, "G")
    } else if v >= 1e6 {
        (1e6, "M")
    } else if v >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    format!("{:.2}{u}", v / d)
}

/// The side-by-side table.
pub fn table(i: &Inputs, est: &[Estimate], selected: Depth) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "traffic {}bit/s at {:.0} B/packet = {}packets/s; {} new flows/s ({} per Gbit); peak factor {}",
        si(i.traffic_bps),
        i.avg_packet_bytes,
        si(i.traffic_bps / 8.0 / i.avg_packet_bytes),
        si(i.traffic_bps / 1e9 * i.new_flows_per_gbit),
        i.new_flows_per_gbit,
        i.peak_factor
    );
    let _ = writeln!(
        s,
        "servers of {} cores, {} W, PUE {}; electricity {} {}/kWh; QUIC share of new flows {}",
        i.cores_per_server, i.watts_per_server, i.pue, i.tariff_per_kwh, i.currency, i.quic_share
    );
    let _ = writeln!(
        s,
        "\n{:<16} {:>10} {:>10} {:>12} {:>9} {:>8} {:>10} {:>16}",
        "depth", "ns/packet", "ns/flow", "cores", "servers", "MW", "GWh/year", "cost/year"
    );
    for e in est {
        let mark = if e.depth == selected { "*" } else { " " };
        let _ = writeln!(
            s,
            "{}{:<15} {:>10.1} {:>10.0} {:>12.0} {:>9} {:>8.2} {:>10.1} {:>12} {}",
            mark,
            e.depth.as_str(),
            e.ns_per_packet,
            e.ns_per_flow,
            e.cores,
            e.servers,
            e.megawatts,
            e.gwh_per_year,
            si(e.cost_per_year),
            i.currency
        );
    }
    s
}

/// `--presets` text.
pub fn presets_text() -> String {
    let mut s = String::from("Presets (names usable as --traffic / --tariff values):\n");
    for p in PRESETS {
        s.push_str(&format!(
            "  {:<13} {:<13} {}\n  {:<13} source: {}\n",
            p.name, p.value, p.what, "", p.source
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn rates() {
        assert!(close(parse_rate("725.6Tbps").unwrap(), 725.6e12));
        assert!(close(parse_rate("10 Gbit/s").unwrap(), 10e9));
        assert!(close(parse_rate("400Mbps").unwrap(), 400e6));
        assert!(close(parse_rate("5.06Tbit/s").unwrap(), 5.06e12));
        assert!(close(parse_rate("1_000bps").unwrap(), 1000.0));
        assert!(close(parse_rate("3kbit/s").unwrap(), 3000.0));
    }

    #[test]
    fn rate_errors() {
        assert_eq!(parse_rate(""), Err(UnitError::Empty));
        assert!(matches!(parse_rate("-5Gbps"), Err(UnitError::Negative(_))));
        assert!(matches!(parse_rate("5GBps"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(parse_rate("5"), Err(UnitError::MissingUnit(..))));
        assert!(matches!(parse_rate("Gbps"), Err(UnitError::NoNumber(..))));
        assert!(matches!(parse_rate("1.2.3Gbps"), Err(UnitError::NoNumber(..))));
        assert!(matches!(parse_rate("5 parsecs"), Err(UnitError::UnknownUnit { .. })));
    }

    #[test]
    fn sizes() {
        assert!(close(parse_size("900B").unwrap(), 900.0));
        assert!(close(parse_size("1.5kB").unwrap(), 1500.0));
        assert!(close(parse_size("2KiB").unwrap(), 2048.0));
        assert!(close(parse_size("1MB").unwrap(), 1e6));
        assert!(close(parse_size("1MiB").unwrap(), 1_048_576.0));
        assert!(matches!(parse_size("900"), Err(UnitError::MissingUnit(..))));
        assert!(matches!(parse_size("-1B"), Err(UnitError::Negative(_))));
        assert!(matches!(parse_size("9 bytes"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(parse_plain("3000x"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(parse_plain("-1"), Err(UnitError::Negative(_))));
    }

    #[test]
    fn presets_resolve() {
        assert!(close(traffic_of("tspu").unwrap(), 725.6e12));
        assert!(close(traffic_of("msk-ix-2021").unwrap(), 5.06e12));
        assert_eq!(tariff_of("france").unwrap(), (0.18, Some("EUR")));
        assert_eq!(tariff_of("3.5").unwrap(), (3.5, None));
        assert!(presets_text().contains("725.6Tbps"));
    }

    fn inputs() -> Inputs {
        Inputs {
            traffic_bps: 8e12, // 8 Tbit/s
            avg_packet_bytes: 1000.0,
            new_flows_per_gbit: 1000.0,
            cores_per_server: 64.0,
            watts_per_server: 500.0,
            pue: 1.5,
            tariff_per_kwh: 2.0,
            currency: "RUB".into(),
            peak_factor: 2.0,
            quic_share: 0.5,
        }
    }

    const COST: CostModel = CostModel {
        ns_per_packet: 100.0,
        ns_per_new_flow: 2000.0,
        every_packet_ns_per_packet: 300.0,
        quic_initial_decrypt_ns: 4000.0,
        flows_only_ns_per_packet: Some(40.0),
        flows_only_ns_per_new_flow: Some(500.0),
    };

    #[test]
    fn arithmetic_by_hand() {
        // pps = 8e12 / 8 / 1000 = 1e9; new flows = 8000 Gbit × 1000 = 8e6/s.
        // cores = (1e9 × 100 + 8e6 × 2000) / 1e9 × 2 = (100 + 16) × 2 = 232.
        // servers = ceil(232 / 64) = 4; MW = 4 × 500 × 1.5 / 1e6 = 0.003.
        // GWh/year = 0.003 × 8766 / 1000 = 0.026298; cost = 26298 kWh × 2 = 52596.
        let e = estimate(&inputs(), &COST, Depth::FirstPackets).unwrap();
        assert!(close(e.packets_per_s, 1e9));
        assert!(close(e.new_flows_per_s, 8e6));
        assert!(close(e.cores, 232.0));
        assert_eq!(e.servers, 4);
        assert!(close(e.megawatts, 0.003));
        assert!(close(e.gwh_per_year, 0.026298));
        assert!(close(e.cost_per_year, 52596.0));
        // Every packet: (1e9 × 300 + 8e6 × 2000) / 1e9 × 2 = 632 → 10 servers.
        let e = estimate(&inputs(), &COST, Depth::EveryPacket).unwrap();
        assert!(close(e.cores, 632.0));
        assert_eq!(e.servers, 10);
        // QUIC: flow cost 2000 + 0.5 × 4000 = 4000 → (100 + 32) × 2 = 264 → 5.
        let e = estimate(&inputs(), &COST, Depth::QuicInitial).unwrap();
        assert!(close(e.ns_per_flow, 4000.0));
        assert!(close(e.cores, 264.0));
        assert_eq!(e.servers, 5);
        // Flows only: (1e9 × 40 + 8e6 × 500) / 1e9 × 2 = (40 + 4) × 2 = 88 → 2.
        let e = estimate(&inputs(), &COST, Depth::FlowsOnly).unwrap();
        assert!(close(e.ns_per_packet, 40.0));
        assert!(close(e.cores, 88.0));
        assert_eq!(e.servers, 2);
        assert_eq!(COST.depths(), Depth::ALL);
        // A model without it (an older bench file) has no flows-only row.
        let old = CostModel {
            flows_only_ns_per_new_flow: None,
            ..COST
        };
        assert!(estimate(&inputs(), &old, Depth::FlowsOnly).is_none());
        assert!(estimate(&inputs(), &old, Depth::FirstPackets).is_some());
        assert_eq!(
            old.depths(),
            [Depth::FirstPackets, Depth::EveryPacket, Depth::QuicInitial]
        );
    }

    #[test]
    fn validation_and_bench_file() {
        let mut i = inputs();
        assert!(validate(&i).is_ok());
        i.pue = 0.0;
        assert!(validate(&i).is_err());
        let j = r#"{"cost_model":{"ns_per_packet":1.5,"ns_per_new_flow":2.0,
            "every_packet_ns_per_packet":3.0,"quic_initial_decrypt_ns":4.0}}"#;
        let c = cost_from_bench(j).unwrap();
        assert_eq!(c.ns_per_packet, 1.5);
        assert_eq!(c.flows_only_ns_per_packet, None);
        let j = r#"{"cost_model":{"ns_per_packet":1.5,"ns_per_new_flow":2.0,
            "every_packet_ns_per_packet":3.0,"quic_initial_decrypt_ns":4.0,
            "flows_only_ns_per_packet":0.5,"flows_only_ns_per_new_flow":0.75}}"#;
        let c = cost_from_bench(j).unwrap();
        assert_eq!(
            (c.flows_only_ns_per_packet, c.flows_only_ns_per_new_flow),
            (Some(0.5), Some(0.75))
        );
        assert!(cost_from_bench("{}").is_err());
        assert!(cost_from_bench("nope").is_err());
    }
}
