//! Reading rule files: TOML → checked [`RuleFile`]s, with errors that
//! name the file, the line and the problem.

use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

/// Why rules could not be loaded. Loading is all or nothing.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or does not have the rule-file shape.
    #[error("{file}:{line}: {message}")]
    Syntax { file: String, line: usize, message: String },
    /// A value is malformed (bad prefix, bad port, uppercase name, ...).
    #[error("{file}:{line}: {message}")]
    Invalid { file: String, line: usize, message: String },
    /// Two rules contradict each other (same name or prefix for two
    /// apps, same app twice).
    #[error("{file}:{line}: {message}")]
    Conflict { file: String, line: usize, message: String },
}

impl RulesError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            RulesError::Io { file, .. }
            | RulesError::Syntax { file, .. }
            | RulesError::Invalid { file, .. }
            | RulesError::Conflict { file, .. } => file,
        }
    }
    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            RulesError::Io { .. } => None,
            RulesError::Syntax { line, .. } | RulesError::Invalid { line, .. } | RulesError::Conflict { line, .. } => {
                Some(*line)
            }
        }
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    app: Vec<AppDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppDoc {
    name: Spanned<String>,
    category: String,
    #[serde(default)]
    fully_encrypted: bool,
    #[serde(default)]
    entry: Vec<Spanned<EntryDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDoc {
    source: Spanned<String>,
    date: Spanned<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    suffix: Vec<Spanned<String>>,
    #[serde(default)]
    exact: Vec<Spanned<String>>,
    #[serde(default)]
    prefixes: Vec<Spanned<String>>,
    #[serde(default)]
    stun_realm: Vec<Spanned<String>>,
    #[serde(default)]
    stun_software: Vec<Spanned<String>>,
    #[serde(default)]
    ja4: Vec<Spanned<String>>,
    #[serde(default)]
    ports: Vec<Spanned<String>>,
}

/// Transport of a port rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortProto {
    Tcp,
    Udp,
}

/// A checked value with the line it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub line: usize,
}

/// One checked `[[app.entry]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub source: String,
    pub date: String,
    pub note: Option<String>,
    pub line: usize,
    pub suffix: Vec<At<String>>,
    pub exact: Vec<At<String>>,
    pub prefixes: Vec<At<IpNet>>,
    pub stun_realm: Vec<At<String>>,
    pub stun_software: Vec<At<String>>,
    pub ja4: Vec<At<String>>,
    pub ports: Vec<At<(PortProto, u16, u16)>>,
}

/// One checked `[[app]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AppRule {
    pub name: String,
    pub category: String,
    pub fully_encrypted: bool,
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// One checked file.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFile {
    pub file: String,
    pub apps: Vec<AppRule>,
}

