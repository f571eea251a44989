//! Training of a [`Network`] and what a trained one answers: latents, the DAG, the target →
//! latent assignment, predicted centroids of (unseen) combinations, and the weights.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::batches::{epoch_batches, pair_controls};
use super::network::{Forward, Intervention, Network, Shape};
use super::network::{categorical_kl, centroid_mse, correlation_loss, kl_divergence, mmd, mse};
use super::{Matching, Routing, Schedule, Sparsity, VaeModel};
use crate::algo::partition::hungarian_max;
use crate::algo::random::normal;
use crate::algo::sparse::Csr;
use crate::models::{Adam, ModelError, from_matrix, to_matrix};

/// Stream ids of the seeded ChaCha8 generator, one per use, so that changing one use (say the
/// number of prediction cells) leaves every other draw unchanged; predictions take
/// `STREAM_PREDICT + key`.
const STREAM_INIT: u64 = 1;
const STREAM_PAIRING: u64 = 2;
const STREAM_BATCHES: u64 = 3;
const STREAM_NOISE: u64 = 4;
const STREAM_PREDICT: u64 = 5;

/// Rows encoded or decoded at once outside training.
const CHUNK: usize = 1024;

/// Everything a training needs besides the data.
#[derive(Debug, Clone)]
pub struct VaeConfig {
    /// Which model.
    pub model: VaeModel,
    /// Latent dimension d (k + 1, or the number of training targets for d-VAE).
    pub latent: usize,
    /// Hidden width of every block (reference: 128).
    pub hidden: usize,
    /// Cells per batch (reference: 32).
    pub batch_size: usize,
    /// Adam learning rate (reference: 1e-3).
    pub learning_rate: f64,
    /// Epochs and the ramps of the loss weights.
    pub schedule: Schedule,
    /// Centroid MSE or MMD.
    pub matching: Matching,
    /// L1 coefficient λ (reference: 1e-3).
    pub l1: f64,
    /// What the L1 penalty applies to.
    pub sparsity: Sparsity,
    /// Sinkhorn normalisations of the soft permutation (gCRL-VAE).
    pub sinkhorn_iterations: usize,
    /// How gCRL-VAE assigns targets to latents (ignored by the other models).
    pub routing: Routing,
    /// Keep the epoch with the lowest unweighted loss sum (the reference's best checkpoint)
    /// instead of the last one.
    pub keep_best: bool,
    /// Master seed.
    pub seed: u64,
}

/// The cells a model trains on and predicts from. Row indices refer to `genes`.
#[derive(Debug, Clone, Copy)]
pub struct VaeData<'a> {
    /// Every cell in the gene space: the decoder's target, and the encoder's input except in
    /// gCRL-VAE.
    pub genes: &'a Csr,
    /// gCRL-VAE: the encoder input (z-scored TF expression) of every cell.
    pub tf_input: Option<ArrayView2<'a, f32>>,
    /// gCRL-VAE: the TF activities (k communities, then the global one) of every cell.
    pub tfa: Option<ArrayView2<'a, f32>>,
    /// Number of perturbation targets C.
    pub targets: usize,
    /// gCRL-VAE: the community row of `P` that routes each target (k = the global activity).
    pub routes: Option<&'a [usize]>,
    /// Rows of the control cells used for pairing and for predictions.
    pub controls: &'a [usize],
    /// Training perturbed cells: `(row, target)`.
    pub singles: &'a [(usize, usize)],
}

/// Epoch averages of the loss terms (unweighted) and the weights in force.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochLog {
    /// Epoch index from 0.
    pub epoch: usize,
    /// Weighted total.
    pub loss: f64,
    /// MSE of the reconstructed controls.
    pub reconstruction: f64,
    /// Centroid MSE or MMD of the counterfactual cells.
    pub matching: f64,
    /// KL divergence.
    pub kl: f64,
    /// L1 penalty (times λ).
    pub l1: f64,
    /// Alignment loss `1 − mean ρ` (gCRL-VAE; 0 otherwise).
    pub align: f64,
    /// `KL(q_t ‖ P[route(t)])` of the encoder's assignment against π's (gCRL-VAE with prior
    /// routing, times its weight; 0 otherwise).
    pub prior: f64,
    /// Weights in force.
    pub weights: super::Weights,
}

