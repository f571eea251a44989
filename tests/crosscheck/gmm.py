"""Cross-check of gcrl::algo::gmm::fit_gmm_1d against scikit-learn.

stdin  (JSON): {"x": [f64; n]}
stdout (JSON): {"weights": [f64; 2], "means": [f64; 2], "sds": [f64; 2], "log_likelihood": f64,
                "converged": bool, "n_iter": int}
components ordered by ascending mean; log_likelihood = gm.score(x) (mean per sample).
Fitted with GaussianMixture(n_components=2, covariance_type='full', tol=1e-3, reg_covar=1e-6,
max_iter=100, n_init=1, random_state=0); sklearn's k-means++ init is random, so compare only on
data where the fit does not depend on the initialisation (well-separated components).
"""
import json
import sys

import numpy as np
from sklearn.mixture import GaussianMixture

x = np.asarray(json.load(sys.stdin)["x"], dtype=float).reshape(-1, 1)
gm = GaussianMixture(n_components=2, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                     max_iter=100, n_init=1, random_state=0).fit(x)
order = np.argsort(gm.means_[:, 0])
json.dump({
    "weights": gm.weights_[order].tolist(),
    "means": gm.means_[order, 0].tolist(),
    "sds": np.sqrt(gm.covariances_[order, 0, 0]).tolist(),
    "log_likelihood": float(gm.score(x)),
    "converged": bool(gm.converged_),
    "n_iter": int(gm.n_iter_),
}, sys.stdout)
