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

/// How often each byte value occurs in `p`.
///
/// One table serialises on store-to-load forwarding when a byte value
/// repeats (zero bytes in a ClientHello, letters in text); more tables,
/// summed at the end, let consecutive increments overlap, at the cost of
/// clearing and summing them. Two from 256 bytes (the bench capture's
/// first payloads of 256-1023 bytes: 300-360 ns against 375-410 ns with
/// one, in a scratch comparison), four from 1024 (a TCP stream prefix is
/// up to 16 KiB). The counts are the same either way.
fn byte_counts(p: &[u8]) -> [u32; 256] {
    let mut counts = [0u32; 256];
    if p.len() < 256 {
        for &b in p {
            counts[usize::from(b)] += 1;
        }
        return counts;
    }
    if p.len() < 1024 {
        let mut odd = [0u32; 256];
        let mut pairs = p.chunks_exact(2);
        for pair in &mut pairs {
            if let [a, b] = *pair {
                counts[usize::from(a)] += 1;
                odd[usize::from(b)] += 1;
            }
        }
        for &b in pairs.remainder() {
            counts[usize::from(b)] += 1;
        }
        for (c, o) in counts.iter_mut().zip(odd) {
            *c += o;
        }
        return counts;
    }
    let mut t = [[0u32; 256]; 3];
    let mut quads = p.chunks_exact(4);
    for q in &mut quads {
        if let [a, b, c, d] = *q {
            counts[usize::from(a)] += 1;
            t[0][usize::from(b)] += 1;
            t[1][usize::from(c)] += 1;
            t[2][usize::from(d)] += 1;
        }
    }
    for &b in quads.remainder() {
        counts[usize::from(b)] += 1;
    }
    for (i, c) in counts.iter_mut().enumerate() {
        *c += t[0][i] + t[1][i] + t[2][i];
    }
    counts
}

/// Counts below this have `c·log2(c)` in [`XLOG2X`].
const XLOG2X_TABLE: usize = 2048;

/// `c·log2(c)` for every count below [`XLOG2X_TABLE`] (0 for 0).
static XLOG2X: std::sync::LazyLock<Box<[f64]>> =
    std::sync::LazyLock::new(|| (0..XLOG2X_TABLE).map(|c| xlog2x_exact(c as u32)).collect());

fn xlog2x_exact(c: u32) -> f64 {
    let c = f64::from(c);
    if c > 0.0 {
        c * c.log2()
    } else {
        0.0
    }
}

/// Shannon entropy in bits per byte.
///
/// Computed as `(n·log2 n − Σ c·log2 c) / n` over the byte counts `c`,
/// which is `−Σ (c/n)·log2(c/n)` rearranged: every `c·log2 c` comes from
/// a table, with no logarithm or division per byte value. Payloads up to
/// [`SHORT`] bytes (most first payloads: 71% of the bench capture's)
/// take [`short_sum`], which adds as it counts; longer ones count first,
/// then sum over all 256 values ([`long_sums`]).
/// The forms agree to a few units in the last place of an `f64`; a test
/// holds them to the plain sum within one `f32` step, and records round to
/// 0.001. A payload of one byte value gets exactly 0 (the per-value form
/// gave −0).
pub fn entropy(p: &[u8]) -> f32 {
    if p.is_empty() {
        return 0.0;
    }
    let sum = if p.len() <= SHORT {
        match short_sum(p) {
            Some(sum) => sum,
            // One byte value.
            None => return 0.0,
        }
    } else {
        let mut sums = [0f64; 4];
        long_sums(p, &mut sums);
        (sums[0] + sums[1]) + (sums[2] + sums[3])
    };
    // A single byte value on the long path: `sum` is exactly `n·log2 n`
    // (the same product), so the entropy is exactly 0.
    let n = p.len() as u32;
    let h = (xlog2x_exact(n) - sum) / f64::from(n);
    h.max(0.0) as f32
}

/// The running sums of `c·log2 c` over the byte counts `c` of `p`: the
/// count of value `v` goes to `sums[v % 4]`, values in ascending order.
fn long_sums(p: &[u8], sums: &mut [f64; 4]) {
    let counts = byte_counts(p);
    let table: &[f64] = &XLOG2X;
    // Two loops on purpose: with the logarithm's fallback out of the
    // common loop the compiler keeps it branch-free; one merged loop timed
    // no faster than the old per-value sum.
    if p.len() < table.len() {
        // No count exceeds the length: every term is in the table.
        for quad in counts.chunks_exact(4) {
            for (s, &c) in sums.iter_mut().zip(quad) {
                *s += table.get(c as usize).copied().unwrap_or_default();
            }
        }
    } else {
        for quad in counts.chunks_exact(4) {
            for (s, &c) in sums.iter_mut().zip(quad) {
                *s += match table.get(c as usize) {
                    Some(&t) => t,
                    None => xlog2x_exact(c),
                };
            }
        }
    }
}

