//! OPC UA binary over TCP (OPC 10000-6, "UA Connection Protocol" and
//! "UA Secure Conversation"), on any port (4840 is not required).
//!
//! Every message starts with a three-letter type and a chunk type —
//! `HEL`, `ACK`, `ERR`, `RHE` with `F`; `OPN`, `MSG`, `CLO` with `F`, `C`
//! or `A` — and a little-endian 32-bit size of the whole message (8 bytes
//! up to 16 MiB). The first side's messages are walked (up to four):
//! - `HEL`: protocol version, buffer sizes of at least 8192, then the
//!   endpoint URL (a UA String: length, bytes) ending the message exactly;
//!   its answer must be an `ACK` (28 bytes) or an `ERR`;
//! - `OPN`: the secure channel id, then the security policy URI, which
//!   must start `http://opcfoundation.org/UA/SecurityPolicy#`;
//! - a connection seen later (`MSG` first): two whole messages of one
//!   side, or one on each, all with valid headers.
//!
//! Encryption follows the security policy of the `OPN`: `#None` is
//! cleartext; any other policy means the OpenSecureChannel exchange is
//! encrypted (OPC 10000-6 6.7.4, whatever the security mode) and the
//! messages after it are signed or also encrypted, which the mode (inside
//! that encrypted request) would tell: such a flow is reported
//! `encrypted`. Before an `OPN` is seen (`HEL`/`ACK` only), cleartext.
//! Reported: `opcua_endpoint` (the HEL's URL), `opcua_security_policy`
//! (the part after `#`), `opcua_first_message`.

use super::text::{is_printable, to_string};
use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct OpcUa;

const MAX_SIZE: usize = 16 << 20;
const MAX_MSGS: usize = 4;
const VALUE_MAX: usize = 128;
const POLICY: &[u8] = b"http://opcfoundation.org/UA/SecurityPolicy#";

fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// A message header at the start of `d`: (type, size). `Err(true)`:
/// more bytes needed.
fn header(d: &[u8]) -> Result<([u8; 3], usize), bool> {
    const TYPES: [&[u8; 3]; 7] = [b"HEL", b"ACK", b"ERR", b"RHE", b"OPN", b"MSG", b"CLO"];
    let n = d.len().min(3);
    if !TYPES.iter().any(|t| t[..n] == d[..n]) {
        return Err(false);
    }
    let Some(&chunk) = d.get(3) else { return Err(true) };
    let t: [u8; 3] = [d[0], d[1], d[2]];
    let single = matches!(&t, b"HEL" | b"ACK" | b"ERR" | b"RHE");
    if !(chunk == b'F' || (!single && (chunk == b'C' || chunk == b'A'))) {
        return Err(false);
    }
    let size = le32(d, 4).ok_or(true)? as usize;
    let min = match &t {
        b"HEL" => 32,
        b"ACK" => 28,
        b"ERR" => 16,
        _ => 12,
    };
    if size < min || size > MAX_SIZE || (&t == b"ACK" && size != 28) {
        return Err(false);
    }
    Ok((t, size))
}

/// A UA String at `at` within `end`: its bytes (empty for null).
fn ua_string(m: &[u8], at: usize, end: usize) -> Option<&[u8]> {
    let len = le32(m, at)? as i32;
    if len == -1 {
        return Some(&[]);
    }
    let len = usize::try_from(len).ok()?;
    if at + 4 + len > end {
        return None;
    }
    m.get(at + 4..at + 4 + len)
}

#[derive(Default)]
struct Seen<'a> {
    first: Option<[u8; 3]>,
    whole: usize,
    endpoint: Option<&'a [u8]>,
    policy: Option<&'a [u8]>,
}

/// Walks the messages of a side. `Err(false)`: not OPC UA.
fn walk(d: &[u8]) -> Result<Seen<'_>, bool> {
    let mut seen = Seen::default();
    let mut at = 0;
    while at < d.len() && seen.whole < MAX_MSGS {
        let (t, size) = match header(&d[at..]) {
            Ok(h) => h,
            Err(true) => break,
            Err(false) => return Err(false),
        };
        seen.first.get_or_insert(t);
        let Some(m) = d.get(at..at + size) else { break };
        match &t {
            b"HEL" => {
                // Version, receive and send buffer sizes, max message
                // size, max chunk count, endpoint URL.
                let (rb, sb) = (le32(m, 12).unwrap_or(0), le32(m, 16).unwrap_or(0));
                let url = ua_string(m, 28, size).ok_or(false)?;
                if rb < 8192 || sb < 8192 || 32 + url.len() != size || !is_printable(url) {
                    return Err(false);
                }
                seen.endpoint = Some(url);
            }
            b"OPN" => {
                let uri = ua_string(m, 12, size).ok_or(false)?;
                let Some(name) = uri.strip_prefix(POLICY) else {
                    return Err(false);
                };
                if name.is_empty() || !is_printable(name) {
                    return Err(false);
                }
                seen.policy = Some(name);
            }
            _ => {}
        }
        seen.whole += 1;
        at += size;
    }
    Ok(seen)
}

