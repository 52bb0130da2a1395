//! Sinks: JSON lines, CSV, and the human summary table.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use anyhow::Result;
use baikal_classifier::record::{FlowRecord, COLUMNS};
use baikal_classifier::verdict::Encryption;

use crate::pipeline::Summary;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
}

/// Packets, bytes and flows of one group.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, r: &FlowRecord) {
        self.flows += 1;
        self.packets += r.orig_pkts + r.resp_pkts;
        self.bytes += r.orig_bytes + r.resp_bytes;
    }
}

/// Tallies by name. Hashed, not ordered: every record is added to two
/// of these, and an ordered map compared the name with several keys each
/// time (`memcmp` from here was 0.7% of a one-thread run in callgrind);
/// the table sorts its rows itself.
type ByName = HashMap<String, Tally, foldhash::fast::RandomState>;

/// Aggregates for the table.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub all: Tally,
    pub by_protocol: ByName,
    pub by_app: ByName,
    pub by_encryption: BTreeMap<&'static str, Tally>,
    pub evicted: u64,
}

/// Adds `r` to the tally under `key`, allocating the key only the first
/// time it is seen (not once per record).
fn tally_into(map: &mut ByName, key: &str, r: &FlowRecord) {
    match map.get_mut(key) {
        Some(t) => t.add(r),
        None => {
            let mut t = Tally::default();
            t.add(r);
            map.insert(key.to_owned(), t);
        }
    }
}

