//! Cryptocurrency mining pool protocols over TCP: the Stratum family of
//! newline-delimited JSON-RPC, on any port (3333, 4444, 9999, ... are
//! pool conventions, not used here).
//!
//! A session opens with the miner's first line, one JSON object (parsed
//! with serde_json) holding an `id`, a `method` and its `params`:
//! - Stratum v1 (Bitcoin, Zcash and the like): `mining.subscribe`,
//!   `mining.authorize`, `mining.configure` or
//!   `mining.extranonce.subscribe`, with `params` an array; on a
//!   connection seen after its start, the pool's `mining.notify`,
//!   `mining.set_difficulty`, `mining.set_target` or
//!   `mining.set_extranonce`;
//! - the Ethereum proxy dialect ("ethproxy"): `eth_submitLogin`, with
//!   `params` an array;
//! - the CryptoNote (Monero) dialect: `login`, with `params` an object
//!   holding `login` and `pass` strings.
//!
//! When the other side has answered a whole line, that line must be a
//! JSON object too, with an `id` or a `method`. The protocol has no
//! encryption of its own (pools offering TLS are the TLS dissector's):
//! cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};
use serde_json::{Map, Value};

pub struct Mining;

/// Longest first line parsed; a longer one is not a mining request.
const MAX_LINE: usize = 4096;
const VALUE_MAX: usize = 64;

