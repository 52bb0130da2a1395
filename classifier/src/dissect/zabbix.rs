//! Zabbix, the monitoring protocol between agents, proxies and servers
//! over TCP (agent 10050, server/trapper 10051; any port accepted). Every
//! message starts with the header `ZBXD`, a flags byte (0x01 protocol,
//! always set; 0x02 zlib-compressed body; 0x04 large packet: 64-bit
//! lengths), the body length and a reserved field (the uncompressed
//! length when compressed), both little-endian, 32 bits each (64 with
//! 0x04). The body is JSON or an item key, in clear (or only compressed):
//! cleartext.

use super::{agrees, ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Zabbix;

const MAGIC: &[u8; 4] = b"ZBXD";
const PROTOCOL: u8 = 0x01;
const COMPRESSED: u8 = 0x02;
const LARGE: u8 = 0x04;

/// `Some(Some(flags))` when `d` starts with a Zabbix header, `Some(None)`
/// for a prefix of one, `None` when it is not Zabbix.
fn header(d: &[u8]) -> Option<Option<u8>> {
    if !agrees(d, MAGIC) {
        return None;
    }
    let Some(&flags) = d.get(MAGIC.len()) else {
        return Some(None);
    };
    if flags & PROTOCOL == 0 || flags & !(PROTOCOL | COMPRESSED | LARGE) != 0 {
        return None;
    }
    Some(Some(flags))
}

impl Dissector for Zabbix {
    fn name(&self) -> &'static str {
        "zabbix"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if header(p.first_side().stream()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The `ZBXD` magic (`header` on whoever spoke first).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[MAGIC[0]]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let s = p.first_side().stream();
        if s.is_empty() {
            return p.undecided();
        }
        let flags = match header(s) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(f)) => f,
        };
        meta.protocol = Some("zabbix");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("zabbix_compressed", if flags & COMPRESSED != 0 { "yes" } else { "no" });
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;

    #[test]
    fn agent_check_and_compressed_trapper() {
        // Passive agent check (item key `proc.num[]`) and its answer.
        let q = b"ZBXD\x01\x0a\x00\x00\x00\x00\x00\x00\x00proc.num[]";
        let a = b"ZBXD\x01\x03\x00\x00\x00\x00\x00\x00\x00263";
        let (r, m) = check_split_tcp(&Zabbix, 10050, q, a);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("zabbix"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("zabbix_compressed"), Some("no"));
        // Compressed active-agent request to the server.
        let c = b"ZBXD\x03\x4e\x00\x00\x00\x45\x00\x00\x00\x78\x9c\xaa\x56\x2a\x4a";
        let (r, m) = check_split_tcp(&Zabbix, 10051, c, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("zabbix_compressed"), Some("yes"));
    }

    #[test]
    fn not_zabbix() {
        let cases: [&[u8]; 4] = [
            b"ZBXD\x00\x03\x00\x00\x00",
            b"ZBXD\x09\x03\x00\x00\x00",
            b"ZBXE\x01\x03\x00\x00\x00",
            b"GET / HTTP/1.1\r\n",
        ];
        for d in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, 10051, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Zabbix, &p);
            assert!(!claimed, "{d:?}");
        }
        // A prefix of the magic waits, and is given up at the end.
        let ends = [[3], [0]];
        let mut p = Payloads::tcp(40000, 10051, b"ZBX", &[], &ends);
        assert_eq!(Zabbix.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Zabbix.parse(&p, &mut Meta::default()), Parse::NotMine);
    }
}
