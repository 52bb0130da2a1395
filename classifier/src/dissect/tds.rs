//! Tabular Data Stream (TDS, [MS-TDS]), Microsoft SQL Server's protocol,
//! over TCP on any port (1433 is a hint only).
//!
//! Every message travels in packets with an 8-byte header: type, status
//! (end-of-message, ignore, reset bits only), a big-endian length
//! counting the header (8..=32768), a server process id, a packet number
//! and a window byte that is always 0. The client sends SQL batches,
//! logins, RPCs, attentions, bulk loads, transaction-manager requests,
//! SSPI and PRELOGIN messages; the server answers with tabular results
//! (type 4). Two ways to be sure:
//! - a PRELOGIN whose option table (token, offset, length, ending in
//!   0xff) points inside the packet, in increasing order;
//! - any client packet whose headers tile the stream seen so far (each
//!   length lands on the next header or the end), answered by server
//!   packets of type 4 that tile the answer the same way.
//!
//! TDS without encryption is cleartext; a client and server that agree
//! on encryption in PRELOGIN run TLS inside later TDS packets, which
//! this dissector does not follow (it decides on the first messages).

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Tds;

const HEADER: usize = 8;
const MAX_PACKET: usize = 32768;
const PRELOGIN: u8 = 0x12;
const RESULT: u8 = 0x04;
/// Packets whose headers are checked per side.
const MAX_PACKETS: usize = 8;

fn client_type(t: u8) -> Option<&'static str> {
    Some(match t {
        0x01 => "sql_batch",
        0x02 => "login",
        0x03 => "rpc",
        0x06 => "attention",
        0x07 => "bulk_load",
        0x0e => "transaction_manager",
        0x10 => "login7",
        0x11 => "sspi",
        PRELOGIN => "prelogin",
        _ => return None,
    })
}

/// The length of a valid packet header at the start of `d` whose type
/// passes `ty`. `Err(true)` when fewer than 8 bytes are there.
fn header(d: &[u8], ty: impl Fn(u8) -> bool) -> Result<usize, bool> {
    let h = d.get(..HEADER).ok_or(true)?;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let ok = ty(h[0]) && h[1] & 0xe0 == 0 && h[7] == 0 && (HEADER..=MAX_PACKET).contains(&len);
    if ok {
        Ok(len)
    } else {
        Err(false)
    }
}

/// Whether the packets at the start of `d` tile it (the last may be cut
/// short by the end of what was seen). `Err(true)`: no complete header.
fn tiles(d: &[u8], ty: impl Fn(u8) -> bool + Copy) -> Result<(), bool> {
    let mut off = 0;
    for _ in 0..MAX_PACKETS {
        match header(&d[off..], ty) {
            Ok(len) => off += len,
            // The next packet has not fully arrived yet.
            Err(true) if off > 0 => return Ok(()),
            Err(e) => return Err(e),
        }
        if off >= d.len() {
            return Ok(());
        }
    }
    Ok(())
}

/// A PRELOGIN option table inside packet `pkt` (header included).
fn prelogin_options(pkt: &[u8]) -> Result<(), bool> {
    let body = &pkt[HEADER..];
    let mut at = 0;
    let mut last_end = 0usize;
    let mut first_off = usize::MAX;
    for _ in 0..32 {
        let Some(&token) = body.get(at) else {
            return Err(true);
        };
        if token == 0xff {
            // The values come after the table.
            return if first_off > at { Ok(()) } else { Err(false) };
        }
        let o = body.get(at + 1..at + 5).ok_or(true)?;
        let (off, len) = (
            usize::from(u16::from_be_bytes([o[0], o[1]])),
            usize::from(u16::from_be_bytes([o[2], o[3]])),
        );
        if token > 0x08 || off < last_end || off + len > body.len() {
            return Err(false);
        }
        first_off = first_off.min(off);
        last_end = off + len;
        at += 5;
    }
    Err(false)
}

/// UTF-16LE ASCII text, every character passing `ok`.
fn utf16_ascii(d: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    d.len().is_multiple_of(2) && d.chunks_exact(2).all(|c| c[1] == 0 && ok(c[0]))
}