/// Payloads up to this long take [`short_sum`]: every count fits a
/// `u8`, and adding as it counts beats sweeping all 256 values
/// (2-3× at 60-200 bytes in a scratch comparison; past a few hundred
/// bytes the sweep wins, and runs of one value are its slow case).
const SHORT: usize = 255;
const _: () = assert!(SHORT <= u8::MAX as usize);

/// `(c+1)·log2(c+1) − c·log2 c` for every count `c` a short payload can
/// reach before its last byte.
static XLOG2X_STEP: std::sync::LazyLock<[f64; SHORT]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|c| xlog2x_exact(c as u32 + 1) - xlog2x_exact(c as u32)));

/// `Σ c·log2 c` over the byte counts of `p` (at most [`SHORT`] bytes),
/// added up as the counts grow: a byte that takes its value's count from
/// `c` to `c+1` adds the difference of the two terms. The bytes go to four
/// sums by position, so consecutive additions overlap. `None` when `p`
/// holds a single byte value (the entropy is then exactly 0; the sum of
/// the steps would be off by rounding).
fn short_sum(p: &[u8]) -> Option<f64> {
    debug_assert!(p.len() <= SHORT);
    let step: &[f64; SHORT] = &XLOG2X_STEP;
    let mut counts = [0u8; 256];
    let mut add = |b: u8| {
        let c = &mut counts[usize::from(b)];
        let t = step.get(usize::from(*c)).copied().unwrap_or_default();
        *c = c.wrapping_add(1);
        t
    };
    let mut sums = [0f64; 4];
    let mut quads = p.chunks_exact(4);
    for q in &mut quads {
        if let [a, b, c, d] = *q {
            sums[0] += add(a);
            sums[1] += add(b);
            sums[2] += add(c);
            sums[3] += add(d);
        }
    }
    for &b in quads.remainder() {
        sums[0] += add(b);
    }
    let one_value = p
        .first()
        .is_some_and(|&b| usize::from(counts[usize::from(b)]) == p.len());
    (!one_value).then(|| (sums[0] + sums[1]) + (sums[2] + sums[3]))
}

/// Bytes skipped at the start of every piece by [`Coincidences`]: room
/// for the cleartext header an encrypted protocol puts in front of its
/// ciphertext (ESP: SPI + sequence, 8; WireGuard data: type, receiver,
/// counter, 16; a DTLS record header, 13; a QUIC short header with a
/// short connection id).
pub const HEADER_SKIP: usize = 16;

/// Bytes per piece looked at, after the header.
const PIECE_CAP: usize = 1024;

/// Probability that two uniformly random bytes are equal.
const P_EQ: f64 = 1.0 / 256.0;

/// Byte coincidences (pairs of equal bytes within one piece) over the
/// bodies of a flow's first payload pieces, against what uniformly
/// random bytes of the same lengths would give.
///
/// For `n` uniformly random bytes the number of equal pairs `X` has mean
/// `C(n,2)/256` and, since the pair indicators are pairwise independent,
/// variance `C(n,2)·(1/256)·(255/256)`. Text and structured binary
/// (zero bytes, small integers, repeated tags) have many times more
/// coincidences; ciphertext, and compressed data, has the random count.
/// Pairs are counted within a piece only, and the first
/// [`HEADER_SKIP`] bytes of every piece are left out: an encrypted
/// protocol's per-packet header (a constant SPI, a counter with leading
/// zeros) would otherwise repeat across or inside pieces and look like
/// structure.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Coincidences {
    /// Equal byte pairs seen.
    pub observed: f64,
    /// Equal byte pairs expected of random bytes of the same lengths.
    pub expected: f64,
    /// Bytes looked at.
    pub bytes: usize,
    /// Bytes of the whole pieces (headers included).
    pub total: usize,
    /// Printable ASCII (and tab, CR, LF) bytes of the whole pieces.
    pub printable: usize,
}

/// Printable ASCII, tab, CR or LF.
fn texty(b: u8) -> bool {
    printable(b) || matches!(b, b'\t' | b'\r' | b'\n')
}

impl Coincidences {
    /// Adds one piece (a TCP segment or a UDP datagram).
    pub fn add_piece(&mut self, piece: &[u8]) {
        self.total += piece.len();
        self.printable += piece.iter().filter(|&&b| texty(b)).count();
        let body = piece.get(HEADER_SKIP..).unwrap_or_default();
        let body = body.get(..PIECE_CAP).unwrap_or(body);
        if body.len() < 2 {
            return;
        }
        let counts = byte_counts(body);
        let pairs: u64 = counts
            .iter()
            .map(|&c| u64::from(c) * u64::from(c.saturating_sub(1)) / 2)
            .sum();
        let n = body.len() as f64;
        self.observed += pairs as f64;
        self.expected += n * (n - 1.0) / 2.0 * P_EQ;
        self.bytes += body.len();
    }

