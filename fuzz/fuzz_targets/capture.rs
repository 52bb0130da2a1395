#![no_main]
//! The capture reader (pcap, pcapng, either gzip'd) over arbitrary bytes:
//! every packet handed out must lie inside the input it came from.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut n = 0u64;
    let mut f = |p: &baikal_capture::RawPacket<'_>| {
        assert!(p.wire_len as usize >= p.data.len());
        n += 1;
        true
    };
    if let Ok(rep) = baikal_capture::read_from("fuzz", data, &mut f) {
        assert_eq!(rep.packets, n);
    }
});
