//! One-predictor LOESS as computed by netlib dloess (Cleveland, Grosse and Shyu), the code behind
//! scikit-misc's `loess(x, y, span, degree=2).fit()` with its defaults (gaussian family,
//! `surface="interpolate"`, `cell=0.2`). scanpy's `seurat_v3` gene list depends on this exact
//! surface: the local fits are made only at the vertices of a k-d tree and interpolated between
//! them, which moves the fitted values by up to a few per cent from a direct local fit, enough to
//! change which genes make the top N.
//!
//! The surface, following dloess's `lowesb`/`lowese`:
//! 1. Tree (`ehg126`, `ehg124`): the bounding interval of `x` widened by 0.5 % on each side is
//!    split recursively, breadth first, at the median point (the lower middle one for an even
//!    count; with ties the nearest position whose value differs from the next one, searching
//!    right, left, right, …, stopping at the first search that leaves the cell), until a cell holds
//!    at most `⌊n·span·cell⌋` points or the split value would fall on the cell's boundary.
//! 2. Vertex fits (`ehg127`): at every cell boundary, weighted least squares of a quadratic on the
//!    `q = ⌊n·span + 10⁻⁵⌋` nearest points with tricube weights `(1 − (d/ρ)³)³`, ρ the q-th
//!    smallest distance (so points at distance ρ, tied or not, weigh nothing); solved through
//!    equilibrated columns and an SVD with singular values below `100·ε·σ_max` dropped. Each
//!    vertex keeps the fitted value and slope.
//! 3. Evaluation (`ehg128`): cubic Hermite interpolation of value and slope across the point's cell.

use super::AlgoError;

/// dloess's default `cell`: the most points a k-d tree cell may hold is `⌊n·span·cell⌋`.
const CELL: f64 = 0.2;

/// Fitted values of the degree-2 LOESS of `y` on `x` at the data points, as scikit-misc's
/// `loess(x, y, span=span, degree=2).fit()` gives them (see the module doc).
///
/// # Arguments
/// * `x`, `y` – the predictor and response, finite, of equal length.
/// * `span` – fraction of the points in each local fit, in (0, 1].
///
/// # Returns
/// One fitted value per point, in input order.
///
/// # Errors
/// [`AlgoError::Shape`] for lengths that differ, [`AlgoError::NonFinite`] for NaN or infinite
/// input, [`AlgoError::Param`] for a span outside (0, 1], [`AlgoError::TooFew`] when a local fit
/// would hold fewer than 4 points (dloess: "span too small"), [`AlgoError::Numerical`] when a
/// vertex has no point at positive weight (at least `q` points tied at the vertex).
///
/// # Complexity
/// O(n log n + n·V) for V ≈ 2/(span·cell) tree vertices.
pub fn loess_fit(x: &[f64], y: &[f64], span: f64) -> Result<Vec<f64>, AlgoError> {
    if x.len() != y.len() {
        return Err(AlgoError::Shape { what: "LOESS y vs x".into(), expected: x.len(), got: y.len() });
    }
    if !(span > 0.0 && span <= 1.0) {
        return Err(AlgoError::Param { name: "span".into(), why: format!("must be in (0, 1], got {span}") });
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(AlgoError::NonFinite("LOESS input".into()));
    }
    let n = x.len();
    let q = n.min((n as f64 * span + 1e-5).floor() as usize);
    if q < 4 {
        return Err(AlgoError::TooFew(format!(
            "a degree-2 LOESS needs at least 4 points per local fit, span·n gives {q}"
        )));
    }
    let tree = Tree::build(x, (n as f64 * (span * CELL)).floor() as usize);
    let fits =
        tree.vertices.iter().map(|&v| local_quadratic(x, y, q, v)).collect::<Result<Vec<[f64; 2]>, AlgoError>>()?;
    Ok(x.iter().map(|&z| tree.interpolate(z, &fits)).collect())
}

