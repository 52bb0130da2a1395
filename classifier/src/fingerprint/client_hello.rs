//! Parsing a TLS ClientHello handshake message into the fields the
//! fingerprints and the verdict need.
//!
//! CONTRACT (used by `dissect::tls` and `dissect::quic`):
//! - [`parse_handshake`] takes one complete Handshake message of type 1
//!   (4-byte header included), as reassembled from TLS records or QUIC
//!   CRYPTO frames.
//! - [`fill_meta`] writes sni, alpn, ja3 (TLS only), ja4/ja4_r, the
//!   offered version and ECH presence into a [`Meta`].

use crate::verdict::Meta;

/// The ClientHello fields baikal uses. Code points stay integers, so odd
/// values are kept rather than rejected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub cipher_suites: Vec<u16>,
    /// Extension types in the order sent (GREASE included).
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub supported_versions: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    pub supported_groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    /// encrypted_client_hello (0xfe0d) present.
    pub ech: bool,
}

/// Why a ClientHello could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    #[error("incomplete: {needed} more bytes needed")]
    Incomplete { needed: usize },
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
}

/// Parses one complete ClientHello handshake message (header included).
pub fn parse_handshake(_msg: &[u8]) -> Result<ClientHello, HelloError> {
    Err(HelloError::Malformed("not implemented yet"))
}

/// Writes what the verdict needs from `ch` into `meta`; `transport` is
/// `'t'` for TLS over TCP, `'q'` for QUIC (JA4's first character).
pub fn fill_meta(_ch: &ClientHello, _transport: char, _meta: &mut Meta) {}