    /// Observed over expected coincidences (1 for random bytes).
    pub fn ratio(&self) -> Option<f64> {
        (self.expected > 0.0).then(|| self.observed / self.expected)
    }

    /// Natural log of an upper bound on the chance that random bytes of
    /// these lengths give at least the observed coincidences. The count
    /// is taken as Poisson with the expected mean (pairs are rare
    /// events); the tail from `k` is bounded by its first term over
    /// `1 - λ/(k+1)`.
    pub fn ln_chance(&self) -> f64 {
        let lambda = self.expected;
        let k = self.observed;
        if lambda <= 0.0 || k <= lambda {
            return 0.0;
        }
        let ln_term = -lambda + k * lambda.ln() - ln_factorial(k);
        (ln_term - (1.0 - lambda / (k + 1.0)).ln()).min(0.0)
    }

    /// The pieces are clearly not ciphertext: mostly printable text, or
    /// bodies with several times the coincidences of random bytes, a
    /// count random bytes would reach with a chance below 10⁻⁹.
    pub fn looks_cleartext(&self) -> bool {
        let text = self.total >= MIN_TEXT && self.printable * 10 >= self.total * 9;
        let structured =
            self.bytes >= MIN_BODY && self.ratio().is_some_and(|r| r >= MIN_RATIO) && self.ln_chance() <= MAX_LN_CHANCE;
        text || structured
    }
}

/// `ln(k!)` by Stirling's series (error below 0.003 from `k = 1`).
fn ln_factorial(k: f64) -> f64 {
    if k < 1.0 {
        return 0.0;
    }
    k * k.ln() - k + 0.5 * (2.0 * std::f64::consts::PI * k).ln() + 1.0 / (12.0 * k)
}

