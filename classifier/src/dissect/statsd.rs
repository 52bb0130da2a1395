//! StatsD metrics over UDP, on any port (8125 is only the usual one):
//! the text format of Etsy's StatsD and its extensions (DogStatsD,
//! Telegraf's Influx-style tags in the name). Gaijin's games send their
//! telemetry this way (`app.start,env=production,...:1|c` to UDP 20011;
//! nDPI names those flows GaijinEntertainment).
//!
//! A datagram is one or more lines `NAME:VALUE|TYPE[|SECTION...]`: a
//! name of printable ASCII without space, `:` or `|`; a number (a set
//! member, type `s`, may be any token); a type `c`, `g`, `ms`, `h`, `s`
//! or `d`; optional sections: a sample rate `@0.5`, tags `#k:v,...`, a
//! container id `c:...` or a time stamp `T...`. Every line must parse
//! (a trailing newline is allowed). Plain text: `cleartext`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Statsd;

/// Longest metric name reported.
const NAME_CAP: usize = 64;

fn number(v: &[u8]) -> bool {
    let v = v.strip_prefix(b"+").or_else(|| v.strip_prefix(b"-")).unwrap_or(v);
    let (int, frac) = match v.iter().position(|&c| c == b'.') {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    match frac {
        None => digits(int),
        Some(f) => (int.is_empty() || digits(int)) && digits(f),
    }
}

/// The metric name of a valid line.
fn line(l: &[u8]) -> Option<&[u8]> {
    let mut parts = l.split(|&c| c == b'|');
    let nv = parts.next()?;
    let colon = nv.iter().rposition(|&c| c == b':')?;
    let (name, value) = (&nv[..colon], &nv[colon + 1..]);
    if name.len() < 2 || !name.iter().all(|&c| c.is_ascii_graphic() && c != b':' && c != b'|') {
        return None;
    }
    let ty = parts.next()?;
    match ty {
        b"c" | b"g" | b"ms" | b"h" | b"d" if number(value) => {}
        b"s" if !value.is_empty() && value.iter().all(u8::is_ascii_graphic) => {}
        _ => return None,
    }
    for s in parts {
        let ok = match s.first() {
            Some(b'@') => number(&s[1..]),
            Some(b'#') => s.len() > 1 && s.iter().all(u8::is_ascii_graphic),
            Some(b'T') => s.len() > 1 && s[1..].iter().all(u8::is_ascii_digit),
            Some(b'c') => s.starts_with(b"c:") && s.iter().all(u8::is_ascii_graphic),
            _ => false,
        };
        if !ok {
            return None;
        }
    }
    Some(name)
}

/// The first metric name when every line of `d` is a metric.
fn datagram(d: &[u8]) -> Option<&[u8]> {
    let d = d.strip_suffix(b"\n").unwrap_or(d);
    let mut first = None;
    for l in d.split(|&c| c == b'\n') {
        let name = line(l)?;
        first.get_or_insert(name);
    }
    first
}

impl Dissector for Statsd {
    fn name(&self) -> &'static str {
        "statsd"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.first().first() {
            Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only an originator's first byte that is ASCII
    /// alphanumeric or `_`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(
            ByteSet::range(b'0', b'9')
                .union(ByteSet::range(b'A', b'Z'))
                .union(ByteSet::range(b'a', b'z'))
                .with(b'_'),
        )
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some(name) = datagram(p.orig.first()) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("statsd");
        meta.encryption = Encryption::Cleartext;
        let cut = &name[..name.len().min(NAME_CAP)];
        meta.set_extra("statsd_metric", String::from_utf8_lossy(cut));
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, UdpFixture};

    // gaijin_warthunder.pcap, 192.168.88.231:37333 -> 95.211.246.178:20011.
    const GAIJIN: &[u8] = b"app.start,env=production,circuit=production,application=client,\
project=warthunder,platform=linux64,host=host_client:1|c";

    #[test]
    fn metrics() {
        let (r, m) = check_split_udp(&Statsd, 37333, 20011, &[GAIJIN], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("statsd"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        let want = std::str::from_utf8(&GAIJIN[..NAME_CAP]).unwrap();
        assert_eq!(m.extra("statsd_metric"), Some(want));
        let multi: &[u8] = b"api.latency:12.5|ms|@0.1\nusers.online:+3|g|#region:eu,env:prod\nuniques:bob|s\n";
        let (r, m) = check_split_udp(&Statsd, 40000, 8125, &[multi], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("statsd_metric"), Some("api.latency"));
    }

    #[test]
    fn near_misses() {
        let cases: [&[u8]; 8] = [
            b"app.start:1|x",
            b"app.start:one|c",
            b"app start:1|c",
            b"app.start:1",
            b"app.start:1|c|!bad",
            b"a:1|c",
            b"app.start:1|c\n\nnext:2|c",
            b"GET /:1|c HTTP/1.1",
        ];
        for d in cases {
            let f = UdpFixture::new(40000, 8125, &[d], &[]);
            assert!(!not_refused(&Statsd, &f.payloads()), "{}", String::from_utf8_lossy(d));
        }
        let mut bin = GAIJIN.to_vec();
        bin[10] = 0;
        let f = UdpFixture::new(40000, 8125, &[&bin], &[]);
        assert!(!not_refused(&Statsd, &f.payloads()));
    }
}
