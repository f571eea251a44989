//! Loading a workflow: YAML text → positioned tree → validated [`Workflow`].
//!
//! Every problem is collected (not only the first) with its line and column, the offending name
//! and, where one exists, a did-you-mean. Parameters are checked once here (house rule 6).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::WorkflowError;
use super::spec::{NodeSpec, Source, Workflow};
use crate::diag::suggest::hint;
use crate::diag::yaml::{self, Key, Node, Pos, Yaml};
use crate::diag::{Diags, FileError};
use crate::kind::NodeKind;
use crate::kind::Registry;
use crate::kind::params::{ParamSpec, Params};

/// A command-line override `node.key=value`: a parameter, or a file for an input port.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Node id.
    pub node: String,
    /// Parameter or input port name.
    pub key: String,
    /// The value as typed (parsed as a YAML scalar for parameters, a path for inputs).
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (lhs, value) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected node.param=value"))?;
        let (node, key) = lhs.split_once('.').ok_or_else(|| format!("`{s}`: expected node.param=value"))?;
        if node.is_empty() || key.is_empty() {
            return Err(format!("`{s}`: expected node.param=value"));
        }
        Ok(Override { node: node.into(), key: key.into(), value: value.into() })
    }
}

const TOP_KEYS: &[&str] = &["name", "description", "defaults", "nodes"];
const NODE_KEYS: &[&str] = &["kind", "description", "inputs", "params", "sweep", "resources", "retries", "publish"];

/// An input value as written: a source, or (in a list) a bare node id that stands for every
/// output of that node, expanded once all nodes are loaded.
enum Written {
    Source(Source),
    AllOutputsOf(String),
}

/// A node as loaded, with what later checks need: its key's position, its inputs as written
/// and, once expanded, as sources (with positions), and the params the user set explicitly
/// (which workflow `defaults` must not replace).
struct Loaded<'k> {
    spec: NodeSpec,
    key: &'k Key,
    written: BTreeMap<String, Vec<(Node, Written)>>,
    inputs: BTreeMap<String, Vec<(Node, Source)>>,
    explicit: Vec<String>,
}

struct Loader<'a> {
    registry: &'a Registry,
    dir: PathBuf,
    diags: Diags,
}

/// Loads and validates `path` against the kinds of `registry`, applying `overrides`.
pub fn load_workflow(path: &Path, registry: &Registry, overrides: &[Override]) -> Result<Workflow, WorkflowError> {
    let text = crate::diag::report::read_text(path, "workflow")?;
    if text.trim().is_empty() || yaml::parse(&text).is_ok_and(|n| n.value == Yaml::Null) {
        return Err(FileError::whole(
            path,
            text,
            "the workflow is empty".into(),
            Some(
                "a workflow needs `name:` and `nodes:`, e.g.\n    name: demo\n    nodes:\n      data: {kind: simulate}"
                    .into(),
            ),
        ));
    }
    let mut diags = Diags::default();
    let Some(root) = diags.parse(&text) else { return diags.finish(path, &text, None) };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader { registry, dir, diags };
    let workflow = loader.workflow(&root, path, overrides);
    loader.diags.finish(path, &text, workflow)
}

/// Swept params and their values (a grid's axes, or a zip group's members).
type Axes = Vec<(String, Vec<Value>)>;

