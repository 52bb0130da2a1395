//! Command-line definitions and dispatch: validate the flags, resolve them
//! into a [`pipeline::Config`], run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

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
    /// Stop after this many packets.
    #[arg(short = 'c', long)]
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
    /// Payload packets per direction given to the dissectors.
    #[arg(long, default_value_t = 12)]
    pub probe_packets: u8,
    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Classification threads. 1: decode and classify on the reading
    /// thread. N > 1: one thread reads and decodes, N workers classify
    /// (flows sharded by a symmetric hash of their key). The set of records
    /// is the same for every N unless flows are evicted for capacity
    /// (--max-flows is divided among the workers); their order differs.
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
    }
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
        probe_packets: a.probe_packets.max(1),
        ..Default::default()
    };
    let cfg = Config {
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
}
