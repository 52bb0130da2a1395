//! Reads capture files (or `-`) and prints the reader's throughput, without
//! any decoding: `cargo run --release -p baikal-capture --example readspeed -- FILE...`

use std::time::Instant;

fn main() {
    for arg in std::env::args().skip(1) {
        let input = baikal_capture::Input::from_arg(&arg);
        let start = Instant::now();
        let mut sum = 0u64;
        let rep = baikal_capture::read(&input, &mut |p| {
            // Touch the data so the read is not optimised away.
            sum = sum.wrapping_add(u64::from(p.data.first().copied().unwrap_or(0)));
            true
        });
        let secs = start.elapsed().as_secs_f64();
        match rep {
            Ok(r) => println!(
                "{arg}: {} {} packets, {} wire bytes in {secs:.3} s: {:.2} Gbit/s, {:.2} Mpps (warning {:?}, {sum})",
                r.format,
                r.packets,
                r.bytes,
                r.bytes as f64 * 8.0 / secs / 1e9,
                r.packets as f64 / secs / 1e6,
                r.warning
            ),
            Err(e) => println!("{arg}: {e}"),
        }
    }
}
