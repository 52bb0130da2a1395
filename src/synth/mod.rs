//! `baikal synth`: a labelled-capture generator.
//!
//! Writes a pcap of synthetic flows of known kinds and, beside it,
//! `OUT.truth.jsonl` with one JSON object per flow (endpoints, kind,
//! protocol, application, encryption class, server name, whether the
//! payload proves the application, whether the server is in the
//! application's ranges, packet counts). The output is a pure function of
//! the arguments: same `--seed`, same bytes.
//!
//! Each flow kind is one function in its own file; [`mix`] decides how
//! many of each, and where (IPv4/IPv6, VLAN, Telegram's ranges or not).

mod addr;
mod dns;
mod faketls;
mod http;
pub mod mix;
mod mtproto;
mod mtproto_msg;
mod names;
mod net;
mod obfs2;
mod payload;
mod plain_tcp;
mod plain_udp;
mod quic;
mod quic_crypto;
mod random;
mod rng;
mod tls;
mod tls_msg;
pub mod truth;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use mix::Mix;
use mtproto_msg::Framing;
use net::{Capture, Place};
use rng::Rng;
use truth::{Kind, Truth};

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Output pcap; the truth goes to the same path with `.truth.jsonl`
    /// in place of `.pcap`.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "OUT.pcap",
        required_unless_present = "list_kinds"
    )]
    pub output: Option<PathBuf>,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Preset: `basic`, `telegram` or `demo`.
    #[arg(long, value_enum, default_value_t = Mix::Demo)]
    pub mix: Mix,
    /// Total number of flows, shared among the preset's kinds in its
    /// proportions (default: the preset's own size).
    #[arg(long)]
    pub flows: Option<usize>,
    /// Exact count of one kind, e.g. `--count obfs2-abridged=50`
    /// (repeatable; overrides the preset for that kind).
    #[arg(long, value_name = "KIND=N")]
    pub count: Vec<String>,
    /// List the flow kinds and exit.
    #[arg(long)]
    pub list_kinds: bool,
}

/// The truth file beside a pcap: `x.pcap` → `x.truth.jsonl`.
pub fn truth_path(pcap: &Path) -> PathBuf {
    let s = pcap.to_string_lossy();
    let stem = s.strip_suffix(".pcap").unwrap_or(&s);
    PathBuf::from(format!("{stem}.truth.jsonl"))
}

fn parse_counts(specs: &[String]) -> Result<Vec<(Kind, usize)>> {
    specs
        .iter()
        .map(|s| {
            let (k, n) = s
                .split_once('=')
                .with_context(|| format!("--count {s}: expected KIND=N"))?;
            let kind = Kind::from_name(k.trim())
                .with_context(|| format!("--count {s}: unknown kind '{k}' (see --list-kinds)"))?;
            let n: usize = n
                .trim()
                .parse()
                .with_context(|| format!("--count {s}: N is not a number"))?;
            Ok((kind, n))
        })
        .collect()
}

/// Builds one flow of `kind`.
fn flow(cap: &mut Capture, rng: &mut Rng, place: &Place, kind: Kind) -> Result<Truth> {
    match kind {
        Kind::PlainTcpText => plain_tcp::build(cap, rng, place, false),
        Kind::PlainTcpBinary => plain_tcp::build(cap, rng, place, true),
        Kind::PlainUdpText => plain_udp::build(cap, rng, place, false),
        Kind::PlainUdpBinary => plain_udp::build(cap, rng, place, true),
        Kind::Http => http::build(cap, rng, place),
        Kind::Dns => dns::build(cap, rng, place),
        Kind::Tls => tls::build(cap, rng, place),
        Kind::Quic => quic::build(cap, rng, place),
        Kind::MtprotoAbridged => mtproto::build(cap, rng, place, Framing::Abridged),
        Kind::MtprotoIntermediate => mtproto::build(cap, rng, place, Framing::Intermediate),
        Kind::MtprotoPadded => mtproto::build(cap, rng, place, Framing::Padded),
        Kind::Obfs2Abridged => obfs2::build(cap, rng, place, Framing::Abridged),
        Kind::Obfs2Intermediate => obfs2::build(cap, rng, place, Framing::Intermediate),
        Kind::Obfs2Padded => obfs2::build(cap, rng, place, Framing::Padded),
        Kind::FakeTls => faketls::build(cap, rng, place),
        Kind::MtproxySecret => obfs2::build_secret(cap, rng, place, false),
        Kind::MtproxySecretDd => obfs2::build_secret(cap, rng, place, true),
        Kind::Random => random::build(cap, rng, place, false),
        Kind::RandomEf => random::build(cap, rng, place, true),
    }
}

/// Generates the capture for a plan (kinds in order, already shuffled).
pub fn generate(seed: u64, mix: Mix, plan: &[Kind]) -> Result<Capture> {
    let mut master = Rng::new(seed);
    let mut cap = Capture::new();
    let p = mix.params();
    // 2026-01-01T00:00:00Z.
    let mut t_ns: u64 = 1_767_225_600_000_000_000;
    let mut telegram_seen = 0usize;
    for &kind in plan {
        let mut rng = master.fork();
        t_ns += rng.range(500, 15_000) * 1_000;
        let telegram_range = if kind.is_telegram() && !kind.via_secret_mtproxy() {
            telegram_seen += 1;
            // Exactly every other Telegram flow goes to Telegram's ranges
            // (MTProxies with a secret never do).
            telegram_seen % 2 == 1
        } else {
            false
        };
        let place = Place {
            t0_ns: t_ns,
            v6: rng.chance(p.ipv6),
            vlan: rng.chance(p.vlan).then(|| rng.range(2, 4095) as u16),
            telegram_range,
        };
        let truth =
            flow(&mut cap, &mut rng, &place, kind).with_context(|| format!("building a {} flow", kind.name()))?;
        cap.truth.push(truth);
    }
    Ok(cap)
}

