//! Whole runs of the scheduler over random workflows of the built-in `diag-*` kinds, through a
//! fake executor that finishes tasks in scripted and random orders (ninja's fake `CommandRunner`
//! in `build_test.cc`) and through the local executor; beside them, the bugs of whole runs, each
//! pinned by a `regression_…` test. The plan's own moves and the slots are tested inside the
//! engine (`src/engine/scheduler/tests.rs`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::mpsc::Sender;

use gcrl::cache::Cache;
use gcrl::engine::events::{Event, Reporter};
use gcrl::engine::executor::{Executor, LocalExecutor};
use gcrl::engine::graph::TaskGraph;
use gcrl::engine::memory::Budget;
use gcrl::engine::runner::execute;
use gcrl::engine::scheduler::{RunOptions, RunSummary, run_graph};
use gcrl::engine::task::{Capacity, Kill, Message, ResolvedInput, ResolvedTask, Submission, TaskFailure};
use gcrl::kind::Registry;
use gcrl::kind::memory::GIB;
use gcrl::workflow::load_workflow;
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A test executor: runs each task in this process with the real runner, but only when it
/// pleases: each [`Executor::dispatch`] ends a random number of the held tasks in a random
/// order, or, scripted (no generator), all of them in the order they were submitted. It fails the first try of the `flaky` labels, deletes the first input object of the
/// `lose` labels once before they run, and notes every moment it held more than its slots.
struct Fake {
    capacity: Capacity,
    registry: Arc<Registry>,
    cache: Cache,
    rng: Option<ChaCha8Rng>,
    /// The run's memory budget, to check what it holds against.
    memory: Option<Budget>,
    /// Tasks given and not yet ended, with the memory they asked for.
    held: Vec<(usize, ResolvedTask, bool, Sender<Message>, u64)>,
    flaky: HashSet<String>,
    lose: HashSet<String>,
    oversubscribed: Vec<String>,
    /// `(label, attempt)` of every submission, in order.
    attempts: Vec<(String, u32)>,
}

impl Executor for Fake {
    fn capacity(&self) -> Capacity {
        self.capacity
    }

    fn submit(&mut self, Submission { id, task, force, attempt, memory, .. }: Submission, done: Sender<Message>) {
        self.attempts.push((task.label.clone(), attempt));
        let cpus: usize = self.held.iter().map(|(_, t, ..)| t.threads).sum::<usize>() + task.threads;
        let mut gpus: Vec<usize> = self.held.iter().flat_map(|(_, t, ..)| t.gpus.iter().copied()).collect();
        gpus.extend(&task.gpus);
        let distinct: HashSet<usize> = gpus.iter().copied().collect();
        if cpus > self.capacity.cpus || distinct.len() < gpus.len() || gpus.iter().any(|&g| g >= self.capacity.gpus) {
            self.oversubscribed.push(format!("{}: {cpus} CPUs, GPUs {gpus:?}", task.label));
        }
        let mem = self.held.iter().map(|h| h.4).sum::<u64>() + memory;
        // Above a soft budget a task may run, but only alone.
        if let Some(b) = self.memory
            && mem > b.bytes
            && (b.hard || !self.held.is_empty())
        {
            self.oversubscribed.push(format!("{}: {mem} bytes of {b:?}", task.label));
        }
        self.held.push((id, task, force, done, memory));
    }

    fn dispatch(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let batch: Vec<_> = match &mut self.rng {
            None => std::mem::take(&mut self.held),
            Some(rng) => (0..rng.random_range(1..=self.held.len()))
                .map(|_| self.held.swap_remove(rng.random_range(0..self.held.len())))
                .collect(),
        };
        for (id, task, force, done, _) in batch {
            let result = if self.flaky.remove(&task.label) {
                Err(TaskFailure::Killed { message: "a flaky first try".into(), cause: Kill::Transient })
            } else {
                if self.lose.remove(&task.label)
                    && let Some(ResolvedInput::Object { hash, .. }) = task.inputs.values().flatten().next()
                {
                    std::fs::remove_file(self.cache.object_path(hash)).expect("the object is there to lose");
                }
                execute(&task, &self.registry, &self.cache, force, &|| {})
            };
            done.send(Message::Done(id, Box::new(result))).expect("the scheduler listens");
        }
    }
}

/// Counts each task's ends (finished, cached, failed for good, skipped) and reruns.
#[derive(Default)]
struct Ends {
    ends: BTreeMap<String, u32>,
    requeued: BTreeMap<String, u32>,
    skipped: BTreeSet<String>,
    /// Failed tasks and their errors.
    failed: BTreeMap<String, String>,
}

