//! The Slurm client commands, called with timeouts (a client without a reachable controller
//! retries for a minute before it fails), and the parsing of what they print.
//!
//! One `squeue` call per watch cycle covers every job of a run (`-r` lists array elements one
//! per line); `scancel` takes every id at once. Text formats only: 22.05's JSON output ignores
//! filters and misreports exit codes.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::SlurmError;
use crate::engine::task::Kill;

/// How long a client command may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// How long the first contact with the controller may take (a client without a `slurm.conf`
/// retries for a minute before it fails).
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Messages of `sbatch` that mean "try again later".
const TRANSIENT: &[&str] = &[
    "Socket timed out",
    "Unable to contact slurm controller",
    "temporarily unable to accept job",
    "Resource temporarily unavailable",
    "Slurm backup controller in standby mode",
];

/// States after which a job or element runs no more.
const TERMINAL: &[&str] = &[
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "SPECIAL_EXIT",
    "REVOKED",
];

/// Reasons for which a pending job will never start.
const NEVER_STARTS: &[&str] =
    &["PartitionConfig", "BadConstraints", "DependencyNeverSatisfied", "InvalidAccount", "InvalidQOS", "PartitionDown"];

/// Whether `state` (as squeue or sacct print it, e.g. `CANCELLED by 0`) is final.
pub fn is_terminal(state: &str) -> bool {
    let s = state.split_whitespace().next().unwrap_or("");
    TERMINAL.contains(&s)
}

/// Why a job that ended in `state` without a worker's report died: out of memory or time
/// (`OUT_OF_MEMORY`, `TIMEOUT`) more resources can fix; anything else (a lost node, preemption,
/// `scancel`, a worker killed by a signal) may pass on a plain retry.
pub fn kill_cause(state: &str) -> Kill {
    match state.split_whitespace().next().unwrap_or("") {
        "OUT_OF_MEMORY" | "TIMEOUT" => Kill::Resources,
        _ => Kill::Transient,
    }
}

/// Whether a pending job with this reason can never run.
pub fn never_starts(reason: &str) -> bool {
    NEVER_STARTS.iter().any(|r| reason.starts_with(r))
}

/// One line of `squeue -r -o '%i|%T|%r|%S|%e'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLine {
    /// The job id (of the array, for an element).
    pub job: String,
    /// The array index, if an element.
    pub element: Option<usize>,
    /// `RUNNING`, `COMPLETED`, …
    pub state: String,
    /// Why it waits or ended (`None`, `Resources`, `TimeLimit`, …).
    pub reason: String,
    /// Start time (or `N/A`).
    pub start: String,
    /// End time (or `NONE`/`N/A`).
    pub end: String,
}

/// Parses `squeue -h -r -o '%i|%T|%r|%S|%e'`; lines of pending arrays not expanded
/// (`12_[3-9]`) stand for each of their elements and are listed without an element.
pub fn parse_squeue(text: &str) -> Vec<JobLine> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split('|').collect();
            if f.len() < 5 || f[0].is_empty() {
                return None;
            }
            let (job, element) = match f[0].split_once('_') {
                Some((j, e)) => (j, e.parse().ok()),
                None => (f[0], None),
            };
            Some(JobLine {
                job: job.to_string(),
                element,
                state: f[1].to_string(),
                reason: f[2].to_string(),
                start: f[3].to_string(),
                end: f[4].to_string(),
            })
        })
        .collect()
}

/// Parses `sbatch --parsable` output: `jobid` or `jobid;cluster`.
pub fn parse_job_id(stdout: &str) -> Option<String> {
    let id = stdout.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

/// Why `sbatch` did not take a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitError {
    /// The cluster did not answer, or said it cannot take jobs now: it may take it later.
    pub transient: bool,
    /// Slurm's message.
    pub message: String,
}

/// Calls the Slurm commands.
#[derive(Debug, Clone, Default)]
pub struct Client;

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(program: &str, args: &[String], timeout: Duration) -> Result<Ran, SlurmError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SlurmError::MissingCommand { command: program.into() },
            _ => SlurmError::Command { command: program.into(), message: e.to_string() },
        })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SlurmError::Command {
                    command: format!("{program} {}", args.first().map(String::as_str).unwrap_or("")),
                    message: format!(
                        "no answer within {}s; is the Slurm controller up and /etc/slurm/slurm.conf (or $SLURM_CONF) there?",
                        timeout.as_secs()
                    ),
                });
            }
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Ran { ok: status.success(), stdout, stderr })
}

