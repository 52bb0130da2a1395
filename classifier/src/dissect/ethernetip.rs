//! EtherNet/IP's encapsulation protocol (explicit messaging, ODVA) over
//! TCP and UDP, on any port (44818 is only a hint; CIP I/O on 2222 is
//! `cip_io`). Every message opens with a 24-byte little-endian header:
//! command (NOP, ListServices, ListIdentity, ListInterfaces,
//! RegisterSession, UnRegisterSession, SendRRData, SendUnitData,
//! IndicateStatus, Cancel), the length of the data after the header, the
//! session handle, a status, an 8-byte sender context and options (0).
//! SendRRData and SendUnitData carry a Common Packet Format list: an
//! interface handle (0), a timeout, an item count and that many
//! type/length items tiling the data; RegisterSession carries protocol
//! version 1 and options 0.
//!
//! Taken on a whole first message whose fields are consistent and, on
//! TCP, whose successors tile the stream. The CIP requests and replies
//! travel in clear: cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct EthernetIp;

const HEADER: usize = 24;
const MAX_ITEMS: u16 = 8;
/// Messages walked per TCP side.
const MAX_MESSAGES: usize = 8;

fn command_name(c: u16) -> Option<&'static str> {
    Some(match c {
        0x0000 => "nop",
        0x0004 => "list_services",
        0x0063 => "list_identity",
        0x0064 => "list_interfaces",
        0x0065 => "register_session",
        0x0066 => "unregister_session",
        0x006f => "send_rr_data",
        0x0070 => "send_unit_data",
        0x0072 => "indicate_status",
        0x0073 => "cancel",
        _ => return None,
    })
}

/// Status codes of the encapsulation (success and the defined errors).
fn known_status(s: u32) -> bool {
    matches!(s, 0x00..=0x03 | 0x64 | 0x65 | 0x69)
}

/// A message opening `d`: `Ok(Some((command, end)))` when whole and
/// consistent, `Ok(None)` for a prefix of a plausible one, `Err` when
/// `d` cannot open one.
fn message(d: &[u8]) -> Result<Option<(u16, usize)>, ()> {
    let le16 = |i: usize| u16::from_le_bytes([d[i], d[i + 1]]);
    let le32 = |i: usize| u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    if d.len() >= 2 && command_name(le16(0)).is_none() {
        return Err(());
    }
    if d.len() >= 12 && !known_status(le32(8)) {
        return Err(());
    }
    if d.len() < HEADER {
        return Ok(None);
    }
    if le32(20) != 0 {
        return Err(());
    }
    let command = le16(0);
    let end = HEADER + usize::from(le16(2));
    let Some(body) = d.get(HEADER..end) else {
        return Ok(None);
    };
    let ok = match command {
        0x006f | 0x0070 => cpf(body),
        0x0065 => body.len() == 4 && body == [1, 0, 0, 0],
        0x0066 => body.is_empty(),
        _ => true,
    };
    if ok {
        Ok(Some((command, end)))
    } else {
        Err(())
    }
}

/// A Common Packet Format list filling `b` exactly.
fn cpf(b: &[u8]) -> bool {
    let [h0, h1, h2, h3, _, _, c0, c1, ref items @ ..] = *b else {
        return false;
    };
    let count = u16::from_le_bytes([c0, c1]);
    if [h0, h1, h2, h3] != [0; 4] || count == 0 || count > MAX_ITEMS {
        return false;
    }
    let mut rest = items;
    for _ in 0..count {
        let [_, _, l0, l1, ..] = *rest else {
            return false;
        };
        let len = 4 + usize::from(u16::from_le_bytes([l0, l1]));
        let Some(r) = rest.get(len..) else {
            return false;
        };
        rest = r;
    }
    rest.is_empty()
}

/// The first command of one side, once its first message is whole (and,
/// on TCP, the messages after it tile the data so far).
fn side(d: &[u8], tcp: bool) -> Result<Option<u16>, ()> {
    let Some((first, mut off)) = message(d)? else {
        // A datagram is whole: one cut short is not a message.
        return if tcp { Ok(None) } else { Err(()) };
    };
    // A NOP of zeros opens no session: 24 zero bytes are not evidence.
    if first == 0 {
        return Err(());
    }
    if tcp {
        for _ in 1..MAX_MESSAGES {
            if off >= d.len() {
                break;
            }
            match message(&d[off..])? {
                Some((_, end)) => off += end,
                None => break,
            }
        }
    } else if off != d.len() {
        return Err(());
    }
    Ok(Some(first))
}

