//! Allocation-free number formatting for the fingerprint strings.
//!
//! JA3/JA4 strings are built each time a ClientHello is parsed; going
//! through `core::fmt` for every list element was the largest CPU item of
//! the TLS dissector. These helpers write the same text as `{}` / `{:02x}` /
//! `{:04x}` straight into a `String` (tests compare them with `format!`).

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `v` in decimal (as `{}`).
pub fn push_dec(s: &mut String, v: u16) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut n = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &c in &buf[i..] {
        s.push(char::from(c));
    }
}

/// Appends `b` as two lowercase hex digits (as `{:02x}`).
pub fn push_hex2(s: &mut String, b: u8) {
    s.push(char::from(HEX[usize::from(b >> 4)]));
    s.push(char::from(HEX[usize::from(b & 0x0f)]));
}

/// Appends `v` as four lowercase hex digits (as `{:04x}`).
pub fn push_hex4(s: &mut String, v: u16) {
    let [hi, lo] = v.to_be_bytes();
    push_hex2(s, hi);
    push_hex2(s, lo);
}

/// Appends the decimal values of `v` separated by `sep`.
pub fn push_dec_list(s: &mut String, v: impl Iterator<Item = u16>, sep: char) {
    for (i, x) in v.enumerate() {
        if i > 0 {
            s.push(sep);
        }
        push_dec(s, x);
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        push_hex2(&mut s, b);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_as_core_fmt() {
        let mut vals: Vec<u16> = (0..=1100).collect();
        vals.extend([9999, 10000, 10001, 0x1301, 0xc02b, 0xfefd, 0xffff, 65534]);
        for v in vals {
            let mut s = String::new();
            push_dec(&mut s, v);
            assert_eq!(s, format!("{v}"));
            let mut s = String::from("x");
            push_hex4(&mut s, v);
            assert_eq!(s, format!("x{v:04x}"));
        }
        for b in 0..=255u8 {
            let mut s = String::new();
            push_hex2(&mut s, b);
            assert_eq!(s, format!("{b:02x}"));
        }
        let mut s = String::new();
        push_dec_list(&mut s, [771u16, 0, 65535].into_iter(), '-');
        assert_eq!(s, "771-0-65535");
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(hex(&[]), "");
    }
}
