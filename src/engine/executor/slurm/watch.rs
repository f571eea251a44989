//! The watcher thread of the head: finds out when elements end and reports their tasks.
//!
//! Every 200 ms it looks for the reports of running elements (a few `stat`s); every poll
//! interval it makes one `squeue` call for all unfinished jobs of the run, picks up task
//! manifests that appeared meanwhile (so consumers start before a long element ends), and
//! notices elements Slurm ended without a report (killed: timeout, out of memory, node failure,
//! `scancel`) or that can never start. On Ctrl-C it cancels every job of the run at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::client::{Client, JobLine, is_terminal, kill_cause, never_starts};
use super::files::{ElementReport, RunDir, TaskResult, read_json};
use super::state::{JobRecord, RunState};
use crate::cache::Cache;
use crate::engine::task::Message;
use crate::engine::task::{Outcome, TaskFailure};

/// How often element reports are looked for.
const TICK: Duration = Duration::from_millis(200);

/// A task the head waits for.
pub struct Tracked {
    /// Index in the task graph.
    pub id: usize,
    /// Its key.
    pub key: String,
    /// Forced (`--force`): a manifest from before does not count, only the element's report.
    pub force: bool,
    /// Where to report it.
    pub done: Sender<Message>,
    /// Whether it was reported.
    pub reported: bool,
}

/// An element the head watches.
#[derive(Default)]
pub struct LiveElement {
    /// Its tasks that this head waits for.
    pub tasks: Vec<Tracked>,
    /// Whether it ended and was accounted for.
    pub finished: bool,
    /// Consecutive `squeue` calls that showed it ended (or not at all) without a report.
    pub misses: u32,
}

/// A job the head watches.
pub struct LiveJob {
    /// Index of its record in [`RunState::jobs`].
    pub index: usize,
    /// Its token.
    pub token: String,
    /// Its elements.
    pub elements: Vec<LiveElement>,
}

/// What the head and the watcher share.
pub struct Watch {
    /// The run state, saved as it changes.
    pub state: RunState,
    /// Jobs with elements to watch.
    pub live: Vec<LiveJob>,
    /// The state changed since it was saved.
    pub dirty: bool,
    /// The head is done: the watcher ends.
    pub stop: bool,
    dir: RunDir,
    cache: Cache,
    poll: Duration,
    interrupt: &'static AtomicBool,
    cancelled: bool,
}

impl Watch {
    /// A watch over the jobs `live` (adopted from an earlier head) of `state`.
    pub fn new(
        state: RunState,
        live: Vec<LiveJob>,
        dir: RunDir,
        cache: Cache,
        poll: Duration,
        interrupt: &'static AtomicBool,
    ) -> Self {
        Watch { state, live, dirty: true, stop: false, dir, cache, poll, interrupt, cancelled: false }
    }

    fn unfinished(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.live
            .iter()
            .enumerate()
            .flat_map(|(j, job)| job.elements.iter().enumerate().filter(|(_, e)| !e.finished).map(move |(e, _)| (j, e)))
    }

    /// Reports every unreported task of element `e` of live job `j` and marks it finished.
    /// `report` is the worker's; without it, `why` says how Slurm ended the element.
    fn finish(&mut self, j: usize, e: usize, report: Option<&ElementReport>, why: &dyn Fn() -> TaskFailure) {
        let cache = self.cache.clone();
        let element = &mut self.live[j].elements[e];
        for t in element.tasks.iter_mut().filter(|t| !t.reported) {
            let result_of = report.and_then(|r| r.results.get(&t.key));
            let manifest = (!t.force || result_of.is_some()).then(|| cache.result(&t.key).ok().flatten()).flatten();
            let result = match (result_of, manifest) {
                (Some(TaskResult::Cached), Some(m)) => Ok(Outcome::Cached(m)),
                (Some(TaskResult::Ran) | None, Some(m)) => Ok(Outcome::Ran(m)),
                (Some(r @ TaskResult::Failed { .. }), _) => Err(r.failure().unwrap_or_else(why)),
                (Some(_), None) => Err(TaskFailure::Node(format!(
                    "the worker reported task {} done, but its manifest is not in the cache {} (is the cache on a \
                     file system the compute nodes share?)",
                    t.key,
                    cache.root().display()
                ))),
                (None, None) => Err(why()),
            };
            t.reported = true;
            let _ = t.done.send(Message::Done(t.id, Box::new(result)));
        }
        element.finished = true;
        let record = &mut self.state.jobs[self.live[j].index].elements[e];
        record.finished = true;
        if let Some(r) = report {
            // What Slurm will say: `gcrl exec` exits 1 when one of its tasks failed.
            let failed = r.results.values().any(|x| matches!(x, TaskResult::Failed { .. }));
            record.state = if failed { "FAILED" } else { "COMPLETED" }.into();
            if !record.start.starts_with(|c: char| c.is_ascii_digit()) {
                record.start = fmt_ms(r.started_ms);
            }
            record.end = fmt_ms(r.finished_ms);
        }
        self.dirty = true;
    }

