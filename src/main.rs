//! baikal: what is in the traffic, what classifying it costs, and what a
//! blocking policy would do.
//!
//! This binary is the command line and the pipeline glue; the work is done
//! in the `baikal-capture` and `baikal-classifier` crates. See
//! ARCHITECTURE.md for the walk through the stages.

mod bench;
mod budget;
mod cli;
mod output;
mod pipeline;
mod prefetch;
mod synth;

use std::process::ExitCode;

/// mimalloc instead of the system allocator: see the note in Cargo.toml.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            // One clear line, then exit status 2 (tshark-like).
            eprintln!("baikal: {e:#}");
            ExitCode::from(2)
        }
    }
}
