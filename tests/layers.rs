//! The floors of `src/` import one way: among the top-level modules, and among the submodules of
//! every module, no import cycle (a module importing one that imports it back). Imports are read
//! from the sources as `cargo modules` reads them without `--cfg-test`: `use` trees and inline
//! `crate::`/`super::` paths, through `pub use` re-exports, comments and `#[cfg(test)]` items
//! left out (a test may drive a lower floor with an upper one's kinds).
//!
//! [`KNOWN`] lists the cycles still in the house; a new one fails the test, and so does a known
//! one that was broken (then strike it from the list).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Cycles left to break: `(parent module, its submodules in the cycle)`.
const KNOWN: &[(&str, &[&str])] = &[];

/// A module path, `["engine", "scheduler"]`; the crate root is empty.
type ModPath = Vec<String>;

/// What the sources say: every module, the paths each scope references, and the `pub use`
/// re-exports of each module (name → full path).
#[derive(Default)]
struct Sources {
    modules: BTreeSet<ModPath>,
    refs: Vec<(ModPath, ModPath, String)>,
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
}

/// The module path of `file` under `root` (`engine/mod.rs` → `engine`).
fn module_of(root: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(root).expect("under the root").with_extension("");
    let mut parts: ModPath = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// `text` without `//` and `/* */` comments (doc comments included) and without the contents
/// of string literals.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (i == 0 || !is_ident(b[i - 1])) && raw_quote(&b[i + 1..]).is_some() {
            // A raw string, r#"…"#: it ends at a quote followed by as many #.
            let hashes = raw_quote(&b[i + 1..]).unwrap_or(0);
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            i += hashes + 2;
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime.
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
        }
    }
    out
}

/// The number of `#` of a raw string's opening that `b` starts with (`#"`: 1, `"`: 0).
fn raw_quote(b: &[u8]) -> Option<usize> {
    let hashes = b.iter().take_while(|&&c| c == b'#').count();
    (b.get(hashes) == Some(&b'"')).then_some(hashes)
}

