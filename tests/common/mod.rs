//! Shared code for the corpus tests: finding the corpus, running the
//! pipeline on one capture, reading nDPI's per-flow `.out` lines.
#![allow(dead_code)]

mod corpus_dir;
#[allow(unused_imports)]
pub use corpus_dir::skip;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baikal_capture::Input;
use baikal_classifier::assoc::{self, Associations};
use baikal_classifier::decode::{Decoder, LinkType};
use baikal_classifier::engine::{Engine, Labeler};
use baikal_classifier::flow::FlowConfig;
use baikal_classifier::record::FlowRecord;
use baikal_classifier::rules::Rules;

/// The corpus folder `sub` under `BAIKAL_CORPUS`, or `None` after a
/// visible `SKIP` when the variable is unset. Fails when the folder is
/// missing.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let dir = corpus_dir::corpus_root()?.join(sub);
    assert!(dir.is_dir(), "corpus folder {} is missing", dir.display());
    Some(dir)
}

/// Runs capture → decode → engine on one file and returns every flow
/// record, or why the file could not be read.
pub fn run_file(path: &Path) -> Result<Vec<FlowRecord>, String> {
    run_file_with(path, None)
}

/// The built-in application rules, as the binary installs them.
pub fn default_labeler() -> Arc<Rules> {
    Arc::new(Rules::defaults().expect("built-in rules load"))
}

/// [`run_file`] with rules (e.g. [`default_labeler`]) labelling on the
/// engine and feeding the association table on the reading side, as
/// `baikal classify` runs.
pub fn run_file_with(path: &Path, rules: Option<Arc<Rules>>) -> Result<Vec<FlowRecord>, String> {
    let input = Input::File(path.to_path_buf());
    let name: Arc<str> = Arc::from(input.name());
    let mut decoder = Decoder::new();
    let mut assoc = rules
        .clone()
        .map(|r| Associations::new(assoc::MAX_PEERS, move |realm| r.knows_stun_realm(realm)));
    let mut engine = Engine::new(FlowConfig::default(), rules.map(|r| r as Arc<dyn Labeler>));
    let mut out = Vec::new();
    baikal_capture::read(&input, &mut |raw| {
        if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
            let hint = assoc.as_mut().and_then(|a| a.observe(&v));
            engine.process_hinted(&v, hint.as_ref(), &name, &mut |r| out.push(r));
        }
        true
    })
    .map_err(|e| e.to_string())?;
    engine.finish(&name, &mut |r| out.push(r));
    Ok(out)
}

/// A flow line of an nDPI `.out` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NdpiFlow {
    /// "TCP", "UDP", ...
    pub transport: String,
    pub a: SocketAddr,
    pub b: SocketAddr,
    /// The `proto:` field, e.g. `91.126/TLS.Google`.
    pub proto: String,
    pub sni: Option<String>,
    /// The `Confidence:` field, e.g. `DPI`, `DPI (cache)`, `Match by port`.
    pub confidence: Option<String>,
    /// `Some(true)` for `[Encrypted]`, `Some(false)` for `[ClearText]`.
    pub encrypted: Option<bool>,
}

impl NdpiFlow {
    /// The protocol names of the `proto:` field (`TLS`, `Google`, ...).
    pub fn proto_names(&self) -> impl Iterator<Item = &str> {
        self.proto.split_once('/').map_or("", |(_, n)| n).split('.')
    }

    /// nDPI's application: the name after the dot of the `proto:` field,
    /// or the single name, lowercased (`91.39/TLS.Signal` → `signal`).
    pub fn app(&self) -> String {
        self.proto_names().last().unwrap_or_default().to_ascii_lowercase()
    }

    /// Transport and endpoints as nDPI prints them (`TCP a b`).
    pub fn flow_text(&self) -> String {
        format!("{} {} {}", self.transport, self.a, self.b)
    }

    pub fn key(&self) -> PairKey {
        pair_key(
            &self.transport,
            (self.a.ip(), self.a.port()),
            (self.b.ip(), self.b.port()),
        )
    }
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(name)? + name.len();
    let rest = &line[start..];
    rest.find(']').map(|end| &rest[..end])
}

