//! `load` on the file layouts users bring (issue 15): MatrixMarket with its files found beside
//! it (GEO prefixes, Parse's cells × genes matrix with CSV headers), a cell table joined by
//! barcode, and the unknown-format error. Each test writes the files, runs `load`, exports its
//! `cells`/`expression` tables and checks the exact values.

use super::test::{Test, csv_fields};

/// The rows of a CSV written by `gcrl export` (header first).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines().map(csv_fields).collect()
}

/// Runs the workflow's `l` node and exports `l.<port>` as CSV; returns its rows.
fn exported(t: &Test, port: &str) -> Vec<Vec<String>> {
    let name = format!("{port}.csv");
    t.args(["export", &format!("l.{port}"), "--to", &name]).run().success();
    csv_rows(&std::fs::read_to_string(t.path().join(&name)).expect("exported table"))
}

/// The values of column `name` of exported rows.
fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let k = rows[0].iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[k].clone()).collect()
}

#[test]
fn parse_matrix_is_read_cells_by_genes_with_its_csv_files_found_beside_it() {
    let t = Test::new()
        .workflow(
            "name: x\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: count_matrix.mtx}}\n    \
             params: {all_controls: true}\n",
        )
        // 3 cells × 2 genes: rows are cells (Parse), no features/barcodes named.
        .write("count_matrix.mtx", "%%MatrixMarket matrix coordinate integer general\n3 2 3\n1 1 4\n2 2 9\n3 1 1\n")
        .write("all_genes.csv", "gene_id,gene_name,genome\nENSG1,TP53,hg38\nENSG2,MYC,hg38\n")
        .write("cell_metadata.csv", "bc_wells,sample,gene_count\n01_a,s1,1\n02_b,s1,1\n03_c,s2,1\n");
    t.run_ok(&[]);
    let cells = exported(&t, "cells");
    assert_eq!(column(&cells, "cell"), ["01_a", "02_b", "03_c"]);
    assert_eq!(column(&cells, "sample"), ["s1", "s1", "s2"]);
    let expression = exported(&t, "expression");
    assert_eq!(&expression[0][1..], ["TP53", "MYC"]);
    let values: Vec<Vec<f64>> =
        expression[1..].iter().map(|r| r[1..].iter().map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(values, [[4.0, 0.0], [0.0, 9.0], [1.0, 0.0]]);
    let genes = exported(&t, "genes");
    assert_eq!(column(&genes, "gene_ids"), ["ENSG1", "ENSG2"]);
    assert_eq!(column(&genes, "genome"), ["hg38", "hg38"]);
}

#[test]
fn a_cell_table_is_joined_by_barcode_across_the_gem_well_suffix() {
    let t = Test::new()
        .workflow(
            "name: x\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: GSM1_matrix.mtx.gz}, obs: {file: calls.tsv}}\n    \
             params: {unassigned: control}\n",
        )
        // GEO-prefixed 10x files (genes × cells); the table drops the `-1` and misses one cell, which
        // has no call then (kept here as a control, as the workflow says).
        .write("GSM1_matrix.mtx.gz", gz("%%MatrixMarket matrix coordinate integer general\n2 3 3\n1 1 5\n2 2 7\n1 3 2\n"))
        .write("GSM1_features.tsv.gz", gz("E1\tTP53\tGene Expression\nE2\tMYC\tGene Expression\n"))
        .write("GSM1_barcodes.tsv.gz", gz("AAAC-1\nAAAG-1\nAAAT-1\n"))
        .write("calls.tsv", "cell\tguide_target\tumi\nAAAT\tMYC\t12\nAAAC\tTP53\t30\nCCCC\tTP53\t4\n");
    t.run_ok(&[]);
    let cells = exported(&t, "cells");
    assert_eq!(column(&cells, "cell"), ["AAAC-1", "AAAG-1", "AAAT-1"]);
    assert_eq!(column(&cells, "guide_target"), ["TP53", "", "MYC"]);
    assert_eq!(column(&cells, "targets"), ["TP53", "", "MYC"]);
    let umi = column(&cells, "umi");
    assert_eq!((umi[0].parse::<f64>().unwrap(), umi[2].parse::<f64>().unwrap()), (30.0, 12.0));
}

#[test]
fn a_table_matching_no_barcode_is_refused_with_examples_of_both_sides() {
    let t = Test::new()
        .workflow(
            "name: x\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: matrix.mtx}, obs: {file: calls.csv}}\n",
        )
        .write("matrix.mtx", "%%MatrixMarket matrix coordinate integer general\n1 2 1\n1 1 5\n")
        .write("genes.tsv", "E1\tTP53\n")
        .write("barcodes.tsv", "AAAC-1\nAAAG-1\n")
        .write("calls.csv", "barcode,target\nTTTT-1,TP53\n");
    t.args(["run"]).run().status(1).stderr_has(&[
        "calls.csv: invalid `barcodes`: no barcode of the table matches a cell of the matrix",
        "table: `TTTT-1`; matrix: `AAAC-1`, `AAAG-1`",
    ]);
}

#[test]
fn an_unknown_format_lists_every_format_load_reads() {
    let t = Test::new()
        .workflow("name: x\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: screen.loom}}\n")
        .write("screen.loom", "not read");
    t.args(["run"]).run().status(1).stderr_has(&[
        "screen.loom: an unknown extension; `load` reads .h5ad",
        ".h5mu (MuData, with `modality`)",
        ".h5 (10x Cell Ranger HDF5)",
        "matrix.mtx(.gz)",
        ".csv/.tsv/.txt",
        ".arrow",
        ".parquet",
    ]);
}

fn gz(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).expect("gzip");
    enc.finish().expect("gzip")
}

