//! TLS ClientHello parsing and the fingerprints computed from it (JA3,
//! JA4). Shared by the TLS-over-TCP and the QUIC dissectors.

pub mod client_hello;
pub mod fmt;
pub mod ja3;
pub mod ja4;