    /// Reports tasks of running elements whose manifests appeared.
    fn early_manifests(&mut self) {
        let cache = self.cache.clone();
        for job in &mut self.live {
            for el in job.elements.iter_mut().filter(|e| !e.finished) {
                for t in el.tasks.iter_mut().filter(|t| !t.reported && !t.force) {
                    if let Some(m) = cache.result(&t.key).ok().flatten() {
                        t.reported = true;
                        let _ = t.done.send(Message::Done(t.id, Box::new(Ok(Outcome::Ran(m)))));
                    }
                }
            }
        }
    }

    fn save(&mut self) {
        if self.dirty && self.state.save(&self.dir).is_ok() {
            self.dirty = false;
        }
    }
}

/// Locks the shared watch (a panicked holder leaves it usable).
pub struct Shared {
    /// The watch.
    pub inner: Mutex<Watch>,
    /// Wakes the watcher when jobs are added or the head stops.
    pub wake: Condvar,
}

impl Shared {
    /// The watch, locked.
    pub fn lock(&self) -> MutexGuard<'_, Watch> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The line of `lines` about element `e` of `job`.
pub fn line_for<'a>(lines: &'a [JobLine], job: &JobRecord, e: usize) -> Option<&'a JobLine> {
    let own = lines.iter().filter(|l| l.job == job.job_id);
    if job.array {
        own.clone().find(|l| l.element == Some(e)).or_else(|| own.clone().find(|l| l.element.is_none()))
    } else {
        own.clone().next()
    }
}

/// `2026-12-01T21:30:00` (UTC, as Slurm prints times on a UTC machine) of Unix milliseconds.
fn fmt_ms(ms: u64) -> String {
    crate::clock::utc_datetime(ms)
}

/// The watcher's loop; returns when the head stops.
pub fn run(shared: &Shared) {
    let client = Client;
    let mut last_poll: Option<Instant> = None;
    loop {
        let mut w = shared.lock();
        if w.stop {
            w.save();
            return;
        }
        if w.interrupt.load(Ordering::SeqCst) && !w.cancelled {
            drop(w);
            cancel_all(shared, &client);
            continue;
        }
        let pending: Vec<(usize, usize)> = w.unfinished().collect();
        if pending.is_empty() {
            w.save();
            let _ = shared.wake.wait_timeout(w, TICK);
            continue;
        }
        // Reports of running elements: cheap, every tick.
        let found: Vec<(usize, usize, ElementReport)> = pending
            .iter()
            .filter_map(|&(j, e)| {
                let token = &w.live[j].token;
                read_json::<ElementReport>(&w.dir.done(token, e)).ok().flatten().map(|r| (j, e, r))
            })
            .collect();
        for (j, e, report) in &found {
            w.finish(*j, *e, Some(report), &|| TaskFailure::Node("the element's report lacks this task".into()));
        }
        let due = last_poll.is_none_or(|t| t.elapsed() >= w.poll);
        if !due {
            w.save();
            let _ = shared.wake.wait_timeout(w, TICK);
            continue;
        }
        last_poll = Some(Instant::now());
        let ids: Vec<String> = {
            let mut ids: Vec<String> =
                w.unfinished().map(|(j, _)| w.state.jobs[w.live[j].index].job_id.clone()).collect();
            ids.dedup();
            ids
        };
        drop(w);
        let lines = client.squeue(&ids);
        let mut w = shared.lock();
        w.early_manifests();
        let Ok(lines) = lines else {
            // A transient failure of squeue: try again next cycle.
            w.save();
            continue;
        };
        let mut never = Vec::new();
        let pending: Vec<(usize, usize)> = w.unfinished().collect();
        for (j, e) in pending {
            let index = w.live[j].index;
            let job = w.state.jobs[index].clone();
            let line = line_for(&lines, &job, e).cloned();
            if let Some(l) = &line {
                let rec = &mut w.state.jobs[index].elements[e];
                if (rec.state.as_str(), rec.reason.as_str()) != (l.state.as_str(), l.reason.as_str())
                    || rec.end != l.end
                {
                    rec.state = l.state.clone();
                    rec.reason = l.reason.clone();
                    rec.start = l.start.clone();
                    rec.end = l.end.clone();
                    w.dirty = true;
                }
            }
            let ended = line.as_ref().is_none_or(|l| is_terminal(&l.state));
            if !ended {
                w.live[j].elements[e].misses = 0;
                if let Some(l) = line.filter(|l| l.state == "PENDING" && never_starts(&l.reason)) {
                    never.push(job.job_id.clone());
                    let log = w.dir.log(&job.token, e);
                    let why = format!(
                        "slurm job {} can never start ({}); check the partition, account and qos of the --profile \
                         and the node's `resources`; log: {}",
                        job.element_id(e),
                        l.reason,
                        log.display()
                    );
                    w.finish(j, e, None, &|| TaskFailure::Node(why.clone()));
                }
                continue;
            }
            // Ended without a report: look once more (a shared file system may lag), then it was killed.
            let report = read_json::<ElementReport>(&w.dir.done(&job.token, e)).ok().flatten();
            if let Some(r) = report {
                w.finish(j, e, Some(&r), &|| TaskFailure::Node("the element's report lacks this task".into()));
                continue;
            }
            w.live[j].elements[e].misses += 1;
            if w.live[j].elements[e].misses < 2 {
                continue;
            }
            let (state, reason) = match &line {
                Some(l) => (l.state.clone(), l.reason.clone()),
                None => ("UNKNOWN".to_string(), "no longer listed by squeue".to_string()),
            };
            if line.is_none() {
                w.state.jobs[index].elements[e].state = state.clone();
            }
            let log = w.dir.log(&job.token, e);
            let why = format!(
                "slurm job {} ended {state} (reason: {reason}) before the task finished; log: {}",
                job.element_id(e),
                log.display()
            );
            let cause = kill_cause(&state);
            w.finish(j, e, None, &|| TaskFailure::Killed { message: why.clone(), cause });
        }
        w.save();
        drop(w);
        if !never.is_empty() {
            let _ = client.scancel(&never);
        }
    }
}

