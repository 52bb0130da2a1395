//! MQTT (OASIS MQTT 3.1, 3.1.1 and 5.0) over TCP, on any port (1883 is a
//! hint only; MQTT over TLS, 8883, is the TLS dissector's).
//!
//! Every control packet is a fixed header (packet type in the high
//! nibble, flags in the low one, fixed for every type but PUBLISH) and a
//! remaining length (a variable-length integer of one to four bytes).
//! Two openings are recognised:
//! - the client's CONNECT: protocol name `MQTT` (level 4 or 5) or
//!   `MQIsdp` (level 3), connect flags with the reserved bit clear, a
//!   keep-alive, and a client identifier string that fits the packet;
//!   when the server has answered, its first packet must be a CONNACK;
//! - on a connection seen after its start, a PUBLISH at QoS 1 or 2 with a
//!   UTF-8 topic, fitting its remaining length, answered by the other
//!   side's PUBACK or PUBREC for the same packet identifier; such a
//!   connection may open with keep-alives (PINGREQ `c0 00` answered by
//!   PINGRESP `d0 00`, up to four pairs), after which either side may
//!   be the publisher.
//!
//! MQTT itself has no encryption: cleartext.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Mqtt;

const CONNECT: u8 = 0x10;
const CONNACK: u8 = 0x20;
const PINGREQ: [u8; 2] = [0xc0, 0];
const PINGRESP: [u8; 2] = [0xd0, 0];
/// Keep-alive pairs skipped at most.
const MAX_PINGS: usize = 4;
const VALUE_MAX: usize = 128;

/// A fixed header at the start of `d`: (first byte, header length,
/// remaining length). `Err(true)` when more bytes are needed.
fn fixed_header(d: &[u8]) -> Result<(u8, usize, usize), bool> {
    let Some(&b0) = d.first() else { return Err(true) };
    let flags_ok = match b0 >> 4 {
        0 => false,
        3 => (b0 >> 1) & 3 != 3,
        6 | 8 | 10 => b0 & 0xf == 2,
        _ => b0 & 0xf == 0,
    };
    if !flags_ok {
        return Err(false);
    }
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&b) = d.get(1 + i) else { return Err(true) };
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // The shortest encoding only.
            if i > 0 && b == 0 {
                return Err(false);
            }
            return Ok((b0, 2 + i, len));
        }
    }
    Err(false)
}

/// A length-prefixed string at `off`, within `end`.
fn string(d: &[u8], off: usize, end: usize) -> Result<&[u8], bool> {
    if off + 2 > end {
        return Err(false);
    }
    let l = d.get(off..off + 2).ok_or(true)?;
    let l = usize::from(u16::from_be_bytes([l[0], l[1]]));
    if off + 2 + l > end {
        return Err(false);
    }
    d.get(off + 2..off + 2 + l).ok_or(true)
}

/// A CONNECT packet at the start of `d`: (protocol level, client id).
fn connect(d: &[u8]) -> Result<(u8, &[u8]), bool> {
    let (b0, h, rem) = fixed_header(d)?;
    if b0 != CONNECT || rem < 12 {
        return Err(false);
    }
    let end = h + rem;
    let name = string(d, h, end)?;
    let off = h + 2 + name.len();
    let (Some(&level), Some(&flags)) = (d.get(off), d.get(off + 1)) else {
        return Err(true);
    };
    let ok = match name {
        b"MQTT" => level == 4 || level == 5,
        b"MQIsdp" => level == 3,
        _ => false,
    };
    // Reserved bit clear; a will QoS of at most 2, none without a will.
    if !ok || flags & 1 != 0 || (flags >> 3) & 3 == 3 || (flags & 4 == 0 && flags & 0x38 != 0) {
        return Err(false);
    }
    let mut off = off + 4;
    if level == 5 {
        // Properties: a variable-length integer, then that many bytes.
        let mut plen = 0usize;
        let mut i = 0;
        loop {
            let Some(&b) = d.get(off + i) else { return Err(true) };
            plen |= usize::from(b & 0x7f) << (7 * i);
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            if i == 4 {
                return Err(false);
            }
        }
        off += i + plen;
        if off > end {
            return Err(false);
        }
    }
    let id = string(d, off, end)?;
    Ok((level, id))
}

