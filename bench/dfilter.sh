#!/usr/bin/env bash
# Issue 4 benchmark: display filter + field extraction against tshark on the workload.
#   bench/dfilter.sh [DATA_DIR]   (default ./bench-data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench-data}
RUNS=${RUNS:-3}
CARGO_TARGET_DIR=target/bench cargo build -q --release -p wiresift
W=$(pwd)/target/bench/release/wiresift
for size in ${SIZES:-100m 1g}; do
    F=$DATA/wl-$size.pcap
    [ -f "$F" ] || { echo "missing $F: generate it with ../shared/bench/gen_workload.sh $DATA" >&2; exit 1; }
    cat "$F" > /dev/null
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size: -Y 'tcp.port == 25' -T fields -e frame.number -e ip.src -e tcp.dstport" \
        --peer "tshark -n -r $F -Y 'tcp.port == 25' -T fields -e frame.number -e ip.src -e tcp.dstport 2>/dev/null" \
        --ours "$W read $F -Y 'tcp.port == 25' -T fields -e frame.number -e ip.src -e tcp.dstport"
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size: -Y 'tcp.stream == 5 && tcp.analysis.flags' (flow fields)" \
        --peer "tshark -n -r $F -Y 'tcp.stream == 5 && tcp.analysis.flags' -T fields -e frame.number 2>/dev/null" \
        --ours "$W read $F -Y 'tcp.stream == 5 && tcp.analysis.flags' -T fields -e frame.number"
done
