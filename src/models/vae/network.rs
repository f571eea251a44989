//! The discrepancy-VAE network in burn (method.md §7.1) and the gCRL changes (§7.3): encoder,
//! interventional encoder and/or the community → latent permutation, shift interventions, the linear causal layer
//! and the decoder, with the loss terms. Knows tensors only; batches, schedules and tables live
//! elsewhere.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::{leaky_relu, log_softmax, softmax, softplus};
use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use crate::algo::random::normal;
use crate::models::{seeded_linear, to_matrix};

/// Negative slope of every LeakyReLU.
const SLOPE: f64 = 0.2;

/// Added to the encoder's softplus variance: in f32 softplus underflows to 0 for inputs below
/// about −88 (the reference runs in f64), and `ln 0` in the KL term would end the training.
const VAR_FLOOR: f64 = 1e-6;

/// The interventional encoder of the discrepancy-VAE: one-hot target → softmax over latents.
#[derive(Module, Debug)]
pub struct TargetEncoder {
    hidden: Linear,
    out: Linear,
}

/// The whole network; `targets` is absent in gCRL-VAE with hard routing (routing by the
/// permutation instead) and `permutation` (the matrix `S`) is present only in gCRL-VAE.
#[derive(Module, Debug)]
pub struct Network {
    enc_hidden: Linear,
    enc_mean: Linear,
    enc_var: Linear,
    targets: Option<TargetEncoder>,
    /// `c_shift`: the strength of each perturbation target's shift.
    shift: Param<Tensor<1>>,
    /// `G`: only its strict upper triangle is the latent DAG.
    dag: Param<Tensor<2>>,
    /// `S`: community → latent scores (gCRL-VAE).
    permutation: Option<Param<Tensor<2>>>,
    dec_hidden: Linear,
    dec_out: Linear,
}

/// Sizes of a [`Network`].
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Encoder input width (genes, or TFs for gCRL-VAE).
    pub input: usize,
    /// Hidden width of every block.
    pub hidden: usize,
    /// Latent dimension `d`.
    pub latent: usize,
    /// Number of perturbation targets `C`.
    pub targets: usize,
    /// Decoder output width (genes).
    pub genes: usize,
    /// A learnable community → latent permutation (gCRL-VAE).
    pub permutation: bool,
    /// The interventional encoder (every model but gCRL-VAE with hard routing).
    pub target_encoder: bool,
}

/// How one batch is intervened on: one row of target weights over latents per shift, each with
/// its strength.
pub struct Intervention {
    /// `[1, d]` target weights of each shift.
    pub weights: Vec<Tensor<2>>,
    /// `[1, 1]` strengths `c · c_shift` of each shift.
    pub strengths: Vec<Tensor<2>>,
}

/// What a forward pass returns for the losses.
pub struct Forward {
    /// Posterior means `[b, d]`.
    pub mean: Tensor<2>,
    /// Posterior variances `[b, d]`.
    pub var: Tensor<2>,
    /// Reconstructed controls `[b, G]`.
    pub reconstruction: Tensor<2>,
    /// Counterfactual perturbed cells `[b, G]`.
    pub counterfactual: Tensor<2>,
}

/// A `fan_in → fan_out` linear layer with weights N(0, sd²) from `rng` and zero bias
/// (the discrepancy-VAE's encoder/decoder initialisation).
fn normal_linear(rng: &mut ChaCha8Rng, fan_in: usize, fan_out: usize, sd: f64, device: &Device) -> Linear {
    let w: Vec<f32> = (0..fan_in * fan_out).map(|_| (sd * normal(rng)) as f32).collect();
    let weight = Tensor::from_data(TensorData::new(w, [fan_in, fan_out]), device);
    let bias = Tensor::from_data(TensorData::new(vec![0f32; fan_out], [fan_out]), device);
    Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)) }
}

