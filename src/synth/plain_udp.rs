//! Plain UDP: datagrams of an invented protocol, printable or binary.

use anyhow::Result;

use super::net::{Capture, Place, Udp};
use super::payload;
use super::rng::Rng;
use super::truth::{Enc, Kind, Truth};

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place, binary: bool) -> Result<Truth> {
    let port = rng.range(40000, 50000) as u16;
    let ends = cap.ends(rng, place, port, false);
    let mut u = Udp::new(cap, rng, ends, place.t0_ns);
    for n in 0..rng.range(1, 6) as u32 {
        let q = if binary {
            payload::binary(rng, n)
        } else {
            payload::text(rng, n)
        };
        u.send(true, &q)?;
        if rng.chance(0.8) {
            let a = if binary {
                payload::binary(rng, n)
            } else {
                payload::text(rng, n)
            };
            u.send(false, &a)?;
        }
        u.pause(30);
    }
    let kind = if binary {
        Kind::PlainUdpBinary
    } else {
        Kind::PlainUdpText
    };
    Ok(Truth::new(kind, &ends, false, "unknown", Enc::Cleartext).pkts(u.pkts))
}
