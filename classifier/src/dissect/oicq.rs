//! OICQ, the classic QQ instant-messaging protocol (UDP, server port
//! 8000). A datagram is a start byte 0x02, a 16-bit version, a 16-bit
//! command, a 16-bit sequence number, the sender's QQ number (4 bytes;
//! only from the client), the body, and an end byte 0x03 (all
//! big-endian). The body is TEA-encrypted (a 64-bit block cipher, so its
//! length is a multiple of 8 bytes) with the session or password key:
//! only the header is in the clear. The flow is therefore encrypted,
//! although nDPI flags OICQ cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Oicq;

const PORT: u16 = 8000;
const START: u8 = 0x02;
const END: u8 = 0x03;
/// Start byte, version, command, sequence.
const HEADER: usize = 7;
/// The QQ number the client adds to the header.
const QQ: usize = 4;

/// (command, QQ number if the client sent it) when `d` is one whole OICQ
/// datagram: start and end bytes, a command below 0x100, and a body of
/// whole 8-byte TEA blocks after the client's or the server's header.
fn datagram(d: &[u8], from_client: bool) -> Option<(u16, Option<u32>)> {
    if d.first() != Some(&START) || d.last() != Some(&END) {
        return None;
    }
    let command = u16::from_be_bytes([*d.get(3)?, *d.get(4)?]);
    if command == 0 || command > 0xff {
        return None;
    }
    let header = if from_client { HEADER + QQ } else { HEADER };
    let body = d.len().checked_sub(header + 1)?;
    if body == 0 || body % 8 != 0 {
        return None;
    }
    let qq = if from_client {
        Some(u32::from_be_bytes(d.get(HEADER..HEADER + QQ)?.try_into().ok()?))
    } else {
        None
    };
    Some((command, qq))
}

fn command_name(c: u16) -> Option<&'static str> {
    Some(match c {
        0x01 => "logout",
        0x02 => "keep_alive",
        0x04 => "update_info",
        0x05 => "search_user",
        0x06 => "get_user_info",
        0x09 => "add_friend",
        0x0b => "change_status",
        0x16 => "send_message",
        0x17 => "receive_message",
        0x22 => "login",
        0x26 => "get_friend_list",
        _ => return None,
    })
}

impl Oicq {
    /// The first datagram and whether the client (the side not on port
    /// 8000) sent it.
    fn first<'a>(p: &Payloads<'a>) -> Option<(&'a [u8], bool)> {
        if !p.port(PORT) {
            return None;
        }
        let from_orig = !p.orig.is_empty();
        let d = p.first_payload();
        let sender_port = if from_orig { p.orig_port } else { p.resp_port };
        Some((d, sender_port != PORT))
    }
}

impl Dissector for Oicq {
    fn name(&self) -> &'static str {
        "oicq"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match Oicq::first(p) {
            Some((d, client)) if datagram(d, client).is_some() => Probe::Maybe,
            _ => Probe::NotMine,
        }
    }
    /// The probe admits only the start byte 0x02 (`datagram`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[START]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let Some((command, qq)) = Oicq::first(p).and_then(|(d, client)| datagram(d, client)) else {
            return Parse::NotMine;
        };
        meta.protocol = Some("oicq");
        meta.encryption = Encryption::Encrypted;
        match command_name(command) {
            Some(n) => meta.set_extra("oicq_command", n),
            None => meta.set_extra("oicq_command", format!("0x{command:02x}")),
        }
        if let Some(qq) = qq {
            meta.set_extra("oicq_qq", qq.to_string());
        }
        Parse::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, UdpFixture};

    fn client(command: u16, body: usize) -> Vec<u8> {
        let mut v = vec![START, 0x3b, 0x0b];
        v.extend_from_slice(&command.to_be_bytes());
        v.extend_from_slice(&[0x00, 0x17]);
        v.extend_from_slice(&1_444_875_387u32.to_be_bytes());
        v.extend((0..body).map(|i| (i * 37 + 11) as u8));
        v.push(END);
        v
    }

    #[test]
    fn logout_from_client() {
        let d = client(1, 32);
        assert_eq!(d.len(), 44);
        let (r, m) = check_split_udp(&Oicq, 54233, PORT, &[&d], &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("oicq"));
        assert_eq!(m.encryption, Encryption::Encrypted);
        assert_eq!(m.extra("oicq_command"), Some("logout"));
        assert_eq!(m.extra("oicq_qq"), Some("1444875387"));
    }

    #[test]
    fn server_answer_without_qq_number() {
        let mut d = vec![START, 0x3b, 0x0b, 0x00, 0x22, 0x00, 0x01];
        d.extend_from_slice(&[0x5a; 16]);
        d.push(END);
        let (r, m) = check_split_udp(&Oicq, 54233, PORT, &[], &[&d]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("oicq_command"), Some("login"));
        assert_eq!(m.extra("oicq_qq"), None);
    }

    #[test]
    fn not_oicq() {
        let good = client(1, 32);
        let mut no_end = good.clone();
        no_end.pop();
        no_end.push(0);
        let ragged = client(1, 31);
        let big_cmd = client(0x1234, 32);
        let cases: [(u16, &[u8]); 4] = [(9999, &good), (PORT, &no_end), (PORT, &ragged), (PORT, &big_cmd)];
        for (port, d) in cases {
            let f = UdpFixture::new(40000, port, &[d], &[]);
            let claimed = crate::dissect::not_refused(&Oicq, &f.payloads());
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
