#![no_main]
//! A capture file read in stripes (`baikal_capture::Stripes`) against the
//! sequential reader over the same bytes: the same packets, counts,
//! warning, skipped records and stop, whatever the stripe size and the
//! packet limit. Bytes 0-1: the stripe size (LE, 1 to 65536); byte 2: a
//! packet limit (0: none); the rest: the file.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, file)) = data.split_first_chunk::<3>() else {
        return;
    };
    let size = usize::from(u16::from_le_bytes([head[0], head[1]])) + 1;
    let limit = if head[2] == 0 { u64::MAX } else { u64::from(head[2]) };
    let Ok(Some(stripes)) = baikal_capture::Stripes::from_bytes(file.to_vec(), size) else {
        return;
    };
    let mut want = Vec::new();
    let Ok(rep) = baikal_capture::read_from("fuzz", file, &mut |p| {
        want.push((p.ts_ns, p.linktype, p.wire_len, p.data.to_vec()));
        (want.len() as u64) < limit
    }) else {
        panic!("striped, but the sequential reader refuses it");
    };
    let mut got = Vec::new();
    let one = stripes.read(&mut |p| {
        got.push((p.ts_ns, p.linktype, p.wire_len, p.data.to_vec()));
        (got.len() as u64) < limit
    });
    assert_eq!(got, want);
    assert_eq!(one, rep);
});
