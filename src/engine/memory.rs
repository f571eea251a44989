//! Memory: what one task is expected to need, and what the machine offers a run.
//!
//! A kind estimates the peak of one task from its parameters and the sizes of its inputs
//! ([`NodeKind::memory`](crate::kind::NodeKind::memory), given [`InputSizes`] once its producers are done); an
//! explicit `resources: {mem_gb}` replaces the estimate. The local scheduler keeps the sum of
//! the demands of the running tasks within a [`Budget`]: `gcrl run --mem-limit GB` (hard: a task
//! whose demand alone is above it fails before it starts), else the machine's available memory at
//! the start of the run (soft: estimates are upper bounds, so a task above it waits until nothing
//! else runs and then runs alone). The Slurm executor asks for the demand instead
//! ([`request_gb`]).

use crate::kind::memory::{GIB, InputSizes, MIB};

/// The memory one task asks for: `bytes`, from an explicit `resources: {mem_gb}` or the kind's
/// estimate over `inputs` bytes of inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Demand {
    /// Bytes it may use at its peak.
    pub bytes: u64,
    /// Bytes of its inputs.
    pub inputs: u64,
    /// Whether `bytes` comes from the workflow's `resources: {mem_gb}`.
    pub explicit: bool,
}

impl Demand {
    /// The demand of a task whose workflow set `mem_gb` (or not) and whose kind estimates
    /// `estimate` for `sizes`.
    pub fn of(mem_gb: Option<f64>, sizes: &InputSizes, estimate: impl FnOnce(&InputSizes) -> u64) -> Demand {
        let inputs = sizes.total();
        match mem_gb {
            Some(gb) => Demand { bytes: (gb * GIB as f64).ceil() as u64, inputs, explicit: true },
            None => Demand { bytes: estimate(sizes), inputs, explicit: false },
        }
    }

    /// Why node `node`'s task cannot run within `budget`, naming the fixes.
    pub fn refusal(&self, node: &str, budget: &Budget) -> String {
        let limit = human(budget.bytes);
        if self.explicit {
            format!(
                "node `{node}` asks for {} of memory (`resources: {{mem_gb}}`), more than --mem-limit {limit}; \
                 raise --mem-limit or lower `mem_gb`",
                human(self.bytes)
            )
        } else {
            format!(
                "node `{node}` needs an estimated {} of memory (from {} of inputs), more than --mem-limit {limit}; \
                 raise --mem-limit, set `resources: {{mem_gb: …}}` on `{node}` if the estimate is too high, \
                 or subsample its input",
                human(self.bytes),
                human(self.inputs)
            )
        }
    }
}

/// The memory a run's running tasks may ask for together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes.
    pub bytes: u64,
    /// `--mem-limit`: a task asking for more fails before it starts. Otherwise (the machine's
    /// available memory) such a task runs alone.
    pub hard: bool,
}

impl Budget {
    /// `--mem-limit GB`.
    pub fn limit(gb: f64) -> Budget {
        Budget { bytes: (gb * GIB as f64) as u64, hard: true }
    }

    /// The memory available now (`MemAvailable` of `/proc/meminfo`; elsewhere the physical
    /// memory; `None` when neither can be read).
    pub fn available() -> Option<Budget> {
        let bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| mem_available(&t)).or_else(physical)?;
        Some(Budget { bytes, hard: false })
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kb: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kb * 1024)
}

/// The machine's physical memory, from `sysconf`.
fn physical() -> Option<u64> {
    // SAFETY: sysconf reads system constants and has no preconditions.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && size > 0).then(|| pages as u64 * size as u64)
}

/// The smallest memory request a Slurm job makes for an estimated task, GiB.
pub const SLURM_FLOOR_GB: f64 = 1.0;

/// What a Slurm job asks for a task whose workflow did not set `mem_gb`: its estimated `bytes`
/// rounded up to a quarter GiB (so the shards of one node share an array), at least
/// [`SLURM_FLOOR_GB`].
pub fn request_gb(bytes: u64) -> f64 {
    ((bytes as f64 / GIB as f64 * 4.0).ceil() / 4.0).max(SLURM_FLOOR_GB)
}

/// `bytes` for people: MiB below a GiB, else GiB with two decimals.
pub fn human(bytes: u64) -> String {
    if bytes < GIB { format!("{} MiB", bytes.div_ceil(MIB)) } else { format!("{:.2} GiB", bytes as f64 / GIB as f64) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kind::memory::{BASE, OnDisk};

    #[test]
    fn mem_available_is_read_from_meminfo() {
        let text = "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   16000000 kB\n";
        assert_eq!(mem_available(text), Some(16_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
        assert!(Budget::available().is_some_and(|b| b.bytes > 0 && !b.hard));
    }

    #[test]
    fn demands_come_from_mem_gb_or_the_estimate_and_slurm_rounds_them_up() {
        let on_disk = |bytes| OnDisk { bytes, path: "x.arrow".into() };
        let sizes = InputSizes::new(BTreeMap::from([("x".into(), vec![on_disk(10 * MIB), on_disk(5 * MIB)])]), 2 * MIB);
        assert_eq!((sizes.port("x"), sizes.port("y"), sizes.total()), (15 * MIB, 0, 17 * MIB));
        assert_eq!(sizes.default_estimate(), BASE + 51 * MIB);
        assert_eq!(sizes.times(0.5), BASE + 17 * MIB / 2);
        let estimated = Demand::of(None, &sizes, |s| s.total() * 2);
        assert_eq!(estimated, Demand { bytes: 34 * MIB, inputs: 17 * MIB, explicit: false });
        let explicit = Demand::of(Some(1.5), &sizes, |_| unreachable!("mem_gb wins"));
        assert_eq!(explicit.bytes, 3 * GIB / 2);
        assert_eq!(request_gb(34 * MIB), SLURM_FLOOR_GB);
        assert_eq!(request_gb(5 * GIB / 2 + 1), 2.75);
        assert_eq!(request_gb(3 * GIB), 3.0);
        let msg = estimated.refusal("big", &Budget::limit(0.01));
        assert!(msg.contains("node `big` needs an estimated 34 MiB of memory (from 17 MiB of inputs)"), "{msg}");
        assert!(msg.contains("--mem-limit 11 MiB") && msg.contains("mem_gb: …"), "{msg}");
        assert!(explicit.refusal("big", &Budget::limit(1.0)).contains("asks for 1.50 GiB"));
    }
}