impl Reporter for Ends {
    fn event(&mut self, event: Event<'_>) {
        let label = match event {
            Event::Finished { task, .. } | Event::Cached(task) => &task.label,
            Event::Failed { task, error, retrying: false } => {
                self.failed.insert(task.label.clone(), error.to_string());
                &task.label
            }
            Event::Skipped { task, .. } => {
                self.skipped.insert(task.label.clone());
                &task.label
            }
            Event::Requeued { task, .. } => {
                *self.requeued.entry(task.label.clone()).or_default() += 1;
                return;
            }
            _ => return,
        };
        *self.ends.entry(label.clone()).or_default() += 1;
    }
}

/// One generated node: its kind (0 numbers, 1 sharded sweep, 2 sum), its producers among the
/// nodes before it, and its settings.
#[derive(Debug, Clone)]
struct NodeGen {
    kind: u8,
    deps: Vec<usize>,
    swept: bool,
    fail: bool,
    shards: usize,
    cpus: usize,
    gpus: usize,
    retries: u32,
    /// `resources: {mem_gb}`: an index into [`MEM_GB`] (0: none, the kind's estimate).
    mem: usize,
}

/// The `mem_gb` a generated node may set, beside the runs' 2 GiB budget: 1.5 GiB tasks cannot run
/// two at once, a 3 GiB one only alone (soft budget) or not at all (hard).
const MEM_GB: [f64; 4] = [0.0, 0.5, 1.5, 3.0];

/// The memory budget of the generated runs, in GiB.
const BUDGET_GB: f64 = 2.0;

fn node_gen() -> impl Strategy<Value = NodeGen> {
    (
        0u8..3,
        proptest::collection::vec(0usize..64, 0..3),
        any::<bool>(),
        0u8..8,
        1usize..5,
        1usize..4,
        0usize..3,
        0u32..2,
        0usize..MEM_GB.len(),
    )
        .prop_map(|(kind, deps, swept, fail, shards, cpus, gpus, retries, mem)| NodeGen {
            kind,
            deps,
            swept,
            fail: fail == 0,
            shards,
            cpus,
            gpus,
            retries,
            mem,
        })
}

/// The YAML of generated nodes `n0, n1, …`; producers are taken modulo the node's index.
fn workflow_yaml(nodes: &[NodeGen]) -> String {
    let mut y = String::from("name: prop\nnodes:\n");
    for (i, g) in nodes.iter().enumerate() {
        let deps: BTreeSet<usize> = if i == 0 { BTreeSet::new() } else { g.deps.iter().map(|d| d % i).collect() };
        // A sum needs tables with a `value` column: the outputs of numbers and sweep nodes.
        let values: Vec<String> =
            deps.iter().filter(|&&d| nodes[d].kind != 2).map(|d| format!("n{d}.values")).collect();
        let kind = if g.kind == 2 && values.is_empty() { 0 } else { g.kind };
        y += &format!("  n{i}:\n");
        match kind {
            0 => {
                y += &format!("    kind: diag-numbers\n    params: {{ n: 3, seed: {i}, fail: {} }}\n", g.fail);
                if g.swept {
                    y += "    sweep: { scale: [1, 2] }\n";
                }
            }
            1 => {
                y += &format!("    kind: diag-sweep\n    params: {{ shards: {}, per_shard: 2, seed: {i} }}\n", g.shards)
            }
            _ => y += "    kind: diag-sum\n",
        }
        let after: Vec<String> = deps.iter().map(|d| format!("n{d}")).collect();
        match kind {
            2 => y += &format!("    inputs: {{ values: [{}] }}\n", values.join(", ")),
            _ if !after.is_empty() => y += &format!("    inputs: {{ after: [{}] }}\n", after.join(", ")),
            _ => {}
        }
        let mem = if g.mem == 0 { String::new() } else { format!(", mem_gb: {}", MEM_GB[g.mem]) };
        y += &format!("    resources: {{ cpus: {}, gpus: {}{mem} }}\n    retries: {}\n", g.cpus, g.gpus, g.retries);
    }
    y
}

/// What one run left: its summary, the record's `(key, outputs)` by label, and its reporter.
struct Ran {
    summary: RunSummary,
    results: BTreeMap<String, (String, BTreeMap<String, String>)>,
    ends: Ends,
    oversubscribed: Vec<String>,
    /// The fake executor's `(label, attempt)` of every submission.
    attempts: Vec<(String, u32)>,
}

