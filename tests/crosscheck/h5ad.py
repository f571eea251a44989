"""Cross-check for src/io/h5ad.rs: what anndata.read_h5ad reads from a file.

Input (JSON on stdin):
    {"path": "file.h5ad", "layer": null | "name", "rows": [0, 5, ...], "group": null | "mod/rna"}
    layer "raw" (when no layer has that name) reads raw.X with raw.var; group reads the AnnData
    stored in that group (a modality of an .h5mu file) with anndata.io.read_elem.
Output (JSON on stdout), in the shapes of the Rust types:
    {"n_obs": int, "n_vars": int,
     "sparse": bool, "nnz": int | null,            # nnz: stored entries of a sparse matrix
     "row_sums": [float, ...],                      # sum of the matrix rows listed in "rows"
     "col_sums": [float, ...],                      # every column, float64 sums
     "obs_index": [str, ...], "var_index": [str, ...],
     "obs": {name: column, ...}, "var": {name: column, ...},   # columns in file order
     "obs_columns": [name, ...], "var_columns": [name, ...]}    # the same order, for JSON
                                                                # readers that sort object keys
    column = {"kind": "categorical", "codes": [int], "categories": [str]}   # -1 = missing
           | {"kind": "str", "values": [str | null]}
           | {"kind": "bool", "values": [bool | null]}
           | {"kind": "i64", "values": [int]}
           | {"kind": "f64", "values": [float | null]}  # null = NaN; nullable ints with NA land here
Numeric categories are given as text the way Rust prints them (10, 0.5).
"""

import json
import sys

import anndata
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp


def label(x):
    if isinstance(x, (bool, np.bool_)):
        return "True" if x else "False"
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    return str(x)


def column(s):
    if isinstance(s.dtype, pd.CategoricalDtype):
        return {
            "kind": "categorical",
            "codes": s.cat.codes.astype(int).tolist(),
            "categories": [label(c) for c in s.cat.categories],
        }
    na = s.isna().to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        return {"kind": "bool", "values": [None if m else bool(v) for v, m in zip(s, na)]}
    if pd.api.types.is_integer_dtype(s.dtype) and not na.any():
        return {"kind": "i64", "values": [int(v) for v in s]}
    if pd.api.types.is_numeric_dtype(s.dtype):
        return {"kind": "f64", "values": [None if m else float(v) for v, m in zip(s, na)]}
    return {"kind": "str", "values": [None if m else str(v) for v, m in zip(s, na)]}


def main():
    req = json.load(sys.stdin)
    if req.get("group"):
        with h5py.File(req["path"], "r") as f:
            a = anndata.io.read_elem(f[req["group"]])
    else:
        a = anndata.read_h5ad(req["path"])
    layer = req.get("layer")
    var = a.var
    if layer == "raw" and "raw" not in a.layers:
        x, var = a.raw.X, a.raw.var
    else:
        x = a.layers[layer] if layer else a.X
    sparse = sp.issparse(x)
    rows = req.get("rows", [])
    row_sums = np.asarray(x[rows].sum(axis=1, dtype=np.float64)).ravel() if rows else []
    out = {
        "n_obs": a.n_obs,
        "n_vars": x.shape[1],
        "sparse": sparse,
        "nnz": int(x.nnz) if sparse else None,
        "row_sums": [float(v) for v in row_sums],
        "col_sums": np.asarray(x.sum(axis=0, dtype=np.float64)).ravel().tolist(),
        "obs_index": a.obs_names.tolist(),
        "var_index": var.index.tolist(),
        "obs": {c: column(a.obs[c]) for c in a.obs.columns},
        "var": {c: column(var[c]) for c in var.columns},
        "obs_columns": [str(c) for c in a.obs.columns],
        "var_columns": [str(c) for c in var.columns],
    }
    json.dump(out, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
