//! Modbus/TCP on port 502 (either side). Every ADU starts with the
//! 7-byte MBAP header: a transaction id, a protocol id of 0, the length
//! of what follows (unit id and PDU, 2..=254), the unit id; then the PDU
//! opens with a function code: a public one (1..=24 less the serial-only
//! ones, 43) or the same with bit 7 set in an exception answer.
//!
//! Schneider Electric's UMAS rides on function code 90 (0x5a): the PDU
//! is 0x5a, a session byte and a UMAS function code; the answer echoes
//! the transaction id, the unit id, 0x5a and the session byte, then
//! 0xfe (done) or 0xfd (error). A private code proves little alone, so
//! function 90 is taken only with that answer.
//!
//! Cleartext.

use super::{Dissector, Parse, Payloads, Probe, Transport};
use crate::verdict::{Encryption, Meta};

pub struct Modbus;

const PORT: u16 = 502;
const MBAP: usize = 7;
const UMAS: u8 = 0x5a;

fn public_function(f: u8) -> bool {
    matches!(f, 1..=8 | 11 | 12 | 15..=17 | 20..=24 | 43)
}

/// `Some(Some(function))` for a whole first ADU, `Some(None)` for a
/// prefix of one, `None` when `d` is not Modbus/TCP.
fn adu(d: &[u8]) -> Option<Option<u8>> {
    if d.get(2..4.min(d.len())).is_some_and(|p| p.iter().any(|&b| b != 0)) {
        return None;
    }
    let Some(h) = d.get(..MBAP + 1) else {
        return match d.get(4..6) {
            Some(l) if !(2..=254).contains(&u16::from_be_bytes([l[0], l[1]])) => None,
            _ => Some(None),
        };
    };
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let umas = h[7] == UMAS && len >= 4;
    if !(2..=254).contains(&len) || !(umas || public_function(h[7] & 0x7f)) {
        return None;
    }
    // An exception answer is the function code and one exception code.
    if h[7] & 0x80 != 0 && len != 3 {
        return None;
    }
    Some((d.len() >= 6 + len).then_some(h[7]))
}

impl Dissector for Modbus {
    fn name(&self) -> &'static str {
        "modbus"
    }
    fn transports(&self) -> &'static [Transport] {
        &[Transport::Tcp]
    }
    fn probe(&self, p: &Payloads<'_>) -> Probe {
        if p.port(PORT) && adu(p.first_side().stream()).is_some() {
            Probe::Maybe
        } else {
            Probe::NotMine
        }
    }
    fn parse(&self, p: &Payloads<'_>, meta: &mut Meta) -> Parse {
        if !p.port(PORT) {
            return Parse::NotMine;
        }
        let s = p.first_side().stream();
        if s.is_empty() {
            return p.undecided();
        }
        let function = match adu(s) {
            None => return Parse::NotMine,
            Some(None) => return p.undecided(),
            Some(Some(f)) => f,
        };
        if function == UMAS {
            match umas_answer(s, p.second_side().stream()) {
                None => return p.undecided(),
                Some(false) => return Parse::NotMine,
                Some(true) => meta.set_extra("modbus_umas", "true"),
            }
        }
        meta.protocol = Some("modbus");
        meta.encryption = Encryption::Cleartext;
        meta.set_extra("modbus_function", (function & 0x7f).to_string());
        Parse::Done
    }
}

