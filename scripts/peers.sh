#!/usr/bin/env bash
# peers.sh CAPTURE [ROUNDS] - baikal (1 and 2 threads) beside ndpiReader and suricata on one capture.
#
# Each round runs every tool once, in turn (alternating, so machine noise hits all alike); the table shows
# medians over the rounds. Gbit/s = capture file bytes x 8 / wall time (reading the file is part of every
# tool's work, as in /work/shared/PEERS.md); packets/s = packets in the file / wall time; peak RSS from
# /usr/bin/time -v. Ratios are against ndpiReader. CPU s = user + system time: on a shared, loaded machine the
# wall time mostly measures the scheduler, so "Gbit/s per CPU s" (file bits / CPU seconds) is shown too.
#
#   BAIKAL=path/to/baikal (default: target/release/baikal, or $CARGO_TARGET_DIR/release/baikal)
#   BAIKAL_REF=path/to/other/baikal (optional): adds its 1- and 2-thread runs ("ref-1t", "ref-2t") to
#     every round, so two builds (say scripts/pgo-build.sh's and the release one) meet the same host
#
# The round also runs two one-thread baikal runs side by side ("baikal-1t-pair"): 2 x (1 thread alone) /
# (the pair's wall time) is what this machine gives two independent jobs, the ceiling of any two-thread
# speedup on it (shared caches, memory bandwidth, a busy host).
#
# Needs: ndpiReader, suricata (tools/install-peers), /usr/bin/time, python3.
set -euo pipefail
cap=${1:?usage: peers.sh CAPTURE [ROUNDS]}
rounds=${2:-3}
baikal=${BAIKAL:-${CARGO_TARGET_DIR:-target}/release/baikal}
[ -x "$baikal" ] || { echo "peers.sh: $baikal not found (cargo build --release, or set BAIKAL)" >&2; exit 1; }
ref=${BAIKAL_REF:-}
[ -z "$ref" ] || [ -x "$ref" ] || { echo "peers.sh: BAIKAL_REF=$ref not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bytes=$(stat -c %s "$cap")
packets=$("$baikal" classify -q -F table "$cap" | awk 'NR==1{print $1}')

declare -A cmd
# classify BINARY FORMAT THREADS: the command line of one baikal run.
classify() { printf '%s classify -q -F %s -o /dev/null --threads %s %s' "$1" "$2" "$3" "$cap"; }
# baikal's summary table is the counterpart of ndpiReader -q (a summary, no per-flow output); the
# jsonl rows add writing one JSON line per flow.
names=("baikal-1t" "baikal-2t" "baikal-1t-pair" "baikal-1t-jsonl" "baikal-2t-jsonl" "ndpiReader" "suricata")
cmd[baikal-1t]=$(classify "$baikal" table 1)
cmd[baikal-2t]=$(classify "$baikal" table 2)
printf '%s & %s & wait\n' "${cmd[baikal-1t]}" "${cmd[baikal-1t]}" >"$tmp/pair.sh"
cmd[baikal-1t-pair]="bash $tmp/pair.sh"
cmd[baikal-1t-jsonl]=$(classify "$baikal" jsonl 1)
cmd[baikal-2t-jsonl]=$(classify "$baikal" jsonl 2)
cmd[ndpiReader]="ndpiReader -i $cap -q -n 1"
cmd[suricata]="suricata -r $cap --runmode single -k none -S /dev/null -l $tmp/suri"
if [ -n "$ref" ]; then
  names+=("ref-1t" "ref-2t")
  cmd[ref-1t]=$(classify "$ref" table 1)
  cmd[ref-2t]=$(classify "$ref" table 2)
fi
mkdir -p "$tmp/suri"
command -v ndpiReader >/dev/null || { echo "peers.sh: ndpiReader missing (tools/install-peers)" >&2; exit 1; }
command -v suricata >/dev/null || { echo "peers.sh: suricata missing (tools/install-peers)" >&2; exit 1; }

for r in $(seq 1 "$rounds"); do
  for n in "${names[@]}"; do
    # shellcheck disable=SC2086
    /usr/bin/time -v -o "$tmp/time" ${cmd[$n]} >/dev/null 2>"$tmp/err" || { echo "peers.sh: $n failed:" >&2; tail -5 "$tmp/err" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$tmp/time")
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$tmp/time")
    cpu=$(awk -F': ' '/User time|System time/{s+=$2} END{print s}' "$tmp/time")
    echo "$n $wall $rss $cpu" >>"$tmp/results"
    echo "round $r: $n $wall, ${rss} KiB" >&2
  done
done

python3 - "$tmp/results" "$bytes" "$packets" "$rounds" "$cap" "$baikal" "$ref" <<'PY'
import statistics, sys
path, nbytes, npk, rounds, cap, baikal, ref = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
def secs(s):
    p = [float(x) for x in s.split(':')]
    return sum(v * 60 ** i for i, v in enumerate(reversed(p)))
res = {}
for line in open(path):
    n, wall, rss, cpu = line.split()
    # /usr/bin/time reports wall time to 0.01 s: a tiny capture reads 0.00.
    res.setdefault(n, []).append((max(secs(wall), 0.01), int(rss), float(cpu)))
order = ["baikal-1t", "baikal-2t", "baikal-1t-jsonl", "baikal-2t-jsonl", "ref-1t", "ref-2t", "ndpiReader", "suricata"]
med = {n: (statistics.median(x[0] for x in v), max(x[1] for x in v), statistics.median(x[2] for x in v)) for n, v in res.items()}
base = med["ndpiReader"][0]
base_cpu = med["ndpiReader"][2]
print(f"capture: {cap}, {nbytes/1e6:.0f} MB, {npk} packets (avg {nbytes/max(npk,1):.0f} B incl. pcap headers); medians of {rounds} alternating rounds")
print(f"baikal: {baikal}" + (f"; ref: {ref}" if ref else "") + "\n")
print("| tool | wall s | Gbit/s | Mpackets/s | CPU s | Gbit/s per CPU s | peak RSS MiB | wall vs ndpiReader | CPU vs ndpiReader |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for n in order:
    if n not in med:
        continue
    w, rss, cpu = med[n]
    cpu = max(cpu, 1e-3)
    print(f"| {n} | {w:.2f} | {nbytes*8/w/1e9:.2f} | {npk/w/1e6:.2f} | {cpu:.2f} | {nbytes*8/cpu/1e9:.2f} | {rss/1024:.0f} | {base/w:.2f}x | {base_cpu/cpu:.2f}x |")
if "baikal-1t" in med and "baikal-2t" in med:
    print(f"\nbaikal 2 threads / 1 thread: {med['baikal-1t'][0]/med['baikal-2t'][0]:.2f}x")
if "baikal-1t-jsonl" in med and "baikal-2t-jsonl" in med:
    print(f"baikal 2 threads / 1 thread, JSON lines: {med['baikal-1t-jsonl'][0]/med['baikal-2t-jsonl'][0]:.2f}x")
if "baikal-1t" in med and "baikal-1t-pair" in med:
    print(f"two 1-thread runs side by side: {med['baikal-1t-pair'][0]:.2f} s, so this machine's two-job ceiling is "
          f"{2*med['baikal-1t'][0]/med['baikal-1t-pair'][0]:.2f}x (2 x 1 thread alone / the pair)")
# The same ratios within each round (its runs were seconds apart): their
# spread shows how much of a difference between medians is the host.
def per_round(num, den, k=1.0):
    if num not in res or den not in res:
        return None
    r = sorted(k * a[0] / b[0] for a, b in zip(res[num], res[den]))
    return f"{r[0]:.2f}-{r[-1]:.2f}x (median {statistics.median(r):.2f}x)"
spreads = [("baikal 1 thread vs ndpiReader", per_round("ndpiReader", "baikal-1t")),
           ("baikal 2 threads / 1 thread", per_round("baikal-1t", "baikal-2t")),
           ("two-job ceiling", per_round("baikal-1t", "baikal-1t-pair", 2.0)),
           ("baikal vs ref, 1 thread", per_round("ref-1t", "baikal-1t")),
           ("baikal vs ref, 2 threads", per_round("ref-2t", "baikal-2t"))]
spreads = [(n, s) for n, s in spreads if s]
if spreads:
    print("per round: " + "; ".join(f"{n} {s}" for n, s in spreads))
# A busy host only ever adds time: the fastest round of each tool is the
# steadier estimate of what it costs, the medians of what a user sees.
best = {n: min(x[0] for x in v) for n, v in res.items()}
if all(n in best for n in ("baikal-1t", "baikal-2t", "ndpiReader")):
    print(f"fastest rounds: baikal 1 thread {best['baikal-1t']:.2f} s ({best['ndpiReader']/best['baikal-1t']:.2f}x ndpiReader's "
          f"{best['ndpiReader']:.2f} s), 2 threads {best['baikal-2t']:.2f} s ({best['baikal-1t']/best['baikal-2t']:.2f}x one thread)")
PY
