"""Cross-check for src/io/mtx.rs: what scanpy.read_10x_mtx reads from a 10x directory.

Input (JSON on stdin):
    {"dir": "path/to/dir", "var_names": "gene_symbols" | "gene_ids"}
    The directory holds either the Cell Ranger v3 layout (matrix.mtx.gz, features.tsv.gz,
    barcodes.tsv.gz) or the v2 layout (matrix.mtx, genes.tsv, barcodes.tsv); scanpy picks by
    the presence of genes.tsv. Names are not made unique (make_unique=False) and every feature
    type is kept (gex_only=False), as gcrl's reader does.
Output (JSON on stdout): X as cells x genes CSR with sorted indices, and the names:
    {"shape": [cells, genes], "indptr": [...], "indices": [...], "data": [...],
     "dtype": str, "obs_names": [...], "var_names": [...], "var": {column: [str, ...]},
     "var_columns": [...], "scanpy": version}
"""

import json
import sys
from importlib.metadata import version

import scanpy as sc
import scipy.sparse as sp


def main():
    req = json.load(sys.stdin)
    a = sc.read_10x_mtx(req["dir"], var_names=req["var_names"], make_unique=False, gex_only=False)
    x = sp.csr_matrix(a.X)
    x.sort_indices()
    out = {
        "shape": list(x.shape),
        "indptr": x.indptr.tolist(),
        "indices": x.indices.tolist(),
        "data": x.data.tolist(),
        "dtype": str(x.dtype),
        "obs_names": a.obs_names.tolist(),
        "var_names": a.var_names.tolist(),
        "var": {c: [str(v) for v in a.var[c]] for c in a.var.columns},
        "var_columns": [str(c) for c in a.var.columns],
        "scanpy": version("scanpy"),
    }
    json.dump(out, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
