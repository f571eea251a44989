//! The linear baseline of Ahlmann-Eltze, Huber & Anders (Nat. Methods 2025, "Deep-learning-based
//! gene perturbation effect prediction does not yet outperform simple linear baselines"), in the
//! form of their `run_linear_pretrained_model.R` with `gene_embedding = pert_embedding =
//! "training_data"`, `pca_dim = 10`, `ridge_penalty = 0.1`:
//!
//! * `X` (genes × training conditions, the control included): the pseudo-bulk, i.e. the mean
//!   log-normalised expression of each condition's cells; `b` the mean of the control cells.
//! * Gene embedding `E` (genes × K): the first K principal-component scores of `X` with genes as
//!   observations (R `prcomp(X)`: each condition centred over genes, not scaled).
//! * Perturbation embedding of a single of gene `t`: row `t` of `E`; of the control: 0.
//! * `Y = X − b` (the changes), `c` = the mean of `Y` over the training conditions,
//!   `W = (EᵀE + λI)⁻¹ Eᵀ (Y − c) Pᵀ (PPᵀ + λI)⁻¹`.
//! * Prediction for a set of targets: `b + c + E W p` with `p` the sum of the targets'
//!   embeddings (the paper fits singles; a combination's embedding is the sum of its targets', so
//!   the model composes additively in its own predictions).
//!
//! Pure: ndarray in, ndarray out; no I/O.

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::algo::AlgoError;
use crate::algo::perturbation::Pca;
use crate::algo::ridge::solve_ridge;

/// A fitted linear baseline.
#[derive(Debug, Clone)]
pub struct LinearBaseline {
    /// Gene embedding `E`, genes × K.
    pub embedding: Array2<f64>,
    /// The K × K coefficient matrix `W`.
    pub coefficients: Array2<f64>,
    /// `b + c`: the control mean plus the mean training change.
    pub offset: Array1<f64>,
}

/// Fits the linear baseline.
///
/// # Arguments
/// * `pseudobulk` — training conditions × genes, the mean expression of each condition.
/// * `targets` — per row of `pseudobulk`, the gene (column) index its perturbation targets, or
///   `None` for the control.
/// * `control` — mean expression of the control cells, `b`.
/// * `dim` — K, the number of embedding dimensions (at most `min(genes − 1, conditions)` are
///   used, as `prcomp` returns).
/// * `ridge` — λ of both ridge penalties.
///
/// # Returns
/// The model; [`AlgoError::Shape`] for inconsistent sizes, [`AlgoError::TooFew`] with fewer
/// than 2 conditions, [`AlgoError::Param`] for a target outside the genes or a negative `ridge`.
///
/// # Complexity
/// `O(G · C · min(G, C) + G · K²)` for G genes and C conditions.
pub fn fit_linear_baseline(
    pseudobulk: ArrayView2<f64>,
    targets: &[Option<usize>],
    control: ArrayView1<f64>,
    dim: usize,
    ridge: f64,
) -> Result<LinearBaseline, AlgoError> {
    let (c, g) = pseudobulk.dim();
    if targets.len() != c {
        return Err(AlgoError::Shape { what: "targets of the conditions".into(), expected: c, got: targets.len() });
    }
    if control.len() != g {
        return Err(AlgoError::Shape { what: "control mean".into(), expected: g, got: control.len() });
    }
    if let Some(t) = targets.iter().flatten().find(|&&t| t >= g) {
        return Err(AlgoError::Param { name: "targets".into(), why: format!("gene {t} is outside the {g} genes") });
    }
    if !(ridge >= 0.0 && ridge.is_finite()) {
        return Err(AlgoError::Param { name: "ridge".into(), why: format!("must be non-negative, got {ridge}") });
    }
    // prcomp(X) with genes as observations: scores = centred X times the right singular vectors.
    let genes_by_conditions = pseudobulk.t();
    let pca = Pca::fit(genes_by_conditions, dim)?;
    let embedding = pca.project(genes_by_conditions);
    let k = embedding.ncols();
    let change = &pseudobulk - &control.insert_axis(Axis(0));
    let centre = change.mean_axis(Axis(0)).unwrap_or_default();
    let centred = &change - &centre.view().insert_axis(Axis(0));
    // P: K × C, the targets' embedding rows (0 for the control).
    let mut p = Array2::<f64>::zeros((k, c));
    for (j, t) in targets.iter().enumerate() {
        if let Some(t) = t {
            p.column_mut(j).assign(&embedding.row(*t));
        }
    }
    // (EᵀE + λI)⁻¹ Eᵀ (Y − c) Pᵀ, with Y − c (genes × conditions) = centredᵀ.
    let middle = embedding.t().dot(&centred.t()).dot(&p.t());
    let left = solve_columns(&embedding.t().dot(&embedding), &middle, ridge)?;
    // W = left (PPᵀ + λI)⁻¹  ⇔  Wᵀ = (PPᵀ + λI)⁻¹ leftᵀ (both Gram matrices are symmetric).
    let coefficients = solve_columns(&p.dot(&p.t()), &left.t().to_owned(), ridge)?.t().to_owned();
    Ok(LinearBaseline { embedding, coefficients, offset: &control + &centre })
}

