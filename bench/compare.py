#!/usr/bin/env python3
"""Runs wiresift and a peer tool on the same input in the same run, alternating, and prints
median wall time, CPU time and peak RSS of each plus the ratio (peer / wiresift).

    compare.py --runs 5 --name "read -w" \
        --peer 'tcpdump -r F -w /tmp/p.pcap "tcp port 80"' \
        --ours 'wiresift read F -f "tcp port 80" -w /tmp/o.pcap'

Commands run through `exec sh -c` with stdout to /dev/null unless they redirect it
themselves. `--peer-prep`/`--ours-prep` run before each run of that tool, untimed (e.g.
removing the previous run's output directory, which for 16,000 files takes 0.1 s). Wall time comes from a monotonic clock, CPU time and peak RSS from wait4(2) (the
command and its children), so short runs are measured in microseconds, not 10 ms ticks.
"""
import argparse, json, os, statistics, subprocess, sys, time

def measure(cmd):
    # GNU time reports the command's own peak RSS (a child forked from Python would start
    # with Python's RSS); wall and CPU come from wait4 on it, at microsecond resolution.
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "sh", "-c", "exec " + cmd + " > /dev/null"],
                         stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = status
    rss_kb = int(err.strip().splitlines()[-1])
    return wall, ru.ru_utime + ru.ru_stime, rss_kb / 1024.0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--peer-prep", default=None)
    ap.add_argument("--ours-prep", default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    peer, ours = [], []
    def prep(cmd):
        if cmd:
            subprocess.run(["sh", "-c", cmd], check=True)
    for _ in range(a.runs):
        prep(a.peer_prep)
        peer.append(measure(a.peer))
        prep(a.ours_prep)
        ours.append(measure(a.ours))
    def med(xs, i):
        return statistics.median(x[i] for x in xs)
    res = {
        "name": a.name,
        "peer_wall": med(peer, 0), "peer_cpu": med(peer, 1), "peer_rss_mib": max(x[2] for x in peer),
        "ours_wall": med(ours, 0), "ours_cpu": med(ours, 1), "ours_rss_mib": max(x[2] for x in ours),
    }
    res["ratio_wall"] = res["peer_wall"] / max(res["ours_wall"], 1e-9)
    res["ratio_cpu"] = res["peer_cpu"] / max(res["ours_cpu"], 1e-9)
    if a.json:
        print(json.dumps(res))
    else:
        print("| {name} | {peer_wall:.3f} s / {peer_cpu:.3f} s CPU / {peer_rss_mib:.1f} MiB | "
              "{ours_wall:.3f} s / {ours_cpu:.3f} s CPU / {ours_rss_mib:.1f} MiB | "
              "{ratio_wall:.2f}x wall, {ratio_cpu:.2f}x CPU |".format(**res))

if __name__ == "__main__":
    main()