/// Where a perturbation target acts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assignment {
    /// Target index.
    pub target: usize,
    /// Latent it shifts most.
    pub latent: usize,
    /// Its weight (softmax probability; 1 for the permutation route).
    pub weight: f64,
    /// gCRL-VAE: the latent `π(route(t))` that π assigns the target's community to (the
    /// assignment itself under hard routing, the prior's choice under prior routing).
    pub pi_latent: Option<usize>,
    /// Strength `c_shift` of the target.
    pub strength: f64,
}

/// A trained model on the inference device.
#[derive(Debug)]
pub struct TrainedVae {
    network: Network,
    device: Device,
    config: VaeConfig,
    /// Epoch averages.
    pub history: Vec<EpochLog>,
    /// The epoch whose weights were kept.
    pub kept_epoch: usize,
    /// gCRL-VAE: community → latent `π`, the Hungarian assignment maximising `Σ S[k, π(k)]`.
    pub permutation: Option<Vec<usize>>,
    /// gCRL-VAE: whether the row-wise argmax of `S` was not a permutation (so `π` came from the
    /// Hungarian assignment instead).
    pub argmax_conflict: bool,
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::Invalid(msg.into())
}

/// Dense rows of a CSR matrix.
fn dense_rows(m: &Csr, rows: &[usize]) -> Array2<f32> {
    let mut out = Array2::zeros((rows.len(), m.n_cols));
    for (i, &r) in rows.iter().enumerate() {
        let (idx, val) = m.row(r);
        for (&j, &v) in idx.iter().zip(val) {
            out[[i, j as usize]] = v;
        }
    }
    out
}

/// `[b, d]` standard normal noise from `rng`.
fn noise(rng: &mut ChaCha8Rng, b: usize, d: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..b * d).map(|_| normal(rng) as f32).collect();
    Tensor::from_data(TensorData::new(v, [b, d]), device)
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

impl VaeConfig {
    /// Whether targets shift rows of the permutation instead of the interventional encoder's
    /// choice (gCRL-VAE with hard routing).
    fn routes_by_pi(&self) -> bool {
        self.model == VaeModel::Gcrl && self.routing == Routing::Hard
    }
}

impl VaeData<'_> {
    /// The encoder input of `rows`.
    fn encoder_rows(&self, rows: &[usize]) -> Array2<f32> {
        match self.tf_input {
            Some(x) => x.select(Axis(0), rows),
            None => dense_rows(self.genes, rows),
        }
    }

    fn check(&self, config: &VaeConfig) -> Result<(), ModelError> {
        let n = self.genes.n_rows;
        if self.controls.is_empty() {
            return Err(invalid("no control cells to pair the perturbed cells with"));
        }
        if self.singles.is_empty() {
            return Err(invalid("no single-perturbation cells to train on"));
        }
        if self.controls.iter().chain(self.singles.iter().map(|(r, _)| r)).any(|&r| r >= n) {
            return Err(invalid("a training row is outside the expression matrix"));
        }
        if self.singles.iter().any(|&(_, t)| t >= self.targets) {
            return Err(invalid("a training cell names a target outside the target list"));
        }
        let gcrl = config.model == VaeModel::Gcrl;
        let d = config.latent;
        match (gcrl, self.tf_input, self.tfa, self.routes) {
            (true, Some(x), Some(t), Some(r)) => {
                if x.nrows() != n || t.nrows() != n {
                    return Err(invalid("the TF input and the TF activities need one row per cell"));
                }
                if t.ncols() != d {
                    return Err(invalid(format!("gCRL-VAE has d = {d} latents but {} TF activities", t.ncols())));
                }
                if r.len() != self.targets || r.iter().any(|&k| k >= d) {
                    return Err(invalid("every target needs a route to one of the d communities"));
                }
            }
            (true, ..) => return Err(invalid("gCRL-VAE needs the TF input, the TF activities and the routes")),
            (false, None, None, None) => {}
            (false, ..) => return Err(invalid("only gCRL-VAE takes TF input, activities or routes")),
        }
        if config.batch_size == 0 || d == 0 {
            return Err(invalid("batch size and latent dimension must be positive"));
        }
        Ok(())
    }
}