/// Parses one flow line: `\t1\tTCP 192.168.1.1:443 <-> 1.2.3.4:5555
/// [proto: 91/TLS]...[Hostname/SNI: name]...` (IPv6 in brackets, `->`
/// or `<->`). Other lines give `None`.
pub fn parse_ndpi_line(line: &str) -> Option<NdpiFlow> {
    let mut it = line.split_whitespace();
    it.next()?.parse::<u64>().ok()?;
    let transport = it.next()?.to_string();
    let a: SocketAddr = it.next()?.parse().ok()?;
    let arrow = it.next()?;
    if arrow != "<->" && arrow != "->" {
        return None;
    }
    let b: SocketAddr = it.next()?.parse().ok()?;
    Some(NdpiFlow {
        transport,
        a,
        b,
        proto: field(line, "[proto: ")?.to_string(),
        sni: field(line, "[Hostname/SNI: ").map(str::to_string),
        confidence: field(line, "[Confidence: ").map(str::to_string),
        encrypted: if line.contains("[Encrypted]") {
            Some(true)
        } else if line.contains("[ClearText]") {
            Some(false)
        } else {
            None
        },
    })
}

/// The flow lines of an nDPI `.out` file (read lossily: some hold
/// binary bytes).
pub fn read_ndpi_out(path: &Path) -> Vec<NdpiFlow> {
    let bytes = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(parse_ndpi_line)
        .collect()
}

/// Transport, then the two endpoints in order: a key independent of
/// direction.
pub type PairKey = (String, (IpAddr, u16), (IpAddr, u16));

pub fn pair_key(transport: &str, a: (IpAddr, u16), b: (IpAddr, u16)) -> PairKey {
    let t = transport.to_ascii_lowercase();
    // nDPI names IP protocols baikal prints as numbers.
    let t = match t.as_str() {
        "igmp" => "2".to_string(),
        "gre" => "47".to_string(),
        "esp" => "50".to_string(),
        "ah" => "51".to_string(),
        "ospf" => "89".to_string(),
        "pim" => "103".to_string(),
        "vrrp" => "112".to_string(),
        "pgm" => "113".to_string(),
        "sctp" => "132".to_string(),
        _ => t,
    };
    if a <= b {
        (t, a, b)
    } else {
        (t, b, a)
    }
}

pub fn record_key(r: &FlowRecord) -> PairKey {
    pair_key(&r.transport.name(), (r.orig_ip, r.orig_port), (r.resp_ip, r.resp_port))
}

/// nDPI's `.out` files of the corpus folder `dir` (`dir/result/*.out`),
/// sorted, with the capture each belongs to (`dir/pcap/<name>`).
pub fn ndpi_outs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut outs: Vec<_> = std::fs::read_dir(dir.join("result"))
        .expect("read result dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "out"))
        .map(|p| (p.file_stem().unwrap_or_default().to_string_lossy().to_string(), p))
        .collect();
    outs.sort();
    outs
}

/// Records by direction-independent key.
pub fn index_records(records: &[FlowRecord]) -> HashMap<PairKey, Vec<&FlowRecord>> {
    let mut by_key: HashMap<PairKey, Vec<&FlowRecord>> = HashMap::new();
    for r in records {
        by_key.entry(record_key(r)).or_default().push(r);
    }
    by_key
}

/// `*` matches any run of characters (including none); everything else
/// matches itself.
pub fn glob(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One disagreement found by a corpus test: the capture, the flow as
/// nDPI prints it, and the class (e.g. `encrypted/cleartext`: nDPI's
/// then baikal's).
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub capture: String,
    pub flow: String,
    pub class: String,
    /// What baikal reported, for the printout.
    pub detail: String,
}

/// An entry of a disagreements file: `capture-glob <TAB> flow-glob <TAB>
/// class <TAB> count <TAB> reason`; `*` in a glob matches anything.
#[derive(Clone, Debug)]
pub struct Listed {
    pub line: usize,
    pub capture: String,
    pub flow: String,
    pub class: String,
    pub count: usize,
    pub reason: String,
}

impl Listed {
    pub fn matches(&self, d: &Disagreement) -> bool {
        glob(&self.capture, &d.capture) && glob(&self.flow, &d.flow) && glob(&self.class, &d.class)
    }
}