/// Parses and checks one file's text. `file` names it in errors.
pub fn parse_file(file: &str, text: &str) -> Result<RuleFile, RulesError> {
    let doc: FileDoc = toml::from_str(text).map_err(|e| RulesError::Syntax {
        file: file.to_string(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    let invalid = |span: std::ops::Range<usize>, message: String| RulesError::Invalid {
        file: file.to_string(),
        line: line_of(text, span.start),
        message,
    };
    let mut apps = Vec::with_capacity(doc.app.len());
    for a in doc.app {
        let name = a.name.get_ref();
        if !valid_app_name(name) {
            return Err(invalid(
                a.name.span(),
                format!("app name '{name}' must be lowercase letters, digits, '_' or '-'"),
            ));
        }
        let mut entries = Vec::with_capacity(a.entry.len());
        for e in a.entry {
            let span = e.span();
            let e = e.into_inner();
            if e.source.get_ref().trim().is_empty() {
                return Err(invalid(e.source.span(), "entry has an empty source".into()));
            }
            if !valid_date(e.date.get_ref()) {
                return Err(invalid(
                    e.date.span(),
                    format!("date '{}' is not YYYY-MM-DD", e.date.get_ref()),
                ));
            }
            let at = |s: &Spanned<String>| line_of(text, s.span().start);
            let domains = |v: Vec<Spanned<String>>| -> Result<Vec<At<String>>, RulesError> {
                v.into_iter()
                    .map(|s| {
                        let d = normalize_domain(s.get_ref())
                            .ok_or_else(|| invalid(s.span(), format!("'{}' is not a domain name", s.get_ref())))?;
                        Ok(At { value: d, line: at(&s) })
                    })
                    .collect()
            };
            let texts = |v: Vec<Spanned<String>>, what: &str| -> Result<Vec<At<String>>, RulesError> {
                v.into_iter()
                    .map(|s| {
                        let t = s.get_ref().trim().to_ascii_lowercase();
                        if t.is_empty() {
                            return Err(invalid(s.span(), format!("empty {what}")));
                        }
                        Ok(At { value: t, line: at(&s) })
                    })
                    .collect()
            };
            let prefixes = e
                .prefixes
                .into_iter()
                .map(|s| {
                    let n = parse_prefix(s.get_ref()).map_err(|m| invalid(s.span(), m))?;
                    Ok(At { value: n, line: at(&s) })
                })
                .collect::<Result<Vec<_>, RulesError>>()?;
            let ports = e
                .ports
                .into_iter()
                .map(|s| {
                    let p = parse_port(s.get_ref()).map_err(|m| invalid(s.span(), m))?;
                    Ok(At { value: p, line: at(&s) })
                })
                .collect::<Result<Vec<_>, RulesError>>()?;
            let ja4 = texts(e.ja4, "ja4")?;
            if let Some(bad) = ja4.iter().find(|j| !valid_ja4(&j.value)) {
                return Err(RulesError::Invalid {
                    file: file.to_string(),
                    line: bad.line,
                    message: format!("'{}' is not a JA4 fingerprint (a_b_c)", bad.value),
                });
            }
            entries.push(Entry {
                source: e.source.into_inner(),
                date: e.date.into_inner(),
                note: e.note,
                line: line_of(text, span.start),
                suffix: domains(e.suffix)?,
                exact: domains(e.exact)?,
                prefixes,
                stun_realm: texts(e.stun_realm, "STUN realm")?,
                stun_software: texts(e.stun_software, "STUN software")?,
                ja4,
                ports,
            });
        }
        apps.push(AppRule {
            line: line_of(text, a.name.span().start),
            name: a.name.into_inner(),
            category: a.category.trim().to_ascii_lowercase(),
            fully_encrypted: a.fully_encrypted,
            entries,
        });
    }
    Ok(RuleFile {
        file: file.to_string(),
        apps,
    })
}

/// Reads every `*.toml` file of `dir`, sorted by name. An empty list
/// means the directory has no rule files.
pub fn read_dir(dir: &Path) -> Result<Vec<RuleFile>, RulesError> {
    let io = |e: std::io::Error| RulesError::Io {
        file: dir.display().to_string(),
        source: e,
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| RulesError::Io {
                file: name.clone(),
                source: e,
            })?;
            parse_file(&name, &text)
        })
        .collect()
}

fn valid_app_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && matches!(s.get(5..7).and_then(|m| m.parse::<u8>().ok()), Some(1..=12))
        && matches!(s.get(8..10).and_then(|d| d.parse::<u8>().ok()), Some(1..=31))
}