/// For a SQL batch or RPC packet `pkt` (header included) that is whole:
/// whether its body has the structure of one. `None`: not judged.
fn request_body(pkt: &[u8]) -> Option<bool> {
    let body = pkt.get(HEADER..)?;
    let u32le = |o: usize| {
        body.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let total = u32le(0)?;
    // ALL_HEADERS (TDS 7.2 and later): headers of known types tiling the
    // announced total.
    if (4 + 6..=body.len()).contains(&total) {
        let mut at = 4;
        while at < total {
            let len = u32le(at)?;
            let ty = body.get(at + 4..at + 6).map(|t| u16::from_le_bytes([t[0], t[1]]))?;
            if len < 6 || !(1..=3).contains(&ty) || at + len > total {
                break;
            }
            at += len;
        }
        if at == total {
            return Some(true);
        }
    }
    match pkt[0] {
        // An RPC by name: a length, then that many UTF-16 identifier characters.
        0x03 => {
            let n = usize::from(u16::from_le_bytes([body[0], body[1]]));
            let name = body.get(2..2 + 2 * n)?;
            Some((1..=128).contains(&n) && utf16_ascii(name, |c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.'))
        }
        // A batch: SQL text in UTF-16.
        _ => Some(
            body.len() >= 32
                && utf16_ascii(body, |c| {
                    c == b'\t' || c == b'\r' || c == b'\n' || (0x20..0x7f).contains(&c)
                }),
        ),
    }
}

impl Dissector for Tds {
    fn name(&self) -> &'static str {
        "tds"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        match p.orig.stream().first() {
            Some(&t) if client_type(t).is_none() => Probe::NotMine,
            _ => Probe::Maybe,
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        let d = p.orig.stream();
        let Some(&t) = d.first() else {
            return p.undecided();
        };
        let Some(kind) = client_type(t) else {
            return Parse::NotMine;
        };
        match tiles(d, |t| client_type(t).is_some()) {
            Ok(()) => {}
            Err(true) => return p.undecided(),
            Err(false) => return Parse::NotMine,
        }
        let mut sure = false;
        if t == PRELOGIN {
            let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
            if let Some(pkt) = d.get(..len) {
                match prelogin_options(pkt) {
                    Ok(()) => sure = true,
                    Err(_) => return Parse::NotMine,
                }
            }
        }
        if matches!(t, 0x01 | 0x03) {
            let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
            if let Some(pkt) = d.get(..len) {
                match request_body(pkt) {
                    Some(true) => sure = true,
                    Some(false) => return Parse::NotMine,
                    None => {}
                }
            }
        }
        let answer = p.resp.stream();
        match tiles(answer, |t| t == RESULT) {
            Ok(()) => {}
            Err(false) => return Parse::NotMine,
            // No answer yet: only a PRELOGIN's option table is enough.
            Err(true) if !sure => return p.undecided(),
            Err(true) => {}
        }
        meta.protocol = Some("tds");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("tds_first_message", kind);
        if answer.len() >= HEADER {
            Parse::Done
        } else {
            Parse::Identified
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;
    use crate::dissect::unhex as hex;

    /// mssql_tds.pcap: a SQL batch ("COMMIT TRANSACTION") and the
    /// server's DONE token.
    const BATCH: &str = "0101002c0000010043004f004d004d004900540020005400520041004e00530041004300540049004f004e00";
    const DONE: &str = "04010011013a0100fd0000d50000000000";

    const RPC: &str = concat!(
        "030900b900000100160000001200000002000000000000000000010000000e0070005f0047006500740042006f00670075007300440061007400610000000b400053006500610072006300680054007900700065000026010101",
        "1540004d00610078005700610069007400540069006d00650049006e005300650063006f006e00640073000026040400000000134000500072006f0063006500730073004e006500670061007400690076006500410063006b000026010100"
    );

    fn prelogin() -> Vec<u8> {
        // VERSION (6 bytes), ENCRYPTION (1 byte), terminator, values.
        let mut b = vec![0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xff];
        b.extend_from_slice(&[16, 0, 0x07, 0xd0, 0, 0, 2]);
        let mut d = vec![PRELOGIN, 1, 0, (HEADER + b.len()) as u8, 0, 0, 1, 0];
        d.extend_from_slice(&b);
        d
    }

    #[test]
    fn batch_and_result() {
        let (q, a) = (hex(BATCH), hex(DONE));
        let (r, m) = check_split_tcp(&Tds, 1433, &q, &a);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("tds"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("tds_first_message"), Some("sql_batch"));
        // Alone, the batch's UTF-16 text is enough.
        let (r, _) = check_split_tcp(&Tds, 1433, &q, &[]);
        assert_eq!(r, Parse::Identified);
        // mssql_tds.pcap: an RPC with ALL_HEADERS (a transaction
        // descriptor), and one calling sp_executesql by name.
        let rpc = hex(RPC);
        let (r, _) = check_split_tcp(&Tds, 1433, &rpc, &[]);
        assert_eq!(r, Parse::Identified);
        let mut named = vec![0x03, 0x09, 0, 0, 0, 0, 1, 0, 13, 0];
        for c in b"sp_executesql" {
            named.extend_from_slice(&[*c, 0]);
        }
        named.extend_from_slice(&[2, 0]);
        let n = named.len() as u8;
        named[3] = n;
        let (r, _) = check_split_tcp(&Tds, 1433, &named, &[]);
        assert_eq!(r, Parse::Identified);
    }

    #[test]
    fn prelogin_alone() {
        let d = prelogin();
        let (r, m) = check_split_tcp(&Tds, 1433, &d, &[]);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("tds_first_message"), Some("prelogin"));
    }

    #[test]
    fn not_tds() {
        let (q, a) = (hex(BATCH), hex(DONE));
        let mut window = q.clone();
        window[7] = 1;
        let mut short = q.clone();
        short[3] = 0x20;
        let mut rtype = a.clone();
        rtype[0] = 0x05;
        let mut batch_bin = q.clone();
        batch_bin[9] = 1;
        let mut pre = prelogin();
        pre[HEADER + 2] = 0x40;
        let cases: [(&[u8], &[u8]); 6] = [
            (&batch_bin, &[]),
            (&window, &a),
            (&short, &a),
            (&q, &rtype),
            (&q, b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            (&pre, &[]),
        ];
        for (o, r) in cases {
            let ends = [[o.len() as u32], [r.len() as u32]];
            let p = Payloads::tcp(40000, 1433, o, r, &ends);
            assert!(!crate::dissect::not_refused(&Tds, &p), "{o:?} {r:?}");
        }
    }
}
