//! The gCRL autoencoder (method.md §6.1): TF expression → `Linear(T → h)` → ReLU →
//! `Linear(h → d)` latent; the decoder is a quadratic polynomial of the latent (the `d` linear
//! terms and every product `z_i z_j`, `i ≤ j`) followed by `Linear(→ G)` to the GRN's genes.
//! Trained by Adam on the mean squared error; the epoch with the lowest validation loss is kept.

use burn::module::Module;
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
    let (mut history, mut best) = (Vec::with_capacity(cfg.epochs), None::<(f64, usize, QuadraticAe)>);
    for epoch in 0..cfg.epochs {
        train_rows.shuffle(&mut rng);
        let mut sum = 0.0;
        for chunk in train_rows.chunks(cfg.batch) {
            let loss = model.loss(rows(x, chunk, &device), rows(y, chunk, &device));
            sum += f64::from(loss.clone().into_scalar::<f32>()) * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(cfg.lr, model, grads);
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