/// The first line of `d` (without its line end): `Err(true)` while it is
/// still incomplete, `Err(false)` when it grew too long.
fn first_line(d: &[u8]) -> Result<&[u8], bool> {
    let window = &d[..d.len().min(MAX_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => Ok(window[..i].strip_suffix(b"\r").unwrap_or(&window[..i])),
        None => Err(d.len() < MAX_LINE),
    }
}

/// A JSON object on one line.
fn object(line: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(line).ok()? {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// The dialect of a first request, and the miner's software if it says.
fn request(o: &Map<String, Value>) -> Option<(&'static str, &str, Option<&str>)> {
    o.get("id")?;
    let method = o.get("method")?.as_str()?;
    let params = o.get("params")?;
    match method {
        "mining.subscribe" => {
            let agent = params.as_array()?.first().and_then(Value::as_str);
            Some(("stratum", method, agent))
        }
        "mining.authorize"
        | "mining.configure"
        | "mining.extranonce.subscribe"
        | "mining.notify"
        | "mining.set_difficulty"
        | "mining.set_target"
        | "mining.set_extranonce" => {
            params.as_array()?;
            Some(("stratum", method, None))
        }
        "eth_submitLogin" => {
            params.as_array()?;
            Some(("ethproxy", method, None))
        }
        "login" => {
            let p = params.as_object()?;
            p.get("login")?.as_str()?;
            p.get("pass")?.as_str()?;
            Some(("cryptonote", method, p.get("agent").and_then(Value::as_str)))
        }
        _ => None,
    }
}

impl Dissector for Mining {
    fn name(&self) -> &'static str {
        "mining"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            None | Some(b'{') => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    /// The probe admits only a JSON object's `{`.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"{"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_side().stream();
        if d.first().is_some_and(|&b| b != b'{') {
            return Parse::NotMine;
        }
        let line = match first_line(d) {
            Ok(l) => l,
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        };
        let Some(o) = object(line) else { return Parse::NotMine };
        let Some((dialect, method, agent)) = request(&o) else {
            return Parse::NotMine;
        };
        let answered = match first_line(p.second_side().stream()) {
            Ok(l) => match object(l) {
                Some(a) if a.contains_key("id") || a.contains_key("method") => true,
                _ => return Parse::NotMine,
            },
            Err(_) => false,
        };
        meta.protocol = Some("mining");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("mining_dialect", dialect);
        meta.set_extra("mining_method", method);
        if let Some(a) = agent.filter(|a| !a.is_empty()) {
            meta.set_extra("mining_agent", super::text::to_string(a.as_bytes(), VALUE_MAX));
        }
        if answered {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused};

    /// mining.pcapng, 192.168.2.148:46838 → 94.23.199.191:3333 (Zcash).
    const SUBSCRIBE: &[u8] =
        b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"EWBF 0.3.4b\",null,\"eu1-zcash.flypool.org\",\"3333\"]}\n";
    const SUBSCRIBED: &[u8] = b"{\"id\":1,\"result\":[\"04d567b212\", \"04d567b212\"], \"error\": null}\n";
    /// mining.pcapng, 147.229.13.222:49307 → 185.71.66.39:9999 (Ethereum).
    const ETH_LOGIN: &[u8] = b"{\"worker\": \"eth1.0\", \"jsonrpc\": \"2.0\", \"params\": [\"0x9c99d212f7e5daa18ab50810e0fd255d1f04303b/tester.worker1/vvesely@mailinator\", \"x\"], \"id\": 2, \"method\": \"eth_submitLogin\"}\n";
    const ETH_OK: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":true}\n";
    /// mining.pcapng, 192.168.2.92:55190 → 178.32.196.217:9050 (Monero).
    const XMR_LOGIN: &[u8] = b"{\"method\":\"login\",\"params\":{\"login\":\"4BCeEPhodgPMbPWFN1dPwhWXdRX8q4mhhdZdA1dtSMLTLCEYvAj9QXjXAfF7CugEbmfBhgkqHbdgK9b2wKA6nqRZQCgvCDm.cb2b73415c4faf214035a73b9d947c202342f3bf3bdf632132bd6d7af98cb257.ryzen\",\"pass\":\"x\",\"agent\":\"xmr-stak-cpu/1.3.0-1.5.0\"},\"id\":1}\n";
    const XMR_JOB: &[u8] = b"{\"id\":1,\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{\"id\":\"479059546883218\",\"job\":{\"blob\":\"0606e8\",\"job_id\":\"722134174127131\",\"target\":\"dc460300\"},\"status\":\"OK\"}}\n";

    #[test]
    fn stratum_subscribe() {
        let (r, m) = check_split_tcp(&Mining, 3333, SUBSCRIBE, SUBSCRIBED);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("mining"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("mining_dialect"), Some("stratum"));
        assert_eq!(m.extra("mining_method"), Some("mining.subscribe"));
        assert_eq!(m.extra("mining_agent"), Some("EWBF 0.3.4b"));
        let (r, _) = check_split_tcp(&Mining, 3333, SUBSCRIBE, b"");
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn ethproxy_and_cryptonote_logins() {
        let (r, m) = check_split_tcp(&Mining, 9999, ETH_LOGIN, ETH_OK);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("mining_dialect"), Some("ethproxy"));
        assert_eq!(m.extra("mining_agent"), None);
        let (r, m) = check_split_tcp(&Mining, 9050, XMR_LOGIN, XMR_JOB);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("mining_dialect"), Some("cryptonote"));
        assert_eq!(m.extra("mining_agent"), Some("xmr-stak-cpu/1.3.0-1.5.0"));
    }

    #[test]
    fn not_mining() {
        let s = String::from_utf8_lossy(SUBSCRIBE);
        let other_method = s.replace("mining.subscribe", "mining.subscrib").into_bytes();
        let no_id = s.replace("\"id\":1,", "").into_bytes();
        let params_obj = s
            .replace("[\"EWBF", "{\"a\":[\"EWBF")
            .replace("\"]}", "\"]}}")
            .into_bytes();
        let x = String::from_utf8_lossy(XMR_LOGIN);
        let no_pass = x.replace("\"pass\":\"x\",", "").into_bytes();
        let broken = SUBSCRIBE[..SUBSCRIBE.len() - 3]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        let rpc = b"{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":1}\n";
        let cases: [(&[u8], &[u8]); 8] = [
            (&other_method, b""),
            (&no_id, b""),
            (&params_obj, b""),
            (&no_pass, b""),
            (&broken, b""),
            (rpc, b""),
            (SUBSCRIBE, b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            (SUBSCRIBE, b"[1,2]\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 3333, o, r, &ends);
            assert!(!not_refused(&Mining, &p), "{}", String::from_utf8_lossy(o));
        }
        // A line that never ends.
        let long = vec![b'{'; MAX_LINE + 1];
        let ends = [[long.len() as u32], [0]];
        assert!(!not_refused(&Mining, &Payloads::tcp(40000, 3333, &long, &[], &ends)));
    }
}
