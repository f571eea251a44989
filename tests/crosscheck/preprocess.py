"""Reference results for gcrl's algo::preprocess, computed with scanpy.

stdin (JSON):
  {"shape": [n_cells, n_genes], "indptr": [...], "indices": [...], "data": [...],   # CSR counts
   "flavor": "seurat" | "cell_ranger" | "seurat_v3",
   "n_top_genes": int or null, "target_sum": float or null}
or, to run several settings on one matrix with one scanpy import, the same CSR keys plus
   "runs": [{"flavor": ..., "n_top_genes": ..., "target_sum": ...}, ...]
For "seurat"/"cell_ranger" the counts go through sc.pp.normalize_total(target_sum) and
sc.pp.log1p first; "seurat_v3" runs on the counts. With n_top_genes null the default cut-offs
apply (seurat_v3 then uses 2000).
stdout (JSON), for the single-run form:
  {"scanpy": version, "normalized_data": [...] (CSR data after normalize+log1p, or null),
   "highly_variable": [bool], "means": [float], "dispersions_norm": [float or null]}
  (for seurat_v3 "dispersions_norm" holds scanpy's variances_norm);
for the "runs" form: {"scanpy": version, "runs": [one object as above per run]}, where
"normalized_data" is given only for the first run of each target_sum (null for the others:
it is the same, and sending it again made the papalexi check spend most of its time in JSON).
"""
import json
import sys
from importlib.metadata import version

import anndata as ad
import numpy as np
import scanpy as sc
from scipy import sparse


def clean(v):
    return [None if not np.isfinite(t) else float(t) for t in v]


def run(x, flavor, n_top, target_sum):
    a = ad.AnnData(x.copy())
    normalized = None
    if flavor == "seurat_v3":
        df = sc.pp.highly_variable_genes(a, flavor=flavor, n_top_genes=n_top or 2000, inplace=False)
        norm = df["variances_norm"]
    else:
        sc.pp.normalize_total(a, target_sum=target_sum)
        sc.pp.log1p(a)
        normalized = a.X.data.astype(float).tolist()
        df = sc.pp.highly_variable_genes(a, flavor=flavor, n_top_genes=n_top, inplace=False)
        norm = df["dispersions_norm"]
    return {
        "scanpy": version("scanpy"),
        "normalized_data": normalized,
        "highly_variable": df["highly_variable"].astype(bool).tolist(),
        "means": clean(df["means"].to_numpy()),
        "dispersions_norm": clean(norm.to_numpy()),
    }


def main():
    inp = json.load(sys.stdin)
    x = sparse.csr_matrix(
        (np.asarray(inp["data"], np.float32), np.asarray(inp["indices"]), np.asarray(inp["indptr"])),
        shape=tuple(inp["shape"]),
    )
    if "runs" in inp:
        runs, normalized = [], set()
        for r in inp["runs"]:
            result = run(x, r["flavor"], r.get("n_top_genes"), r.get("target_sum"))
            if result["normalized_data"] is not None:
                if r.get("target_sum") in normalized:
                    result["normalized_data"] = None
                normalized.add(r.get("target_sum"))
            runs.append(result)
        out = {"scanpy": version("scanpy"), "runs": runs}
    else:
        out = run(x, inp["flavor"], inp.get("n_top_genes"), inp.get("target_sum"))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
