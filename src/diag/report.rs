//! Collected problems of one YAML file: each names the file, line and column, shows the line
//! with a caret under the culprit, and offers the fix. [`Diags`] gathers them while a file is
//! checked (every problem, not only the first); [`FileError`] prints them.

use std::fmt;
use std::path::{Path, PathBuf};

use super::suggest::hint;
use super::yaml::{self, Key, Node, Pos, Yaml};

/// One problem found in a file.
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

/// Every problem found while reading one file (a workflow, a plugin manifest, a profile).
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    /// The file.
    pub file: PathBuf,
    /// Its text, to show the offending lines.
    pub source: String,
    /// The problems, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileError {
    /// A single problem without a position (the file cannot be read, is empty, …).
    pub fn whole(file: &Path, source: String, message: String, help: Option<String>) -> Self {
        FileError {
            file: file.to_path_buf(),
            source,
            diagnostics: vec![Diagnostic { message, pos: Pos::default(), width: 0, help }],
        }
    }
}

impl std::error::Error for FileError {}

impl fmt::Display for FileError {
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

/// The text of `path`, a YAML `what` (workflow, profile, …): unreadable, binary or non-UTF-8
/// files are refused by name.
pub fn read_text(path: &Path, what: &str) -> Result<String, FileError> {
    let fail = |message: String| FileError::whole(path, String::new(), message, None);
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the {what}: {e}")))?;
    if bytes.contains(&0) {
        return Err(fail(format!("this is a binary file, not a YAML {what}")));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!("the {what} is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
    })
}

/// The width of the underline under a value: a string's length, else one column.
pub fn width(node: &Node) -> usize {
    match &node.value {
        Yaml::Str(s) => s.chars().count().max(1),
        _ => 1,
    }
}

/// The problems found so far in one file, and the checks every YAML reader shares.
#[derive(Debug, Default)]
pub struct Diags {
    /// The problems, in the order found.
    pub list: Vec<Diagnostic>,
}

impl Diags {
    /// Records a problem at `pos`; an empty `help` is none.
    pub fn error(&mut self, pos: Pos, width: usize, message: String, help: String) {
        let help = (!help.is_empty()).then_some(help);
        self.list.push(Diagnostic { message, pos, width, help });
    }

    /// A problem with a mapping key, underlined.
    pub fn at_key(&mut self, key: &Key, message: String, help: String) {
        self.error(key.pos, key.name.chars().count(), message, help);
    }

    /// A problem with a value, underlined.
    pub fn at_node(&mut self, node: &Node, message: String, help: String) {
        self.error(node.pos, width(node), message, help);
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Parses `text`; a syntax error is recorded and gives `None`.
    pub fn parse(&mut self, text: &str) -> Option<Node> {
        match yaml::parse_at(text) {
            Ok(root) => Some(root),
            Err((message, pos)) => {
                self.error(pos, 1, format!("invalid YAML: {message}"), String::new());
                None
            }
        }
    }

    /// The entries of a mapping (`null` is an empty one); anything else is recorded as `what`
    /// not being a mapping.
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            Yaml::Map(entries) => Some(entries),
            Yaml::Null => Some(&[]),
            other => {
                self.at_node(node, format!("{what} must be a mapping, found {}", other.type_name()), String::new());
                None
            }
        }
    }

    /// Records each key of `entries` not in `allowed`, with a did-you-mean or the list.
    pub fn check_keys(&mut self, entries: &[(Key, Node)], allowed: &[&str], what: &str) {
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                let h = hint(&k.name, allowed.iter().copied());
                let expected = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                let help = if h.is_empty() { format!("{what} may have {expected}") } else { h };
                self.at_key(k, format!("unknown key `{}` in {what}", k.name), help);
            }
        }
    }

    /// The result of checking `file` (whose text is `source`): `value`, or every problem in
    /// source order.
    pub fn finish<T>(mut self, file: &Path, source: &str, value: Option<T>) -> Result<T, FileError> {
        match value {
            Some(v) if self.list.is_empty() => Ok(v),
            _ => {
                self.list.sort_by_key(|d| (d.pos.line, d.pos.col));
                Err(FileError { file: file.to_path_buf(), source: source.to_string(), diagnostics: self.list })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_shown_with_its_line_and_a_caret() {
        let text = "a: 1\nbb: 2\n";
        let mut d = Diags::default();
        let root = d.parse(text).unwrap();
        let Yaml::Map(entries) = &root.value else { panic!() };
        d.check_keys(entries, &["a", "b"], "the file");
        d.at_node(&entries[0].1, "`a` is wrong".into(), String::new());
        let e = d.finish::<()>(Path::new("f.yaml"), text, Some(())).unwrap_err().to_string();
        assert_eq!(
            e,
            "error: `a` is wrong\n  --> f.yaml:1:4\n  |\n1 | a: 1\n  |    ^\n\n\
             error: unknown key `bb` in the file\n  --> f.yaml:2:1\n  |\n2 | bb: 2\n  | ^^\n  = help: did you mean `b`?\n"
        );
    }
}
