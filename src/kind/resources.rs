//! What one task of a kind needs from the machine: cores, GPUs, memory and time.

/// What a task needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    /// CPU cores (threads) it uses.
    pub cpus: usize,
    /// GPUs it uses (0 = CPU only).
    pub gpus: usize,
    /// Memory in GiB, as the workflow's `resources: {mem_gb}` sets it; `None`: the kind's
    /// estimate from the task's input sizes ([`NodeKind::memory`]).
    pub mem_gb: Option<f64>,
    /// Expected wall time in minutes, for cluster requests.
    pub minutes: f64,
    /// The most memory (GiB) a retry may ask for (`None`: the profile's cap, if any).
    pub max_mem_gb: Option<f64>,
    /// The longest time (minutes) a retry may ask for (`None`: the profile's cap, if any).
    pub max_minutes: Option<f64>,
}

impl Default for Resources {
    fn default() -> Self {
        Resources { cpus: 1, gpus: 0, mem_gb: None, minutes: 10.0, max_mem_gb: None, max_minutes: None }
    }
}
