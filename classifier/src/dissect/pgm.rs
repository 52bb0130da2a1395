//! PGM (RFC 3208, Pragmatic General Multicast): the transport is IP
//! protocol 113 itself, so this is not a [`super::Dissector`]; the
//! engine calls [`identify`] on the first payload of such a flow. The
//! 16-byte header: source and destination ports, a type (SPM, POLL,
//! POLR, ODATA, RDATA, NAK, NNAK, NCF, SPMR, ACK), option flags, a
//! checksum, the global source id and a TSDU length. Options, when
//! flagged present, start with OPT_LENGTH (type 0, length 4) giving
//! their total length, and must fit. The body must then be exactly what
//! the type calls for: an SPM its three sequence numbers and a path NLA
//! (family 1 IPv4 or 2 IPv6); ODATA and RDATA two sequence numbers and
//! TSDU-length bytes of data; a NAK, NNAK or NCF a sequence number and
//! source and group NLAs. Cleartext (PGM carries application data as
//! is).

use crate::verdict::{Encryption, Evidence, Meta};

/// IP protocol number of PGM.
pub const PGM: u8 = 113;
const HEADER: usize = 16;

fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0x00 => "spm",
        0x01 => "poll",
        0x02 => "polr",
        0x04 => "odata",
        0x05 => "rdata",
        0x08 => "nak",
        0x09 => "nnak",
        0x0a => "ncf",
        0x0c => "spmr",
        0x0d => "ack",
        _ => return None,
    })
}

/// The length of a NLA (address family, reserved, address) at `d`.
fn nla(d: &[u8]) -> Option<usize> {
    match u16::from_be_bytes([*d.first()?, *d.get(1)?]) {
        1 => Some(8),
        2 => Some(20),
        _ => None,
    }
}

/// Whether `body` (after the options) is what type `t` calls for.
fn body_fits(t: u8, body: &[u8], tsdu: usize) -> bool {
    match t {
        0x00 => body
            .len()
            .checked_sub(12)
            .is_some_and(|rest| body.get(12..).and_then(nla) == Some(rest)),
        0x04 | 0x05 => body.len() == 8 + tsdu,
        0x08..=0x0a => (|| {
            let source = nla(body.get(4..)?)?;
            let group = nla(body.get(4 + source..)?)?;
            Some(body.len() == 4 + source + group)
        })()
        .unwrap_or(false),
        _ => true,
    }
}

/// Fills `meta` when `msg`, the payload of an IP packet of protocol
/// `proto`, is a PGM packet; true if it was.
pub fn identify(proto: u8, msg: &[u8], meta: &mut Meta) -> bool {
    if proto != PGM {
        return false;
    }
    let Some(h) = msg.get(..HEADER) else { return false };
    let (kind, options) = (h[4], h[5]);
    let Some(name) = type_name(kind) else { return false };
    let tsdu = usize::from(u16::from_be_bytes([h[14], h[15]]));
    if h[0..2] == [0, 0] || h[2..4] == [0, 0] || options & 0x3c != 0 {
        return false;
    }
    // The fixed part before the options: SPM 12 + NLA, data 8, NAK-like
    // 4 + two NLAs; options follow the whole fixed body, so find it.
    let fixed = match kind {
        0x00 => msg.get(HEADER + 12..).and_then(nla).map(|n| 12 + n),
        0x04 | 0x05 => Some(8),
        0x08..=0x0a => (|| {
            let source = nla(msg.get(HEADER + 4..)?)?;
            Some(4 + source + nla(msg.get(HEADER + 4 + source..)?)?)
        })(),
        _ => Some(0),
    };
    let Some(fixed) = fixed else { return false };
    let mut body_end = msg.len();
    if options & 0x01 != 0 {
        // OPT_LENGTH: type 0 (with or without the end bit), length 4,
        // then the total length of the options.
        let at = HEADER + fixed;
        let Some(o) = msg.get(at..at + 4) else { return false };
        let total = usize::from(u16::from_be_bytes([o[2], o[3]]));
        if o[0] & 0x7f != 0 || o[1] != 4 || total < 4 || at + total > msg.len() {
            return false;
        }
        // Data follows the options in ODATA/RDATA.
        if !matches!(kind, 0x04 | 0x05) {
            body_end = at;
            if at + total != msg.len() {
                return false;
            }
        } else if msg.len() != at + total + tsdu {
            return false;
        }
    }
    let body = &msg[HEADER..body_end];
    let fits = if options & 0x01 != 0 && matches!(kind, 0x04 | 0x05) {
        true
    } else {
        body_fits(kind, body, tsdu)
    };
    if !fits {
        return false;
    }
    meta.protocol = Some("pgm");
    meta.encryption = Encryption::Cleartext;
    meta.evidence.insert(Evidence::DPI);
    meta.set_extra("pgm_type", name);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // pgm.pcap: a source path message to 235.0.1.47 (IPv4 path NLA).
    const SPM: [u8; 36] = [
        0xd6, 0x25, 0x00, 0x7b, 0x00, 0x00, 0x47, 0x01, 0x0a, 0xf4, 0x40, 0x9a, 0xd6, 0x25, 0x00, 0x24, 0x00, 0x01,
        0xa2, 0x42, 0x00, 0x51, 0xe8, 0x28, 0x00, 0x51, 0xe9, 0xe7, 0x00, 0x01, 0x00, 0x00, 0x0a, 0xf4, 0x40, 0x9a,
    ];

    fn pgm(msg: &[u8]) -> Option<Meta> {
        let mut m = Meta::default();
        identify(PGM, msg, &mut m).then_some(m)
    }

    #[test]
    fn spm_and_odata() {
        let m = pgm(&SPM).expect("spm");
        assert_eq!(m.protocol, Some("pgm"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("pgm_type"), Some("spm"));
        // ODATA: sequence numbers then 5 bytes of data.
        let mut odata = SPM[..16].to_vec();
        odata[4] = 0x04;
        odata[14..16].copy_from_slice(&[0, 5]);
        odata.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
        odata.extend_from_slice(b"hello");
        assert_eq!(
            pgm(&odata)
                .and_then(|m| m.extra("pgm_type").map(str::to_owned))
                .as_deref(),
            Some("odata")
        );
        // The same with an OPT_LENGTH and an OPT_FRAGMENT.
        let mut opt = odata[..24].to_vec();
        opt[5] = 0x01;
        opt.extend_from_slice(&[0x00, 4, 0, 20, 0x81, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]);
        opt.extend_from_slice(b"hello");
        assert!(pgm(&opt).is_some());
        for n in 0..opt.len() {
            let _ = pgm(&opt[..n]);
            let _ = pgm(&SPM[..n.min(SPM.len())]);
        }
    }

    #[test]
    fn not_pgm() {
        let mut kind = SPM;
        kind[4] = 0x03;
        let mut family = SPM;
        family[29] = 3;
        let mut flags = SPM;
        flags[5] = 0x04;
        let mut long = SPM.to_vec();
        long.push(0);
        for d in [&kind[..], &family[..], &flags[..], &long[..], &SPM[..35]] {
            assert!(pgm(d).is_none(), "{d:?}");
        }
        assert!(!identify(17, &SPM, &mut Meta::default()));
    }
}