/// The paths of a `use` tree, `a::{b, c::{d, self}}` → `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()];
    };
    let prefix = &tree[..open];
    let body = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    let mut out = Vec::new();
    for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        for e in expand(p) {
            out.push(if e == "self" { prefix.trim_end_matches("::").to_string() } else { format!("{prefix}{e}") });
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `crate::`/`super::`/`self::` path of `scope` as an absolute module path.
fn absolute(scope: &[String], path: &str) -> Option<ModPath> {
    let mut segs = path.split("::").map(str::trim).filter(|s| !s.is_empty());
    let mut base: ModPath = match segs.next()? {
        "crate" => Vec::new(),
        "super" => scope[..scope.len().checked_sub(1)?].to_vec(),
        "self" => scope.to_vec(),
        _ => return None,
    };
    for s in segs {
        if s == "super" {
            base.pop();
        } else {
            base.push(s.to_string());
        }
    }
    Some(base)
}

/// Reads one file of module `module`: its inline modules, the paths it references, its re-exports.
fn read_file(sources: &mut Sources, module: ModPath, text: &str, test_files: &mut BTreeSet<ModPath>) {
    let text = strip(text);
    let b = text.as_bytes();
    // Open scopes: (module path, brace depth its block opened at).
    let mut scopes: Vec<(ModPath, usize)> = vec![(module.clone(), 0)];
    let (mut depth, mut i) = (0usize, 0usize);
    let word_at = |i: usize, w: &str| {
        b[i..].starts_with(w.as_bytes())
            && (i == 0 || !is_ident(b[i - 1]))
            && b.get(i + w.len()).is_none_or(|&c| !is_ident(c))
    };
    while i < b.len() {
        let scope = scopes.last().expect("the file's own scope").0.clone();
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                while scopes.len() > 1 && scopes.last().is_some_and(|s| s.1 > depth) {
                    scopes.pop();
                }
            }
            _ => {}
        }
        if text[i..].starts_with("#[cfg(test)]") {
            // Skip the next item: to its `;`, or through its `{ … }` block.
            i += "#[cfg(test)]".len();
            let end = text[i..].find(['{', ';']).map_or(b.len(), |e| i + e);
            let head = &text[i..end];
            if b.get(end) == Some(&b';') {
                if let Some(name) = head.split_whitespace().skip_while(|w| *w != "mod").nth(1) {
                    let mut p = scope.clone();
                    p.push(name.to_string());
                    test_files.insert(p);
                }
                i = end + 1;
            } else {
                let mut d = 0;
                i = end;
                while i < b.len() {
                    match b[i] {
                        b'{' => d += 1,
                        b'}' => {
                            d -= 1;
                            if d == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            continue;
        }
        if word_at(i, "mod") {
            let rest = &text[i + 3..];
            let name: String = rest.trim_start().chars().take_while(|&c| c.is_alphanumeric() || c == '_').collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            let mut p = scope.clone();
            p.push(name.clone());
            sources.modules.insert(p.clone());
            if after.starts_with('{') {
                let open = i + 3 + (rest.len() - after.len());
                depth += 1;
                scopes.push((p, depth));
                i = open + 1;
                continue;
            }
        }
        if word_at(i, "use") {
            let public = text[..i].trim_end().ends_with("pub") || text[..i].trim_end().ends_with(')');
            let end = text[i..].find(';').map_or(b.len(), |e| i + e);
            let tree: String = text[i + 3..end].split_whitespace().collect::<Vec<_>>().join(" ");
            for path in expand(&tree.replace(" ::", "::").replace(":: ", "::")) {
                let target = absolute(&scope, &path).or_else(|| {
                    // `use child::X` of a module's own child.
                    let mut p = scope.clone();
                    p.extend(path.split("::").map(str::to_string));
                    sources.modules.contains(&p[..scope.len() + 1]).then_some(p)
                });
                let Some(target) = target else { continue };
                if public && let Some(name) = target.last() {
                    sources.reexports.entry(scope.clone()).or_default().insert(name.clone(), target.clone());
                }
                sources.refs.push((scope.clone(), target, path));
            }
            i = end + 1;
            continue;
        }
        for start in ["crate::", "super::", "self::"] {
            if word_at(i, start.trim_end_matches("::")) && text[i..].starts_with(start) {
                let len =
                    text[i..].find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(b.len() - i);
                let path = text[i..i + len].trim_end_matches(':');
                if let Some(target) = absolute(&scope, path) {
                    sources.refs.push((scope.clone(), target, path.to_string()));
                }
                i += len;
                break;
            }
        }
        i += 1;
    }
}

/// Reads every `.rs` file under `root`.
fn read(root: &Path) -> Sources {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut sources = Sources::default();
    let mut test_files = BTreeSet::new();
    let texts: Vec<(ModPath, String)> =
        files.iter().map(|f| (module_of(root, f), std::fs::read_to_string(f).expect("a readable file"))).collect();
    for (m, _) in &texts {
        for i in 1..=m.len() {
            sources.modules.insert(m[..i].to_vec());
        }
    }
    for (m, text) in &texts {
        read_file(&mut sources, m.clone(), text, &mut test_files);
    }
    // Files declared under `#[cfg(test)]` (and the modules below them) do not count.
    sources.refs.retain(|(from, ..)| !test_files.iter().any(|t| from.starts_with(t)));
    sources.modules.retain(|m| !test_files.iter().any(|t| m.starts_with(t)));
    sources
}

/// The module a path lands in, through re-exports: the longest known module prefix of it.
fn resolve(sources: &Sources, mut path: ModPath) -> ModPath {
    for _ in 0..8 {
        let known = (0..=path.len()).rev().find(|&n| sources.modules.contains(&path[..n]) || n == 0).unwrap_or(0);
        let Some(next) = path.get(known) else { return path };
        match sources.reexports.get(&path[..known]).and_then(|r| r.get(next)) {
            Some(target) if *target != path[..=known] => {
                let mut p = target.clone();
                p.extend_from_slice(&path[known + 1..]);
                path = p;
            }
            _ => return path[..known].to_vec(),
        }
    }
    path
}

/// Every import cycle: `(parent, submodules in one strongly connected set, an example edge per
/// member)`.
fn cycles(sources: &Sources) -> Vec<(String, Vec<String>, Vec<String>)> {
    // Per parent: child → child → an example reference.
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    for (from, to, path) in &sources.refs {
        let to = resolve(sources, to.clone());
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        if common < from.len() && common < to.len() {
            let (a, b) = (from[common].clone(), to[common].clone());
            let example = format!("{} uses {path}", from.join("::"));
            graphs.entry(from[..common].to_vec()).or_default().entry(a).or_default().entry(b).or_insert(example);
        }
    }
    let mut found = Vec::new();
    for (parent, graph) in &graphs {
        let reach = |start: &str| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start.to_string()];
            while let Some(n) = stack.pop() {
                for m in graph.get(&n).into_iter().flat_map(|e| e.keys()) {
                    if seen.insert(m.clone()) {
                        stack.push(m.clone());
                    }
                }
            }
            seen
        };
        let mut done = BTreeSet::new();
        for a in graph.keys() {
            if done.contains(a) {
                continue;
            }
            let from_a = reach(a);
            let members: Vec<String> = from_a.iter().filter(|b| *b == a || reach(b).contains(a)).cloned().collect();
            if members.len() > 1 {
                let examples = members
                    .iter()
                    .filter_map(|m| graph[m].iter().find(|(t, _)| members.contains(t)).map(|(_, e)| e.clone()))
                    .collect();
                done.extend(members.iter().cloned());
                found.push((parent.join("::"), members, examples));
            }
        }
    }
    found
}

#[test]
fn no_module_of_src_imports_one_that_imports_it_back() {
    let sources = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(sources.modules.contains(&vec!["engine".to_string(), "scheduler".to_string()]), "the sources were read");
    let found = cycles(&sources);
    let known: Vec<(String, Vec<String>)> =
        KNOWN.iter().map(|(p, m)| (p.to_string(), m.iter().map(|s| s.to_string()).collect())).collect();
    let new: Vec<_> = found.iter().filter(|(p, m, _)| !known.contains(&(p.clone(), m.clone()))).collect();
    assert!(new.is_empty(), "import cycles (parent, modules, an import of each):\n{new:#?}");
    for k in &known {
        assert!(
            found.iter().any(|(p, m, _)| (p, m) == (&k.0, &k.1)),
            "{k:?} is no cycle any more: strike it from KNOWN"
        );
    }
}

/// The check on a tree made for it: it finds a cycle through a re-export and an inline path,
/// and none once the upward import is under `#[cfg(test)]`.
#[test]
fn a_cycle_between_modules_is_found_and_a_test_only_import_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("low")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod high;\npub mod low;\n").unwrap();
    std::fs::write(src.join("low/mod.rs"), "//! Low.\nmod part;\npub use part::Thing;\n").unwrap();
    std::fs::write(src.join("high.rs"), "use crate::low::Thing;\npub struct High(Thing);\n").unwrap();
    let part = |upward: &str| {
        format!(
            "pub struct Thing;\n{upward}\n// crate::high\nfn f() -> &'static str {{ r#\"a \"crate::high\" {{\"# }}\n"
        )
    };
    std::fs::write(src.join("low/part.rs"), part("fn g(_: crate::high::High) {}")).unwrap();
    let found = cycles(&read(src));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0.as_str(), found[0].1.clone()), ("", vec!["high".to_string(), "low".to_string()]));
    std::fs::write(src.join("low/part.rs"), part("#[cfg(test)]\nmod tests {\n    use crate::high::High;\n}")).unwrap();
    assert_eq!(cycles(&read(src)), Vec::new(), "a test module's import, a comment and a string are no cycle");
}
