//! `plugin.yaml`: what an external node kind declares. Parsed with positions, so every mistake is
//! reported as `file:line:col` with the line shown and, for a misspelt key, a suggestion.
//!
//! ```yaml
//! name: top-edges
//! version: 1
//! doc: keep the strongest edges of a GRN
//! command: [sh, top-edges.sh]        # run in the plugin folder
//! format: csv                        # arrow (default) or csv, for inputs and outputs
//! inputs:
//!   edges: edge table with a numeric column to rank by
//! outputs:
//!   edges: { doc: the n strongest edges }
//! params:
//!   n: { type: int, min: 1, default: 100, doc: edges to keep }
//! resources: { cpus: 1, mem_gb: 1 }
//! ```

use std::path::Path;

use serde_json::Value;

use crate::diag::Diags;
use crate::diag::suggest::hint;
use crate::diag::yaml::{Key, Node, Yaml};
use crate::kind::{KindSpec, ParamSpec, ParamType, PortSpec, Resources};
use crate::workflow::WorkflowError;
use crate::workflow::resources::resources;

/// How tables travel between gcrl and the plugin's program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Arrow IPC files (`<port>.arrow`): types and metadata kept.
    Arrow,
    /// CSV files with a header (`<port>.csv`): for programs without an Arrow library.
    Csv,
}

impl Format {
    /// The file extension of a table in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Arrow => "arrow",
            Format::Csv => "csv",
        }
    }
}

/// A parsed, checked `plugin.yaml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Kind name (`kind: <name>` in workflows).
    pub name: String,
    /// Kind version; part of every cache key.
    pub version: u32,
    /// One-line description.
    pub doc: String,
    /// Program and arguments, run in the plugin folder.
    pub command: Vec<String>,
    /// Table format of inputs and outputs.
    pub format: Format,
    /// Input ports.
    pub inputs: Vec<PortSpec>,
    /// Output ports.
    pub outputs: Vec<PortSpec>,
    /// Parameters.
    pub params: Vec<ParamSpec>,
    /// Resources per task.
    pub resources: Resources,
}

impl Manifest {
    /// The kind's declaration (its name and doc leaked, as its ports' are: see [`leak`]).
    pub fn spec(&self) -> KindSpec {
        KindSpec {
            name: leak(&self.name),
            version: self.version,
            doc: leak(&self.doc),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            params: self.params.clone(),
        }
    }
}

const TOP_KEYS: &[&str] = &["name", "version", "doc", "command", "format", "inputs", "outputs", "params", "resources"];
const PARAM_KEYS: &[&str] = &["type", "default", "doc", "min", "max", "choices", "optional"];
const PARAM_TYPES: &[&str] = &["bool", "int", "float", "string", "choice", "floats", "strings"];
const PORT_KEYS: &[&str] = &["doc", "optional"];

/// Ports, params and docs live as long as the process: the engine's specs borrow `'static`
/// strings, and a process loads each plugin once.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// Parses `text`, the contents of `path`.
pub fn parse_manifest(path: &Path, text: &str) -> Result<Manifest, WorkflowError> {
    let mut c = Checker { diags: Diags::default() };
    let manifest = c.diags.parse(text).and_then(|root| c.manifest(&root));
    c.diags.finish(path, text, manifest)
}

struct Checker {
    diags: Diags,
}

fn is_name(s: &str, extra: char) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