/// Trains a model of the discrepancy-VAE family.
///
/// # Arguments
/// * `config` — model, sizes, schedule, seed.
/// * `data` — cells; checked for consistency with `config`.
/// * `device` — a training device from [`crate::models::train_device`] (with autodiff).
///
/// # Returns
/// The trained model (best or last epoch) with its history. [`ModelError::Invalid`] for
/// inconsistent data, or when no target has a full batch of cells.
pub fn train(config: &VaeConfig, data: &VaeData, device: &Device) -> Result<TrainedVae, ModelError> {
    data.check(config)?;
    let d = config.latent;
    let shape = Shape {
        input: data.tf_input.map_or(data.genes.n_cols, |x| x.ncols()),
        hidden: config.hidden,
        latent: d,
        targets: data.targets,
        genes: data.genes.n_cols,
        permutation: config.model == VaeModel::Gcrl,
        target_encoder: !config.routes_by_pi(),
    };
    let mut network = Network::new(shape, &mut rng(config.seed, STREAM_INIT), device);
    let paired = pair_controls(data.singles.len(), data.controls, &mut rng(config.seed, STREAM_PAIRING));
    let mut groups = vec![Vec::new(); data.targets];
    for (pos, &(_, t)) in data.singles.iter().enumerate() {
        groups[t].push(pos);
    }
    let (mut batch_rng, mut noise_rng) = (rng(config.seed, STREAM_BATCHES), rng(config.seed, STREAM_NOISE));
    let mut optimizer = Adam::new(1e-8);
    let mut history = Vec::with_capacity(config.schedule.epochs);
    let mut kept = (network.valid(), 0usize, f64::INFINITY);
    for epoch in 0..config.schedule.epochs {
        let w = config.schedule.at(epoch);
        let batches = epoch_batches(&groups, config.batch_size, &mut batch_rng);
        if batches.is_empty() {
            return Err(invalid(format!(
                "no perturbation target has {} training cells (one full batch); lower `batch_size`",
                config.batch_size
            )));
        }
        let mut sums = [0f64; 7];
        for (t, positions) in &batches {
            let perturbed: Vec<usize> = positions.iter().map(|&p| data.singles[p].0).collect();
            let controls: Vec<usize> = positions.iter().map(|&p| paired[p]).collect();
            let x_genes = from_matrix(dense_rows(data.genes, &controls).view(), device);
            let x = match data.tf_input {
                Some(_) => from_matrix(data.encoder_rows(&controls).view(), device),
                None => x_genes.clone(),
            };
            let y = from_matrix(dense_rows(data.genes, &perturbed).view(), device);
            let eps = noise(&mut noise_rng, controls.len(), d, device);
            let log_p = network.log_soft_permutation(w.temp, config.sinkhorn_iterations);
            let p = log_p.clone().map(Tensor::exp);
            let intervention = intervention(&network, data, config, &[*t], p.as_ref(), w.temp);
            let map = network.causal_map(p.as_ref());
            let Forward { mean, var, reconstruction, counterfactual } = network.forward(x, eps, &intervention, map);
            let recon = mse(reconstruction, x_genes);
            let matching = match config.matching {
                Matching::Centroid => centroid_mse(counterfactual, y),
                Matching::Mmd { sigma, kernels } => mmd(counterfactual, y, sigma, kernels),
            };
            let l1 = match config.sparsity {
                Sparsity::Dag => network.dag_l1(),
                Sparsity::Decoder => network.decoder_l1(),
            }
            .mul_scalar(config.l1);
            let kl = kl_divergence(mean.clone(), var);
            let align = match (&p, data.tfa) {
                (Some(p), Some(tfa)) => {
                    let t = from_matrix(tfa.select(Axis(0), &controls).view(), device);
                    Some(correlation_loss(mean.matmul(p.clone().transpose()), t))
                }
                _ => None,
            };
            let prior = match (config.routing, log_p, data.routes) {
                (Routing::Prior { weight }, Some(log_p), Some(routes)) if config.model == VaeModel::Gcrl => {
                    let log_q = network
                        .encoder_log_weights(*t, data.targets, w.temp)
                        .expect("prior routing keeps the interventional encoder");
                    // π is the prior: the encoder is pulled towards it, not π towards the encoder.
                    let log_prior = log_p.slice([routes[*t]..routes[*t] + 1, 0..d]).detach();
                    Some(categorical_kl(log_q, log_prior).mul_scalar(weight))
                }
                _ => None,
            };
            let mut loss =
                matching.clone().mul_scalar(w.alpha) + recon.clone() + kl.clone().mul_scalar(w.beta) + l1.clone();
            if let Some(a) = &align {
                loss = loss + a.clone().mul_scalar(w.align);
            }
            if let Some(kl) = &prior {
                loss = loss + kl.clone();
            }
            let terms = [
                scalar(loss.clone()),
                scalar(recon),
                scalar(matching),
                scalar(kl),
                scalar(l1),
                align.map_or(0.0, scalar),
                prior.map_or(0.0, scalar),
            ];
            sums.iter_mut().zip(terms).for_each(|(s, v)| *s += v);
            let grads = GradientsParams::from_grads(loss.backward(), &network);
            network = optimizer.step(config.learning_rate, network, grads);
        }
        let n = batches.len() as f64;
        let [loss, reconstruction, matching, kl, l1, align, prior] = sums.map(|s| s / n);
        if !loss.is_finite() {
            return Err(invalid(format!("the loss diverged at epoch {epoch}; lower `learning_rate`")));
        }
        history.push(EpochLog { epoch, loss, reconstruction, matching, kl, l1, align, prior, weights: w });
        let unweighted = reconstruction + matching + kl + l1 + align + prior;
        if !config.keep_best || unweighted < kept.2 {
            kept = (network.valid(), epoch, unweighted);
        }
    }
    let inference = device.clone().inner();
    let (network, kept_epoch, _) = kept;
    let (permutation, argmax_conflict) = match network.scores() {
        Some(s) => {
            let s = to_matrix(s)?.mapv(f64::from);
            let pi: Vec<usize> = hungarian_max(s.view())
                .map_err(|e| invalid(e.to_string()))?
                .into_iter()
                .map(|c| c.unwrap_or(0))
                .collect();
            let argmax: Vec<usize> = s
                .rows()
                .into_iter()
                .map(|r| (0..r.len()).fold(0, |best, j| if r[j] > r[best] { j } else { best }))
                .collect();
            let conflict = argmax != pi;
            (Some(pi), conflict)
        }
        None => (None, false),
    };
    Ok(TrainedVae {
        network,
        device: inference,
        config: config.clone(),
        history,
        kept_epoch,
        permutation,
        argmax_conflict,
    })
}

