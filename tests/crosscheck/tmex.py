"""Cross-check of gcrl::algo::tmex (method.md §6.3, §7.6) against pingouin, numpy and scipy.

stdin  (JSON): {"cases": [{"z_hat": [[f64; q]; n], "tfa": [[f64; d]; n], "a": [[f64; d]; q]}]}
stdout (JSON): {"cases": [{"rho": [f64; d], "optimum": f64, "optimum_terms": [f64; d], "mcc": f64}]}
rho[i]    = pingouin.partial_corr(x = (z_hat @ a)[:, i], y = tfa[:, i], covar = tfa[:, -i]).r
optimum   = T-MEX at the OLS direction per column: multiple correlation R of the residualised
            tfa[:, i] on the residualised z_hat (numpy lstsq on [1, tfa[:, -i]]), averaged over i
mcc       = mean |corr| of the Hungarian matching (scipy linear_sum_assignment, maximise) between
            the columns of tfa and of z_hat @ a
"""
import json
import sys

import numpy as np
import pandas as pd
import pingouin
from scipy.optimize import linear_sum_assignment


def residualise(c, y):
    design = np.column_stack([np.ones(len(c)), c])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ beta


def check(case):
    z_hat, tfa, a = (np.asarray(case[k], dtype=float) for k in ("z_hat", "tfa", "a"))
    n, d = tfa.shape
    z = z_hat @ a
    rho, terms = [], []
    for i in range(d):
        others = [j for j in range(d) if j != i]
        frame = pd.DataFrame({"z": z[:, i], "t": tfa[:, i], **{f"c{j}": tfa[:, j] for j in others}})
        rho.append(float(pingouin.partial_corr(frame, x="z", y="t", covar=[f"c{j}" for j in others])["r"].iloc[0]))
        r_t = residualise(tfa[:, others], tfa[:, i])
        r_z = residualise(tfa[:, others], z_hat)
        coef, *_ = np.linalg.lstsq(r_z, r_t, rcond=None)
        fitted = r_z @ coef
        terms.append(float(fitted @ r_t / (np.linalg.norm(fitted) * np.linalg.norm(r_t))))
    corr = np.abs(np.corrcoef(tfa.T, z.T)[:d, d:])
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return {"rho": rho, "optimum": float(np.mean(terms)), "optimum_terms": terms,
            "mcc": float(corr[rows, cols].mean())}


json.dump({"cases": [check(c) for c in json.load(sys.stdin)["cases"]]}, sys.stdout)