/// Runs `yaml` through the fake executor (`Some((order, flaky, lose))`: `order` seeds the
/// completion order, `None` is the scripted order) or, given `None`, the local executor.
fn run_once(
    yaml: &str,
    executor: Option<(Option<u64>, HashSet<String>, HashSet<String>)>,
    capacity: Capacity,
    memory: Option<Budget>,
) -> Ran {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("prop.yaml");
    std::fs::write(&path, yaml).expect("the workflow is written");
    let registry = gcrl::nodes::builtin();
    let workflow = load_workflow(&path, &registry, &[]).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let graph = TaskGraph::expand(&workflow, &[]).expect("the graph expands");
    let cache = Cache::open(&dir.path().join("cache")).expect("a cache");
    let mut ends = Ends::default();
    let options = RunOptions { memory, ..RunOptions::default() };
    let (summary, oversubscribed, attempts) = match executor {
        Some((seed, flaky, lose)) => {
            let mut fake = Fake {
                capacity,
                registry: Arc::new(registry),
                cache: cache.clone(),
                rng: seed.map(ChaCha8Rng::seed_from_u64),
                memory,
                held: Vec::new(),
                flaky,
                lose,
                oversubscribed: Vec::new(),
                attempts: Vec::new(),
            };
            let s = run_graph(&graph, "prop", &cache, &mut fake, &options, &mut ends).expect("the run ends");
            (s, fake.oversubscribed, fake.attempts)
        }
        None => {
            let mut local = LocalExecutor::new(capacity.cpus, capacity.gpus, Arc::new(registry), cache.clone())
                .expect("a thread pool");
            (run_graph(&graph, "prop", &cache, &mut local, &options, &mut ends).expect("the run ends"), vec![], vec![])
        }
    };
    let record = cache.last_run("prop").map(|(_, r)| r).expect("a run record");
    let results = record.tasks.into_iter().map(|(label, e)| (label, (e.key, e.outputs))).collect();
    Ran { summary, results, ends, oversubscribed, attempts }
}

