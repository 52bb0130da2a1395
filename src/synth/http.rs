//! HTTP/1.1 requests and responses with a Host header.

use anyhow::Result;

use super::names;
use super::net::{Capture, Place, Tcp};
use super::rng::Rng;
use super::truth::{Enc, Kind, Truth};

const PATHS: [&str; 6] = [
    "/",
    "/index.html",
    "/api/v1/items",
    "/static/app.js",
    "/images/logo.png",
    "/search?q=lake",
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "curl/8.5.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
];

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place) -> Result<Truth> {
    let (host, app) = names::site(rng);
    let port = if rng.chance(0.85) { 80 } else { 8080 };
    let ends = cap.ends(rng, place, port, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    for _ in 0..rng.range(1, 3) {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
            rng.pick(&PATHS),
            rng.pick(&AGENTS)
        );
        t.send(true, req.as_bytes())?;
        let body_len = rng.usize(100, 2500);
        let body: Vec<u8> = (0..body_len).map(|i| b"<p>baikal synth</p>\n"[i % 20]).collect();
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body_len}\r\n\r\n"
        )
        .into_bytes();
        resp.extend_from_slice(&body);
        t.send(false, &resp)?;
        t.ack(true)?;
        t.pause(200);
    }
    let pk = t.close()?;
    let mut tr = Truth::new(Kind::Http, &ends, true, "http", Enc::Cleartext)
        .app(app, app.is_some())
        .pkts(pk);
    tr.host = Some(host);
    Ok(tr)
}
