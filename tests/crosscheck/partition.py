#!/usr/bin/env python3
"""Reference values for gcrl's `algo::partition` from scikit-learn / scipy.

Reads one JSON object on stdin and prints one JSON object on stdout. Every key is optional;
each maps to a list of cases and the output has one result per case.

Input                                   Output key: value per case
  "ari":        [[a, b], ...]           "ari": f   sklearn adjusted_rand_score(a, b)
  "vi":         [[a, b], ...]           "vi": f    H(a) + H(b) - 2 I(a; b), natural log, with
                                                   H(x) = mutual_info_score(x, x) and
                                                   I = mutual_info_score(a, b)
  "assignment": [W, ...]                "assignment_total": f   total weight of
                 (W = list of rows)                 scipy linear_sum_assignment(W, maximize=True)

a, b are equally long lists of non-negative integer labels.
Consensus and cohesion have no reference implementation and are not covered.

Example: echo '{"ari": [[[0,0,1,1],[0,0,1,2]]]}' | python3 partition.py
"""
import json
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, mutual_info_score


def vi(a, b):
    return float(mutual_info_score(a, a) + mutual_info_score(b, b)
                 - 2.0 * mutual_info_score(a, b))


def assignment_total(w):
    w = np.asarray(w, dtype=float).reshape(len(w), -1)
    rows, cols = linear_sum_assignment(w, maximize=True)
    return float(w[rows, cols].sum())


def main():
    request = json.load(sys.stdin)
    handlers = {
        "ari": ("ari", lambda case: float(adjusted_rand_score(*case))),
        "vi": ("vi", lambda case: vi(*case)),
        "assignment": ("assignment_total", assignment_total),
    }
    unknown = set(request) - set(handlers)
    if unknown:
        sys.exit(f"unknown keys: {sorted(unknown)}; expected some of {sorted(handlers)}")
    out = {}
    for key, cases in request.items():
        name, fn = handlers[key]
        out[name] = [fn(case) for case in cases]
    json.dump(out, sys.stdout, allow_nan=False)
    print()


if __name__ == "__main__":
    main()
