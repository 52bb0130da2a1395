//! `baikal classify --threads N` gives the same set of records for every N.
//!
//! A capture is generated here (TCP and UDP flows, both directions,
//! interleaved, some ending by FIN/RST, some idle); when `BAIKAL_CORPUS` is
//! set a few corpus captures are checked too. Records are compared as
//! sorted JSON lines: their order depends on the threads, their set must not.

#[path = "common/corpus_dir.rs"]
mod corpus_dir;
mod mkpcap;

use std::path::PathBuf;

use mkpcap::{frame, synthetic_pcap};
use std::process::Command;

fn baikal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baikal"))
}

fn sorted_records(files: &[PathBuf], threads: u32) -> Vec<String> {
    sorted_records_with(files, threads, &[])
}

fn sorted_records_with(files: &[PathBuf], threads: u32, extra: &[&str]) -> Vec<String> {
    let mut cmd = baikal();
    cmd.args(["classify", "-q", "-F", "jsonl", "--threads", &threads.to_string()]);
    cmd.args(extra);
    cmd.args(files);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "threads {threads}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The records of `file` fed through a pipe (read by the calling thread
/// into blocks that any worker routes, where the workers read a regular
/// file's stripes themselves), named as the file.
fn piped_records(file: &std::path::Path, threads: u32) -> Vec<String> {
    piped_records_with(file, threads, &[])
}

fn piped_records_with(file: &std::path::Path, threads: u32, extra: &[&str]) -> Vec<String> {
    let mut child = baikal()
        .args(["classify", "-q", "-F", "jsonl", "--threads", &threads.to_string()])
        .args(extra)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(file).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &bytes));
    let out = child.wait_with_output().unwrap();
    // With -c baikal may stop reading before the end.
    if let Err(e) = writer.join().unwrap() {
        assert!(!extra.is_empty() && e.kind() == std::io::ErrorKind::BrokenPipe, "{e}");
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let named = format!(
        "\"source\":{}",
        serde_json::to_string(&file.display().to_string()).unwrap()
    );
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.replace("\"source\":\"-\"", &named))
        .collect();
    v.sort();
    v
}

/// Same records for 1, 2, 3 and 5 threads reading the file (in stripes
/// that every worker reads), and for 2 and 3 threads reading it through a
/// pipe.
fn check_same(files: &[PathBuf]) -> usize {
    let one = sorted_records(files, 1);
    let mut others: Vec<(String, Vec<String>)> = [2, 3, 5]
        .into_iter()
        .map(|n| (format!("--threads {n}"), sorted_records(files, n)))
        .collect();
    if let [file] = files {
        others.push(("--threads 2 through a pipe".into(), piped_records(file, 2)));
        others.push(("--threads 3 through a pipe".into(), piped_records(file, 3)));
    }
    for (how, other) in &others {
        assert_eq!(one.len(), other.len(), "record count differs with {how}");
        for (a, b) in one.iter().zip(other) {
            assert_eq!(a, b, "{how} differs");
        }
    }
    one.len()
}

