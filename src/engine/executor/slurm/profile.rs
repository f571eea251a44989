//! The Slurm keys of a profile (`--profile NAME`, read by `cli::profile`): where jobs go and
//! what every `sbatch` gets.
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
//! Wrong types are errors at the value's line and column; every one is reported.

use std::path::PathBuf;

use crate::diag::Diags;
use crate::diag::yaml::{Key, Node, Yaml};

/// The Slurm keys of a profile.
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
    /// Takes `key: value` if `key` is a Slurm key (else `false`, and nothing is recorded);
    /// a wrong value goes to `diags`.
    pub fn set(&mut self, diags: &mut Diags, key: &Key, value: &Node) -> bool {
        let mut bad = |message: String| diags.at_node(value, message, String::new());
        let text = |v: &Node| match &v.value {
            Yaml::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            Yaml::Int(i) => Some(i.to_string()),
            _ => None,
        };
        let must_be_text = format!("`{}` must be a non-empty string", key.name);
        match key.name.as_str() {
            "partition" | "account" | "qos" | "gcrl" => match text(value) {
                Some(t) => match key.name.as_str() {
                    "partition" => self.partition = Some(t),
                    "account" => self.account = Some(t),
                    "qos" => self.qos = Some(t),
                    _ => self.gcrl = Some(PathBuf::from(t)),
                },
                None => bad(must_be_text),
            },
            "sbatch_flags" => {
                let Yaml::Seq(items) = &value.value else {
                    bad("`sbatch_flags` must be a list of flags, e.g. [\"--exclusive\"]".into());
                    return true;
                };
                for item in items {
                    match text(item) {
                        Some(flag) if flag.starts_with('-') => self.sbatch_flags.push(flag),
                        Some(flag) => diags.at_node(
                            item,
                            format!("sbatch flag `{flag}` must start with `-` (e.g. `--constraint=avx2`)"),
                            String::new(),
                        ),
                        None => {
                            diags.at_node(item, "each sbatch flag must be a non-empty string".into(), String::new())
                        }
                    }
                }
            }
            "retry_scale" => match value.value {
                Yaml::Int(i) if i >= 1 => self.retry_scale = i as f64,
                Yaml::Float(f) if f >= 1.0 => self.retry_scale = f,
                _ => bad("`retry_scale` must be a number ≥ 1 (1 = no scaling)".into()),
            },
            "array_parallel" => match value.value {
                Yaml::Int(i) if i >= 1 => self.array_parallel = Some(i as usize),
                _ => bad("`array_parallel` must be a positive integer".into()),
            },
            "max_mem_gb" | "max_minutes" => match cap(value) {
                Some(x) if key.name == "max_mem_gb" => self.max_mem_gb = Some(x),
                Some(x) => self.max_minutes = Some(x),
                None => bad(format!("`{}` must be a positive number (the most any request may ask for)", key.name)),
            },
            _ => return false,
        }
        true
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
fn cap(value: &Node) -> Option<f64> {
    match value.value {
        Yaml::Int(i) if i > 0 => Some(i as f64),
        Yaml::Float(f) if f > 0.0 => Some(f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Slurm keys of `text` (every key must be one), or the problems.
    fn parse(text: &str) -> Result<Profile, String> {
        let mut d = Diags::default();
        let root = d.parse(text).unwrap();
        let mut p = Profile::default();
        for (k, v) in d.mapping(&root, "the profile").unwrap_or_default().to_vec() {
            assert!(p.set(&mut d, &k, &v), "{} is a Slurm key", k.name);
        }
        d.finish(std::path::Path::new("slurm.yaml"), text, Some(p)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_profile_becomes_sbatch_flags() {
        let p = parse("partition: gpu\naccount: lab\nqos: high\nsbatch_flags: [\"--exclusive\"]\nretry_scale: 1.5\n")
            .unwrap();
        assert_eq!(p.flags(), ["--partition=gpu", "--account=lab", "--qos=high", "--exclusive"]);
        assert_eq!(p.retry_scale, 1.5);
    }

    #[test]
    fn other_keys_are_left_to_the_caller() {
        let (mut d, mut p) = (Diags::default(), Profile::default());
        let root = d.parse("jobs: 4\n").unwrap();
        let Yaml::Map(entries) = &root.value else { panic!() };
        assert!(!p.set(&mut d, &entries[0].0, &entries[0].1));
        assert!(d.is_empty());
    }

    #[test]
    fn bad_values_are_refused_each_at_its_place() {
        assert!(parse("retry_scale: 0.5\n").unwrap_err().contains("`retry_scale` must be a number ≥ 1"));
        assert!(parse("max_mem_gb: 0\n").unwrap_err().contains("slurm.yaml:1:13"));
        assert!(parse("max_minutes: soon\n").unwrap_err().contains("`max_minutes` must be a positive number"));
        let caps = parse("max_mem_gb: 64\nmax_minutes: 90.5\n").unwrap();
        assert_eq!((caps.max_mem_gb, caps.max_minutes), (Some(64.0), Some(90.5)));
        let e = parse("sbatch_flags: [exclusive]\nqos: []\n").unwrap_err();
        assert!(e.contains("slurm.yaml:1:16") && e.contains("must start with `-`"), "{e}");
        assert!(e.contains("slurm.yaml:2:6") && e.contains("`qos` must be a non-empty string"), "all errors: {e}");
        assert_eq!(parse("").unwrap(), Profile::default());
    }
}
