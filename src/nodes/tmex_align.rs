//! `tmex-align`: the linear map `A` of the latents Ẑ that maximises T-MEX against the TF
//! activities (method.md §6.3), fitted on the training cells and scored on the validation cells
//! too; correlations TFA × Z and TFA × Ẑ as in Figure 1b; MCC.

use std::collections::HashMap;
use std::sync::LazyLock;

use ndarray::{Array2, Axis};
use serde_json::json;

use super::common::outputs;
use super::declare::{kind_params, ports};
use crate::algo::tmex::{GradientOptions, correlation_matrix, fit_alignment, fit_alignment_gradient, mcc, tmex};
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext};
use crate::table::{Matrix, Table, TableBuilder};

/// The `tmex-align` kind.
pub struct TmexAlign;

const METHODS: &[&str] = &["exact", "gradient"];

/// Latent columns (`z_*`) of an `ae-train.latent` table, with cell names and splits.
struct Latent {
    cells: Vec<String>,
    split: Vec<String>,
    names: Vec<String>,
    values: Array2<f64>,
}

fn read_latent(t: &Table) -> Result<Latent, NodeError> {
    let names: Vec<String> = t.column_names().into_iter().filter(|c| c.starts_with("z_")).collect();
    if names.is_empty() || !t.has_column("split") {
        return Err(NodeError::Input(
            "input `latent` needs columns cell, split and z_1 … (connect `ae-train.latent`)".into(),
        ));
    }
    let mut values = Array2::zeros((t.n_rows(), names.len()));
    for (j, n) in names.iter().enumerate() {
        values.column_mut(j).assign(&ndarray::Array1::from(t.f64_column(n)?));
    }
    Ok(Latent { cells: t.str_column("cell")?, split: t.str_column("split")?, names, values })
}

static SPEC: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "tmex-align",
    version: 1,
    doc: "T-MEX alignment: A = argmax mean partial correlation ρ(ẐA_i, TFA_i | TFA_−i); scores and MCC",
    inputs: ports![
        latent: "cell, split, z_1 … (ae-train.latent)",
        activities: "cell, then one column per activity (eigengene.activities)",
    ],
    outputs: ports![
        A: "latent, then one column per activity: the alignment (unit-norm columns)",
        aligned: "cell, split, then Z = ẐA, one column per activity",
        correlations: "matrix (tfa_x_z | tfa_x_zhat), activity, latent, r, best",
        score: "tmex_train, tmex_val, mcc, method, n_train, n_validation",
    ],
    params: AlignParams::specs(),
});

kind_params! {
    /// Params of `tmex-align`.
    pub struct AlignParams {
        method: String = ParamSpec::new(
            ParamType::Choice(METHODS),
            json!("exact"),
            "closed form, or Adam as the paper",
        ),
        lr: f64 = ParamSpec::new(ParamType::Float { min: Some(0.0), max: None }, json!(1e-2), "gradient: Adam step"),
        steps: usize = ParamSpec::new(ParamType::positive(), json!(2000), "gradient: maximum steps"),
    }
}

impl NodeKind for TmexAlign {
    fn spec(&self) -> &KindSpec {
        &SPEC
    }
    /// [`BASE`](crate::kind::memory::BASE) plus 8× the inputs: a peak of 48 MiB was measured
    /// for 5.5 MiB of inputs (README, "Memory").
    fn memory(&self, _params: &Params, inputs: &crate::kind::InputSizes) -> u64 {
        inputs.times(8.0)
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = AlignParams::decode(params)?;
        let latent = read_latent(&inputs.table("latent")?)?;
        let act = Matrix::from_table(&inputs.table("activities")?)?;
        let by_cell: HashMap<&str, usize> = act.rows.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let (mut rows, mut act_rows, mut train, mut validation) = (vec![], vec![], vec![], vec![]);
        for (i, cell) in latent.cells.iter().enumerate() {
            let Some(&a) = by_cell.get(cell.as_str()) else { continue };
            match latent.split[i].as_str() {
                "train" => train.push(rows.len()),
                "validation" => validation.push(rows.len()),
                _ => continue,
            }
            rows.push(i);
            act_rows.push(a);
        }
        if train.is_empty() || validation.is_empty() {
            return Err(NodeError::Input(format!(
                "{} training and {} validation cells are in both `latent` and `activities`; \
                 do both come from the same expression?",
                train.len(),
                validation.len()
            )));
        }
        let z_hat = latent.values.select(Axis(0), &rows);
        let tfa = act.data.select(Axis(0), &act_rows);
        let (z_train, t_train) = (z_hat.select(Axis(0), &train), tfa.select(Axis(0), &train));
        let a = match p.method.as_str() {
            "gradient" => {
                let opts = GradientOptions { lr: p.lr, steps: p.steps, ..GradientOptions::default() };
                fit_alignment_gradient(z_train.view(), t_train.view(), opts)?
            }
            _ => fit_alignment(z_train.view(), t_train.view())?,
        };
        let (tmex_train, _) = tmex(z_train.view(), t_train.view(), a.view())?;
        let (z_val, t_val) = (z_hat.select(Axis(0), &validation), tfa.select(Axis(0), &validation));
        let (tmex_val, _) = tmex(z_val.view(), t_val.view(), a.view())?;
        let score = TableBuilder::new()
            .f64("tmex_train", vec![tmex_train])
            .f64("tmex_val", vec![tmex_val])
            .f64("mcc", vec![mcc(t_val.view(), z_val.dot(&a).view())?])
            .str("method", vec![p.method.clone()])
            .i64("n_train", vec![train.len() as i64])
            .i64("n_validation", vec![validation.len() as i64])
            .build()?;
        let a_table =
            Matrix { rows: latent.names.clone(), cols: act.cols.clone(), data: a.clone() }.to_table("latent", false)?;
        let z_all = latent.values.dot(&a);
        let mut aligned = TableBuilder::new().str("cell", latent.cells.clone()).str("split", latent.split.clone());
        for (j, name) in act.cols.iter().enumerate() {
            aligned = aligned.f64(name, z_all.column(j).to_vec());
        }
        let correlations = correlation_table(
            &act.cols,
            &tfa,
            &[("tfa_x_z", z_hat.dot(&a), &act.cols), ("tfa_x_zhat", z_hat, &latent.names)],
        )?;
        Ok(outputs([("A", a_table), ("aligned", aligned.build()?), ("correlations", correlations), ("score", score)]))
    }
}

/// Long table of the Pearson correlations of each activity with each column of each latent
/// matrix; `best` marks the largest |r| of each activity's row.
fn correlation_table(
    activities: &[String],
    tfa: &Array2<f64>,
    latents: &[(&str, Array2<f64>, &Vec<String>)],
) -> Result<Table, NodeError> {
    let (mut matrix, mut activity, mut latent, mut r, mut best) = (vec![], vec![], vec![], vec![], vec![]);
    for (label, z, names) in latents {
        let c = correlation_matrix(tfa.view(), z.view())?;
        for (i, row) in c.rows().into_iter().enumerate() {
            let top = row.iter().enumerate().fold(0, |b, (j, v)| if v.abs() > row[b].abs() { j } else { b });
            for (j, &v) in row.iter().enumerate() {
                matrix.push(label.to_string());
                activity.push(activities[i].clone());
                latent.push(names[j].clone());
                r.push(v);
                best.push(j == top);
            }
        }
    }
    Ok(TableBuilder::new()
        .str("matrix", matrix)
        .str("activity", activity)
        .str("latent", latent)
        .f64("r", r)
        .bool("best", best)
        .build()?)
}
