#!/bin/bash
# Memory estimate against measured peak, per kind (README, "Memory").
#
#   bash scripts/memory-estimates.sh WORKFLOW CACHE [--set node.param=value ...]
#
# Runs each node of WORKFLOW alone in a fresh process (`run --force NODE --until NODE -j 1`, its
# upstream cached in CACHE by the nodes before it), so that each task's peak RSS in its manifest
# is its own, as a `gcrl exec` worker measures it; then prints, per kind, the largest inputs, the
# estimate `gcrl plan --json` gives (`mem_mb`) and the measured peak of its tasks.
set -euo pipefail
wf=$1 cache=$2
shift 2
gcrl=${GCRL_BIN:-target/release/gcrl}
python=${GCRL_PYTHON:-python3}
nodes=$("$gcrl" plan "$wf" --json --cache "$cache" "$@" |
  "$python" -c 'import json, sys; print(" ".join(dict.fromkeys(t["node"] for t in json.load(sys.stdin)["tasks"])))')
for node in $nodes; do
  "$gcrl" run "$wf" -j 1 -q --cache "$cache" --force "$node" --until "$node" "$@" || true
done
"$gcrl" plan "$wf" --json --cache "$cache" "$@" | "$python" -c '
import collections, glob, json, os, sys
cache = sys.argv[1]
plan = json.load(sys.stdin)["tasks"]
manifests = {}
for f in glob.glob(f"{cache}/tasks/*/*.json"):
    for line in open(f):
        if line.strip():
            m = json.loads(line)
            manifests[m["label"]] = m
size = lambda h: sum(os.path.getsize(p) for p in glob.glob(f"{cache}/objects/{h[:2]}/{h}*"))
rows = collections.defaultdict(lambda: [0, 0.0, 0, 0.0])
for t in plan:
    m = manifests.get(t["task"])
    if m is None or "usage" not in m or "mem_mb" not in t:
        continue
    inputs = sum(size(h) for hs in m["inputs"].values() for h in hs)
    inputs += sum(size(o["hash"]) for l, s in manifests.items() if l.startswith(t["task"] + "#") for o in s["outputs"].values())
    r = rows[m["kind"] + (" (shard)" if "#" in t["task"] else "")]
    r[0] += 1
    r[1] = max(r[1], inputs / 2**20)
    r[2] = max(r[2], t["mem_mb"])
    r[3] = max(r[3], m["usage"]["peak_rss_mb"])
print("| kind | tasks | inputs MiB | estimate MiB | measured MiB | estimate / measured |")
print("|---|---:|---:|---:|---:|---:|")
for kind, (n, inputs, est, peak) in sorted(rows.items()):
    print(f"| {kind} | {n} | {inputs:.1f} | {est} | {peak:.0f} | {est / peak:.2f} |")
' "$cache"
