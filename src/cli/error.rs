//! Why a command ends with a non-zero exit code: one enum over the layers' errors, each variant
//! mapped to a code of [`exit`] by [`CliError::exit_code`], a match without a catch-all, so a
//! new variant (here or in a layer's error it matches on) has to be given its code.

use thiserror::Error;

use super::exit;
use super::signal::Signal;
use crate::cache::CacheError;
use crate::engine::EngineError;
use crate::engine::executor::slurm::SlurmError;
use crate::engine::executor::slurm::options::OptionError;
use crate::plugin::PluginError;
use crate::report::ReportError;
use crate::session::SessionError;
use crate::table::TableError;
use crate::workflow::WorkflowError;

/// What went wrong, printed on stderr (unless [`reported`](CliError::reported) as it happened).
#[derive(Debug, Error)]
pub enum CliError {
    /// An argument the command cannot use: a `node.output` the workflow lacks, an output that is
    /// not cached, flags that do not go together.
    #[error("error: {0}")]
    Usage(String),
    /// The profile cannot be found or is malformed (the message names the file and the fix).
    #[error("{0}")]
    Profile(String),
    /// A plugin folder cannot be read or its manifest is malformed.
    #[error("{}", plugin_message(.0))]
    Plugin(PluginError),
    /// The workflow file is wrong.
    #[error("{}", .0.to_string().trim_end())]
    Workflow(#[from] WorkflowError),
    /// The engine refused the graph or the run.
    #[error("error: {0}")]
    Engine(#[from] EngineError),
    /// The cache cannot be read or written.
    #[error("error: {0}")]
    Cache(#[from] CacheError),
    /// A cached table cannot be read, shown or written.
    #[error("error: {0}")]
    Table(#[from] TableError),
    /// Tables cannot be put side by side (`gcrl compare`).
    #[error("error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The HTML report cannot be made or written.
    #[error("error: {0}")]
    Report(#[from] ReportError),
    /// The .h5ad file cannot be written.
    #[error("error: {0}")]
    Export(String),
    /// A Slurm flag of `gcrl run` is wrong.
    #[error("error: {0}")]
    SlurmOptions(#[from] OptionError),
    /// The Slurm executor cannot start.
    #[error("error: {0}")]
    SlurmStart(SlurmError),
    /// A file of a Slurm run cannot be read or written (`gcrl exec`, `gcrl status`).
    #[error("error: {0}")]
    SlurmFiles(SlurmError),
    /// The local executor's threads cannot start.
    #[error("error: cannot start worker threads: {0}")]
    WorkerThreads(std::io::Error),
    /// A task failed; the independent ones finished (`gcrl run`, `gcrl exec`).
    #[error("a task failed")]
    TasksFailed,
    /// `gcrl cache verify` found (and removed) corrupt objects.
    #[error("corrupt objects were found")]
    CorruptObjects,
    /// Tasks failed because the cluster stopped answering during the run.
    #[error("the cluster stopped answering")]
    ClusterLost,
    /// A `publish:` file could not be written.
    #[error("a `publish:` file could not be written")]
    PublishFailed,
    /// A signal stopped the run.
    #[error("interrupted by {}", .0.name())]
    Signal(Signal),
}

fn plugin_message(e: &PluginError) -> String {
    match e {
        PluginError::Manifest(w) => w.to_string().trim_end().to_string(),
        other => format!("error: {other}"),
    }
}

impl CliError {
    /// The process exit code of this error (the table in README.md, checked by a test).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_)
            | CliError::Profile(_)
            | CliError::Plugin(_)
            | CliError::Workflow(_)
            | CliError::SlurmOptions(_) => exit::USAGE,
            CliError::Engine(e) => match e {
                EngineError::Cache(_) | EngineError::Table(_) | EngineError::Publish { .. } => exit::IO,
                EngineError::UnknownNode { .. } | EngineError::Output(_) | EngineError::Shards { .. } => exit::USAGE,
            },
            CliError::SlurmStart(s) => slurm_start(s),
            CliError::Cache(_)
            | CliError::Table(_)
            | CliError::Arrow(_)
            | CliError::Report(_)
            | CliError::Export(_)
            | CliError::SlurmFiles(_)
            | CliError::WorkerThreads(_)
            | CliError::PublishFailed => exit::IO,
            CliError::TasksFailed | CliError::CorruptObjects => exit::TASK_FAILED,
            CliError::ClusterLost => exit::CLUSTER,
            CliError::Signal(Signal::Interrupt) => exit::INTERRUPTED,
            CliError::Signal(Signal::Terminate) => exit::TERMINATED,
        }
    }

    /// Whether the command already showed what went wrong as it happened (the failed tasks,
    /// the signal): nothing more is printed.
    pub fn reported(&self) -> bool {
        matches!(
            self,
            CliError::TasksFailed
                | CliError::CorruptObjects
                | CliError::ClusterLost
                | CliError::PublishFailed
                | CliError::Signal(_)
        )
    }
}

/// The code of a Slurm executor that cannot start: the cluster's when its commands are missing
/// or fail, a usage error when a file of the run cannot be written there.
fn slurm_start(e: &SlurmError) -> i32 {
    match e {
        SlurmError::MissingCommand { .. } | SlurmError::Command { .. } => exit::CLUSTER,
        // A run folder that cannot be set up is a file that cannot be written, as in `exec`.
        SlurmError::Io { .. } | SlurmError::Corrupt { .. } => exit::IO,
        SlurmError::NoElement { .. } => exit::USAGE,
    }
}

impl From<SessionError> for CliError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Workflow(e) => CliError::Workflow(e),
            SessionError::Cache(e) => CliError::Cache(e),
            SessionError::Engine(e) => CliError::Engine(e),
            SessionError::Slurm(e) => CliError::SlurmStart(e),
            SessionError::WorkerThreads(e) => CliError::WorkerThreads(e),
        }
    }
}

/// What a command returns: `Ok` for exit 0.
pub type Outcome = Result<(), CliError>;