impl Network {
    /// A network initialised as the reference: encoder/decoder N(0, 0.02²), interventional
    /// encoder PyTorch defaults, `c_shift = 1`, `G ~ N(0, 0.1²)`, `S = I`; all from `rng`.
    pub fn new(shape: Shape, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let Shape { input, hidden, latent, targets, genes, permutation, target_encoder } = shape;
        let enc_hidden = normal_linear(rng, input, hidden, 0.02, device);
        let enc_mean = normal_linear(rng, hidden, latent, 0.02, device);
        let enc_var = normal_linear(rng, hidden, latent, 0.02, device);
        let target_encoder = target_encoder.then(|| TargetEncoder {
            hidden: seeded_linear(rng, targets, hidden, device),
            out: seeded_linear(rng, hidden, latent, device),
        });
        let shift = Tensor::from_data(TensorData::new(vec![1f32; targets], [targets]), device);
        let g: Vec<f32> = (0..latent * latent).map(|_| (0.1 * normal(rng)) as f32).collect();
        let dag = Tensor::from_data(TensorData::new(g, [latent, latent]), device);
        let dec_hidden = normal_linear(rng, latent, hidden, 0.02, device);
        let dec_out = normal_linear(rng, hidden, genes, 0.02, device);
        Network {
            enc_hidden,
            enc_mean,
            enc_var,
            targets: target_encoder,
            shift: Param::from_tensor(shift),
            dag: Param::from_tensor(dag),
            permutation: permutation.then(|| Param::from_tensor(Tensor::eye(latent, device))),
            dec_hidden,
            dec_out,
        }
    }

