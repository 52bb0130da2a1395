//! Command-line definitions and dispatch: validate the flags, resolve them
//! into a [`pipeline::Config`], run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::budget::Depth;
use crate::output::{Format, Sink};
use crate::pipeline::{self, Config, Source};

#[derive(Parser, Debug)]
#[command(name = "baikal", version, about = "Deep packet inspection, measured.", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Classify the flows of capture files or a live interface.
    Classify(ClassifyArgs),
    /// Generate a labelled capture: a pcap and its ground truth (`OUT.truth.jsonl`).
    Synth(crate::synth::SynthArgs),
    /// List the application rules loaded (apps, counts, sources).
    Rules(RulesArgs),
    /// What classifying a country's traffic would cost: cores, servers,
    /// megawatts, money per year, for three depths of inspection.
    #[command(after_help = BUDGET_HELP)]
    Budget(BudgetArgs),
    /// Measure classification: packets/s and Gbit/s per thread count,
    /// per-stage latency, cost per packet and per flow, memory per flow.
    #[command(after_help = crate::bench::COST_METHOD)]
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Capture files, loaded into memory before anything is timed.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
    /// Thread counts to measure, comma-separated.
    #[arg(short = 't', long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// Whole-pipeline runs per thread count (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    #[arg(short = 'F', long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the report here instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Payload packets per direction given to the dissectors (1 to 255).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u8).range(1..))]
    pub probe_packets: u8,
    /// Most flows tracked at once.
    #[arg(long, default_value_t = 4_000_000)]
    pub max_flows: usize,
    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct RulesArgs {
    /// Rule directory (*.toml) replacing the built-in rules.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

/// Loads `--rules DIR`, or the built-in rules.
fn load_rules(dir: Option<&std::path::Path>) -> Result<baikal_classifier::rules::Rules> {
    use baikal_classifier::rules::Rules;
    Ok(match dir {
        Some(d) => Rules::load_dir(d)?,
        None => Rules::defaults()?,
    })
}

const BUDGET_HELP: &str = "\
Model: cores = (pps x ns_per_packet + new_flows_per_s x ns_per_flow) / 1e9 x peak_factor,
pps = traffic_bits / 8 / avg_packet, new_flows_per_s = traffic_Gbit x new_flows_per_gbit;
servers = ceil(cores / cores_per_server); MW = servers x watts x PUE; GWh/year = MW x 8766 h.

Presets (use the name as the value of --traffic or --tariff; --presets prints the sources):
  tspu          725.6Tbps  capacity target of Russia's TSPU (Roskomnadzor / government statements, press reports)
  msk-ix-2021   5.06Tbps   MSK-IX 2021 peak (MSK-IX press release)
  irkutsk-low   2 RUB/kWh  Irkutsk region electricity, low end (2-5 RUB/kWh)
  irkutsk-high  5 RUB/kWh  Irkutsk region electricity, high end
  france        0.18 EUR/kWh

Example:
  baikal bench /tmp/bench.pcap --format json > bench.json
  baikal budget --traffic tspu --from-bench bench.json --avg-packet 900B --new-flows-per-gbit 3000 \\
      --cores-per-server 64 --watts-per-server 700 --pue 1.3 --tariff 3.5 --currency RUB";

#[derive(clap::Args, Debug)]
pub struct BudgetArgs {
    /// Traffic at the peak: 725.6Tbps, 400Gbit/s, ... or a preset name (tspu, msk-ix-2021).
    #[arg(long, default_value = "tspu")]
    pub traffic: String,
    /// Costs from `baikal bench --format json` (its `cost_model`).
    #[arg(long, value_name = "BENCH.json")]
    pub from_bench: Option<PathBuf>,
    /// Per-packet cost in ns (overrides the bench file).
    #[arg(long)]
    pub ns_per_packet: Option<f64>,
    /// Per-new-flow cost in ns (overrides the bench file).
    #[arg(long)]
    pub ns_per_flow: Option<f64>,
    /// Per-packet cost in ns when every packet is inspected (overrides the bench file).
    #[arg(long)]
    pub every_packet_ns: Option<f64>,
    /// Cost of decrypting one QUIC Initial in ns (overrides the bench file).
    #[arg(long)]
    pub quic_initial_ns: Option<f64>,
    /// Average packet size: 900B, 1.2kB, 1KiB.
    #[arg(long, default_value = "900B")]
    pub avg_packet: String,
    /// New flows per second per Gbit/s of traffic.
    #[arg(long, default_value = "3000")]
    pub new_flows_per_gbit: String,
    /// Share of new flows that are QUIC (0..1), for the quic-initial depth.
    #[arg(long, default_value = "0.25")]
    pub quic_share: String,
    #[arg(long, default_value = "64")]
    pub cores_per_server: String,
    #[arg(long, default_value = "700")]
    pub watts_per_server: String,
    /// Power usage effectiveness of the data centre.
    #[arg(long, default_value = "1.3")]
    pub pue: String,
    /// Electricity price per kWh, or a preset (irkutsk-low, irkutsk-high, france).
    #[arg(long, default_value = "3.5")]
    pub tariff: String,
    /// Currency of the tariff (a preset tariff sets its own).
    #[arg(long)]
    pub currency: Option<String>,
    /// Peak-to-average provisioning factor.
    #[arg(long, default_value = "1.5")]
    pub peak_factor: String,
    /// Depth of inspection marked as the headline (all are shown).
    #[arg(long, value_enum, default_value_t = Depth::FirstPackets)]
    pub depth: Depth,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Print the presets and their sources, then exit.
    #[arg(long)]
    pub presets: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// Capture files (pcap, pcapng, optionally gzip'd); `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Capture file to read (tshark-style; same as a positional FILE).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<String>,
    /// Live interface to capture from.
    #[arg(short = 'i', long = "interface", value_name = "IFACE", conflicts_with_all = ["files", "read"])]
    pub interface: Option<String>,
    /// Stop a live capture after this long (e.g. 30s, 5m, 1h).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many packets (at least 1).
    #[arg(short = 'c', long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Write output here instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Most flows tracked at once; the least recently seen are evicted
    /// (and still reported, marked `evicted`).
    #[arg(long, default_value_t = 4_000_000)]
    pub max_flows: usize,
    /// Idle timeout for TCP flows, seconds.
    #[arg(long, default_value_t = 600)]
    pub tcp_timeout: u64,
    /// Idle timeout for UDP flows, seconds.
    #[arg(long, default_value_t = 120)]
    pub udp_timeout: u64,
    /// Idle timeout for other flows, seconds.
    #[arg(long, default_value_t = 60)]
    pub other_timeout: u64,
    /// Payload packets per direction given to the dissectors (1 to 255).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u8).range(1..))]
    pub probe_packets: u8,
    /// Track flows without deep packet inspection: no dissectors,
    /// fingerprints or randomness tests; applications come from address
    /// rules only. What a filter blocking by IP lists needs.
    #[arg(long)]
    pub no_dpi: bool,
    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Rule directory (*.toml) replacing the built-in application rules.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Classification threads. 1: decode and classify on the reading
    /// thread. N > 1: N workers, flows sharded by a symmetric hash of their
    /// key; a regular capture file is read in stripes by every worker, a
    /// pipe or gzip'd input by the calling thread into blocks; each block's
    /// frames are routed once, by whichever worker is free, and a live
    /// interface is shared through AF_PACKET fanout (see
    /// docs/PERFORMANCE.md). The set of records is the same for every N,
    /// also when the capture's time goes back, unless flows are evicted for
    /// capacity (--max-flows is divided among the workers); their order
    /// differs.
    #[arg(short = 't', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Table,
    Jsonl,
    Csv,
}

/// Parses `30s`, `5m`, `1h`, `250ms` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 30s, 5m or 1h"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("'{s}': a duration must be a positive number"));
    }
    let secs = match unit.trim() {
        "" | "s" => v,
        "ms" => v / 1000.0,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        u => return Err(format!("'{s}': unknown unit '{u}' (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Classify(a) => classify(a),
        Cmd::Synth(a) => crate::synth::run(a),
        Cmd::Rules(a) => rules(a),
        Cmd::Budget(a) => budget(a),
        Cmd::Bench(a) => bench(a),
    }
}

fn rules(a: RulesArgs) -> Result<ExitCode> {
    use std::io::Write;
    let r = load_rules(a.rules.as_deref())?;
    let mut out = std::io::stdout().lock();
    let origin = match &a.rules {
        Some(d) if !r.defaults => d.display().to_string(),
        _ => "built-in".to_string(),
    };
    writeln!(out, "rules: {} apps ({origin})", r.apps().len())?;
    writeln!(
        out,
        "{:<16} {:<14} {:>6} {:>6} {:>6} {:>5} {:>5} {:>6}  file",
        "app", "category", "names", "v4", "v6", "ja4", "stun", "ports"
    )?;
    for app in r.apps() {
        writeln!(
            out,
            "{:<16} {:<14} {:>6} {:>6} {:>6} {:>5} {:>5} {:>6}  {}",
            app.name, app.category, app.names, app.prefixes_v4, app.prefixes_v6, app.ja4, app.stun, app.ports, app.file
        )?;
    }
    writeln!(out, "\nsources:")?;
    for app in r.apps() {
        for s in &app.sources {
            writeln!(out, "  {:<16} {}  {}", app.name, s.date, s.source)?;
            if let Some(n) = &s.note {
                writeln!(out, "  {:<16}             note: {n}", "")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(a: BenchArgs) -> Result<ExitCode> {
    if a.max_flows == 0 {
        bail!("--max-flows must be at least 1");
    }
    let opt = crate::bench::Options {
        rules: Some(std::sync::Arc::new(load_rules(None)?)),
        threads: a.threads.clone(),
        runs: a.runs,
        progress: !a.quiet,
        flow: baikal_classifier::flow::FlowConfig {
            max_flows: a.max_flows,
            probe_packets: a.probe_packets,
            ..Default::default()
        },
    };
    let r = crate::bench::run(&a.files, &opt)?;
    let text = match a.format {
        ReportFormat::Table => crate::bench::table(&r),
        ReportFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
    };
    match &a.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("{}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn budget(a: BudgetArgs) -> Result<ExitCode> {
    use crate::budget as b;
    if a.presets {
        print!("{}", b::presets_text());
        return Ok(ExitCode::SUCCESS);
    }
    let num = |flag: &str, v: &str| b::parse_plain(v).with_context(|| format!("--{flag}"));
    let (tariff, preset_cur) = b::tariff_of(&a.tariff).context("--tariff")?;
    let inputs = b::Inputs {
        traffic_bps: b::traffic_of(&a.traffic).context("--traffic")?,
        avg_packet_bytes: b::parse_size(&a.avg_packet).context("--avg-packet")?,
        new_flows_per_gbit: num("new-flows-per-gbit", &a.new_flows_per_gbit)?,
        cores_per_server: num("cores-per-server", &a.cores_per_server)?,
        watts_per_server: num("watts-per-server", &a.watts_per_server)?,
        pue: num("pue", &a.pue)?,
        tariff_per_kwh: tariff,
        currency: a
            .currency
            .clone()
            .or(preset_cur.map(str::to_string))
            .unwrap_or_else(|| "RUB".into()),
        peak_factor: num("peak-factor", &a.peak_factor)?,
        quic_share: num("quic-share", &a.quic_share)?,
    };
    b::validate(&inputs).map_err(anyhow::Error::msg)?;
    let mut cost = match (&a.from_bench, a.ns_per_packet, a.ns_per_flow) {
        (Some(p), _, _) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            b::cost_from_bench(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        (None, Some(p), Some(f)) => b::CostModel {
            ns_per_packet: p,
            ns_per_new_flow: f,
            every_packet_ns_per_packet: p,
            quic_initial_decrypt_ns: 0.0,
            flows_only_ns_per_packet: None,
            flows_only_ns_per_new_flow: None,
        },
        _ => bail!(
            "give --from-bench BENCH.json (from `baikal bench --format json`) or --ns-per-packet and --ns-per-flow"
        ),
    };
    if let Some(v) = a.ns_per_packet {
        cost.ns_per_packet = v;
    }
    if let Some(v) = a.ns_per_flow {
        cost.ns_per_new_flow = v;
    }
    if let Some(v) = a.every_packet_ns {
        cost.every_packet_ns_per_packet = v;
    }
    if let Some(v) = a.quic_initial_ns {
        cost.quic_initial_decrypt_ns = v;
    }
    for (n, v) in [
        ("ns per packet", Some(cost.ns_per_packet)),
        ("ns per flow", Some(cost.ns_per_new_flow)),
        ("every-packet ns", Some(cost.every_packet_ns_per_packet)),
        ("QUIC Initial ns", Some(cost.quic_initial_decrypt_ns)),
        ("flows-only ns per packet", cost.flows_only_ns_per_packet),
        ("flows-only ns per flow", cost.flows_only_ns_per_new_flow),
    ] {
        if let Some(v) = v.filter(|v| !(*v >= 0.0 && v.is_finite())) {
            bail!("{n} must be a non-negative number, not {v}");
        }
    }
    let depths = cost.depths();
    if !depths.contains(&a.depth) {
        bail!(
            "--depth {}: the cost model has no flows-only costs (a bench JSON from `baikal bench` of this version has them)",
            a.depth.as_str()
        );
    }
    let est: Vec<b::Estimate> = depths.iter().filter_map(|&d| b::estimate(&inputs, &cost, d)).collect();
    match a.format {
        ReportFormat::Table => print!("{}", b::table(&inputs, &est, a.depth)),
        ReportFormat::Json => {
            let v = serde_json::json!({
                "inputs": inputs,
                "cost_model": cost,
                "selected_depth": a.depth,
                "estimates": est,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn classify(a: ClassifyArgs) -> Result<ExitCode> {
    let mut files = a.read.clone();
    files.extend(a.files.iter().cloned());
    let source = match (&a.interface, files.is_empty()) {
        (Some(i), _) => Source::Live {
            iface: i.clone(),
            duration: a.duration,
        },
        (None, false) => Source::Files(files),
        (None, true) => bail!("no input: give capture files, `-` for stdin, or -i IFACE"),
    };
    if a.max_flows == 0 {
        bail!("--max-flows must be at least 1");
    }
    let format = match a.format {
        FormatArg::Table => Format::Table,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Csv => Format::Csv,
    };
    let writer: Box<dyn std::io::Write + Send> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("{}: cannot create", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let s = 1_000_000_000u64;
    let flow = baikal_classifier::flow::FlowConfig {
        max_flows: a.max_flows,
        tcp_idle_ns: a.tcp_timeout.saturating_mul(s),
        udp_idle_ns: a.udp_timeout.saturating_mul(s),
        other_idle_ns: a.other_timeout.saturating_mul(s),
        probe_packets: a.probe_packets,
        dpi: !a.no_dpi,
        ..Default::default()
    };
    let rules = load_rules(a.rules.as_deref())?;
    let cfg = Config {
        rules: Some(std::sync::Arc::new(rules)),
        flow,
        count: a.count,
        progress: !a.quiet,
        threads: usize::from(a.threads),
    };
    let mut sink = Sink::new(format, writer);
    let summary = pipeline::run(&source, &cfg, &mut sink)?;
    sink.finish(&summary)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("-3s").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn probe_packets_from_1_to_255() {
        use clap::Parser;
        for cmd in ["classify", "bench"] {
            let parse = |n: &str| Cli::try_parse_from(["baikal", cmd, "--probe-packets", n, "x.pcap"]);
            let probe = |c: Cli| match c.cmd {
                Cmd::Classify(a) => a.probe_packets,
                Cmd::Bench(a) => a.probe_packets,
                _ => unreachable!(),
            };
            assert_eq!(probe(parse("1").unwrap()), 1);
            assert_eq!(probe(parse("255").unwrap()), 255);
            for bad in ["0", "256"] {
                let e = parse(bad).unwrap_err();
                assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{cmd} {bad}");
            }
            assert!(parse("-1").is_err());
        }
    }
}