impl Tally {
    fn merge(&mut self, o: &Tally) {
        self.flows += o.flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

impl Totals {
    /// Adds another thread's totals ([`Part`]) to these.
    fn merge(&mut self, o: Totals) {
        self.all.merge(&o.all);
        for (k, t) in o.by_protocol {
            self.by_protocol.entry(k).or_default().merge(&t);
        }
        for (k, t) in o.by_app {
            self.by_app.entry(k).or_default().merge(&t);
        }
        for (k, t) in o.by_encryption {
            self.by_encryption.entry(k).or_default().merge(&t);
        }
        self.evicted += o.evicted;
    }

    pub fn add(&mut self, r: &FlowRecord) {
        self.all.add(r);
        tally_into(&mut self.by_protocol, r.protocol, r);
        tally_into(&mut self.by_app, r.app.as_deref().unwrap_or("-"), r);
        self.by_encryption.entry(r.encryption.as_str()).or_default().add(r);
        if r.end_reason == baikal_classifier::flow::EndReason::Evicted {
            self.evicted += 1;
        }
    }
}

pub struct Sink {
    format: Format,
    out: Box<dyn Write + Send>,
    pub totals: Totals,
    wrote_header: bool,
    /// One JSON line is built here, then written with one call (serde_json
    /// writing token by token through `dyn Write` cost ~2 µs per record).
    line: Vec<u8>,
}

impl Sink {
    pub fn new(format: Format, out: Box<dyn Write + Send>) -> Sink {
        Sink {
            format,
            out,
            totals: Totals::default(),
            wrote_header: false,
            line: Vec::with_capacity(1024),
        }
    }

    pub fn record(&mut self, r: FlowRecord) -> std::io::Result<()> {
        self.totals.add(&r);
        if self.format == Format::Table {
            return Ok(());
        }
        self.line.clear();
        render(self.format, &r, &mut self.line)?;
        self.header()?;
        self.out.write_all(&self.line)
    }

    /// The CSV header, before the first row.
    fn header(&mut self) -> std::io::Result<()> {
        if self.format == Format::Csv && !self.wrote_header {
            self.wrote_header = true;
            writeln!(self.out, "{}", COLUMNS.join(","))?;
        }
        Ok(())
    }

    /// An empty [`Part`] for one worker thread.
    pub fn part(&self) -> Part {
        Part {
            format: self.format,
            bytes: Vec::new(),
            totals: Totals::default(),
        }
    }

    /// Writes the records `p` holds, leaving it empty. Nothing to write
    /// (the table format) writes nothing.
    pub fn take(&mut self, p: &mut Part) -> std::io::Result<()> {
        if p.bytes.is_empty() {
            return Ok(());
        }
        self.header()?;
        let r = self.out.write_all(&p.bytes);
        p.bytes.clear();
        r
    }

    /// Adds the totals of a worker's records, at its end.
    pub fn absorb(&mut self, p: Part) {
        self.totals.merge(p.totals);
    }

    pub fn finish(mut self, sum: &Summary) -> Result<()> {
        if self.format == Format::Csv && !self.wrote_header {
            writeln!(self.out, "{}", COLUMNS.join(","))?;
        }
        if self.format == Format::Table {
            write_table(&mut self.out, &self.totals, sum)?;
        }
        self.out.flush()?;
        Ok(())
    }
}

/// One worker's share of the output work with `--threads N`: the records
/// it ended, formatted and tallied on its own thread, so that the sink's
/// lock is taken only to write their bytes ([`Sink::take`]) and, at the
/// worker's end, to add its totals ([`Sink::absorb`]). Formatting under
/// that lock made it the one step of every record the workers could not
/// do at once.
pub struct Part {
    format: Format,
    bytes: Vec<u8>,
    totals: Totals,
}

impl Part {
    /// Formats and tallies `r` (nothing shared is touched).
    pub fn add(&mut self, r: &FlowRecord) -> std::io::Result<()> {
        self.totals.add(r);
        render(self.format, r, &mut self.bytes)
    }

    /// Drops the records not written yet (after a write error).
    pub fn clear(&mut self) {
        self.bytes.clear();
    }
}

/// Appends `r` as the format has it: a JSON line, a CSV row, or nothing
/// (the table shows totals only).
fn render(format: Format, r: &FlowRecord, buf: &mut Vec<u8>) -> std::io::Result<()> {
    match format {
        Format::Table => Ok(()),
        Format::Jsonl => {
            serde_json::to_writer(&mut *buf, r)?;
            buf.push(b'\n');
            Ok(())
        }
        Format::Csv => write_csv_row(buf, r),
    }
}

/// One CSV row with the columns of [`COLUMNS`]. Each cell holds what the
/// field is in the record's JSON form: a string without its quotes, a
/// number as JSON writes it, a list of strings joined by `;`, nothing for
/// null or an empty object, and the JSON text of a non-empty object
/// (`extra`). A test holds every cell to the JSON of the same record, and
/// the JSON's keys to [`COLUMNS`], so the two formats cannot drift apart.
///
/// The row is written field by field. It was taken from a
/// `serde_json::Value` of the whole record, a tree of allocations per
/// record that made `-F csv` about 0.3 s slower than `-F jsonl` on the
/// bench capture.
fn write_csv_row(out: &mut dyn Write, r: &FlowRecord) -> std::io::Result<()> {
    let mut row = CsvRow {
        out,
        first: true,
        scratch: Vec::with_capacity(64),
    };
    row.display(r.orig_ip)?;
    row.display(r.orig_port)?;
    row.display(r.resp_ip)?;
    row.display(r.resp_port)?;
    row.text(&r.transport.name())?;
    row.json(&r.ts_first)?;
    row.json(&r.ts_last)?;
    row.display(r.orig_pkts)?;
    row.display(r.orig_bytes)?;
    row.display(r.resp_pkts)?;
    row.display(r.resp_bytes)?;
    row.text(r.protocol)?;
    row.opt_text(r.app.as_deref())?;
    row.text(r.encryption.as_str())?;
    row.list(r.evidence.names())?;
    row.opt_text(r.sni.as_deref())?;
    row.opt_text(r.alpn.as_deref())?;
    row.opt_text(r.ja3.as_deref())?;
    row.opt_text(r.ja4.as_deref())?;
    row.opt_text(r.http_host.as_deref())?;
    row.opt_text(r.dns_query.as_deref())?;
    row.text(&r.source)?;
    row.text(r.end_reason.as_str())?;
    row.opt_json(r.entropy.as_ref())?;
    row.opt_text(r.ja3s.as_deref())?;
    row.opt_text(r.ja4_r.as_deref())?;
    row.opt_json(r.app_confidence.as_ref())?;
    row.opt_text(r.orig_tcp_flags)?;
    row.opt_text(r.resp_tcp_flags)?;
    if r.extra.is_empty() {
        row.text("")?;
    } else {
        row.json(&baikal_classifier::record::ExtraMap(&r.extra))?;
    }
    row.out.write_all(b"\n")
}

/// The cells of one CSV row, written as they come.
struct CsvRow<'a> {
    out: &'a mut dyn Write,
    first: bool,
    scratch: Vec<u8>,
}

impl CsvRow<'_> {
    fn text(&mut self, s: &str) -> std::io::Result<()> {
        if !std::mem::take(&mut self.first) {
            self.out.write_all(b",")?;
        }
        self.out.write_all(csv_escape(s).as_bytes())
    }