    /// Posterior mean and variance (softplus, plus [`VAR_FLOOR`]) of the encoder input `x`
    /// (`[b, input]`).
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = leaky_relu(self.enc_hidden.forward(x), SLOPE);
        (self.enc_mean.forward(h.clone()), softplus(self.enc_var.forward(h), 1.0).add_scalar(VAR_FLOOR))
    }

    /// Gene-space output of latent causes `u` (`[b, d]`); LeakyReLU on the output as the reference.
    pub fn decode(&self, u: Tensor<2>) -> Tensor<2> {
        leaky_relu(self.dec_out.forward(leaky_relu(self.dec_hidden.forward(u), SLOPE)), SLOPE)
    }

    /// `log P` of the soft community → latent matrix `P = Sinkhorn(S · temp)` (`iterations`
    /// alternating row and column normalisations in log space); `None` outside gCRL-VAE.
    pub fn log_soft_permutation(&self, temp: f64, iterations: usize) -> Option<Tensor<2>> {
        let s = self.permutation.as_ref()?.val();
        let mut log_p = s.mul_scalar(temp);
        for _ in 0..iterations {
            log_p = log_p.clone() - log_sum_exp(log_p, 1);
            log_p = log_p.clone() - log_sum_exp(log_p, 0);
        }
        Some(log_p)
    }

    /// The learnable scores `S` (gCRL-VAE).
    pub fn scores(&self) -> Option<Tensor<2>> {
        self.permutation.as_ref().map(|s| s.val())
    }

    /// The latent map `(I − B)⁻¹` with `B = triu(G, 1)`, conjugated by the community → latent
    /// matrix `p` when given: `Pᵀ (I − B)⁻¹ P`, which is `(I − PᵀBP)⁻¹` for a permutation.
    ///
    /// `I − B` is unit upper triangular, so its inverse `M₀` comes from back substitution on the
    /// host. It enters the graph as `M₀ + M₀ (B − B₀) M₀`, `B₀` a detached copy of `B`: the value
    /// is `M₀` exactly and the gradient the inverse's, `dM = M dB M`. (The reference calls
    /// `torch.inverse`; a power series of tensor products took 2⌈log₂ d⌉ products of `d × d`
    /// matrices forward and twice as many backward, a fifth of a d-VAE step at d = 105.)
    pub fn causal_map(&self, p: Option<&Tensor<2>>) -> Tensor<2> {
        let b = self.adjacency();
        let fixed = b.clone().detach();
        let m0 = unit_upper_inverse(fixed.clone());
        let inverse = m0.clone() + m0.clone().matmul(b - fixed).matmul(m0);
        match p {
            Some(p) => p.clone().transpose().matmul(inverse).matmul(p.clone()),
            None => inverse,
        }
    }

    /// Every parameter by name, vectors as `[1, n]`.
    pub fn parameters(&self) -> Vec<(String, Tensor<2>)> {
        let mut out = Vec::new();
        let mut linear = |name: &str, l: &Linear| {
            out.push((format!("{name}.weight"), l.weight.val()));
            if let Some(b) = &l.bias {
                let b = b.val();
                let n = b.dims()[0];
                out.push((format!("{name}.bias"), b.reshape([1, n])));
            }
        };
        linear("encoder.hidden", &self.enc_hidden);
        linear("encoder.mean", &self.enc_mean);
        linear("encoder.var", &self.enc_var);
        if let Some(t) = &self.targets {
            linear("target_encoder.hidden", &t.hidden);
            linear("target_encoder.out", &t.out);
        }
        linear("decoder.hidden", &self.dec_hidden);
        linear("decoder.out", &self.dec_out);
        let shift = self.shift.val();
        let c = shift.dims()[0];
        out.push(("shift".into(), shift.reshape([1, c])));
        out.push(("dag".into(), self.dag.val()));
        if let Some(s) = &self.permutation {
            out.push(("permutation".into(), s.val()));
        }
        out
    }

    /// `B = triu(G, 1)`, the latent DAG in index (community) order.
    pub fn adjacency(&self) -> Tensor<2> {
        self.dag.val().triu(1)
    }

    /// `Σ |B|` (L1 on the DAG).
    pub fn dag_l1(&self) -> Tensor<1> {
        self.adjacency().abs().sum()
    }

    /// `Σ |W|` over the decoder weights (L1 on the decoder, the paper's wording).
    pub fn decoder_l1(&self) -> Tensor<1> {
        self.dec_hidden.weight.val().abs().sum() + self.dec_out.weight.val().abs().sum()
    }

    /// The interventional encoder's target weights `softmax(logits · temp)` for target `t`
    /// out of `c` (`[1, d]`); `None` without the encoder.
    pub fn encoder_weights(&self, t: usize, c: usize, temp: f64) -> Option<Tensor<2>> {
        Some(softmax(self.encoder_logits(t, c)?.mul_scalar(temp), 1))
    }

    /// `log softmax(logits · temp)` of the interventional encoder for target `t` out of `c`.
    pub fn encoder_log_weights(&self, t: usize, c: usize, temp: f64) -> Option<Tensor<2>> {
        Some(log_softmax(self.encoder_logits(t, c)?.mul_scalar(temp), 1))
    }

    /// The interventional encoder's logits of the one-hot target `t` out of `c` (`[1, d]`).
    fn encoder_logits(&self, t: usize, c: usize) -> Option<Tensor<2>> {
        let enc = self.targets.as_ref()?;
        let device = self.shift.val().device();
        let mut one_hot = vec![0f32; c];
        one_hot[t] = 1.0;
        let c = Tensor::from_data(TensorData::new(one_hot, [1, c]), &device);
        Some(enc.out.forward(leaky_relu(enc.hidden.forward(c), SLOPE)))
    }

    /// The strength `c · c_shift` of target `t` (`[1, 1]`).
    pub fn strength(&self, t: usize) -> Tensor<2> {
        self.shift.val().narrow(0, t, 1).reshape([1, 1])
    }

    /// Shift interventions and the pass to both outputs: `z = μ + √var ⊙ ε`,
    /// `z̃ = z + Σ weightsᵢ · strengthᵢ`, reconstruction `dec(z M)` and counterfactual `dec(z̃ M)`
    /// with `M` from [`Network::causal_map`]; one decoder pass over both.
    pub fn forward(&self, x: Tensor<2>, noise: Tensor<2>, intervention: &Intervention, map: Tensor<2>) -> Forward {
        let (mean, var) = self.encode(x);
        let b = mean.dims()[0];
        let z = mean.clone() + var.clone().sqrt() * noise;
        let mut shifted = z.clone();
        for (w, s) in intervention.weights.iter().zip(&intervention.strengths) {
            shifted = shifted + w.clone() * s.clone();
        }
        let u = Tensor::cat(vec![z, shifted], 0).matmul(map);
        let out = self.decode(u);
        let genes = out.dims()[1];
        let reconstruction = out.clone().slice([0..b, 0..genes]);
        let counterfactual = out.slice([b..2 * b, 0..genes]);
        Forward { mean, var, reconstruction, counterfactual }
    }
}