/// A k-d tree cell: an interval between two vertices, split or a leaf.
struct Cell {
    /// Indices of its lower and upper vertex.
    lo: usize,
    hi: usize,
    /// Split value and the two child cells, `None` for a leaf.
    split: Option<(f64, usize, usize)>,
}

/// dloess's k-d tree over one predictor.
struct Tree {
    /// Vertex positions: the widened bounding interval, then the split values in creation order.
    vertices: Vec<f64>,
    /// Cells, the root first, children after their parent.
    cells: Vec<Cell>,
}

impl Tree {
    /// Builds the tree on `x` (non-empty) with at most `fc` points per leaf where splitting allows.
    fn build(x: &[f64], fc: usize) -> Tree {
        let mut xs = x.to_vec();
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let (min, max) = (xs[0], xs[n - 1]);
        let margin = 0.005 * (max - min).max(1e-10 * min.abs().max(max.abs()) + 1e-30);
        // dloess sizes its workspace for max(200, n) vertices and as many cells.
        let capacity = n.max(200);
        let mut tree = Tree { vertices: vec![min - margin, max + margin], cells: Vec::new() };
        tree.cells.push(Cell { lo: 0, hi: 1, split: None });
        // Sorted-position range (inclusive) of each cell's points, indexed like `cells`.
        let mut ranges = vec![(0usize, n - 1)];
        let mut p = 0;
        while p < tree.cells.len() {
            let (l, u) = ranges[p];
            let (vlo, vhi) = (tree.vertices[tree.cells[p].lo], tree.vertices[tree.cells[p].hi]);
            let full = capacity < tree.cells.len() + 2 || capacity < tree.vertices.len() + 1;
            if u - l + 1 > fc && vhi - vlo > 0.0 && !full {
                let m = split_position(&xs, l, u);
                let t = xs[m];
                if t != vlo && t != vhi {
                    let v = tree.vertices.len();
                    tree.vertices.push(t);
                    let c = tree.cells.len();
                    tree.cells.push(Cell { lo: tree.cells[p].lo, hi: v, split: None });
                    tree.cells.push(Cell { lo: v, hi: tree.cells[p].hi, split: None });
                    ranges.push((l, m));
                    ranges.push((m + 1, u));
                    tree.cells[p].split = Some((t, c, c + 1));
                }
            }
            p += 1;
        }
        tree
    }

    /// The surface at `z`: cubic Hermite interpolation of the (value, slope) pairs `fits` at the
    /// two vertices of the leaf holding `z` (descending left when `z` equals a split value).
    fn interpolate(&self, z: f64, fits: &[[f64; 2]]) -> f64 {
        let mut cell = &self.cells[0];
        while let Some((t, left, right)) = cell.split {
            cell = &self.cells[if z <= t { left } else { right }];
        }
        let (v0, v1) = (self.vertices[cell.lo], self.vertices[cell.hi]);
        let ([g0, s0], [g1, s1]) = (fits[cell.lo], fits[cell.hi]);
        let h = (z - v0) / (v1 - v0);
        let phi0 = (1.0 - h).powi(2) * (1.0 + 2.0 * h);
        let phi1 = h.powi(2) * (3.0 - 2.0 * h);
        let psi0 = h * (1.0 - h).powi(2);
        let psi1 = h.powi(2) * (h - 1.0);
        phi0 * g0 + phi1 * g1 + (psi0 * s0 + psi1 * s1) * (v1 - v0)
    }
}

/// dloess's split point of the sorted positions `l..=u`: the middle `⌊(l+u)/2⌋`, moved to the
/// nearest position (order +1, −1, +2, −2, …) whose value differs from its successor's; if the
/// search leaves `l..u` first, the middle itself (the caller then sees whether it can split).
fn split_position(xs: &[f64], l: usize, u: usize) -> usize {
    let m = (l + u) / 2;
    let mut offset = 0isize;
    loop {
        let c = m as isize + offset;
        if c >= u as isize || c < l as isize {
            return m;
        }
        let c = c as usize;
        if xs[c] != xs[c + 1] {
            return c;
        }
        offset = -offset;
        if offset >= 0 {
            offset += 1;
        }
    }
}

