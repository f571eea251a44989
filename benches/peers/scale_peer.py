"""The scanpy side of the scale benchmark (issue 21): a screen read with
`anndata.read_h5ad(backed="r")` and processed 65,536 cells at a time, for screens that do not fit
in memory. scanpy has no chunked pipeline, so the chunking is written here, with scanpy's own
functions on each chunk where they exist.

Usage: python scale_peer.py pseudobulk|preprocess FILE.h5ad OUT_DIR

- pseudobulk: per `target` (gcrl's `targets`, controls in one group), the mean of each gene and
  the fraction of cells expressing it (what gcrl's `pseudobulk` writes).
- preprocess: pass 1 accumulates, per gene, the mean and variance of the normalised counts
  (`sc.pp.normalize_total(target_sum=1e4)` + `sc.pp.log1p` per chunk, then expm1, as scanpy's
  `flavor="seurat"` does), and picks 2,000 genes as `_highly_variable_genes_single_batch` does
  (log dispersion, 20 mean bins, normalised dispersion); pass 2 writes the HVG columns of the
  normalised chunks to OUT_DIR/hvg.h5ad (anndata's appendable sparse dataset).
Prints `work=SECONDS` and a check value.
"""
import sys
import time

t0 = time.perf_counter()
import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from anndata.io import sparse_dataset, write_elem

CHUNK = 65_536
mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
t1 = time.perf_counter()
a = ad.read_h5ad(path, backed="r")
n, m = a.shape


def chunks():
    for i in range(0, n, CHUNK):
        yield i, a.X[i : min(i + CHUNK, n)]


def normalised(x):
    c = ad.AnnData(x.astype(np.float32))
    sc.pp.normalize_total(c, target_sum=1e4)
    sc.pp.log1p(c)
    return c.X


if mode == "pseudobulk":
    labels = a.obs["target"].astype(str).to_numpy()
    groups, codes = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(groups), m))
    expressing = np.zeros((len(groups), m))
    counts = np.bincount(codes, minlength=len(groups)).astype(float)
    for i, x in chunks():
        g = sp.csr_matrix(
            (np.ones(x.shape[0]), (codes[i : i + x.shape[0]], np.arange(x.shape[0]))), shape=(len(groups), x.shape[0])
        )
        sums += (g @ x).toarray()
        expressing += (g @ (x != 0).astype(np.float64)).toarray()
    mean, fraction = sums / counts[:, None], expressing / counts[:, None]
    print(f"groups={len(groups)} check={mean.sum():.6g} fraction={fraction.mean():.6g}")
elif mode == "preprocess":
    s1, s2 = np.zeros(m), np.zeros(m)
    for _, x in chunks():
        e = normalised(x).expm1()
        s1 += np.asarray(e.sum(axis=0)).ravel()
        s2 += np.asarray(e.multiply(e).sum(axis=0)).ravel()
    mean = s1 / n
    var = (s2 - n * mean**2) / (n - 1)
    mean[mean == 0] = 1e-12
    disp = var / mean
    disp[disp == 0] = np.nan
    disp = np.log(disp)
    mean = np.log1p(mean)
    df = pd.DataFrame({"means": mean, "dispersions": disp})
    df["bin"] = pd.cut(df["means"], bins=20)
    stats = df.groupby("bin", observed=True)["dispersions"].agg(["mean", "std"])
    bmean = df["bin"].map(stats["mean"]).astype(float).to_numpy()
    bstd = df["bin"].map(stats["std"]).astype(float).to_numpy()
    norm = (df["dispersions"].to_numpy() - bmean) / bstd
    norm = np.nan_to_num(norm, nan=-np.inf)
    hvg = np.sort(np.argsort(-norm, kind="stable")[:2000])
    with h5py.File(f"{out}/hvg.h5ad", "w") as f:
        first = True
        for _, x in chunks():
            y = normalised(x)[:, hvg].tocsr()
            if first:
                write_elem(f, "X", y, dataset_kwargs={"indptr_dtype": "int64"})
                stored = sparse_dataset(f["X"])
                first = False
            else:
                stored.append(y)
        nnz = stored.group["data"].shape[0]
    print(f"n_hvg={len(hvg)} nnz={nnz}")
else:
    sys.exit(f"unknown mode {mode}")
print(f"imports={t1 - t0} work={time.perf_counter() - t1}")