/// The generated capture of 3000 flows, in a folder of its own named by
/// `tag`: (folder, capture).
fn mix_capture(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("baikal-threads{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("mix.pcap");
    synthetic_pcap(&p, 3000);
    (dir, p)
}

#[test]
fn same_records_for_any_thread_count() {
    let (dir, p) = mix_capture("");
    let n = check_same(std::slice::from_ref(&p));
    // 3000 flows, the second lives of 375 UDP flows, the late one.
    assert_eq!(n, 3376);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-F csv` and `-F table` with workers: each worker formats and tallies
/// its own records and the sink only writes them, so the rows (after the
/// one header) and the table's totals are one thread's, from a file and
/// through a pipe. 3000 flows: several groups of records per worker.
#[test]
fn csv_and_table_are_the_same_for_any_thread_count() {
    let (dir, p) = mix_capture("-fmt");
    let run = |format: &str, threads: u32, piped: bool| -> String {
        let mut cmd = baikal();
        cmd.args(["classify", "-q", "-F", format, "--threads", &threads.to_string()]);
        let out = if piped {
            cmd.arg("-").stdin(std::fs::File::open(&p).unwrap()).output().unwrap()
        } else {
            cmd.arg(&p).output().unwrap()
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = |text: &str| -> (String, Vec<String>) {
        let mut lines = text.lines().map(str::to_string);
        let header = lines.next().unwrap_or_default();
        // The source column names the file, or `-`.
        let mut rows: Vec<String> = lines.map(|l| l.replace(&p.display().to_string(), "-")).collect();
        rows.sort();
        (header, rows)
    };
    // The table's first line gives the run's time.
    let table = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
    let (header, rows) = csv(&run("csv", 1, false));
    assert!(header.starts_with("orig_ip,"), "{header}");
    assert_eq!(rows.len(), 3376);
    let totals = table(&run("table", 1, false));
    assert!(totals.contains("3376"), "{totals}");
    for threads in [2, 3] {
        for piped in [false, true] {
            let how = format!("{threads} threads, piped {piped}");
            assert_eq!(
                csv(&run("csv", threads, piped)),
                (header.clone(), rows.clone()),
                "{how}"
            );
            assert_eq!(table(&run("table", threads, piped)), totals, "{how}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A capture whose time goes back: 400 UDP flows, then one packet 1000 s
/// later, then each of the 400 flows again from 100 s (900 s back in
/// time). The sweep at 1000 s ends the first lives of the flows (idle for
/// longer than the 120 s UDP timeout); the packets from 100 s on start
/// second lives, which end idle at the end (the clock is then at 1000 s).
/// A worker holding some of the flows never sees the packet at 1000 s:
/// it is told the clock, and its records are one thread's.
#[test]
fn same_records_for_any_thread_count_when_time_goes_back() {
    const S: u64 = 1_000_000_000;
    let dir = std::env::temp_dir().join(format!("baikal-threads-back-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("back.pcap");
    let flows = 400u32;
    let mut frames = Vec::new();
    for life in 0..2u64 {
        for i in 0..flows {
            let c = [10, 3, (i >> 8) as u8, i as u8];
            let srv = [198, 51, 100, 7];
            let t = life * 100 * S + u64::from(i) * 10_000_000;
            let body = format!("flow {i} life {life}");
            frames.push((t, frame(c, srv, 30000 + i as u16, 5000, None, body.as_bytes())));
            frames.push((t + 1000, frame(srv, c, 5000, 30000 + i as u16, None, body.as_bytes())));
        }
        if life == 0 {
            frames.push((
                1000 * S,
                frame([10, 9, 9, 9], [198, 51, 100, 8], 40000, 5001, None, b"late"),
            ));
        }
    }
    write_pcap(&p, &frames);
    let one = sorted_records(std::slice::from_ref(&p), 1);
    assert_eq!(one.len(), 2 * flows as usize + 1);
    let idle = one.iter().filter(|l| l.contains("\"end_reason\":\"idle\"")).count();
    assert_eq!(idle, 2 * flows as usize, "both lives of every flow end idle");
    assert_eq!(check_same(std::slice::from_ref(&p)), one.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-c N` stops after the same N packets whatever the threads and the
/// path (a file read in stripes, a pipe read by the calling thread); `-c 0`
/// is refused.
#[test]
fn a_packet_count_cuts_the_same_for_any_thread_count() {
    let dir = std::env::temp_dir().join(format!("baikal-threads-count-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("mix.pcap");
    synthetic_pcap(&p, 400);
    for count in ["1", "777", "2500"] {
        let one = sorted_records_with(std::slice::from_ref(&p), 1, &["-c", count]);
        assert!(!one.is_empty());
        for (how, other) in [
            (
                "file, 2 threads",
                sorted_records_with(std::slice::from_ref(&p), 2, &["-c", count]),
            ),
            (
                "file, 3 threads",
                sorted_records_with(std::slice::from_ref(&p), 3, &["-c", count]),
            ),
            ("pipe, 2 threads", piped_records_with(&p, 2, &["-c", count])),
            ("pipe, 3 threads", piped_records_with(&p, 3, &["-c", count])),
        ] {
            assert_eq!(one, other, "-c {count}, {how}");
        }
    }
    let out = baikal().args(["classify", "-c", "0"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'0'"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn same_records_for_any_thread_count_corpus() {
    let Some(root) = corpus_dir::corpus_root() else {
        return;
    };
    let dir = root.join("ndpi/pcap");
    let files = corpus_captures(&dir);
    // Every 10th capture keeps the test short while covering many kinds.
    let mut pick: Vec<PathBuf> = files.into_iter().step_by(10).collect();
    // Its peer-to-peer call flows are named through flows that usually
    // land on other workers (crate::assoc): the association must not
    // depend on the sharding.
    let call = dir.join("telegram_videocall.pcapng");
    if call.is_file() && !pick.contains(&call) {
        pick.push(call);
    }
    assert!(!pick.is_empty());
    for f in pick {
        check_same(std::slice::from_ref(&f));
    }
}

/// Every corpus capture gives the same records at one and at two threads
/// (a regular file: two workers reading its stripes). Those whose
/// timestamps go back (39 of them, most by jitter) are checked at 3 and 5
/// threads and through a pipe at 2 and 3 as well: there a worker must be
/// told the clock of the frames it does not see.
#[test]
fn same_records_for_any_thread_count_over_the_whole_corpus() {
    let Some(root) = corpus_dir::corpus_root() else {
        return;
    };
    let files = corpus_captures(&root.join("ndpi/pcap"));
    assert!(files.len() > 500, "{} captures", files.len());
    let by_source = |threads: u32| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for line in sorted_records(&files, threads) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let src = v["source"].as_str().unwrap().to_string();
            m.entry(src).or_default().push(line);
        }
        m
    };
    let (one, two) = (by_source(1), by_source(2));
    assert!(one.len() > 500, "{} captures gave records", one.len());
    assert_eq!(one, two, "records differ at two threads");
    let back: Vec<&PathBuf> = files.iter().filter(|f| timestamps_go_back(f)).collect();
    for f in &back {
        check_same(std::slice::from_ref(*f));
    }
    eprintln!(
        "{} captures identical at one and two threads; the {} whose timestamps go back at 1, 2, 3 and 5 \
         threads and through a pipe at 2 and 3",
        one.len(),
        back.len()
    );
    assert!(back.len() > 30, "{} captures with timestamps going back", back.len());
}

/// The pcap and pcapng files of a corpus directory, sorted.
fn corpus_captures(dir: &std::path::Path) -> Vec<PathBuf> {
    assert!(dir.is_dir(), "{}: missing", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    files
}

/// Whether a frame of `path` is older than one before it.
fn timestamps_go_back(path: &std::path::Path) -> bool {
    let (mut latest, mut back) = (0u64, false);
    let input = baikal_capture::Input::File(path.to_path_buf());
    let _ = baikal_capture::read(&input, &mut |raw| {
        back |= raw.ts_ns < latest;
        latest = latest.max(raw.ts_ns);
        true
    });
    back
}

/// A pcap (ns timestamps, Ethernet) of the given frames.
fn write_pcap(path: &std::path::Path, frames: &[(u64, Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (ts, f) in frames {
        let ts = ts + 1_700_000_000_000_000_000;
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// The two IPv4 fragments of a UDP datagram `frame` (Ethernet + IPv4 +
/// UDP with at least 16 bytes of payload), split after 24 bytes of IP payload.
fn fragments(f: &[u8], id: u16) -> [Vec<u8>; 2] {
    let (eth, ip) = f.split_at(14);
    let (hdr, body) = ip.split_at(20);
    let mk = |part: &[u8], off: u16, more: bool| {
        let mut h = hdr.to_vec();
        h[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
        h[4..6].copy_from_slice(&id.to_be_bytes());
        h[6..8].copy_from_slice(&((off / 8) | if more { 0x2000 } else { 0 }).to_be_bytes());
        [eth, &h, part].concat()
    };
    [mk(&body[..24], 0, true), mk(&body[24..], 24, false)]
}

/// Every flow mixes packets the scan routes from their headers (plain
/// Ethernet + IPv4) with packets it must decode itself (a fragmented
/// datagram, three VLAN tags, a VXLAN tunnel): each flow must still be
/// one record, the same for every thread count, from a file or a pipe.
#[test]
fn flows_mixing_plain_and_decoded_packets_stay_whole() {
    let dir = std::env::temp_dir().join(format!("baikal-threads-mix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("mixed.pcap");
    let mut frames = Vec::new();
    let flows = 300u32;
    for i in 0..flows {
        let c = [10, 2, (i >> 8) as u8, i as u8];
        let s = [198, 51, 100, (i % 5) as u8 + 1];
        let sport = 20000 + i as u16;
        let t = u64::from(i) * 1_000_000;
        let body: Vec<u8> = (0..40u8).map(|k| k.wrapping_mul(i as u8 | 1)).collect();
        frames.push((t, frame(c, s, sport, 5000, None, &body)));
        for (k, f) in fragments(&frame(s, c, 5000, sport, None, &body), i as u16)
            .into_iter()
            .enumerate()
        {
            frames.push((t + 10 + k as u64, f));
        }
        let tagged = frame(c, s, sport, 5000, None, b"tagged");
        let mut v = tagged[..12].to_vec();
        for tag in [0x8100u16, 0x8100, 0x8100] {
            v.extend_from_slice(&tag.to_be_bytes());
            v.extend_from_slice(&[0, 7]);
        }
        v.extend_from_slice(&tagged[12..]);
        frames.push((t + 20, v));
        let inner = frame(s, c, 5000, sport, None, b"tunnelled");
        let vx = [&[8u8, 0, 0, 0, 0, 0, 1, 0][..], &inner].concat();
        frames.push((
            t + 30,
            frame([172, 16, 0, 1], [172, 16, 0, 2], 40000 + i as u16, 4789, None, &vx),
        ));
    }
    write_pcap(&p, &frames);
    let one = sorted_records(std::slice::from_ref(&p), 1);
    assert_eq!(one.len(), flows as usize, "one record per flow with one thread");
    for line in &one {
        // Orig: the plain packet and the tagged one; resp: the reassembled
        // datagram and the tunnelled packet.
        assert!(
            line.contains("\"orig_pkts\":2,") && line.contains("\"resp_pkts\":2,"),
            "{line}"
        );
    }
    // check_same covers the pipe (the calling thread's stream path) too.
    assert_eq!(check_same(std::slice::from_ref(&p)), flows as usize);
    let _ = std::fs::remove_dir_all(&dir);
}

/// On every frame of the corpus, `fast_l4` (how the scan routes a frame
/// without decoding it, and the UDP payload its association table reads)
/// declines or agrees with the decoder.
#[test]
fn fast_tuple_agrees_with_the_decoder_on_the_corpus() {
    use baikal_classifier::decode::{fast_l4, ipproto, Decoder, LinkType};
    let Some(root) = corpus_dir::corpus_root() else {
        return;
    };
    let dir = root.join("ndpi/pcap");
    assert!(dir.is_dir(), "{}: missing", dir.display());
    let (mut frames, mut fast) = (0u64, 0u64);
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let input = baikal_capture::Input::File(path.clone());
        // Unreadable or damaged files are other tests' business.
        let _ = baikal_capture::read(&input, &mut |raw| {
            frames += 1;
            if let Some((t, udp_payload)) = fast_l4(LinkType(raw.linktype), raw.data) {
                fast += 1;
                // A fresh decoder: a plain frame needs no reassembly state.
                // The full decoder's answer, not the plain path's (which
                // reads the headers as `fast_l4` does; see below).
                let mut d = Decoder::new();
                let got = d.decode_in_full(LinkType(raw.linktype), raw.ts_ns, raw.wire_len, raw.data);
                assert_eq!(
                    got.as_ref().map(|v| v.tuple),
                    Some(t),
                    "{}: frame {frames}",
                    path.display()
                );
                if t.proto == ipproto::UDP {
                    // What the association table reads in the scan.
                    assert_eq!(
                        got.map(|v| v.payload),
                        Some(udp_payload),
                        "{}: frame {frames}",
                        path.display()
                    );
                }
            }
            true
        });
    }
    eprintln!("{fast} of {frames} corpus frames routed from their headers");
    assert!(frames > 0 && fast * 2 > frames, "{fast} of {frames}");
}

/// On every capture of the corpus, frame by frame with the reassembly
/// state carried along, `Decoder::decode` (which reads plain frames
/// straight from their headers) gives the same views and counters as the
/// full decoder alone.
#[test]
fn the_plain_path_decodes_the_corpus_as_the_full_decoder_does() {
    use baikal_classifier::decode::{Decoder, LinkType};
    let Some(root) = corpus_dir::corpus_root() else {
        return;
    };
    let dir = root.join("ndpi/pcap");
    assert!(dir.is_dir(), "{}: missing", dir.display());
    let mut frames = 0u64;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let input = baikal_capture::Input::File(path.clone());
        let (mut quick, mut full) = (Decoder::new(), Decoder::new());
        let _ = baikal_capture::read(&input, &mut |raw| {
            frames += 1;
            let lt = LinkType(raw.linktype);
            let owned = |v: Option<baikal_classifier::decode::PacketView<'_>>| {
                v.map(|v| (v.ts_ns, v.wire_len, v.tuple, v.tcp, v.payload.to_vec()))
            };
            let got = owned(quick.decode(lt, raw.ts_ns, raw.wire_len, raw.data));
            let want = owned(full.decode_in_full(lt, raw.ts_ns, raw.wire_len, raw.data));
            assert_eq!(got, want, "{}: frame {frames}", path.display());
            true
        });
        assert_eq!(quick.stats(), full.stats(), "{}", path.display());
        assert_eq!(quick.frag_pending(), full.frag_pending(), "{}", path.display());
    }
    assert!(frames > 100_000, "{frames} frames");
}