/// Writes a Cell Ranger ≥ 3 `.h5` (CSC genes × cells, `matrix/features`) with hdf5-pure:
/// genes TP53, MYC, GATA1 and the guides TP53_g1 (target TP53) and NT_1 (Non-Targeting).
fn write_cell_ranger_h5(path: &std::path::Path) {
    use hdf5_pure::FileBuilder;
    // Columns are cells; rows 0-2 genes, 3-4 guides. Cell c3's 2 guide UMIs are ambient.
    let cells: [&[(i64, i32)]; 4] =
        [&[(0, 4), (3, 10)], &[(1, 3), (4, 5)], &[(2, 6), (3, 2)], &[(0, 1), (3, 8), (4, 4)]];
    let (mut data, mut indices, mut indptr) = (Vec::new(), Vec::new(), vec![0i64]);
    for cell in cells {
        for &(row, v) in cell {
            indices.push(row);
            data.push(v);
        }
        indptr.push(indices.len() as i64);
    }
    let text = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut fb = FileBuilder::new();
    let mut m = fb.create_group("matrix");
    m.create_dataset("data").with_i32_data(&data);
    m.create_dataset("indices").with_i64_data(&indices);
    m.create_dataset("indptr").with_i64_data(&indptr);
    m.create_dataset("shape").with_i32_data(&[5, 4]);
    let barcodes = text(&["AAAC-1", "AAAG-1", "AAAT-1", "AACC-1"]);
    m.create_dataset("barcodes").with_vlen_strings(&barcodes.iter().map(String::as_str).collect::<Vec<_>>());
    let mut f = m.create_group("features");
    for (name, values) in [
        ("id", text(&["ENSG1", "ENSG2", "ENSG3", "TP53_g1", "NT_1"])),
        ("name", text(&["TP53", "MYC", "GATA1", "TP53_g1", "NT_1"])),
        (
            "feature_type",
            text(&[
                "Gene Expression",
                "Gene Expression",
                "Gene Expression",
                "CRISPR Guide Capture",
                "CRISPR Guide Capture",
            ]),
        ),
        ("genome", text(&["GRCh38"; 5])),
        ("target_gene_id", text(&["", "", "", "ENSG1", "Non-Targeting"])),
        ("target_gene_name", text(&["", "", "", "TP53", "Non-Targeting"])),
    ] {
        f.create_dataset(name).with_vlen_strings(&values.iter().map(String::as_str).collect::<Vec<_>>());
    }
    m.add_group(f.finish());
    fb.add_group(m.finish());
    fb.write(path).expect("write the .h5");
}

#[test]
fn cell_ranger_h5_keeps_guides_out_of_the_genes_and_calls_them_per_cell() {
    let t = Test::new()
        .workflow("name: x\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: filtered_feature_bc_matrix.h5}}\n");
    write_cell_ranger_h5(&t.path().join("filtered_feature_bc_matrix.h5"));
    t.run_ok(&[]);
    let expression = exported(&t, "expression");
    assert_eq!(&expression[0][1..], ["TP53", "MYC", "GATA1"]);
    let values: Vec<Vec<f64>> =
        expression[1..].iter().map(|r| r[1..].iter().map(|v| v.parse().unwrap()).collect()).collect();
    // At least 3 UMIs (the default): AAAT-1's 2 ambient UMIs are no call, so the cell is unassigned
    // and dropped (counted in `summary`).
    assert_eq!(values, [[4.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.0]]);
    let cells = exported(&t, "cells");
    assert_eq!(column(&cells, "cell"), ["AAAC-1", "AAAG-1", "AACC-1"]);
    assert_eq!(column(&cells, "guide_calls"), ["TP53_g1", "NT_1", "TP53_g1|NT_1"]);
    assert_eq!(column(&cells, "guide_umis"), ["10", "5", "8|4"]);
    assert_eq!(column(&cells, "n_guides"), ["1", "1", "2"]);
    assert_eq!(column(&cells, "guide_target"), ["TP53", "Non-Targeting", "TP53+Non-Targeting"]);
    // A non-targeting guide is a control; beside a targeting guide it adds no target.
    assert_eq!(column(&cells, "targets"), ["TP53", "", "TP53"]);
    assert_eq!(column(&exported(&t, "summary"), "unassigned"), ["1"]);
    // Cell Ranger's own calls replace the threshold: cells it does not list have no call.
    t.put(
        "w2.yaml",
        "name: w2\nnodes:\n  l:\n    kind: load\n    inputs: {file: {file: filtered_feature_bc_matrix.h5}, \
         guide_calls: {file: protospacer_calls_per_cell.csv}}\n",
    );
    t.put(
        "protospacer_calls_per_cell.csv",
        "cell_barcode,num_features,feature_call,num_umis\nAAAT-1,1,TP53_g1,2\nAACC-1,1,TP53_g1,8\n",
    );
    t.args(["run"]).file("w2.yaml").run().success();
    t.args(["export", "l.cells", "--to", "cells2.csv"]).file("w2.yaml").run().success();
    let cells = csv_rows(&std::fs::read_to_string(t.path().join("cells2.csv")).unwrap());
    assert_eq!(column(&cells, "cell"), ["AAAT-1", "AACC-1"]);
    assert_eq!(column(&cells, "guide_calls"), ["TP53_g1", "TP53_g1"]);
    assert_eq!(column(&cells, "guide_target"), ["TP53", "TP53"]);
    assert_eq!(column(&cells, "n_guides"), ["1", "1"]);
}