/// Whether `s` is a valid node id (letters, digits, `_` and `-`).
fn is_node_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Loader<'_> {
    fn workflow(&mut self, root: &Node, path: &Path, overrides: &[Override]) -> Option<Workflow> {
        let Yaml::Map(top) = &root.value else {
            let found = root.value.type_name();
            self.diags.at_node(
                root,
                format!("a workflow is a mapping with `name` and `nodes`, found {found}"),
                String::new(),
            );
            return None;
        };
        self.diags.check_keys(top, TOP_KEYS, "the workflow");
        let get = |name: &str| top.iter().find(|(k, _)| k.name == name);
        let name = match get("name") {
            Some((_, Node { value: Yaml::Str(s), .. })) if !s.trim().is_empty() => s.clone(),
            Some((k, v)) => {
                let found = v.value.type_name();
                self.diags.at_key(k, format!("`name` must be a non-empty string, found {found}"), String::new());
                String::new()
            }
            None => {
                self.diags.error(
                    Pos { line: 1, col: 1 },
                    1,
                    "the workflow has no `name`".into(),
                    "add `name: my-analysis`".into(),
                );
                String::new()
            }
        };
        let Some((nodes_key, nodes_node)) = get("nodes") else {
            self.diags.error(
                Pos { line: 1, col: 1 },
                1,
                "the workflow has no `nodes`".into(),
                "add `nodes:` with at least one node".into(),
            );
            return None;
        };
        let entries = self.diags.mapping(nodes_node, "`nodes`")?;
        if entries.is_empty() {
            self.diags.at_key(nodes_key, "`nodes` is empty".into(), "add at least one node".into());
        }
        let mut by_node: HashMap<&str, Vec<&Override>> = HashMap::new();
        for o in overrides {
            by_node.entry(o.node.as_str()).or_default().push(o);
        }
        for o in overrides {
            if !entries.iter().any(|(k, _)| k.name == o.node) {
                let h = hint(&o.node, entries.iter().map(|(k, _)| k.name.as_str()));
                self.diags.error(Pos::default(), 0, format!("--set {}.{}: no node `{}`", o.node, o.key, o.node), h);
            }
        }
        let mut nodes: Vec<Loaded> = Vec::new();
        for (key, value) in entries {
            let ovr = by_node.get(key.name.as_str()).cloned().unwrap_or_default();
            if let Some(n) = self.node(key, value, &ovr) {
                nodes.push(n);
            }
        }
        self.expand_inputs(&mut nodes);
        if let Some((_, defaults)) = get("defaults") {
            self.apply_defaults(defaults, &mut nodes);
        }
        self.check_references(&nodes);
        if self.diags.is_empty() {
            self.check_cycles(&nodes);
        }
        Some(Workflow { name, path: path.to_path_buf(), nodes: nodes.into_iter().map(|n| n.spec).collect() })
    }

    fn node<'k>(&mut self, key: &'k Key, value: &Node, overrides: &[&Override]) -> Option<Loaded<'k>> {
        let id = &key.name;
        if !is_node_id(id) {
            self.diags.at_key(key, format!("invalid node id `{id}`"), "use letters, digits, `_` and `-` only".into());
        }
        let entries = self.diags.mapping(value, &format!("node `{id}`"))?;
        self.diags.check_keys(entries, NODE_KEYS, &format!("node `{id}`"));
        let get = |name: &str| entries.iter().find(|(k, _)| k.name == name);
        let kind = match get("kind") {
            Some((_, v @ Node { value: Yaml::Str(kind), .. })) => match self.registry.get(kind) {
                Some(k) => k,
                None => {
                    let h = hint(kind, self.registry.names());
                    let help = if h.is_empty() { "`gcrl kinds` lists every kind".to_string() } else { h };
                    self.diags.at_node(v, format!("unknown kind `{kind}` for node `{id}`"), help);
                    return None;
                }
            },
            Some((_, v)) => {
                let found = v.value.type_name();
                self.diags.at_node(v, format!("`kind` of node `{id}` must be a string, found {found}"), String::new());
                return None;
            }
            None => {
                self.diags.at_key(
                    key,
                    format!("node `{id}` has no `kind`"),
                    "add `kind: <name>`; `gcrl kinds` lists them".into(),
                );
                return None;
            }
        };
        let specs = kind.params();
        let mut params: BTreeMap<String, Value> = BTreeMap::new();
        if let Some((_, p)) = get("params")
            && let Some(p) = self.diags.mapping(p, &format!("`params` of node `{id}`"))
        {
            for (k, v) in p {
                if let Some(spec) = self.param_spec(&specs, k, id, kind.name()) {
                    match spec.ty.check(&v.value.to_json()) {
                        Ok(val) => {
                            params.insert(k.name.clone(), val);
                        }
                        Err(why) => {
                            self.diags.at_node(v, format!("param `{}` of node `{id}`: {why}", k.name), String::new())
                        }
                    }
                }
            }
        }
        let (mut sweep, mut zip) = (Vec::new(), Vec::new());
        if let Some((_, s)) = get("sweep")
            && let Some(s) = self.diags.mapping(s, &format!("`sweep` of node `{id}`"))
        {
            for (k, v) in s {
                if k.name == "zip" && !specs.iter().any(|p| p.name == "zip") {
                    zip = self.zip(v, &specs, &params, id, kind.name());
                    continue;
                }
                if let Some(values) = self.sweep_axis(&specs, &params, k, v, id, kind.name()) {
                    sweep.push((k.name.clone(), values));
                }
            }
            for (k, _) in s.iter().filter(|(k, _)| zip.iter().any(|(n, _)| n == &k.name)) {
                self.diags.at_key(
                    k,
                    format!("param `{}` of node `{id}` is swept both on its own and in `zip`", k.name),
                    "keep one: beside `zip` it is a grid axis, inside it moves with the zipped params".into(),
                );
            }
        }
        let ports = kind.inputs();
        let mut inputs: BTreeMap<String, Vec<(Node, Written)>> = BTreeMap::new();
        if let Some((_, i)) = get("inputs")
            && let Some(i) = self.diags.mapping(i, &format!("`inputs` of node `{id}`"))
        {
            for (k, v) in i {
                if !ports.iter().any(|p| p.name == k.name) {
                    let h = hint(&k.name, ports.iter().map(|p| p.name));
                    let names = ports.iter().map(|p| format!("`{}`", p.name)).collect::<Vec<_>>().join(", ");
                    let help = if h.is_empty() { format!("kind `{}` has inputs {names}", kind.name()) } else { h };
                    self.diags.at_key(
                        k,
                        format!("unknown input `{}` of node `{id}` (kind `{}`)", k.name, kind.name()),
                        help,
                    );
                    continue;
                }
                if overrides.iter().any(|o| o.key == k.name) {
                    continue; // `--set node.port=PATH` replaces this input
                }
                let sources = self.sources(v, id, &k.name, false);
                inputs.insert(k.name.clone(), sources);
            }
        }
        for o in overrides {
            self.apply_override(o, &specs, &ports, &mut params, (&mut sweep, &mut zip), &mut inputs, kind.name());
        }
        let explicit: Vec<String> = params.keys().cloned().collect();
        for spec in &specs {
            if params.contains_key(spec.name) || sweep.iter().chain(&zip).any(|(n, _)| n == spec.name) {
                continue;
            }
            match &spec.default {
                Some(d) => {
                    params.insert(spec.name.to_string(), d.clone());
                }
                None => self.diags.at_key(
                    key,
                    format!("node `{id}` needs param `{}` ({})", spec.name, spec.doc),
                    format!("add `params: {{{}: ...}}`", spec.name),
                ),
            }
        }
        for p in &ports {
            if !p.optional && !inputs.contains_key(p.name) {
                self.diags.at_key(
                    key,
                    format!("node `{id}` needs input `{}` ({})", p.name, p.doc),
                    format!("add `inputs: {{{}: <node>.<output>}}`", p.name),
                );
            }
        }
        let resources = get("resources").map(|(_, r)| {
            let base = kind.resources(&Params::from_map(params.clone()));
            super::resources::resources(&mut self.diags, r, base, &format!("of node `{id}`"))
        });
        let retries = match get("retries") {
            None => 0,
            Some((_, Node { value: Yaml::Int(n), .. })) if (0..=100).contains(n) => *n as u32,
            Some((_, v)) => {
                self.diags.at_node(v, format!("`retries` of node `{id}` must be an integer in 0..=100"), String::new());
                0
            }
        };
        let publish = get("publish").map(|(_, p)| self.publish(p, kind.as_ref(), id)).unwrap_or_default();
        let params = Params::from_map(params);
        let resources = resources.unwrap_or_else(|| kind.resources(&params));
        let spec =
            NodeSpec { id: id.clone(), kind, params, sweep, zip, inputs: BTreeMap::new(), resources, retries, publish };
        Some(Loaded { spec, key, written: inputs, inputs: BTreeMap::new(), explicit })
    }

    /// `publish: {output: path}`: each output must exist and the path have a known format.
    fn publish(&mut self, node: &Node, kind: &dyn NodeKind, id: &str) -> BTreeMap<String, PathBuf> {
        let mut publish = BTreeMap::new();
        let Some(entries) = self.diags.mapping(node, &format!("`publish` of node `{id}`")) else { return publish };
        let outputs = kind.outputs();
        for (k, v) in entries {
            if !outputs.iter().any(|o| o.name == k.name) {
                let h = hint(&k.name, outputs.iter().map(|o| o.name));
                let names = outputs.iter().map(|o| format!("`{}`", o.name)).collect::<Vec<_>>().join(", ");
                let help = if h.is_empty() { format!("kind `{}` has outputs {names}", kind.name()) } else { h };
                self.diags.at_key(k, format!("`publish` of node `{id}` names unknown output `{}`", k.name), help);
                continue;
            }
            match &v.value {
                Yaml::Str(path) if !path.trim().is_empty() => match super::publish::check_path(Path::new(path)) {
                    Ok(()) => {
                        publish.insert(k.name.clone(), self.dir.join(path));
                    }
                    Err(why) => self.diags.at_node(
                        v,
                        format!("`publish` of output `{}` of node `{id}`: {why}", k.name),
                        String::new(),
                    ),
                },
                other => {
                    let found = other.type_name();
                    self.diags.at_node(
                        v,
                        format!("`publish` of output `{}` of node `{id}` must be a file path, found {found}", k.name),
                        format!("e.g. `publish: {{{}: results/{}.csv}}`", k.name, k.name),
                    );
                }
            }
        }
        publish
    }

    /// One swept param `k: [values]` of node `id` (a grid axis or a member of a zip group): the
    /// checked, distinct values, or `None` after reporting what is wrong.
    fn sweep_axis(
        &mut self,
        specs: &[ParamSpec],
        params: &BTreeMap<String, Value>,
        k: &Key,
        v: &Node,
        id: &str,
        kind: &str,
    ) -> Option<Vec<Value>> {
        let spec = self.param_spec(specs, k, id, kind)?;
        if params.contains_key(&k.name) {
            self.diags.at_key(
                k,
                format!("param `{}` of node `{id}` is set in both `params` and `sweep`", k.name),
                String::new(),
            );
        }
        let Yaml::Seq(items) = &v.value else {
            let found = v.value.type_name();
            self.diags.at_node(
                v,
                format!("sweep `{}` of node `{id}` must be a list, found {found}", k.name),
                String::new(),
            );
            return None;
        };
        if items.is_empty() {
            self.diags.at_node(v, format!("sweep `{}` of node `{id}` is empty", k.name), String::new());
        }
        let mut values = Vec::new();
        for item in items {
            match spec.ty.check(&item.value.to_json()) {
                Ok(val) if values.contains(&val) => {
                    self.diags.at_node(item, format!("sweep `{}` of node `{id}` repeats {val}", k.name), String::new());
                }
                Ok(val) => values.push(val),
                Err(why) => {
                    self.diags.at_node(item, format!("sweep `{}` of node `{id}`: {why}", k.name), String::new())
                }
            }
        }
        Some(values)
    }

    /// `sweep: {zip: {a: [..], b: [..]}}`: params that move together, the i-th values of each
    /// list making the i-th instance; the lists must have one length.
    fn zip(
        &mut self,
        node: &Node,
        specs: &[ParamSpec],
        params: &BTreeMap<String, Value>,
        id: &str,
        kind: &str,
    ) -> Vec<(String, Vec<Value>)> {
        let Some(entries) = self.diags.mapping(node, &format!("`sweep.zip` of node `{id}`")) else { return Vec::new() };
        let mut zip: Vec<(String, Vec<Value>, &Key)> = Vec::new();
        for (k, v) in entries {
            if let Some(values) = self.sweep_axis(specs, params, k, v, id, kind) {
                zip.push((k.name.clone(), values, k));
            }
        }
        if let Some((first, n, _)) = zip.first().map(|(name, values, k)| (name.clone(), values.len(), k)) {
            for (name, values, k) in &zip[1..] {
                if values.len() != n {
                    self.diags.at_key(
                        k,
                        format!(
                            "zipped sweep `{name}` of node `{id}` has {} values, but `{first}` has {n}",
                            values.len()
                        ),
                        "the lists of a `zip` pair up by position, so they need one length; for every combination \
                         put the params beside `zip` (a grid)"
                            .into(),
                    );
                }
            }
        }
        zip.into_iter().map(|(name, values, _)| (name, values)).collect()
    }

    fn param_spec<'s>(&mut self, specs: &'s [ParamSpec], k: &Key, id: &str, kind: &str) -> Option<&'s ParamSpec> {
        let found = specs.iter().find(|s| s.name == k.name);
        if found.is_none() {
            let h = hint(&k.name, specs.iter().map(|s| s.name));
            let help = if h.is_empty() { format!("`gcrl kinds {kind}` lists its params") } else { h };
            self.diags.at_key(k, format!("unknown param `{}` of node `{id}` (kind `{kind}`)", k.name), help);
        }
        found
    }

    /// `--set node.param=[a,b,…]` for a param whose type takes no list: a sweep over the values,
    /// replacing the param's value or sweep (in a zip group, its list there, of the same length).
    fn sweep_override(
        &mut self,
        here: &str,
        o: &Override,
        spec: &ParamSpec,
        items: &[Value],
        params: &mut BTreeMap<String, Value>,
        (sweep, zip): (&mut Axes, &mut Axes),
    ) {
        let mut values = Vec::new();
        for item in items {
            match spec.ty.check(item) {
                Ok(v) if values.contains(&v) => {
                    self.diags.error(Pos::default(), 0, format!("{here}: the sweep repeats {v}"), String::new())
                }
                Ok(v) => values.push(v),
                Err(why) => self.diags.error(Pos::default(), 0, format!("{here}: {why}"), String::new()),
            }
        }
        if values.is_empty() {
            let help = format!("give one value (`{}.{}=VALUE`) or a list of them", o.node, o.key);
            self.diags.error(Pos::default(), 0, format!("{here}: the sweep is empty"), help);
            return;
        }
        params.remove(&o.key);
        let zipped_len = zip.iter().find(|(n, _)| n != &o.key).map(|(n, v)| (n.clone(), v.len()));
        match zip.iter_mut().find(|(n, _)| n == &o.key) {
            Some((_, old)) => {
                if let Some((other, n)) = zipped_len.filter(|(_, n)| *n != values.len()) {
                    self.diags.error(
                        Pos::default(),
                        0,
                        format!(
                            "{here}: `{}` is zipped with `{other}`, which has {n} values, not {}",
                            o.key,
                            values.len()
                        ),
                        format!("give {n} values, or one value to take `{}` out of the sweep", o.key),
                    );
                }
                *old = values;
            }
            None => match sweep.iter_mut().find(|(n, _)| n == &o.key) {
                Some((_, old)) => *old = values,
                None => sweep.push((o.key.clone(), values)),
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_override(
        &mut self,
        o: &Override,
        specs: &[ParamSpec],
        ports: &[crate::kind::PortSpec],
        params: &mut BTreeMap<String, Value>,
        (sweep, zip): (&mut Axes, &mut Axes),
        inputs: &mut BTreeMap<String, Vec<(Node, Written)>>,
        kind: &str,
    ) {
        let here = format!("--set {}.{}={}", o.node, o.key, o.value);
        if let Some(spec) = specs.iter().find(|s| s.name == o.key) {
            let value = yaml::parse(&o.value).map(|n| n.value.to_json()).unwrap_or(Value::String(o.value.clone()));
            match (spec.ty.check(&value), &value) {
                (Ok(v), _) => {
                    sweep.retain(|(n, _)| n != &o.key);
                    zip.retain(|(n, _)| n != &o.key);
                    params.insert(o.key.clone(), v);
                }
                (Err(_), Value::Array(items)) => self.sweep_override(&here, o, spec, items, params, (sweep, zip)),
                (Err(why), _) => self.diags.error(Pos::default(), 0, format!("{here}: {why}"), String::new()),
            }
        } else if ports.iter().any(|p| p.name == o.key) {
            let path = PathBuf::from(&o.value);
            if !path.exists() {
                self.diags.error(Pos::default(), 0, format!("{here}: file not found"), String::new());
            }
            let node = Node { value: Yaml::Str(o.value.clone()), pos: Pos::default() };
            inputs.insert(o.key.clone(), vec![(node, Written::Source(Source::File(path)))]);
        } else {
            let h = hint(&o.key, specs.iter().map(|s| s.name).chain(ports.iter().map(|p| p.name)));
            self.diags.error(Pos::default(), 0, format!("{here}: kind `{kind}` has no param or input `{}`", o.key), h);
        }
    }

    /// The sources of input `port` of node `id` as written; `in_list`: `v` is an item of a list,
    /// where a bare node id stands for all of that node's outputs.
    fn sources(&mut self, v: &Node, id: &str, port: &str, in_list: bool) -> Vec<(Node, Written)> {
        match &v.value {
            Yaml::Str(s) => match s.split_once('.') {
                Some((node, output)) if !node.is_empty() && !output.is_empty() => {
                    vec![(v.clone(), Written::Source(Source::Output { node: node.into(), output: output.into() }))]
                }
                None if in_list && is_node_id(s) => vec![(v.clone(), Written::AllOutputsOf(s.clone()))],
                _ => {
                    let bare = if is_node_id(s) {
                        format!("; for every output of node `{s}` write a list: `{port}: [{s}]`")
                    } else {
                        String::new()
                    };
                    self.diags.at_node(
                        v,
                        format!("input `{port}` of node `{id}`: `{s}` is not `node.output`"),
                        format!("for one output write `{s}.<output>`{bare}; for a file write `{{file: {s}}}`"),
                    );
                    Vec::new()
                }
            },
            Yaml::Map(entries) => {
                let file = entries.iter().find(|(k, _)| k.name == "file");
                for (k, _) in entries.iter().filter(|(k, _)| k.name != "file") {
                    self.diags.at_key(
                        k,
                        format!("unknown key `{}` in a file input", k.name),
                        "write `{file: path}`".into(),
                    );
                }
                match file {
                    Some((_, n @ Node { value: Yaml::Str(p), .. })) => {
                        let path = self.dir.join(p);
                        if !path.exists() {
                            self.diags.at_node(
                                n,
                                format!("input `{port}` of node `{id}`: file `{}` not found", path.display()),
                                format!(
                                    "paths are relative to the workflow file; or give it with --set {id}.{port}=PATH"
                                ),
                            );
                        }
                        vec![(n.clone(), Written::Source(Source::File(path)))]
                    }
                    _ => {
                        self.diags.at_node(
                            v,
                            format!("input `{port}` of node `{id}` needs `{{file: path}}`"),
                            String::new(),
                        );
                        Vec::new()
                    }
                }
            }
            Yaml::Seq(items) => items.iter().flat_map(|i| self.sources(i, id, port, true)).collect(),
            other => {
                let found = other.type_name();
                self.diags.at_node(
                    v,
                    format!("input `{port}` of node `{id}` must be `node.output` or `{{file: path}}`, found {found}"),
                    String::new(),
                );
                Vec::new()
            }
        }
    }

    fn apply_defaults(&mut self, defaults: &Node, nodes: &mut [Loaded]) {
        let Some(entries) = self.diags.mapping(defaults, "`defaults`") else { return };
        for (k, v) in entries {
            let mut used = false;
            for loaded in nodes.iter_mut() {
                let node = &mut loaded.spec;
                let Some(spec) = node.kind.params().into_iter().find(|s| s.name == k.name) else { continue };
                used = true;
                if loaded.explicit.contains(&k.name) || node.swept().any(|n| n == k.name) {
                    continue;
                }
                match spec.ty.check(&v.value.to_json()) {
                    Ok(val) => node.params.set(&k.name, val),
                    Err(why) => self.diags.at_node(
                        v,
                        format!("default `{}` for node `{}`: {why}", k.name, node.id),
                        String::new(),
                    ),
                }
            }
            if !used {
                let all: Vec<&'static str> =
                    nodes.iter().flat_map(|n| n.spec.kind.params().into_iter().map(|s| s.name)).collect();
                let h = hint(&k.name, all.iter().copied());
                self.diags.at_key(k, format!("default `{}` is not a param of any node", k.name), h);
            }
        }
    }

    /// Replaces each bare node id by one `node.output` per declared output of its kind, in
    /// declaration order, and fills each node's `inputs`; an unknown id gets a did-you-mean.
    fn expand_inputs(&mut self, nodes: &mut [Loaded]) {
        let outputs: HashMap<String, Vec<&'static str>> =
            nodes.iter().map(|n| (n.spec.id.clone(), n.spec.kind.outputs().iter().map(|o| o.name).collect())).collect();
        let ids: Vec<String> = nodes.iter().map(|n| n.spec.id.clone()).collect();
        for loaded in nodes.iter_mut() {
            for (port, written) in std::mem::take(&mut loaded.written) {
                let mut sources = Vec::with_capacity(written.len());
                for (pos, w) in written {
                    match w {
                        Written::Source(s) => sources.push((pos, s)),
                        Written::AllOutputsOf(node) => {
                            match outputs.get(&node) {
                                Some(outs) => sources.extend(outs.iter().map(|o| {
                                    (pos.clone(), Source::Output { node: node.clone(), output: o.to_string() })
                                })),
                                None => {
                                    let h = hint(&node, ids.iter().map(String::as_str));
                                    let message = format!(
                                        "input `{port}` of node `{}` refers to unknown node `{node}`",
                                        loaded.spec.id
                                    );
                                    self.diags.at_node(&pos, message, h);
                                }
                            }
                        }
                    }
                }
                loaded.inputs.insert(port, sources);
            }
            loaded.spec.inputs =
                loaded.inputs.iter().map(|(p, s)| (p.clone(), s.iter().map(|(_, s)| s.clone()).collect())).collect();
        }
    }

    fn check_references(&mut self, nodes: &[Loaded]) {
        let ids: Vec<&str> = nodes.iter().map(|n| n.spec.id.as_str()).collect();
        for Loaded { spec, inputs, .. } in nodes {
            for (port, sources) in inputs {
                for (pos_node, source) in sources {
                    let Source::Output { node, output } = source else { continue };
                    match nodes.iter().find(|n| &n.spec.id == node).map(|n| &n.spec) {
                        None => {
                            let h = hint(node, ids.iter().copied());
                            self.diags.at_node(
                                pos_node,
                                format!("input `{port}` of node `{}` refers to unknown node `{node}`", spec.id),
                                h,
                            );
                        }
                        Some(producer) => {
                            let outs = producer.kind.outputs();
                            if !outs.iter().any(|o| o.name == output) {
                                let h = hint(output, outs.iter().map(|o| o.name));
                                let names = outs.iter().map(|o| format!("`{}`", o.name)).collect::<Vec<_>>().join(", ");
                                let help = if h.is_empty() { format!("node `{node}` has outputs {names}") } else { h };
                                self.diags.at_node(
                                    pos_node,
                                    format!("node `{node}` (kind `{}`) has no output `{output}`", producer.kind.name()),
                                    help,
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn check_cycles(&mut self, nodes: &[Loaded]) {
        let mut graph = petgraph::graphmap::DiGraphMap::<usize, ()>::new();
        let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.spec.id.as_str(), i)).collect();
        for i in 0..nodes.len() {
            graph.add_node(i);
        }
        for (i, n) in nodes.iter().enumerate() {
            for sources in n.spec.inputs.values() {
                for s in sources {
                    if let Source::Output { node, .. } = s
                        && let Some(&j) = index.get(node.as_str())
                    {
                        graph.add_edge(j, i, ());
                    }
                }
            }
        }
        for scc in petgraph::algo::tarjan_scc(&graph) {
            let is_cycle = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
            if !is_cycle {
                continue;
            }
            let mut members: Vec<usize> = scc.clone();
            members.sort();
            let path = cycle_path(&graph, &members);
            let names: Vec<&str> = path.iter().map(|&i| nodes[i].spec.id.as_str()).collect();
            let key = nodes[members[0]].key;
            self.diags.at_key(
                key,
                format!("cycle: {}", names.join(" -> ")),
                "a workflow is a DAG: remove one of these inputs".into(),
            );
        }
    }
}

/// A closed walk through the strongly connected `members`, starting at the first.
fn cycle_path(graph: &petgraph::graphmap::DiGraphMap<usize, ()>, members: &[usize]) -> Vec<usize> {
    let start = members[0];
    let mut path = vec![start];
    let mut current = start;
    loop {
        let next = graph
            .neighbors(current)
            .filter(|n| members.contains(n))
            .find(|n| *n == start || !path.contains(n))
            .unwrap_or(start);
        path.push(next);
        if next == start || path.len() > members.len() + 1 {
            break;
        }
        current = next;
    }
    path
}
