//! Shared pieces of the benchmark programs: the machine description, medians, the results
//! table and CSV (`benches/results/<date>-<bench>.csv`), the release `gcrl` binary and the Python
//! peer. Generators of inputs live in [`factories`]. Benches never fail on slowness: they
//! print, record and exit 0; a missing peer is reported as `peer skipped: reason`.
#![allow(dead_code)]

pub mod factories;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The repository root (where `Cargo.toml` is): `GCRL_BENCH_ROOT` when a bench binary runs away
/// from its build tree (scripts/gpu-check.sh on the GPU machine), else the build's.
pub fn root() -> PathBuf {
    std::env::var_os("GCRL_BENCH_ROOT").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// `GCRL_BENCH_GPU`: the GPU ordinal the benches measure on, if any.
pub fn bench_gpu() -> Option<usize> {
    std::env::var("GCRL_BENCH_GPU").ok().and_then(|v| v.parse().ok())
}

/// A training setting the epochs are measured in: CPU threads, or a GPU.
pub struct Setting {
    /// For the case names: `1 thread`, `2 threads`, `GPU 0 (NVIDIA H200)`.
    pub label: String,
    /// Threads of the rayon pool (and of the CPU peer).
    pub threads: usize,
    /// GPU ordinal.
    pub gpu: Option<usize>,
}

/// The settings of the epoch benches: `GCRL_BENCH_GPU=N` measures on GPU N alone (a `cuda`
/// build; the peers get `cuda` too), else on 1 and 2 CPU threads.
pub fn settings() -> Vec<Setting> {
    match bench_gpu() {
        Some(gpu) => {
            if let Err(e) = gcrl::models::train_device(Some(gpu)) {
                eprintln!("GCRL_BENCH_GPU={gpu}: {e}");
                std::process::exit(2);
            }
            vec![Setting { label: format!("GPU {gpu} ({})", gpu_name(gpu)), threads: 2, gpu: Some(gpu) }]
        }
        None => [1, 2]
            .map(|threads| Setting {
                label: format!("{threads} thread{}", if threads > 1 { "s" } else { "" }),
                threads,
                gpu: None,
            })
            .into(),
    }
}

impl Setting {
    /// The device argument of the peers: `cpu` or `cuda:N`.
    pub fn peer_device(&self) -> String {
        self.gpu.map_or_else(|| "cpu".into(), |g| format!("cuda:{g}"))
    }
}

/// The name `nvidia-smi` gives GPU `gpu`, or `unnamed GPU`.
pub fn gpu_name(gpu: usize) -> String {
    Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader", &format!("--id={gpu}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unnamed GPU".into())
}

/// Number of repeats of every measurement: `GCRL_BENCH_REPEATS`, default 3.
pub fn repeats() -> usize {
    env_usize("GCRL_BENCH_REPEATS", 3).max(1)
}

/// An integer from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Median of `xs` (mean of the middle two for an even count); NaN for none.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// `min–max` of `xs`, for the notes (how noisy a median is).
pub fn spread(xs: &[f64]) -> String {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("range {}–{}", fmt_value(lo), fmt_value(hi))
}

/// Seconds taken by `f`.
pub fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0) as i64;
    let (y, m, d) = gcrl::clock::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The machine: core count and CPU model from `/proc/cpuinfo`.
pub struct Machine {
    /// Logical cores available to this process.
    pub nproc: usize,
    /// `model name` of the first CPU.
    pub model: String,
}

impl Machine {
    /// Reads the machine description.
    pub fn detect() -> Self {
        let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine { nproc, model }
    }

    /// One line for the table header.
    pub fn describe(&self) -> String {
        format!("{} cores, {}", self.nproc, self.model)
    }
}

