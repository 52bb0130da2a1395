//! JA4 (FoxIO, BSD-3): the TLS client fingerprint, from the facts of the
//! JA4 technical details.
//!
//! `{t|q}{version}{d|i}{ciphers:02}{extensions:02}{alpn}_{b}_{c}`:
//! - version: highest non-GREASE supported_versions value, else the
//!   legacy version; "13", "12", "11", "10", "s3", "s2", "d1", "d2",
//!   "d3", unknown "00".
//! - `d` when the SNI extension is present, else `i`.
//! - counts ignore GREASE, are capped at 99, and include SNI and ALPN.
//! - alpn: first and last character of the first ALPN value; "00" when
//!   absent or empty; when either end byte is not ASCII alphanumeric,
//!   the first and last character of its hex form.
//! - b: sha256 (first 12 hex) of the sorted 4-hex cipher list.
//! - c: sha256 (first 12 hex) of the sorted extension list without SNI
//!   and ALPN, then `_` and the signature algorithms in order (the `_`
//!   only when there are any). b or c is `000000000000` when its list
//!   is empty.
//!
//! JA4_r is the same with the lists written out instead of hashed.

use sha2::{Digest, Sha256};

use super::client_hello::{ext, is_grease, ClientHello};
use super::fmt::{push_hex2, push_hex4};

const EMPTY: &str = "000000000000";

fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The two characters of the ALPN part.
fn alpn_code(first: Option<&[u8]>) -> [char; 2] {
    let Some(v) = first else { return ['0', '0'] };
    let (Some(&a), Some(&z)) = (v.first(), v.last()) else {
        return ['0', '0'];
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [char::from(a), char::from(z)];
    }
    // First hex digit of the first byte, last hex digit of the last byte.
    let hex = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    [hex(a >> 4), hex(z & 0x0f)]
}

// Written straight into one String: no `core::fmt`, no allocation per
// element.
fn push_hex_list(s: &mut String, v: &[u16]) {
    for (i, &x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_hex4(s, x);
    }
}

/// Appends the first 12 hex digits of the SHA-256 of `s`.
fn push_hash12(out: &mut String, s: &str) {
    for &b in Sha256::digest(s.as_bytes()).iter().take(6) {
        push_hex2(out, b);
    }
}

/// Returns (JA4, JA4_r) for `ch`; `transport` is `'t'` (TCP), `'q'`
/// (QUIC) or `'d'` (DTLS).
pub fn ja4(ch: &ClientHello, transport: char) -> (String, String) {
    // The three lists in one buffer (one allocation, not three): the
    // non-GREASE ciphers, part c's extensions (non-GREASE, without SNI
    // and ALPN; GREASE values are never either), the signature
    // algorithms.
    let not_grease = |x: &u16| !is_grease(*x);
    let mut lists = Vec::with_capacity(ch.cipher_suites.len() + ch.extensions.len() + ch.signature_algorithms.len());
    lists.extend(ch.cipher_suites.iter().copied().filter(not_grease));
    let n_ciphers = lists.len();
    let mut n_exts = 0;
    let mut sni = 'i';
    for e in ch.extensions.iter().copied().filter(not_grease) {
        n_exts += 1;
        if e == ext::SERVER_NAME {
            sni = 'd';
        } else if e != ext::ALPN {
            lists.push(e);
        }
    }
    let c_end = lists.len();
    lists.extend(ch.signature_algorithms.iter().copied().filter(not_grease));
    let (ciphers, rest) = lists.split_at_mut(n_ciphers);
    let (c_exts, sigs) = rest.split_at_mut(c_end - n_ciphers);
    ciphers.sort_unstable();
    c_exts.sort_unstable();

    // Part a starts the raw string, and the hashed one copies it.
    let mut r = String::with_capacity(13 + (ciphers.len() + c_exts.len() + sigs.len()) * 5);
    r.push(transport);
    r.push_str(version_code(ch.max_version()));
    r.push(sni);
    for n in [ciphers.len(), n_exts] {
        // Two digits, capped at 99 (as `{:02}`).
        let n = n.min(99) as u8;
        r.push(char::from(b'0' + n / 10));
        r.push(char::from(b'0' + n % 10));
    }
    r.extend(alpn_code(ch.alpn_first_raw.as_deref()));
    let a_end = r.len();
    r.push('_');
    let b_at = r.len();
    push_hex_list(&mut r, ciphers);
    let b_end = r.len();
    r.push('_');
    let c_at = r.len();
    push_hex_list(&mut r, c_exts);
    if !sigs.is_empty() {
        r.push('_');
        push_hex_list(&mut r, sigs);
    }
    let mut j = String::with_capacity(a_end + 26);
    j.push_str(&r[..a_end]);
    j.push('_');
    match r.get(b_at..b_end) {
        Some(b_raw) if !ciphers.is_empty() => push_hash12(&mut j, b_raw),
        _ => j.push_str(EMPTY),
    }
    j.push('_');
    match r.get(c_at..) {
        Some(c_raw) if !c_exts.is_empty() => push_hash12(&mut j, c_raw),
        _ => j.push_str(EMPTY),
    }
    (j, r)
}

