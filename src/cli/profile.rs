//! Profiles: a YAML file of run defaults (`jobs`, `cache`, `executor`) and Slurm settings,
//! named by `--profile NAME` or `GCRL_PROFILE`. NAME is a file when one exists at that path, else
//! `$XDG_CONFIG_HOME/gcrl/NAME.yaml` (`~/.config/gcrl/NAME.yaml` without XDG_CONFIG_HOME).
//!
//! ```yaml
//! jobs: 8                 # -j
//! cache: /scratch/me/gcrl # --cache (relative: to the working directory; `~/` is $HOME)
//! executor: slurm         # --executor
//! partition: gpu          # the Slurm keys of `engine::executor::slurm::profile`
//! ```
//! Precedence: a flag, then its environment variable (`GCRL_CACHE`), then the profile, then the
//! built-in default. The Slurm keys apply only when the executor is `slurm` and are otherwise
//! ignored (checked all the same), so one profile serves both executors. Every problem is
//! reported, positioned, with a did-you-mean for a misspelt key.

use std::path::{Path, PathBuf};

use super::args::ExecutorKind;
use crate::diag::report::read_text;
use crate::diag::suggest::hint;
use crate::diag::yaml::{Node, Yaml};
use crate::diag::{Diags, FileError};
use crate::engine::executor::slurm::profile::{KEYS as SLURM_KEYS, Profile as SlurmProfile};

/// The run defaults a profile may set, besides the Slurm keys.
pub const RUN_KEYS: &[&str] = &["jobs", "cache", "executor"];

/// A parsed profile (the default one is empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// `-j`.
    pub jobs: Option<usize>,
    /// `--cache`.
    pub cache: Option<PathBuf>,
    /// `--executor`.
    pub executor: Option<ExecutorKind>,
    /// The Slurm settings (used with `--executor slurm` only).
    pub slurm: SlurmProfile,
}

/// The profile named by `flag`, else by `GCRL_PROFILE`, else the empty one; the error is the
/// message to print.
pub fn chosen(flag: Option<&str>) -> Result<Profile, String> {
    let from_env = std::env::var("GCRL_PROFILE").ok().filter(|v| !v.trim().is_empty());
    let (name, origin) = match (flag, from_env.as_deref()) {
        (Some(name), _) => (name, "--profile"),
        (None, Some(name)) => (name, "GCRL_PROFILE"),
        (None, None) => return Ok(Profile::default()),
    };
    let path = find(name).map_err(|looked| {
        let list: String = looked.iter().map(|p| format!("\n  {}", p.display())).collect();
        format!(
            "error: no profile `{name}` (from {origin}); looked for:{list}\n  = help: write the profile to one \
             of these files, or give the path of a profile file"
        )
    })?;
    let text = read_text(&path, "profile").map_err(|e| e.to_string().trim_end().to_string())?;
    parse(&path, &text).map_err(|e| e.to_string().trim_end().to_string())
}

/// The file of profile `name`: `name` itself when it is a file, else `NAME.yaml` in the
/// configuration folder; the error lists the places looked at.
fn find(name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let mut looked = vec![PathBuf::from(name)];
    if looked[0].is_file() {
        return Ok(looked.remove(0));
    }
    let is_name = !name.is_empty() && !name.chars().any(std::path::is_separator);
    if let Some(dir) = config_dir().filter(|_| is_name) {
        let file =
            if name.ends_with(".yaml") || name.ends_with(".yml") { name.to_string() } else { format!("{name}.yaml") };
        let path = dir.join("gcrl").join(file);
        if path.is_file() {
            return Ok(path);
        }
        looked.push(path);
    }
    Err(looked)
}

/// `$XDG_CONFIG_HOME` when set to an absolute path (the XDG rule), else `$HOME/.config`.
fn config_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    xdg.or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".config")))
}

/// Parses profile text; `path` is for messages.
pub fn parse(path: &Path, text: &str) -> Result<Profile, FileError> {
    let mut d = Diags::default();
    let Some(root) = d.parse(text) else { return d.finish(path, text, None) };
    let mut p = Profile::default();
    let what = "the profile";
    if let Some(entries) = d.mapping(&root, what) {
        let all: Vec<&str> = RUN_KEYS.iter().chain(SLURM_KEYS).copied().collect();
        for entry @ (key, value) in entries {
            match key.name.as_str() {
                "jobs" => match value.value {
                    Yaml::Int(j) if j >= 1 => p.jobs = Some(j as usize),
                    _ => d.at_node(
                        value,
                        "`jobs` must be a whole number ≥ 1 (tasks at once, as -j)".into(),
                        String::new(),
                    ),
                },
                "cache" => match &value.value {
                    Yaml::Str(s) if !s.trim().is_empty() => p.cache = Some(home(s)),
                    _ => d.at_node(value, "`cache` must be a folder path, as --cache".into(), String::new()),
                },
                "executor" => p.executor = executor(&mut d, value),
                _ if p.slurm.set(&mut d, key, value) => {}
                _ => d.check_keys(std::slice::from_ref(entry), &all, what),
            }
        }
    }
    d.finish(path, text, Some(p))
}

/// `executor: local|slurm`; anything else is recorded, with a did-you-mean.
fn executor(d: &mut Diags, value: &Node) -> Option<ExecutorKind> {
    match &value.value {
        Yaml::Str(s) if s == "local" => return Some(ExecutorKind::Local),
        Yaml::Str(s) if s == "slurm" => return Some(ExecutorKind::Slurm),
        _ => {}
    }
    let (found, h) = match &value.value {
        Yaml::Str(s) => (format!("`{s}`"), hint(s, ["local", "slurm"])),
        other => (other.type_name().to_string(), String::new()),
    };
    d.at_node(value, format!("`executor` must be `local` or `slurm`, found {found}"), h);
    None
}

/// `~/x` as `$HOME/x`; anything else as written.
fn home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(h)) => PathBuf::from(h).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Profile, String> {
        parse(Path::new("lab.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn run_defaults_and_slurm_keys_live_side_by_side() {
        let p = read("jobs: 3\ncache: /scratch/c\nexecutor: slurm\npartition: gpu\n").unwrap();
        assert_eq!(
            (p.jobs, p.cache.as_deref(), p.executor),
            (Some(3), Some(Path::new("/scratch/c")), Some(ExecutorKind::Slurm))
        );
        assert_eq!(p.slurm.partition.as_deref(), Some("gpu"));
        assert_eq!(read("").unwrap(), Profile::default());
    }

    #[test]
    fn every_mistake_is_reported_with_line_column_and_fix() {
        let e = read("jbos: 2\nexecutor: slurmm\npartiton: x\nretry_scale: 0\n").unwrap_err();
        for needle in [
            "error: unknown key `jbos` in the profile\n  --> lab.yaml:1:1",
            "did you mean `jobs`?",
            "`executor` must be `local` or `slurm`, found `slurmm`\n  --> lab.yaml:2:11",
            "did you mean `slurm`?",
            "unknown key `partiton` in the profile\n  --> lab.yaml:3:1",
            "did you mean `partition`?",
            "`retry_scale` must be a number ≥ 1 (1 = no scaling)\n  --> lab.yaml:4:14",
        ] {
            assert!(e.contains(needle), "{needle:?} in:\n{e}");
        }
        assert!(read("- a\n").unwrap_err().contains("the profile must be a mapping"));
        assert!(read("jobs: 0\n").unwrap_err().contains("`jobs` must be a whole number ≥ 1"));
    }
}