impl LinearBaseline {
    /// The predicted mean expression of the combination of `targets` (gene indices; empty for
    /// the control): `b + c + E W Σ_t E[t, :]`.
    ///
    /// # Panics
    /// When a target is not a gene index of the fitted model.
    pub fn predict(&self, targets: &[usize]) -> Array1<f64> {
        let mut p = Array1::<f64>::zeros(self.embedding.ncols());
        for &t in targets {
            p += &self.embedding.row(t);
        }
        &self.offset + &self.embedding.dot(&self.coefficients.dot(&p))
    }
}

/// `(gram + λI)⁻¹ rhs`, column by column.
fn solve_columns(gram: &Array2<f64>, rhs: &Array2<f64>, ridge: f64) -> Result<Array2<f64>, AlgoError> {
    let k = gram.nrows();
    let mut out = Array2::<f64>::zeros(rhs.dim());
    for j in 0..rhs.ncols() {
        let mut m = Mat::<f64>::from_fn(k, k, |a, b| gram[(a, b)]);
        let mut col: Vec<f64> = rhs.column(j).to_vec();
        solve_ridge(m.as_mut(), &mut col, ridge)?;
        out.column_mut(j).assign(&Array1::from(col));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn predictions_compose_additively() {
        // Five genes, the control and three singles (of genes 0, 1, 2).
        let x = array![
            [1.0, 2.0, 3.0, 4.0, 5.0],
            [3.0, 2.5, 3.0, 3.0, 6.0],
            [1.0, 4.0, 2.0, 4.5, 5.0],
            [0.5, 2.0, 5.0, 4.0, 4.0]
        ];
        let targets = [None, Some(0), Some(1), Some(2)];
        let control = x.row(0);
        let m = fit_linear_baseline(x.view(), &targets, control, 10, 0.1).unwrap();
        assert_eq!(m.embedding.dim(), (5, 4));
        let gap = &m.predict(&[0, 1]) - &m.predict(&[0]) - &m.predict(&[1]) + &m.predict(&[]);
        assert!(gap.iter().all(|v| v.abs() < 1e-12));
        // Without ridge, W is the least-squares fit (K = 2 keeps PPᵀ invertible): no larger
        // training error than with it.
        let exact = fit_linear_baseline(x.view(), &targets, control, 2, 0.0).unwrap();
        let m = fit_linear_baseline(x.view(), &targets, control, 2, 0.1).unwrap();
        let error = |m: &LinearBaseline| -> f64 {
            let fits = [m.predict(&[]), m.predict(&[0]), m.predict(&[1]), m.predict(&[2])];
            fits.iter().enumerate().map(|(i, f)| (f - &x.row(i)).mapv(|v| v * v).sum()).sum()
        };
        let (err, shrunk) = (error(&exact), error(&m));
        assert!(err <= shrunk + 1e-9, "{err} vs {shrunk}");
        assert!(fit_linear_baseline(x.view(), &[None, Some(9), None, None], control, 2, 0.1).is_err());
    }
}
