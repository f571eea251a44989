//! The cluster profile (`--profile slurm.yaml`): where jobs go and what every `sbatch` gets.
//!
//! ```yaml
//! partition: gpu          # -p
//! account: lab42          # -A
//! qos: normal             # --qos
//! sbatch_flags: ["--constraint=avx2", "--exclusive"]   # appended verbatim
//! gcrl: /shared/bin/gcrl  # gcrl on the compute nodes (default: this binary's path)
//! retry_scale: 2          # a retry asks for this many times more memory and time, per attempt
//! array_parallel: 50      # at most this many elements of one array at once (%50)
//! max_mem_gb: 64          # no request (retries included) asks for more memory than this
//! max_minutes: 1440       # … nor for a longer time (Nextflow's resourceLimits)
//! ```
//! Unknown keys and wrong types are errors naming the file, the line and the fix.

use std::path::{Path, PathBuf};

use super::error::SlurmError;
use crate::workflow::suggest::hint;
use crate::workflow::yaml::{Node, Yaml, parse_at};

/// The keys a profile may have.
pub const KEYS: &[&str] = &[
    "partition",
    "account",
    "qos",
    "sbatch_flags",
    "gcrl",
    "retry_scale",
    "array_parallel",
    // Resource caps.
    "max_mem_gb",
    "max_minutes",
];

/// A parsed profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// `-p`.
    pub partition: Option<String>,
    /// `-A`.
    pub account: Option<String>,
    /// `--qos`.
    pub qos: Option<String>,
    /// Extra sbatch flags, verbatim.
    pub sbatch_flags: Vec<String>,
    /// The gcrl binary on the compute nodes.
    pub gcrl: Option<PathBuf>,
    /// Memory and time factor per retry (≥ 1).
    pub retry_scale: f64,
    /// Array throttle (`%K`).
    pub array_parallel: Option<usize>,
    /// The most memory (GiB) any request may ask for.
    pub max_mem_gb: Option<f64>,
    /// The longest time (minutes) any request may ask for.
    pub max_minutes: Option<f64>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            partition: None,
            account: None,
            qos: None,
            sbatch_flags: Vec::new(),
            gcrl: None,
            retry_scale: 2.0,
            array_parallel: None,
            max_mem_gb: None,
            max_minutes: None,
        }
    }
}

impl Profile {
    /// Reads and checks the profile at `path`.
    pub fn load(path: &Path) -> Result<Profile, SlurmError> {
        let text = std::fs::read_to_string(path).map_err(|e| SlurmError::Profile {
            path: path.into(),
            line: None,
            message: format!("cannot read the --profile file ({e})"),
        })?;
        Profile::parse(&text, path)
    }

