//! OSPF (RFC 2328 version 2, RFC 5340 version 3): the transport is IP
//! protocol 89 itself, so this is not a [`super::Dissector`]; the engine
//! calls [`identify`] on the first payload of such a flow. The packet
//! header: version 2 or 3, a type 1..=5 (hello, database description,
//! link state request, update, acknowledgment), the packet length (at
//! most the IP payload: OSPFv2 may append link-local signalling data
//! after it), router and area ids, a checksum; version 2 then has an
//! authentication type 0..=2 and 8 bytes of authentication data (24
//! bytes in all), version 3 an instance id and a zero byte (16 bytes).
//! Cleartext (authentication type 2 adds a keyed digest, not a cipher).

use crate::verdict::{Encryption, Evidence, Meta};

/// IP protocol number of OSPF.
pub const OSPF: u8 = 89;

fn type_name(t: u8) -> &'static str {
    match t {
        1 => "hello",
        2 => "database_description",
        3 => "link_state_request",
        4 => "link_state_update",
        _ => "link_state_ack",
    }
}

/// Fills `meta` when `msg`, the payload of an IP packet of protocol
/// `proto`, is an OSPF packet; true if it was.
pub fn identify(proto: u8, msg: &[u8], meta: &mut Meta) -> bool {
    if proto != OSPF {
        return false;
    }
    let Some(h) = msg.get(..16) else { return false };
    let (version, kind) = (h[0], h[1]);
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let ok = (1..=5).contains(&kind)
        && len <= msg.len()
        && match version {
            2 => len >= 24 && msg.get(15).is_some_and(|&a| a <= 2) && h[14] == 0,
            3 => len >= 16 && h[15] == 0,
            _ => false,
        };
    if !ok {
        return false;
    }
    meta.protocol = Some("ospf");
    meta.encryption = Encryption::Cleartext;
    meta.evidence.insert(Evidence::DPI);
    meta.set_extra("ospf_version", version.to_string());
    meta.set_extra("ospf_type", type_name(kind));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // ospfv2_add_new_prefix.pcap: a link state update's header and the
    // start of its body (the packet length trimmed to match).
    const UPDATE: [u8; 32] = [
        0x02, 0x04, 0x00, 0x20, 0xac, 0x10, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x06, 0xab, 0x27, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x22, 0x01,
    ];

    fn ospf(msg: &[u8]) -> Option<Meta> {
        let mut m = Meta::default();
        identify(OSPF, msg, &mut m).then_some(m)
    }

    #[test]
    fn link_state_update() {
        let m = ospf(&UPDATE).expect("ospf");
        assert_eq!(m.protocol, Some("ospf"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("ospf_type"), Some("link_state_update"));
        // OSPFv3 hello header: instance 0.
        let v3 = [3u8, 1, 0, 16, 1, 1, 1, 1, 0, 0, 0, 0, 0x12, 0x34, 0, 0];
        assert_eq!(
            ospf(&v3)
                .and_then(|m| m.extra("ospf_version").map(str::to_owned))
                .as_deref(),
            Some("3")
        );
        for n in 0..UPDATE.len() {
            let _ = ospf(&UPDATE[..n]);
        }
    }

    #[test]
    fn not_ospf() {
        let mut version = UPDATE;
        version[0] = 1;
        let mut kind = UPDATE;
        kind[1] = 6;
        let mut long = UPDATE;
        long[3] = 0x21;
        let mut auth = UPDATE;
        auth[15] = 3;
        for d in [&version, &kind, &long, &auth] {
            assert!(ospf(d).is_none(), "{d:?}");
        }
        assert!(ospf(&UPDATE[..23]).is_none());
        assert!(!identify(17, &UPDATE, &mut Meta::default()));
    }
}
