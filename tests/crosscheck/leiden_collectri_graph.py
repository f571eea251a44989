#!/usr/bin/env python3
"""Writes the real TF–TF test graph of gcrl's Leiden quality checks as TSV on stdout.

Source: the CollecTRI TF → target prior network (`collectri_tf_target.tsv.gz`, columns
`source target sign`, 40,925 edges, 1,176 TFs = the distinct sources; see ../shared/data/README.md).
1. TFs are the 1,176 sources; keep the edges s → t with t also a TF and s ≠ t (8,325 edges).
2. Their undirected TF–TF pairs (7,495 pairs on 1,053 TFs); the degree of a TF is its number of
   distinct TF neighbours.
3. Keep the TFs of degree ≥ 27: exactly 158 TFs (the largest set of top-degree TFs of at most
   160 that needs no tie break), which induce one connected component.
Output: the directed edges s → t between the kept TFs, sorted, header `source target weight`
(the weight is CollecTRI's sign, ±1), as a GRN edge table reads. gcrl symmetrises them as the `leiden-sweep` node does
(`algo::stability::tf_graph`: w_ab = |w_a→b| + |w_b→a|), giving 158 nodes and 2,422 edges of
weight 1 or 2.
Usage: python3 tests/crosscheck/leiden_collectri_graph.py ../shared/data/collectri_tf_target.tsv.gz \
           > tests/data/leiden_collectri158.tsv
"""
import collections
import gzip
import sys

MIN_DEGREE = 27


def main():
    with gzip.open(sys.argv[1], "rt") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    tfs = {s for s, _, _ in rows}
    tf_edges = [(s, t, w) for s, t, w in rows if t in tfs and s != t]
    neighbours = collections.defaultdict(set)
    for s, t, _ in tf_edges:
        neighbours[s].add(t)
        neighbours[t].add(s)
    kept = {tf for tf, nb in neighbours.items() if len(nb) >= MIN_DEGREE}
    print("source\ttarget\tweight")
    for s, t, w in sorted(e for e in tf_edges if e[0] in kept and e[1] in kept):
        print(f"{s}\t{t}\t{w}")


if __name__ == "__main__":
    main()
