//! Dissectors: one file per protocol, registered by one line in
//! [`DISSECTORS`], in priority order.
//!
//! A dissector is a unit struct implementing [`Dissector`]. It is a pure
//! function of what the flow has carried so far ([`Payloads`]): the engine
//! keeps the first bytes of each direction (TCP: reassembled, in order;
//! UDP: the first datagrams) and calls the dissector again each time more
//! arrives. Because the inputs only grow, a dissector never has to keep
//! state of its own, and a split-input test is simply "feed every prefix".
//!
//! Two steps:
//! - [`Dissector::probe`]: cheap, on the first bytes; `Mine`, `Maybe`, or
//!   `NotMine` (the flow never asks this dissector again).
//! - [`Dissector::parse`]: extracts what the verdict needs into [`Meta`].
//!
//! Invariant: neither step may panic on any input.

use crate::verdict::Meta;

pub mod tls;

/// Transport of a flow, as dissectors see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// What one direction has carried so far.
///
/// For TCP, `data` is the in-order reassembled stream prefix and there is
/// one chunk. For UDP, `data` is the datagrams back to back and `ends`
/// holds the end offset of each.
#[derive(Clone, Copy, Debug, Default)]
pub struct Side<'a> {
    pub data: &'a [u8],
    pub ends: &'a [u32],
}

impl<'a> Side<'a> {
    /// The TCP stream prefix (or, for UDP, all datagrams concatenated).
    pub fn stream(&self) -> &'a [u8] {
        self.data
    }
    /// The datagrams (UDP) or the single stream chunk (TCP).
    pub fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let data = self.data;
        let ends = self.ends;
        let mut start = 0usize;
        ends.iter().map(move |&e| {
            let e = (e as usize).min(data.len());
            let s = start.min(e);
            start = e;
            &data[s..e]
        })
    }
    /// The first datagram / chunk, or empty.
    pub fn first(&self) -> &'a [u8] {
        self.chunks().next().unwrap_or(&[])
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Everything a dissector may look at.
#[derive(Clone, Copy, Debug)]
pub struct Payloads<'a> {
    pub transport: Transport,
    pub orig_port: u16,
    pub resp_port: u16,
    pub orig: Side<'a>,
    pub resp: Side<'a>,
    /// True once the engine will feed no more data (budget spent or flow
    /// ended): a dissector may then decide on partial evidence.
    pub last: bool,
}

impl<'a> Payloads<'a> {
    /// Builds a TCP view from two stream prefixes (tests and fuzzing).
    pub fn tcp(
        orig_port: u16,
        resp_port: u16,
        orig: &'a [u8],
        resp: &'a [u8],
        ends: &'a [[u32; 1]; 2],
    ) -> Payloads<'a> {
        Payloads {
            transport: Transport::Tcp,
            orig_port,
            resp_port,
            orig: Side {
                data: orig,
                ends: &ends[0],
            },
            resp: Side {
                data: resp,
                ends: &ends[1],
            },
            last: false,
        }
    }
    /// Either port equals `p`.
    pub fn port(&self, p: u16) -> bool {
        self.orig_port == p || self.resp_port == p
    }
}

/// Result of the cheap probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Mine,
    Maybe,
    NotMine,
}

/// Result of a parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// Not this protocol after all.
    NotMine,
    /// Could be mine, need more bytes to say.
    NeedMore,
    /// This protocol: `meta` is filled as far as the data goes; more data
    /// may add details (e.g. the server's answer).
    Identified,
    /// This protocol, and nothing more to learn: stop inspecting.
    Done,
}

/// A protocol dissector. See the module documentation.
pub trait Dissector: Sync {
    /// Lowercase protocol name, as reported in `protocol`.
    fn name(&self) -> &'static str;
    /// Which transports it runs on.
    fn transports(&self) -> &'static [Transport];
    /// Cheap look at the first bytes.
    fn probe(&self, p: &Payloads<'_>) -> Probe;
    /// Full parse; fills `meta` (protocol, encryption, names, ...).
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse;
}

/// The registry, in priority order: earlier entries are asked first, and
/// the first that identifies a flow wins. Adding a dissector is one line
/// here plus its file.
pub static DISSECTORS: &[&dyn Dissector] = &[&tls::Tls];

/// Finds a dissector by protocol name.
pub fn by_name(name: &str) -> Option<&'static dyn Dissector> {
    DISSECTORS.iter().copied().find(|d| d.name() == name)
}

/// Test helper: runs `parse` on every split of `orig` (the first `k`
/// bytes, then all) and checks the final verdict equals the whole-input
/// one and no prefix panics. Returns the whole-input meta.
#[cfg(test)]
pub(crate) fn check_split_tcp(d: &dyn Dissector, port: u16, orig: &[u8], resp: &[u8]) -> (Parse, Meta) {
    let ends = [[orig.len() as u32], [resp.len() as u32]];
    let full = Payloads::tcp(40000, port, orig, resp, &ends);
    let mut whole = Meta::default();
    let r = d.parse(&full, &mut whole);
    for k in 0..orig.len() {
        let ends = [[k as u32], [0]];
        let p = Payloads::tcp(40000, port, &orig[..k], &[], &ends);
        let mut m = Meta::default();
        let _ = d.probe(&p);
        let _ = d.parse(&p, &mut m);
    }
    for k in 0..resp.len() {
        let ends = [[orig.len() as u32], [k as u32]];
        let p = Payloads::tcp(40000, port, orig, &resp[..k], &ends);
        let mut m = Meta::default();
        let _ = d.parse(&p, &mut m);
    }
    (r, whole)
}
