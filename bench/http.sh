#!/usr/bin/env bash
# Issue 6 benchmarks: `wiresift export http` against `tshark --export-objects http` and
# `tcpflow -e http` on the generated workload; outputs on tmpfs (/dev/shm).
#   bench/http.sh [DATA_DIR]   (default ./bench-data, made by ../shared/bench/gen_workload.sh)
# Prints table rows for docs/PERFORMANCE.md, and checks coverage: every response tshark sees
# (`-Y http.response`) must be in our manifest.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench-data}
RUNS=${RUNS:-3}
F=${F:-$DATA/wl-1g.pcap}
[ -f "$F" ] || { echo "missing $F: generate it with ../shared/bench/gen_workload.sh $DATA" >&2; exit 1; }
command -v tcpflow > /dev/null || { echo "tcpflow missing: apt-get install -y tcpflow" >&2; exit 1; }
CARGO_TARGET_DIR=target/bench cargo build -q --release -p wiresift
W=$(pwd)/target/bench/release/wiresift
OUT=$(mktemp -d /dev/shm/wshttp.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cat "$F" > /dev/null
python3 bench/compare.py --runs "$RUNS" --name "$(basename "$F"): export http vs tshark --export-objects http" \
    --peer-prep "rm -rf $OUT/t; mkdir $OUT/t" --peer "tshark -n -q -r $F --export-objects http,$OUT/t" \
    --ours-prep "rm -rf $OUT/o" --ours "$W export http $F -o $OUT/o 2>/dev/null"
python3 bench/compare.py --runs "$RUNS" --name "$(basename "$F"): export http vs tcpflow -e http" \
    --peer-prep "rm -rf $OUT/f; mkdir $OUT/f" --peer "tcpflow -e http -r $F -o $OUT/f" \
    --ours-prep "rm -rf $OUT/o" --ours "$W export http $F -o $OUT/o 2>/dev/null"
python3 bench/compare.py --runs "$RUNS" --name "$(basename "$F"): export http --har vs tshark --export-objects http" \
    --peer-prep "rm -rf $OUT/t; mkdir $OUT/t" --peer "tshark -n -q -r $F --export-objects http,$OUT/t" \
    --ours-prep "rm -rf $OUT/o" --ours "$W export http $F -o $OUT/o --har $OUT/x.har 2>/dev/null"
# Coverage: responses tshark dissects vs response records in our manifest.
rm -rf "$OUT/o"; "$W" export http "$F" -o "$OUT/o" 2> "$OUT/err" || true
TS=$(tshark -n -r "$F" -Y http.response -T fields -e frame.number 2>/dev/null | wc -l)
OURS=$(grep -c '"direction":"response"' "$OUT/o/manifest.jsonl" || true)
echo "responses: tshark -Y http.response $TS, wiresift manifest $OURS"
echo "files: tshark $(ls "$OUT/t" | wc -l) ($(du -sb "$OUT/t" | cut -f1) bytes), tcpflow $(find "$OUT/f" -type f | wc -l) ($(du -sb "$OUT/f" | cut -f1) bytes), wiresift $(($(ls "$OUT/o" | wc -l) - 1)) ($(du -sb --exclude=manifest.jsonl "$OUT/o" | cut -f1) bytes)"
# tshark's objects (md5) that are not among ours.
( cd "$OUT/t" && find . -type f -exec md5sum {} + | awk '{print $1}' | sort -u ) > "$OUT/t.md5"
( cd "$OUT/o" && find . -type f ! -name manifest.jsonl -exec md5sum {} + | awk '{print $1}' | sort -u ) > "$OUT/o.md5"
echo "distinct tshark object md5s not among ours: $(comm -23 "$OUT/t.md5" "$OUT/o.md5" | wc -l) of $(wc -l < "$OUT/t.md5")"
cat "$OUT/err"
