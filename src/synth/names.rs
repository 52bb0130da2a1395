//! Server names used by TLS, QUIC, HTTP and DNS flows, with the
//! application each one belongs to (None: no particular application).

use super::rng::Rng;

pub const SITES: [(&str, Option<&str>); 16] = [
    ("www.google.com", Some("google")),
    ("www.youtube.com", Some("youtube")),
    ("i.ytimg.com", Some("youtube")),
    ("github.com", Some("github")),
    ("www.wikipedia.org", Some("wikipedia")),
    ("www.netflix.com", Some("netflix")),
    ("www.microsoft.com", Some("microsoft")),
    ("www.apple.com", Some("apple")),
    ("www.amazon.com", Some("amazon")),
    ("www.cloudflare.com", Some("cloudflare")),
    ("example.com", None),
    ("www.example.org", None),
    ("shop.example.net", None),
    ("api.example.net", None),
    ("static.example.com", None),
    ("mail.example.org", None),
];

/// Popular non-Telegram domains an MTProxy fake-TLS secret fronts.
pub const FRONTING: [&str; 6] = [
    "www.google.com",
    "www.microsoft.com",
    "www.cloudflare.com",
    "www.apple.com",
    "www.amazon.com",
    "cdn.jsdelivr.net",
];

/// A site: (name, app). Sometimes a random subdomain of an example domain.
pub fn site(rng: &mut Rng) -> (String, Option<&'static str>) {
    if rng.chance(0.15) {
        let label: String = (0..rng.usize(4, 10))
            .map(|_| char::from(b'a' + (rng.below(26) as u8)))
            .collect();
        return (format!("{label}.example.net"), None);
    }
    let (n, a) = *rng.pick(&SITES);
    (n.to_string(), a)
}
