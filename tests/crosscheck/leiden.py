#!/usr/bin/env python3
"""Cross-check for gcrl's `algo::leiden`: runs leidenalg's RBConfigurationVertexPartition.

Input (JSON on stdin):
  {"n": 34,                        # number of nodes (0..n-1)
   "edges": [[0, 1, 1.0], ...],     # undirected edges [i, j, weight]; duplicates summed, self-loops allowed
   "resolution": 1.0,               # gamma of the RB configuration model
   "seeds": [0, 1, 2],              # one leidenalg run per seed
   "n_iterations": -1,              # optional, default -1 (until an iteration brings no improvement)
   "partitions": [[0, 0, 1, ...]]}  # optional: fixed memberships whose igraph modularity is returned

Output (JSON on stdout):
  {"quality":          [...],  # per seed: igraph Graph.modularity(membership, weights, resolution)
                               #   = (1/2m) sum_ij (A_ij - gamma k_i k_j / 2m) delta(c_i, c_j)
   "leidenalg_quality": [...], # per seed: partition.quality() = 2m * quality
   "n_communities":    [...],  # per seed
   "membership":       [[...]],# per seed, leidenalg's labels
   "seconds_per_run":  float,  # mean wall time of one find_partition call
   "modularity":       [...]}  # igraph modularity of each input partition (empty if none given)

Requires: pip install leidenalg igraph  (checked with leidenalg 0.12.0, igraph 1.0.0).
"""
import json
import sys
import time

import igraph as ig
import leidenalg as la


def main():
    req = json.load(sys.stdin)
    n = int(req["n"])
    edges = [(int(i), int(j)) for i, j, _ in req["edges"]]
    weights = [float(w) for _, _, w in req["edges"]]
    g = ig.Graph(n=n, edges=edges, directed=False)
    g.es["weight"] = weights
    gamma = float(req.get("resolution", 1.0))
    n_iter = int(req.get("n_iterations", -1))

    out = {"quality": [], "leidenalg_quality": [], "n_communities": [], "membership": []}
    start = time.perf_counter()
    for seed in req.get("seeds", []):
        p = la.find_partition(
            g,
            la.RBConfigurationVertexPartition,
            weights="weight",
            resolution_parameter=gamma,
            n_iterations=n_iter,
            seed=int(seed),
        )
        out["membership"].append(list(p.membership))
        out["leidenalg_quality"].append(p.quality())
        out["n_communities"].append(len(p))
    elapsed = time.perf_counter() - start
    for m in out["membership"]:
        out["quality"].append(g.modularity(m, weights="weight", resolution=gamma))
    out["seconds_per_run"] = elapsed / max(1, len(out["membership"]))
    out["modularity"] = [
        g.modularity(list(p), weights="weight", resolution=gamma) for p in req.get("partitions", [])
    ]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
