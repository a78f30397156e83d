#!/usr/bin/env bash
# Issue 5 benchmarks: `wiresift follow --split` against tcpflow, `follow --stream N` against
# `tshark -z follow,tcp,raw,N`, on the generated workload. Outputs go to tmpfs (/dev/shm).
#   bench/follow.sh [DATA_DIR]   (default ./bench-data, made by ../shared/bench/gen_workload.sh)
#   BIG=/path/to/10g.pcap bench/follow.sh   also runs the split on a 10x file (RSS check)
# Prints table rows for docs/PERFORMANCE.md. Output directories are emptied before each run,
# untimed (compare.py --*-prep): removing 16,000 files takes 0.1 s, for either tool.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench-data}
RUNS=${RUNS:-3}
STREAM=${STREAM:-7}
CARGO_TARGET_DIR=target/bench cargo build -q --release -p wiresift
W=$(pwd)/target/bench/release/wiresift
OUT=$(mktemp -d /dev/shm/wsfollow.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
command -v tcpflow > /dev/null || { echo "tcpflow missing: apt-get install -y tcpflow" >&2; exit 1; }
for size in 100m 1g; do
    F=$DATA/wl-$size.pcap
    [ -f "$F" ] || { echo "missing $F" >&2; exit 1; }
    cat "$F" > /dev/null
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size: follow --split DIR vs tcpflow -o DIR" \
        --peer-prep "rm -rf $OUT/p; mkdir $OUT/p" --peer "tcpflow -r $F -o $OUT/p" \
        --ours-prep "rm -rf $OUT/o" --ours "$W follow $F --split $OUT/o 2>/dev/null"
    echo "  (files: tcpflow $(ls $OUT/p | wc -l), wiresift $(ls $OUT/o | wc -l); bytes: tcpflow $(du -sb $OUT/p | cut -f1), wiresift $(du -sb $OUT/o | cut -f1))"
done
F=$DATA/wl-1g.pcap
python3 bench/compare.py --runs "$RUNS" --name "wl-1g: follow --stream $STREAM --format raw" \
    --peer "tshark -n -q -r $F -z follow,tcp,raw,$STREAM" \
    --ours "$W follow $F --stream $STREAM --format raw"
tshark -n -q -r "$F" -z "follow,tcp,raw,$STREAM" 2>/dev/null > "$OUT/t.txt"
"$W" follow "$F" --stream "$STREAM" --format raw > "$OUT/w.txt"
cmp "$OUT/t.txt" "$OUT/w.txt" && echo "  (outputs byte-identical)"
if [ -n "${BIG:-}" ]; then
    python3 bench/compare.py --runs 1 --name "$(basename "$BIG"): follow --split DIR vs tcpflow -o DIR" \
        --peer-prep "rm -rf $OUT/p; mkdir $OUT/p" --peer "tcpflow -r $BIG -o $OUT/p" \
        --ours-prep "rm -rf $OUT/o" --ours "$W follow $BIG --split $OUT/o 2>/dev/null"
fi
