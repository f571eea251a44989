"""Cross-check for src/io/tenx_h5.rs and src/io/guide_calls.rs: a Cell Ranger HDF5 file written
with h5py in Cell Ranger's layout, and what scanpy.read_10x_h5 reads from it.

Input (JSON on stdin):
    {"dir": "path", "seed": int, "layout": "v3" | "v2" | "v2_multi", "genome": null | "name",
     "min_umis": int}
    v3: Cell Ranger >= 3, `matrix/` with `features/` holding Gene Expression features of two
        genomes (GRCh38, mm10) and CRISPR Guide Capture features with target_gene_id/name;
        also writes protospacer_calls_per_cell.csv (Cell Ranger's columns) from the guide UMIs.
    v2: Cell Ranger 2, one genome group `GRCh38/`; v2_multi: groups `GRCh38/` and `mm10/`.
Output (JSON on stdout):
    {"path": h5 file, "calls_csv": path | null,
     "scanpy": {"shape", "indptr", "indices", "data", "obs_names", "var_names",
                "var_columns", "var": {column: [str | bool]}} | {"error": message},
     "guides": {barcode: {"calls": "g1|g2", "umis": "3|5", "targets": "A+B"}}   # UMI >= min_umis
     "guide_names": [...], "guide_targets": [...]}
"""

import json
import os
import sys

import h5py
import numpy as np
import scanpy as sc
import scipy.sparse as sp


def strings(values):
    return np.array([v.encode() for v in values], dtype="S")


def counts(rng, n_features, n_cells, density=0.3, high=9):
    x = sp.random(n_features, n_cells, density=density, random_state=rng, format="csc",
                  data_rvs=lambda n: rng.integers(1, high, n)).astype(np.int32)
    x.sort_indices()
    return x


def write_matrix(group, x, barcodes):
    group.create_dataset("barcodes", data=strings(barcodes))
    group.create_dataset("data", data=x.data.astype(np.int32), compression="gzip")
    group.create_dataset("indices", data=x.indices.astype(np.int64), compression="gzip")
    group.create_dataset("indptr", data=x.indptr.astype(np.int64))
    group.create_dataset("shape", data=np.array(x.shape, dtype=np.int32))


