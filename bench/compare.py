#!/usr/bin/env python3
"""Runs wiresift and a peer tool on the same input in the same run, alternating, and prints
median wall time, CPU time and peak RSS of each plus the ratio (peer / wiresift).

    compare.py --runs 5 --name "read -w" \
        --peer 'tcpdump -r F -w /tmp/p.pcap "tcp port 80"' \
        --ours 'wiresift read F -f "tcp port 80" -w /tmp/o.pcap'

Commands run through `sh -c` with stdout to /dev/null unless they redirect it themselves;
`/usr/bin/time -f` gives the figures (GNU time: apt-get install time).
"""
import argparse, json, statistics, subprocess, sys

def measure(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "sh", "-c", cmd + " > /dev/null"],
                       stderr=subprocess.PIPE, text=True)
    last = r.stderr.strip().splitlines()[-1].split()
    wall, user, sys_, rss = float(last[0]), float(last[1]), float(last[2]), int(last[3])
    return wall, user + sys_, rss / 1024.0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    peer, ours = [], []
    for _ in range(a.runs):
        peer.append(measure(a.peer))
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
