//! Plugins: node kinds defined outside gcrl, as a folder with a `plugin.yaml` ([`manifest`]) and
//! any program ([`kind`]). The protocol a plugin's program follows is in `plugins/README.md`.
//!
//! Plugin folders are looked for in each folder given by `--plugins DIR` or `GCRL_PLUGINS`
//! (colon-separated), then in `./plugins` when it exists. A folder holding a `plugin.yaml` is one
//! plugin; otherwise each sub-folder holding one is. This module knows the engine's [`Registry`]
//! and nothing of genes.

pub mod error;
pub mod kind;
pub mod manifest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::PluginError;
pub use kind::PluginKind;

use crate::kind::Registry;

/// The folder searched when it exists, relative to the working directory.
pub const DEFAULT_DIR: &str = "plugins";

/// Plugin folders under `root` (explicit roots must exist; `./plugins` may not).
fn plugin_folders(root: &Path, explicit: bool) -> Result<Vec<PathBuf>, PluginError> {
    if !explicit && !root.is_dir() {
        return Ok(Vec::new());
    }
    let io = |source| PluginError::Io { path: root.to_path_buf(), source };
    if root.join("plugin.yaml").is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.join("plugin.yaml").is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Loads one plugin folder.
pub fn load_plugin(dir: &Path) -> Result<PluginKind, PluginError> {
    let file = dir.join("plugin.yaml");
    let text = crate::diag::report::read_text(&file, "plugin manifest")?;
    let manifest = manifest::parse_manifest(&file, &text)?;
    PluginKind::new(manifest, dir.to_path_buf()).map_err(|source| PluginError::Io { path: dir.to_path_buf(), source })
}

/// Adds every plugin found under `roots` (then `./plugins`) to `registry`. Fails on a malformed
/// `plugin.yaml`, a name used twice, or a name of a built-in kind.
pub fn register(registry: &mut Registry, roots: &[PathBuf]) -> Result<usize, PluginError> {
    let mut folders = Vec::new();
    for root in roots {
        folders.extend(plugin_folders(root, true)?);
    }
    folders.extend(plugin_folders(Path::new(DEFAULT_DIR), false)?);
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut canonical = Vec::new();
    for dir in folders {
        let real = dir.canonicalize().map_err(|source| PluginError::Io { path: dir.clone(), source })?;
        if canonical.contains(&real) {
            continue; // the same folder reached twice (`--plugins plugins` and `./plugins`)
        }
        canonical.push(real.clone());
        let plugin = load_plugin(&real)?;
        let name = crate::kind::NodeKind::name(&plugin).to_string();
        if let Some(first) = seen.get(&name) {
            return Err(PluginError::Duplicate { name, first: first.clone(), second: dir });
        }
        if registry.get(&name).is_some() {
            return Err(PluginError::Builtin { name, path: dir });
        }
        seen.insert(name, dir);
        registry.register(Arc::new(plugin));
    }
    Ok(seen.len())
}
