//! The real TF–TF graph of the Leiden quality checks (`tests/data/leiden_collectri158.tsv`,
//! written by `tests/crosscheck/leiden_collectri_graph.py` from CollecTRI: the 158 TFs with at
//! least 27 TF neighbours, one connected component), read and symmetrised exactly as the
//! `leiden-sweep` node does: `read_table_file`, `table::Edges::from_table`, then
//! `algo::stability::tf_graph` with every TF of the file as `tfs` (w_ab = |w_a→b| + |w_b→a|).
//! Shared by `tests/crosscheck.rs` and `benches/leiden_quality.rs`.

use std::path::Path;

use gcrl::algo::stability::tf_graph;
use gcrl::table::Edges;
use gcrl::table::read_table_file;

/// TF names and the undirected weighted edges between them (158 nodes, 2,422 edges).
pub fn collectri_tf_graph() -> (Vec<String>, Vec<(usize, usize, f64)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/leiden_collectri158.tsv");
    let table = read_table_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let edges = Edges::from_table(&table).expect("source, target, weight columns").0;
    let mut tfs: Vec<String> = edges.iter().flat_map(|(s, t, _)| [s.clone(), t.clone()]).collect();
    tfs.sort();
    tfs.dedup();
    tf_graph(&edges, &tfs)
}
