//! The pipeline glue: source → decode → engine → sink.

use std::sync::Arc;

use anyhow::{Context, Result};
use baikal_capture::{self as capture, Input};
use baikal_classifier::decode::{DecodeStats, Decoder, LinkType};
use baikal_classifier::engine::{Engine, EngineStats};
use baikal_classifier::flow::FlowConfig;

use crate::output::Sink;

/// Where packets come from.
#[derive(Clone, Debug)]
pub enum Source {
    Files(Vec<String>),
    Live {
        iface: String,
        duration: Option<std::time::Duration>,
    },
}

/// A resolved run configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub flow: FlowConfig,
    /// Application rules installed as the engine's labeler.
    pub rules: Option<Arc<baikal_classifier::rules::Rules>>,
    /// Stop after this many packets (over all inputs).
    pub count: Option<u64>,
    pub progress: bool,
}

/// What a run did, for the summary and the exit message.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub packets_read: u64,
    pub decode: DecodeStats,
    pub engine: EngineStats,
    /// Warnings already printed (truncated files, ...), kept for the table.
    pub warnings: Vec<String>,
    pub elapsed: std::time::Duration,
}

pub fn run(source: &Source, cfg: &Config, sink: &mut Sink) -> Result<Summary> {
    let start = std::time::Instant::now();
    let mut sum = Summary::default();
    match source {
        Source::Files(files) => {
            let inputs: Vec<Input> = files.iter().map(|f| Input::from_arg(f)).collect();
            // Fail before any output when a named file cannot be opened.
            for i in &inputs {
                if let Input::File(p) = i {
                    std::fs::File::open(p).with_context(|| format!("{}", p.display()))?;
                }
            }
            for input in &inputs {
                run_input(input, cfg, sink, &mut sum)?;
                if cfg.count.is_some_and(|c| sum.packets_read >= c) {
                    break;
                }
            }
        }
        Source::Live { iface, duration } => {
            run_live(iface, *duration, cfg, sink, &mut sum)?;
        }
    }
    sum.elapsed = start.elapsed();
    Ok(sum)
}

/// A packet counter on stderr, only when stderr is a terminal.
fn progress_bar(enabled: bool, name: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}: {human_pos} packets, {per_sec}") {
        b.set_style(style);
    }
    b.set_message(name.to_string());
    Some(b)
}

fn run_input(input: &Input, cfg: &Config, sink: &mut Sink, sum: &mut Summary) -> Result<()> {
    let name: Arc<str> = Arc::from(input.name());
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(
        cfg.flow,
        cfg.rules
            .clone()
            .map(|r| r as Arc<dyn baikal_classifier::engine::Labeler>),
    );
    let limit = cfg.count.map(|c| c.saturating_sub(sum.packets_read));
    let mut n = 0u64;
    let mut sink_err: Option<std::io::Error> = None;
    let bar = progress_bar(cfg.progress, &name);
    let rep = capture::read(input, &mut |raw| {
        n += 1;
        if n & 0xffff == 0 {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        }
        if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
            engine.process(&v, &name, &mut |r| {
                if let Err(e) = sink.record(r) {
                    sink_err.get_or_insert(e);
                }
            });
        }
        sink_err.is_none() && limit.is_none_or(|l| n < l)
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    engine.finish(&name, &mut |r| {
        if let Err(e) = sink.record(r) {
            sink_err.get_or_insert(e);
        }
    });
    if let Some(e) = sink_err {
        return Err(e).context("writing output");
    }
    if let Some(w) = &rep.warning {
        let msg = format!(
            "{}: reading stopped at byte offset {}: {} ({} packets read before it)",
            name, w.offset, w.reason, rep.packets
        );
        eprintln!("baikal: warning: {msg}");
        sum.warnings.push(msg);
    }
    for s in &rep.skipped {
        let msg = format!(
            "{name}: {} records skipped: {} (first at byte offset {})",
            s.count, s.reason, s.first_offset
        );
        eprintln!("baikal: warning: {msg}");
        sum.warnings.push(msg);
    }
    let d = decoder.stats();
    for &(lt, count) in &d.unknown_linktypes {
        let msg = format!("{name}: {count} frames of link type {lt} skipped (not decoded)");
        eprintln!("baikal: warning: {msg}");
        sum.warnings.push(msg);
    }
    sum.packets_read += rep.packets;
    sum.decode.add(d);
    let es = engine.stats();
    sum.engine.packets += es.packets;
    sum.engine.bytes += es.bytes;
    sum.engine.inspected_packets += es.inspected_packets;
    let f = &mut sum.engine.flows;
    f.created += es.flows.created;
    f.evicted += es.flows.evicted;
    f.ended_fin += es.flows.ended_fin;
    f.ended_rst += es.flows.ended_rst;
    f.ended_idle += es.flows.ended_idle;
    f.ended_eof += es.flows.ended_eof;
    f.peak_flows = f.peak_flows.max(es.flows.peak_flows);
    Ok(())
}

/// Set by Ctrl-C: the live loop stops and every open flow is flushed.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ctrl-C sets [`STOP`]; a second Ctrl-C exits at once (130, as shells do).
fn install_ctrlc() -> Result<()> {
    static INSTALLED: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if STOP.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    std::process::exit(130);
                }
            })
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
}