/// A PUBLISH at QoS 1 or 2 at the start of `d`: (QoS, packet id).
fn publish(d: &[u8]) -> Result<(u8, [u8; 2]), bool> {
    let (b0, h, rem) = fixed_header(d)?;
    let qos = (b0 >> 1) & 3;
    if b0 >> 4 != 3 || qos == 0 {
        return Err(false);
    }
    let topic = string(d, h, h + rem)?;
    if topic.is_empty() || std::str::from_utf8(topic).map_or(true, |t| t.chars().any(char::is_control)) {
        return Err(false);
    }
    let off = h + 2 + topic.len();
    if off + 2 > h + rem {
        return Err(false);
    }
    let id = d.get(off..off + 2).ok_or(true)?;
    if id == [0, 0] {
        return Err(false);
    }
    Ok((qos, [id[0], id[1]]))
}

/// A PUBLISH at QoS 1 or 2 at the start of `d`, answered at the start of
/// `answer` by a PUBACK (QoS 1) or PUBREC (QoS 2), remaining length 2 or
/// more, for the same packet identifier.
fn acked_publish(d: &[u8], answer: &[u8]) -> Result<(), bool> {
    let (qos, id) = publish(d)?;
    let want = if qos == 1 { 0x40 } else { 0x50 };
    match answer {
        [] | [_] | [_, _] | [_, _, _] => Err(true),
        [b0, len, i0, i1, ..] if *b0 == want && *len >= 2 && [*i0, *i1] == id => Ok(()),
        _ => Err(false),
    }
}

