//! Exit codes, in one place.

/// Everything ran (or was cached).
pub const OK: i32 = 0;
/// At least one task failed; the independent ones finished.
pub const TASK_FAILED: i32 = 1;
/// The workflow or the command line is wrong; nothing ran.
pub const USAGE: i32 = 2;
/// The cache or a file could not be read or written.
pub const IO: i32 = 3;
/// The cluster is unavailable: the Slurm commands are missing or fail, or the controller does
/// not answer, at the start (nothing was submitted) or to `sbatch` during the run.
pub const CLUSTER: i32 = 4;
/// The run was interrupted by Ctrl-C (SIGINT; 128 + 2, as a shell reports it).
pub const INTERRUPTED: i32 = 130;
/// The run was stopped by SIGTERM (128 + 15).
pub const TERMINATED: i32 = 143;
