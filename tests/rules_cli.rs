//! `--rules DIR`: a rule directory changes verdicts, and a malformed file
//! stops `baikal classify` with exit status 2, naming file and line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn baikal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baikal"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("baikal-rules-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One Ethernet/IPv4/UDP frame, 192.0.2.1:40000 → 203.0.113.9:5555.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 203, 0, 113, 9];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let c = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend(ip);
    f.extend(40000u16.to_be_bytes());
    f.extend(5555u16.to_be_bytes());
    f.extend(((8 + payload.len()) as u16).to_be_bytes());
    f.extend([0, 0]);
    f.extend_from_slice(payload);
    f
}

fn write_pcap(path: &Path) {
    let mut p = Vec::new();
    p.extend(0xa1b2_c3d4u32.to_le_bytes());
    p.extend(2u16.to_le_bytes());
    p.extend(4u16.to_le_bytes());
    p.extend([0u8; 8]);
    p.extend(65535u32.to_le_bytes());
    p.extend(1u32.to_le_bytes());
    let frame = udp_frame(b"hello, this is a plain test payload");
    p.extend(1_700_000_000u32.to_le_bytes());
    p.extend(0u32.to_le_bytes());
    p.extend((frame.len() as u32).to_le_bytes());
    p.extend((frame.len() as u32).to_le_bytes());
    p.extend(frame);
    std::fs::write(path, p).unwrap();
}

fn apps(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{}|{}", v["app"], v["evidence"])
        })
        .collect()
}

#[test]
fn rules_dir_changes_the_verdict() {
    let dir = tmpdir("good");
    let pcap = dir.join("one.pcap");
    write_pcap(&pcap);
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("madeup.toml"),
        r#"[[app]]
name = "madeup"
category = "test"

[[app.entry]]
source = "rules_cli test"
date = "2026-01-01"
prefixes = ["203.0.113.0/24"]
"#,
    )
    .unwrap();

    let base = baikal()
        .args(["classify", "-q", "-F", "jsonl"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(base.status.success(), "{}", String::from_utf8_lossy(&base.stderr));
    // The plain-text payload is cleartext by the statistics (heuristic).
    assert_eq!(apps(&base.stdout), ["null|[\"heuristic\"]"]);

    let with = baikal()
        .args(["classify", "-q", "-F", "jsonl", "--rules"])
        .arg(&rules)
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(with.status.success(), "{}", String::from_utf8_lossy(&with.stderr));
    assert_eq!(apps(&with.stdout), ["\"madeup\"|[\"ip\",\"heuristic\"]"]);

    let list = baikal().args(["rules", "--rules"]).arg(&rules).output().unwrap();
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("madeup"), "{text}");
    assert!(text.contains("rules_cli test"), "{text}");
    assert!(!text.contains("telegram"), "defaults must be replaced: {text}");

    let builtin = baikal().arg("rules").output().unwrap();
    let text = String::from_utf8_lossy(&builtin.stdout);
    assert!(
        text.contains("telegram") && text.contains("core.telegram.org/resources/cidr.txt"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_rules_exit_2_with_file_and_line() {
    let dir = tmpdir("bad");
    let pcap = dir.join("one.pcap");
    write_pcap(&pcap);
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("broken.toml"),
        "[[app]]\nname = \"x\"\ncategory = \"test\"\n\n[[app.entry]]\nsource = \"s\"\ndate = \"2026-01-01\"\nprefixes = [\"203.0.113.0/24\",\n",
    )
    .unwrap();
    let out = baikal()
        .args(["classify", "-q", "-F", "jsonl", "--rules"])
        .arg(&rules)
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no output before the error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml:"), "{err}");
    let line: usize = err
        .split("broken.toml:")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line in {err}"));
    assert!((8..=9).contains(&line), "line {line}: {err}");

    // A bad value names its own line.
    std::fs::write(
        rules.join("broken.toml"),
        "[[app]]\nname = \"x\"\ncategory = \"test\"\n[[app.entry]]\nsource = \"s\"\ndate = \"2026-01-01\"\nports = [\"tcp:1\",\n  \"udp:99999\"]\n",
    )
    .unwrap();
    let out = baikal().args(["rules", "--rules"]).arg(&rules).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml:8: 'udp:99999'"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