/// Live capture: the same decode → engine → sink flow as a file, with
/// idle flows expired on the capture's clock ticks, and every open flow
/// flushed at the end (duration, count, or Ctrl-C).
#[cfg(target_os = "linux")]
fn run_live(
    iface: &str,
    duration: Option<std::time::Duration>,
    cfg: &Config,
    sink: &mut Sink,
    sum: &mut Summary,
) -> Result<()> {
    use capture::live::{self, LiveEvent, LiveOptions};

    install_ctrlc()?;
    let name: Arc<str> = Arc::from(iface);
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(
        cfg.flow,
        cfg.rules
            .clone()
            .map(|r| r as Arc<dyn baikal_classifier::engine::Labeler>),
    );
    let opts = LiveOptions {
        duration,
        count: cfg.count,
        ..LiveOptions::default()
    };
    let mut sink_err: Option<std::io::Error> = None;
    // Expiry runs on the ticks, at most once a second.
    let mut next_expire = 0u64;
    let rep = live::capture_events(iface, &opts, &STOP, &mut |ev| {
        let mut out = |r| {
            if let Err(e) = sink.record(r) {
                sink_err.get_or_insert(e);
            }
        };
        match ev {
            LiveEvent::Packet(raw) => {
                if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
                    engine.process(&v, &name, &mut out);
                }
            }
            LiveEvent::Tick(now) => {
                if now >= next_expire {
                    engine.expire(now, &name, &mut out);
                    next_expire = now.saturating_add(1_000_000_000);
                }
            }
        }
        sink_err.is_none()
    })?;
    engine.finish(&name, &mut |r| {
        if let Err(e) = sink.record(r) {
            sink_err.get_or_insert(e);
        }
    });
    if let Some(e) = sink_err {
        return Err(e).context("writing output");
    }
    if let Some(w) = &rep.warning {
        let msg = format!("{name}: {} ({} packets captured before it)", w.reason, rep.packets);
        eprintln!("baikal: warning: {msg}");
        sum.warnings.push(msg);
    }
    for s in &rep.skipped {
        let msg = format!(
            "{name}: {} records skipped: {} (first at byte offset {})",
            s.count, s.reason, s.first_offset
        );
        eprintln!("baikal: warning: {msg}");
        sum.warnings.push(msg);
    }
    let d = decoder.stats();
    for &(lt, count) in &d.unknown_linktypes {
        let msg = format!("{name}: {count} frames of link type {lt} skipped (not decoded)");
        eprintln!("baikal: warning: {msg}");
        sum.warnings.push(msg);
    }
    sum.packets_read += rep.packets;
    sum.decode.add(d);
    let es = engine.stats();
    sum.engine.packets += es.packets;
    sum.engine.bytes += es.bytes;
    sum.engine.inspected_packets += es.inspected_packets;
    let f = &mut sum.engine.flows;
    f.created += es.flows.created;
    f.evicted += es.flows.evicted;
    f.ended_fin += es.flows.ended_fin;
    f.ended_rst += es.flows.ended_rst;
    f.ended_idle += es.flows.ended_idle;
    f.ended_eof += es.flows.ended_eof;
    f.peak_flows = f.peak_flows.max(es.flows.peak_flows);
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn run_live(
    iface: &str,
    _duration: Option<std::time::Duration>,
    _cfg: &Config,
    _sink: &mut Sink,
    _sum: &mut Summary,
) -> Result<()> {
    install_ctrlc()?;
    anyhow::bail!("{iface}: live capture is only available on Linux");
}