/// JA4 `a_b_c`: 10 characters, then two 12-hex-digit hashes.
fn valid_ja4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('_').collect();
    parts.len() == 3
        && parts[0].len() == 10
        && parts[0].bytes().all(|b| b.is_ascii_alphanumeric())
        && parts[1..]
            .iter()
            .all(|p| p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Lowercase, no trailing dot, no leading `*.` (a suffix already covers
/// subdomains); `None` if not a plausible DNS name.
pub(crate) fn normalize_domain(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('.');
    let s = s.strip_prefix("*.").unwrap_or(s);
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then(|| s.to_ascii_lowercase())
}

/// `a.b.c.d/n` or `v6/n`; host bits must be zero.
fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let n: IpNet = s
        .parse()
        .map_err(|_| format!("'{s}' is not an address prefix such as 192.0.2.0/24"))?;
    if n.network() != n.addr() {
        return Err(format!("'{s}' has host bits set (did you mean {}?)", n.trunc()));
    }
    Ok(n)
}

/// `tcp:443`, `udp:8801-8810`.
fn parse_port(s: &str) -> Result<(PortProto, u16, u16), String> {
    let bad = || format!("'{s}' is not a port rule such as tcp:443 or udp:8801-8810");
    let (proto, range) = s.trim().split_once(':').ok_or_else(bad)?;
    let proto = match proto {
        "tcp" => PortProto::Tcp,
        "udp" => PortProto::Udp,
        _ => return Err(bad()),
    };
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = range.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((proto, lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[app]]
name = "demo"
category = "Chat"

[[app.entry]]
source = "test"
date = "2026-01-02"
suffix = ["Example.ORG.", "*.demo.net"]
exact = ["api.example.com"]
prefixes = ["192.0.2.0/24", "2001:db8::/32"]
ports = ["udp:8801-8810", "tcp:443"]
ja4 = ["t13d1516h2_8daaf6152771_02713d6af862"]
"#;

    #[test]
    fn good_file() {
        let f = parse_file("good.toml", GOOD).unwrap();
        assert_eq!(f.apps.len(), 1);
        let a = &f.apps[0];
        assert_eq!((a.name.as_str(), a.category.as_str(), a.line), ("demo", "chat", 3));
        let e = &a.entries[0];
        assert_eq!(e.suffix[0].value, "example.org");
        assert_eq!(e.suffix[1].value, "demo.net");
        assert_eq!(e.suffix[0].line, 9);
        assert_eq!(e.prefixes.len(), 2);
        assert_eq!(e.ports[0].value, (PortProto::Udp, 8801, 8810));
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let text = "[[app]]\nname = \"x\"\ncategory = \"chat\"\n\n[[app.entry]]\nsource = \"s\"\ndate = 2026-01-02-\n";
        let e = parse_file("bad.toml", text).unwrap_err();
        assert!(matches!(e, RulesError::Syntax { .. }), "{e:?}");
        assert_eq!(e.file(), "bad.toml");
        assert_eq!(e.line(), Some(7), "{e}");
        assert!(e.to_string().starts_with("bad.toml:7: "), "{e}");
    }

    #[test]
    fn unknown_field_is_an_error_with_its_line() {
        let text = "[[app]]\nname = \"x\"\ncategory = \"chat\"\ncolour = \"blue\"\n";
        let e = parse_file("f.toml", text).unwrap_err();
        assert_eq!(e.line(), Some(4), "{e}");
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn bad_values_name_their_line() {
        let base = "[[app]]\nname = \"x\"\ncategory = \"c\"\n[[app.entry]]\nsource = \"s\"\ndate = \"2026-01-02\"\n";
        for (extra, what) in [
            ("prefixes = [\"10.0.0.1/8\"]\n", "host bits"),
            ("prefixes = [\"10.0.0.0/33\"]\n", "not an address prefix"),
            ("ports = [\"sctp:5\"]\n", "not a port rule"),
            ("suffix = [\"bad domain\"]\n", "not a domain"),
            ("ja4 = [\"nope\"]\n", "not a JA4"),
        ] {
            let text = format!("{base}{extra}");
            let e = parse_file("v.toml", &text).unwrap_err();
            assert_eq!(e.line(), Some(7), "{extra}: {e}");
            assert!(e.to_string().contains(what), "{extra}: {e}");
        }
        let e = parse_file("n.toml", "[[app]]\nname = \"Telegram\"\ncategory = \"c\"\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        let e = parse_file("d.toml", &base.replace("2026-01-02", "2026-13-02")).unwrap_err();
        assert_eq!(e.line(), Some(6));
    }

    #[test]
    fn lines_of_offsets() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
