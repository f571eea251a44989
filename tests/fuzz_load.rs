//! Property tests of the readers behind `load` on damaged files: a CSV cell table, a 10x-style
//! MatrixMarket triplet and h5ad files (the committed fixtures), each with bytes flipped, cut or
//! spliced in. Every reader must return (a table, or an error with a message), never panic.
//! Hangs are not caught in-process: the whole test's time bounds them.
//!
//! `GCRL_FUZZ_CASES` sets the number of cases per target (default 64, which CI runs); the
//! closing note of issue 23 reports a long run.

use std::path::Path;

use gcrl::io::h5ad::{ReadOptions, read_h5ad};
use gcrl::io::mtx::{MtxFiles, read_mtx};
use gcrl::table::read_table_file;
use proptest::prelude::*;

const CELLS_CSV: &str = "cell,target,n_guides,bio_rep\nAAAC-1,KLF1,1,r1\nAAAG-1,,0,r2\nAACT-1,\"ZAP70+CD4\",2,r1\n";

const MATRIX: &str = "%%MatrixMarket matrix coordinate integer general\n% gcrl\n3 2 4\n1 1 5\n2 1 1\n3 2 7\n1 2 2\n";
const FEATURES: &str = "ENSG1\tKLF1\tGene Expression\nENSG2\tCD4\tGene Expression\nENSG3\tZAP70\tGene Expression\n";
const BARCODES: &str = "AAAC-1\nAAAG-1\n";

/// Up to four edits of `bytes`: a byte set, a cut, or random bytes spliced in.
fn damaged(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<prop::sample::Index>(), 0..3u8, prop::collection::vec(any::<u8>(), 1..16));
    prop::collection::vec(edit, 1..5).prop_map(move |edits| {
        let mut out = bytes.clone();
        for (at, how, new) in edits {
            let i = at.index(out.len().max(1));
            match how {
                0 if i < out.len() => out[i] = new[0],
                1 => out.truncate(i),
                _ => {
                    let i = i.min(out.len());
                    out.splice(i..i, new);
                }
            }
        }
        out
    })
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/h5ad").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An error must say something; `Ok` is fine (a flipped byte may leave a valid file).
fn said<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(!e.to_string().trim().is_empty(), "an error without a message");
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("GCRL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_damaged_cell_table_is_read_or_refused_without_a_panic(bytes in damaged(CELLS_CSV.into())) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cells.csv");
        std::fs::write(&path, bytes).unwrap();
        said(read_table_file(&path))?;
    }

    #[test]
    fn a_damaged_matrix_market_triplet_is_read_or_refused_without_a_panic(
        matrix in damaged(MATRIX.into()),
        features in damaged(FEATURES.into()),
        which in 0..3u8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        // One file damaged at a time, so most cases get past the others.
        let (m, f) = match which {
            0 => (matrix, FEATURES.as_bytes().to_vec()),
            1 => (MATRIX.as_bytes().to_vec(), features),
            _ => (matrix, features),
        };
        std::fs::write(dir.path().join("matrix.mtx"), m).unwrap();
        std::fs::write(dir.path().join("features.tsv"), f).unwrap();
        std::fs::write(dir.path().join("barcodes.tsv"), BARCODES).unwrap();
        let files = MtxFiles { features: None, barcodes: None, cells_by_genes: None };
        said(read_mtx(&dir.path().join("matrix.mtx"), &files))?;
    }

    #[test]
    fn a_damaged_h5ad_is_read_or_refused_without_a_panic(
        bytes in prop_oneof![damaged(fixture("csr_f32_gzip.h5ad")), damaged(fixture("dense_i32.h5ad"))],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.h5ad");
        std::fs::write(&path, bytes).unwrap();
        said(read_h5ad(&path, &ReadOptions::default()))?;
    }
}
