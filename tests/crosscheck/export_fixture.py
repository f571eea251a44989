"""Writes papalexi2021_lowmoi counts in gcrl's tiny varint CSR format and prints scanpy's HVG results.

Usage: python export_fixture.py H5AD OUT.bin STEP   (keeps every STEP-th cell; STEP=1 keeps all)

Format of OUT.bin (all integers LEB128 varints): n_rows, n_cols, then per row: nnz, then nnz pairs
(column gap from the previous stored column + 1 (first: column + 1), integer count).
Prints, as JSON, the selected gene indices of the four scanpy calls used in preprocess.rs tests.
"""
import json, sys
import numpy as np
import scanpy as sc


def varint(v, out):
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return


def main():
    path, out_path, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ad = sc.read_h5ad(path)
    ad = ad[::step].copy()
    X = ad.X.tocsr()
    X.sort_indices()
    assert np.all(X.data == np.round(X.data))
    buf = bytearray()
    varint(X.shape[0], buf)
    varint(X.shape[1], buf)
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        varint(hi - lo, buf)
        prev = -1
        for j, v in zip(X.indices[lo:hi], X.data[lo:hi]):
            varint(int(j - prev), buf)
            varint(int(v), buf)
            prev = j
    open(out_path, "wb").write(bytes(buf))

    res = {"n_cells": int(X.shape[0]), "bytes": len(buf)}
    v3 = sc.pp.highly_variable_genes(ad, flavor="seurat_v3", n_top_genes=100, inplace=False)
    res["seurat_v3"] = np.flatnonzero(v3["highly_variable"]).tolist()
    res["seurat_v3_variances_norm_first5"] = v3["variances_norm"].to_numpy()[:5].tolist()
    sc.pp.normalize_total(ad, target_sum=1e4)
    sc.pp.log1p(ad)
    for name, kw in [("seurat", dict(flavor="seurat", n_top_genes=100)),
                     ("cell_ranger", dict(flavor="cell_ranger", n_top_genes=100)),
                     ("seurat_cutoffs", dict(flavor="seurat"))]:
        df = sc.pp.highly_variable_genes(ad, inplace=False, **kw)
        res[name] = np.flatnonzero(df["highly_variable"]).tolist()
        res[name + "_means_first5"] = df["means"].to_numpy()[:5].tolist()
        res[name + "_dispersions_norm_first5"] = df["dispersions_norm"].to_numpy()[:5].tolist()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
