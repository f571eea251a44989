//! The gCRL autoencoder (method.md §6.1): TF expression → `Linear(T → h)` → ReLU →
//! `Linear(h → d)` latent; the decoder is a quadratic polynomial of the latent (the `d` linear
//! terms and every product `z_i z_j`, `i ≤ j`) followed by `Linear(→ G)` to the GRN's genes.
//! Trained by Adam on the mean squared error; the epoch with the lowest validation loss is kept.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{Adam, ModelError, from_matrix, seeded_linear, to_matrix, train_device};

/// Sizes and optimiser settings of one training.
#[derive(Debug, Clone)]
pub struct AeConfig {
    /// Latent dimension `d` (communities + 1).
    pub latent: usize,
    /// Hidden width of the encoder.
    pub hidden: usize,
    /// Passes over the training cells.
    pub epochs: usize,
    /// Cells per Adam step.
    pub batch: usize,
    /// Adam step size.
    pub lr: f64,
    /// Seed of the initial weights and the batch order.
    pub seed: u64,
    /// GPU ordinal, when the task was given one.
    pub gpu: Option<usize>,
}

/// The network.
#[derive(Module, Debug)]
pub struct QuadraticAe {
    encoder_hidden: Linear,
    encoder_out: Linear,
    decoder: Linear,
    /// Flat indices `i·d + j` (`i ≤ j`) of the pairwise products in the `d × d` outer product.
    pairs: Tensor<1, Int>,
}

/// Number of decoder features for latent dimension `d`: `d + d(d+1)/2`.
pub fn quadratic_features(d: usize) -> usize {
    d + d * (d + 1) / 2
}

impl QuadraticAe {
    fn new(rng: &mut ChaCha8Rng, inputs: usize, hidden: usize, latent: usize, outputs: usize, device: &Device) -> Self {
        let pairs: Vec<i64> = (0..latent).flat_map(|i| (i..latent).map(move |j| (i * latent + j) as i64)).collect();
        let n_pairs = pairs.len();
        QuadraticAe {
            encoder_hidden: seeded_linear(rng, inputs, hidden, device),
            encoder_out: seeded_linear(rng, hidden, latent, device),
            decoder: seeded_linear(rng, quadratic_features(latent), outputs, device),
            pairs: Tensor::from_data(TensorData::new(pairs, [n_pairs]), device),
        }
    }

    /// The latent of each row of `x`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.encoder_out.forward(relu(self.encoder_hidden.forward(x)))
    }

    /// `[z, z_i z_j for i ≤ j]` mapped linearly to the genes.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let [batch, d] = z.dims();
        let outer = z.clone().unsqueeze_dim::<3>(2) * z.clone().unsqueeze_dim::<3>(1);
        let products = outer.reshape([batch, d * d]).select(1, self.pairs.clone());
        self.decoder.forward(Tensor::cat(vec![z, products], 1))
    }

    fn loss(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        (self.decode(self.encode(x)) - y).square().mean()
    }

    /// The squared error of the rows `x → y` divided by `denominator`: one part's share of the
    /// mean squared error of a batch split into parts.
    fn loss_share(&self, x: Tensor<2>, y: Tensor<2>, denominator: usize) -> Tensor<1> {
        (self.decode(self.encode(x)) - y).square().sum().div_scalar(denominator as f32)
    }
}

/// A batch's loss and the gradients of its halves.
struct BatchGradients {
    loss: f64,
    parts: Vec<GradientsParams>,
}

/// Where a training reads its cells: the host matrices, each batch copied to the device, or on a
/// GPU copies uploaded once, each batch gathered there (no host copy per step).
enum Cells<'a> {
    Host(ArrayView2<'a, f32>, ArrayView2<'a, f32>),
    Device(Tensor<2>, Tensor<2>),
}

impl Cells<'_> {
    /// The inputs and targets of rows `idx`, on `device`.
    fn batch(&self, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<2>) {
        match self {
            Cells::Host(x, y) => (rows(*x, idx, device), rows(*y, idx, device)),
            Cells::Device(x, y) => {
                let idx = Tensor::<1, Int>::from_data(
                    TensorData::new(idx.iter().map(|&i| i as i64).collect(), [idx.len()]),
                    device,
                );
                (x.clone().select(0, idx.clone()), y.clone().select(0, idx))
            }
        }
    }
}

