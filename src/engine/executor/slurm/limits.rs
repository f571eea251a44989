//! Resource caps (Nextflow's `resourceLimits`): a retry asks for `retry_scale^attempt` times a
//! task's memory and time, but never more than the tighter of the node's cap (`resources:
//! {max_mem_gb, max_minutes}`) and the profile's. A task whose first request is already above a
//! cap is refused before anything is submitted. A retry at the cap asks for the cap again: an
//! out-of-memory or timeout near the limit may still pass on a quieter node, and the node's
//! `retries` bound how often.

use super::profile::Profile;
use crate::kind::Resources;

/// The caps that apply to one task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// GiB.
    pub max_mem_gb: Option<f64>,
    /// Minutes.
    pub max_minutes: Option<f64>,
}

impl Limits {
    /// The tighter of the node's caps in `r` and the profile's.
    pub fn of(r: &Resources, profile: &Profile) -> Limits {
        let tighter = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Limits {
            max_mem_gb: tighter(r.max_mem_gb, profile.max_mem_gb),
            max_minutes: tighter(r.max_minutes, profile.max_minutes),
        }
    }

    /// Why the first request of `node`'s task `r` is already above a cap, if it is.
    pub fn refuse(&self, node: &str, r: &Resources) -> Option<String> {
        let over = |what: &str, unit: &str, base: f64, cap: Option<f64>| {
            cap.filter(|&c| base > c).map(|c| {
                format!(
                    "node `{node}` asks for {base} {unit} (`resources: {{{what}}}`) but the cap is {c} {unit} \
                     (`max_{what}` of the node or the --profile); lower `{what}` or raise the cap"
                )
            })
        };
        r.mem_gb
            .and_then(|mem| over("mem_gb", "GiB", mem, self.max_mem_gb))
            .or_else(|| over("minutes", "min", r.minutes, self.max_minutes))
    }

    /// `r` with memory and time scaled by `scale^attempt`, each at most its cap.
    pub fn scaled(&self, r: Resources, scale: f64, attempt: u32) -> Resources {
        let f = scale.powi(attempt as i32);
        let capped = |x: f64, cap: Option<f64>| cap.map_or(x, |c| x.min(c));
        Resources {
            mem_gb: r.mem_gb.map(|mem| capped(mem * f, self.max_mem_gb)),
            minutes: capped(r.minutes * f, self.max_minutes),
            ..r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(mem_gb: f64, minutes: f64) -> Resources {
        Resources { mem_gb: Some(mem_gb), minutes, ..Resources::default() }
    }

    #[test]
    fn retries_grow_by_the_scale_until_the_cap_then_stay_there() {
        let limits = Limits { max_mem_gb: Some(10.0), max_minutes: Some(100.0) };
        let r = task(3.0, 30.0);
        let mems: Vec<Option<f64>> = (0..4).map(|a| limits.scaled(r, 2.0, a).mem_gb).collect();
        assert_eq!(mems, [Some(3.0), Some(6.0), Some(10.0), Some(10.0)]);
        let minutes: Vec<f64> = (0..4).map(|a| limits.scaled(r, 2.0, a).minutes).collect();
        assert_eq!(minutes, [30.0, 60.0, 100.0, 100.0]);
        let free = Limits { max_mem_gb: None, max_minutes: None };
        assert_eq!(free.scaled(r, 2.0, 3).mem_gb, Some(24.0), "no cap, no bound");
    }

    #[test]
    fn the_tighter_of_node_and_profile_caps_applies() {
        let profile = Profile { max_mem_gb: Some(64.0), max_minutes: Some(60.0), ..Profile::default() };
        let node = Resources { max_mem_gb: Some(8.0), ..task(2.0, 10.0) };
        assert_eq!(Limits::of(&node, &profile), Limits { max_mem_gb: Some(8.0), max_minutes: Some(60.0) });
        assert_eq!(Limits::of(&task(2.0, 10.0), &Profile::default()), Limits { max_mem_gb: None, max_minutes: None });
    }

    #[test]
    fn a_first_request_above_a_cap_is_refused_naming_node_key_and_fix() {
        let limits = Limits { max_mem_gb: Some(4.0), max_minutes: Some(60.0) };
        assert_eq!(limits.refuse("grn", &task(4.0, 60.0)), None, "at the cap is fine");
        let e = limits.refuse("grn", &task(16.0, 10.0)).unwrap();
        assert!(e.contains("node `grn` asks for 16 GiB") && e.contains("cap is 4 GiB"), "{e}");
        assert!(e.contains("lower `mem_gb` or raise the cap"), "{e}");
        assert!(limits.refuse("grn", &task(1.0, 90.0)).unwrap().contains("`max_minutes`"));
    }
}