impl Dissector for OpcUa {
    fn name(&self) -> &'static str {
        "opcua"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match header(p.first_payload()) {
            Err(false) => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    /// The message types' initials (`header`: HEL, ACK, ERR, RHE, OPN,
    /// MSG, CLO).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(b"HAEROMC"))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let (a, b) = (p.first_side().stream(), p.second_side().stream());
        let (Ok(sa), Ok(sb)) = (walk(a), walk(b)) else {
            return Parse::NotMine;
        };
        let Some(first) = sa.first else { return p.undecided() };
        if sa.whole == 0 {
            return p.undecided();
        }
        match (&first, sb.first) {
            (b"HEL", Some(r)) if &r != b"ACK" && &r != b"ERR" => return Parse::NotMine,
            (b"HEL" | b"OPN", _) => {}
            _ if sa.whole + sb.whole < 2 => return p.undecided(),
            _ => {}
        }
        meta.protocol = Some("opcua");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("opcua_first_message", String::from_utf8_lossy(&first).into_owned());
        if let Some(u) = sa.endpoint.filter(|u| !u.is_empty()) {
            meta.set_extra("opcua_endpoint", to_string(u, VALUE_MAX));
        }
        let policy = sa.policy.or(sb.policy);
        if let Some(pol) = policy {
            meta.set_extra("opcua_security_policy", to_string(pol, VALUE_MAX));
            if pol != b"None" {
                meta.encryption = Encryption::Encrypted;
            }
        }
        // Done once the security policy is known, or on a connection
        // seen after its OPN.
        if policy.is_some() || (&first != b"HEL" && &first != b"OPN" && sb.whole > 0) {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, not_refused, unhex};

    /// opc-ua.pcap (57420 → 4840): Hello to opc.tcp://localhost:4840 and
    /// the Acknowledge.
    const HEL: &str = "48454c46380000000000000000000200000002000000004000800000180000006f70632e7463703a2f2f6c6f63616c686f73743a34383430";
    const ACK: &str = "41434b461c0000000000000000000200000002000000004000800000";
    /// The OpenSecureChannel request that follows (policy None).
    const OPN: &str = "4f504e4684000000000000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e65ffffffffffffffff01000000010000000100be0100003440df99a8f3d8010000000000000000ffffffff00000000000000000000000000000001000000ffffffffc0270900";

    #[test]
    fn hello_ack_open() {
        let (h, a) = (unhex(HEL), unhex(ACK));
        let (v, m) = check_split_tcp(&OpcUa, 4840, &h, &a);
        assert_eq!(v, Parse::Identified);
        assert_eq!(m.protocol, Some("opcua"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("opcua_endpoint"), Some("opc.tcp://localhost:4840"));
        let o = [h, unhex(OPN)].concat();
        assert_eq!(o.len(), 56 + 132);
        let (v, m) = check_split_tcp(&OpcUa, 4840, &o, &a);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("opcua_security_policy"), Some("None"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        // Another policy: the channel is encrypted.
        let mut opn = unhex(OPN);
        let at = 16 + POLICY.len();
        opn[at..at + 4].copy_from_slice(b"Aes1");
        let (v, m) = check_split_tcp(&OpcUa, 4840, &opn, &[]);
        assert_eq!(v, Parse::Done);
        assert_eq!(m.extra("opcua_security_policy"), Some("Aes1"));
        assert_eq!(m.encryption, Encryption::Encrypted);
    }

    #[test]
    fn not_opcua() {
        let (h, a) = (unhex(HEL), unhex(ACK));
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (i, v) in [(0, b'X'), (3, b'C'), (4, 0x39), (4, 0x10), (14, 0), (28, 0x19)] {
            let mut c = h.clone();
            c[i] = v;
            cases.push((c, a.clone()));
        }
        // HEL answered by something other than ACK or ERR.
        let mut r = a.clone();
        r[..3].copy_from_slice(b"MSG");
        cases.push((h.clone(), r));
        // OPN with a policy URI outside the OPC Foundation's.
        let mut opn = unhex(OPN);
        opn[20] = b'H';
        cases.push((opn, Vec::new()));
        for (o, r) in &cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let mut p = Payloads::tcp(40000, 4840, o, r, &ends);
            p.last = true;
            assert!(!not_refused(&OpcUa, &p), "{o:02x?}");
        }
    }
}