#[cfg(test)]
mod tests {
    use super::super::client_hello::{fixture::*, parse_handshake};
    use super::*;

    fn hash12(s: &str) -> String {
        let mut out = String::new();
        push_hash12(&mut out, s);
        out
    }

    fn code(first: Option<&[u8]>) -> String {
        alpn_code(first).iter().collect()
    }

    #[test]
    fn spec_example_hashes() {
        // The JA4 technical details' worked example.
        assert_eq!(
            hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        assert_eq!(
            hash12(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
                 0403,0804,0401,0503,0805,0501,0806,0601"
            ),
            "e5627efa2ab1"
        );
        assert_eq!(
            hash12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
            "6d807ffa2a79"
        );
    }

    #[test]
    fn spec_example_fingerprint() {
        let ch = parse_handshake(&chrome("www.example.com")).unwrap();
        let (j, r) = ja4(&ch, 't');
        assert_eq!(j, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(
            r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_\
             0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
             0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert!(ja4(&ch, 'q').0.starts_with("q13d1516h2_"));
    }

    #[test]
    fn alpn_edge_cases() {
        assert_eq!(code(None), "00");
        assert_eq!(code(Some(b"")), "00");
        assert_eq!(code(Some(b"h2")), "h2");
        assert_eq!(code(Some(b"http/1.1")), "h1");
        assert_eq!(code(Some(b"h")), "hh");
        // The spec's hex examples.
        assert_eq!(code(Some(&[0xab])), "ab");
        assert_eq!(code(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(code(Some(&[0x30, 0xab])), "3b");
        assert_eq!(code(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
        assert_eq!(code(Some(&[0x30, 0xab, 0xcd, 0x31])), "01");
    }

    #[test]
    fn versions_and_empty_lists() {
        let mut ch = ClientHello {
            legacy_version: 0x0301,
            ..ClientHello::default()
        };
        let (j, r) = ja4(&ch, 't');
        assert_eq!(j, "t10i000000_000000000000_000000000000");
        assert_eq!(r, "t10i000000__");
        ch.supported_versions = vec![0xdada, 0x0302];
        assert!(ja4(&ch, 't').0.starts_with("t11"));
        ch.supported_versions = vec![0x0a0a];
        assert!(ja4(&ch, 't').0.starts_with("t10"));
        ch.legacy_version = 0x0305;
        assert!(ja4(&ch, 't').0.starts_with("t00"));
        ch.legacy_version = 0x0300;
        assert!(ja4(&ch, 't').0.starts_with("ts3"));
    }

    #[test]
    fn sni_only_and_no_sigalgs() {
        // As an old client: many ciphers, one extension (SNI), no
        // signature algorithms: c is empty and the raw form ends in "_".
        let ch = ClientHello {
            legacy_version: 0x0301,
            cipher_suites: vec![0x0039, 0x0038, 0x0035],
            extensions: vec![0x0000],
            sni: Some("x".into()),
            ..ClientHello::default()
        };
        let (j, r) = ja4(&ch, 't');
        assert!(j.starts_with("t10d030100_"), "{j}");
        assert!(j.ends_with("_000000000000"), "{j}");
        assert_eq!(r, "t10d030100_0035,0038,0039_");
        // Extensions but no signature algorithms: no trailing "_".
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![0x1301],
            extensions: vec![0x000b, 0x000a],
            ..ClientHello::default()
        };
        let (j, r) = ja4(&ch, 't');
        assert_eq!(r, "t12i010200_1301_000a,000b");
        assert!(j.ends_with(&hash12("000a,000b")));
    }

    #[test]
    fn counts_cap_at_99() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: (1..=150).collect(),
            extensions: (100..300).collect(),
            ..ClientHello::default()
        };
        assert!(ja4(&ch, 't').0.starts_with("t12i9999"));
    }
}
