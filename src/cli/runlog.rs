//! The log file of one `gcrl run`: every line the run printed (tasks run, their notes,
//! failures, the summary), written append-only as they happen to `runs/<workflow>/<id>.log`
//! in the cache, and renamed to its record's id when the run ends (`gcrl log` shows the path).
//!
//! The log is a convenience: a file that cannot be written is reported once and the run goes on.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::cache::Cache;

/// The log of the running `gcrl run`.
pub struct RunLog {
    file: Option<File>,
    path: PathBuf,
    start: Instant,
    /// Unix milliseconds when the run began (its record's id is at or after this).
    pub started_ms: u64,
}

impl RunLog {
    /// Opens `runs/<workflow>/<ms>-<pid>.log` in `cache`.
    pub fn create(cache: &Cache, workflow: &str) -> RunLog {
        let started_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let id = format!("{started_ms:013}-{}", std::process::id());
        let opened = cache.run_log_path(workflow, &id).map_err(|e| e.to_string()).and_then(|path| {
            let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| e.to_string())?;
            Ok((path, file))
        });
        let (path, file) = match opened {
            Ok((path, file)) => (path, Some(file)),
            Err(e) => {
                eprintln!("warning: the run's log file cannot be written ({e}); the run goes on without it");
                (PathBuf::new(), None)
            }
        };
        RunLog { file, path, start: Instant::now(), started_ms }
    }

    /// Appends `text` as one line, after the seconds since the start.
    pub fn line(&mut self, text: &str) {
        let line = format!("[{:>7.1}s] {text}\n", self.start.elapsed().as_secs_f64());
        if let Some(f) = &mut self.file
            && f.write_all(line.as_bytes()).is_err()
        {
            self.file = None;
        }
    }

    /// Ends the log: renamed to the record `record` (a file name) of the run and named in it
    /// with the run's `exit` code and `fingerprint`; without a record (the run changed nothing,
    /// so it added none) the log is removed. Returns the log's final path.
    pub fn finish(
        mut self,
        cache: &Cache,
        workflow: &str,
        record: Option<&str>,
        exit: i32,
        fingerprint: Option<&str>,
    ) -> Option<PathBuf> {
        self.line(&format!("exit {exit}"));
        let file = self.file.take()?;
        drop(file);
        let Some(record) = record else {
            let _ = std::fs::remove_file(&self.path);
            return None;
        };
        let name = format!("{}.log", record.trim_end_matches(".json"));
        let dest = self.path.with_file_name(&name);
        std::fs::rename(&self.path, &dest).ok()?;
        let annotated = cache.annotate_run(workflow, record, |r| {
            r.exit = Some(exit);
            r.fingerprint = fingerprint.map(String::from);
            r.log = Some(name);
        });
        if let Err(e) = annotated {
            eprintln!("warning: the run record could not take its exit code and log name: {e}");
        }
        Some(dest)
    }
}