/// The shifts of a batch intervened on at `targets`: target weights from the permutation matrix
/// `p` (gCRL-VAE, hard routing) or the interventional encoder, with each target's strength.
fn intervention(
    network: &Network,
    data: &VaeData,
    config: &VaeConfig,
    targets: &[usize],
    p: Option<&Tensor<2>>,
    temp: f64,
) -> Intervention {
    let d = config.latent;
    let weights = targets
        .iter()
        .map(|&t| match (p, data.routes) {
            (Some(p), Some(routes)) if config.routes_by_pi() => p.clone().slice([routes[t]..routes[t] + 1, 0..d]),
            _ => network
                .encoder_weights(t, data.targets, temp)
                .expect("the interventional encoder exists unless gCRL-VAE routes by π"),
        })
        .collect();
    let strengths = targets.iter().map(|&t| network.strength(t)).collect();
    Intervention { weights, strengths }
}

impl TrainedVae {
    /// The hard community → latent matrix `P[k, π(k)] = 1` (gCRL-VAE).
    fn hard_permutation(&self) -> Option<Tensor<2>> {
        let pi = self.permutation.as_ref()?;
        let d = pi.len();
        let mut m = vec![0f32; d * d];
        for (k, &j) in pi.iter().enumerate() {
            m[k * d + j] = 1.0;
        }
        Some(Tensor::from_data(TensorData::new(m, [d, d]), &self.device))
    }

    /// The latent dimension d.
    pub fn latent_dim(&self) -> usize {
        self.config.latent
    }

