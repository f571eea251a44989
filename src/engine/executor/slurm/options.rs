//! The Slurm settings of a run as given (`--slurm-target-minutes`, `--slurm-max-array`,
//! `--slurm-poll`), checked into [`SlurmOptions`]: positive, finite numbers, at least one
//! element per array; given to the local executor, they are refused, not ignored.

use std::time::Duration;

use thiserror::Error;

use super::SlurmOptions;
use super::profile::Profile;

/// The Slurm flags of `gcrl run`, `None` where not given.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SlurmFlags {
    /// `--slurm-target-minutes` (default 10).
    pub target_minutes: Option<f64>,
    /// `--slurm-max-array` (default 1000).
    pub max_array: Option<usize>,
    /// `--slurm-poll`, seconds (default 10).
    pub poll: Option<f64>,
}

/// A Slurm setting that cannot be used; each names its flag and the fix.
#[derive(Debug, Error, PartialEq)]
pub enum OptionError {
    /// A Slurm flag given to a run on another executor.
    #[error("`{flag}` applies to `--executor slurm`; add it or drop `{flag}`")]
    NotSlurm {
        /// The flag.
        flag: &'static str,
    },
    /// A duration that is zero, negative or not finite.
    #[error("`{flag}` must be a positive number of {unit}, got {value}")]
    NotPositive {
        /// The flag.
        flag: &'static str,
        /// Minutes or seconds.
        unit: &'static str,
        /// What was given.
        value: f64,
    },
    /// `--slurm-max-array 0`.
    #[error("`--slurm-max-array` must be at least 1")]
    NoArray,
}

impl SlurmFlags {
    /// For a run that does not use Slurm: refuses the first flag given.
    pub fn unused(&self) -> Result<(), OptionError> {
        let given = [
            (self.target_minutes.is_some(), "--slurm-target-minutes"),
            (self.max_array.is_some(), "--slurm-max-array"),
            (self.poll.is_some(), "--slurm-poll"),
        ];
        match given.iter().find(|(set, _)| *set) {
            Some((_, flag)) => Err(OptionError::NotSlurm { flag }),
            None => Ok(()),
        }
    }

    /// The options of a Slurm run with `profile`, the defaults where a flag is not given.
    pub fn checked(&self, profile: Profile) -> Result<SlurmOptions, OptionError> {
        let positive = |v: Option<f64>, default: f64, flag: &'static str, unit: &'static str| match v {
            Some(value) if !(value > 0.0 && value.is_finite()) => Err(OptionError::NotPositive { flag, unit, value }),
            Some(x) => Ok(x),
            None => Ok(default),
        };
        let target_minutes = positive(self.target_minutes, 10.0, "--slurm-target-minutes", "minutes")?;
        let poll = positive(self.poll, 10.0, "--slurm-poll", "seconds")?;
        let max_array = self.max_array.unwrap_or(1000);
        if max_array == 0 {
            return Err(OptionError::NoArray);
        }
        Ok(SlurmOptions { profile, target_minutes, max_array, poll: Duration::from_secs_f64(poll) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_where_no_flag_is_given() {
        let o = SlurmFlags::default().checked(Profile::default()).unwrap();
        assert_eq!((o.target_minutes, o.max_array, o.poll), (10.0, 1000, Duration::from_secs(10)));
    }

    #[test]
    fn bad_values_name_their_flag() {
        let flags = SlurmFlags { poll: Some(0.0), ..Default::default() };
        let e = flags.checked(Profile::default()).unwrap_err();
        assert_eq!(e.to_string(), "`--slurm-poll` must be a positive number of seconds, got 0");
        let flags = SlurmFlags { target_minutes: Some(f64::INFINITY), ..Default::default() };
        assert_eq!(
            flags.checked(Profile::default()).unwrap_err(),
            OptionError::NotPositive { flag: "--slurm-target-minutes", unit: "minutes", value: f64::INFINITY }
        );
        let flags = SlurmFlags { max_array: Some(0), ..Default::default() };
        assert_eq!(flags.checked(Profile::default()).unwrap_err(), OptionError::NoArray);
    }

    #[test]
    fn a_local_run_refuses_the_first_slurm_flag() {
        assert_eq!(SlurmFlags::default().unused(), Ok(()));
        let flags = SlurmFlags { max_array: Some(5), poll: Some(1.0), ..Default::default() };
        assert_eq!(flags.unused(), Err(OptionError::NotSlurm { flag: "--slurm-max-array" }));
    }
}