/// Value and slope at `v` of the tricube-weighted least-squares quadratic on the `q` points
/// nearest to `v` (dloess `ehg127`).
fn local_quadratic(x: &[f64], y: &[f64], q: usize, v: f64) -> Result<[f64; 2], AlgoError> {
    let dist: Vec<f64> = x.iter().map(|&xi| (xi - v).powi(2)).collect();
    let mut sorted = dist.clone();
    let (_, &mut rho, _) = sorted.select_nth_unstable_by(q - 1, f64::total_cmp);
    if rho <= 0.0 {
        return Err(AlgoError::Numerical(format!("LOESS: {q} or more points tied at x = {v}")));
    }
    // Rows √w·(1, d, d²) and √w·y; points at distance ≥ ρ weigh nothing.
    let mut rows: Vec<[f64; 3]> = Vec::with_capacity(q);
    let mut eta: Vec<f64> = Vec::with_capacity(q);
    for ((&xi, &yi), &di) in x.iter().zip(y).zip(&dist) {
        if di < rho {
            let r = (di / rho).sqrt();
            let w = ((1.0 - r.powi(3)).powi(3)).sqrt();
            let d = xi - v;
            rows.push([w, w * d, w * d * d]);
            eta.push(w * yi);
        }
    }
    if !rows.iter().any(|r| r[0] > 0.0) {
        return Err(AlgoError::Numerical(format!("LOESS: no point at positive weight near x = {v}")));
    }
    // Equilibrate the columns, then solve by SVD (one-sided Jacobi) with small singular values
    // dropped, as dloess's pseudo-inverse.
    let mut norms = [1.0f64; 3];
    for (j, norm) in norms.iter_mut().enumerate() {
        let s = rows.iter().map(|r| r[j] * r[j]).sum::<f64>().sqrt();
        if s > 0.0 {
            *norm = s;
            rows.iter_mut().for_each(|r| r[j] /= s);
        }
    }
    let mut vmat = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _sweep in 0..60 {
        let mut rotated = false;
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
            for r in &rows {
                alpha += r[a] * r[a];
                beta += r[b] * r[b];
                gamma += r[a] * r[b];
            }
            if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
                continue;
            }
            rotated = true;
            let zeta = (beta - alpha) / (2.0 * gamma);
            let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
            let c = 1.0 / (1.0 + t * t).sqrt();
            let s = c * t;
            for r in rows.iter_mut().chain(vmat.iter_mut()) {
                let (ra, rb) = (r[a], r[b]);
                r[a] = c * ra - s * rb;
                r[b] = s * ra + c * rb;
            }
        }
        if !rotated {
            break;
        }
    }
    // Column j of `rows` is now u_j·σ_j, so u_jᵀη / σ_j = (column j · η) / σ_j².
    let mut sigma2 = [0.0f64; 3];
    let mut proj = [0.0f64; 3];
    for (r, &e) in rows.iter().zip(&eta) {
        for j in 0..3 {
            sigma2[j] += r[j] * r[j];
            proj[j] += r[j] * e;
        }
    }
    let sigma = sigma2.map(f64::sqrt);
    let tol = sigma.iter().fold(0.0f64, |m, &s| m.max(s)) * (100.0 * f64::EPSILON);
    let gamma: Vec<f64> = (0..3).map(|j| if sigma[j] > tol { proj[j] / sigma2[j] } else { 0.0 }).collect();
    let coef = |i: usize| (0..3).map(|j| vmat[i][j] * gamma[j]).sum::<f64>() / norms[i];
    Ok([coef(0), coef(1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture written by `tests/data/loess/make_fixtures.py`: span, x, y, scikit-misc's fit.
    fn fixture(text: &str) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut lines = text.lines();
        let span = lines.next().and_then(|l| l.strip_prefix("# span=")).expect("span header").parse().unwrap();
        let (mut x, mut y, mut fit) = (Vec::new(), Vec::new(), Vec::new());
        for line in lines {
            let v: Vec<f64> = line.split('\t').map(|t| t.parse().unwrap()).collect();
            x.push(v[0]);
            y.push(v[1]);
            fit.push(v[2]);
        }
        (span, x, y, fit)
    }

    /// Largest relative difference (floor 1e-3 on the scale) from scikit-misc on a fixture.
    fn max_rel_vs_skmisc(text: &str) -> f64 {
        let (span, x, y, want) = fixture(text);
        let got = loess_fit(&x, &y, span).unwrap();
        assert_eq!(got.len(), want.len());
        got.iter().zip(&want).map(|(g, w)| (g - w).abs() / w.abs().max(1e-3)).fold(0.0, f64::max)
    }

    macro_rules! skmisc_case {
        ($name:ident, $file:literal) => {
            #[test]
            fn $name() {
                let rel = max_rel_vs_skmisc(include_str!(concat!("../../tests/data/loess/", $file)));
                assert!(rel < 1e-9, "max relative difference from scikit-misc {rel:e}");
            }
        };
    }

    skmisc_case!(matches_skmisc_40_points_with_ties, "n40_ties.tsv");
    skmisc_case!(matches_skmisc_span_075, "n40_span075.tsv");
    skmisc_case!(matches_skmisc_integer_x_unsplittable_cells, "n120_integer.tsv");
    skmisc_case!(matches_skmisc_one_point_cells, "n17_span05.tsv");
    skmisc_case!(matches_skmisc_nb_log_mean_variance, "n500_nb.tsv");

    #[test]
    fn quadratic_data_are_reproduced() {
        let x: Vec<f64> = (0..50).map(|i| f64::from(i).sqrt()).collect();
        let y: Vec<f64> = x.iter().map(|&v| 1.0 - 2.0 * v + 0.5 * v * v).collect();
        for (g, w) in loess_fit(&x, &y, 0.3).unwrap().iter().zip(&y) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }
    }

    #[test]
    fn split_skips_ties_right_then_left() {
        // Middle of 0..=6 is 3; xs[3] == xs[4], xs[4] != xs[5] → 4.
        assert_eq!(split_position(&[0., 1., 2., 3., 3., 5., 6.], 0, 6), 4);
        // xs[3..=5] tied: +1 fails, −1 (2 vs 3) differs → 2.
        assert_eq!(split_position(&[0., 1., 2., 3., 3., 3., 6.], 0, 6), 2);
        // All tied: the search leaves the range, the middle stays.
        assert_eq!(split_position(&[1.; 5], 0, 4), 2);
    }

    #[test]
    fn rejects_bad_input() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        assert!(matches!(loess_fit(&x, &x, 0.0), Err(AlgoError::Param { .. })));
        assert!(matches!(loess_fit(&x, &x, 1.5), Err(AlgoError::Param { .. })));
        assert!(matches!(loess_fit(&x, &x, f64::NAN), Err(AlgoError::Param { .. })));
        assert!(matches!(loess_fit(&x, &x, 0.1), Err(AlgoError::TooFew(_))));
        assert!(matches!(loess_fit(&[], &[], 0.3), Err(AlgoError::TooFew(_))));
        assert!(matches!(loess_fit(&x, &x[1..], 0.3), Err(AlgoError::Shape { .. })));
        let mut bad = x.clone();
        bad[3] = f64::INFINITY;
        assert!(matches!(loess_fit(&bad, &x, 0.3), Err(AlgoError::NonFinite(_))));
        // 10 of 20 points at the split value 5: the vertex fit there has no positive weight.
        let tied: Vec<f64> = (0..20).map(|i| if i < 10 { 5.0 } else { f64::from(i) }).collect();
        assert!(matches!(loess_fit(&tied, &x, 0.3), Err(AlgoError::Numerical(_))));
    }
}