    /// Evaluation temperature: the final training temperature.
    fn eval_temp(&self) -> f64 {
        self.config.schedule.temp_max
    }

    /// Posterior means (`n × d`) of every cell of `data`.
    pub fn latent(&self, data: &VaeData) -> Result<Array2<f32>, ModelError> {
        let n = data.genes.n_rows;
        let mut out = Array2::zeros((n, self.config.latent));
        for start in (0..n).step_by(CHUNK) {
            let rows: Vec<usize> = (start..(start + CHUNK).min(n)).collect();
            let (mean, _) = self.network.encode(from_matrix(data.encoder_rows(&rows).view(), &self.device));
            out.slice_mut(ndarray::s![start..start + rows.len(), ..]).assign(&to_matrix(mean)?);
        }
        Ok(out)
    }

    /// The predicted centroid (gene space) of the combination `targets` (empty: no
    /// intervention, the model's control): `n` cells, each
    /// generated from a control drawn uniformly with replacement, with noise as in training and
    /// all shifts added before the causal layer; at the final temperature and the hard `π`.
    /// `key` selects the random stream (e.g. the condition's position), so conditions are
    /// independent of each other and of their order.
    pub fn predict(&self, data: &VaeData, targets: &[usize], n: usize, key: u64) -> Result<Array1<f64>, ModelError> {
        if n == 0 || targets.iter().any(|&t| t >= data.targets) {
            return Err(invalid("a prediction needs cells and known targets"));
        }
        let mut r = rng(self.config.seed, STREAM_PREDICT + key);
        let p = self.hard_permutation();
        let intervention = intervention(&self.network, data, &self.config, targets, p.as_ref(), self.eval_temp());
        let map = self.network.causal_map(p.as_ref());
        let mut sum = Array1::<f64>::zeros(data.genes.n_cols);
        let mut left = n;
        while left > 0 {
            let b = left.min(CHUNK);
            left -= b;
            let rows: Vec<usize> = (0..b).map(|_| data.controls[r.random_range(0..data.controls.len())]).collect();
            let x = from_matrix(data.encoder_rows(&rows).view(), &self.device);
            let eps = noise(&mut r, b, self.config.latent, &self.device);
            let out = self.network.forward(x, eps, &intervention, map.clone());
            let cells = to_matrix(out.counterfactual)?;
            sum += &cells.mapv(f64::from).sum_axis(Axis(0));
        }
        Ok(sum / n as f64)
    }

    /// The learned DAG over latents (`d × d`, `[i, j]` = effect of latent i on latent j):
    /// `triu(G, 1)`, or `PᵀBP` with the hard `π` in gCRL-VAE.
    pub fn dag(&self) -> Result<Array2<f32>, ModelError> {
        let b = self.network.adjacency();
        let b = match self.hard_permutation() {
            Some(p) => p.clone().transpose().matmul(b).matmul(p),
            None => b,
        };
        to_matrix(b)
    }

    /// Where each target acts: `π` of its route (gCRL-VAE, hard routing) or the interventional
    /// encoder's most probable latent at the final temperature.
    pub fn assignment(&self, data: &VaeData) -> Result<Vec<Assignment>, ModelError> {
        (0..data.targets)
            .map(|t| {
                let strength = f64::from(self.network.strength(t).into_scalar::<f32>());
                let pi_latent = match (&self.permutation, data.routes) {
                    (Some(pi), Some(routes)) => Some(pi[routes[t]]),
                    _ => None,
                };
                let (latent, weight) = match pi_latent {
                    Some(latent) if self.config.routes_by_pi() => (latent, 1.0),
                    _ => {
                        let w = self
                            .network
                            .encoder_weights(t, data.targets, self.eval_temp())
                            .ok_or_else(|| invalid("no interventional encoder"))?;
                        let w = to_matrix(w)?;
                        let row = w.row(0);
                        let j = (0..row.len()).fold(0, |best, j| if row[j] > row[best] { j } else { best });
                        (j, f64::from(row[j]))
                    }
                };
                Ok(Assignment { target: t, latent, weight, pi_latent, strength })
            })
            .collect()
    }

