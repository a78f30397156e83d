#!/usr/bin/env bash
# Issue 7 benchmark: `wiresift export smtp` against `tshark --export-objects imf` on the
# generated workload.
#   bench/mail.sh [DATA_DIR]   (default ./bench-data, made by ../shared/bench/gen_workload.sh)
# Builds wiresift in release mode into target/bench, warms the page cache, checks that every
# message tshark exports is among ours (tshark's dot-stuffing undone), then prints table rows
# for docs/PERFORMANCE.md. Output directories on tmpfs.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench-data}
RUNS=${RUNS:-3}
SIZES=${SIZES:-"100m 1g"}
CARGO_TARGET_DIR=target/bench cargo build -q --release -p wiresift
W=$(pwd)/target/bench/release/wiresift
OUT=$(mktemp -d /dev/shm/wsmail.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
for size in $SIZES; do
    F=$DATA/wl-$size.pcap
    [ -f "$F" ] || { echo "missing $F: generate it with ../shared/bench/gen_workload.sh $DATA" >&2; exit 1; }
    cat "$F" > /dev/null
    # Correctness first: the same messages as tshark.
    rm -rf "$OUT/t" "$OUT/o"; mkdir -p "$OUT/t"
    tshark -n -q -r "$F" --export-objects "imf,$OUT/t" > /dev/null 2>&1
    "$W" export smtp "$F" -o "$OUT/o" 2> "$OUT/o.err" || { cat "$OUT/o.err"; exit 1; }
    python3 - "$OUT/t" "$OUT/o" <<'PY'
import hashlib, json, os, sys
t, o = sys.argv[1], sys.argv[2]
def restuff(b):
    out, start = bytearray(), True
    for c in b:
        if start and c == 0x2e: out.append(0x2e)
        out.append(c); start = c == 0x0a
    return bytes(out)
ours = set()
n = 0
for line in open(os.path.join(o, 'manifest.jsonl')):
    r = json.loads(line)
    if r.get('protocol') not in ('smtp', 'pop3', 'imap'):
        continue
    n += 1
    b = open(os.path.join(o, r['file']), 'rb').read()
    cut = b[:-2] if b.endswith(b'\r\n') else b
    for v in (b, cut, restuff(b), restuff(cut)):
        ours.add(hashlib.md5(v).hexdigest())
theirs = [hashlib.md5(open(os.path.join(t, f), 'rb').read()).hexdigest() for f in os.listdir(t)]
missing = sum(1 for m in theirs if m not in ours)
print(f"  tshark {len(theirs)} files, wiresift {n} messages, tshark's not among ours: {missing}")
sys.exit(1 if missing else 0)
PY
    rm -rf "$OUT/t" "$OUT/o"
    python3 bench/compare.py --runs "$RUNS" --name "wl-$size: e-mails (export smtp vs --export-objects imf)" \
        --peer-prep "rm -rf $OUT/t && mkdir $OUT/t" --peer "tshark -n -q -r $F --export-objects imf,$OUT/t" \
        --ours-prep "rm -rf $OUT/o" --ours "$W export smtp $F -o $OUT/o 2>/dev/null"
done
