//! Workflow errors: each names the file, line and column, shows the line, and offers the fix.

use std::fmt;
use std::path::PathBuf;

use super::yaml::Pos;

/// One problem found in a workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The message, naming the offending thing.
    pub message: String,
    /// Where it is (line 0: no position, e.g. a command-line `--set`).
    pub pos: Pos,
    /// Width of the underline.
    pub width: usize,
    /// How to fix it, when known.
    pub help: Option<String>,
}

/// Every problem found while loading one workflow file.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowError {
    /// The workflow file.
    pub file: PathBuf,
    /// Its text, to show the offending lines.
    pub source: String,
    /// The problems, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl std::error::Error for WorkflowError {}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "error: {}", d.message)?;
            if d.pos.line == 0 {
                writeln!(f, "  --> {file}")?;
            } else {
                writeln!(f, "  --> {file}:{}:{}", d.pos.line, d.pos.col)?;
                if let Some(line) = self.source.lines().nth(d.pos.line - 1) {
                    let num = d.pos.line.to_string();
                    let pad = " ".repeat(num.len());
                    writeln!(f, "{pad} |")?;
                    writeln!(f, "{num} | {line}")?;
                    let caret = " ".repeat(d.pos.col.saturating_sub(1)) + &"^".repeat(d.width.max(1));
                    writeln!(f, "{pad} | {caret}")?;
                }
            }
            if let Some(help) = &d.help {
                writeln!(f, "  = help: {help}")?;
            }
        }
        Ok(())
    }
}
