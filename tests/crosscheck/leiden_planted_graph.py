#!/usr/bin/env python3
"""Writes the weighted planted-partition test graph of gcrl's `algo::leiden` tests as TSV on stdout.

150 nodes in 6 blocks of 25; each within-block pair is an edge with probability 0.35, each
between-block pair with probability 0.07; weights uniform in [0.05, 1.0], rounded to 6 decimals.
Columns: i, j, weight (i < j). Deterministic: numpy.random.default_rng(20240611).
Usage: python3 crosscheck/leiden_planted_graph.py > crosscheck/data/leiden_planted150.tsv
"""
import numpy as np


def main():
    rng = np.random.default_rng(20240611)
    n, block = 150, 25
    for i in range(n):
        for j in range(i + 1, n):
            p = 0.35 if i // block == j // block else 0.07
            if rng.random() < p:
                w = round(float(rng.uniform(0.05, 1.0)), 6)
                print(f"{i}\t{j}\t{w:.6f}")


if __name__ == "__main__":
    main()