impl Client {
    /// Checks that the commands exist and the controller answers.
    pub fn check(&self) -> Result<(), SlurmError> {
        for command in ["sbatch", "squeue", "scancel"] {
            if !on_path(command) {
                return Err(SlurmError::MissingCommand { command: command.into() });
            }
        }
        let ping = run("squeue", &["-h".into(), "-j".into(), "0".into(), "-o".into(), "%i".into()], CHECK_TIMEOUT)?;
        if ping.stderr.contains("Unable to contact") || ping.stderr.contains("Could not establish") {
            return Err(SlurmError::Command {
                command: "squeue".into(),
                message: format!("the Slurm controller does not answer: {}", ping.stderr.trim()),
            });
        }
        Ok(())
    }

    /// Submits `script` with `flags`; the job id.
    pub fn sbatch(&self, flags: &[String], script: &Path) -> Result<String, SubmitError> {
        let mut args = vec!["--parsable".to_string()];
        args.extend(flags.iter().cloned());
        args.push(script.display().to_string());
        let out = run("sbatch", &args, TIMEOUT).map_err(|e| SubmitError { transient: true, message: e.to_string() })?;
        if out.ok
            && let Some(id) = parse_job_id(&out.stdout)
        {
            return Ok(id);
        }
        let message = format!("{}{}", out.stderr.trim(), out.stdout.trim());
        Err(SubmitError { transient: TRANSIENT.iter().any(|t| message.contains(t)), message })
    }

    /// The state of every element of the jobs `ids`, in one call. Ids Slurm has forgotten
    /// are simply absent.
    pub fn squeue(&self, ids: &[String]) -> Result<Vec<JobLine>, SlurmError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let args = ["-h", "-r", "-t", "all", "-o", "%i|%T|%r|%S|%e", "-j"].iter().map(|s| s.to_string());
        let out = run("squeue", &args.chain([ids.join(",")]).collect::<Vec<_>>(), TIMEOUT)?;
        if !out.ok && !out.stderr.contains("Invalid job id") {
            return Err(SlurmError::Command { command: "squeue".into(), message: out.stderr.trim().to_string() });
        }
        Ok(parse_squeue(&out.stdout))
    }

    /// Cancels the jobs `ids` (an array id cancels all its elements).
    pub fn scancel(&self, ids: &[String]) -> Result<(), SlurmError> {
        if ids.is_empty() {
            return Ok(());
        }
        let out = run("scancel", ids, TIMEOUT)?;
        if out.ok || out.stderr.contains("Invalid job id") || out.stderr.contains("already completing") {
            Ok(())
        } else {
            Err(SlurmError::Command { command: "scancel".into(), message: out.stderr.trim().to_string() })
        }
    }
}

/// Whether `command` is an executable file in a directory of PATH.
pub fn on_path(command: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let p = dir.join(command);
            std::fs::metadata(&p)
                .is_ok_and(|m| m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_split_array_elements() {
        let text = "12_0|COMPLETED|None|2026-12-01T21:21:13|2026-12-01T21:21:15\n\
                    13|CANCELLED|None|2026-12-01T21:21:13|2026-12-01T21:21:13\n\
                    12_[2-9]|PENDING|Resources|N/A|N/A\n";
        let lines = parse_squeue(text);
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0].job.as_str(), lines[0].element), ("12", Some(0)));
        assert_eq!((lines[1].job.as_str(), lines[1].element, lines[1].state.as_str()), ("13", None, "CANCELLED"));
        assert_eq!((lines[2].job.as_str(), lines[2].element), ("12", None));
    }

    #[test]
    fn states_and_ids() {
        assert!(is_terminal("CANCELLED by 0"));
        assert!(is_terminal("OUT_OF_MEMORY"));
        assert_eq!(kill_cause("OUT_OF_MEMORY"), Kill::Resources);
        assert_eq!(kill_cause("TIMEOUT"), Kill::Resources);
        assert_eq!(kill_cause("NODE_FAIL"), Kill::Transient);
        assert_eq!(kill_cause("CANCELLED by 0"), Kill::Transient);
        assert!(!is_terminal("COMPLETING"));
        assert!(never_starts("PartitionConfig"));
        assert!(!never_starts("Resources"));
        assert_eq!(parse_job_id("42;cluster\n").as_deref(), Some("42"));
        assert_eq!(parse_job_id("sbatch: error"), None);
    }
}
