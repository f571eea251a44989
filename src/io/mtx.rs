//! 10x Genomics MatrixMarket output: `matrix.mtx(.gz)` (genes × cells, coordinate format),
//! `features.tsv(.gz)` (or `genes.tsv`: id, symbol[, type]) and `barcodes.tsv(.gz)`.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::IoError;
use crate::algo::sparse::Csr;

/// A 10x matrix turned into cells × genes.
#[derive(Debug, Clone, PartialEq)]
pub struct TenX {
    /// Cells × genes counts.
    pub counts: Csr,
    /// Cell barcodes.
    pub barcodes: Vec<String>,
    /// Gene ids (first column of the features file).
    pub gene_ids: Vec<String>,
    /// Gene symbols (second column; the id when absent).
    pub gene_names: Vec<String>,
    /// Feature types (third column of a Cell Ranger ≥ 3 `features.tsv`, e.g. `Gene Expression`,
    /// `Antibody Capture`); `None` for the two-column v2 `genes.tsv`. All types are kept.
    pub feature_types: Option<Vec<String>>,
}

fn invalid(path: &Path, object: impl Into<String>, reason: impl Into<String>) -> IoError {
    IoError::Invalid { path: path.to_path_buf(), object: object.into(), reason: reason.into() }
}

fn lines(path: &Path) -> Result<impl Iterator<Item = Result<String, IoError>>, IoError> {
    let file = std::fs::File::open(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let owned = path.to_path_buf();
    Ok(reader.lines().map(move |l| l.map_err(|source| IoError::Read { path: owned.clone(), source })))
}

fn columns(path: &Path) -> Result<Vec<Vec<String>>, IoError> {
    let mut out = Vec::new();
    for line in lines(path)? {
        let line = line?;
        if !line.trim().is_empty() {
            out.push(line.split('\t').map(String::from).collect());
        }
    }
    Ok(out)
}

/// Reads a 10x matrix with its features and barcodes files.
///
/// # Errors
/// [`IoError::Invalid`] naming the file and line for a malformed header, entry or index out of
/// range, or a features/barcodes file whose length disagrees with the matrix.
pub fn read_10x(matrix: &Path, features: &Path, barcodes: &Path) -> Result<TenX, IoError> {
    let mut it = lines(matrix)?;
    let header = it.next().transpose()?.unwrap_or_default();
    if !header.starts_with("%%MatrixMarket matrix coordinate") {
        return Err(invalid(
            matrix,
            "line 1",
            "not a MatrixMarket coordinate matrix (`%%MatrixMarket matrix coordinate …`)",
        ));
    }
    if header.contains("complex") || header.contains("pattern") {
        return Err(invalid(matrix, "line 1", "only real or integer values are supported"));
    }
    let mut n = 1;
    let size = loop {
        n += 1;
        let line = it.next().transpose()?.ok_or_else(|| invalid(matrix, "header", "no size line"))?;
        if !line.starts_with('%') {
            break line;
        }
    };
    let dims: Vec<usize> = size.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let [n_genes, n_cells, nnz] = dims[..] else {
        return Err(invalid(matrix, format!("line {n}"), "expected `genes cells entries`"));
    };
    let mut entries: Vec<(u32, u32, f32)> = Vec::with_capacity(nnz);
    for line in it {
        n += 1;
        let line = line?;
        let mut f = line.split_whitespace();
        let (Some(i), Some(j), Some(v)) = (f.next(), f.next(), f.next()) else { continue };
        let parse = |s: &str| s.parse::<usize>().ok().filter(|&x| x >= 1);
        let (Some(i), Some(j), Ok(v)) = (parse(i), parse(j), v.parse::<f32>()) else {
            return Err(invalid(matrix, format!("line {n}"), "expected `gene cell value` (1-based)"));
        };
        if i > n_genes || j > n_cells || !v.is_finite() {
            return Err(invalid(
                matrix,
                format!("line {n}"),
                format!("entry ({i}, {j}, {v}) outside {n_genes} × {n_cells}"),
            ));
        }
        entries.push(((j - 1) as u32, (i - 1) as u32, v));
    }
    if entries.len() != nnz {
        return Err(invalid(matrix, "body", format!("header promises {nnz} entries, found {}", entries.len())));
    }
    entries.sort_unstable_by_key(|&(c, g, _)| (c, g));
    let mut indptr = vec![0u64; n_cells + 1];
    for &(c, _, _) in &entries {
        indptr[c as usize + 1] += 1;
    }
    for c in 0..n_cells {
        indptr[c + 1] += indptr[c];
    }
    let indices = entries.iter().map(|e| e.1).collect();
    let data = entries.iter().map(|e| e.2).collect();
    let counts =
        Csr::new(n_cells, n_genes, indptr, indices, data).map_err(|e| invalid(matrix, "matrix", e.to_string()))?;
    let feats = columns(features)?;
    if feats.len() != n_genes {
        return Err(invalid(features, "rows", format!("{} features for a matrix of {n_genes} genes", feats.len())));
    }
    let bars: Vec<String> = columns(barcodes)?.into_iter().map(|r| r[0].clone()).collect();
    if bars.len() != n_cells {
        return Err(invalid(barcodes, "rows", format!("{} barcodes for a matrix of {n_cells} cells", bars.len())));
    }
    let gene_ids = feats.iter().map(|r| r[0].clone()).collect();
    let gene_names = feats.iter().map(|r| r.get(1).unwrap_or(&r[0]).clone()).collect();
    let feature_types = match feats.iter().position(|r| r.len() < 3) {
        None if !feats.is_empty() => Some(feats.iter().map(|r| r[2].clone()).collect()),
        _ => None,
    };
    Ok(TenX { counts, barcodes: bars, gene_ids, gene_names, feature_types })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_matrix_as_cells_by_genes() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("matrix.mtx");
        std::fs::write(&m, "%%MatrixMarket matrix coordinate integer general\n%\n3 2 3\n1 1 5\n3 1 1\n2 2 7\n")
            .unwrap();
        let f = dir.path().join("features.tsv");
        std::fs::write(&f, "ENSG1\tA\tGene Expression\nENSG2\tB\tGene Expression\nENSG3\tC\tGene Expression\n")
            .unwrap();
        let b = dir.path().join("barcodes.tsv");
        std::fs::write(&b, "AAAC-1\nGGGT-1\n").unwrap();
        let x = read_10x(&m, &f, &b).unwrap();
        assert_eq!(x.counts.to_dense(), ndarray::array![[5.0f32, 0.0, 1.0], [0.0, 7.0, 0.0]]);
        assert_eq!(x.gene_names, vec!["A", "B", "C"]);
        assert_eq!(x.barcodes, vec!["AAAC-1", "GGGT-1"]);
        assert_eq!(x.feature_types, Some(vec!["Gene Expression".to_string(); 3]));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("matrix.mtx");
        std::fs::write(&m, "%%MatrixMarket matrix coordinate integer general\n2 2 1\n3 1 5\n").unwrap();
        let f = dir.path().join("features.tsv");
        std::fs::write(&f, "a\nb\n").unwrap();
        let err = read_10x(&m, &f, &f).unwrap_err().to_string();
        assert!(err.contains("matrix.mtx") && err.contains("line 3"), "{err}");
    }
}
