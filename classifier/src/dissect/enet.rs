//! ENet, the reliable-UDP library many games use (Gaijin's War Thunder
//! among them: nDPI names those flows GaijinEntertainment), on any port,
//! after the packet layout of its protocol header (protocol.h of the
//! library; all fields big-endian).
//!
//! A datagram is a 4-byte header (peer id with flags, sent time; 8 bytes
//! with the optional checksum) and commands of a 4-byte header (command
//! number with the acknowledge flag, channel, reliable sequence number)
//! and a body fixed by the command. The connection opens with CONNECT
//! (command 2 with the acknowledge flag, channel 0xff) from a peer that
//! has no id yet (peer id 0xfff, sent time present): the outgoing peer
//! id, session ids, MTU (576..=4096), window size (4096..=65536),
//! channel count (1..=255), bandwidths, throttle values, the 32-bit
//! connect id and a data word; nothing else in the datagram. The server
//! answers VERIFY_CONNECT (command 3) carrying the same connect id. The
//! connect alone identifies the flow (every field is bounded); a verify
//! that does not echo the connect id refutes it. ENet has no encryption
//! and the game messages carry readable text (player names): `cleartext`.

use super::{ByteSet, Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Enet;

const CONNECT: u8 = 0x82;
const VERIFY_CONNECT: u8 = 0x83;
/// Command header and CONNECT body.
const CONNECT_CMD_LEN: usize = 48;
/// Command header and VERIFY_CONNECT body.
const VERIFY_CMD_LEN: usize = 44;
/// Offset of the connect id in both commands.
const CONNECT_ID: usize = 40;

fn u32_be(d: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = d.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// The offset of the single command of `d`, whose length must be
/// `cmd_len`: after the 4-byte header, or the 8-byte one with a checksum.
fn command(d: &[u8], cmd_len: usize) -> Option<usize> {
    [4usize, 8].into_iter().find(|&h| d.len() == h + cmd_len)
}

/// A CONNECT datagram: its command offset, MTU and channel count.
fn connect(d: &[u8]) -> Option<(usize, u32, u32)> {
    let c = command(d, CONNECT_CMD_LEN)?;
    // Sent time present, not compressed, no peer id yet (0xfff); the
    // session bits (0x3000) are free.
    if d[0] & 0xcf != 0x8f || d[1] != 0xff || d[c] != CONNECT || d[c + 1] != 0xff {
        return None;
    }
    let mtu = u32_be(d, c + 8)?;
    let window = u32_be(d, c + 12)?;
    let channels = u32_be(d, c + 16)?;
    ((576..=4096).contains(&mtu) && (4096..=65536).contains(&window) && (1..=255).contains(&channels))
        .then_some((c, mtu, channels))
}

fn verify(d: &[u8]) -> Option<u32> {
    let c = command(d, VERIFY_CMD_LEN)?;
    if d[0] & 0x80 == 0 || d[c] != VERIFY_CONNECT || d[c + 1] != 0xff {
        return None;
    }
    u32_be(d, c + CONNECT_ID)
}

impl Dissector for Enet {
    fn name(&self) -> &'static str {
        "enet"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Udp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if connect(p.orig.first()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    /// The probe admits only the originator's connect: `d[0] & 0xcf == 0x8f`
    /// (`connect`).
    fn first_bytes(&self) -> Option<ByteSet> {
        Some(ByteSet::of(&[0x8f, 0x9f, 0xaf, 0xbf]))
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let q = p.orig.first();
        let Some((c, mtu, channels)) = connect(q) else {
            return Parse::NotMine;
        };
        let verified = match p.resp.first() {
            [] => false,
            a if verify(a).is_some() && verify(a) == u32_be(q, c + CONNECT_ID) => true,
            _ => return Parse::NotMine,
        };
        meta.protocol = Some("enet");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("enet_mtu", mtu.to_string());
        meta.set_extra("enet_channels", channels.to_string());
        if verified {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{check_split_udp, not_refused, unhex, UdpFixture};

    // gaijin_warthunder.pcap, 192.168.88.231:36929 <-> 185.253.20.249:20021.
    const CONNECT_HEX: &str = "8fff000182ff00010000ffff000004b000010000000000ff0000000000000000
        00001388000000000000000096990a4400260000";
    const VERIFY_HEX: &str = "8000009383ff000100000000000004b000010000000000ff0000000000000000
        00001388000000000000000096990a44";

    #[test]
    fn connect_and_verify() {
        let (q, a) = (unhex(CONNECT_HEX), unhex(VERIFY_HEX));
        let (r, m) = check_split_udp(&Enet, 36929, 20021, &[&q], &[&a]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("enet"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("enet_mtu"), Some("1200"));
        assert_eq!(m.extra("enet_channels"), Some("255"));
        let (r, _) = check_split_udp(&Enet, 36929, 20021, &[&q], &[]);
        assert_eq!(r, Parse::Identified);
        // With the optional checksum after the header.
        let mut qc = q[..4].to_vec();
        qc.extend_from_slice(&[1, 2, 3, 4]);
        qc.extend_from_slice(&q[4..]);
        let (r, _) = check_split_udp(&Enet, 36929, 20021, &[&qc], &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn near_misses() {
        let (q, a) = (unhex(CONNECT_HEX), unhex(VERIFY_HEX));
        let mut peer = q.clone();
        peer[1] = 0x00;
        let mut cmd = q.clone();
        cmd[4] = 0x83;
        let mut mtu = q.clone();
        mtu[12..16].copy_from_slice(&9000u32.to_be_bytes());
        let mut window = q.clone();
        window[16..20].copy_from_slice(&100u32.to_be_bytes());
        let mut chans = q.clone();
        chans[20..24].copy_from_slice(&0u32.to_be_bytes());
        for d in [&peer, &cmd, &mtu, &window, &chans, &q[..51].to_vec()] {
            let f = UdpFixture::new(36929, 20021, &[d], &[]);
            assert!(!not_refused(&Enet, &f.payloads()));
        }
        let mut other_id = a.clone();
        other_id[47] ^= 1;
        let f = UdpFixture::new(36929, 20021, &[&q], &[&other_id]);
        assert!(!not_refused(&Enet, &f.payloads()));
    }
}