    fn opt_text(&mut self, s: Option<&str>) -> std::io::Result<()> {
        self.text(s.unwrap_or(""))
    }

    /// A cell built in the row's scratch buffer by `fill`.
    fn built(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut b = std::mem::take(&mut self.scratch);
        b.clear();
        let r = fill(&mut b).and_then(|()| self.text(std::str::from_utf8(&b).unwrap_or_default()));
        self.scratch = b;
        r
    }

    /// A number or an address, by its `Display` (what JSON writes for
    /// integers, and inside the quotes for addresses).
    fn display(&mut self, v: impl std::fmt::Display) -> std::io::Result<()> {
        self.built(|b| write!(b, "{v}"))
    }

    /// The value's JSON text (floats as JSON lines write them); nothing
    /// for `null`, which JSON writes for a float that is not finite.
    fn json(&mut self, v: &impl serde::Serialize) -> std::io::Result<()> {
        self.built(|b| {
            serde_json::to_writer(&mut *b, v)?;
            if b == b"null" {
                b.clear();
            }
            Ok(())
        })
    }

    fn opt_json(&mut self, v: Option<&impl serde::Serialize>) -> std::io::Result<()> {
        match v {
            Some(v) => self.json(v),
            None => self.text(""),
        }
    }

    fn list<'s>(&mut self, items: impl Iterator<Item = &'s str>) -> std::io::Result<()> {
        self.built(|b| {
            for (i, s) in items.enumerate() {
                if i > 0 {
                    b.push(b';');
                }
                b.extend_from_slice(s.as_bytes());
            }
            Ok(())
        })
    }
}

