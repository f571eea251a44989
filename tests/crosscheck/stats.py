#!/usr/bin/env python3
"""Reference values for gcrl's `algo::stats` from scipy / statsmodels.

Reads one JSON object on stdin and prints one JSON object on stdout. Every key is optional;
each maps to a list of cases and the output has the same key with one result per case.
NaN is written as null in both directions.

Input                                                     Output (per case)
  "bh":           [[p, ...], ...]                         [q, ...]   statsmodels multipletests(
                                                                      method='fdr_bh') on the non-null
                                                                      p; null stays null
  "ttest":        [{"x": [..], "mu0": f,                  {"t": f, "df": f, "p": f}
                    "alternative": "two-sided"|"greater"|"less"}]   scipy.stats.ttest_1samp
  "wilcoxon":     [{"d": [..], "alternative": ...}]       {"statistic": f, "p": f,
                                                           "method": "exact"|"sign_flip"|"normal"}
                                                          scipy.stats.wilcoxon(d) defaults
  "hypergeom_sf": [{"k": i, "population": i,              f   scipy.stats.hypergeom.sf(k - 1, M, n, N)
                    "successes": i, "draws": i}]
  "pearson":      [{"x": [..], "y": [..]}]                f   scipy.stats.pearsonr(x, y).statistic

Example: echo '{"pearson": [{"x": [1, 2, 3], "y": [1, 3, 2]}]}' | python3 stats.py
"""
import json
import math
import sys

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests


def nan_to_none(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def bh(p):
    p = [math.nan if v is None else float(v) for v in p]
    keep = [i for i, v in enumerate(p) if not math.isnan(v)]
    q = [None] * len(p)
    if keep:
        adjusted = multipletests([p[i] for i in keep], method="fdr_bh")[1]
        for i, v in zip(keep, adjusted):
            q[i] = float(v)
    return q


def ttest(case):
    res = stats.ttest_1samp(case["x"], case["mu0"], alternative=case["alternative"])
    return {"t": nan_to_none(res.statistic), "df": float(len(case["x"]) - 1),
            "p": nan_to_none(res.pvalue)}


def wilcoxon_method(d):
    """The branch scipy's method='auto' takes (mirrors scipy/stats/_wilcoxon.py)."""
    d = np.asarray(d, dtype=float)
    nonzero = np.abs(d[d != 0])
    has_ties = len(np.unique(nonzero)) < len(nonzero)
    if len(d) > 50:
        return "normal"
    if not has_ties and len(nonzero) == len(d):
        return "exact"
    return "sign_flip" if len(d) <= 13 else "normal"


def wilcoxon(case):
    res = stats.wilcoxon(case["d"], alternative=case["alternative"])
    return {"statistic": nan_to_none(res.statistic), "p": nan_to_none(res.pvalue),
            "method": wilcoxon_method(case["d"])}


def hypergeom_sf(case):
    return float(stats.hypergeom.sf(case["k"] - 1, case["population"], case["successes"],
                                    case["draws"]))


def pearson(case):
    return nan_to_none(stats.pearsonr(case["x"], case["y"]).statistic)


HANDLERS = {"bh": bh, "ttest": ttest, "wilcoxon": wilcoxon, "hypergeom_sf": hypergeom_sf,
            "pearson": pearson}


def main():
    request = json.load(sys.stdin)
    unknown = set(request) - set(HANDLERS)
    if unknown:
        sys.exit(f"unknown keys: {sorted(unknown)}; expected some of {sorted(HANDLERS)}")
    json.dump({key: [HANDLERS[key](case) for case in cases] for key, cases in request.items()},
              sys.stdout, allow_nan=False)
    print()


if __name__ == "__main__":
    main()
