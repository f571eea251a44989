//! The test builder: a temp directory with a workflow in it, and invocations of the real `gcrl`
//! binary there, with `--cache` pointing into the same directory.
//!
//! ```ignore
//! let t = Test::new().workflow(YAML);
//! let out = t.args(["run", "--json"]).run().success();
//! assert_eq!(out.summary().ran, 3);
//! ```
//!
//! Subcommands that take a workflow (`run`, `plan`, `dag`, `show`, `export`, `report`) get the workflow
//! file inserted after the subcommand name. Every invocation asserts that gcrl did not panic.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The default workflow file name inside the temp directory.
pub const WORKFLOW: &str = "workflow.yaml";

/// Subcommands whose first positional argument is the workflow file.
const TAKES_WORKFLOW: &[&str] = &["run", "plan", "runs", "log", "compare", "dag", "show", "export", "report", "paths"];

/// A temp directory holding a workflow and a cache.
pub struct Test {
    dir: TempDir,
}

impl Test {
    /// An empty temp directory.
    pub fn new() -> Self {
        Test { dir: tempfile::Builder::new().prefix("gcrl-cli-").tempdir().expect("temp dir") }
    }

    /// Writes `yaml` as the workflow file.
    pub fn workflow(self, yaml: &str) -> Self {
        self.write(WORKFLOW, yaml)
    }

    /// Writes any file (relative to the temp directory).
    pub fn write(self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        self.put(name, contents);
        self
    }

    /// Writes (or rewrites) a file without consuming the test.
    pub fn put(&self, name: &str, contents: impl AsRef<[u8]>) {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, contents).expect("write file");
    }

    /// The temp directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The default cache directory.
    pub fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// A `gcrl` invocation with these arguments.
    pub fn args<I, S>(&self, args: I) -> Invocation<'_>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Invocation {
            test: self,
            args: args.into_iter().map(Into::into).collect(),
            cache: Some(self.cache()),
            workflow: Some(WORKFLOW.into()),
            env: Vec::new(),
        }
    }

    /// Shorthand: `gcrl run WORKFLOW --json ARGS…`, asserting exit 0, returning the summary.
    pub fn run_ok(&self, extra: &[&str]) -> Summary {
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        self.args(args).run().success().summary()
    }

    /// Shorthand: `gcrl plan WORKFLOW --json ARGS…` as `label -> (status, reason)`.
    pub fn plan(&self, extra: &[&str]) -> BTreeMap<String, (String, String)> {
        let mut args = vec!["plan", "--json"];
        args.extend_from_slice(extra);
        let json = self.args(args).run().success().json();
        json["tasks"]
            .as_array()
            .expect("plan --json has `tasks`")
            .iter()
            .map(|t| {
                assert!(t["node"].is_string(), "plan --json entries have `node`: {t}");
                let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                (s("task"), (s("status"), s("reason")))
            })
            .collect()
    }

    /// Labels of the plan's tasks with status `run`, sorted.
    pub fn to_run(&self, extra: &[&str]) -> Vec<String> {
        self.plan(extra).into_iter().filter(|(_, (s, _))| s == "run").map(|(l, _)| l).collect()
    }
}

/// One command line to run in a [`Test`]'s directory.
pub struct Invocation<'t> {
    test: &'t Test,
    args: Vec<OsString>,
    cache: Option<PathBuf>,
    workflow: Option<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl Invocation<'_> {
    /// Sets an environment variable of the process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Uses another cache directory.
    pub fn cache(mut self, dir: impl AsRef<Path>) -> Self {
        self.cache = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Passes no `--cache` (so `GCRL_CACHE`, a profile or the default decide).
    pub fn no_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Uses another workflow file (relative to the temp directory).
    pub fn file(mut self, name: &str) -> Self {
        self.workflow = Some(name.into());
        self
    }

    /// Passes the arguments exactly as given (no workflow file inserted).
    pub fn raw(mut self) -> Self {
        self.workflow = None;
        self
    }

    fn command(&self) -> Command {
        let mut args = self.args.clone();
        if let (Some(w), Some(first)) = (&self.workflow, args.first())
            && TAKES_WORKFLOW.iter().any(|c| first == c)
        {
            args.insert(1, w.clone());
        }
        // `GCRL_BIN`: a `gcrl` carried elsewhere with this test binary (scripts/gpu-check.sh).
        let gcrl = std::env::var_os("GCRL_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_gcrl").into());
        let mut cmd = Command::new(gcrl);
        cmd.current_dir(self.test.path())
            .env_remove("GCRL_CACHE")
            .env_remove("GCRL_PROFILE")
            .env_remove("CUDA_VISIBLE_DEVICES");
        if let Some(cache) = &self.cache {
            cmd.arg("--cache").arg(cache);
        }
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
        cmd
    }

    /// Runs to completion.
    pub fn run(self) -> Output {
        let out = self.command().output().expect("gcrl runs");
        Output::from_process(self.describe(), out)
    }

    /// Starts without waiting (stdout and stderr piped).
    pub fn spawn(self) -> Running {
        let child = self.command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("gcrl starts");
        Running { child, what: self.describe() }
    }

    fn describe(&self) -> String {
        let args: Vec<String> = self.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        format!("gcrl {}", args.join(" "))
    }
}

