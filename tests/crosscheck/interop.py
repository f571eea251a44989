"""Cross-check for gcrl's outputs as other tools see them (tests/crosscheck.rs, interop tests).

Input (JSON on stdin):
    {"objects": [{"path": str, "columns": [str], "rows": int, "metadata": {str: str}}],
     "h5ad": str | null}
Output (JSON on stdout):
    {"objects": [{"path": str,
                  "pyarrow": {"columns": [str], "rows": int, "metadata": {str: str}},
                  "pandas": {"columns": [str], "rows": int},
                  "polars": {"columns": [str], "rows": int}}],
     "h5ad": null | {"n_obs": int, "n_vars": int, "obs_names": [str], "var_names": [str],
                     "obs_columns": [str], "obs_dtypes": [str], "x_sum": float, "x_sparse": bool,
                     "obsm": {key: [[float]]}, "uns_columns": {key: [str]},
                     "scanpy_n_genes_by_counts": [int]}}
pandas reads with pd.read_feather, polars with pl.read_ipc, pyarrow with pa.ipc.open_file.
"""

import json
import sys

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc


def read_object(o):
    with pa.memory_map(o["path"]) as source:
        table = ipc.open_file(source).read_all()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    frame = pd.read_feather(o["path"])
    lazy = pl.read_ipc(o["path"])
    return {
        "path": o["path"],
        "pyarrow": {"columns": table.column_names, "rows": table.num_rows, "metadata": meta},
        "pandas": {"columns": [str(c) for c in frame.columns], "rows": len(frame)},
        "polars": {"columns": lazy.columns, "rows": lazy.height},
    }


def read_h5ad(path):
    import anndata
    import scanpy as sc
    import scipy.sparse as sp

    a = anndata.read_h5ad(path)
    s = sc.read_h5ad(path)
    sc.pp.calculate_qc_metrics(s, inplace=True, percent_top=None)
    uns = a.uns.get("gcrl", {})
    return {
        "n_obs": a.n_obs,
        "n_vars": a.n_vars,
        "obs_names": list(a.obs_names),
        "var_names": list(a.var_names),
        "obs_columns": list(a.obs.columns),
        "obs_dtypes": [str(a.obs[c].dtype) for c in a.obs.columns],
        "x_sum": float(a.X.sum()),
        "x_sparse": bool(sp.issparse(a.X)),
        "obsm": {k: a.obsm[k].tolist() for k in a.obsm.keys()},
        "uns_columns": {k: [str(x) for x in v] for k, v in uns.items()},
        "scanpy_n_genes_by_counts": [int(x) for x in s.obs["n_genes_by_counts"]],
    }


def main():
    request = json.load(sys.stdin)
    out = {"objects": [read_object(o) for o in request["objects"]], "h5ad": None}
    if request.get("h5ad"):
        out["h5ad"] = read_h5ad(request["h5ad"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
