//! Address pools: clients, generic servers, and Telegram's published
//! ranges (issue 4).
//!
//! Generic servers come from ranges reserved for documentation and
//! benchmarking (198.18.0.0/15, 203.0.113.0/24, 2001:db8::/32), so they lie
//! in no application's published ranges: `in_app_ranges` is then false by
//! construction.

use std::net::IpAddr;

use super::net::{v4, v6};
use super::rng::Rng;

/// Telegram's IPv4 ranges: (network, prefix length).
pub const TELEGRAM_V4: [([u8; 4], u8); 4] = [
    ([91, 108, 4, 0], 22),
    ([91, 108, 8, 0], 22),
    ([91, 108, 56, 0], 22),
    ([149, 154, 160, 0], 20),
];
/// Telegram's IPv6 range 2001:b28:f23d::/48.
pub const TELEGRAM_V6: ([u8; 16], u8) = ([0x20, 0x01, 0x0b, 0x28, 0xf2, 0x3d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 48);

fn in_prefix(a: &[u8], net: &[u8], len: u8) -> bool {
    let full = usize::from(len / 8);
    let rem = len % 8;
    if a.len() != net.len() || a[..full] != net[..full] {
        return false;
    }
    if rem == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    a.get(full).map(|x| x & mask) == net.get(full).map(|x| x & mask)
}

/// True when `ip` is inside Telegram's published ranges.
pub fn in_telegram_ranges(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => TELEGRAM_V4.iter().any(|(n, l)| in_prefix(&a.octets(), n, *l)),
        IpAddr::V6(a) => in_prefix(&a.octets(), &TELEGRAM_V6.0, TELEGRAM_V6.1),
    }
}

/// A random host address in a prefix (host bits random, not all zero).
fn in_range(rng: &mut Rng, net: &[u8], len: u8, out: &mut [u8]) {
    rng.fill(out);
    let full = usize::from(len / 8);
    out[..full].copy_from_slice(&net[..full]);
    let rem = len % 8;
    if rem != 0 {
        let mask = 0xffu8 << (8 - rem);
        out[full] = (net[full] & mask) | (out[full] & !mask);
    }
    if let Some(last) = out.last_mut() {
        if *last == 0 || *last == 255 {
            *last = 7;
        }
    }
}

/// An address inside Telegram's ranges.
pub fn telegram_addr(rng: &mut Rng, ipv6: bool) -> IpAddr {
    if ipv6 {
        let mut a = [0u8; 16];
        in_range(rng, &TELEGRAM_V6.0, TELEGRAM_V6.1, &mut a);
        v6(a)
    } else {
        let (n, l) = *rng.pick(&TELEGRAM_V4);
        let mut a = [0u8; 4];
        in_range(rng, &n, l, &mut a);
        v4(a)
    }
}

/// A generic server address (documentation / benchmarking ranges).
pub fn server_addr(rng: &mut Rng, ipv6: bool) -> IpAddr {
    if ipv6 {
        let mut a = [0u8; 16];
        in_range(rng, &[0x20, 0x01, 0x0d, 0xb8], 32, &mut a);
        v6(a)
    } else {
        let mut a = [0u8; 4];
        if rng.chance(0.8) {
            in_range(rng, &[198, 18, 0, 0], 15, &mut a);
        } else {
            in_range(rng, &[203, 0, 113, 0], 24, &mut a);
        }
        v4(a)
    }
}

/// A client address: 10.0.0.0/8 or fd00::/8.
pub fn client_addr(rng: &mut Rng, ipv6: bool) -> IpAddr {
    if ipv6 {
        let mut a = [0u8; 16];
        in_range(rng, &[0xfd], 8, &mut a);
        v6(a)
    } else {
        let mut a = [0u8; 4];
        in_range(rng, &[10], 8, &mut a);
        v4(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(in_telegram_ranges("91.108.4.1".parse().unwrap()));
        assert!(in_telegram_ranges("91.108.59.255".parse().unwrap()));
        assert!(!in_telegram_ranges("91.108.60.1".parse().unwrap()));
        assert!(in_telegram_ranges("149.154.175.50".parse().unwrap()));
        assert!(!in_telegram_ranges("149.154.176.1".parse().unwrap()));
        assert!(in_telegram_ranges("2001:b28:f23d:f001::a".parse().unwrap()));
        assert!(!in_telegram_ranges("2001:b28:f23e::1".parse().unwrap()));
        let mut r = Rng::new(3);
        for _ in 0..500 {
            let v6 = r.chance(0.5);
            assert!(in_telegram_ranges(telegram_addr(&mut r, v6)));
            assert!(!in_telegram_ranges(server_addr(&mut r, v6)));
        }
    }
}