/// The loss and gradients of one batch, its two halves computed side by side (on a GPU, the
/// whole batch at once: the GPU is parallel within an operation, and a part is a sync).
///
/// burn-flex runs only large matrix products on several threads; every other operation of a
/// step (bias, ReLU, products, the error and its backward pass) runs on one, so on 2 cores a
/// step used 1.1 of them (2026-12-02) and PyTorch was 1.65× faster. Each half runs on its own
/// detached copy of the weights, so the two autodiff graphs share nothing, and the halves'
/// gradients are summed in a fixed order by the optimizer. Always two halves, however many
/// threads: the same bytes for any thread count.
fn batch_gradients(model: &QuadraticAe, cells: &Cells, batch: &[usize], device: &Device) -> BatchGradients {
    let part = |idx: &[usize]| {
        let copy = model.clone().map(&mut Detach);
        let (x, y) = cells.batch(idx, device);
        let denominator = batch.len() * y.dims()[1];
        let loss = copy.loss_share(x, y, denominator);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        (value, GradientsParams::from_grads(loss.backward(), &copy))
    };
    let (first, second) = batch.split_at(batch.len().div_ceil(2));
    if second.is_empty() || matches!(cells, Cells::Device(..)) {
        let (loss, grads) = part(batch);
        return BatchGradients { loss, parts: vec![grads] };
    }
    let ((loss_a, grads_a), (loss_b, grads_b)) = rayon::join(|| part(first), || part(second));
    BatchGradients { loss: loss_a + loss_b, parts: vec![grads_a, grads_b] }
}

/// Makes every parameter a fresh autodiff leaf with the same values and id.
struct Detach;

impl ModuleMapper for Detach {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.detach().require_grad(), mapper)
    }
}

/// One epoch's losses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochLoss {
    /// Mean squared error over the training cells (mean of the batch losses, weighted by size).
    pub train: f64,
    /// Mean squared error over the validation cells (NaN without validation cells).
    pub validation: f64,
}

/// A trained autoencoder and what its training did.
#[derive(Debug)]
pub struct TrainedAe {
    /// The weights of the kept epoch.
    pub model: QuadraticAe,
    /// Per epoch losses.
    pub history: Vec<EpochLoss>,
    /// Index of the kept epoch.
    pub best_epoch: usize,
}

fn rows(m: ArrayView2<f32>, idx: &[usize], device: &Device) -> Tensor<2> {
    from_matrix(m.select(Axis(0), idx).view(), device)
}

fn check(x: ArrayView2<f32>, y: ArrayView2<f32>, train_rows: &[usize], cfg: &AeConfig) -> Result<(), ModelError> {
    if x.nrows() != y.nrows() {
        return Err(ModelError::Invalid(format!("{} input rows but {} target rows", x.nrows(), y.nrows())));
    }
    if cfg.latent == 0 || cfg.hidden == 0 || cfg.batch == 0 || x.ncols() == 0 || y.ncols() == 0 {
        return Err(ModelError::Invalid("the autoencoder needs inputs, targets, a latent and a hidden layer".into()));
    }
    if train_rows.is_empty() {
        return Err(ModelError::Invalid("no cells to train on".into()));
    }
    if let Some(v) = x.iter().chain(y.iter()).find(|v| !v.is_finite()) {
        return Err(ModelError::Invalid(format!("the training data hold {v}")));
    }
    Ok(())
}

/// Trains the autoencoder from TF inputs `x` (cells × T) to gene targets `y` (cells × G) on the
/// rows `train_rows`, choosing the epoch by the loss on `validation_rows` (by the training loss
/// when there are none).
///
/// Deterministic for a seed: the initial weights and every batch order come from one ChaCha8
/// stream.
pub fn train(
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    train_rows: &[usize],
    validation_rows: &[usize],
    cfg: &AeConfig,
) -> Result<TrainedAe, ModelError> {
    check(x, y, train_rows, cfg)?;
    let device = train_device(cfg.gpu)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut train_rows = train_rows.to_vec();
    let mut model = QuadraticAe::new(&mut rng, x.ncols(), cfg.hidden, cfg.latent, y.ncols(), &device);
    let mut optim = Adam::new(1e-8);
    let inner = device.clone().inner();
    let val_x = (!validation_rows.is_empty()).then(|| rows(x, validation_rows, &inner));
    let val_y = (!validation_rows.is_empty()).then(|| rows(y, validation_rows, &inner));
    let cells = match cfg.gpu {
        None => Cells::Host(x.view(), y.view()),
        Some(_) => Cells::Device(from_matrix(x, &device), from_matrix(y, &device)),
    };
    let (mut history, mut best) = (Vec::with_capacity(cfg.epochs), None::<(f64, usize, QuadraticAe)>);
    for epoch in 0..cfg.epochs {
        train_rows.shuffle(&mut rng);
        let mut sum = 0.0;
        for chunk in train_rows.chunks(cfg.batch) {
            let step = batch_gradients(&model, &cells, chunk, &device);
            sum += step.loss * chunk.len() as f64;
            model = optim.step_summed(cfg.lr, model, step.parts);
        }
        let train_loss = sum / train_rows.len() as f64;
        let validation = match (&val_x, &val_y) {
            (Some(vx), Some(vy)) => f64::from(model.valid().loss(vx.clone(), vy.clone()).into_scalar::<f32>()),
            _ => f64::NAN,
        };
        history.push(EpochLoss { train: train_loss, validation });
        let score = if validation.is_nan() { train_loss } else { validation };
        if !score.is_finite() {
            return Err(ModelError::Invalid(format!(
                "the loss diverged at epoch {epoch} ({score}); lower `lr` or check the input scaling"
            )));
        }
        if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
            best = Some((score, epoch, model.clone()));
        }
    }
    let (_, best_epoch, model) = best.ok_or_else(|| ModelError::Invalid("`epochs` must be at least 1".into()))?;
    Ok(TrainedAe { model, history, best_epoch })
}