impl Dissector for Mqtt {
    fn name(&self) -> &'static str {
        "mqtt"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.first_payload().first() {
            None => Probe::Maybe,
            Some(&b) if b == CONNECT || b >> 4 == 3 || b == PINGREQ[0] => Probe::Maybe,
            Some(_) => Probe::NotMine,
        }
    }
    /// CONNECT, PUBLISH (any flags) or PINGREQ.
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::range(0x30, 0x3f).with(CONNECT).with(PINGREQ[0]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.first_side().stream();
        let answer = p.second_side().stream();
        if d.first() == Some(&CONNECT) {
            let (level, id) = match connect(d) {
                Ok(x) => x,
                Err(true) => return p.undecided(),
                Err(false) => return Parse::NotMine,
            };
            let answered = match answer.first() {
                None => false,
                Some(&CONNACK) => true,
                Some(_) => return Parse::NotMine,
            };
            meta.protocol = Some("mqtt");
            meta.encryption = Encryption::Cleartext;
            let version = match level {
                3 => "3.1",
                4 => "3.1.1",
                _ => "5.0",
            };
            meta.set_extra("mqtt_version", version);
            if !id.is_empty() {
                meta.set_extra("mqtt_client_id", super::text::to_string(id, VALUE_MAX));
            }
            return if answered { Parse::Done } else { Parse::Identified };
        }
        // Keep-alive pairs first: the first side's PINGREQ, the other's
        // PINGRESP; wait while a pair is incomplete.
        let (mut d, mut answer) = (d, answer);
        let mut pings = 0;
        while pings < MAX_PINGS && d.starts_with(&PINGREQ) {
            if answer.len() < 2 && PINGRESP.starts_with(answer) {
                return p.undecided();
            }
            if !answer.starts_with(&PINGRESP) {
                return Parse::NotMine;
            }
            (d, answer) = (&d[2..], &answer[2..]);
            pings += 1;
        }
        if d == [PINGREQ[0]] {
            return p.undecided();
        }
        let mut r = acked_publish(d, answer);
        if pings > 0 && r.is_err() {
            // After keep-alives either side may publish.
            r = match acked_publish(answer, d) {
                Ok(()) => Ok(()),
                Err(more) => Err(more || r == Err(true)),
            };
        }
        match r {
            Ok(()) => {
                meta.protocol = Some("mqtt");
                meta.encryption = Encryption::Cleartext;
                Parse::Done
            }
            Err(true) => p.undecided(),
            Err(false) => Parse::NotMine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;
    use crate::dissect::unhex as hex;

    /// coap_mqtt.pcap: an MQTT 3.1.1 CONNECT (client id "Bus41") and its
    /// CONNACK.
    const CONNECT_311: &str = "101100044d5154540402003c00054275733431";
    /// coap_mqtt.pcap: a QoS 1 PUBLISH on "Bus17Cmd" and its PUBACK.
    const PUBLISH: &str = "325400084275733137436d6400027b226d65737361676554797065223a22555044415445222c226d657373616765436f6e74656e74223a22467269204665622031392032303a34313a3131204545542032303136227d";

    #[test]
    fn connect_and_connack() {
        let c = hex(CONNECT_311);
        let (r, m) = check_split_tcp(&Mqtt, 1883, &c, &[0x20, 2, 0, 0]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("mqtt"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("mqtt_version"), Some("3.1.1"));
        assert_eq!(m.extra("mqtt_client_id"), Some("Bus41"));
        // mqtt.pcap: MQTT 3.1 ("MQIsdp"), client id of 22 characters.
        let mut v3 = vec![0x10, 0x40, 0, 6];
        v3.extend_from_slice(b"MQIsdp");
        v3.extend_from_slice(&[3, 0xc2, 0, 0x14, 0, 0x16]);
        v3.extend_from_slice(b"cbaabcbabacbbbbbaaaaab");
        v3.extend_from_slice(b"\x00\x0c02D5050223D3\x00\x0c02D5050223D3");
        assert_eq!(v3.len(), 0x42);
        let (r, m) = check_split_tcp(&Mqtt, 1883, &v3, &[0x20, 2, 0, 0]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("mqtt_version"), Some("3.1"));
    }

    #[test]
    fn publish_and_puback() {
        let p = hex(PUBLISH);
        let (r, m) = check_split_tcp(&Mqtt, 53524, &p, &[0x40, 2, 0, 2]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("mqtt"));
        let ends = [[p.len() as u32], [4]];
        let other = Payloads::tcp(40000, 1883, &p, &[0x40, 2, 0, 3], &ends);
        assert!(!crate::dissect::not_refused(&Mqtt, &other));
    }

    #[test]
    fn keepalives_then_publish() {
        // coap_mqtt.pcap, 192.168.56.1:53522 <-> 192.168.56.101:17501: the
        // client's PINGREQ and the server's PINGRESP, then the server
        // publishes (QoS 1, id 2) and the client acknowledges.
        let mut c = PINGREQ.to_vec();
        c.extend_from_slice(&[0x40, 2, 0, 2]);
        let mut s = PINGRESP.to_vec();
        s.extend_from_slice(&hex(PUBLISH));
        let (r, m) = check_split_tcp(&Mqtt, 17501, &c, &s);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("mqtt"));
        // The client publishing after the keep-alive.
        let mut c2 = PINGREQ.to_vec();
        c2.extend_from_slice(&hex(PUBLISH));
        let mut s2 = PINGRESP.to_vec();
        s2.extend_from_slice(&[0x40, 2, 0, 2]);
        let (r, _) = check_split_tcp(&Mqtt, 17501, &c2, &s2);
        assert_eq!(r, Parse::Done);
        // A keep-alive alone waits; a wrong answer, another id, or no
        // publish after it are refused.
        let ends = [[2], [2]];
        let p = Payloads::tcp(40000, 17501, &PINGREQ, &PINGRESP, &ends);
        assert_eq!(Mqtt.parse(&p, &mut Meta::default()), Parse::NeedMore);
        let mut wrong_id = c.clone();
        wrong_id[5] = 3;
        let cases: [(&[u8], &[u8]); 4] = [
            (&PINGREQ, &[0xd0, 1]),
            (&PINGREQ, b"HTTP/1.1 200 OK\r\n"),
            (&wrong_id, &s),
            (&[0xc0, 0, 0x17, 0x03, 0x03, 0, 5], &[0xd0, 0, 0x17, 0x03, 0x03, 0, 5]),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 1883, o, r, &ends);
            assert!(!crate::dissect::not_refused(&Mqtt, &p), "{o:?}");
        }
    }

    #[test]
    fn not_mqtt() {
        let c = hex(CONNECT_311);
        let mut name = c.clone();
        name[4] = b'N';
        let mut level = c.clone();
        level[8] = 7;
        let mut reserved = c.clone();
        reserved[9] = 3;
        let mut idlen = c.clone();
        idlen[13] = 9;
        let cases: [(&[u8], &[u8]); 5] = [
            (&name, &[]),
            (&level, &[]),
            (&reserved, &[]),
            (&idlen, &[]),
            (&c, b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 1883, o, r, &ends);
            assert!(!crate::dissect::not_refused(&Mqtt, &p), "{o:?}");
        }
    }
}
