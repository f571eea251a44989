//! Integration tests that drive the `gcrl` binary as a user would (house rule 10): each test
//! gets a temp directory with a workflow and a cache, built with [`cli::test::Test`].
//!
//! Modules: `rerun` (no-op, `--set`, early cutoff, shards, `--force`, `--until`), `cache`
//! (determinism across `-j`, SIGKILL, corruption, concurrent runs), `failure` (a failing task),
//! `faults` (Ctrl-C, SIGTERM, kill -9 at many moments, each kind of cache damage, read-only
//! caches, odd paths, a full disk),
//! `malformed` (workflows that must be refused with a clear error), `models` (the gCRL-AE kinds), `gpu` (CPU vs GPU
//! training; `cuda` builds, ignored without a GPU),
//! `seal` (the no-op fast path), `sweeps` (zipped sweeps, `--set node.param=[…]`), `history` (`log`, run log files, `diff`), `compare` (one output across sweeps and runs), `load_layouts` (`load` on mtx/Parse layouts and a joined cell table), `commands` (`kinds`, `dag`, `show`, `export`), `slurm` (`--executor slurm` on a real cluster,
//! `exec`, `status`), `plugins` (external kinds), `profiles` (`--profile`, `GCRL_PROFILE` and the precedence of run defaults), `report` (the HTML report in headless Chromium), `report_node` (the `report` kind and `publish:`),
//! `resources` (measured CPU time and peak memory, the report's suggestions, resource caps), `python` (`gcrl paths` and the Python package in `python/`), `varm` (`export --varm` to .h5ad).

pub mod fixtures;
pub mod test;

mod cache;
mod commands;
mod compare;
mod exit_codes;
mod failure;
mod faults;
#[cfg(feature = "cuda")]
mod gpu;
mod history;
mod load;
mod load_layouts;
mod malformed;
mod models;
mod plugins;
mod profiles;
mod python;
mod report;
mod report_node;
mod rerun;
mod resources;
mod seal;
mod slurm;
mod sweeps;
mod varm;
