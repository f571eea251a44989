"""Cross-check of gcrl::algo::gmm::fit_gmm_1d against scikit-learn.

stdin  (JSON): {"x": [f64; n]}
stdout (JSON): {"weights": [f64; 2], "means": [f64; 2], "sds": [f64; 2], "log_likelihood": f64,
                "converged": bool, "n_iter": int, "boundary": f64 | null}
components ordered by ascending mean; log_likelihood = gm.score(x) (mean per sample); boundary =
the point between the two means where predict_proba of the higher-mean component is 0.5
(scipy.optimize.brentq), null when it does not change sign there.
Fitted with GaussianMixture(n_components=2, covariance_type='full', tol=1e-3, reg_covar=1e-6,
max_iter=100, n_init=1, random_state=0); sklearn's k-means++ init is random, so compare only on
data where the fit does not depend on the initialisation (well-separated components).
Batch form: stdin {"cases": [request, ...]} -> stdout {"cases": [answer, ...]}.
"""
import json
import sys

import numpy as np
from scipy.optimize import brentq
from sklearn.mixture import GaussianMixture


def fit(inp):
    x = np.asarray(inp["x"], dtype=float).reshape(-1, 1)
    gm = GaussianMixture(n_components=2, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                         max_iter=100, n_init=1, random_state=0).fit(x)
    order = np.argsort(gm.means_[:, 0])
    lo, hi = gm.means_[order, 0]
    high = order[1]

    def excess(v):
        return gm.predict_proba(np.array([[v]]))[0, high] - 0.5

    boundary = None
    if lo < hi and np.sign(excess(lo)) != np.sign(excess(hi)):
        boundary = float(brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    return {
        "weights": gm.weights_[order].tolist(),
        "means": gm.means_[order, 0].tolist(),
        "sds": np.sqrt(gm.covariances_[order, 0, 0]).tolist(),
        "log_likelihood": float(gm.score(x)),
        "converged": bool(gm.converged_),
        "n_iter": int(gm.n_iter_),
        "boundary": boundary,
    }


inp = json.load(sys.stdin)
json.dump({"cases": [fit(c) for c in inp["cases"]]} if "cases" in inp else fit(inp), sys.stdout)