/// Reads a disagreements file of `tests/` (see [`Listed`]); `#` lines
/// and blank lines are comments.
pub fn read_listed(name: &str) -> Vec<Listed> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let parts: Vec<&str> = l.splitn(5, '\t').collect();
            assert!(
                parts.len() == 5 && parts.iter().all(|p| !p.trim().is_empty()),
                "tests/{name} line {}: needs capture, flow, class, count and a reason: {l:?}",
                i + 1
            );
            Listed {
                line: i + 1,
                capture: parts[0].to_string(),
                flow: parts[1].to_string(),
                class: parts[2].to_string(),
                count: parts[3]
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("tests/{name} line {}: count {:?}", i + 1, parts[3])),
                reason: parts[4].to_string(),
            }
        })
        .collect()
}

/// Checks that the file `tests/<name>` lists exactly the disagreements
/// found: each disagreement matches an entry (the first that matches
/// takes it), and each entry takes exactly its count. Prints the
/// problems and returns how many there are.
pub fn check_listed(name: &str, found: &[Disagreement]) -> usize {
    let listed = read_listed(name);
    let mut taken = vec![0usize; listed.len()];
    let mut problems = 0;
    for d in found {
        match listed.iter().position(|l| l.matches(d)) {
            Some(i) => taken[i] += 1,
            None => {
                problems += 1;
                eprintln!(
                    "UNLISTED in tests/{name}: {}\t{}\t{}\t1\t({})",
                    d.capture, d.flow, d.class, d.detail
                );
            }
        }
    }
    for (l, n) in listed.iter().zip(&taken) {
        if *n != l.count {
            problems += 1;
            eprintln!(
                "{} tests/{name} line {}: {} {} {}: listed {} flows, found {n}",
                if *n == 0 { "STALE" } else { "COUNT" },
                l.line,
                l.capture,
                l.flow,
                l.class,
                l.count
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ndpi_lines() {
        let f = parse_ndpi_line(
            "\t1\tTCP 192.168.1.1:443 <-> 1.2.3.4:5555 [proto: 91.126/TLS.Google][IP: 0/Unknown][Hostname/SNI: a.b][x]",
        )
        .unwrap();
        assert_eq!(f.transport, "TCP");
        assert_eq!(f.a, "192.168.1.1:443".parse().unwrap());
        assert_eq!(f.b, "1.2.3.4:5555".parse().unwrap());
        assert_eq!(f.proto, "91.126/TLS.Google");
        assert_eq!(f.proto_names().collect::<Vec<_>>(), ["TLS", "Google"]);
        assert_eq!(f.sni.as_deref(), Some("a.b"));
        let g = parse_ndpi_line("\t2\tUDP [2001:db8::1]:443 -> [2001:db8::2]:5000 [proto: 188/QUIC][x]").unwrap();
        assert_eq!(g.b.port(), 5000);
        assert_eq!(g.sni, None);
        assert_eq!(parse_ndpi_line("Guessed flow protos:\t1"), None);
        assert_eq!(f.app(), "google");
        assert_eq!(g.app(), "quic");
        assert_eq!(f.encrypted, None);
        let h = parse_ndpi_line(
            "\t3\tUDP 1.1.1.1:53 <-> 2.2.2.2:5000 [proto: 5.39/DNS.Signal][IP: 0/Unknown][ClearText][Confidence: DPI][x]",
        )
        .unwrap();
        assert_eq!((h.encrypted, h.confidence.as_deref()), (Some(false), Some("DPI")));
        assert_eq!(h.flow_text(), "UDP 1.1.1.1:53 2.2.2.2:5000");
        assert_eq!(
            pair_key("TCP", (f.b.ip(), 5555), (f.a.ip(), 443)),
            pair_key("tcp", (f.a.ip(), 443), (f.b.ip(), 5555))
        );
    }

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("TCP * *:443", "TCP 1.2.3.4:5 6.7.8.9:443"));
        assert!(!glob("TCP * *:443", "TCP 1.2.3.4:5 6.7.8.9:4430"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("whatsapp*", "whatsapp.pcap"));
    }
}
