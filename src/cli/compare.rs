//! `gcrl compare WORKFLOW NODE.OUTPUT`: one small output of a node side by side across its sweep
//! instances and the recorded runs of the workflow, with the node's params that differ between
//! them as columns (`node.param`) before the output's own columns.
//!
//! Rows come from the run records, newest first, each task's label order within a run; a task
//! (a key) recorded by several runs appears once, under the newest (`run`). Its params come from
//! the task's manifest, and so do those of the unswept nodes upstream of it (`up.param`, from
//! the same run); when the inputs differ, an `inputs` column holds a short digest of their
//! contents (it tells apart what no param does: a changed input file, a swept producer).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, StringArray, new_null_array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use serde_json::{Value, json};

use super::args::WorkflowArgs;
use super::commands::{checked_output, load, write_output};
use super::error::{CliError, Outcome};
use crate::cache::Cache;
use crate::engine::graph::{TaskGraph, plain};
use crate::kind::Registry;
use crate::table::{Table, TableBuilder, is_sparse};

/// Rows of one output compare shows at most (it is for scalars and small tables).
const MAX_ROWS: usize = 100;

/// One task's output with what identifies it.
struct Found {
    run: String,
    /// Its params and those of the unswept nodes upstream, as `node.param`.
    params: BTreeMap<String, Value>,
    inputs: String,
    table: Table,
}

/// Whether task `label` is a whole instance of node `node` (not a shard).
fn of_node(label: &str, node: &str) -> bool {
    label == node || label.strip_prefix(node).is_some_and(|rest| rest.starts_with('[') && !rest.contains('#'))
}

/// Every distinct recorded task of `node` whose `output` is still in the cache, and how many
/// recorded tasks have lost it.
/// `upstream`: the nodes `node` depends on.
fn found(
    cache: &Cache,
    workflow: &str,
    node: &str,
    upstream: &[String],
    output: &str,
) -> Result<(Vec<Found>, usize), CliError> {
    let (mut rows, mut seen, mut gone) = (Vec::new(), HashSet::new(), 0);
    for (path, record) in cache.runs(workflow)? {
        let run = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let mut up = BTreeMap::new();
        for id in upstream {
            // An unswept node's task is labelled by its id alone.
            let Some(entry) = record.tasks.get(id) else { continue };
            if let Some(m) = cache.get_manifest(&entry.key)? {
                up.extend(m.params.into_iter().map(|(p, v)| (format!("{id}.{p}"), v)));
            }
        }
        for (label, entry) in record.tasks.iter().filter(|(l, _)| of_node(l, node)) {
            if !seen.insert(entry.key.clone()) {
                continue;
            }
            let manifest = cache.get_manifest(&entry.key)?;
            let (Some(manifest), Some(hash)) = (manifest, entry.outputs.get(output)) else {
                gone += 1;
                continue;
            };
            let Ok(bytes) = cache.get_object(hash) else {
                gone += 1;
                continue;
            };
            let table = Table::from_ipc(&bytes)?;
            if is_sparse(&table) || table.n_rows() > MAX_ROWS {
                return Err(CliError::Usage(format!(
                    "`{node}.{output}` of {label} has {} rows{}; compare puts outputs of at most {MAX_ROWS} \
                         rows side by side: `gcrl export` writes a large one",
                    table.n_rows(),
                    if is_sparse(&table) { " (a sparse matrix)" } else { "" }
                )));
            }
            let inputs = blake3::hash(json!(manifest.inputs).to_string().as_bytes()).to_hex()[..12].to_string();
            let mut params = up.clone();
            params.extend(manifest.params.into_iter().map(|(p, v)| (format!("{node}.{p}"), v)));
            rows.push(Found { run: run.clone(), params, inputs, table });
        }
    }
    Ok((rows, gone))
}

/// A column of `values` (one per found row, each repeated `counts[i]` times): integers,
/// numbers or text, whatever they all are.
fn meta_column(values: &[Value], counts: &[usize]) -> ArrayRef {
    let repeated = || values.iter().zip(counts).flat_map(|(v, &n)| std::iter::repeat_n(v, n));
    if values.iter().all(|v| v.is_i64()) {
        Arc::new(Int64Array::from_iter_values(repeated().map(|v| v.as_i64().unwrap_or_default())))
    } else if values.iter().all(Value::is_number) {
        Arc::new(Float64Array::from_iter_values(repeated().map(|v| v.as_f64().unwrap_or(f64::NAN))))
    } else {
        Arc::new(StringArray::from_iter_values(repeated().map(|v| match v {
            Value::Null => String::new(),
            other => plain(other),
        })))
    }
}

