//! Errors of the Slurm executor: missing client commands, an unreachable controller,
//! files of the run directory that cannot be written. Each message names the file or flag and the fix.

use std::path::PathBuf;

use thiserror::Error;

/// Why the Slurm executor cannot start or go on.
#[derive(Debug, Error)]
pub enum SlurmError {
    /// A Slurm client command is not on PATH.
    #[error(
        "`{command}` was not found on PATH: --executor slurm needs the Slurm client commands (sbatch, squeue, \
         scancel); run on a login node of the cluster, install slurm-client, or leave out --executor slurm"
    )]
    MissingCommand {
        /// The command.
        command: String,
    },
    /// A Slurm command failed or did not answer.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line, shortened.
        command: String,
        /// Its error output, or the timeout.
        message: String,
    },
    /// A file of the run directory or a job spec could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A job spec or report is not what this gcrl writes.
    #[error("{path}: unreadable ({message}); was it written by another gcrl version?")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },
    /// `gcrl exec` was asked for an element its job does not have.
    #[error("{path}: the job has {elements} element(s); element {element} does not exist")]
    NoElement {
        /// The job spec.
        path: PathBuf,
        /// Elements in the job.
        elements: usize,
        /// The element asked for.
        element: usize,
    },
}

impl SlurmError {
    /// Whether the cluster itself is unavailable (client commands missing or failing, the
    /// controller not answering), as opposed to a bad file or spec.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, SlurmError::MissingCommand { .. } | SlurmError::Command { .. })
    }
}

/// Wraps an I/O error with its path.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SlurmError {
    let path = path.into();
    move |source| SlurmError::Io { path, source }
}
