//! Asking the CPU for a frame's first bytes a few frames before they are
//! read.
//!
//! Frames held in memory (`baikal bench`, and the blocks a stream is cut
//! into) are read once, in order, and far beyond the caches: 508 MB for
//! the bench capture. The first read of each frame's headers then waits
//! for memory, and the hardware's own prefetchers do not cover it: a frame
//! is ~330 bytes, and only its first line is read at once. Asking for the
//! frame [`AHEAD`] places on while the current one is worked on, where
//! frames in memory are walked in order ([`crate::pipeline`]'s
//! `read_chunks`, and the scan of a block), made `bench` 7% faster on one
//! thread and 11% on two (medians of 5 runs, three alternating pairs: one
//! thread 0.556-0.572 s against 0.600-0.625 s, two 0.320-0.323 s against
//! 0.355-0.381 s; docs/PERFORMANCE.md).
//!
//! Where a frame is classified, two lines are asked for: its headers and
//! the start of its payload, which the decoder and the dissectors read.
//! The scan of a block reads headers only, and asks for one.
//! - In `read_chunks` (one thread, frames in memory), two lines instead of
//!   one made `bench` 2.5% faster (0.486-0.496 s against 0.503-0.516 s).
//! - In a block's walk, a worker asks for the frame [`AHEAD`] places on
//!   in its own list. This holds for a capture file too: its stripes are
//!   read and scanned by whichever worker is free, so about half of a
//!   worker's frames were last touched by another core. Two threads from
//!   the bench file took 0.347 s against 0.357 s (medians of 12
//!   alternating runs), and 2.8% less CPU time.
//!
//! Where frames come from the sequential reader's buffer, just filled by
//! this thread, they are in the cache already: asking there measured
//! nothing, and is not done.
//!
//! Why this module has `unsafe`: the prefetch instruction is reached
//! through `core::arch::x86_64::_mm_prefetch`, a function marked
//! `#[target_feature(enable = "sse")]`, which Rust lets safe code call only
//! from a function that lists the feature too, even though every x86-64
//! CPU has SSE. A prefetch is a hint: it never faults and changes nothing
//! a program can observe, whatever the address, so the call is sound for
//! any pointer. Elsewhere than x86-64 this does nothing.

/// How many frames ahead to ask for.
pub const AHEAD: usize = 6;

/// The size of a cache line.
pub const LINE: usize = 64;

/// Asks for the cache line at `p`.
#[inline(always)]
pub fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64, and a prefetch neither faults nor
    // has an observable effect, for any address (see the module docs).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
