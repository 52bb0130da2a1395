#!/usr/bin/env bash
# pgo-build.sh - builds baikal with profile-guided optimisation, for measurements.
#
#   scripts/pgo-build.sh            # writes target/pgo/dist/baikal
#   BAIKAL=target/pgo/dist/baikal scripts/peers.sh big.pcap 5
#
# 1. builds the `dist` profile (fat LTO, one codegen unit) instrumented to count branches and calls;
# 2. runs it over the project's own captures, pcaps/*.pcap (made by `baikal synth`: TLS, QUIC,
#    DNS, HTTP, MTProto and more), with 1 and 2 threads and every output format, and `bench` once
#    (a bigger training capture, 10 MB and 3,000 flows from `baikal synth`, made no difference);
# 3. merges the counts and builds `dist` again with them, so the compiler lays out and inlines the
#    hot paths by what the runs did.
#
# The training input is the project's captures only, never the capture being measured: a fresh clone
# has them, and the result does not depend on the benchmark file. The records do not change (PGO only
# changes code layout and inlining; docs/PERFORMANCE.md has the check). Needs llvm-profdata of the
# same LLVM as rustc: `rustup component add llvm-tools`. Takes about 5 minutes on 2 cores (two
# builds); the intermediate files stay in target/pgo-work. RUSTFLAGS is passed on: with
# RUSTFLAGS=-Ctarget-cpu=x86-64-v3 the binary needs AVX2 and was about 3% faster, inside the noise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
[ -x "$profdata" ] || {
  echo "pgo-build.sh: $profdata not found; install it with: rustup component add llvm-tools" >&2
  exit 1
}
shopt -s nullglob
caps=(pcaps/*.pcap)
[ ${#caps[@]} -gt 0 ] || { echo "pgo-build.sh: no captures in pcaps/" >&2; exit 1; }

work=$root/target/pgo-work
rm -rf "$work"
mkdir -p "$work/raw"

echo "pgo-build.sh: 1/3 instrumented build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$work/raw" \
  cargo build -q --profile dist --target-dir "$work/gen" --bin baikal
gen=$work/gen/dist/baikal

echo "pgo-build.sh: 2/3 training on ${caps[*]}" >&2
export LLVM_PROFILE_FILE="$work/raw/%p-%m.profraw"
for cap in "${caps[@]}"; do
  for threads in 1 2; do
    for format in table jsonl csv; do
      "$gen" classify -q --threads "$threads" -F "$format" -o /dev/null "$cap"
    done
  done
done
"$gen" bench -q --runs 1 --threads 1,2 -F json -o /dev/null "${caps[@]}"
unset LLVM_PROFILE_FILE
"$profdata" merge -o "$work/baikal.profdata" "$work/raw"

echo "pgo-build.sh: 3/3 optimised build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$work/baikal.profdata" \
  cargo build -q --profile dist --target-dir "$root/target/pgo" --bin baikal
echo "pgo-build.sh: built target/pgo/dist/baikal" >&2
