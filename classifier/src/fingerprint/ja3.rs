//! JA3 and JA3S (Salesforce): MD5 of the decimal ClientHello /
//! ServerHello fields, GREASE removed.
//!
//! JA3 string: `version,ciphers,extensions,groups,point_formats`, each
//! list `-`-joined. JA3S string: `version,cipher,extensions`.

use md5::{Digest, Md5};

use super::client_hello::{is_grease, ClientHello};

use super::fmt::{hex, push_dec, push_dec_list};

fn nog(v: &[u16]) -> impl Iterator<Item = u16> + '_ {
    v.iter().copied().filter(|x| !is_grease(*x))
}

fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

/// The JA3 string (before hashing).
pub fn ja3_string(ch: &ClientHello) -> String {
    let mut s = String::with_capacity(
        8 + 6 * (ch.cipher_suites.len() + ch.extensions.len() + ch.supported_groups.len())
            + 4 * ch.ec_point_formats.len(),
    );
    push_dec(&mut s, ch.legacy_version);
    s.push(',');
    push_dec_list(&mut s, nog(&ch.cipher_suites), '-');
    s.push(',');
    push_dec_list(&mut s, nog(&ch.extensions), '-');
    s.push(',');
    push_dec_list(&mut s, nog(&ch.supported_groups), '-');
    s.push(',');
    push_dec_list(&mut s, ch.ec_point_formats.iter().map(|&x| u16::from(x)), '-');
    s
}

/// JA3: MD5 hex of [`ja3_string`].
pub fn ja3(ch: &ClientHello) -> String {
    md5_hex(&ja3_string(ch))
}

/// The JA3S string: server legacy version, chosen cipher, extensions.
pub fn ja3s_string(version: u16, cipher: u16, extensions: &[u16]) -> String {
    let mut s = String::with_capacity(12 + 6 * extensions.len());
    push_dec(&mut s, version);
    s.push(',');
    push_dec(&mut s, cipher);
    s.push(',');
    push_dec_list(&mut s, extensions.iter().copied().filter(|x| !is_grease(*x)), '-');
    s
}

/// JA3S: MD5 hex of [`ja3s_string`].
pub fn ja3s(version: u16, cipher: u16, extensions: &[u16]) -> String {
    md5_hex(&ja3s_string(version, cipher, extensions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ja3_string_drops_grease_and_hashes() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![0x0a0a, 0x1301, 0xc02b],
            extensions: vec![0x2a2a, 0x0000, 0x000a, 0x000b],
            supported_groups: vec![0x3a3a, 0x001d, 0x0017],
            ec_point_formats: vec![0],
            ..ClientHello::default()
        };
        assert_eq!(ja3_string(&ch), "771,4865-49195,0-10-11,29-23,0");
        // md5 of that string, computed independently (Python hashlib).
        assert_eq!(ja3(&ch), "3e916670429427a5a33c947802616cdc");
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        let empty = ClientHello::default();
        assert_eq!(ja3_string(&empty), "0,,,,");
    }

    #[test]
    fn ja3s_string() {
        assert_eq!(
            super::ja3s_string(771, 0xc02f, &[0xff01, 0x000b, 0x0023]),
            "771,49199,65281-11-35"
        );
        assert_eq!(ja3s(771, 0xc02f, &[]).len(), 32);
    }
}