/// Least body bytes to judge coincidences on.
const MIN_BODY: usize = 16;
/// Observed/expected coincidences from which bodies are structured.
const MIN_RATIO: f64 = 3.0;
/// `ln(1e-9)`: chance below which random bytes are ruled out.
const MAX_LN_CHANCE: f64 = -20.723;
/// Least bytes for the text test.
const MIN_TEXT: usize = 24;

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
    fn byte_counts_match_a_plain_count() {
        for n in [
            0usize,
            1,
            3,
            255,
            256,
            257,
            700,
            1023,
            1024,
            1025,
            1027,
            4096,
            16 * 1024 + 3,
        ] {
            let p = noise(n, n as u32 + 1);
            let mut want = [0u32; 256];
            for &b in &p {
                want[usize::from(b)] += 1;
            }
            assert_eq!(byte_counts(&p), want, "{n}");
        }
        let same = vec![7u8; 5000];
        assert_eq!(entropy(&same), 0.0);
        assert_eq!(byte_counts(&same)[7], 5000);
    }

    /// The short path's sum is the long path's to within rounding, at
    /// every length it takes, on random bytes and on few values; a single
    /// value, at every length, is told apart.
    #[test]
    fn short_sum_is_the_long_sum() {
        let long = |p: &[u8]| {
            let mut s = [0f64; 4];
            long_sums(p, &mut s);
            (s[0] + s[1]) + (s[2] + s[3])
        };
        for n in 2..=SHORT {
            let few: Vec<u8> = (0..n).map(|i| [0u8, 7, 7, 200, 255][i % 5]).collect();
            let cases = [noise(n, n as u32 * 31 + 1), noise(n, n as u32 + 77), few];
            for mut p in cases {
                // Not a single value.
                p[0] = p[1] ^ 1;
                let (short, long) = (short_sum(&p), long(&p));
                let short = short.unwrap_or_else(|| panic!("{n}: one value? {p:?}"));
                // The terms are at most n·log2 n: a few units in the last
                // place of that.
                assert!(
                    (short - long).abs() <= 1e-12 * long.max(1.0),
                    "{n}: {short} against {long}"
                );
            }
            assert_eq!(short_sum(&vec![0x41; n]), None, "{n}");
        }
        assert_eq!(short_sum(&[7]), None);
        assert_eq!(entropy(&[9; SHORT]), 0.0);
        assert_eq!(entropy(&[9; SHORT + 1]), 0.0);
    }

    /// The entropy as the plain per-value sum.
    fn entropy_plain(p: &[u8]) -> f32 {
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

    /// Within one `f32` step of the plain sum (the two forms differ in the
    /// last places of an `f64`), and exact at the ends of the range.
    #[test]
    fn entropy_matches_the_plain_sum() {
        let close = |a: f32, b: f32| (a - b).abs() <= f32::EPSILON * b.abs().max(1.0);
        for n in [
            1usize,
            2,
            5,
            100,
            128,
            200,
            255,
            256,
            1000,
            1024,
            2047,
            2048,
            3000,
            16 * 1024,
            70_000,
        ] {
            for seed in 0..8 {
                let p = noise(n, seed * 7919 + n as u32);
                let (got, want) = (entropy(&p), entropy_plain(&p));
                assert!(close(got, want), "{n}/{seed}: {got} against {want}");
                // Skewed: few values, large counts (past the table).
                let q: Vec<u8> = p.iter().map(|b| b & 0x03).collect();
                let (got, want) = (entropy(&q), entropy_plain(&q));
                assert!(close(got, want), "{n}/{seed} skewed: {got} against {want}");
                // Very skewed: one value in 64.
                let r: Vec<u8> = p.iter().map(|&b| u8::from(b < 4)).collect();
                let (got, want) = (entropy(&r), entropy_plain(&r));
                assert!(close(got, want), "{n}/{seed} one in 64: {got} against {want}");
            }
        }
        // One byte value, any length: exactly 0. All 256 values equally
        // often: exactly 8.
        for n in [1usize, 2, 7, 2047, 2048, 2049, 100_000] {
            assert_eq!(entropy(&vec![0x5a; n]), 0.0, "{n}");
        }
        let all: Vec<u8> = (0..256 * 9).map(|i| i as u8).collect();
        assert_eq!(entropy(&all), 8.0);
        // The same on the short path: 128 values once each, exactly 7.
        let half: Vec<u8> = (0..128).collect();
        assert_eq!(entropy(&half), 7.0);
    }

    fn coincidences(pieces: &[&[u8]]) -> Coincidences {
        let mut c = Coincidences::default();
        for p in pieces {
            c.add_piece(p);
        }
        c
    }

    #[test]
    fn text_is_cleartext() {
        let t = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n\r\n";
        let c = coincidences(&[t]);
        assert!(c.looks_cleartext());
        assert!(c.ratio().unwrap() > 3.0);
        // Too short to judge.
        assert!(!coincidences(&[b"PING\r\n"]).looks_cleartext());
    }

    #[test]
    fn structured_binary_is_cleartext() {
        // A binary request: small integers, zero padding, a short name.
        let mut p = vec![2u8, 1, 0, 0, 0x40, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 2, b'e', b'n'];
        for i in 0..12u8 {
            p.extend_from_slice(&[0, 0, 0, i, 0, 1]);
        }
        p.extend_from_slice(b"\x07DEFAULT\x00\x00");
        let c = coincidences(&[&p, &p]);
        assert!(c.looks_cleartext(), "{c:?}");
        assert!(c.ln_chance() < -20.0);
    }

    #[test]
    fn random_is_not_cleartext() {
        for seed in 0..200 {
            let a = noise(40 + seed as usize * 7 % 1400, seed);
            let b = noise(100, seed + 1000);
            let c = coincidences(&[&a, &b]);
            assert!(!c.looks_cleartext(), "{seed} {c:?}");
            let r = c.ratio().unwrap();
            assert!((0.3..2.0).contains(&r), "{seed} {r}");
        }
    }

    #[test]
    fn encrypted_with_cleartext_headers_is_not_cleartext() {
        // ESP: SPI and sequence number, then ciphertext.
        let esp: Vec<Vec<u8>> = (1..=12u32)
            .map(|i| {
                let mut p = vec![0xc0, 0xff, 0xee, 0x01];
                p.extend_from_slice(&i.to_be_bytes());
                p.extend(noise(120, i));
                p
            })
            .collect();
        let refs: Vec<&[u8]> = esp.iter().map(Vec::as_slice).collect();
        assert!(!coincidences(&refs).looks_cleartext());
        // WireGuard transport data: type 4, three zero bytes, receiver,
        // a little-endian counter, ciphertext; and its 32-byte keepalive.
        let wg: Vec<Vec<u8>> = (0..8u64)
            .map(|i| {
                let mut p = vec![4, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
                p.extend_from_slice(&i.to_le_bytes());
                p.extend(noise(if i % 2 == 0 { 16 } else { 200 }, i as u32 + 50));
                p
            })
            .collect();
        let refs: Vec<&[u8]> = wg.iter().map(Vec::as_slice).collect();
        assert!(!coincidences(&refs).looks_cleartext());
        // A QUIC short header: flags, 8-byte connection id, ciphertext.
        let mut q = vec![0x43];
        q.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        q.extend(noise(1200, 77));
        assert!(!coincidences(&[&q]).looks_cleartext());
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(entropy(&[]), 0.0);
        assert_eq!(entropy(&[1, 1, 1]), 0.0);
        assert!((entropy(&[0, 1]) - 1.0).abs() < 1e-6);
    }
}