def v3(req, rng, path, n_cells=40):
    genes = [(f"ENSG{i:05d}", f"GENE{i}", "GRCh38") for i in range(12)]
    genes += [(f"ENSMUSG{i:05d}", f"mm_Gene{i}", "mm10") for i in range(4)]
    guides = [("TP53_g1", "TP53"), ("TP53_g2", "TP53"), ("MYC_g1", "MYC"), ("NT_1", "Non-Targeting")]
    n_gex, n_features = len(genes), len(genes) + len(guides)
    x = counts(rng, n_features, n_cells).tolil()
    # Guide UMIs: most cells one strong guide (10-40), some two, plus ambient 1-2 UMIs.
    for c in range(n_cells):
        for g in range(len(guides)):
            x[n_gex + g, c] = int(rng.integers(0, 3))
        for g in rng.choice(len(guides), size=int(rng.integers(0, 3)), replace=False):
            x[n_gex + g, c] = int(rng.integers(10, 40))
    x = x.tocsc()
    x.eliminate_zeros()
    x.sort_indices()
    barcodes = [f"{''.join(rng.choice(list('ACGT'), 12))}-1" for _ in range(n_cells)]
    with h5py.File(path, "w") as f:
        m = f.create_group("matrix")
        write_matrix(m, x, barcodes)
        feat = m.create_group("features")
        tags = ["genome", "pattern", "read", "sequence", "target_gene_id", "target_gene_name"]
        feat.create_dataset("_all_tag_keys", data=strings(tags))
        ids = [g[0] for g in genes] + [g[0] for g in guides]
        names = [g[1] for g in genes] + [g[0] for g in guides]
        feat.create_dataset("id", data=strings(ids))
        feat.create_dataset("name", data=strings(names))
        types = ["Gene Expression"] * n_gex + ["CRISPR Guide Capture"] * len(guides)
        feat.create_dataset("feature_type", data=strings(types))
        feat.create_dataset("genome", data=strings([g[2] for g in genes] + ["GRCh38"] * len(guides)))
        feat.create_dataset("pattern", data=strings([""] * n_gex + ["(BC)GTTTAAGAGC"] * len(guides)))
        feat.create_dataset("read", data=strings([""] * n_gex + ["R2"] * len(guides)))
        feat.create_dataset("sequence", data=strings([""] * n_gex + ["ACGT" * 5] * len(guides)))
        target_ids = [""] * n_gex + [("Non-Targeting" if t == "Non-Targeting" else f"ENSG_{t}") for _, t in guides]
        feat.create_dataset("target_gene_id", data=strings(target_ids))
        feat.create_dataset("target_gene_name", data=strings([""] * n_gex + [t for _, t in guides]))
    umis = x[n_gex:, :].toarray()
    truth = {}
    rows = []
    for c, bc in enumerate(barcodes):
        called = [g for g in range(len(guides)) if umis[g, c] >= req["min_umis"]]
        if not called:
            continue
        targets = []
        for g in called:
            if guides[g][1] not in targets:
                targets.append(guides[g][1])
        truth[bc] = {
            "calls": "|".join(guides[g][0] for g in called),
            "umis": "|".join(str(int(umis[g, c])) for g in called),
            "targets": "+".join(targets),
        }
        rows.append(f"{bc},{len(called)},{truth[bc]['calls']},{truth[bc]['umis']}")
    calls_csv = os.path.join(req["dir"], "protospacer_calls_per_cell.csv")
    with open(calls_csv, "w") as out:
        out.write("cell_barcode,num_features,feature_call,num_umis\n" + "\n".join(rows) + "\n")
    return calls_csv, truth, [g[0] for g in guides], [g[1] for g in guides]


def v2(req, rng, path, genomes):
    with h5py.File(path, "w") as f:
        for k, genome in enumerate(genomes):
            n_genes, n_cells = 10 + 3 * k, 25
            x = counts(rng, n_genes, n_cells)
            g = f.create_group(genome)
            write_matrix(g, x, [f"CELL{c:03d}-1" for c in range(n_cells)])
            g.create_dataset("genes", data=strings([f"{genome}_ENS{i}" for i in range(n_genes)]))
            g.create_dataset("gene_names", data=strings([f"{genome}_G{i}" for i in range(n_genes)]))


def main():
    req = json.load(sys.stdin)
    rng = np.random.default_rng(req["seed"])
    path = os.path.join(req["dir"], "filtered_feature_bc_matrix.h5")
    out = {"path": path, "calls_csv": None, "guides": {}, "guide_names": [], "guide_targets": []}
    if req["layout"] == "v3":
        out["calls_csv"], out["guides"], out["guide_names"], out["guide_targets"] = v3(req, rng, path)
    else:
        v2(req, rng, path, ["GRCh38"] if req["layout"] == "v2" else ["GRCh38", "mm10"])
    try:
        a = sc.read_10x_h5(path, genome=req.get("genome"))
    except ValueError as e:
        out["scanpy"] = {"error": str(e)}
    else:
        x = sp.csr_matrix(a.X)
        x.sort_indices()
        out["scanpy"] = {
            "shape": list(x.shape),
            "dtype": str(x.dtype),
            "indptr": x.indptr.tolist(),
            "indices": x.indices.tolist(),
            "data": x.data.tolist(),
            "obs_names": a.obs_names.tolist(),
            "var_names": a.var_names.tolist(),
            "var_columns": [str(c) for c in a.var.columns],
            "var": {c: [v if isinstance(v, bool) else str(v) for v in a.var[c]] for c in a.var.columns},
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
