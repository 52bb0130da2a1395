//! baikal's classifier: everything between a raw frame and a flow verdict.
//!
//! The stages, in the order a packet meets them:
//!
//! 1. [`decode`]: link layer → IP (with tunnels and fragment reassembly) →
//!    transport, producing a [`decode::PacketView`] that borrows the frame.
//! 2. [`flow`]: the bidirectional flow table with bounded memory, LRU
//!    eviction, idle timeouts and TCP stream reassembly of the first bytes.
//! 3. [`dissect`]: probe/parse dissectors registered in one table, in
//!    priority order, producing a [`verdict::Meta`] per flow.
//! 4. [`verdict`]: protocol, application, encryption class and evidence.
//! 5. [`engine`]: ties the stages together and emits [`record::FlowRecord`]s.
//!
//! Beside them, [`assoc`] names flows from earlier flows (TURN permissions)
//! on the reading thread, before packets are sharded.
//!
//! Invariant for the whole crate: no input bytes may cause a panic, a
//! hang, or an allocation sized by an unchecked length field.
#![forbid(unsafe_code)]

pub mod assoc;
pub mod decode;
pub mod dissect;
pub mod engine;
pub mod fingerprint;
pub mod flow;
pub mod packed;
pub mod randomness;
pub mod record;
pub mod rules;
pub mod verdict;
