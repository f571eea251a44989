"""Writes the AnnData layouts of issue 15 for src/io/h5ad.rs, each as the tool that makes it would:

    legacy.h5ad  anndata < 0.7 (scanpy's pbmc68k_reduced, Kang 2018 from scgen): obs and var are
                 one record array each (first field the index), categoricals stored as codes with
                 their labels in uns/<column>_categories, X a dense dataset; written with h5py.
    raw.h5ad     CELLxGENE style: X normalised on 6 genes, raw/X the counts of all 9 genes with
                 raw/var; written with anndata.
    multi.h5mu   MuData: an AnnData under mod/rna and one under mod/prot (anndata.io.write_elem),
                 joint obs/var at the root.

Input (JSON on stdin): {"dir": "path"}. Output (JSON on stdout): {name: path}.
"""

import json
import os
import sys

import anndata
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp


def legacy(path):
    n, m = 12, 5
    obs = np.zeros(n, dtype=[("index", "S12"), ("louvain", "i1"), ("n_genes", "<i8"),
                             ("percent_mito", "<f4"), ("is_doublet", "?"), ("batch", "S4")])
    obs["index"] = [f"AAAC{i:02d}-1".encode() for i in range(n)]
    obs["louvain"] = [i % 3 for i in range(n)]
    obs["n_genes"] = [100 + 7 * i for i in range(n)]
    obs["percent_mito"] = [0.01 * i for i in range(n)]
    obs["is_doublet"] = [i % 5 == 0 for i in range(n)]
    obs["batch"] = [b"b1" if i < 6 else b"b2" for i in range(n)]
    var = np.zeros(m, dtype=[("index", "S8"), ("gene_ids", "S16"), ("means", "<f8")])
    var["index"] = [f"G{j}".encode() for j in range(m)]
    var["gene_ids"] = [f"ENSG{j:05d}".encode() for j in range(m)]
    var["means"] = [j / 3 for j in range(m)]
    x = np.array([[(3 * i + 5 * j) % 7 for j in range(m)] for i in range(n)], dtype=np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=x)
        f.create_dataset("obs", data=obs)
        f.create_dataset("var", data=var)
        uns = f.create_group("uns")
        uns.create_dataset("louvain_categories", data=np.array([b"B cells", b"T cells", b"NK"]))


def raw(path):
    rng = np.random.default_rng(15)
    counts = sp.random(10, 9, density=0.5, random_state=rng, format="csr",
                       data_rvs=lambda k: rng.integers(1, 20, k)).astype(np.float32)
    full = anndata.AnnData(counts, obs=pd.DataFrame(index=[f"c{i}" for i in range(10)]),
                           var=pd.DataFrame({"gene_ids": [f"E{j}" for j in range(9)]},
                                            index=[f"g{j}" for j in range(9)]))
    full.raw = full
    a = full[:, :6].copy()
    a.X = np.log1p(a.X.toarray() / 2.0)
    a.obs["cell_type"] = pd.Categorical(["T", "B"] * 5)
    a.write_h5ad(path)


def h5mu(path):
    def modality(n_vars, prefix, seed):
        rng = np.random.default_rng(seed)
        x = sp.random(8, n_vars, density=0.5, random_state=rng, format="csr",
                      data_rvs=lambda k: rng.integers(1, 9, k)).astype(np.float32)
        return anndata.AnnData(x, obs=pd.DataFrame({"n": np.arange(8)}, index=[f"c{i}" for i in range(8)]),
                               var=pd.DataFrame(index=[f"{prefix}{j}" for j in range(n_vars)]))

    with h5py.File(path, "w") as f:
        f.attrs["encoding-type"] = "MuData"
        f.attrs["encoding-version"] = "0.1.0"
        mods = f.create_group("mod")
        anndata.io.write_elem(mods, "rna", modality(7, "gene", 1))
        anndata.io.write_elem(mods, "prot", modality(3, "CD", 2))
        anndata.io.write_elem(f, "obs", pd.DataFrame(index=[f"c{i}" for i in range(8)]))
        anndata.io.write_elem(f, "var", pd.DataFrame(index=[f"gene{j}" for j in range(7)] + [f"CD{j}" for j in range(3)]))


def main():
    req = json.load(sys.stdin)
    out = {name: os.path.join(req["dir"], name) for name in ["legacy.h5ad", "raw.h5ad", "multi.h5mu"]}
    legacy(out["legacy.h5ad"])
    raw(out["raw.h5ad"])
    h5mu(out["multi.h5mu"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
