//! `gcrl export … --to out.h5ad --varm KEY=node.output` (issue 22): a genes × k table becomes
//! `varm[KEY]`, rows aligned to X's genes by name, its column names under
//! `uns/gcrl/varm/KEY_columns` and its origin a row `varm/KEY` of the provenance frame. What
//! anndata reads back is checked against the table's CSV export and the Python door's
//! `anndata(varm=…)` (needs `GCRL_PYTHON`).

use super::python::{WORKFLOW, python_ok};
use super::test::Test;

#[test]
fn varm_takes_a_gene_table_and_refuses_what_is_no_genes_by_k_matrix() {
    let t = Test::new().workflow(WORKFLOW);
    t.run_ok(&[]);
    t.args(["export", "data.counts", "--to", "x.h5ad", "--varm", "stats=prep.genes"])
        .run()
        .success()
        .stderr_has(&["30 cells × 16 genes, varm: stats"]);
    // A sparse cells × genes table is no genes × k matrix; a table with text columns neither.
    t.args(["export", "data.counts", "--to", "y.h5ad", "--varm", "e=prep.expression"])
        .run()
        .status(3)
        .stderr_has(&["--varm e=prep.expression: column `indices` should hold numbers"]);
    t.args(["export", "data.counts", "--to", "y.h5ad", "--varm", "c=data.cells"])
        .run()
        .status(3)
        .stderr_has(&["--varm c=data.cells: column `targets` should hold numbers"]);
    t.args(["export", "data.counts", "--to", "y.csv", "--varm", "stats=prep.genes"])
        .run()
        .status(2)
        .stderr_has(&["--varm go with an .h5ad destination"]);
}

const CHECK: &str = r#"
import numpy as np, pandas as pd, anndata as ad
a = ad.read_h5ad("x.h5ad")
genes = pd.read_csv("genes.csv", keep_default_na=False)
cols = list(a.uns["gcrl"]["varm"]["stats_columns"])
assert cols == list(genes.columns[1:]), (cols, genes.columns)
want = genes.set_index("gene").loc[list(a.var_names), cols]
want = want.apply(lambda c: c.map({"true": 1.0, "false": 0.0}) if c.dtype == object else c).astype(float)
assert a.varm["stats"].shape == (16, len(cols)), a.varm["stats"].shape
assert np.allclose(a.varm["stats"], want.to_numpy(), rtol=1e-12), (a.varm["stats"], want)
p = a.uns["gcrl"]["provenance"]
assert list(p.index) == ["X", "varm/stats"] and p.loc["varm/stats", "output"] == "genes", p
# The Python door builds the same varm from the cache.
import gcrl
mine = gcrl.open("workflow.yaml").anndata("data.counts", varm={"stats": "prep.genes"})
assert np.array_equal(mine.varm["stats"], a.varm["stats"]), (mine.varm["stats"], a.varm["stats"])
assert list(mine.uns["gcrl"]["provenance"].index) == ["X", "varm/stats"]
print("ok")
"#;

#[test]
#[ignore = "needs GCRL_PYTHON with anndata; CI runs it"]
fn varm_reads_in_anndata_as_the_gene_table_it_came_from() {
    let t = Test::new().workflow(WORKFLOW);
    t.run_ok(&[]);
    t.args(["export", "prep.genes", "--to", "genes.csv"]).run().success();
    t.args(["export", "data.counts", "--to", "x.h5ad", "--varm", "stats=prep.genes"]).run().success();
    python_ok(&t, CHECK);
}