/// The comparison table of `rows`: `run`, the differing params, `inputs` when they differ,
/// then the output's columns (a column some rows lack is null there).
fn comparison(node: &str, rows: &[Found]) -> Result<Table, CliError> {
    let counts: Vec<usize> = rows.iter().map(|r| r.table.n_rows()).collect();
    let mut b =
        TableBuilder::new().array("run", meta_column(&rows.iter().map(|r| json!(r.run)).collect::<Vec<_>>(), &counts));
    let mut used = vec!["run".to_string()];
    let names: BTreeSet<&String> = rows.iter().flat_map(|r| r.params.keys()).collect();
    for name in names {
        let values: Vec<Value> = rows.iter().map(|r| r.params.get(name).cloned().unwrap_or(Value::Null)).collect();
        if values.iter().any(|v| v != &values[0]) {
            used.push(name.clone());
            b = b.array(name, meta_column(&values, &counts));
        }
    }
    if rows.iter().any(|r| r.inputs != rows[0].inputs) {
        used.push("inputs".into());
        b = b.array("inputs", meta_column(&rows.iter().map(|r| json!(r.inputs)).collect::<Vec<_>>(), &counts));
    }
    let mut columns: Vec<(String, DataType)> = Vec::new();
    for r in rows {
        for f in r.table.batch().schema().fields() {
            match columns.iter().find(|(n, _)| n == f.name()) {
                None => columns.push((f.name().clone(), f.data_type().clone())),
                Some((_, t)) if t != f.data_type() => {
                    return Err(CliError::Usage(format!(
                        "column `{}` of `{node}` is {t} in one recorded run and {} in another; \
                             compare the runs of one kind version (`gcrl diff` shows which)",
                        f.name(),
                        f.data_type()
                    )));
                }
                Some(_) => {}
            }
        }
    }
    for (name, ty) in &columns {
        let parts: Vec<ArrayRef> = rows
            .iter()
            .map(|r| {
                r.table.batch().column_by_name(name).cloned().unwrap_or_else(|| new_null_array(ty, r.table.n_rows()))
            })
            .collect();
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        let column = arrow_select::concat::concat(&refs)?;
        // An output column named like a param column is told apart by the node's id.
        let name = if used.contains(name) { format!("{node}.output.{name}") } else { name.clone() };
        b = b.array(&name, column);
    }
    Ok(b.build()?)
}

/// The table's rows as JSON objects: numbers and booleans as such, the rest as text.
fn json_rows(table: &Table) -> Result<Vec<Value>, CliError> {
    let batch = table.batch();
    let options = FormatOptions::default();
    let mut rows = vec![serde_json::Map::new(); batch.num_rows()];
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let numeric = field.data_type().is_numeric();
        let as_f64 = numeric.then(|| arrow_cast::cast(column, &DataType::Float64)).transpose()?;
        let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
        for (i, row) in rows.iter_mut().enumerate() {
            let value = if column.is_null(i) {
                Value::Null
            } else if let Some(f) = &as_f64 {
                let x = f.as_any().downcast_ref::<Float64Array>().map(|a| a.value(i)).unwrap_or(f64::NAN);
                if field.data_type().is_integer() { json!(x as i64) } else { json!(x) }
            } else if field.data_type() == &DataType::Boolean {
                json!(formatter.value(i).to_string() == "true")
            } else {
                json!(formatter.value(i).to_string())
            };
            row.insert(field.name().clone(), value);
        }
    }
    Ok(rows.into_iter().map(Value::Object).collect())
}

/// `gcrl compare`.
pub fn compare(
    args: &WorkflowArgs,
    registry: Registry,
    cache_dir: &Path,
    target: &str,
    to: Option<&Path>,
    json: bool,
) -> Outcome {
    let workflow = load(args, &registry)?;
    let (node, output) = checked_output(&workflow, target)?;
    let cache = Cache::open(cache_dir)?;
    let graph = TaskGraph::expand(&workflow, &[node.to_string()])?;
    let upstream: Vec<String> = graph.node_order.into_iter().filter(|id| id != node).collect();
    let (rows, gone) = found(&cache, &workflow.name, node, &upstream, output)?;
    if rows.is_empty() {
        return Err(CliError::Usage(format!(
            "no recorded run of `{}` holds `{target}`; run `gcrl run {}` first",
            workflow.name,
            args.workflow.display()
        )));
    }
    let table = comparison(node, &rows)?;
    if let Some(to) = to {
        write_output(&table, to)?;
    }
    if json {
        println!(
            "{}",
            json!({ "workflow": workflow.name, "output": target, "rows": json_rows(&table)?, "gone": gone })
        );
    } else if to.is_none() {
        println!("{target}: {} recorded results, {} rows", rows.len(), table.n_rows());
        println!("{}", table.pretty(table.n_rows(), table.n_cols())?);
    }
    if gone > 0 {
        eprintln!("note: {gone} recorded results of `{target}` are no longer in the cache (`cache gc`)");
    }
    Ok(())
}