    /// Parses profile text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Profile, SlurmError> {
        let err = |line: usize, message: String| SlurmError::Profile {
            path: path.into(),
            line: (line > 0).then_some(line),
            message,
        };
        let root = parse_at(text).map_err(|(m, pos)| err(pos.line, m))?;
        let entries = match root.value {
            Yaml::Map(entries) => entries,
            Yaml::Null => Vec::new(),
            _ => return Err(err(root.pos.line, format!("a profile is a mapping of keys ({})", KEYS.join(", ")))),
        };
        let mut p = Profile::default();
        for (key, value) in entries {
            let line = key.pos.line;
            let text = |v: &Node| match &v.value {
                Yaml::Str(s) if !s.trim().is_empty() => Ok(s.clone()),
                Yaml::Int(i) => Ok(i.to_string()),
                _ => Err(err(v.pos.line, format!("`{}` must be a non-empty string", key.name))),
            };
            match key.name.as_str() {
                "partition" => p.partition = Some(text(&value)?),
                "account" => p.account = Some(text(&value)?),
                "qos" => p.qos = Some(text(&value)?),
                "gcrl" => p.gcrl = Some(PathBuf::from(text(&value)?)),
                "sbatch_flags" => {
                    let Yaml::Seq(items) = &value.value else {
                        return Err(err(
                            value.pos.line,
                            "`sbatch_flags` must be a list of flags, e.g. [\"--exclusive\"]".into(),
                        ));
                    };
                    for item in items {
                        let flag = text(item)?;
                        if !flag.starts_with('-') {
                            return Err(err(
                                item.pos.line,
                                format!("sbatch flag `{flag}` must start with `-` (e.g. `--constraint=avx2`)"),
                            ));
                        }
                        p.sbatch_flags.push(flag);
                    }
                }
                "retry_scale" => {
                    p.retry_scale = match value.value {
                        Yaml::Int(i) if i >= 1 => i as f64,
                        Yaml::Float(f) if f >= 1.0 => f,
                        _ => {
                            return Err(err(
                                value.pos.line,
                                "`retry_scale` must be a number ≥ 1 (1 = no scaling)".into(),
                            ));
                        }
                    }
                }
                "array_parallel" => {
                    p.array_parallel = match value.value {
                        Yaml::Int(i) if i >= 1 => Some(i as usize),
                        _ => return Err(err(value.pos.line, "`array_parallel` must be a positive integer".into())),
                    }
                }
                "max_mem_gb" => p.max_mem_gb = Some(cap(&value, "max_mem_gb").map_err(|m| err(value.pos.line, m))?),
                "max_minutes" => p.max_minutes = Some(cap(&value, "max_minutes").map_err(|m| err(value.pos.line, m))?),
                other => {
                    let h = hint(other, KEYS.iter().copied());
                    let fix = if h.is_empty() { format!("the keys are {}", KEYS.join(", ")) } else { h };
                    return Err(err(line, format!("unknown key `{other}` in the Slurm profile; {fix}")));
                }
            }
        }
        Ok(p)
    }

    /// The sbatch flags every job of this profile gets.
    pub fn flags(&self) -> Vec<String> {
        let mut f = Vec::new();
        if let Some(p) = &self.partition {
            f.push(format!("--partition={p}"));
        }
        if let Some(a) = &self.account {
            f.push(format!("--account={a}"));
        }
        if let Some(q) = &self.qos {
            f.push(format!("--qos={q}"));
        }
        f.extend(self.sbatch_flags.iter().cloned());
        f
    }
}

/// A resource cap: a positive number.
fn cap(value: &Node, key: &str) -> Result<f64, String> {
    match value.value {
        Yaml::Int(i) if i > 0 => Ok(i as f64),
        Yaml::Float(f) if f > 0.0 => Ok(f),
        _ => Err(format!("`{key}` must be a positive number (the most any request may ask for)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Profile, String> {
        Profile::parse(text, Path::new("slurm.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_profile_becomes_sbatch_flags() {
        let p = parse("partition: gpu\naccount: lab\nqos: high\nsbatch_flags: [\"--exclusive\"]\nretry_scale: 1.5\n")
            .unwrap();
        assert_eq!(p.flags(), ["--partition=gpu", "--account=lab", "--qos=high", "--exclusive"]);
        assert_eq!(p.retry_scale, 1.5);
    }

    #[test]
    fn an_unknown_key_names_file_line_and_the_fix() {
        let e = parse("qos: normal\npartiton: debug\n").unwrap_err();
        assert_eq!(e, "slurm.yaml:2: unknown key `partiton` in the Slurm profile; did you mean `partition`?");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse("retry_scale: 0.5\n").unwrap_err().contains("`retry_scale` must be a number ≥ 1"));
        assert!(parse("max_mem_gb: 0\n").unwrap_err().contains("slurm.yaml:1: `max_mem_gb` must be a positive number"));
        assert!(parse("max_minutes: soon\n").unwrap_err().contains("`max_minutes` must be a positive number"));
        let caps = parse("max_mem_gb: 64\nmax_minutes: 90.5\n").unwrap();
        assert_eq!((caps.max_mem_gb, caps.max_minutes), (Some(64.0), Some(90.5)));
        assert!(parse("sbatch_flags: [exclusive]\n").unwrap_err().contains("must start with `-`"));
        assert!(parse("- a\n").unwrap_err().contains("a profile is a mapping"));
        assert_eq!(parse("").unwrap(), Profile::default());
    }
}