/// Writes the pcap and the truth file.
pub fn write(cap: &mut Capture, out: &Path) -> Result<PathBuf> {
    let f = std::fs::File::create(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let mut w = std::io::BufWriter::new(f);
    cap.write_pcap(&mut w)?;
    w.flush()?;
    let tp = truth_path(out);
    let f = std::fs::File::create(&tp).with_context(|| format!("{}: cannot create", tp.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for t in &cap.truth {
        serde_json::to_writer(&mut w, t)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(tp)
}

pub fn run(a: SynthArgs) -> Result<ExitCode> {
    if a.list_kinds {
        for k in Kind::ALL {
            println!("{}", k.name());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(output) = a.output else {
        bail!("give an output file: -o OUT.pcap");
    };
    let counts = parse_counts(&a.count)?;
    let plan = mix::plan(a.seed, a.mix, a.flows, &counts);
    if plan.is_empty() {
        bail!("nothing to generate (all counts are zero)");
    }
    let mut cap = generate(a.seed, a.mix, &plan)?;
    let tp = write(&mut cap, &output)?;
    eprintln!(
        "baikal synth: {} flows, {} packets -> {} (truth: {})",
        cap.truth.len(),
        cap.packets(),
        output.display(),
        tp.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_bytes(seed: u64, mix: Mix, flows: Option<usize>) -> (Vec<u8>, Vec<Truth>) {
        let plan = mix::plan(seed, mix, flows, &[]);
        let mut cap = generate(seed, mix, &plan).unwrap();
        let mut out = Vec::new();
        cap.write_pcap(&mut out).unwrap();
        (out, cap.truth)
    }

    #[test]
    fn deterministic_from_the_seed() {
        let (a, ta) = pcap_bytes(5, Mix::Demo, None);
        let (b, tb) = pcap_bytes(5, Mix::Demo, None);
        let (c, _) = pcap_bytes(6, Mix::Demo, None);
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        assert_ne!(a, c);
    }

    /// Every kind builds, and each truth row's packet counts equal the
    /// frames of its 5-tuple in the pcap.
    #[test]
    fn truth_counts_match_the_frames() {
        use etherparse::{NetSlice, SlicedPacket, TransportSlice};
        use std::collections::HashMap;
        use std::net::IpAddr;
        let overrides: Vec<(Kind, usize)> = Kind::ALL.iter().map(|&k| (k, 3)).collect();
        let plan = mix::plan(9, Mix::Demo, None, &overrides);
        let mut cap = generate(9, Mix::Demo, &plan).unwrap();
        let mut out = Vec::new();
        cap.write_pcap(&mut out).unwrap();
        let mut seen: HashMap<(IpAddr, u16, IpAddr, u16), u64> = HashMap::new();
        let mut r = pcap_file::pcap::PcapReader::new(&out[..]).unwrap();
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            let s = SlicedPacket::from_ethernet(&p.data).unwrap();
            let (src, dst): (IpAddr, IpAddr) = match s.net.unwrap() {
                NetSlice::Ipv4(i) => (i.header().source_addr().into(), i.header().destination_addr().into()),
                NetSlice::Ipv6(i) => (i.header().source_addr().into(), i.header().destination_addr().into()),
                _ => panic!(),
            };
            let (sp, dp) = match s.transport.unwrap() {
                TransportSlice::Tcp(t) => (t.source_port(), t.destination_port()),
                TransportSlice::Udp(u) => (u.source_port(), u.destination_port()),
                _ => panic!(),
            };
            *seen.entry((src, sp, dst, dp)).or_default() += 1;
        }
        assert_eq!(cap.truth.len(), Kind::ALL.len() * 3);
        for t in &cap.truth {
            let o = seen
                .get(&(t.orig_ip, t.orig_port, t.resp_ip, t.resp_port))
                .copied()
                .unwrap_or(0);
            let r = seen
                .get(&(t.resp_ip, t.resp_port, t.orig_ip, t.orig_port))
                .copied()
                .unwrap_or(0);
            assert_eq!((o, r), (t.orig_pkts, t.resp_pkts), "{t:?}");
            assert!(t.orig_pkts > 0);
        }
        // Telegram flows: exactly half in Telegram's ranges, except those
        // through an MTProxy with a secret, never.
        let mtproxy = |t: &Truth| t.kind.starts_with("mtproxy-secret");
        assert!(cap.truth.iter().filter(|t| mtproxy(t)).all(|t| !t.in_app_ranges));
        let tg: Vec<&Truth> = cap
            .truth
            .iter()
            .filter(|t| t.app.as_deref() == Some("telegram") && !mtproxy(t))
            .collect();
        let inside = tg.iter().filter(|t| t.in_app_ranges).count();
        assert_eq!(inside, tg.len().div_ceil(2));
    }

    #[test]
    fn truth_path_beside_the_pcap() {
        assert_eq!(truth_path(Path::new("a/b.pcap")), PathBuf::from("a/b.truth.jsonl"));
        assert_eq!(truth_path(Path::new("x")), PathBuf::from("x.truth.jsonl"));
    }
}
