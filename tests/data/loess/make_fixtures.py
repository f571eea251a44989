"""Reference fits for gcrl's `algo::loess`, computed with scikit-misc (the loess scanpy's seurat_v3 calls).

Usage:  python tests/data/loess/make_fixtures.py      (writes the .tsv files beside this script)
Needs:  scikit-misc (0.5), numpy.

Each file: a header line `# span=<span>`, then one line per point: x, y and
`loess(x, y, span=span, degree=2).fit()`'s fitted value, tab-separated, 17 significant digits.
"""
from pathlib import Path

import numpy as np
from skmisc.loess import loess

OUT = Path(__file__).resolve().parent
rng = np.random.default_rng(20240611)


def write(name, x, y, span):
    model = loess(x, y, span=span, degree=2)
    model.fit()
    fitted = model.outputs.fitted_values
    with open(OUT / f"{name}.tsv", "w") as f:
        f.write(f"# span={span!r}\n")
        for row in zip(x, y, fitted):
            f.write("\t".join(f"{v:.17g}" for v in row) + "\n")


# 40 points on a 0.1 grid (many ties), a smooth curve plus noise.
x = np.round(rng.uniform(0, 10, 40), 1)
x[5] = x[6] = x[7] = x[3]
write("n40_ties", x, np.sin(x) + 0.3 * rng.normal(size=40), 0.3)
write("n40_span075", x, np.sin(x) + 0.3 * rng.normal(size=40), 0.75)

# 120 points on 16 integer values: cells that cannot be split for ties.
x = rng.integers(0, 16, 120).astype(float)
write("n120_integer", x, 0.05 * (x - 7) ** 2 + rng.normal(size=120), 0.3)

# 17 points: a cell holds at most floor(17 * 0.5 * 0.2) = 1 point.
x = rng.uniform(-1, 1, 17)
write("n17_span05", x, x ** 3 + 0.1 * rng.normal(size=17), 0.5)

# 500 negative-binomial genes over 200 cells: scanpy's seurat_v3 regression of log10 variance
# on log10 mean (an uneven x distribution).
mu = np.exp(rng.uniform(np.log(0.02), np.log(30), 500))
theta = rng.uniform(0.3, 5, 500)
counts = rng.negative_binomial(theta, theta / (theta + mu), size=(200, 500)).astype(float)
mean, var = counts.mean(0), counts.var(0, ddof=1)
keep = var > 0
write("n500_nb", np.log10(mean[keep]), np.log10(var[keep]), 0.3)
