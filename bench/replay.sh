#!/usr/bin/env bash
# bench/replay.sh — issue 8: `wiresift replay --topspeed` against `tcpreplay --topspeed` onto the
# same veth, from the same file, in the same run (../shared/bench/replay_bench.sh does the
# namespaces, the tcpdump receiver in the other namespace, and the statistics).
#
# Usage (root):  bash bench/replay.sh [PCAP] [OUTDIR]
#   PCAP    default ./bench-data/wl-100m.pcap (made by ../shared/bench/gen_workload.sh)
#   OUTDIR  default ./bench-out/replay
# Knobs: RUNS=3 (per tool, after one warm-up), RATES='--topspeed' (';'-separated, spelled the same
#        for both tools, e.g. '--topspeed;--pps=50000;--mbps=500'), WIRESIFT=target/release/wiresift
# Needs: tcpreplay tcpdump capinfos ethtool ip python3 GNU time
#        (apt-get install -y tcpreplay tcpdump wireshark-common ethtool iproute2 time)
set -euo pipefail
cd "$(dirname "$0")/.."
PCAP=${1:-bench-data/wl-100m.pcap}
OUT=${2:-bench-out/replay}
RUNS=${RUNS:-3}
RATES=${RATES:-'--topspeed'}
WIRESIFT=${WIRESIFT:-target/release/wiresift}
SHARED=${SHARED:-../shared/bench}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
[ -f "$PCAP" ] || { echo "missing $PCAP: generate it with $SHARED/gen_workload.sh bench-data" >&2; exit 1; }
[ -x "$WIRESIFT" ] || { echo "build first: cargo build --release -p wiresift" >&2; exit 1; }
command -v tcpreplay >/dev/null || { echo "missing: tcpreplay (apt-get install -y tcpreplay)" >&2; exit 1; }
WIRESIFT=$(cd "$(dirname "$WIRESIFT")" && pwd)/$(basename "$WIRESIFT")
mkdir -p "$OUT"
cat "$PCAP" >/dev/null # page cache

# Both print tcpreplay's statistics block ("Actual: ... Rated: ... Failed packets: ..."), so the
# same parser reads both.
RUNS=$RUNS RATES=$RATES PARSER=tcpreplay REPLAY_CMD='tcpreplay -i {IFACE} {RATE} {PCAP}' \
    bash "$SHARED/replay_bench.sh" "$PCAP" "$OUT/tcpreplay"
RUNS=$RUNS RATES=$RATES PARSER=tcpreplay REPLAY_CMD="$WIRESIFT replay -i {IFACE} {RATE} {PCAP}" \
    bash "$SHARED/replay_bench.sh" "$PCAP" "$OUT/wiresift"

echo
echo "== summary (medians; pps = packets/s the sender reports) =="
for tool in tcpreplay wiresift; do
    echo "-- $tool"
    cat "$OUT/$tool/summary.tsv"
done
python3 - "$OUT" <<'EOF'
import csv, statistics, sys
out = sys.argv[1]
def rows(tool):
    with open(f"{out}/{tool}/raw.tsv") as f:
        return list(csv.DictReader(f, delimiter="\t"))
t, w = rows("tcpreplay"), rows("wiresift")
for rate in sorted({r["rate"] for r in t}):
    tp = statistics.median(float(r["pps"]) for r in t if r["rate"] == rate)
    wp = statistics.median(float(r["pps"]) for r in w if r["rate"] == rate)
    tc = statistics.median(float(r["replay_cpu_s"]) for r in t if r["rate"] == rate)
    wc = statistics.median(float(r["replay_cpu_s"]) for r in w if r["rate"] == rate)
    print(f"{rate}: tcpreplay {tp:,.0f} pps ({tc:.2f} CPU s), wiresift {wp:,.0f} pps ({wc:.2f} CPU s), ratio {wp / tp:.2f}x")
EOF