impl TrainedAe {
    /// The latent of every row of `x` (cells × T) under the kept weights, in blocks of cells.
    pub fn encode(&self, x: ArrayView2<f32>) -> Result<Array2<f32>, ModelError> {
        let model = self.model.valid();
        let device = model.encoder_out.weight.val().device();
        let mut out = Array2::zeros((x.nrows(), model.encoder_out.weight.dims()[1]));
        for start in (0..x.nrows()).step_by(4096) {
            let end = (start + 4096).min(x.nrows());
            let z = to_matrix(model.encode(from_matrix(x.slice(ndarray::s![start..end, ..]), &device)))?;
            out.slice_mut(ndarray::s![start..end, ..]).assign(&z);
        }
        Ok(out)
    }

    /// The weights as named matrices (`[fan_in, fan_out]`, bias as a one-row matrix).
    pub fn weights(&self) -> Result<Vec<(String, Array2<f32>)>, ModelError> {
        let mut out = Vec::new();
        for (name, layer) in [
            ("encoder_hidden", &self.model.encoder_hidden),
            ("encoder_out", &self.model.encoder_out),
            ("decoder", &self.model.decoder),
        ] {
            out.push((format!("{name}.weight"), to_matrix(layer.weight.val())?));
            if let Some(b) = &layer.bias {
                out.push((format!("{name}.bias"), to_matrix(b.val().unsqueeze_dim::<2>(0))?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::random::normal;

    fn config(latent: usize, epochs: usize, seed: u64) -> AeConfig {
        AeConfig { latent, hidden: 16, epochs, batch: 64, lr: 1e-2, seed, gpu: None }
    }

    fn fit(x: &Array2<f32>, y: &Array2<f32>, cfg: &AeConfig) -> Result<TrainedAe, ModelError> {
        let n = x.nrows();
        let (train_rows, val): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 10 != 0);
        train(x.view(), y.view(), &train_rows, &val, cfg)
    }

    /// Cells whose genes are a quadratic function of 2 factors carried by 6 TFs.
    fn quadratic_data(n: usize, seed: u64) -> (Array2<f32>, Array2<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let f = Array2::from_shape_fn((n, 2), |_| normal(&mut rng));
        let x = Array2::from_shape_fn((n, 6), |(r, c)| (f[(r, c % 2)] + 0.1 * normal(&mut rng)) as f32);
        let y = Array2::from_shape_fn((n, 8), |(r, g)| {
            let (a, b) = (f[(r, 0)], f[(r, 1)]);
            (match g % 4 {
                0 => a,
                1 => b,
                2 => a * b,
                _ => a * a - 1.0,
            } + 0.05 * normal(&mut rng)) as f32
        });
        (x, y)
    }

    #[test]
    fn quadratic_features_count_linear_terms_and_products() {
        assert_eq!(quadratic_features(1), 2);
        assert_eq!(quadratic_features(3), 3 + 6);
    }

    #[test]
    fn decoder_features_are_the_latent_and_its_pairwise_products() {
        let device = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ae = QuadraticAe::new(&mut rng, 2, 4, 3, 1, &device);
        let z = Array2::from_shape_vec((1, 3), vec![2.0f32, 3.0, 5.0]).unwrap();
        let zt = from_matrix(z.view(), &device);
        let outer = zt.clone().unsqueeze_dim::<3>(2) * zt.clone().unsqueeze_dim::<3>(1);
        let products = to_matrix(outer.reshape([1, 9]).select(1, ae.pairs.clone())).unwrap();
        assert_eq!(products.row(0).to_vec(), vec![4.0, 6.0, 10.0, 9.0, 15.0, 25.0]);
    }

    #[test]
    fn training_fits_a_quadratic_map_and_keeps_the_best_epoch() {
        let (x, y) = quadratic_data(2000, 2);
        let trained = fit(&x, &y, &config(2, 60, 3)).unwrap();
        let first = trained.history[0].validation;
        let best = trained.history[trained.best_epoch].validation;
        assert!(trained.history.iter().all(|e| e.validation >= best));
        // The targets have variance ≈ 1.5 on average; a quadratic decoder of the right latent
        // explains nearly all of it.
        assert!(best < 0.1 * first && best < 0.05, "validation MSE {first} → {best}");
        let z = trained.encode(x.view()).unwrap();
        assert_eq!(z.dim(), (2000, 2));
    }

    #[test]
    fn halves_sum_to_the_whole_batch_loss_and_gradient() {
        let (x, y) = quadratic_data(101, 8);
        let device = train_device(None).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let model = QuadraticAe::new(&mut rng, 6, 5, 2, 8, &device);
        let batch: Vec<usize> = (0..101).rev().step_by(2).collect(); // 51 rows: halves of 26 and 25
        let whole = model.loss(rows(x.view(), &batch, &device), rows(y.view(), &batch, &device));
        let whole_loss = f64::from(whole.clone().into_scalar::<f32>());
        let mut whole_grads = GradientsParams::from_grads(whole.backward(), &model);
        let mut split = batch_gradients(&model, &Cells::Host(x.view(), y.view()), &batch, &device);
        assert_eq!(split.parts.len(), 2);
        assert!((split.loss - whole_loss).abs() < 1e-6 * whole_loss, "{} vs {whole_loss}", split.loss);
        for layer in [&model.encoder_hidden, &model.encoder_out, &model.decoder] {
            let id = layer.weight.id;
            let expected = to_matrix(whole_grads.remove::<2>(id).unwrap()).unwrap();
            let mut sum = Array2::<f32>::zeros(expected.dim());
            for part in &mut split.parts {
                sum += &to_matrix(part.remove::<2>(id).unwrap()).unwrap();
            }
            let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0);
            for (a, b) in sum.iter().zip(&expected) {
                assert!((a - b).abs() <= 1e-5 * scale, "{a} vs {b}");
            }
        }
        let single = batch_gradients(&model, &Cells::Host(x.view(), y.view()), &[4], &device);
        assert_eq!(single.parts.len(), 1, "one row is not split");
    }

    #[test]
    fn cells_on_the_device_give_the_host_rows_in_one_part() {
        let (x, y) = quadratic_data(50, 8);
        let device = train_device(None).unwrap();
        let host = Cells::Host(x.view(), y.view());
        let resident = Cells::Device(from_matrix(x.view(), &device), from_matrix(y.view(), &device));
        let idx = [7, 3, 41, 3, 0];
        let ((hx, hy), (dx, dy)) = (host.batch(&idx, &device), resident.batch(&idx, &device));
        assert_eq!(to_matrix(dx).unwrap(), to_matrix(hx.clone()).unwrap());
        assert_eq!(to_matrix(dy).unwrap(), to_matrix(hy.clone()).unwrap());
        let model = QuadraticAe::new(&mut ChaCha8Rng::seed_from_u64(2), 6, 5, 2, 8, &device);
        let step = batch_gradients(&model, &resident, &idx, &device);
        assert_eq!(step.parts.len(), 1);
        let whole = f64::from(model.loss(hx, hy).into_scalar::<f32>());
        assert!((step.loss - whole).abs() < 1e-6 * whole, "{} vs {whole}", step.loss);
    }

    #[test]
    fn a_seed_gives_the_same_weights_and_another_seed_does_not() {
        let (x, y) = quadratic_data(300, 4);
        let a = fit(&x, &y, &config(2, 3, 5)).unwrap();
        let b = fit(&x, &y, &config(2, 3, 5)).unwrap();
        let c = fit(&x, &y, &config(2, 3, 6)).unwrap();
        assert_eq!(a.weights().unwrap(), b.weights().unwrap());
        assert_ne!(a.weights().unwrap(), c.weights().unwrap());
        let in_pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let d = in_pool.install(|| fit(&x, &y, &config(2, 3, 5))).unwrap();
        assert_eq!(a.weights().unwrap(), d.weights().unwrap(), "1 thread vs the default pool");
    }

    #[test]
    fn bad_data_are_errors_not_panics() {
        let (x, mut y) = quadratic_data(100, 7);
        y[(3, 2)] = f32::NAN;
        assert!(matches!(fit(&x, &y, &config(2, 1, 1)), Err(ModelError::Invalid(m)) if m.contains("NaN")));
        let short = x.slice(ndarray::s![..50, ..]).to_owned();
        assert!(fit(&short, &y, &config(2, 1, 1)).is_err());
    }
}
