#!/usr/bin/env bash
# bench/capture.sh — live capture at rising packet rates: wiresift vs tcpdump, same run.
#
# Usage (root):  bash bench/capture.sh [OUTDIR]          (default ./bench-out/capture)
#
# Two private network namespaces joined by one veth pair (addresses only on it). A bounded,
# paced UDP sender (C, sendmmsg, built here) sends 64-byte datagrams (106-byte frames) for
# DURATION s at each rate to an address with a static neighbour entry on the receiving veth;
# the capture tool runs on that veth in the other namespace, writing to /dev/shm, and is
# stopped with SIGINT. Per run: packets sent, packets in the file, the tool's own
# received/dropped figures, CPU seconds (user+sys, GNU time). Tools alternate at each rate.
#
# Knobs: RATES="50000 100000 200000 400000 0" (0 = as fast as the sender can), DURATION=10,
#        RUNS=1, WIRESIFT=target/release/wiresift, BUF_KIB=4096 (-B for both tools)
set -euo pipefail
OUT=${1:-./bench-out/capture}
RATES=${RATES:-"50000 100000 200000 400000 0"}
DURATION=${DURATION:-10}
RUNS=${RUNS:-1}
BUF_KIB=${BUF_KIB:-4096}
WIRESIFT=${WIRESIFT:-target/release/wiresift}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for t in cc capinfos ip tcpdump timeout; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
GNUTIME=$(type -P time) || { echo "missing: GNU time (apt-get install -y time)" >&2; exit 1; }
[ -x "$WIRESIFT" ] || { echo "build first: cargo build --release -p wiresift" >&2; exit 1; }
WIRESIFT=$(cd "$(dirname "$WIRESIFT")" && pwd)/$(basename "$WIRESIFT")
mkdir -p "$OUT/logs"; OUT=$(cd "$OUT" && pwd)

NS_TX=wsbc-tx-$$; NS_RX=wsbc-rx-$$
W=$(mktemp -d); CAP=
cleanup() {
  [ -n "$CAP" ] && kill "$CAP" 2>/dev/null || true
  ip netns del "$NS_TX" 2>/dev/null || true; ip netns del "$NS_RX" 2>/dev/null || true
  rm -rf "$W" /dev/shm/wsbc-$$.*
}
trap cleanup EXIT INT TERM

cat >"$W/flood.c" <<'C'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) { /* DST PORT PPS SECONDS */
  if (argc != 5) return 2;
  struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &d.sin_addr);
  double pps = atof(argv[3]), secs = atof(argv[4]);
  if (secs <= 0 || secs > 60) return 2;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&d, sizeof d) < 0) { perror("socket"); return 1; }
  static char p[64][64]; struct iovec iov[64]; struct mmsghdr m[64]; memset(m, 0, sizeof m);
  for (int i = 0; i < 64; i++) { memset(p[i], 'w', 64); iov[i].iov_base = p[i]; iov[i].iov_len = 64;
    m[i].msg_hdr.msg_iov = &iov[i]; m[i].msg_hdr.msg_iovlen = 1; }
  int batch = 64; if (pps > 0 && pps / 2000 < 64) batch = pps / 2000 < 1 ? 1 : (int)(pps / 2000);
  uint64_t sent = 0; double t0 = now(), t;
  while ((t = now()) < t0 + secs) {
    int n = batch;
    if (pps > 0) { double due = (t - t0) * pps - (double)sent;
      if (due < 1) { struct timespec s = {0, 50000}; nanosleep(&s, NULL); continue; }
      if (due < n) n = (int)due; }
    for (int i = 0; i < n; i++) memcpy(p[i], &sent, 8), sent++;
    int r = sendmmsg(fd, m, n, 0); if (r < n) sent -= n - (r < 0 ? 0 : r);
  }
  printf("sent %llu packets in %.2f s\n", (unsigned long long)sent, now() - t0);
  return 0;
}
C
cc -O2 -o "$W/flood" "$W/flood.c"

ip netns add "$NS_TX"; ip netns add "$NS_RX"
for ns in "$NS_TX" "$NS_RX"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
ip -n "$NS_TX" link add wtx address 02:00:00:00:bb:01 type veth peer name wrx address 02:00:00:00:bb:02 netns "$NS_RX"
ip -n "$NS_TX" addr add 198.18.0.1/24 dev wtx; ip -n "$NS_RX" addr add 198.18.0.2/24 dev wrx
ip -n "$NS_TX" link set wtx up; ip -n "$NS_RX" link set wrx up
ip netns exec "$NS_TX" ethtool -K wtx tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$NS_RX" ethtool -K wrx tso off gso off gro off >/dev/null 2>&1 || true
# 198.18.0.9 is nobody's: frames reach wrx (static neighbour) and IP drops them quietly.
ip -n "$NS_TX" neigh replace 198.18.0.9 lladdr 02:00:00:00:bb:02 dev wtx nud permanent

declare -A CMD=(
  [tcpdump]="tcpdump -i wrx -w {FILE} -B $BUF_KIB -n"
  [wiresift]="$WIRESIFT capture -i wrx -w {FILE} -B $BUF_KIB --pcap"
)
stat_of() { # log "received by filter" -> number (first match)
  sed -n "s/^\([0-9]*\) packets\{0,1\} $2.*/\1/p" "$1" | head -1
}
RAW=$OUT/raw.tsv
printf 'tool\trate\trun\tsent\tin_file\treceived\tdropped\tcpu_s\n' >"$RAW"
for run in $(seq 1 "$RUNS"); do
  for rate in $RATES; do
    for tool in tcpdump wiresift; do
      file=/dev/shm/wsbc-$$.$tool.pcap; rm -f "$file"
      cmd=${CMD[$tool]//\{FILE\}/$file}
      log=$OUT/logs/$tool-$rate-$run.txt
      # shellcheck disable=SC2086
      ip netns exec "$NS_RX" "$GNUTIME" -f 'CAPCPU %e %U %S %M' timeout -s INT $((DURATION + 3)) $cmd >"$log" 2>&1 &
      CAP=$!
      for _ in $(seq 1 100); do grep -q 'listening on' "$log" && break; sleep 0.05; done
      sleep 0.5
      sent=$(ip netns exec "$NS_TX" timeout $((DURATION + 5)) "$W/flood" 198.18.0.9 9 "$rate" "$DURATION" | sed -n 's/^sent \([0-9]*\).*/\1/p')
      wait "$CAP" || true; CAP=
      infile=$(capinfos -c -M "$file" 2>/dev/null | awk '/Number of packets/{print $NF}')
      cpu=$(awk '/^CAPCPU/{printf "%.2f", $3+$4}' "$log")
      row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$tool" "$rate" "$run" "$sent" "${infile:--}" \
        "$(stat_of "$log" 'received by filter')" "$(stat_of "$log" 'dropped by kernel')" "$cpu")
      echo "$row" >&2; echo "$row" >>"$RAW"
      rm -f "$file"
    done
  done
done
{ tcpdump --version 2>&1 | head -2; "$WIRESIFT" --version; echo "DURATION=$DURATION RUNS=$RUNS BUF_KIB=$BUF_KIB"; nproc; uptime; } >"$OUT/env.txt"
echo "raw figures: $RAW" >&2
