#!/usr/bin/env bash
# Issue 2 benchmarks: `wiresift read` against tcpdump on the generated workload.
#   bench/read.sh [DATA_DIR]   (default ./bench-data, made by ../shared/bench/gen_workload.sh)
# Builds wiresift in release mode into target/bench, warms the page cache, then prints table rows
# for docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench-data}
RUNS=${RUNS:-5}
CARGO_TARGET_DIR=target/bench cargo build -q --release -p wiresift
W=$(pwd)/target/bench/release/wiresift
OUT=$(mktemp -d /dev/shm/wsbench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
for size in 100m 1g; do
    F=$DATA/wl-$size.pcap
    [ -f "$F" ] || { echo "missing $F: generate it with ../shared/bench/gen_workload.sh $DATA" >&2; exit 1; }
    cat "$F" > /dev/null
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size: filter to file 'tcp port 80'" \
        --peer "tcpdump -r $F -w $OUT/p.pcap 'tcp port 80' 2>/dev/null" \
        --ours "$W read $F -f 'tcp port 80' -w $OUT/o.pcap"
    cmp "$OUT/p.pcap" "$OUT/o.pcap" && echo "  (outputs byte-identical)"
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size: summary lines 'tcp port 80'" \
        --peer "env TZ=UTC tcpdump -nr $F 'tcp port 80' 2>/dev/null" \
        --ours "$W read $F 'tcp port 80'"
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size: summary lines, all frames" \
        --peer "env TZ=UTC tcpdump -nr $F 2>/dev/null" \
        --ours "$W read $F"
done
