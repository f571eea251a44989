//! Command-line flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::workflow::Override;

/// gcrl: a declarative workflow engine for GRN-guided causal representation learning.
#[derive(Debug, Parser)]
#[command(name = "gcrl", version, about, propagate_version = true)]
pub struct Cli {
    /// Cache directory [default: the profile's `cache`, else ./cache].
    #[arg(long, global = true, env = "GCRL_CACHE")]
    pub cache: Option<PathBuf>,
    /// Profile of run defaults and Slurm settings: a YAML file, or NAME for
    /// $XDG_CONFIG_HOME/gcrl/NAME.yaml (~/.config/gcrl/NAME.yaml) [env: GCRL_PROFILE].
    #[arg(long, global = true, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Folders of plugins (node kinds outside gcrl), besides `./plugins`; repeatable.
    #[arg(long, global = true, env = "GCRL_PLUGINS", value_delimiter = ':', value_name = "DIR")]
    pub plugins: Vec<PathBuf>,
    /// Print nothing but errors (and --json output).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Selecting and adjusting a workflow.
#[derive(Debug, Args, Clone)]
pub struct WorkflowArgs {
    /// The workflow YAML file.
    pub workflow: PathBuf,
    /// Override a parameter (or an input file): `node.param=value`.
    #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
    pub set: Vec<Override>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run what is not cached.
    Run {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// Tasks to run at once (default: the profile's `jobs`, else the number of cores).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// GPU slots (default: the devices in CUDA_VISIBLE_DEVICES).
        #[arg(long)]
        gpus: Option<usize>,
        /// Run this node's tasks even if cached (repeatable; `-R` as Snakemake's `--forcerun`).
        #[arg(long, short = 'R', value_name = "NODE")]
        force: Vec<String>,
        /// Run only this node and what it needs (repeatable).
        #[arg(long, value_name = "NODE")]
        until: Vec<String>,
        /// Print one JSON summary on stdout at the end.
        #[arg(long)]
        json: bool,
        /// Show what would run and why, and run nothing: `gcrl plan` (`-n` as in Snakemake and make).
        #[arg(short = 'n', long)]
        dry_run: bool,
        /// Where tasks run, and the Slurm settings.
        #[command(flatten)]
        executor: ExecutorArgs,
    },
    /// Run tasks of a Slurm job from their resolved spec in the cache (what `--executor slurm`
    /// submits; not for direct use).
    Exec {
        /// The job spec (`cache/slurm/<workflow>/jobs/<token>.json`).
        spec: PathBuf,
        /// Array element to run (default: $SLURM_ARRAY_TASK_ID, else 0).
        #[arg(long)]
        element: Option<usize>,
    },
    /// What the Slurm runs of the workflow (all workflows when none is given) did on the
    /// cluster: jobs, elements, states, times and logs.
    Status {
        /// The workflow file.
        workflow: Option<PathBuf>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The recorded runs of the workflow in the cache, newest first: when, how long, what ran,
    /// the exit code, the workflow fingerprint and the run's log file (`gcrl log` is the same).
    #[command(visible_alias = "log")]
    Runs {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// One small output side by side across the node's sweep instances and the recorded runs,
    /// with the params that differ as columns.
    Compare {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// `node.output` (a scalar or a small table).
        output: String,
        /// Also write the comparison to a file (.csv, .tsv, .parquet, .arrow).
        #[arg(long)]
        to: Option<PathBuf>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// What differs between two recorded runs: the params, inputs and kind versions of each
    /// task whose key changed, and the tasks only one of them has.
    Diff {
        /// A run id as `gcrl log` lists it (or the start of one only it has).
        run_a: String,
        /// The other run.
        run_b: String,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show what a run would do and why, without running anything.
    Plan {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// Treat this node as forced (repeatable; `-R` as in `run`).
        #[arg(long, short = 'R', value_name = "NODE")]
        force: Vec<String>,
        /// Plan only this node and what it needs (repeatable).
        #[arg(long, value_name = "NODE")]
        until: Vec<String>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Draw the workflow's graph.
    Dag {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DagFormat::Dot)]
        format: DagFormat,
    },
    /// List node kinds with their inputs, outputs and parameters.
    Kinds {
        /// Show only this kind.
        kind: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the shape and first rows of a cached output.
    Show {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// `node.output`.
        output: String,
        /// Rows to print.
        #[arg(long, default_value_t = 10)]
        rows: usize,
    },
    /// Where each cached output lives (Arrow IPC files), with node, kind, version and hash.
    Paths {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Write a cached output to a file (.csv, .tsv, .parquet, .arrow, or .h5ad for a matrix).
    Export {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// `node.output`.
        output: String,
        /// Destination file.
        #[arg(long)]
        to: PathBuf,
        /// With .h5ad: a cell table (`cell` column) whose other columns become `obs` columns.
        #[arg(long, value_name = "NODE.OUTPUT")]
        obs: Option<String>,
        /// With .h5ad: a gene table (`gene` column) whose other columns become `var` columns.
        #[arg(long, value_name = "NODE.OUTPUT")]
        var: Option<String>,
        /// With .h5ad: a cells × k table stored as `obsm[KEY]` (repeatable), e.g. X_tfa=activities.activities.
        #[arg(long, value_name = "KEY=NODE.OUTPUT")]
        obsm: Vec<super::anndata::MatrixArg>,
        /// With .h5ad: a genes × k table stored as `varm[KEY]` (repeatable), e.g. hvg=prep.genes.
        #[arg(long, value_name = "KEY=NODE.OUTPUT")]
        varm: Vec<super::anndata::MatrixArg>,
    },
    /// Write an HTML report (figures from the cached outputs, the DAG, timings, provenance).
    Report {
        /// The workflow and its overrides.
        #[command(flatten)]
        workflow: WorkflowArgs,
        /// Destination file.
        #[arg(long, default_value = "report.html")]
        out: PathBuf,
    },
    /// Inspect and maintain the cache.
    Cache {
        /// What to do.
        #[command(subcommand)]
        action: CacheAction,
    },
}

/// Where tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorKind {
    /// Threads of this process.
    Local,
    /// Slurm jobs (sbatch); the cache must be on a file system the compute nodes share.
    Slurm,
}

/// `--executor` and the Slurm settings of `gcrl run`.
#[derive(Debug, Args, Clone)]
pub struct ExecutorArgs {
    /// Where tasks run [default: the profile's `executor`, else local].
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorKind>,
    /// Slurm: expected minutes of one array element; small shards are packed to about this [default: 10].
    #[arg(long, value_name = "MINUTES")]
    pub slurm_target_minutes: Option<f64>,
    /// Slurm: elements of one job array at most [default: 1000].
    #[arg(long, value_name = "N")]
    pub slurm_max_array: Option<usize>,
    /// Slurm: seconds between two `squeue` calls (one call covers every job of the run; gentle on shared controllers) [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub slurm_poll: Option<f64>,
    /// Local: GiB the running tasks' memory estimates (or `resources: {mem_gb}`) may add up to; a task above it alone fails before it starts [default: the memory available at the start].
    #[arg(long, value_name = "GB")]
    pub mem_limit: Option<f64>,
}

/// `gcrl cache` actions.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Disk use by kind.
    Du,
    /// Remove what the newest runs of the given workflows (all when none) do not use.
    Gc {
        /// Workflow files whose runs to keep.
        workflows: Vec<PathBuf>,
        /// Keep the outputs of this many newest runs per workflow.
        #[arg(long, default_value_t = 1)]
        keep_last: usize,
    },
    /// Re-hash every object; remove what is corrupt so it is recomputed.
    Verify,
}

/// Graph formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DagFormat {
    /// Graphviz.
    Dot,
    /// Mermaid (renders on GitHub).
    Mermaid,
}