impl Checker {
    fn at(&mut self, node: &Node, message: String) {
        self.diags.at_node(node, message, String::new());
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<&'n [(Key, Node)]> {
        let entries = self.diags.mapping(node, what)?;
        if !allowed.is_empty() {
            self.diags.check_keys(entries, allowed, what);
        }
        Some(entries)
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Yaml::Str(s) => Some(s.clone()),
            other => {
                self.at(node, format!("{what} must be a string, found {}", other.type_name()));
                None
            }
        }
    }

    fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        match node.value {
            Yaml::Int(i) => Some(i as f64),
            Yaml::Float(x) => Some(x),
            ref other => {
                self.at(node, format!("{what} must be a number, found {}", other.type_name()));
                None
            }
        }
    }

    fn manifest(&mut self, root: &Node) -> Option<Manifest> {
        let entries = self.map(root, "plugin.yaml", TOP_KEYS)?;
        let get = |k: &str| entries.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
        for required in ["name", "version", "command", "outputs"] {
            if get(required).is_none() {
                self.diags.error(root.pos, 1, format!("plugin.yaml has no `{required}`"), String::new());
            }
        }
        let name = get("name").and_then(|n| {
            let s = self.string(n, "`name`")?;
            if !is_name(&s, '-') {
                self.at(n, format!("plugin name `{s}` must be lowercase letters, digits and `-`"));
            }
            Some(s)
        });
        let version = get("version").and_then(|v| match v.value {
            Yaml::Int(i) if (0..=i64::from(u32::MAX)).contains(&i) => Some(i as u32),
            _ => {
                self.at(v, "`version` must be a whole number ≥ 0 (bump it when results change)".into());
                None
            }
        });
        let doc = get("doc").and_then(|d| self.string(d, "`doc`")).unwrap_or_default();
        let command = get("command").and_then(|c| self.command(c));
        let format = match get("format") {
            None => Some(Format::Arrow),
            Some(f) => match self.string(f, "`format`").as_deref() {
                Some("arrow") => Some(Format::Arrow),
                Some("csv") => Some(Format::Csv),
                Some(other) => {
                    let h = hint(other, ["arrow", "csv"]);
                    self.diags.error(
                        f.pos,
                        other.chars().count(),
                        format!("unknown format `{other}`; use `arrow` or `csv`"),
                        h,
                    );
                    None
                }
                None => None,
            },
        };
        let inputs = get("inputs").map(|i| self.ports(i, "inputs", true)).unwrap_or_default();
        let outputs = get("outputs").map(|o| self.ports(o, "outputs", false)).unwrap_or_default();
        let params = get("params").map(|p| self.params(p)).unwrap_or_default();
        let resources = get("resources")
            .map(|r| resources(&mut self.diags, r, Resources::default(), "of the plugin"))
            .unwrap_or_default();
        if get("outputs").is_some() && outputs.is_empty() && self.diags.is_empty() {
            self.diags.error(root.pos, 1, "a plugin needs at least one output".into(), String::new());
        }
        Some(Manifest {
            name: name?,
            version: version?,
            doc,
            command: command?,
            format: format?,
            inputs,
            outputs,
            params,
            resources,
        })
    }

    fn command(&mut self, node: &Node) -> Option<Vec<String>> {
        let argv: Vec<String> = match &node.value {
            Yaml::Str(s) => s.split_whitespace().map(String::from).collect(),
            Yaml::Seq(items) => {
                items.iter().map(|i| self.string(i, "each word of `command`")).collect::<Option<_>>()?
            }
            other => {
                self.at(node, format!("`command` must be a list of words or a string, found {}", other.type_name()));
                return None;
            }
        };
        if argv.is_empty() {
            self.at(node, "`command` is empty; name the program to run".into());
            return None;
        }
        Some(argv)
    }

    fn ports(&mut self, node: &Node, what: &str, inputs: bool) -> Vec<PortSpec> {
        let Some(entries) = self.map(node, &format!("`{what}`"), &[]) else { return Vec::new() };
        let mut ports = Vec::new();
        for (k, v) in entries {
            if !is_name(&k.name, '_') {
                let msg = format!("port name `{}` must be lowercase letters, digits and `_`", k.name);
                self.diags.error(k.pos, k.name.chars().count(), msg, String::new());
                continue;
            }
            let (doc, optional) = match &v.value {
                Yaml::Str(s) => (s.clone(), false),
                Yaml::Null => (String::new(), false),
                Yaml::Map(_) => {
                    let keys = if inputs { PORT_KEYS } else { &PORT_KEYS[..1] };
                    let Some(fields) = self.map(v, &format!("port `{}`", k.name), keys) else { continue };
                    let mut doc = String::new();
                    let mut optional = false;
                    for (fk, fv) in fields {
                        match (fk.name.as_str(), &fv.value) {
                            ("doc", _) => doc = self.string(fv, "`doc`").unwrap_or_default(),
                            ("optional", Yaml::Bool(b)) => optional = *b,
                            ("optional", other) => {
                                self.at(fv, format!("`optional` must be true or false, found {}", other.type_name()))
                            }
                            _ => {}
                        }
                    }
                    (doc, optional)
                }
                other => {
                    self.at(
                        v,
                        format!("port `{}` must be a doc string or a mapping, found {}", k.name, other.type_name()),
                    );
                    continue;
                }
            };
            let (name, doc) = (leak(&k.name), leak(&doc));
            ports.push(if optional { PortSpec::optional(name, doc) } else { PortSpec::new(name, doc) });
        }
        ports
    }

    fn params(&mut self, node: &Node) -> Vec<ParamSpec> {
        let Some(entries) = self.map(node, "`params`", &[]) else { return Vec::new() };
        entries.iter().filter_map(|(k, v)| self.param(k, v)).collect()
    }

    fn param(&mut self, key: &Key, node: &Node) -> Option<ParamSpec> {
        if !is_name(&key.name, '_') {
            let msg = format!("param name `{}` must be lowercase letters, digits and `_`", key.name);
            self.diags.error(key.pos, key.name.chars().count(), msg, String::new());
            return None;
        }
        let fields = self.map(node, &format!("param `{}`", key.name), PARAM_KEYS)?;
        let get = |k: &str| fields.iter().find(|(f, _)| f.name == k).map(|(_, v)| v);
        let Some(ty_node) = get("type") else {
            let list = PARAM_TYPES.join(", ");
            self.diags.error(
                key.pos,
                key.name.chars().count(),
                format!("param `{}` has no `type` ({list})", key.name),
                String::new(),
            );
            return None;
        };
        let ty_name = self.string(ty_node, "`type`")?;
        let bound = |c: &mut Self, k: &str| get(k).and_then(|b| c.number(b, &format!("`{k}`")));
        let ty = match ty_name.as_str() {
            "bool" => ParamType::Bool,
            "int" => {
                ParamType::Int { min: bound(self, "min").map(|x| x as i64), max: bound(self, "max").map(|x| x as i64) }
            }
            "float" => ParamType::Float { min: bound(self, "min"), max: bound(self, "max") },
            "string" => ParamType::Str,
            "floats" => ParamType::FloatList,
            "strings" => ParamType::StrList,
            "choice" => {
                let Some(Yaml::Seq(items)) = get("choices").map(|c| &c.value) else {
                    let at = get("choices").unwrap_or(ty_node);
                    self.at(at, format!("param `{}` of type choice needs `choices: [a, b, …]`", key.name));
                    return None;
                };
                let options: Vec<&'static str> =
                    items.iter().filter_map(|i| self.string(i, "each choice")).map(|s| leak(&s)).collect();
                ParamType::Choice(Box::leak(options.into_boxed_slice()))
            }
            other => {
                let h = hint(other, PARAM_TYPES.iter().copied());
                let help = if h.is_empty() { format!("types: {}", PARAM_TYPES.join(", ")) } else { h };
                self.diags.error(ty_node.pos, other.chars().count(), format!("unknown param type `{other}`"), help);
                return None;
            }
        };
        let optional = matches!(get("optional").map(|o| &o.value), Some(Yaml::Bool(true)));
        let ty = if optional { ParamType::optional(ty) } else { ty };
        let doc = leak(&get("doc").and_then(|d| self.string(d, "`doc`")).unwrap_or_default());
        let name = leak(&key.name);
        match get("default") {
            None => Some(ParamSpec::required(name, ty, doc)),
            Some(d) => match ty.check(&d.value.to_json()) {
                Ok(value) => Some(ParamSpec::new(name, ty, value, doc)),
                Err(e) => {
                    self.at(d, format!("default of param `{}`: {e}", key.name));
                    None
                }
            },
        }
    }
}

