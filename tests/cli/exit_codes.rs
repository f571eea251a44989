//! The exit-code table of README.md against `src/cli/exit.rs`, where every code is defined, and
//! against `CliError::exit_code`, which gives every error its code: a code added, removed or
//! renumbered on one side only fails here.

use std::collections::BTreeSet;
use std::path::PathBuf;

use gcrl::cli::error::CliError;
use gcrl::cli::signal::Signal;
use gcrl::engine::executor::slurm::SlurmError;

fn read(file: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).expect(file)
}

/// The values of `pub const NAME: i32 = N;` in exit.rs.
fn defined() -> BTreeSet<i32> {
    read("src/cli/exit.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("pub const ")?.split_once(": i32 = ")?.1.trim_end_matches(';').parse().ok())
        .collect()
}

/// The first column of the table under `### Exit codes` in README.md.
fn documented() -> BTreeSet<i32> {
    let readme = read("README.md");
    let section = readme.split("### Exit codes").nth(1).expect("README.md has an `### Exit codes` section");
    let rows = section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
    rows.filter_map(|l| l.trim_matches('|').split('|').next()?.trim().parse().ok()).collect()
}

#[test]
fn the_readme_lists_every_exit_code_the_cli_defines() {
    let (code, readme) = (defined(), documented());
    assert_eq!(code.len(), 7, "exit.rs defines {code:?}");
    assert_eq!(code, readme, "src/cli/exit.rs defines {code:?}, README.md's exit-code table lists {readme:?}");
}

/// One error of each variant of [`CliError`] (and of each code the engine's errors take).
fn one_of_each() -> Vec<CliError> {
    let path = PathBuf::from("x");
    let io = || std::io::Error::other("x");
    vec![
        CliError::Usage("x".into()),
        CliError::Profile("x".into()),
        CliError::Plugin(gcrl::plugin::PluginError::Duplicate {
            name: "x".into(),
            first: path.clone(),
            second: path.clone(),
        }),
        CliError::Workflow(gcrl::diag::FileError::whole(&path, String::new(), "x".into(), None)),
        CliError::Engine(gcrl::engine::EngineError::Output("x".into())),
        CliError::Engine(gcrl::engine::EngineError::Cache(gcrl::cache::CacheError::MissingObject("x".into()))),
        CliError::Cache(gcrl::cache::CacheError::MissingObject("x".into())),
        CliError::Table(gcrl::table::TableError::Io { path: path.clone(), source: io() }),
        CliError::Arrow(arrow_schema::ArrowError::ComputeError("x".into())),
        CliError::Report(gcrl::report::ReportError::Write { path: path.clone(), source: io() }),
        CliError::Export("x".into()),
        CliError::SlurmOptions(gcrl::engine::executor::slurm::options::OptionError::NoArray),
        CliError::SlurmStart(SlurmError::MissingCommand { command: "sbatch".into() }),
        CliError::SlurmStart(SlurmError::Io { path: path.clone(), source: io() }),
        CliError::SlurmFiles(SlurmError::Io { path, source: io() }),
        CliError::WorkerThreads(io()),
        CliError::TasksFailed,
        CliError::CorruptObjects,
        CliError::ClusterLost,
        CliError::PublishFailed,
        CliError::Signal(Signal::Interrupt),
        CliError::Signal(Signal::Terminate),
    ]
}

/// The variant's name; a variant added to `CliError` fails to compile here (no `_` arm), and
/// the test below then fails until [`one_of_each`] has one of it.
fn variant(e: &CliError) -> &'static str {
    match e {
        CliError::Usage(_) => "Usage",
        CliError::Profile(_) => "Profile",
        CliError::Plugin(_) => "Plugin",
        CliError::Workflow(_) => "Workflow",
        CliError::Engine(_) => "Engine",
        CliError::Cache(_) => "Cache",
        CliError::Table(_) => "Table",
        CliError::Arrow(_) => "Arrow",
        CliError::Report(_) => "Report",
        CliError::Export(_) => "Export",
        CliError::SlurmOptions(_) => "SlurmOptions",
        CliError::SlurmStart(_) => "SlurmStart",
        CliError::SlurmFiles(_) => "SlurmFiles",
        CliError::WorkerThreads(_) => "WorkerThreads",
        CliError::TasksFailed => "TasksFailed",
        CliError::CorruptObjects => "CorruptObjects",
        CliError::ClusterLost => "ClusterLost",
        CliError::PublishFailed => "PublishFailed",
        CliError::Signal(_) => "Signal",
    }
}

#[test]
fn the_readme_lists_the_exit_code_of_every_cli_error() {
    let errors = one_of_each();
    let variants: BTreeSet<&str> = errors.iter().map(variant).collect();
    assert_eq!(variants.len(), 19, "one_of_each covers {variants:?}");
    // 0 is no error at all.
    let codes: BTreeSet<i32> = std::iter::once(0).chain(errors.iter().map(CliError::exit_code)).collect();
    let readme = documented();
    assert_eq!(codes, readme, "CliError::exit_code gives {codes:?}, README.md's exit-code table lists {readme:?}");
    let cluster = CliError::SlurmStart(SlurmError::MissingCommand { command: "sbatch".into() });
    assert_eq!(cluster.exit_code(), 4, "an unavailable cluster has a code of its own");
}