/// The task labels of `yaml`'s graph, the labels of the tasks that fail (`fail: true`, more
/// GPUs than `gpus`, more memory than a hard `memory` budget) and of those that need them.
fn expected_outcome(
    yaml: &str,
    gpus: usize,
    memory: Option<Budget>,
) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let too_big = |mem_gb: Option<f64>| {
        memory.is_some_and(|b| b.hard && mem_gb.is_some_and(|gb| gb * GIB as f64 > b.bytes as f64))
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("prop.yaml");
    std::fs::write(&path, yaml).expect("the workflow is written");
    let workflow = load_workflow(&path, &gcrl::nodes::builtin(), &[]).expect("the workflow loads");
    let graph = TaskGraph::expand(&workflow, &[]).expect("the graph expands");
    let failing: BTreeSet<usize> = graph
        .tasks
        .iter()
        .filter(|t| t.params.bool("fail").unwrap_or(false) || t.resources.gpus > gpus || too_big(t.resources.mem_gb))
        .map(|t| t.id)
        .collect();
    // Needing a failing or skipped task skips a task; producers come first in the graph.
    let mut skipped = BTreeSet::new();
    for t in &graph.tasks {
        if t.deps().iter().any(|d| failing.contains(d) || skipped.contains(d)) {
            skipped.insert(t.id);
        }
    }
    let label = |ids: &BTreeSet<usize>| ids.iter().map(|&i| graph.tasks[i].label.clone()).collect::<BTreeSet<_>>();
    let all = graph.tasks.iter().map(|t| t.label.clone()).collect();
    (all, label(&failing.difference(&skipped).copied().collect()), label(&skipped))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whole runs over random workflows (sweeps, shards, failures, retries, lost outputs, CPU,
    /// GPU and memory needs) through the fake executor in two random completion orders and at two
    /// `-j`, and through the local executor: every task ends once (plus once per rerun), the
    /// failed and skipped tasks are the expected ones (a task above a hard memory budget fails
    /// alone, its dependents skipped; above a soft one it runs alone), no slot or memory is
    /// oversubscribed, and every finished task has the same key and outputs in every run.
    #[test]
    fn runs_in_any_completion_order_give_the_same_results(
        nodes in proptest::collection::vec(node_gen(), 1..7),
        seeds in (any::<u64>(), any::<u64>()),
        jobs in (1usize..4, 1usize..4),
        flaky_lose in (any::<u32>(), any::<u32>()),
        hard in any::<bool>(),
    ) {
        let yaml = workflow_yaml(&nodes);
        let gpus = 1;
        let memory = Some(Budget { bytes: (BUDGET_GB * GIB as f64) as u64, hard });
        let (all, failed, skipped) = expected_outcome(&yaml, gpus, memory);
        // Flaky first tries only where a retry is allowed, so that every run ends alike.
        let flaky: HashSet<String> = all
            .iter()
            .enumerate()
            .filter(|(i, l)| flaky_lose.0 >> (i % 32) & 1 == 1 && retries_of(&nodes, l) > 0)
            .map(|(_, l)| l.clone())
            .collect();
        // One task at most loses an input: a producer may run again only twice per run.
        let lose: HashSet<String> = all.iter().nth(flaky_lose.1 as usize % (all.len() + 1)).cloned().into_iter().collect();
        let runs = [
            run_once(&yaml, Some((Some(seeds.0), flaky.clone(), lose.clone())), Capacity { cpus: jobs.0, gpus }, memory),
            run_once(&yaml, Some((Some(seeds.1), flaky, lose)), Capacity { cpus: jobs.1, gpus }, memory),
            run_once(&yaml, None, Capacity { cpus: jobs.0, gpus }, memory),
        ];
        for run in &runs {
            prop_assert!(run.oversubscribed.is_empty(), "oversubscribed: {:?}\n{yaml}", run.oversubscribed);
            for label in &all {
                let ends = run.ends.ends.get(label).copied().unwrap_or(0);
                let reruns = run.ends.requeued.get(label).copied().unwrap_or(0);
                prop_assert_eq!(ends, 1 + reruns, "{} ended {} times, reran {}\n{}", label, ends, reruns, yaml);
            }
            let failed_labels: BTreeSet<String> = run.ends.failed.keys().cloned().collect();
            prop_assert_eq!(&failed_labels, &failed, "{:?}\n{}", run.ends.failed, yaml);
            prop_assert_eq!(&run.ends.skipped, &skipped, "{}", yaml);
            prop_assert_eq!(run.summary.failed + run.summary.skipped, failed.len() + skipped.len());
            prop_assert_eq!(run.results.len(), all.len() - failed.len() - skipped.len());
        }
        prop_assert_eq!(&runs[0].results, &runs[1].results, "{}", yaml);
        prop_assert_eq!(&runs[0].results, &runs[2].results, "{}", yaml);
    }
}

/// The `retries:` of the node of task `label` (`n3`, `n3[scale=2]`, `n3#1`, `n3#reduce`).
fn retries_of(nodes: &[NodeGen], label: &str) -> u32 {
    let id: String = label[1..].chars().take_while(char::is_ascii_digit).collect();
    nodes[id.parse::<usize>().expect("labels are n<index>…")].retries
}

/// Regression: a consumer that found its input gone cleared the producer's outputs when the
/// producer was put back, so a second consumer failing on the same object in the same burst of
/// messages found no producer and failed the run.
#[test]
fn regression_two_consumers_losing_one_object_in_one_burst_both_wait_for_its_rerun() {
    let yaml = "name: prop\nnodes:\n  n0:\n    kind: diag-numbers\n  n1:\n    kind: diag-sum\n    \
                inputs: {values: n0.values}\n  n2:\n    kind: diag-sum\n    inputs: {values: n0.values}\n    \
                params: {digits: 2}\n";
    let lose = HashSet::from(["n1".to_string()]);
    let run = run_once(yaml, Some((None, HashSet::new(), lose)), Capacity { cpus: 2, gpus: 0 }, None);
    assert_eq!(run.ends.failed, BTreeMap::new());
    assert_eq!(run.ends.requeued, BTreeMap::from([("n0".to_string(), 1)]), "n0 runs again once, for both");
    assert_eq!((run.summary.ran, run.results.len()), (4, 3));
    assert_eq!(run.results, run_once(yaml, None, Capacity { cpus: 2, gpus: 0 }, None).results);
}

/// Regression (issue 19): the Slurm executor counted its own attempts, so a producer run again
/// because its output vanished was resubmitted with `retry_scale` times the memory and time
/// although it never failed. The attempt now travels with the task: failed tries only.
#[test]
fn regression_a_producer_run_again_for_a_lost_output_asks_for_no_more_resources() {
    let yaml = "name: prop\nnodes:\n  n0:\n    kind: diag-numbers\n  n1:\n    kind: diag-sum\n    \
                inputs: {values: n0.values}\n    retries: 1\n";
    let (flaky, lose) = (HashSet::from(["n1".to_string()]), HashSet::from(["n1".to_string()]));
    let run = run_once(yaml, Some((None, flaky, lose)), Capacity { cpus: 2, gpus: 0 }, None);
    assert_eq!(run.ends.failed, BTreeMap::new());
    let attempts: Vec<(&str, u32)> = run.attempts.iter().map(|(l, a)| (l.as_str(), *a)).collect();
    // n1 fails once (flaky: attempt 1 next), then loses n0's output: n0 reruns at attempt 0.
    assert_eq!(attempts, [("n0", 0), ("n1", 0), ("n1", 1), ("n0", 0), ("n1", 1)]);
}