fn csv_escape(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

fn human_bytes(b: u64) -> String {
    const U: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i < U.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn write_group<K: AsRef<str>>(
    out: &mut dyn Write,
    title: &str,
    rows: &mut [(K, Tally)],
    all: &Tally,
) -> std::io::Result<()> {
    rows.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.as_ref().cmp(b.0.as_ref())));
    writeln!(
        out,
        "\n{:<22} {:>9} {:>7} {:>11} {:>7} {:>11} {:>7}",
        title, "flows", "%", "packets", "%", "bytes", "%"
    )?;
    for (k, t) in rows.iter() {
        writeln!(
            out,
            "{:<22} {:>9} {:>6.1}% {:>11} {:>6.1}% {:>11} {:>6.1}%",
            k.as_ref(),
            t.flows,
            pct(t.flows, all.flows),
            t.packets,
            pct(t.packets, all.packets),
            human_bytes(t.bytes),
            pct(t.bytes, all.bytes)
        )?;
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, t: &Totals, s: &Summary) -> std::io::Result<()> {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "{} packets read, {} decoded, {} flows ({} evicted), {} in flows, {:.2}s ({:.2} Mpps)",
        s.packets_read,
        s.decode.decoded,
        t.all.flows,
        t.evicted,
        human_bytes(t.all.bytes),
        secs,
        s.packets_read as f64 / secs / 1e6
    )?;
    let skipped = s.decode.not_ip + s.decode.malformed + s.decode.skipped_linktype;
    if skipped > 0 {
        writeln!(
            out,
            "not counted in flows: {} non-IP, {} malformed, {} unsupported link type",
            s.decode.not_ip, s.decode.malformed, s.decode.skipped_linktype
        )?;
    }
    let enc = |e: Encryption| t.by_encryption.get(e.as_str()).copied().unwrap_or_default();
    let (e, fe) = (enc(Encryption::Encrypted), enc(Encryption::FullyEncrypted));
    writeln!(
        out,
        "encrypted (incl. fully encrypted): {:.1}% of flows, {:.1}% of packets, {:.1}% of bytes",
        pct(e.flows + fe.flows, t.all.flows),
        pct(e.packets + fe.packets, t.all.packets),
        pct(e.bytes + fe.bytes, t.all.bytes)
    )?;
    write_group(
        out,
        "protocol",
        &mut t.by_protocol.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(),
        &t.all,
    )?;
    write_group(
        out,
        "application",
        &mut t.by_app.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(),
        &t.all,
    )?;
    write_group(
        out,
        "encryption",
        &mut t.by_encryption.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
        &t.all,
    )?;
    for w in &s.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_escaping() {
        assert_eq!(csv_escape("a,b"), "\"a,b\"");
        assert_eq!(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_escape("plain"), "plain");
    }

    fn rec(protocol: &'static str, app: Option<&str>, pkts: u64) -> FlowRecord {
        use baikal_classifier::flow::EndReason;
        use baikal_classifier::record::Transport;
        use baikal_classifier::verdict::Evidence;
        FlowRecord {
            orig_ip: [10, 0, 0, 1].into(),
            orig_port: 40000,
            resp_ip: [10, 0, 0, 2].into(),
            resp_port: 443,
            transport: Transport(6),
            ts_first: 1.0,
            ts_last: 2.0,
            orig_pkts: pkts,
            orig_bytes: 100 * pkts,
            resp_pkts: 1,
            resp_bytes: 60,
            protocol,
            app: app.map(str::to_owned),
            encryption: Encryption::Encrypted,
            evidence: Evidence::DPI,
            sni: None,
            alpn: None,
            ja3: None,
            ja4: None,
            http_host: None,
            dns_query: None,
            source: "t".into(),
            end_reason: if pkts == 0 { EndReason::Evicted } else { EndReason::Eof },
            entropy: None,
            ja3s: None,
            ja4_r: None,
            app_confidence: None,
            orig_tcp_flags: None,
            resp_tcp_flags: None,
            extra: Vec::new(),
        }
    }

    /// Splits one CSV row into its cells (quoted cells may hold commas,
    /// doubled quotes and line breaks).
    fn split_csv_row(row: &str) -> Vec<String> {
        let (mut cells, mut cell, mut quoted) = (Vec::new(), String::new(), false);
        let mut it = row.chars().peekable();
        while let Some(c) = it.next() {
            match (quoted, c) {
                (true, '"') if it.peek() == Some(&'"') => {
                    it.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (false, '"') if cell.is_empty() => quoted = true,
                (false, ',') => cells.push(std::mem::take(&mut cell)),
                (false, '\n') => break,
                (_, c) => cell.push(c),
            }
        }
        cells.push(cell);
        cells
    }

    /// Every CSV cell is the record's JSON value of its column, by the rule
    /// `write_csv_row` states, and the JSON has exactly the columns of
    /// `COLUMNS`, in that order: a field added to the record and not to
    /// the CSV fails here.
    #[test]
    fn csv_cells_are_the_json_values() {
        let mut full = rec("tls", Some("tele,gram"), 3);
        full.sni = Some("say \"hi\"".into());
        full.alpn = Some("h2".into());
        full.ja3 = Some("a\nb".into());
        full.ja4 = Some("t13d".into());
        full.ja4_r = Some("t13d_1301,1302".into());
        full.ja3s = Some("ff".into());
        full.http_host = Some("h".into());
        full.dns_query = Some("q.example".into());
        full.entropy = Some(4.706);
        full.app_confidence = Some(0.1);
        full.ts_first = 1767225600.013773;
        full.evidence = baikal_classifier::verdict::Evidence::DPI | baikal_classifier::verdict::Evidence::SNI;
        full.orig_tcp_flags = Some("SAF");
        full.resp_tcp_flags = Some("AR");
        full.extra = vec![("zeta", "1".into()), ("alpha", "x,\"y\"".into())];
        full.orig_ip = "2001:db8::1".parse().unwrap();
        let mut odd = rec("unknown", None, 0);
        odd.transport = baikal_classifier::record::Transport(47);
        odd.entropy = Some(f32::NAN);
        odd.evidence = baikal_classifier::verdict::Evidence::default();
        for r in [full, odd, rec("quic", None, 1)] {
            let mut buf = Vec::new();
            write_csv_row(&mut buf, &r).unwrap();
            let row = String::from_utf8(buf).unwrap();
            assert!(row.ends_with('\n'));
            let cells = split_csv_row(&row);
            let text = serde_json::to_string(&r).unwrap();
            let json = serde_json::to_value(&r).unwrap();
            let obj = json.as_object().unwrap();
            assert_eq!(obj.len(), COLUMNS.len());
            assert_eq!(cells.len(), COLUMNS.len(), "{row}");
            let mut at = 0;
            for (c, cell) in COLUMNS.iter().zip(&cells) {
                let key = format!("\"{c}\":");
                at += text[at..]
                    .find(&key)
                    .unwrap_or_else(|| panic!("{c} out of order in {text}"));
                match &obj[*c] {
                    serde_json::Value::Null => assert_eq!(cell, "", "{c}"),
                    serde_json::Value::String(s) => assert_eq!(cell, s, "{c}"),
                    serde_json::Value::Array(a) => {
                        let joined: Vec<&str> = a.iter().map(|x| x.as_str().unwrap()).collect();
                        assert_eq!(*cell, joined.join(";"), "{c}");
                    }
                    serde_json::Value::Object(o) if o.is_empty() => assert_eq!(cell, "", "{c}"),
                    serde_json::Value::Object(o) => {
                        let back: serde_json::Value = serde_json::from_str(cell).unwrap();
                        assert_eq!(back.as_object(), Some(o), "{c}");
                        // In the order the fields were set, as in JSON lines.
                        assert!(text.contains(cell.as_str()), "{c}: {cell}");
                    }
                    serde_json::Value::Number(n) => {
                        let (got, want): (f64, f64) = (cell.parse().unwrap(), n.as_f64().unwrap());
                        // f32 fields: JSON lines write the f32's digits.
                        assert!(got == want || got as f32 == want as f32, "{c}: {cell} {n}");
                        assert!(text.contains(&format!("{key}{cell}")), "{c}: {cell} not as in {text}");
                    }
                    serde_json::Value::Bool(b) => assert_eq!(*cell, b.to_string(), "{c}"),
                }
            }
        }
    }

    #[test]
    fn totals_by_protocol_app_and_class() {
        let mut t = Totals::default();
        t.add(&rec("tls", Some("telegram"), 3));
        t.add(&rec("tls", None, 2));
        t.add(&rec("quic", Some("telegram"), 0));
        assert_eq!((t.all.flows, t.all.packets, t.all.bytes), (3, 8, 680));
        let tls = &t.by_protocol["tls"];
        assert_eq!((tls.flows, tls.packets, tls.bytes), (2, 7, 620));
        assert_eq!(t.by_protocol["quic"].flows, 1);
        assert_eq!(t.by_app["telegram"].flows, 2);
        assert_eq!(t.by_app["-"].flows, 1);
        assert_eq!(t.by_app.len(), 2);
        assert_eq!(t.by_encryption["encrypted"].flows, 3);
        assert_eq!(t.evicted, 1);
    }

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn sink(format: Format) -> (Sink, Shared) {
        let w = Shared::default();
        (Sink::new(format, Box::new(w.clone())), w)
    }

    fn text(w: &Shared) -> String {
        String::from_utf8(w.0.lock().unwrap().clone()).unwrap()
    }

    fn recs() -> Vec<FlowRecord> {
        vec![
            rec("tls", Some("telegram"), 3),
            rec("tls", None, 2),
            rec("quic", Some("telegram"), 0),
            rec("dns", Some("a,\"b\""), 1),
        ]
    }

    /// Records formatted in two workers' parts, taken in turns, give the
    /// lines, header and totals of one sink given every record.
    #[test]
    fn parts_write_what_one_sink_writes() {
        for format in [Format::Jsonl, Format::Csv, Format::Table] {
            let (mut one, w1) = sink(format);
            for r in recs() {
                one.record(r).unwrap();
            }
            let (mut many, w2) = sink(format);
            let (mut a, mut b) = (many.part(), many.part());
            for (i, r) in recs().iter().enumerate() {
                if i % 2 == 0 { &mut a } else { &mut b }.add(r).unwrap();
                if i == 1 {
                    // `b` first: the header still comes before any row.
                    many.take(&mut b).unwrap();
                }
            }
            many.take(&mut a).unwrap();
            many.take(&mut b).unwrap();
            many.absorb(a);
            many.absorb(b);
            assert_eq!(many.totals.by_app["telegram"].flows, 2);
            assert_eq!(many.totals.all.packets, one.totals.all.packets);
            let sum = Summary::default();
            one.finish(&sum).unwrap();
            many.finish(&sum).unwrap();
            let (t1, t2) = (text(&w1), text(&w2));
            let sorted = |t: &str| {
                let mut v: Vec<&str> = t.lines().collect();
                v.sort_unstable();
                v.join("\n")
            };
            assert_eq!(sorted(&t1), sorted(&t2), "{format:?}");
            if format == Format::Csv {
                assert!(t2.starts_with("orig_ip,"), "{t2}");
                assert_eq!(t2.matches("orig_ip,").count(), 1);
            }
            if format == Format::Table {
                assert_eq!(t1, t2);
            }
        }
    }

    #[test]
    fn a_take_writes_nothing_twice() {
        let (mut s, w) = sink(Format::Jsonl);
        let mut p = s.part();
        p.add(&rec("tls", None, 1)).unwrap();
        s.take(&mut p).unwrap();
        s.take(&mut p).unwrap();
        assert_eq!(text(&w).lines().count(), 1);
    }

    #[test]
    fn bytes_human() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
