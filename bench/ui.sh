#!/usr/bin/env bash
# `wiresift ui` benchmarks: opening a capture (what a Wireshark user waits for) against
# `tshark -r FILE > /dev/null` (the dissection pass Wireshark makes to open a file), pages of
# rows, a display filter against the CLI's `read -Y`, and peak memory.
#   bench/ui.sh [DATA_DIR]   (default ./bench-data, made by ../shared/bench/gen_workload.sh)
# The session is measured in-process by crates/session/examples/open_capture.rs (the same
# calls the server makes per request, without HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench-data}
RUNS=${RUNS:-3}
F=$DATA/wl-1g.pcap
FILTER=${FILTER:-tcp.port == 80}
[ -f "$F" ] || { echo "missing $F: generate it with ../shared/bench/gen_workload.sh $DATA" >&2; exit 1; }
cargo build -q --release -p wiresift -p wiresift-session --example open_capture
W=$(pwd)/target/release/wiresift
O=$(pwd)/target/release/examples/open_capture
cat "$F" > /dev/null
echo "== open (index every frame, Protocol and Info included) vs tshark -r"
python3 bench/compare.py --runs "$RUNS" --name "wl-1g: open" \
    --peer "tshark -n -r $F > /dev/null 2>&1" \
    --ours "$O $F > /dev/null"
echo "== what the user sees (first rows, whole index, pages of 200, filter, memory)"
"$O" "$F" "$FILTER"
echo "== the same filter with the CLI (compare with filter_ms above)"
for i in $(seq "$RUNS"); do
    /usr/bin/time -f "read -Y: %e s, %M KiB" "$W" read "$F" -Y "$FILTER" -T fields -e frame.number > /dev/null
done
