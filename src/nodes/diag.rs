//! Diagnostic kinds for trying out the engine, an executor or a cluster without science:
//! seeded random numbers (`diag-numbers`), a sum (`diag-sum`) and a sharded sweep (`diag-sweep`).
//! Their cost is set by `sleep_ms`, which does not change their output (so it exercises early cutoff).

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::kind::{Inputs, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, PortSpec, RunContext, Shard};
use crate::table::{Table, TableBuilder};

fn sleep_param() -> ParamSpec {
    ParamSpec::new("sleep_ms", ParamType::count(), json!(0), "pretend to work this long (does not change the output)")
}

fn numbers(n: usize, seed: u64, scale: f64) -> Result<Table, NodeError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * scale).collect();
    Ok(TableBuilder::new().f64("value", values).build()?)
}

fn pause(params: &Params) -> Result<(), NodeError> {
    std::thread::sleep(Duration::from_millis(params.i64("sleep_ms")? as u64));
    Ok(())
}

/// `diag-numbers`: `n` seeded uniform numbers times `scale`.
pub struct DiagNumbers;

impl NodeKind for DiagNumbers {
    fn name(&self) -> &str {
        "diag-numbers"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &str {
        "diagnostic: n seeded random numbers in [0, scale)"
    }
    fn inputs(&self) -> Vec<PortSpec> {
        vec![PortSpec::optional("after", "any table; only orders this task after its producer")]
    }
    fn outputs(&self) -> Vec<PortSpec> {
        vec![PortSpec::new("values", "column `value`")]
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("n", ParamType::count(), json!(10), "how many numbers"),
            ParamSpec::new("seed", ParamType::count(), json!(0), "random seed"),
            ParamSpec::new("scale", ParamType::Float { min: None, max: None }, json!(1.0), "multiplier"),
            ParamSpec::new("fail", ParamType::Bool, json!(false), "fail on purpose (to test error handling)"),
            sleep_param(),
        ]
    }
    fn run(&self, params: &Params, _inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        pause(params)?;
        if params.bool("fail")? {
            return Err(NodeError::Input("failing on purpose (param `fail: true`)".into()));
        }
        let table = numbers(params.usize("n")?, params.seed("seed")?, params.f64("scale")?)?;
        Ok(Outputs::from([("values".to_string(), table)]))
    }
}

/// `diag-sum`: the sum of every `value` of every input table, rounded.
pub struct DiagSum;

impl NodeKind for DiagSum {
    fn name(&self) -> &str {
        "diag-sum"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &str {
        "diagnostic: sum of the `value` columns of all inputs"
    }
    fn inputs(&self) -> Vec<PortSpec> {
        vec![PortSpec::new("values", "tables with a `value` column (several when swept)")]
    }
    fn outputs(&self) -> Vec<PortSpec> {
        vec![PortSpec::new("sum", "columns `n` (tables summed) and `sum`")]
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("digits", ParamType::count(), json!(6), "round the sum to this many decimals"),
            sleep_param(),
        ]
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        pause(params)?;
        let tables = inputs.tables("values")?;
        let mut total = 0.0;
        for (t, _) in &tables {
            total += t.f64_column("value")?.iter().sum::<f64>();
        }
        let scale = 10f64.powi(params.i64("digits")? as i32);
        let table = TableBuilder::new()
            .i64("n", vec![tables.len() as i64])
            .f64("sum", vec![(total * scale).round() / scale])
            .build()?;
        Ok(Outputs::from([("sum".to_string(), table)]))
    }
}

/// `diag-sweep`: `shards` shards of `per_shard` numbers each, concatenated by the reduce step.
pub struct DiagSweep;

impl NodeKind for DiagSweep {
    fn name(&self) -> &str {
        "diag-sweep"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &str {
        "diagnostic: a sharded node; each shard draws numbers, the reduce concatenates them"
    }
    fn inputs(&self) -> Vec<PortSpec> {
        vec![PortSpec::optional("after", "any table; only orders this node after its producer")]
    }
    fn outputs(&self) -> Vec<PortSpec> {
        vec![PortSpec::new("values", "columns `shard` and `value`")]
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("shards", ParamType::tasks(), json!(4), "number of shards"),
            ParamSpec::new("per_shard", ParamType::count(), json!(10), "numbers per shard"),
            ParamSpec::new("seed", ParamType::count(), json!(0), "random seed"),
            sleep_param(),
        ]
    }
    fn shards(&self, params: &Params) -> Result<Option<Vec<Shard>>, NodeError> {
        let n = params.usize("shards")?;
        Ok(Some(
            (0..n)
                .map(|i| {
                    let mut p = Params::default();
                    p.set("index", json!(i));
                    for name in ["per_shard", "seed", "sleep_ms"] {
                        p.set(name, params.value(name)?.clone());
                    }
                    Ok(Shard { label: format!("{i}"), params: p })
                })
                .collect::<Result<_, NodeError>>()?,
        ))
    }
    fn run_shard(&self, shard: &Params, _inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        pause(shard)?;
        let index = shard.usize("index")?;
        let seed = shard.seed("seed")?.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64;
        let values = numbers(shard.usize("per_shard")?, seed, 1.0)?.f64_column("value")?;
        let table = TableBuilder::new().i64("shard", vec![index as i64; values.len()]).f64("value", values).build()?;
        Ok(Outputs::from([("values".to_string(), table)]))
    }
    fn run(&self, _params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let (mut shard, mut value) = (Vec::new(), Vec::new());
        for outputs in inputs.shards() {
            let t = outputs.get("values").ok_or_else(|| NodeError::Internal("shard without `values`".into()))?;
            shard.extend(t.f64_column("shard")?.into_iter().map(|s| s as i64));
            value.extend(t.f64_column("value")?);
        }
        let table = TableBuilder::new().i64("shard", shard).f64("value", value).build()?;
        Ok(Outputs::from([("values".to_string(), table)]))
    }
}
