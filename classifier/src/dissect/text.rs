//! Small helpers shared by the line-based text dissectors (HTTP, SMTP,
//! IMAP, POP3, SSH banners). Bytes in, bytes out: nothing here assumes
//! UTF-8 or allocates by a length read from the wire.

/// Complete lines of `data` (ending in `\n`, the `\r\n` or `\n` stripped),
/// at most `max` of them. A trailing partial line is not returned.
pub fn lines(data: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
    .take(max)
}

/// Like [`lines`], but also returns the offset just past each line.
pub fn lines_with_end(data: &[u8], max: usize) -> impl Iterator<Item = (&[u8], usize)> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let rest = data.get(off..)?;
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let line = &rest[..nl];
        off += nl + 1;
        Some((line.strip_suffix(b"\r").unwrap_or(line), off))
    })
    .take(max)
}

/// ASCII case-insensitive prefix test.
pub fn starts_with_ci(data: &[u8], prefix: &[u8]) -> bool {
    data.len() >= prefix.len() && data[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// True when `data` could still grow into something starting with
/// `prefix` (it is a prefix of it, or starts with it), case-insensitive.
pub fn could_start_with_ci(data: &[u8], prefix: &[u8]) -> bool {
    let n = data.len().min(prefix.len());
    data[..n].eq_ignore_ascii_case(&prefix[..n])
}

/// Printable ASCII (and tab) only.
pub fn is_printable(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Lossy string of at most `max` bytes, for reporting.
pub fn to_string(s: &[u8], max: usize) -> String {
    let s = &s[..s.len().min(max)];
    // Valid UTF-8 (nearly always: headers, banners, agents) is checked
    // words at a time; the lossy decoder walks it in chunks (260
    // instructions a call in callgrind, for 5 k calls a 100 k packets).
    match std::str::from_utf8(s) {
        Ok(v) => v.trim().to_owned(),
        Err(_) => String::from_utf8_lossy(s).trim().to_owned(),
    }
}

/// A bounded window of the first `n` bytes.
pub fn head(data: &[u8], n: usize) -> &[u8] {
    &data[..data.len().min(n)]
}

/// After a STARTTLS-style command ending at `at`, does the client's
/// stream continue with a TLS handshake record?
pub fn tls_follows(orig: &[u8], at: usize) -> bool {
    orig.get(at..at + 2).is_some_and(|b| b[0] == 0x16 && b[1] == 0x03)
}

/// The first word of a line (up to a space), and the rest.
pub fn word(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

/// A reply line of the SMTP/FTP family (RFC 5321 4.2, RFC 959 4.2): three
/// digits, then a space or the end (the final line of a reply) or a dash
/// (a line of a multi-line reply). The code, and whether the line is final.
pub fn reply_line(line: &[u8]) -> Option<(u16, bool)> {
    let code = line.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let last = match line.get(3) {
        None | Some(b' ') => true,
        Some(b'-') => false,
        _ => return None,
    };
    Some((code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0')), last))
}

/// Whether the first word of `line` is one of `commands` (any case).
pub fn is_command(line: &[u8], commands: &[&[u8]]) -> bool {
    let (w, _) = word(line);
    commands.iter().any(|c| w.eq_ignore_ascii_case(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_stop_at_partial() {
        let v: Vec<&[u8]> = lines(b"a\r\nbc\nd", 10).collect();
        assert_eq!(v, [&b"a"[..], &b"bc"[..]]);
        let e: Vec<usize> = lines_with_end(b"a\r\nbc\nd", 10).map(|x| x.1).collect();
        assert_eq!(e, [3, 6]);
        assert!(could_start_with_ci(b"eh", b"EHLO"));
        assert!(could_start_with_ci(b"EHLO x", b"ehlo"));
        assert!(!could_start_with_ci(b"EX", b"EHLO"));
        assert!(starts_with_ci(b"Host: x", b"host:"));
        assert!(!starts_with_ci(b"Ho", b"host:"));
    }

    #[test]
    fn to_string_trims_bounds_and_replaces_invalid_bytes() {
        assert_eq!(to_string(b"  curl/8.0 \r", 64), "curl/8.0");
        assert_eq!(to_string(b"abcdef", 3), "abc");
        assert_eq!(to_string(b"a\xffb", 8), "a\u{fffd}b");
        // A cut inside a two-byte character: replaced, as before.
        assert_eq!(to_string("xé".as_bytes(), 2), "x\u{fffd}");
        assert_eq!(to_string(b"", 8), "");
    }
}
