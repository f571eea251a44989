"""Cross-check of gcrl::algo::ridge::ridge against scikit-learn.

stdin  (JSON): {"x": [[f64; p]; n], "y": [f64; n], "sample_weight": [f64; n] | null, "alpha": f64}
stdout (JSON): {"coef": [f64; p], "intercept": f64}
computed with sklearn.linear_model.Ridge(alpha=alpha, fit_intercept=True).fit(x, y, sample_weight)
Batch form: stdin {"cases": [request, ...]} -> stdout {"cases": [answer, ...]} (one interpreter
start for many fits).
"""
import json
import sys

import numpy as np
from sklearn.linear_model import Ridge


def fit(inp):
    x = np.asarray(inp["x"], dtype=float).reshape(len(inp["y"]), -1)
    model = Ridge(alpha=inp["alpha"], fit_intercept=True).fit(
        x,
        np.asarray(inp["y"], dtype=float),
        sample_weight=None if inp.get("sample_weight") is None else np.asarray(inp["sample_weight"], dtype=float),
    )
    return {"coef": model.coef_.tolist(), "intercept": float(model.intercept_)}


inp = json.load(sys.stdin)
json.dump({"cases": [fit(c) for c in inp["cases"]]} if "cases" in inp else fit(inp), sys.stdout)
