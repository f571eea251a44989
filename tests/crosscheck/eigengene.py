"""Cross-check of gcrl::algo::eigengene against scikit-learn PCA (method.md §5).

stdin  (JSON): {"x": [[f64; m]; n] (fitting cells x TFs), "communities": [[int]],
                "new_x": [[f64; m]; n2]}
stdout (JSON): {"dropped": [int], "tfs": [[int]], "loadings": [[f64]], "variance_explained": [f64],
                "alignment": [f64], "transform": [[f64; k + 1]; n2]}
"pca" (optional): "correlation" (default here) or "covariance".
Per community (then the global one over all TFs), constant TFs (zero sd) are dropped, the rest z-scored
with the fitting cells' mean and sd (ddof 1), or only centred for "covariance" (the PC1 of the
covariance matrix, paper A.3); PCA(n_components=1, svd_solver="full")
.components_[0] is the loading, flipped so that the score correlates positively with the row mean
of the z-scores (alignment = that correlation after the flip, NaN when undefined);
variance_explained = explained_variance_ratio_[0]; new cells get the stored z-scoring, loading and
score standardisation (mean and ddof-1 sd of the fitting scores).
svd_solver="full" pins the exact LAPACK SVD: "auto" switches to the approximate randomized solver
for inputs with more than 500 rows or columns.
Batch form: stdin {"cases": [request, ...]} -> stdout {"cases": [answer, ...]}.
"""
import json
import sys

import numpy as np
from sklearn.decomposition import PCA


def fit(inp):
    x = np.asarray(inp["x"], dtype=float)
    new_x = np.asarray(inp["new_x"], dtype=float).reshape(-1, x.shape[1])
    mean, sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    # A constant column has sd 0 exactly; numpy's two-pass std leaves ~1e-17 when the pairwise
    # mean of n copies of v is not v (gcrl's Welford update keeps it at 0).
    sd[np.ptp(x, axis=0) == 0] = 0.0
    dropped = [int(j) for j in np.flatnonzero(sd == 0)]
    if inp.get("pca", "correlation") == "covariance":
        sd = np.where(sd > 0, 1.0, 0.0)
    groups = [list(c) for c in inp["communities"]] + [list(range(x.shape[1]))]
    out = {"dropped": dropped, "tfs": [], "loadings": [], "variance_explained": [], "alignment": [],
           "transform": []}
    columns = []
    for members in groups:
        tfs = [j for j in members if sd[j] > 0]
        z = (x[:, tfs] - mean[tfs]) / sd[tfs]
        pca = PCA(n_components=1, svd_solver="full").fit(z)
        v = pca.components_[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.corrcoef(z @ v, z.mean(axis=1))[0, 1]
        if r < 0:
            v, r = -v, -r
        scores = z @ v
        new_scores = ((new_x[:, tfs] - mean[tfs]) / sd[tfs]) @ v
        columns.append((new_scores - scores.mean()) / scores.std(ddof=1))
        out["tfs"].append(tfs)
        out["loadings"].append(v.tolist())
        out["variance_explained"].append(float(pca.explained_variance_ratio_[0]))
        out["alignment"].append(None if np.isnan(r) else float(r))
    out["transform"] = np.column_stack(columns).tolist()
    return out


inp = json.load(sys.stdin)
json.dump({"cases": [fit(c) for c in inp["cases"]]} if "cases" in inp else fit(inp), sys.stdout)
