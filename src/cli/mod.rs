//! The command line: flags ([`args`]), commands ([`commands`], [`run`] handing `gcrl run` to the
//! library's [`session`](crate::session), [`status`] for the Slurm runs, [`anndata`] for .h5ad exports,
//! [`runs`] for the run records, [`runlog`] for each run's log file, [`diff`] between two runs, [`compare`] for one output across runs and sweeps,
//! [`paths`] for the cached objects' files, [`profile`] for `--profile`/`GCRL_PROFILE`),
//! terminal output ([`report`]), errors ([`error`]) and their exit codes ([`exit`]).

pub mod anndata;
pub mod args;
pub mod commands;
pub mod compare;
pub mod diff;
pub mod error;
pub mod exit;
pub mod paths;
pub mod profile;
pub mod report;
pub mod run;
pub mod runlog;
pub mod runs;
pub mod signal;
pub mod status;
pub mod usage;

use clap::Parser;

use args::{Cli, Command};
use error::CliError;

/// Parses the command line, runs the command, prints, and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::USAGE } else { exit::OK };
        }
    };
    let mut registry = crate::nodes::builtin();
    if let Err(e) = crate::plugin::register(&mut registry, &cli.plugins) {
        return failed(CliError::Plugin(e));
    }
    // `gcrl exec` takes everything from its job spec and `--cache`; the head's GCRL_PROFILE,
    // exported to the job, may name a file the compute node does not have.
    let profile = match &cli.command {
        Command::Exec { .. } => Ok(profile::Profile::default()),
        _ => profile::chosen(cli.profile.as_deref()),
    };
    let profile = match profile {
        Ok(p) => p,
        Err(message) => return failed(CliError::Profile(message)),
    };
    let cache = cli.cache.as_deref().or(profile.cache.as_deref()).unwrap_or(std::path::Path::new("cache"));
    if !matches!(cli.command, Command::Run { .. } | Command::Exec { .. }) {
        signal::die_quietly_on_closed_pipe();
    }
    let result = match &cli.command {
        Command::Run { workflow, force, until, json, dry_run: true, .. } => {
            commands::plan_cmd(workflow, registry, cache, force, until, *json)
        }
        Command::Run { workflow, jobs, gpus, force, until, json, executor, dry_run: false } => {
            let jobs = jobs.or(profile.jobs);
            run::run(workflow, registry, cache, jobs, *gpus, force, until, *json, cli.quiet, executor, &profile)
        }
        Command::Exec { spec, element } => commands::exec(&registry, cache, spec, *element),
        Command::Status { workflow, json } => status::status(registry, cache, workflow.as_deref(), *json),
        Command::Plan { workflow, force, until, json } => {
            commands::plan_cmd(workflow, registry, cache, force, until, *json)
        }
        Command::Runs { workflow, json } => runs::runs(workflow, registry, cache, *json),
        Command::Compare { workflow, output, to, json } => {
            compare::compare(workflow, registry, cache, output, to.as_deref(), *json)
        }
        Command::Diff { run_a, run_b, json } => diff::diff(cache, run_a, run_b, *json),
        Command::Dag { workflow, format } => commands::dag(workflow, registry, *format),
        Command::Kinds { kind, json } => commands::kinds(&registry, kind.as_deref(), *json),
        Command::Show { workflow, output, rows } => commands::show(workflow, registry, cache, output, *rows),
        Command::Paths { workflow, json } => paths::paths(workflow, registry, cache, *json),
        Command::Export { workflow, output, to, obs, var, obsm, varm } => {
            let with = commands::ExportWith { obs: obs.as_deref(), var: var.as_deref(), obsm, varm };
            commands::export(workflow, registry, cache, output, to, &with)
        }
        Command::Report { workflow, out } => commands::report(workflow, registry, cache, out),
        Command::Cache { action } => commands::cache(action, registry, cache),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => failed(e),
    }
}

/// Prints `e` (unless the command already showed it) and returns its exit code.
fn failed(e: CliError) -> i32 {
    if !e.reported() {
        eprintln!("{e}");
    }
    e.exit_code()
}