impl Dissector for EthernetIp {
    fn name(&self) -> &'static str {
        "ethernetip"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp, Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        let d = p.first_payload();
        let ok = match p.transport {
            Transport::Tcp => message(d).is_ok(),
            Transport::Udp => side(d, false).is_ok(),
        };
        if ok {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let tcp = p.transport == Transport::Tcp;
        let (a, b) = if tcp {
            (p.first_side().stream(), p.second_side().stream())
        } else {
            (p.first_side().first(), p.second_side().first())
        };
        let Ok(x) = side(a, tcp) else {
            return Parse::NotMine;
        };
        let y = if b.is_empty() { Ok(None) } else { side(b, tcp) };
        let Ok(y) = y else {
            return Parse::NotMine;
        };
        let Some(command) = x else {
            return p.undecided();
        };
        meta.protocol = Some("ethernetip");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("enip_command", command_name(command).unwrap_or("other"));
        if y.is_some() {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_tcp, UdpFixture};

    // ethernetIP.pcap, 141.81.0.10:62717 -> 141.81.0.23:44818: a
    // SendUnitData request and its answer.
    const REQUEST: &[u8] = b"\x70\x00\xaa\x00\x00\x01\x02\x10\x00\x00\x00\x00\xa3\xa8\x93\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x02\x00\xa1\x00\x04\x00\x01\x03\x8b\x00\xb1\x00\x96\x00\x71\xec\x0a\x02\x20\x02\x24\x01\x04\x00\x0a\x00\x28\x00\x46\x00\x6a\x00\x4e\x0c\x91\x16\x4c\x4d\x53\x5f\x44\x49\x53\x41\x42\x4c\x45\x5f\x32\x44\x53\x43\x41\x4e\x4e\x45\x52\x31\x01\x00\x01\xff\x4e\x0c\x91\x16\x4c\x4d\x53\x5f\x44\x49\x53\x41\x42\x4c\x45\x5f\x32\x44\x53\x43\x41\x4e\x4e\x45\x52\x32\x01\x00\x01\xff\x4e\x0f\x91\x1b\x4c\x4d\x53\x5f\x44\x49\x53\x41\x42\x4c\x45\x5f\x42\x41\x52\x43\x4f\x44\x45\x5f\x53\x43\x41\x4e\x4e\x45\x52\x00\x01\x00\x00\xfe\x4e\x0f\x91\x1b\x4c\x4d\x53\x5f\x53\x45\x54\x50\x4f\x49\x4e\x54\x43\x48\x41\x4e\x47\x45\x5f\x52\x45\x43\x45\x49\x56\x45\x44\x00\x01\x00\x00\xfe";
    const ANSWER: &[u8] = b"\x70\x00\x34\x00\x00\x01\x02\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xa1\x00\x04\x00\xb5\xc7\x00\x80\xb1\x00\x20\x00\x71\xec\x8a\x00\x00\x00\x04\x00\x0a\x00\x0e\x00\x12\x00\x16\x00\xce\x00\x00\x00\xce\x00\x00\x00\xce\x00\x00\x00\xce\x00\x00\x00";

    #[test]
    fn send_unit_data() {
        let (r, m) = check_split_tcp(&EthernetIp, 44818, REQUEST, ANSWER);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("ethernetip"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("enip_command"), Some("send_unit_data"));
        // Two requests back to back, no answer yet.
        let two = [REQUEST, REQUEST].concat();
        let (r, _) = check_split_tcp(&EthernetIp, 44818, &two, b"");
        assert_eq!(r, Parse::Identified);
        // Over UDP.
        let f = UdpFixture::new(40000, 44818, &[REQUEST], &[ANSWER]);
        assert_eq!(EthernetIp.parse(&f.payloads(), &mut Meta::default()), Parse::Done);
    }

    #[test]
    fn not_ethernetip() {
        let mut command = REQUEST.to_vec();
        command[0] = 0x71;
        let mut options = REQUEST.to_vec();
        options[21] = 1;
        let mut items = REQUEST.to_vec();
        items[30] = 3;
        let mut handle = REQUEST.to_vec();
        handle[24] = 1;
        let trailing = [REQUEST, b"\x70\x00\x01"].concat();
        let mut status = REQUEST.to_vec();
        status[8] = 0x50;
        let nop = vec![0u8; 24];
        for c in [command, options, items, handle, trailing, status, nop] {
            let ends = [[c.len() as u32], [0]];
            let p = Payloads::tcp(40000, 44818, &c, &[], &ends);
            let t = crate::dissect::not_refused(&EthernetIp, &p);
            let f = UdpFixture::new(40000, 44818, &[&c], &[]);
            let u = crate::dissect::not_refused(&EthernetIp, &f.payloads());
            assert!(!t || !u, "{:?}", &c[..24]);
        }
    }
}
