"""Make the benchmark file: 100,000 x 5,000 CSR float32 .h5ad, 500 non-zeros per row (10%), seed 0.

Usage: python3 crosscheck/make_bench_file.py OUT.h5ad gzip|none   (about 150 MB with gzip; do not commit)
"""
import sys
import anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp
n, m, per_row = 100_000, 5_000, 500
rng = np.random.default_rng(0)
indptr = np.arange(0, (n + 1) * per_row, per_row, dtype=np.int64)
indices = np.empty(n * per_row, dtype=np.int32)
for i in range(0, n, 10_000):
    block = rng.random((10_000, m)).argpartition(per_row, axis=1)[:, :per_row]
    block.sort(axis=1)
    indices[i * per_row:(i + 10_000) * per_row] = block.ravel()
data = rng.integers(1, 20, size=n * per_row).astype(np.float32)
X = sp.csr_matrix((data, indices, indptr), shape=(n, m))
obs = pd.DataFrame({"batch": pd.Categorical(rng.integers(0, 4, n).astype(str))}, index=[f"c{i}" for i in range(n)])
var = pd.DataFrame(index=[f"g{j}" for j in range(m)])
a = ad.AnnData(X=X, obs=obs, var=var)
a.write_h5ad(sys.argv[1], compression=sys.argv[2] if sys.argv[2] != "none" else None)
