"""Make a genome-wide-sized screen for the scale benchmark (issue 21), written with anndata a
block of cells at a time, so no size needs the whole matrix in memory.

Usage: python make_screen.py OUT.h5ad N_CELLS [--genes 8000] [--perturbations 2000] [--level 1]

Cells × genes CSR float32 counts, gzip (level `--level`), seed 0. Each gene has its own
detection rate (log-normal around 1,500 / genes, so a cell has ≈ 1,500 non-zeros) and mean
count; a cell's library size scales its counts. 2,000 perturbations (`target` = a gene's name,
5% `non-targeting` controls) each lower their target gene's detection tenfold. obs: `target`,
`gem_group` (8 lanes); var: gene names. A block is the same for every N_CELLS (the file of
1M cells is the first 1M cells of the 2.5M one).
"""
import argparse

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata.io import write_elem

BLOCK = 10_000
NNZ_PER_CELL = 1_500

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("cells", type=int)
p.add_argument("--genes", type=int, default=8_000)
p.add_argument("--perturbations", type=int, default=2_000)
p.add_argument("--level", type=int, default=1)
args = p.parse_args()
n, m = args.cells, args.genes

rng = np.random.default_rng(0)
rate = np.exp(rng.normal(0.0, 1.0, m))
rate = np.clip(rate * NNZ_PER_CELL / rate.sum(), 1e-4, 0.95)
rate32 = rate.astype(np.float32)
mean = 1.0 + np.exp(rng.normal(0.0, 0.8, m))
genes = np.array([f"g{j}" for j in range(m)])
targets_of = rng.choice(m, size=args.perturbations, replace=False)
labels = np.concatenate([genes[targets_of], ["non-targeting"]])


def block(b):
    """Cells b*BLOCK .. of the screen: (csr, target labels, lanes); depends on b only."""
    r = np.random.default_rng([0, b])
    k = min(BLOCK, n - b * BLOCK)
    pert = np.where(r.random(k) < 0.05, args.perturbations, r.integers(0, args.perturbations, k))
    mask = r.random((k, m), dtype=np.float32) < rate32
    hit = np.flatnonzero(pert < args.perturbations)
    mask[hit, targets_of[pert[hit]]] &= r.random(hit.size) < 0.1
    rows, cols = np.nonzero(mask)
    size = np.exp(r.normal(0.0, 0.3, k))
    values = 1.0 + r.poisson(np.maximum(mean[cols] * size[rows] - 1.0, 0.0))
    x = sp.csr_matrix((values.astype(np.float32), (rows, cols)), shape=(k, m))
    x.sort_indices()
    return x, labels[pert], r.integers(1, 9, k)


kw = dict(compression="gzip", compression_opts=args.level)
with h5py.File(args.out, "w") as f:
    obs_targets, obs_lanes = [], []
    first = True
    for b in range(-(-n // BLOCK)):
        x, t, lane = block(b)
        obs_targets.append(t)
        obs_lanes.append(lane)
        if first:
            write_elem(f, "X", x, dataset_kwargs=dict(kw, indptr_dtype="int64"))
            stored = ad.io.sparse_dataset(f["X"])
            first = False
        else:
            stored.append(x)
        print(f"block {b}: {b * BLOCK + x.shape[0]} cells, nnz {stored.group['data'].shape[0]}", flush=True)
    obs = pd.DataFrame(
        {
            "target": pd.Categorical(np.concatenate(obs_targets)),
            "gem_group": pd.Categorical(np.concatenate(obs_lanes).astype(str)),
        },
        index=[f"c{i}" for i in range(n)],
    )
    write_elem(f, "obs", obs)
    write_elem(f, "var", pd.DataFrame(index=genes))
    for key in ("obsm", "varm", "obsp", "varp", "layers", "uns"):
        write_elem(f, key, {})
    f.attrs["encoding-type"] = "anndata"
    f.attrs["encoding-version"] = "0.1.0"
