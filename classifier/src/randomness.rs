//! The "fully encrypted" test: does a first payload look random?
//!
//! Rules from Wu et al., "How the Great Firewall of China Detects and
//! Blocks Fully Encrypted Traffic" (USENIX Security 2023). A payload is
//! *exempt* (not treated as fully encrypted) if any of these holds:
//!
//! - Ex1: average set bits per byte ≤ 3.4 or ≥ 4.6;
//! - Ex2: the first six bytes are printable ASCII;
//! - Ex3: more than half of the bytes are printable ASCII;
//! - Ex4: a run of more than 20 contiguous printable bytes;
//! - Ex5: it matches a TLS or HTTP start.
//!
//! Everything else is deemed fully encrypted.

/// Which exemption, if any, applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exemption {
    Ex1PopCount,
    Ex2PrintablePrefix,
    Ex3HalfPrintable,
    Ex4PrintableRun,
    Ex5Protocol,
}

fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Returns the first exemption that applies, or `None` when the payload
/// looks fully encrypted. An empty payload is exempt (Ex1: no bits).
pub fn exemption(p: &[u8]) -> Option<Exemption> {
    if p.is_empty() {
        return Some(Exemption::Ex1PopCount);
    }
    let bits: u64 = p.iter().map(|b| u64::from(b.count_ones())).sum();
    let avg = bits as f64 / p.len() as f64;
    if avg <= 3.4 || avg >= 4.6 {
        return Some(Exemption::Ex1PopCount);
    }
    if p.len() >= 6 && p[..6].iter().all(|&b| printable(b)) {
        return Some(Exemption::Ex2PrintablePrefix);
    }
    let n_print = p.iter().filter(|&&b| printable(b)).count();
    if n_print * 2 > p.len() {
        return Some(Exemption::Ex3HalfPrintable);
    }
    let mut run = 0usize;
    for &b in p {
        run = if printable(b) { run + 1 } else { 0 };
        if run > 20 {
            return Some(Exemption::Ex4PrintableRun);
        }
    }
    if matches_tls_or_http(p) {
        return Some(Exemption::Ex5Protocol);
    }
    None
}

/// True when the payload looks fully encrypted by the rules above.
pub fn looks_fully_encrypted(p: &[u8]) -> bool {
    exemption(p).is_none()
}

fn matches_tls_or_http(p: &[u8]) -> bool {
    // TLS record: content type 20..=23, version 3.x.
    if p.len() >= 3 && (0x14..=0x17).contains(&p[0]) && p[1] == 0x03 && p[2] <= 0x04 {
        return true;
    }
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"PATCH ",
        b"HTTP/",
    ];
    METHODS.iter().any(|m| p.starts_with(m))
}

/// Shannon entropy in bits per byte.
pub fn entropy(p: &[u8]) -> f32 {
    if p.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in p {
        counts[usize::from(b)] += 1;
    }
    let n = p.len() as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let q = f64::from(c) / n;
            -q * q.log2()
        })
        .sum();
    h as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    // A deterministic pseudo-random payload: bytes of an LCG.
    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn random_bytes_are_fully_encrypted() {
        let p = noise(600, 7);
        assert_eq!(exemption(&p), None);
        assert!(entropy(&p) > 7.0);
    }

    #[test]
    fn each_exemption_fires() {
        assert_eq!(exemption(&[0u8; 100]), Some(Exemption::Ex1PopCount));
        assert_eq!(exemption(&[0xffu8; 100]), Some(Exemption::Ex1PopCount));
        let mut p = noise(200, 3);
        p[..6].copy_from_slice(b"abcdef");
        // noise keeps popcount near 4, so Ex1 does not fire first
        assert_eq!(exemption(&p), Some(Exemption::Ex2PrintablePrefix));
        let mut p = noise(200, 5);
        p[0] = 0x80;
        p[50..72].copy_from_slice(b"The quick brown fox ju");
        assert_eq!(exemption(&p), Some(Exemption::Ex4PrintableRun));
        let mut p = noise(200, 9);
        p[0] = 0x16;
        p[1] = 0x03;
        p[2] = 0x01;
        assert_eq!(exemption(&p), Some(Exemption::Ex5Protocol));
    }

    #[test]
    fn half_printable_is_exempt() {
        // 0x33 '3' and 0xaa both have 4 set bits; 0xaa is not printable.
        // Three printable of every four, in runs of three.
        let p: Vec<u8> = (0..200).map(|i| if i % 4 == 0 { 0xaa } else { b'3' }).collect();
        assert_eq!(exemption(&p), Some(Exemption::Ex3HalfPrintable));
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(entropy(&[]), 0.0);
        assert_eq!(entropy(&[1, 1, 1]), 0.0);
        assert!((entropy(&[0, 1]) - 1.0).abs() < 1e-6);
    }
}
