//! MTProto over a plain transport (abridged, intermediate, padded
//! intermediate): the framing itself proves Telegram.

use anyhow::Result;

use super::mtproto_msg::{self, Framing};
use super::net::{Capture, Place, Tcp};
use super::rng::Rng;
use super::truth::{Enc, Kind, Truth};

/// A Telegram server port: 443 mostly.
pub fn port(rng: &mut Rng, in_range: bool) -> u16 {
    match (rng.below(10), in_range) {
        (0..=6, _) => 443,
        (7, true) => 80,
        (8, true) => 5222,
        (_, true) => 443,
        (7, false) => 8443,
        (8, false) => 8888,
        _ => rng.range(1024, 65535) as u16,
    }
}

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place, framing: Framing) -> Result<Truth> {
    let p = port(rng, place.telegram_range);
    let ends = cap.ends(rng, place, p, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    let dialogue = mtproto_msg::dialogue(rng, place.t0_ns / 1_000_000_000);
    for (i, (from_client, msg)) in dialogue.iter().enumerate() {
        let mut bytes = if i == 0 { framing.init().to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&framing.frame(rng, msg));
        t.send(*from_client, &bytes)?;
        if i % 2 == 1 {
            t.pause(30);
        }
    }
    let kind = match framing {
        Framing::Abridged => Kind::MtprotoAbridged,
        Framing::Intermediate => Kind::MtprotoIntermediate,
        Framing::Padded => Kind::MtprotoPadded,
    };
    let pk = t.close()?;
    Ok(Truth::new(kind, &ends, true, "mtproto", Enc::Encrypted)
        .app(Some("telegram"), true)
        .pkts(pk))
}
