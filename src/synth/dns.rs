//! DNS over UDP: one query (A or AAAA) and its answer.

use anyhow::Result;

use super::names;
use super::net::{Capture, Place, Udp};
use super::rng::Rng;
use super::truth::{Enc, Kind, Truth};

fn qname(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

pub fn build(cap: &mut Capture, rng: &mut Rng, place: &Place) -> Result<Truth> {
    // The flow is name resolution, whatever the name: app null.
    let (name, _) = names::site(rng);
    let ends = cap.ends(rng, place, 53, false);
    let mut u = Udp::new(cap, rng, ends, place.t0_ns);
    let id = rng.u16();
    let aaaa = rng.chance(0.4);
    let qtype: u16 = if aaaa { 28 } else { 1 };
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    qname(&name, &mut q);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    u.send(true, &q)?;
    let mut a = q.clone();
    a[2] = 0x81;
    a[3] = 0x80;
    a[7] = 1; // ANCOUNT
    a.extend_from_slice(&[0xc0, 0x0c]);
    a.extend_from_slice(&qtype.to_be_bytes());
    a.extend_from_slice(&1u16.to_be_bytes());
    a.extend_from_slice(&(rng.range(30, 3600) as u32).to_be_bytes());
    if aaaa {
        a.extend_from_slice(&16u16.to_be_bytes());
        a.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a.extend_from_slice(&rng.array::<12>());
    } else {
        a.extend_from_slice(&4u16.to_be_bytes());
        a.extend_from_slice(&[198, 18]);
        a.extend_from_slice(&rng.array::<2>());
    }
    u.send(false, &a)?;
    let mut tr = Truth::new(Kind::Dns, &ends, false, "dns", Enc::Cleartext).pkts(u.pkts);
    tr.host = Some(name);
    Ok(tr)
}