/// `(I − B)⁻¹` of a strictly upper triangular `B`, by back substitution in f64: row `i` of the
/// inverse is `eᵢ + Σ_{k>i} B[i, k] · row k`.
fn unit_upper_inverse(b: Tensor<2>) -> Tensor<2> {
    let device = b.device();
    let d = b.dims()[0];
    let b = to_matrix(b).expect("the DAG is a float tensor");
    let mut m = vec![0f64; d * d];
    for i in (0..d).rev() {
        m[i * d + i] = 1.0;
        for k in i + 1..d {
            let coef = f64::from(b[[i, k]]);
            if coef != 0.0 {
                let (upper, lower) = m.split_at_mut(k * d);
                for (target, source) in upper[i * d + k..i * d + d].iter_mut().zip(&lower[k..d]) {
                    *target += coef * source;
                }
            }
        }
    }
    let values: Vec<f32> = m.into_iter().map(|v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, [d, d]), &device)
}

/// `log Σ exp` along `dim`, kept as a size-1 dimension; stabilised by the (detached) maximum.
fn log_sum_exp(x: Tensor<2>, dim: usize) -> Tensor<2> {
    let m = x.clone().max_dim(dim).detach();
    (x - m.clone()).exp().sum_dim(dim).log() + m
}

/// `KL(q(z|x) ‖ N(0, I))` summed over latents and averaged over the batch.
pub fn kl_divergence(mean: Tensor<2>, var: Tensor<2>) -> Tensor<1> {
    let b = mean.dims()[0] as f64;
    (var.clone().log().add_scalar(1.0) - mean.powi_scalar(2) - var).sum().mul_scalar(-0.5 / b)
}

/// `KL(q ‖ p) = Σ_j q_j (log q_j − log p_j)` of categorical distributions given as logs.
pub fn categorical_kl(log_q: Tensor<2>, log_p: Tensor<2>) -> Tensor<1> {
    (log_q.clone().exp() * (log_q - log_p)).sum()
}

