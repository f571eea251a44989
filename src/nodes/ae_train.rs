//! `ae-train`: the gCRL autoencoder (method.md §6.1) from the community TFs' expression to the
//! GRN's genes, with a quadratic decoder; its latents Ẑ for every cell, history and weights.

use serde_json::json;
use std::sync::LazyLock;

use super::common::{outputs, pca_param};
use super::declare::{kind_params, ports};
use super::gcrl_ae::{AeData, AeParams, ae_ports, fit, gpu_param, zscore};
use crate::algo::eigengene::Pca;
use crate::kind::{
    Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, Resources, RunContext,
};
use crate::table::TableBuilder;

/// The `ae-train` kind.
pub struct AeTrain;

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "ae-train",
    version: 2,
    doc: "gCRL autoencoder: community TFs → latent (k + 1) → quadratic decoder → GRN genes",
    inputs: ae_ports(),
    outputs: ports![
        latent: "cell, split (train | validation | excluded), z_1 … z_d",
        history: "epoch, train_loss, validation_loss, kept",
        weights: "layer, row, col, value (row-major [fan_in, fan_out])",
    ],
    params: AeTrainParams::specs(),
});

kind_params! {
    /// Params of `ae-train`: the autoencoder's, its GPU and its seed. `pca` is declared as in
    /// `permutation-test`, where the eigengenes read it; `ae-train` reads it nowhere.
    pub struct AeTrainParams {
        #[flatten] ae: AeParams,
        pca: Pca = pca_param(),
        gpu: bool = gpu_param(),
        seed: u64 = ParamSpec::new(ParamType::count(), json!(0), "seed of the split, weights and batches"),
    }
}

impl NodeKind for AeTrain {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    fn resources(&self, p: &Params) -> Resources {
        Resources { gpus: usize::from(AeTrainParams::decode(p).is_ok_and(|p| p.gpu)), ..Resources::default() }
    }
    /// [`BASE`](crate::kind::memory::BASE) plus 4.5× the inputs: a peak of 881 MiB was measured
    /// for 221 MiB of inputs (README, "Memory").
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        inputs.times(4.5)
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = AeTrainParams::decode(params)?;
        let data = AeData::load(inputs, &p.ae)?;
        let fitted = fit(&data, &p.ae, p.gpu, p.seed, ctx)?;
        let train_rows: Vec<usize> = fitted.train.iter().map(|&i| data.used[i]).collect();
        let x_all = zscore(data.tf_log.mapv(|v| v as f32), &train_rows);
        let latent = fitted.ae.encode(x_all.view())?.mapv(f64::from);
        let mut split = vec!["excluded".to_string(); data.cells.len()];
        for &i in &fitted.train {
            split[data.used[i]] = "train".into();
        }
        for &i in &fitted.validation {
            split[data.used[i]] = "validation".into();
        }
        let mut latent_table = TableBuilder::new().str("cell", data.cells.clone()).str("split", split);
        for (j, col) in latent.columns().into_iter().enumerate() {
            latent_table = latent_table.f64(&format!("z_{}", j + 1), col.to_vec());
        }
        let latent_table = latent_table.build()?;
        let h = &fitted.ae.history;
        let history = TableBuilder::new()
            .i64("epoch", (0..h.len() as i64).collect())
            .f64("train_loss", h.iter().map(|e| e.train).collect())
            .f64("validation_loss", h.iter().map(|e| e.validation).collect())
            .bool("kept", (0..h.len()).map(|e| e == fitted.ae.best_epoch).collect())
            .build()?;
        let (mut layer, mut row, mut col, mut value) = (vec![], vec![], vec![], vec![]);
        for (name, w) in fitted.ae.weights()? {
            for ((r, c), v) in w.indexed_iter() {
                layer.push(name.clone());
                row.push(r as i64);
                col.push(c as i64);
                value.push(*v);
            }
        }
        let weights =
            TableBuilder::new().str("layer", layer).i64("row", row).i64("col", col).f32("value", value).build()?;
        Ok(outputs([("latent", latent_table), ("history", history), ("weights", weights)]))
    }
}
