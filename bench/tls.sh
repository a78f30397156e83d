#!/usr/bin/env bash
# Issue 9 benchmark: `wiresift export http --tls-keylog` against
# `tshark -o tls.keylog_file:... --export-objects http` on the HTTPS part of the workload.
#   bench/tls.sh [DATA_DIR]   (default ./bench-data, made by ../shared/bench/gen_workload.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench-data}
RUNS=${RUNS:-3}
CARGO_TARGET_DIR=target/bench cargo build -q --release -p wiresift
W=$(pwd)/target/bench/release/wiresift
OUT=$(mktemp -d /dev/shm/wsbench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
KEYS=$DATA/tls-keylog.txt
for size in ${SIZES:-100m 1g}; do
    F=$DATA/wl-$size.pcap
    [ -f "$F" ] || { echo "missing $F: generate it with ../shared/bench/gen_workload.sh $DATA" >&2; exit 1; }
    H=$OUT/https-$size.pcap
    # The HTTPS part: every frame of TCP port 443.
    "$W" read "$F" -f 'tcp port 443' -w "$H"
    cat "$H" > /dev/null
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size HTTPS ($(du -h "$H" | cut -f1)): export http with key log" \
        --peer-prep "rm -rf $OUT/p" --peer "tshark -r $H -o tls.keylog_file:$KEYS -q --export-objects http,$OUT/p 2>/dev/null" \
        --ours-prep "rm -rf $OUT/o" --ours "$W export http $H -o $OUT/o --tls-keylog $KEYS 2>/dev/null"
    # Same files (tshark names differ; compare the multiset of contents).
    (cd "$OUT/p" && find . -type f -exec md5sum {} + | cut -d' ' -f1 | sort) > "$OUT/p.md5"
    (cd "$OUT/o" && find . -type f ! -name manifest.jsonl -exec md5sum {} + | cut -d' ' -f1 | sort) > "$OUT/o.md5"
    echo "  objects: tshark $(wc -l < "$OUT/p.md5"), wiresift $(wc -l < "$OUT/o.md5"), differing contents: $(comm -3 "$OUT/p.md5" "$OUT/o.md5" | wc -l)"
done
