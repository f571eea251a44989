"""Cross-check of the `pseudobulk` kind against scanpy's `sc.get.aggregate` (tests/crosscheck.rs).

Input (JSON on stdin): {"h5ad": str, "cells": str (csv of gcrl's load cells: cell, targets, ...),
                         "by": [str]}
Output (JSON on stdout): {"groups": [[str]], "cells": [int], "genes": [str],
                          "mean": [[float]], "sum": [[float]], "fraction": [[float]]}
The cells gcrl kept (and their `targets`) are taken from its own cells table, so the comparison
is of the aggregation alone; groups are sorted by their `by` values as gcrl sorts them.
"""

import json
import sys

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc

request = json.load(sys.stdin)
adata = ad.read_h5ad(request["h5ad"])
cells = pd.read_csv(request["cells"], keep_default_na=False, dtype=str)
adata = adata[cells["cell"].to_numpy()].copy()
by = request["by"]
for column in by:
    adata.obs[column] = pd.Categorical(cells[column].to_numpy())
agg = sc.get.aggregate(adata, by=by, func=["mean", "sum", "count_nonzero"])
keys = agg.obs[by].astype(str).apply(tuple, axis=1).tolist()
order = sorted(range(len(keys)), key=lambda i: keys[i])
counts = cells.groupby(by).size()
out = {
    "groups": [list(keys[i]) for i in order],
    "cells": [int(counts.loc[keys[i] if len(by) > 1 else keys[i][0]]) for i in order],
    "genes": adata.var_names.tolist(),
}
n = np.array(out["cells"], dtype=float)[:, None]
out["mean"] = np.asarray(agg.layers["mean"])[order].tolist()
out["sum"] = np.asarray(agg.layers["sum"])[order].tolist()
out["fraction"] = (np.asarray(agg.layers["count_nonzero"])[order] / n).tolist()
json.dump(out, sys.stdout)
