//! Turning scheduler events into what a person sees: progress bars on a terminal (one per node,
//! with task counts), plain log lines otherwise, nothing with `-q` but failures; with a
//! [`RunLog`], every line also goes to the run's log file, `-q` or not.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::runlog::RunLog;
use crate::engine::events::{Event, Reporter};
use crate::engine::graph::Role;

enum Mode {
    Bars(MultiProgress, HashMap<String, ProgressBar>),
    Lines(HashMap<String, (usize, usize)>),
    Quiet,
}

/// The terminal reporter.
pub struct Console {
    mode: Mode,
    start: Instant,
    /// Failure messages already shown: shards failing for one reason are shown once.
    shown_errors: HashSet<String>,
    /// The run's log file, when there is one.
    log: Option<RunLog>,
}

impl Console {
    /// Bars when stderr is a terminal, lines otherwise, or quiet; each line also to `log`.
    pub fn new(quiet: bool, log: Option<RunLog>) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), HashMap::new())
        } else {
            Mode::Lines(HashMap::new())
        };
        Console { mode, start: Instant::now(), shown_errors: HashSet::new(), log }
    }

    /// The log file, handed back at the end of the run.
    pub fn into_log(self) -> Option<RunLog> {
        self.log
    }

    fn line(&self, text: &str) {
        eprintln!("[{:>7.1}s] {text}", self.start.elapsed().as_secs_f64());
    }

    fn log_line(&mut self, text: &str) {
        if let Some(log) = &mut self.log {
            log.line(text);
        }
    }

    /// `text` as a line: on the terminal (above the bars; not with `-q` unless `always`) and
    /// in the log.
    fn say(&mut self, text: &str, always: bool) {
        self.log_line(text);
        match &self.mode {
            Mode::Bars(multi, _) => {
                let _ = multi.println(text);
            }
            Mode::Lines(_) => self.line(text),
            Mode::Quiet if always => self.line(text),
            Mode::Quiet => {}
        }
    }

    fn progress(&mut self, node: &str) {
        match &mut self.mode {
            Mode::Bars(_, bars) => {
                if let Some(b) = bars.get(node) {
                    b.inc(1);
                    if b.position() >= b.length().unwrap_or(0) {
                        b.finish();
                    }
                }
            }
            Mode::Lines(counts) => {
                let Some((done, total)) = counts.get_mut(node) else { return };
                *done += 1;
                let (done, total) = (*done, *total);
                let step = (total / 10).max(1);
                if total > 1 && (done % step == 0 || done == total) {
                    self.line(&format!("{node}: {done}/{total} tasks"));
                }
            }
            Mode::Quiet => {}
        }
    }
}

impl Reporter for Console {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Planned { nodes } => match &mut self.mode {
                Mode::Bars(multi, bars) => {
                    let style = ProgressStyle::with_template("{prefix:>20.bold} [{bar:30}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                    for (node, n) in nodes {
                        let bar = multi.add(ProgressBar::new(*n as u64).with_style(style.clone()));
                        bar.set_prefix(node.clone());
                        bars.insert(node.clone(), bar);
                    }
                }
                Mode::Lines(counts) => {
                    for (node, n) in nodes {
                        counts.insert(node.clone(), (0, *n));
                    }
                }
                Mode::Quiet => {}
            },
            Event::Cached(task) => {
                if matches!(self.mode, Mode::Bars(..)) {
                    self.progress(&task.node);
                }
            }
            Event::Started(task) => {
                if let Mode::Bars(_, bars) = &self.mode
                    && let Some(b) = bars.get(&task.node)
                {
                    b.set_message(format!("running {}", task.label));
                }
            }
            Event::Waiting(task) => {
                self.say(&format!("{}: waiting for another gcrl process that computes it", task.label), false);
            }
            Event::Finished { task, seconds, notes } => {
                if !matches!(task.role, Role::Shard(_)) {
                    let text = format!("ran {} ({seconds:.2}s)", task.label);
                    self.log_line(&text);
                    if matches!(self.mode, Mode::Lines(_)) {
                        self.line(&text);
                    }
                }
                for note in notes {
                    self.say(&format!("{}: {note}", task.label), false);
                }
                if let Mode::Bars(_, bars) = &self.mode
                    && let Some(b) = bars.get(&task.node)
                {
                    b.set_message(format!("{} {seconds:.1}s", task.label));
                }
                self.progress(&task.node);
            }
            Event::Failed { task, error, retrying } => {
                if !retrying && !self.shown_errors.insert(error.to_string()) {
                    return;
                }
                let what = if retrying { "failed (will retry)" } else { "FAILED" };
                self.say(&format!("{} {what}: {error}", task.label), true);
            }
            Event::Skipped { task, because } => {
                self.say(&format!("skipped {}: needs {because}, which failed", task.label), false);
            }
            Event::Requeued { task, why } => {
                self.say(&format!("rerunning {}: {why}", task.label), false);
            }
            Event::Stopping { running } => {
                let text = match running {
                    [] => "interrupted: starting no more tasks".to_string(),
                    _ => format!(
                        "interrupted: starting no more tasks; waiting for {} running to end ({}); interrupt again to stop at once",
                        running.len(),
                        names(running.iter().map(|t| t.label.as_str()), 4)
                    ),
                };
                self.say(&text, true);
            }
        }
    }

    fn finish(&mut self) {
        if let Mode::Bars(multi, bars) = &self.mode {
            for b in bars.values() {
                b.finish();
            }
            let _ = multi.clear();
        }
    }
}

/// The first `max` of `items`, comma-separated, with `…` when there are more.
pub fn names<'a>(items: impl ExactSizeIterator<Item = &'a str>, max: usize) -> String {
    let more = items.len() > max;
    let mut text = items.take(max).collect::<Vec<_>>().join(", ");
    if more {
        text.push_str(", …");
    }
    text
}
