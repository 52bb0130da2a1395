//! Plain TCP: an invented request/response protocol, printable or binary.

use anyhow::Result;

use super::net::{Capture, Place, Tcp};
use super::payload;
use super::rng::Rng;
use super::truth::{Enc, Kind, Truth};

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place, binary: bool) -> Result<Truth> {
    let port = rng.range(40000, 50000) as u16;
    let ends = cap.ends(rng, place, port, true);
    let mut t = Tcp::open(cap, rng, ends, place.t0_ns)?;
    for n in 0..rng.range(1, 5) as u32 {
        let (q, a) = if binary {
            (payload::binary(rng, n), payload::binary(rng, n))
        } else {
            (payload::text(rng, n), payload::text(rng, n))
        };
        t.send(true, &q)?;
        t.send(false, &a)?;
        t.pause(50);
    }
    let kind = if binary {
        Kind::PlainTcpBinary
    } else {
        Kind::PlainTcpText
    };
    let pk = t.close()?;
    Ok(Truth::new(kind, &ends, true, "unknown", Enc::Cleartext).pkts(pk))
}
