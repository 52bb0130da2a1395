#!/usr/bin/env bash
# CI fuzz smoke: builds every fuzz target once, then runs each in turn for
# FUZZ_SECONDS, by default FUZZ_BUDGET (240 s) shared out over the targets
# (at least 5 s each; 24 targets → 10 s); fails on a crash, leak, OOM or
# timeout, and prints the executions per target.
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
n=$(echo $targets | wc -w)
secs=${FUZZ_SECONDS:-$(( ${FUZZ_BUDGET:-240} / n ))}
[ "$secs" -ge 5 ] || secs=5
echo "fuzz-smoke: building $(echo $targets | wc -w) targets"
cargo fuzz build
status=0
summary=""
for t in $targets; do
    log=$(mktemp)
    mkdir -p "corpus/$t"
    if cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        tail -n 40 "$log" >&2
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    line=$(printf '%-18s %8s s %12s execs  %s' "$t" "$secs" "$execs" "$result")
    echo "fuzz-smoke: $line"
    summary+="$line"$'\n'
    rm -f "$log"
done
echo "fuzz-smoke summary:"
printf '%s' "$summary"
exit $status
