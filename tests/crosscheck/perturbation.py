"""Cross-check of gcrl::algo::perturbation and gcrl::algo::linear_baseline against the
references the field uses.

stdin (JSON): {"cases": [{
    "control": [[f64; G]; n_c], "observed": [[f64; G]; n_y], "pred": [f64; G],
    "pairing": [int; n_y], "pcs": int, "de": int,
    "bulk": [[f64; G]; C], "bulk_targets": [int | null; C], "dim": int, "ridge": f64,
    "predict": [[int, ...], ...]}, ...]}
stdout (JSON): {"cases": [{
    "t_scores": [f64; G], "de_genes": [int; de],  scanpy rank_genes_groups(method="t-test",
        reference="control", rankby_abs=True) of observed vs control, as GEARS calls it
    "pearson_delta", "pearson_delta_top": scipy.stats.pearsonr of (pred − control mean) and
        (observed mean − control mean), over all genes and over de_genes
    "mse_top": numpy mean of squared differences on de_genes
    "edistance": scperturb.edist_to_control between the observed cells and the predicted cells
        (paired control cells shifted by pred − control mean) on scanpy pp.pca(n_comps=pcs) of
        control + observed cells, the predicted cells projected on its loadings
    "edistance_raw": scperturb on the raw (gene-space) coordinates
    "linear": [[f64; G], ...]  the Ahlmann-Eltze et al. linear model (run_linear_pretrained_model.R:
        prcomp gene embedding, solve_y_axb) re-implemented in numpy, for each "predict" set}]}
"""
import json
import sys
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scperturb
from scipy.stats import pearsonr

warnings.filterwarnings("ignore")


def edist(a, b):
    obsm = np.vstack([a, b])
    labels = ["observed"] * len(a) + ["predicted"] * len(b)
    adata = ad.AnnData(np.zeros((len(labels), 1)), obs=pd.DataFrame({"p": labels}, index=[str(i) for i in range(len(labels))]))
    adata.obsm["X_pca"] = obsm
    e = scperturb.edist_to_control(adata, obs_key="p", control="predicted", verbose=False, n_jobs=1)
    return float(np.asarray(e.loc["observed"]).ravel()[0])


def linear(bulk, targets, control, dim, ridge, sets):
    # X: genes × conditions; prcomp(X, n = dim)$x: centre each column (condition) over genes.
    x = bulk.T
    xc = x - x.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(dim, x.shape[0] - 1, x.shape[1])
    emb = (xc @ vt.T)[:, :k]
    change = x - control[:, None]
    p = np.zeros((k, x.shape[1]))
    for j, t in enumerate(targets):
        if t is not None:
            p[:, j] = emb[t]
    center = change.mean(axis=1)
    y = change - center[:, None]
    a, b = emb, p
    coef = np.linalg.solve(a.T @ a + ridge * np.eye(k), a.T @ y @ b.T) @ np.linalg.inv(b @ b.T + ridge * np.eye(k))
    out = []
    for targets_ in sets:
        pe = np.zeros(k)
        for t in targets_:
            pe += emb[t]
        out.append((emb @ coef @ pe + center + control).tolist())
    return out


def one(c):
    ctrl = np.asarray(c["control"], dtype=float)
    obs = np.asarray(c["observed"], dtype=float)
    pred = np.asarray(c["pred"], dtype=float)
    g = ctrl.shape[1]
    names = [f"g{j}" for j in range(g)]
    adata = ad.AnnData(np.vstack([ctrl, obs]), var=pd.DataFrame(index=names))
    adata.obs_names = [str(i) for i in range(adata.n_obs)]
    adata.obs["group"] = pd.Categorical(["control"] * len(ctrl) + ["double"] * len(obs))
    sc.tl.rank_genes_groups(adata, "group", groups=["double"], reference="control", method="t-test",
                            rankby_abs=True, n_genes=g)
    rg = adata.uns["rank_genes_groups"]
    ranked = [names.index(n) for n in rg["names"]["double"]]
    scores = np.zeros(g)
    scores[ranked] = np.asarray(rg["scores"]["double"], dtype=float)
    de = ranked[: c["de"]]
    cm, om = ctrl.mean(axis=0), obs.mean(axis=0)
    dp, do = pred - cm, om - cm
    sc.pp.pca(adata, n_comps=c["pcs"], svd_solver="full")
    mean, loadings = adata.X.mean(axis=0), adata.varm["PCs"]
    obs_pc = (obs - mean) @ loadings
    cells = ctrl[c["pairing"]] + (pred - cm)
    pred_pc = (cells - mean) @ loadings
    return {
        "t_scores": scores.tolist(),
        "de_genes": de,
        "pearson_delta": float(pearsonr(dp, do).statistic),
        "pearson_delta_top": float(pearsonr(dp[de], do[de]).statistic),
        "mse_top": float(np.mean((pred[de] - om[de]) ** 2)),
        "edistance": edist(obs_pc, pred_pc),
        "edistance_raw": edist(obs, cells),
        "linear": linear(np.asarray(c["bulk"], dtype=float), c["bulk_targets"], cm, c["dim"], c["ridge"], c["predict"]),
    }


inp = json.load(sys.stdin)
json.dump({"cases": [one(c) for c in inp["cases"]]}, sys.stdout)