    /// Every parameter as a named matrix (vectors as one row).
    pub fn parameters(&self) -> Result<Vec<(String, Array2<f32>)>, ModelError> {
        self.network.parameters().into_iter().map(|(name, t)| Ok((name, to_matrix(t)?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::train_device;

    /// 200 controls around 1 on six genes; target 0 (A) raises gene 0 by 2, target 1 (B) gene 3;
    /// 96 cells of A, 96 of B, and rows for the unseen double A+B are never trained on.
    fn screen() -> (Csr, Vec<usize>, Vec<(usize, usize)>) {
        let mut r = ChaCha8Rng::seed_from_u64(9);
        let mut dense = Array2::<f32>::zeros((392, 6));
        let mut singles = Vec::new();
        for (i, mut row) in dense.rows_mut().into_iter().enumerate() {
            row.iter_mut().for_each(|v| *v = (1.0 + 0.1 * normal(&mut r)) as f32);
            if (200..296).contains(&i) {
                row[0] += 2.0;
                singles.push((i, 0));
            } else if i >= 296 {
                row[3] += 2.0;
                singles.push((i, 1));
            }
        }
        (Csr::from_dense(&dense.view()).unwrap(), (0..200).collect(), singles)
    }

    fn config(model: VaeModel, latent: usize, epochs: usize) -> VaeConfig {
        VaeConfig {
            model,
            latent,
            hidden: 16,
            batch_size: 32,
            learning_rate: 1e-2,
            schedule: Schedule {
                epochs,
                alpha_max: 20.0,
                alpha_start: 1,
                alpha_end: epochs / 2,
                beta_max: 0.1,
                beta_start: Some(2),
                temp_max: 5.0,
                temp_start: 1,
                align_max: 1.0,
            },
            matching: Matching::Centroid,
            l1: 1e-3,
            sparsity: Sparsity::Dag,
            sinkhorn_iterations: 20,
            routing: Routing::Hard,
            keep_best: false,
            seed: 3,
        }
    }

    /// The screen for the gene-encoder models (d-VAE, id-VAE): two targets, no TF inputs.
    fn gene_data<'a>(genes: &'a Csr, controls: &'a [usize], singles: &'a [(usize, usize)]) -> VaeData<'a> {
        VaeData { genes, tf_input: None, tfa: None, targets: 2, routes: None, controls, singles }
    }

    #[test]
    fn d_vae_predicts_an_unseen_double_better_than_the_controls() {
        let (genes, controls, singles) = screen();
        let data = gene_data(&genes, &controls, &singles);
        let trained = train(&config(VaeModel::Discrepancy, 2, 40), &data, &train_device(None).unwrap()).unwrap();
        let first = trained.history[0].reconstruction;
        let last = trained.history.last().unwrap().reconstruction;
        assert!(last < 0.5 * first, "reconstruction {first} → {last}");
        let truth = ndarray::array![3.0, 1.0, 1.0, 3.0, 1.0, 1.0];
        let control = ndarray::array![1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let predicted = trained.predict(&data, &[0, 1], 500, 0).unwrap();
        let dist = |a: &Array1<f64>| (a - &truth).mapv(|v| v * v).sum().sqrt();
        assert!(dist(&predicted) < 0.5 * dist(&control), "predicted {predicted} vs truth {truth}");
        let a = trained.assignment(&data).unwrap();
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn training_gives_the_same_bytes_on_one_and_two_threads() {
        let (genes, controls, singles) = screen();
        let data = gene_data(&genes, &controls, &singles);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let t = train(&config(VaeModel::Discrepancy, 2, 3), &data, &train_device(None).unwrap()).unwrap();
                (t.history.clone(), t.predict(&data, &[0, 1], 100, 1).unwrap(), t.latent(&data).unwrap())
            })
        };
        assert_eq!(run(1), run(2));
    }

    /// gCRL-VAE's extra inputs on [`screen`]: "TFs" = genes 0 and 3, two communities (gene 0,
    /// gene 3) and a global activity; target A routes to community 0, B to community 1.
    fn tf_inputs(genes: &Csr) -> (Array2<f32>, Array2<f32>) {
        let dense = genes.to_dense();
        let tf_input = dense.select(Axis(1), &[0, 3]);
        let mut tfa = Array2::<f32>::zeros((genes.n_rows, 3));
        tfa.column_mut(0).assign(&dense.column(0));
        tfa.column_mut(1).assign(&dense.column(3));
        tfa.column_mut(2).assign(&(&dense.column(0) + &dense.column(3)));
        (tf_input, tfa)
    }

    /// gCRL-VAE's view of [`screen`] with the inputs of [`tf_inputs`] and `routes`.
    fn tf_data<'a>(
        genes: &'a Csr,
        tf_input: &'a Array2<f32>,
        tfa: &'a Array2<f32>,
        routes: &'a [usize],
        controls: &'a [usize],
        singles: &'a [(usize, usize)],
    ) -> VaeData<'a> {
        let (tf_input, tfa) = (Some(tf_input.view()), Some(tfa.view()));
        VaeData { genes, tf_input, tfa, targets: 2, routes: Some(routes), controls, singles }
    }

    #[test]
    fn gcrl_vae_routes_by_the_permutation_and_checks_its_inputs() {
        let (genes, controls, singles) = screen();
        let (tf_input, tfa) = tf_inputs(&genes);
        let routes = [0, 1];
        let data = tf_data(&genes, &tf_input, &tfa, &routes, &controls, &singles);
        let device = train_device(None).unwrap();
        let trained = train(&config(VaeModel::Gcrl, 3, 6), &data, &device).unwrap();
        let pi = trained.permutation.clone().unwrap();
        let mut sorted = pi.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2], "π is a permutation");
        let a = trained.assignment(&data).unwrap();
        assert_eq!((a[0].latent, a[1].latent), (pi[0], pi[1]));
        assert_eq!((a[0].pi_latent, a[0].weight), (Some(pi[0]), 1.0));
        assert!(trained.history.iter().all(|h| h.align >= 0.0 && h.align <= 2.0 && h.prior == 0.0));
        let names: Vec<String> = trained.parameters().unwrap().into_iter().map(|(n, _)| n).collect();
        assert!(!names.iter().any(|n| n.starts_with("target_encoder")), "hard routing has no encoder");
        let no_tfa = VaeData { tfa: None, ..data };
        assert!(train(&config(VaeModel::Gcrl, 3, 1), &no_tfa, &device).is_err());
        let plain = VaeData { tf_input: None, tfa: None, routes: None, ..data };
        assert!(train(&config(VaeModel::Gcrl, 3, 1), &plain, &device).is_err());
        assert!(train(&config(VaeModel::Informed, 3, 1), &data, &device).is_err());
    }

    #[test]
    fn prior_routing_keeps_the_encoder_and_pulls_it_towards_pi() {
        let (genes, controls, singles) = screen();
        let (tf_input, tfa) = tf_inputs(&genes);
        let routes = [0, 1];
        let data = tf_data(&genes, &tf_input, &tfa, &routes, &controls, &singles);
        let device = train_device(None).unwrap();
        let run = |weight: f64| {
            let config = VaeConfig { routing: Routing::Prior { weight }, ..config(VaeModel::Gcrl, 3, 30) };
            train(&config, &data, &device).unwrap()
        };
        let trained = run(5.0);
        let names: Vec<String> = trained.parameters().unwrap().into_iter().map(|(n, _)| n).collect();
        assert!(names.iter().any(|n| n == "target_encoder.out.weight"), "{names:?}");
        let (first, last) = (trained.history[0].prior, trained.history.last().unwrap().prior);
        assert!(first > 0.0 && last < 0.5 * first, "KL to the prior {first} → {last}");
        let pi = trained.permutation.clone().unwrap();
        for a in trained.assignment(&data).unwrap() {
            assert_eq!(a.pi_latent, Some(pi[routes[a.target]]));
            assert_eq!(Some(a.latent), a.pi_latent, "a strong prior: the encoder follows π");
            assert!(a.weight > 0.5 && a.weight < 1.0, "an encoder probability, not π's 1: {}", a.weight);
        }
        // The logged term is the weighted one: at weight 0 it vanishes.
        assert!(run(0.0).history.iter().all(|h| h.prior == 0.0));
    }
}
