#!/usr/bin/env bash
# CI fuzz smoke: builds every fuzz target once, then runs each for
# FUZZ_SECONDS (default 30), FUZZ_JOBS at a time (default: the number of
# cores); fails on a crash, leak, OOM or timeout, and prints the
# executions per target.
#
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain build with them. Corpora in fuzz/corpus/<target>/ are used
# when present (scripts/fuzz-seeds.sh fills them); crashes land in
# fuzz/artifacts/<target>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
    cargo install cargo-fuzz --locked
fi
cd "$root/fuzz"
targets=$(cargo fuzz list)
export secs=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc)}
export triple=$(rustc -vV | sed -n "s/^host: //p")
# No sanitizer by default: the parsers are safe Rust (`classifier/` forbids
# `unsafe`), so AddressSanitizer adds build and run time but finds nothing
# the bounds checks do not; the smoke keeps coverage guidance and the
# panic/timeout/OOM checks. FUZZ_SANITIZER=address restores it.
sanitizer=${FUZZ_SANITIZER:-none}
echo "fuzz-smoke: building $(echo $targets | wc -w) targets (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer"
logs=$(mktemp -d)
export logs
trap 'rm -rf "$logs"' EXIT
one() {
    t=$1
    mkdir -p "corpus/$t"
    # The built binary is run directly: `cargo fuzz run` would take the
    # cargo lock, serialising parallel jobs.
    bin=target/$triple/release/$t
    mkdir -p "artifacts/$t"
    if "$bin" "corpus/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"$logs/$t.log" 2>&1; then
        result=ok
    else
        result=FAILED
        tail -n 40 "$logs/$t.log" >&2
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' || echo "?")
    line=$(printf '%-22s %4s s %12s execs  %s' "$t" "$secs" "$execs" "$result")
    echo "fuzz-smoke: $line"
    echo "$line" >"$logs/$t.result"
    [ "$result" = ok ]
}
export -f one
status=0
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'one {}' || status=1
echo "fuzz-smoke summary ($jobs at a time):"
cat "$logs"/*.result
exit $status