/// One measured quantity.
pub struct Row {
    /// What was measured, e.g. `plan 12k`.
    pub case: String,
    /// Who: `gcrl`, `snakemake`, `leidenalg`, …
    pub tool: String,
    /// The value (median over repeats).
    pub value: f64,
    /// Its unit: `s`, `ms`, `tasks/s`, `MiB`, …
    pub unit: String,
    /// How many repeats the median is over.
    pub repeats: usize,
    /// Free text: how it was measured, scaling, goal.
    pub note: String,
}

/// The rows of one bench program, printed as a table and written as CSV.
pub struct Report {
    bench: String,
    machine: Machine,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    /// A report for bench `bench` (the CSV is named after it).
    pub fn new(bench: &str) -> Self {
        let machine = Machine::detect();
        println!("gcrl bench `{bench}` on {} ({})", machine.describe(), today());
        let mut r = Report { bench: bench.into(), machine, rows: Vec::new(), notes: Vec::new() };
        r.note(format!("load average at start: {}; source: {}", loadavg(), git_version()));
        r
    }

    /// Adds a row and prints it at once (long benches show progress).
    pub fn add(&mut self, case: &str, tool: &str, value: f64, unit: &str, repeats: usize, note: &str) {
        println!("  {case:<38} {tool:<12} {:>14} {unit:<8} n={repeats} {note}", fmt_value(value));
        self.rows.push(Row {
            case: case.into(),
            tool: tool.into(),
            value,
            unit: unit.into(),
            repeats,
            note: note.into(),
        });
    }

    /// Adds a free-text line (a skipped peer, a ratio, a caveat) to the table and the CSV.
    pub fn note(&mut self, line: impl Into<String>) {
        let line = line.into();
        println!("  # {line}");
        self.notes.push(line);
    }

    /// Value of the row `(case, tool)`.
    pub fn get(&self, case: &str, tool: &str) -> Option<f64> {
        self.rows.iter().find(|r| r.case == case && r.tool == tool).map(|r| r.value)
    }

    /// Adds `a / b` of two rows as a ratio row, when both exist.
    pub fn ratio(&mut self, case: &str, num: (&str, &str), den: (&str, &str), note: &str) {
        if let (Some(a), Some(b)) = (self.get(num.0, num.1), self.get(den.0, den.1))
            && b > 0.0
        {
            self.add(case, "ratio", a / b, "x", 1, note);
        }
    }

    /// Prints the table again and writes `benches/results/<date>-<bench>.csv`.
    pub fn finish(mut self) {
        self.note(format!("load average at end: {}", loadavg()));
        let date = today();
        println!("\n== {} — {} — {}", self.bench, date, self.machine.describe());
        println!("{:<38} {:<12} {:>14} {:<8} {:>3}  note", "case", "tool", "median", "unit", "n");
        for r in &self.rows {
            println!(
                "{:<38} {:<12} {:>14} {:<8} {:>3}  {}",
                r.case,
                r.tool,
                fmt_value(r.value),
                r.unit,
                r.repeats,
                r.note
            );
        }
        for n in &self.notes {
            println!("# {n}");
        }
        let mut csv = String::from("date,bench,case,tool,value,unit,repeats,nproc,cpu,note\n");
        for r in &self.rows {
            let _ = writeln!(
                csv,
                "{date},{},{},{},{},{},{},{},{},{}",
                self.bench,
                quote(&r.case),
                quote(&r.tool),
                r.value,
                quote(&r.unit),
                r.repeats,
                self.machine.nproc,
                quote(&self.machine.model),
                quote(&r.note)
            );
        }
        for n in &self.notes {
            let _ = writeln!(
                csv,
                "{date},{},note,,,,,{},{},{}",
                self.bench,
                self.machine.nproc,
                quote(&self.machine.model),
                quote(n)
            );
        }
        let dir = root().join("benches/results");
        let path = dir.join(format!("{date}-{}.csv", self.bench));
        match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, csv)) {
            Ok(()) => println!("results written to {}", path.display()),
            Err(e) => println!("could not write {}: {e}", path.display()),
        }
    }
}