/// Cancels every unfinished job of the run (one `scancel`), waits until Slurm has stopped them,
/// and fails their unfinished tasks as interrupted.
fn cancel_all(shared: &Shared, client: &Client) {
    let ids: Vec<String> = {
        let mut w = shared.lock();
        w.cancelled = true;
        let mut ids: Vec<String> = w.unfinished().map(|(j, _)| w.state.jobs[w.live[j].index].job_id.clone()).collect();
        ids.dedup();
        ids
    };
    let _ = client.scancel(&ids);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match client.squeue(&ids) {
            Ok(lines) if lines.iter().all(|l| is_terminal(&l.state)) => break,
            Err(_) => break,
            Ok(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
    let mut w = shared.lock();
    let pending: Vec<(usize, usize)> = w.unfinished().collect();
    for (j, e) in pending {
        let index = w.live[j].index;
        let why = format!("interrupted (Ctrl-C): slurm job {} was cancelled", w.state.jobs[index].element_id(e));
        w.state.jobs[index].elements[e].state = "CANCELLED".into();
        w.finish(j, e, None, &|| TaskFailure::Interrupted(why.clone()));
    }
    w.state.outcome = "interrupted".into();
    w.dirty = true;
    w.save();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::executor::slurm::client::parse_squeue;
    use crate::engine::executor::slurm::pack::Request;

    #[test]
    fn elements_find_their_own_line_or_their_pending_array_line() {
        let req = Request { cpus: 1, gpus: 0, mem_mb: 1024, minutes: 1 };
        let array = JobRecord::new("t".into(), "12".into(), "x".into(), true, 0, &req, &[1, 1, 1]);
        let single = JobRecord::new("u".into(), "13".into(), "y".into(), false, 0, &req, &[1]);
        let lines =
            parse_squeue("12_0|COMPLETED|None|a|b\n12_[1-2]|PENDING|Priority|N/A|N/A\n13|TIMEOUT|TimeLimit|a|b\n");
        assert_eq!(line_for(&lines, &array, 0).map(|l| l.state.as_str()), Some("COMPLETED"));
        assert_eq!(line_for(&lines, &array, 2).map(|l| l.reason.as_str()), Some("Priority"));
        assert_eq!(line_for(&lines, &single, 0).map(|l| l.state.as_str()), Some("TIMEOUT"));
        assert_eq!(array.element_id(2), "12_2");
        assert_eq!(single.element_id(0), "13");
    }

    #[test]
    fn times_print_as_slurm_prints_them() {
        assert_eq!(fmt_ms(1_764_624_600_000), "2025-12-01T21:30:00");
    }
}