/// Mean squared error over all elements.
pub fn mse(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// Centroid MSE (gCRL): `(1/G) Σ_g (mean_b ŷ − mean_b y)²`.
pub fn centroid_mse(predicted: Tensor<2>, observed: Tensor<2>) -> Tensor<1> {
    (predicted.mean_dim(0) - observed.mean_dim(0)).powi_scalar(2).mean()
}

/// The reference's biased multi-bandwidth MMD: bandwidths `sigma / 2^⌊k/2⌋ · 2^i`,
/// `K = Σ_i exp(−D / bwᵢ)` on squared distances, `mean K_XX + mean K_YY − 2 mean K_XY`
/// (diagonals included).
///
/// The reference pools `x` and `y` and takes all `2b × 2b` distances at once; the blocks are
/// computed apart here, so that no gradient is computed for the observed cells `y` (at Norman
/// size the pooled product and its backward pass were most of the MMD's cost).
pub fn mmd(x: Tensor<2>, y: Tensor<2>, sigma: f64, kernels: usize) -> Tensor<1> {
    let base = sigma / 2f64.powi((kernels / 2) as i32);
    let kernel_mean = |dist: Tensor<2>| {
        let mut k = dist.zeros_like();
        for i in 0..kernels {
            k = k + dist.clone().div_scalar(base * 2f64.powi(i as i32)).neg().exp();
        }
        k.mean()
    };
    let x_sq = x.clone().powi_scalar(2).sum_dim(1);
    let y_sq = y.clone().powi_scalar(2).sum_dim(1);
    let xx = kernel_mean(squared_distances(x.clone(), x_sq.clone(), x.clone(), x_sq.clone()));
    let yy = kernel_mean(squared_distances(y.clone(), y_sq.clone(), y.clone(), y_sq.clone()));
    let xy = kernel_mean(squared_distances(x, x_sq, y, y_sq));
    xx + yy - xy.mul_scalar(2.0)
}

/// Squared Euclidean distances between the rows of `a` and of `b`, given their squared norms
/// (`[n, 1]` and `[m, 1]`), clamped at 0 against rounding.
fn squared_distances(a: Tensor<2>, a_sq: Tensor<2>, b: Tensor<2>, b_sq: Tensor<2>) -> Tensor<2> {
    (a_sq + b_sq.transpose() - a.matmul(b.transpose()).mul_scalar(2.0)).clamp_min(0.0)
}

/// `1 − mean_k ρ(zₖ, tₖ)`: one minus the mean Pearson correlation of matching columns.
pub fn correlation_loss(z: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    let zc = z.clone() - z.mean_dim(0);
    let tc = t.clone() - t.mean_dim(0);
    let cov = (zc.clone() * tc.clone()).sum_dim(0);
    let norm = (zc.powi_scalar(2).sum_dim(0) * tc.powi_scalar(2).sum_dim(0)).add_scalar(1e-8).sqrt();
    (cov / norm).mean().neg().add_scalar(1.0)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::models::{from_matrix, to_matrix};

    fn device() -> Device {
        Device::flex()
    }

    fn tensor(rows: usize, cols: usize, v: &[f32]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), &device())
    }

    fn network(latent: usize, permutation: bool) -> Network {
        let shape =
            Shape { input: 3, hidden: 4, latent, targets: 2, genes: 3, permutation, target_encoder: !permutation };
        Network::new(shape, &mut ChaCha8Rng::seed_from_u64(5), &device())
    }

    #[test]
    fn causal_map_inverts_i_minus_b() {
        for d in [1, 2, 5, 9] {
            let net = network(d, false);
            let m = to_matrix(net.causal_map(None)).unwrap().mapv(f64::from);
            let b = to_matrix(net.adjacency()).unwrap().mapv(f64::from);
            let i_minus_b = ndarray::Array2::<f64>::eye(d) - &b;
            let product = i_minus_b.dot(&m);
            for ((i, j), v) in product.indexed_iter() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-5, "d = {d}: (I − B) M [{i},{j}] = {v}");
            }
            assert!(b.indexed_iter().all(|((i, j), v)| j > i || *v == 0.0), "B is strictly upper triangular");
        }
    }

    #[test]
    fn causal_map_gradient_is_the_inverses() {
        // L = Σ W ⊙ M with M = (I − B)⁻¹: dL/dB = Mᵀ W Mᵀ, and G only reaches B above the diagonal.
        let device = crate::models::train_device(None).unwrap();
        let d = 6;
        let shape =
            Shape { input: 3, hidden: 4, latent: d, targets: 2, genes: 3, permutation: false, target_encoder: true };
        let net = Network::new(shape, &mut ChaCha8Rng::seed_from_u64(8), &device);
        let w: Vec<f32> = (0..d * d).map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0).collect();
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [d, d]), &device);
        let map = net.causal_map(None);
        let m = to_matrix(map.clone().inner()).unwrap().mapv(f64::from);
        let grads = (map * wt).sum().backward();
        let got = to_matrix(net.dag.val().grad(&grads).unwrap()).unwrap();
        let w = ndarray::Array2::from_shape_vec((d, d), w).unwrap().mapv(f64::from);
        let want = m.t().dot(&w).dot(&m.t());
        for ((i, j), g) in got.indexed_iter() {
            let expected = if j > i { want[[i, j]] } else { 0.0 };
            assert!((f64::from(*g) - expected).abs() < 1e-4, "dL/dG[{i},{j}] = {g}, want {expected}");
        }
        assert!(want.iter().filter(|v| v.abs() > 0.1).count() > d, "a gradient that could be wrong");
    }

    #[test]
    fn permuted_causal_map_is_the_inverse_of_the_permuted_dag() {
        let net = network(3, true);
        // π = (2, 0, 1): community k → latent π[k]; P[k, π(k)] = 1.
        let p = tensor(3, 3, &[0., 0., 1., 1., 0., 0., 0., 1., 0.]);
        let m = to_matrix(net.causal_map(Some(&p))).unwrap().mapv(f64::from);
        let pm = to_matrix(p.clone()).unwrap().mapv(f64::from);
        let b = to_matrix(net.adjacency()).unwrap().mapv(f64::from);
        let b_pi = pm.t().dot(&b).dot(&pm);
        let product = (ndarray::Array2::<f64>::eye(3) - &b_pi).dot(&m);
        assert!(product.indexed_iter().all(|((i, j), v)| (v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5));
        // Latent π[0] = 2 comes first in the causal order: it has no parents.
        assert!(b_pi.column(2).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn sinkhorn_is_doubly_stochastic_and_sharpens_with_temperature() {
        let net = network(4, true);
        for temp in [1.0, 5.0] {
            let p = to_matrix(net.log_soft_permutation(temp, 50).unwrap().exp()).unwrap();
            for s in p.rows().into_iter().map(|r| r.sum()).chain(p.columns().into_iter().map(|c| c.sum())) {
                assert!((s - 1.0).abs() < 1e-4, "sum {s}");
            }
        }
        // S = I: Sinkhorn(I·t) has diagonal e^t / (e^t + d − 1).
        let p1 = to_matrix(net.log_soft_permutation(1.0, 50).unwrap().exp()).unwrap();
        let e = std::f32::consts::E;
        assert!((p1[[0, 0]] - e / (e + 3.0)).abs() < 1e-5);
        let p5 = to_matrix(net.log_soft_permutation(5.0, 50).unwrap().exp()).unwrap();
        assert!(p5[[2, 2]] > 0.95);
    }

    #[test]
    fn loss_terms_match_hand_values() {
        // KL of N(μ, var) against N(0, 1) per cell: ½(var + μ² − 1 − ln var); two cells, d = 1.
        let kl = kl_divergence(tensor(2, 1, &[0.0, 1.0]), tensor(2, 1, &[1.0, 2.0])).into_scalar::<f32>();
        let want = 0.5 * (2.0 + 1.0 - 1.0 - 2f32.ln()) / 2.0;
        assert!((kl - want).abs() < 1e-6, "{kl} vs {want}");
        // centroids (1, 2) and (2, 4): ((1)² + (2)²) / 2
        let a = tensor(2, 2, &[0.0, 1.0, 2.0, 3.0]);
        let b = tensor(2, 2, &[2.0, 4.0, 2.0, 4.0]);
        assert_eq!(centroid_mse(a.clone(), b.clone()).into_scalar::<f32>(), 2.5);
        assert_eq!(mse(a.clone(), b.clone()).into_scalar::<f32>(), (4.0 + 9.0 + 0.0 + 1.0) / 4.0);
        assert!(mmd(a.clone(), a.clone(), 1000.0, 10).into_scalar::<f32>().abs() < 1e-5);
        // One cell each at distance² D = 1: MMD = 2 Σᵢ (1 − exp(−1/bwᵢ)), bw = 31.25 · 2^i.
        let x = tensor(1, 1, &[0.0]);
        let y = tensor(1, 1, &[1.0]);
        let want: f64 = (0..10).map(|i| 2.0 * (1.0 - (-1.0 / (31.25 * 2f64.powi(i))).exp())).sum();
        let got = f64::from(mmd(x, y, 1000.0, 10).into_scalar::<f32>());
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        // Three against two cells in 2-d, against the definition summed pair by pair.
        let (xs, ys) = ([[0.0, 1.0], [2.0, -1.0], [0.5, 3.0]], [[1.0, 1.0], [-2.0, 0.0]]);
        let k = |a: [f64; 2], b: [f64; 2]| {
            let d = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
            (0..4).map(|i| (-d / (0.5 * 2f64.powi(i))).exp()).sum::<f64>()
        };
        let mean = |a: &[[f64; 2]], b: &[[f64; 2]]| {
            a.iter().flat_map(|&p| b.iter().map(move |&q| k(p, q))).sum::<f64>() / (a.len() * b.len()) as f64
        };
        let want = mean(&xs, &xs) + mean(&ys, &ys) - 2.0 * mean(&xs, &ys);
        let flat = |m: &[[f64; 2]]| m.iter().flatten().map(|&v| v as f32).collect::<Vec<f32>>();
        let got = mmd(tensor(3, 2, &flat(&xs)), tensor(2, 2, &flat(&ys)), 2.0, 4).into_scalar::<f32>();
        assert!((f64::from(got) - want).abs() < 1e-5, "{got} vs {want}");
        // KL((½, ½) ‖ (¼, ¾)) = ½ ln 2 + ½ ln(2/3); KL(q ‖ q) = 0.
        let (q, p) = (tensor(1, 2, &[0.5f32.ln(), 0.5f32.ln()]), tensor(1, 2, &[0.25f32.ln(), 0.75f32.ln()]));
        let want = 0.5 * 2f32.ln() + 0.5 * (2.0f32 / 3.0).ln();
        assert!((categorical_kl(q.clone(), p).into_scalar::<f32>() - want).abs() < 1e-6);
        assert!(categorical_kl(q.clone(), q).into_scalar::<f32>().abs() < 1e-7);
        // Perfectly correlated columns (one of them negatively): 1 − (1 − 1)/2 = 1.
        let z = tensor(3, 2, &[1.0, 1.0, 2.0, 2.0, 4.0, 3.0]);
        let t = tensor(3, 2, &[2.0, -1.0, 4.0, -2.0, 8.0, -3.0]);
        assert!((correlation_loss(z.clone(), t).into_scalar::<f32>() - 1.0).abs() < 1e-5);
        assert!(correlation_loss(z.clone(), z).into_scalar::<f32>().abs() < 1e-5);
    }

    #[test]
    fn shift_moves_only_the_counterfactual() {
        let net = network(2, false);
        let x = from_matrix(ndarray::array![[0.5f32, 1.0, 0.0]].view(), &device());
        let noise = tensor(1, 2, &[0.0, 0.0]);
        let none = Intervention { weights: vec![], strengths: vec![] };
        let weights = vec![net.encoder_weights(0, 2, 1.0).unwrap()];
        let shifted = Intervention { weights, strengths: vec![tensor(1, 1, &[3.0])] };
        let a = net.forward(x.clone(), noise.clone(), &none, net.causal_map(None));
        let b = net.forward(x, noise, &shifted, net.causal_map(None));
        let (ra, ca) = (to_matrix(a.reconstruction).unwrap(), to_matrix(a.counterfactual).unwrap());
        let close =
            |x: &ndarray::Array2<f32>, y: &ndarray::Array2<f32>| x.iter().zip(y).all(|(a, b)| (a - b).abs() < 1e-6);
        assert!(close(&ra, &ca), "without intervention both outputs agree");
        assert!(close(&ra, &to_matrix(b.reconstruction).unwrap()));
        assert!(!close(&ca, &to_matrix(b.counterfactual).unwrap()), "the shift changes the counterfactual");
    }
}
