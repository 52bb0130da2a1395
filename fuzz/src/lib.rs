//! Shared harness for baikal's fuzz targets.
//!
//! Every target turns the fuzzer's bytes into the input of one parser.
//! For dissectors the bytes are cut into a flow: byte 0 picks the
//! transport (bit 0) and the responder's port (bits 1-4: one of 16 common
//! ports, the originator's being 40000; with bit 7 set, both ports follow
//! byte 1 instead, as two big-endian u16s, so that dissectors that look at
//! their own ports are reached), byte 1 how many pieces go to the
//! originator first; the rest is split into pieces on a 2-byte
//! little-endian length prefix, alternating sides. The dissector is then
//! run, as the engine does, on every growing prefix of what the flow
//! carried.

use baikal_classifier::dissect::{Dissector, Payloads, Side, State, Transport};
use baikal_classifier::verdict::Meta;

/// Cuts fuzz bytes into orig/resp pieces (see module docs).
pub struct Flow {
    pub transport: Transport,
    pub orig_port: u16,
    pub port: u16,
    pub pieces: Vec<(bool, Vec<u8>)>,
}

const PORTS: [u16; 16] = [443, 80, 53, 22, 25, 143, 110, 3389, 445, 123, 67, 3478, 51820, 1194, 6881, 5353];

impl Flow {
    pub fn from_bytes(data: &[u8]) -> Option<Flow> {
        let (&b0, rest) = data.split_first()?;
        let (&b1, mut rest) = rest.split_first()?;
        let transport = if b0 & 1 == 0 { Transport::Tcp } else { Transport::Udp };
        let (orig_port, port) = if b0 & 0x80 != 0 {
            let (p, r) = rest.split_first_chunk::<4>()?;
            rest = r;
            (u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]]))
        } else {
            (40000, PORTS[usize::from(b0 >> 1) % PORTS.len()])
        };
        let mut pieces = Vec::new();
        let mut orig = true;
        let mut k = 0u8;
        while rest.len() >= 2 && pieces.len() < 16 {
            let n = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
            rest = &rest[2..];
            let n = n.min(rest.len());
            pieces.push((orig, rest[..n].to_vec()));
            rest = &rest[n..];
            k = k.wrapping_add(1);
            if k >= b1 % 4 {
                orig = !orig;
            }
        }
        if !rest.is_empty() {
            pieces.push((orig, rest.to_vec()));
        }
        Some(Flow {
            transport,
            orig_port,
            port,
            pieces,
        })
    }
}

/// Runs `d` as the engine would: after each piece, probe and parse over
/// everything so far, then once more with `last` set. Each parse is also
/// made with the state the dissector keeps across them
/// (`parse_with_state`), which must not change its answer.
pub fn run_dissector(d: &dyn Dissector, flow: &Flow) {
    let mut state = State::default();
    let mut bufs: [(Vec<u8>, Vec<u32>); 2] = Default::default();
    let n = flow.pieces.len();
    for (i, (orig, bytes)) in flow.pieces.iter().enumerate() {
        let s = &mut bufs[usize::from(!*orig)];
        s.0.extend_from_slice(bytes);
        s.1.push(s.0.len() as u32);
        let p = Payloads {
            transport: flow.transport,
            orig_port: flow.orig_port,
            resp_port: flow.port,
            orig: Side { data: &bufs[0].0, ends: &bufs[0].1 },
            resp: Side { data: &bufs[1].0, ends: &bufs[1].1 },
            last: i + 1 == n,
        };
        let _ = d.probe(&p);
        let mut m = Meta::default();
        let r = d.parse(&p, &mut m);
        let mut kept = Meta::default();
        let r_kept = d.parse_with_state(&p, None, &mut state, &mut kept);
        assert_eq!((r_kept, &kept), (r, &m), "{}: parse_with_state differs from parse", d.name());
    }
}

/// Fuzzes the dissector registered under `name`; a name that is not
/// registered fails at once rather than fuzzing nothing.
pub fn fuzz_dissector(name: &str, data: &[u8]) {
    let Some(d) = baikal_classifier::dissect::by_name(name) else {
        panic!("no dissector named {name:?} is registered");
    };
    if let Some(flow) = Flow::from_bytes(data) {
        run_dissector(d, &flow);
    }
}
