#!/usr/bin/env bash
# proxy.sh — wiresift proxy vs mitmproxy under the same load, in the same run, with the shared
# benchmark ../shared/bench/proxy_bench.sh (nginx origin, wrk/hey, CONNECT and reverse modes).
#
# Usage (root, from the repository): bash bench/proxy.sh [OUTDIR]     (default ./bench-out/proxy)
# Needs: cargo build --release -p wiresift; apt-get install -y nginx-light wrk hey time;
#        pip install mitmproxy (skipped with a note when mitmdump is missing).
# Knobs are passed through: DURATION RUNS CONNS WARMUP MEM_DURATION SIZES SKIP_MEM.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-./bench-out/proxy}
BENCH=${BENCH:-$HERE/../shared/bench/proxy_bench.sh}
WS=${WIRESIFT:-$HERE/target/release/wiresift}
[ -x "$WS" ] || { echo "build first: cargo build --release -p wiresift" >&2; exit 1; }
mkdir -p "$OUT"

# hey (Go) sets the TLS server name to the request's Host, "127.0.0.1:18443" through a proxy:
# RFC 6066 forbids a port there, and rustls (wiresift's TLS) refuses such a ClientHello, while
# OpenSSL (mitmproxy) ignores it. For HTTPS through a proxy this shim adds `-host IP` (the same
# host without the port): the SNI is then omitted, as for any IP literal. It applies to both
# proxies alike, so the load stays the same; nginx answers the same file either way.
SHIM=$(mktemp -d); trap 'rm -rf "$SHIM"' EXIT
REAL_HEY=$(command -v hey)
cat >"$SHIM/hey" <<SH
#!/usr/bin/env bash
last=\${!#}
case " \$* " in
  *" -x "*) case \$last in https://*) h=\${last#https://}; h=\${h%%/*}; h=\${h%:*}; exec "$REAL_HEY" -host "\$h" "\$@" ;; esac ;;
esac
exec "$REAL_HEY" "\$@"
SH
chmod +x "$SHIM/hey"
export PATH="$SHIM:$PATH"

echo "== wiresift" >&2
PROXY_CMD="$WS proxy -q -p {PORT} --confdir {CONFDIR} --insecure" \
REVERSE_CMD="$WS proxy -q -p {PORT} --mode reverse:{UPSTREAM} --confdir {CONFDIR} --insecure" \
CA_CERT=wiresift-ca-cert.pem \
  bash "$BENCH" "$OUT/wiresift"

if command -v mitmdump >/dev/null; then
  echo "== mitmproxy ($(mitmdump --version 2>/dev/null | head -1))" >&2
  bash "$BENCH" "$OUT/mitmproxy"
else
  echo "mitmdump not installed: only wiresift measured (compare with the published figures in ../shared/bench/README.md)" >&2
fi