/// A `gcrl` process started by [`Invocation::spawn`].
pub struct Running {
    /// The process.
    pub child: Child,
    what: String,
}

impl Running {
    /// Waits for it to end.
    pub fn wait(self) -> Output {
        let out = self.child.wait_with_output().expect("gcrl ends");
        Output::from_process(self.what, out)
    }
}

/// What a finished `gcrl` printed.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 when killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    what: String,
}

impl Output {
    fn from_process(what: String, out: std::process::Output) -> Self {
        let o = Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            what,
        };
        assert!(!o.stderr.contains("panicked"), "{} panicked:\n{}", o.what, o.stderr);
        o
    }

    /// Asserts exit code `code`.
    #[track_caller]
    pub fn status(self, code: i32) -> Self {
        assert_eq!(self.status, code, "{}: exit code\nstdout:\n{}\nstderr:\n{}", self.what, self.stdout, self.stderr);
        self
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Self {
        self.status(0)
    }

    /// Asserts that stderr contains each of `needles`.
    #[track_caller]
    pub fn stderr_has(self, needles: &[&str]) -> Self {
        for n in needles {
            assert!(self.stderr.contains(n), "{}: stderr lacks {n:?}:\n{}", self.what, self.stderr);
        }
        self
    }

    /// Asserts that stdout contains each of `needles`.
    #[track_caller]
    pub fn stdout_has(self, needles: &[&str]) -> Self {
        for n in needles {
            assert!(self.stdout.contains(n), "{}: stdout lacks {n:?}:\n{}", self.what, self.stdout);
        }
        self
    }

    /// The last line of stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        let line = self.stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}: stdout is not JSON ({e}):\n{}", self.what, self.stdout))
    }

    /// The `run --json` summary.
    #[track_caller]
    pub fn summary(&self) -> Summary {
        let j = self.json();
        for field in ["workflow", "tasks", "ran", "cached", "failed", "seconds"] {
            assert!(j.get(field).is_some(), "{}: run --json lacks `{field}`: {j}", self.what);
        }
        let n = |k: &str| j[k].as_u64().unwrap_or(0) as usize;
        Summary {
            workflow: j["workflow"].as_str().unwrap_or_default().to_string(),
            tasks: n("tasks"),
            ran: n("ran"),
            cached: n("cached"),
            failed: n("failed"),
            skipped: n("skipped"),
        }
    }
}

/// The counts of `gcrl run --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Workflow name.
    pub workflow: String,
    /// Tasks in the graph.
    pub tasks: usize,
    /// Tasks that ran.
    pub ran: usize,
    /// Tasks served from the cache.
    pub cached: usize,
    /// Tasks that failed.
    pub failed: usize,
    /// Tasks skipped because something they need failed.
    pub skipped: usize,
}

/// Every file under `dir`, as relative path -> bytes.
pub fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.insert(p.strip_prefix(root).unwrap_or(&p).to_path_buf(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The task manifests in `cache`, as label -> manifest JSON. A manifest file holds one JSON
/// line per task of its commit batch and is linked under each of their keys.
pub fn manifests(cache: &Path) -> BTreeMap<String, Value> {
    files_under(&cache.join("tasks"))
        .into_iter()
        .filter_map(|(path, bytes)| manifest_record(&path, &bytes))
        .map(|m| (m["label"].as_str().unwrap_or_default().to_string(), m))
        .collect()
}

/// The record of the manifest file `path` (named by its key) among the lines `bytes`.
pub fn manifest_record(path: &Path, bytes: &[u8]) -> Option<Value> {
    let key = path.file_stem()?.to_str()?;
    bytes.split(|&b| b == b'\n').filter_map(|line| serde_json::from_slice::<Value>(line).ok()).find(|m| m["key"] == key)
}

/// The object hash of output `port` of the task labelled `label`.
#[track_caller]
pub fn object_of(cache: &Path, label: &str, port: &str) -> String {
    let all = manifests(cache);
    let m = all.get(label).unwrap_or_else(|| panic!("no manifest for `{label}`; have {:?}", all.keys()));
    m["outputs"][port]["hash"].as_str().expect("output hash").to_string()
}

/// The path of object `hash` in `cache`.
pub fn object_path(cache: &Path, hash: &str) -> PathBuf {
    cache.join("objects").join(&hash[..2]).join(format!("{hash}.arrow"))
}

/// Polls `cond` every 10 ms until it holds; panics after `limit`.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The fields of one CSV line (RFC 4180 quoting, no line breaks inside fields).
pub fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}