/// Whether `ans` answers the UMAS request `req` (a whole ADU): the same
/// transaction and unit id, a valid MBAP length, 0x5a, the same session
/// byte, then 0xfe or 0xfd. `None`: not enough bytes yet.
fn umas_answer(req: &[u8], ans: &[u8]) -> Option<bool> {
    let (Some(q), Some(a)) = (req.get(..MBAP + 2), ans.get(..MBAP + 3)) else {
        return None;
    };
    let len = u16::from_be_bytes([a[4], a[5]]);
    Some(
        a[..2] == q[..2]
            && a[2..4] == [0, 0]
            && (3..=254).contains(&len)
            && a[6] == q[6]
            && a[7] == UMAS
            && a[8] == q[8]
            && matches!(a[9], 0xfe | 0xfd),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::check_split_tcp;
    use crate::verdict::Meta;

    #[test]
    fn read_holding_registers() {
        let q = [0x00u8, 0xd1, 0, 0, 0, 6, 1, 3, 0, 1, 0, 1];
        let a = [0x00u8, 0xd1, 0, 0, 0, 5, 1, 3, 2, 0, 0];
        let (r, m) = check_split_tcp(&Modbus, PORT, &q, &a);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.protocol, Some("modbus"));
        assert_eq!(m.encryption, Encryption::Cleartext);
        assert_eq!(m.extra("modbus_function"), Some("3"));
        let exception = [0x00u8, 0x07, 0, 0, 0, 3, 1, 0x83, 2];
        let (r, m) = check_split_tcp(&Modbus, PORT, &exception, &[]);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("modbus_function"), Some("3"));
    }

    #[test]
    fn umas_request_and_answer() {
        // umas.pcap, 192.168.63.100:7718 -> 192.168.63.253:502: UMAS
        // READ_ID (0x02) and the start of its 56-byte answer (0xfe).
        let q = [0u8, 0, 0, 0, 0, 4, 0, 0x5a, 0, 2];
        let a = [0u8, 0, 0, 0, 0, 0x32, 0, 0x5a, 0, 0xfe, 0x10, 0xff];
        let (r, m) = check_split_tcp(&Modbus, PORT, &q, &a);
        assert_eq!(r, Parse::Done);
        assert_eq!(m.extra("modbus_function"), Some("90"));
        assert_eq!(m.extra("modbus_umas"), Some("true"));
        // Unanswered: wait, then refuse.
        let ends = [[q.len() as u32], [0]];
        let mut p = Payloads::tcp(40000, PORT, &q, &[], &ends);
        assert_eq!(Modbus.parse(&p, &mut Meta::default()), Parse::NeedMore);
        p.last = true;
        assert_eq!(Modbus.parse(&p, &mut Meta::default()), Parse::NotMine);
        // Another transaction, session or status byte; a short request.
        let mutate = |i: usize, v: u8| {
            let mut a = a.to_vec();
            a[i] = v;
            a
        };
        for bad in [mutate(1, 1), mutate(8, 7), mutate(9, 0x00), mutate(7, 0x03)] {
            let ends = [[q.len() as u32], [bad.len() as u32]];
            let p = Payloads::tcp(40000, PORT, &q, &bad, &ends);
            assert!(!crate::dissect::not_refused(&Modbus, &p), "{bad:?}");
        }
        let short = [0u8, 0, 0, 0, 0, 3, 0, 0x5a, 0];
        let ends = [[short.len() as u32], [a.len() as u32]];
        let p = Payloads::tcp(40000, PORT, &short, &a, &ends);
        assert!(!crate::dissect::not_refused(&Modbus, &p));
    }

    #[test]
    fn not_modbus() {
        let q = [0x00u8, 0xd1, 0, 0, 0, 6, 1, 3, 0, 1, 0, 1];
        let cases: [(u16, &[u8]); 5] = [
            (503, &q),
            (PORT, &[0x00, 0xd1, 0, 1, 0, 6, 1, 3, 0, 1, 0, 1]),
            (PORT, &[0x00, 0xd1, 0, 0, 1, 6, 1, 3, 0, 1, 0, 1]),
            (PORT, &[0x00, 0xd1, 0, 0, 0, 6, 1, 99, 0, 1, 0, 1]),
            (PORT, &[0x00, 0xd1, 0, 0, 0, 6, 1, 0x83, 0, 1, 0, 1]),
        ];
        for (port, d) in cases {
            let ends = [[d.len() as u32], [0]];
            let p = Payloads::tcp(40000, port, d, &[], &ends);
            let claimed = crate::dissect::not_refused(&Modbus, &p);
            assert!(!claimed, "{port} {d:?}");
        }
    }
}
