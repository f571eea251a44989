//! Diagnostic kinds for trying out the engine, an executor or a cluster without science:
//! seeded random numbers (`diag-numbers`), a sum (`diag-sum`) and a sharded sweep (`diag-sweep`).
//! Their cost is set by `sleep_ms`, which does not change their output (so it exercises early cutoff).

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use std::sync::LazyLock;

use super::declare::ports;
use super::declare::{kind_params, shard_params};
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, ParamSpec, ParamType, Params, RunContext, Shard};
use crate::table::{Table, TableBuilder};

/// The `sleep_ms` param of every diagnostic kind.
fn sleep_param(name: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamType::count(), json!(0), "pretend to work this long (does not change the output)")
}

fn numbers(n: usize, seed: u64, scale: f64) -> Result<Table, NodeError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * scale).collect();
    Ok(TableBuilder::new().f64("value", values).build()?)
}

fn pause(sleep_ms: u64) {
    std::thread::sleep(Duration::from_millis(sleep_ms));
}

kind_params! {
    /// Params of `diag-numbers`.
    pub struct NumbersParams {
        n: usize = ParamSpec::new(ParamType::count(), json!(10), "how many numbers"),
        seed: u64 = ParamSpec::new(ParamType::count(), json!(0), "random seed"),
        scale: f64 = ParamSpec::new(ParamType::Float { min: None, max: None }, json!(1.0), "multiplier"),
        fail: bool = ParamSpec::new(ParamType::Bool, json!(false), "fail on purpose (to test error handling)"),
        sleep_ms: u64 = sleep_param(),
    }
}

static NUMBERS: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "diag-numbers",
    version: 1,
    doc: "diagnostic: n seeded random numbers in [0, scale)",
    inputs: ports![after?: "any table; only orders this task after its producer"],
    outputs: ports![values: "column `value`"],
    params: NumbersParams::specs(),
});

/// `diag-numbers`: `n` seeded uniform numbers times `scale`.
pub struct DiagNumbers;

impl NodeKind for DiagNumbers {
    fn spec(&self) -> &KindSpec {
        &NUMBERS
    }
    fn run(&self, params: &Params, _inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = NumbersParams::decode(params)?;
        pause(p.sleep_ms);
        if p.fail {
            return Err(NodeError::Input("failing on purpose (param `fail: true`)".into()));
        }
        let table = numbers(p.n, p.seed, p.scale)?;
        Ok(Outputs::from([("values".to_string(), table)]))
    }
}

/// `diag-sum`: the sum of every `value` of every input table, rounded.
pub struct DiagSum;

kind_params! {
    /// Params of `diag-sum`.
    pub struct SumParams {
        digits: i64 = ParamSpec::new(ParamType::count(), json!(6), "round the sum to this many decimals"),
        sleep_ms: u64 = sleep_param(),
    }
}

static SUM: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "diag-sum",
    version: 1,
    doc: "diagnostic: sum of the `value` columns of all inputs",
    inputs: ports![values: "tables with a `value` column (several when swept)"],
    outputs: ports![sum: "columns `n` (tables summed) and `sum`"],
    params: SumParams::specs(),
});

impl NodeKind for DiagSum {
    fn spec(&self) -> &KindSpec {
        &SUM
    }
    fn run(&self, params: &Params, inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let p = SumParams::decode(params)?;
        pause(p.sleep_ms);
        let tables = inputs.tables("values")?;
        let mut total = 0.0;
        for (t, _) in &tables {
            total += t.f64_column("value")?.iter().sum::<f64>();
        }
        let scale = 10f64.powi(p.digits as i32);
        let table = TableBuilder::new()
            .i64("n", vec![tables.len() as i64])
            .f64("sum", vec![(total * scale).round() / scale])
            .build()?;
        Ok(Outputs::from([("sum".to_string(), table)]))
    }
}

/// `diag-sweep`: `shards` shards of `per_shard` numbers each, concatenated by the reduce step.
pub struct DiagSweep;

kind_params! {
    /// Params of `diag-sweep`.
    pub struct SweepParams {
        shards: usize = ParamSpec::new(ParamType::tasks(), json!(4), "number of shards"),
        per_shard: usize = ParamSpec::new(ParamType::count(), json!(10), "numbers per shard"),
        seed: u64 = ParamSpec::new(ParamType::count(), json!(0), "random seed"),
        sleep_ms: u64 = sleep_param(),
    }
}

shard_params! {
    /// The params of one `diag-sweep` shard: the sweep's but `shards`, and the shard's index.
    struct SweepShard {
        index: usize,
        per_shard: usize,
        seed: u64,
        sleep_ms: u64,
    }
}

static SWEEP: LazyLock<KindSpec> = LazyLock::new(|| KindSpec {
    name: "diag-sweep",
    version: 1,
    doc: "diagnostic: a sharded node; each shard draws numbers, the reduce concatenates them",
    inputs: ports![after?: "any table; only orders this node after its producer"],
    outputs: ports![values: "columns `shard` and `value`"],
    params: SweepParams::specs(),
});

impl NodeKind for DiagSweep {
    fn spec(&self) -> &KindSpec {
        &SWEEP
    }
    fn shards(&self, params: &Params) -> Result<Option<Vec<Shard>>, NodeError> {
        let p = SweepParams::decode(params)?;
        let shard = |index| SweepShard { index, per_shard: p.per_shard, seed: p.seed, sleep_ms: p.sleep_ms };
        Ok(Some((0..p.shards).map(|i| Shard { label: format!("{i}"), params: shard(i).params() }).collect()))
    }
    fn run_shard(&self, shard: &Params, _inputs: &Inputs, _ctx: &RunContext) -> Result<Outputs, NodeError> {
        let SweepShard { index, per_shard, seed, sleep_ms } = SweepShard::decode(shard)?;
        pause(sleep_ms);
        let seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64;
        let values = numbers(per_shard, seed, 1.0)?.f64_column("value")?;
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