/// `git describe --always --dirty` of the repository (what was measured).
pub fn git_version() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// The 1, 5 and 15 minute load averages (other work on the machine skews timings).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The release `gcrl` binary, built first with `cargo build --release`.
///
/// Benches run under `flock /tmp/gcrl-build.lock cargo bench …`, so this nested cargo call is
/// covered by the same lock (taking the lock again here would wait for ourselves).
pub fn gcrl_binary() -> Result<PathBuf, String> {
    // A `gcrl` carried beside a bench binary (scripts/gpu-check.sh) is used as it is.
    if let Some(bin) = std::env::var_os("GCRL_BIN") {
        return Ok(bin.into());
    }
    let root = root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "--bin", "gcrl"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo build --release` failed: {status}"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/gcrl");
    if bin.exists() { Ok(bin) } else { Err(format!("{} not found after the build", bin.display())) }
}

/// Runs `cmd` with stdout and stderr discarded; seconds taken, or the failure with its stderr.
pub fn time_command(cmd: &mut Command) -> Result<f64, String> {
    let t = Instant::now();
    let out =
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if out.status.success() {
        Ok(secs)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String =
            err.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        Err(format!("{cmd:?} failed ({}):\n{tail}", out.status))
    }
}

/// The Python of the peers: `GCRL_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("GCRL_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Checks that the peer Python imports `modules`; the reason if not.
pub fn python_with(modules: &[&str]) -> Result<String, String> {
    interpreter_with(python(), modules)
}

/// Checks that the interpreter `py` imports `modules`; the reason if not.
pub fn interpreter_with(py: String, modules: &[&str]) -> Result<String, String> {
    let out = Command::new(&py)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output()
        .map_err(|e| format!("cannot start `{py}` ({e}); set GCRL_PYTHON (or the bench's own variable)"))?;
    if out.status.success() {
        Ok(py)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "`{py}` cannot import {} ({}); set GCRL_PYTHON (or the bench's own variable) to a Python that has them",
            modules.join(", "),
            err.lines().last().unwrap_or("").trim()
        ))
    }
}

/// Runs a Python script with arguments; its stdout, or the failure with stderr.
pub fn run_python(py: &str, script: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start `{py}`: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        Err(format!("python failed ({}):\n{}", out.status, tail.into_iter().rev().collect::<Vec<_>>().join("\n")))
    }
}

/// `key=value` pairs of the last line of `out` that has them, as numbers.
pub fn parse_kv(out: &str, key: &str) -> Option<f64> {
    out.lines().rev().flat_map(|l| l.split_whitespace()).find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        if k == key { v.parse().ok() } else { None }
    })
}

/// A fresh directory under `GCRL_BENCH_DIR` (default: the system temp dir), removed on drop.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let base = std::env::var_os("GCRL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let _ = std::fs::create_dir_all(&base);
    tempfile::Builder::new().prefix(prefix).tempdir_in(base).expect("cannot create a temp dir")
}

/// Removes a directory tree if it exists.
pub fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

/// Runs `cmd` to its end with stdout and stderr sent to `log`; the seconds taken and the child's
/// peak resident set in KiB (`ru_maxrss` of `wait4`), or the failure with the log's tail.
pub fn time_command_rss(cmd: &mut Command, log: &Path) -> Result<(f64, u64), String> {
    let file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let t = Instant::now();
    let child = cmd.stdout(file).stderr(err).spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut status = 0;
    // SAFETY: `rusage` is plain data; wait4 reaps the child we own and fills `usage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let secs = t.elapsed().as_secs_f64();
    if reaped < 0 {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok((secs, usage.ru_maxrss as u64))
    } else {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        Err(format!("{cmd:?} failed (status {status}):\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n")))
    }
}

/// `VmHWM` (peak resident set) of this process in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM")
}

/// `VmRSS` (current resident set) of this process in KiB.
pub fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS")
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}
