//! Shared code for the corpus tests: finding the corpus, running the
//! pipeline on one capture, reading nDPI's per-flow `.out` lines.
#![allow(dead_code)]

mod corpus_dir;
#[allow(unused_imports)]
pub use corpus_dir::skip;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baikal_capture::Input;
use baikal_classifier::decode::{Decoder, LinkType};
use baikal_classifier::engine::Engine;
use baikal_classifier::flow::FlowConfig;
use baikal_classifier::record::FlowRecord;

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
    let input = Input::File(path.to_path_buf());
    let name: Arc<str> = Arc::from(input.name());
    let mut decoder = Decoder::new();
    let mut engine = Engine::new(FlowConfig::default(), None);
    let mut out = Vec::new();
    baikal_capture::read(&input, &mut |raw| {
        if let Some(v) = decoder.decode(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data) {
            engine.process(&v, &name, &mut |r| out.push(r));
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
}

impl NdpiFlow {
    /// The protocol names of the `proto:` field (`TLS`, `Google`, ...).
    pub fn proto_names(&self) -> impl Iterator<Item = &str> {
        self.proto.split_once('/').map_or("", |(_, n)| n).split('.')
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
    if a <= b {
        (t, a, b)
    } else {
        (t, b, a)
    }
}

pub fn record_key(r: &FlowRecord) -> PairKey {
    pair_key(&r.transport.name(), (r.orig_ip, r.orig_port), (r.resp_ip, r.resp_port))
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
        assert_eq!(
            pair_key("TCP", (f.b.ip(), 5555), (f.a.ip(), 443)),
            pair_key("tcp", (f.a.ip(), 443), (f.b.ip(), 5555))
        );
    }
}