/// A parameter value as a plugin's environment variable carries it: strings as they are, `null`
/// as nothing, anything else as JSON.
pub fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, String> {
        parse_manifest(Path::new("p/plugin.yaml"), text).map_err(|e| e.to_string())
    }

    const GOOD: &str = "name: top-edges\nversion: 2\ndoc: d\ncommand: [sh, run.sh]\nformat: csv\n\
        inputs:\n  edges: the edges\n  extra: {doc: x, optional: true}\noutputs:\n  edges: {doc: kept}\n\
        params:\n  n: {type: int, min: 1, default: 5, doc: keep}\n  how: {type: choice, choices: [a, b], default: b}\n\
        resources: {cpus: 2}\n";

    #[test]
    fn a_full_manifest_is_read() {
        let m = parse(GOOD).unwrap();
        assert_eq!((m.name.as_str(), m.version, m.format), ("top-edges", 2, Format::Csv));
        assert_eq!(m.command, ["sh", "run.sh"]);
        assert_eq!(
            m.inputs.iter().map(|p| (p.name, p.optional)).collect::<Vec<_>>(),
            [("edges", false), ("extra", true)]
        );
        assert_eq!(m.params[0].default, Some(serde_json::json!(5)));
        assert_eq!(m.params[1].ty, ParamType::Choice(&["a", "b"]));
        assert_eq!(m.resources.cpus, 2);
    }

    #[test]
    fn mistakes_name_the_file_line_and_column() {
        let e = parse(&GOOD.replace("format: csv", "formta: csv")).unwrap_err();
        assert!(
            e.contains("unknown key `formta`")
                && e.contains("p/plugin.yaml:5:1")
                && e.contains("did you mean `format`?"),
            "{e}"
        );
        let e = parse(&GOOD.replace("default: 5", "default: 0")).unwrap_err();
        assert!(e.contains("default of param `n`: 0 is below the minimum 1") && e.contains(":12:"), "{e}");
        let e = parse(&GOOD.replace("type: int", "type: integer")).unwrap_err();
        assert!(e.contains("unknown param type `integer`"), "{e}");
        let e = parse(&GOOD.replace("version: 2", "version: two")).unwrap_err();
        assert!(e.contains("`version` must be a whole number") && e.contains(":2:10"), "{e}");
        let e = parse("name: x\nversion: 1\noutputs: {o: d}\n").unwrap_err();
        assert!(e.contains("no `command`"), "{e}");
        let e = parse("name: x\nversion: 1\ncommand: []\noutputs: {o: d}\n").unwrap_err();
        assert!(e.contains("`command` is empty"), "{e}");
        let e = parse("name: Bad_Name\nversion: 1\ncommand: x\noutputs: {o: d}\n").unwrap_err();
        assert!(e.contains("lowercase"), "{e}");
        let e = parse("name: x\nversion: 1\ncommand: x\noutputs: {o: d}\nformat: parquet\n").unwrap_err();
        assert!(e.contains("unknown format `parquet`"), "{e}");
        let e = parse("name: [x\n").unwrap_err();
        assert!(e.contains("p/plugin.yaml:") && !e.contains("has no"), "a syntax error names the file: {e}");
        let e = parse("name: x\nversion: 1\ncommand: x\noutputs: {o: d}\nparams: {c: {type: choice}}\n").unwrap_err();
        assert!(e.contains("needs `choices"), "{e}");
    }

    #[test]
    fn a_zero_resource_is_refused_as_in_a_workflow() {
        let e = parse(&GOOD.replace("resources: {cpus: 2}", "resources: {cpus: 2, mem_gb: 0.0}")).unwrap_err();
        assert!(
            e.contains("resource `mem_gb` of the plugin must be above 0") && e.contains("p/plugin.yaml:14:"),
            "{e}"
        );
    }
}
