"""CellOracle's GRN fit, the peer of benches/grn.rs (needs celloracle, e.g. 0.20.0).

Usage: python celloracle_grn.py MATRIX GENES N_TFS N_TARGETS REPS N_JOBS[,N_JOBS...] GCRL_EDGES

MATRIX: cells x genes float32, row-major, little-endian (the bench's log-normalised screen);
GENES: one name a line (the TFs first). Every TF is a candidate regulator of every gene, as in
gcrl's `grn` without a base network.

What is timed is the body of CellOracle's network-analysis fit
(`celloracle.network_analysis.network_construction._fit_GRN_for_network_analysis`, i.e.
`Oracle.get_links`) for one cluster, minus the kNN imputation: `standard(gem)`, `Net(...)`,
`fit_genes(..., bagging_number=20, alpha=10)` (what `fit_All_genes` calls) and `updateLinkList`.
A full fit of all genes takes about an hour here, so only N_TARGETS targets, evenly spread over
the genes, are fitted; the fit is a loop over targets, so its time scales linearly.

Prints per repeat: `n_jobs=J setup=S fit=F targets=T` (seconds; setup = standard + Net). Then
compares the first linkList with gcrl's edges (GCRL_EDGES: tsv with source, target, coef_mean,
p) of the same targets with scipy: Spearman of coef_mean over all shared edges, and over the top
edges of either tool by CellOracle's `filter_links` rule (p <= 0.001, then the largest coef_abs;
10 % of the edges), and the share of top edges both have. Last line:
`shared=.. spearman_all=.. spearman_top=.. top_overlap=.. maxrss_kib=.. version=..`.
"""
import resource
import sys
import time

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def top_edges(links, k):
    """CellOracle's `Links.filter_links(p=0.001, weight="coef_abs", threshold_number=k)`."""
    kept = links[links["p"] <= 0.001]
    return set(kept.sort_values("coef_abs", ascending=False).index[:k])


def compare(links, gcrl_edges):
    """Spearman of coef_mean on shared edges (all, then the top ones) and the top-edge overlap."""
    ours = pd.read_csv(gcrl_edges, sep="\t").set_index(["source", "target"])
    theirs = links.set_index(["source", "target"])
    shared = theirs.index.intersection(ours.index)
    ours, theirs = ours.loc[shared].copy(), theirs.loc[shared]
    ours["coef_abs"] = ours["coef_mean"].abs()
    k = len(shared) // 10
    a, b = top_edges(theirs, k), top_edges(ours, k)
    top = sorted(a | b)
    return (len(shared), spearmanr(theirs["coef_mean"], ours["coef_mean"]).statistic,
            spearmanr(theirs.loc[top, "coef_mean"], ours.loc[top, "coef_mean"]).statistic,
            len(a & b) / max(k, 1))


def main():
    matrix, genes_path, n_tfs, n_targets, reps, jobs, gcrl_edges = sys.argv[1:8]
    n_tfs, n_targets, reps = int(n_tfs), int(n_targets), int(reps)
    import celloracle
    from celloracle.network import Net
    from celloracle.utility import standard

    genes = [line.strip() for line in open(genes_path) if line.strip()]
    x = np.fromfile(matrix, dtype="<f4").reshape(-1, len(genes))
    gem = pd.DataFrame(x, index=[f"cell{i}" for i in range(x.shape[0])], columns=genes)
    tfs = np.array(genes[:n_tfs])
    tf_dict = {g: tfs for g in genes}
    stride = max(1, len(genes) // n_targets)
    targets = genes[::stride][:n_targets]
    links = None
    for n_jobs in (int(j) for j in jobs.split(",")):
        for _ in range(reps):
            t = time.perf_counter()
            gem_std = standard(gem)
            net = Net(gene_expression_matrix=gem, gem_standerdized=gem_std, TFinfo_dic=tf_dict, verbose=False)
            setup = time.perf_counter() - t
            t = time.perf_counter()
            net.fit_genes(target_genes=targets, bagging_number=20, alpha=10, verbose=False, n_jobs=n_jobs)
            net.updateLinkList(verbose=False)
            fit = time.perf_counter() - t
            print(f"n_jobs={n_jobs} setup={setup} fit={fit} targets={len(targets)}", flush=True)
            if links is None:
                links = net.linkList[["source", "target", "coef_mean", "coef_abs", "p"]].copy()
    shared, rho_all, rho_top, overlap = compare(links, gcrl_edges)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"shared={shared} spearman_all={rho_all} spearman_top={rho_top} top_overlap={overlap} "
          f"maxrss_kib={maxrss} version={celloracle.__version__}")


if __name__ == "__main__":
    main()
