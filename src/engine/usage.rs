//! Measuring what a task costs: CPU time from `getrusage(RUSAGE_SELF)` and peak resident memory
//! from the kernel's high-water mark (`VmHWM`), both of the whole process, around the task's run.
//!
//! Tasks run in threads of one process (a local `-j N` pool, or one `gcrl exec` element running
//! its tasks one after another), and a task's own rayon work runs on the pool's threads, so a
//! per-thread figure would miss most of it. A task that starts while no other runs resets the
//! high-water mark (`/proc/self/clear_refs`, Linux); if no other task starts before it ends, both
//! figures are its own ([`TaskUsage::alone`]), else they are upper bounds and say so.

use std::sync::Mutex;

use crate::cache::TaskUsage;

/// Tasks measuring now, and how many ever started while another ran.
static RUNNING: Mutex<(usize, u64)> = Mutex::new((0, 0));

/// A task's measurement, from its start.
pub struct Meter {
    cpu: f64,
    alone: bool,
    overlaps: u64,
}

impl Meter {
    /// Starts measuring (call right before the task's work).
    pub fn start() -> Meter {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        let alone = running.0 == 0 && reset_peak();
        if running.0 > 0 {
            running.1 += 1;
        }
        running.0 += 1;
        Meter { cpu: cpu_seconds(), alone, overlaps: running.1 }
    }

    /// Stops measuring (right after the task's work).
    pub fn finish(self) -> TaskUsage {
        let cpu = cpu_seconds();
        let peak = peak_rss_mb();
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        running.0 -= 1;
        TaskUsage {
            cpu_seconds: (cpu - self.cpu).max(0.0),
            peak_rss_mb: peak,
            alone: self.alone && running.1 == self.overlaps,
        }
    }
}

/// Headroom of a suggested request over what was measured.
pub const HEADROOM: f64 = 1.5;

/// Measured figures of a node's tasks, folded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeUsage {
    /// Tasks with a measurement.
    pub tasks: usize,
    /// The highest peak RSS of one task, MiB.
    pub peak_rss_mb: f64,
    /// CPU seconds, summed.
    pub cpu_seconds: f64,
    /// The longest wall time of one task, seconds.
    pub slowest_seconds: f64,
    /// Whether every figure is a task's own (none ran beside another).
    pub alone: bool,
}

impl NodeUsage {
    /// Folds one task's `usage` and wall `seconds` in.
    pub fn add(&mut self, usage: &TaskUsage, seconds: f64) {
        self.alone = if self.tasks == 0 { usage.alone } else { self.alone && usage.alone };
        self.tasks += 1;
        self.peak_rss_mb = self.peak_rss_mb.max(usage.peak_rss_mb);
        self.cpu_seconds += usage.cpu_seconds;
        self.slowest_seconds = self.slowest_seconds.max(seconds);
    }

    /// A `resources: {mem_gb, minutes}` for one task of the node: [`HEADROOM`] times the highest
    /// peak (rounded up to a quarter GiB) and the slowest task (rounded up to a whole minute).
    pub fn suggest(&self) -> (f64, u64) {
        let mem_gb = (HEADROOM * self.peak_rss_mb / 1024.0 * 4.0).ceil().max(1.0) / 4.0;
        let minutes = (HEADROOM * self.slowest_seconds / 60.0).ceil().max(1.0) as u64;
        (mem_gb, minutes)
    }
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// The process's peak resident memory in MiB: `VmHWM` (reset by [`reset_peak`]), else the
/// lifetime peak of `getrusage`.
fn peak_rss_mb() -> f64 {
    let hwm = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
    });
    hwm.unwrap_or_else(|| {
        // SAFETY: as in cpu_seconds.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 { 0.0 } else { u.ru_maxrss as f64 }
    }) / 1024.0
}

/// Resets the peak-RSS mark to the current RSS; false where the kernel does not allow it.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suggestion_is_half_again_the_peak_and_the_slowest_task_rounded_up() {
        let mut n = NodeUsage::default();
        n.add(&TaskUsage { cpu_seconds: 30.0, peak_rss_mb: 1000.0, alone: true }, 50.0);
        n.add(&TaskUsage { cpu_seconds: 12.5, peak_rss_mb: 3000.0, alone: false }, 130.0);
        assert_eq!(
            (n.tasks, n.peak_rss_mb, n.cpu_seconds, n.slowest_seconds, n.alone),
            (2, 3000.0, 42.5, 130.0, false)
        );
        // 1.5 × 3000 MiB = 4.39 GiB → 4.5; 1.5 × 130 s = 3.25 min → 4.
        assert_eq!(n.suggest(), (4.5, 4));
        let mut tiny = NodeUsage::default();
        tiny.add(&TaskUsage { cpu_seconds: 0.01, peak_rss_mb: 20.0, alone: true }, 0.2);
        assert_eq!(tiny.suggest(), (0.25, 1), "at least a quarter GiB and a minute");
    }

    #[test]
    fn a_task_alone_gets_its_own_cpu_time_and_memory_peak() {
        let meter = Meter::start();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed().as_millis() < 300 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(std::hint::black_box(1));
        }
        // 256 MiB, touched page by page so it is resident.
        let mut big = vec![0u8; 256 << 20];
        for i in (0..big.len()).step_by(4096) {
            big[i] = x as u8;
        }
        std::hint::black_box(&big);
        let usage = meter.finish();
        assert!(usage.cpu_seconds >= 0.25 && usage.cpu_seconds < 30.0, "{usage:?}");
        assert!(usage.peak_rss_mb >= 256.0, "{usage:?}");
        drop(big);
        // The next task alone starts from a fresh mark: it does not inherit the 256 MiB.
        let small = Meter::start().finish();
        if small.alone {
            assert!(small.peak_rss_mb < usage.peak_rss_mb - 128.0, "{small:?} after {usage:?}");
        }
    }
}
