//! [`PluginKind`]: a node kind whose `run` is an external program (the protocol is in
//! `plugins/README.md`).
//!
//! For each task gcrl makes a fresh work folder with `in/<port>.<ext>` (one file per connected
//! input), `params.json` and an empty `out/`; runs the command in the plugin folder with
//! `GCRL_INPUTS`, `GCRL_OUTPUTS`, `GCRL_PARAMS`, `GCRL_PLUGIN_DIR`, `GCRL_THREADS`, `GCRL_FORMAT`
//! and one `GCRL_PARAM_<NAME>` per parameter; then reads `out/<port>.<ext>` for every declared
//! output. The folder is removed afterwards. The blake3 of the plugin's files is the kind's
//! fingerprint, so editing the program reruns its tasks.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::manifest::{Manifest, env_value};
use crate::kind::{Inputs, KindSpec, NodeError, NodeKind, Outputs, Params, Resources, RunContext};
use crate::table::{read_table_file, write_table_file};

/// Lines of the program's stderr shown when it fails.
const STDERR_TAIL: usize = 20;

/// An external node kind: a `plugin.yaml` and the files beside it.
#[derive(Debug, Clone)]
pub struct PluginKind {
    manifest: Manifest,
    spec: KindSpec,
    dir: PathBuf,
    fingerprint: String,
}

impl PluginKind {
    /// A kind from a checked manifest and its folder; hashes the folder's files.
    pub fn new(manifest: Manifest, dir: PathBuf) -> std::io::Result<Self> {
        let fingerprint = hash_folder(&dir)?;
        let spec = manifest.spec();
        Ok(PluginKind { manifest, spec, dir, fingerprint })
    }

    fn fail(&self, what: String) -> NodeError {
        NodeError::External(format!("plugin `{}`: {what}", self.manifest.name))
    }

    fn program(&self) -> PathBuf {
        let first = Path::new(&self.manifest.command[0]);
        if first.components().count() > 1 && first.is_relative() { self.dir.join(first) } else { first.into() }
    }
}

/// blake3 over every file of `dir` (relative path, executable bit, bytes), in path order.
/// Hidden entries (`.venv`, `.git`, …) and `__pycache__` are skipped: they are the plugin's
/// environment or byproducts, not its code.
pub fn hash_folder(dir: &Path) -> std::io::Result<String> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "__pycache__" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, files)?;
            } else {
                files.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let mut h = blake3::Hasher::new();
    for rel in files {
        let path = dir.join(&rel);
        let bytes = fs::read(&path)?;
        let exec = fs::metadata(&path)?.permissions().mode() & 0o111 != 0;
        let name = rel.to_string_lossy();
        h.update(&(name.len() as u64).to_le_bytes()).update(name.as_bytes());
        h.update(&[u8::from(exec)]);
        h.update(&(bytes.len() as u64).to_le_bytes()).update(&bytes);
    }
    Ok(h.finalize().to_hex().to_string())
}

/// A work folder under the system temp dir, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(name: &str) -> std::io::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("gcrl-plugin-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("in"))?;
        fs::create_dir_all(dir.join("out"))?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The last `n` lines of `text`, indented.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].iter().map(|l| format!("\n  | {l}")).collect()
}

impl NodeKind for PluginKind {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn resources(&self, _params: &Params) -> Resources {
        self.manifest.resources
    }
    fn fingerprint(&self) -> Option<&str> {
        Some(&self.fingerprint)
    }
    fn origin(&self) -> Option<&Path> {
        Some(&self.dir)
    }
    fn run(&self, params: &Params, inputs: &Inputs, ctx: &RunContext) -> Result<Outputs, NodeError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NodeError::File { path, source }
        };
        let work = WorkDir::new(&self.manifest.name).map_err(io(&std::env::temp_dir()))?;
        let ext = self.manifest.format.extension();
        let (in_dir, out_dir, params_file) = (work.0.join("in"), work.0.join("out"), work.0.join("params.json"));
        for port in &self.manifest.inputs {
            if let Some(table) = inputs.opt_table(port.name)? {
                write_table_file(&table, &in_dir.join(format!("{}.{ext}", port.name)))
                    .map_err(|e| self.fail(format!("cannot pass input `{}`: {e}", port.name)))?;
            }
        }
        let json = serde_json::to_vec_pretty(params.map()).unwrap_or_default();
        fs::write(&params_file, json).map_err(io(&params_file))?;
        let mut cmd = Command::new(self.program());
        cmd.args(&self.manifest.command[1..])
            .current_dir(&self.dir)
            .env("GCRL_INPUTS", &in_dir)
            .env("GCRL_OUTPUTS", &out_dir)
            .env("GCRL_PARAMS", &params_file)
            .env("GCRL_PLUGIN_DIR", &self.dir)
            .env("GCRL_THREADS", ctx.threads.to_string())
            .env("GCRL_FORMAT", ext)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in params.map() {
            cmd.env(format!("GCRL_PARAM_{}", name.to_ascii_uppercase()), env_value(value));
        }
        let mut child = cmd.spawn().map_err(|e| {
            self.fail(format!("cannot start `{}` in {} ({e})", self.manifest.command[0], self.dir.display()))
        })?;
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = child.wait().map_err(|e| self.fail(format!("lost its process ({e})")))?;
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exited with code {code}"),
                None => "was killed by a signal".to_string(),
            };
            let said = tail(&stderr, STDERR_TAIL);
            let said = if said.is_empty() {
                "; it wrote nothing to stderr".to_string()
            } else {
                format!("; its stderr ends:{said}")
            };
            return Err(self.fail(format!("`{}` {how}{said}", self.manifest.command.join(" "))));
        }
        let mut outputs = Outputs::new();
        for port in &self.manifest.outputs {
            let path = out_dir.join(format!("{}.{ext}", port.name));
            if !path.exists() {
                return Err(self.fail(format!(
                    "wrote no output `{}` (expected $GCRL_OUTPUTS/{}.{ext}){}",
                    port.name,
                    port.name,
                    tail(&stderr, STDERR_TAIL)
                )));
            }
            let table =
                read_table_file(&path).map_err(|e| self.fail(format!("cannot read output `{}`: {e}", port.name)))?;
            outputs.insert(port.name.to_string(), table);
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_code_not_environment() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("plugin.yaml"), "a").unwrap();
        fs::write(d.join("run.sh"), "echo 1").unwrap();
        let first = hash_folder(d).unwrap();
        fs::create_dir_all(d.join(".venv/bin")).unwrap();
        fs::write(d.join(".venv/bin/python"), "x").unwrap();
        fs::create_dir_all(d.join("__pycache__")).unwrap();
        fs::write(d.join("__pycache__/m.pyc"), "x").unwrap();
        assert_eq!(hash_folder(d).unwrap(), first, "environments and byproducts do not count");
        fs::write(d.join("run.sh"), "echo 2").unwrap();
        let edited = hash_folder(d).unwrap();
        assert_ne!(edited, first);
        fs::set_permissions(d.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(hash_folder(d).unwrap(), edited, "the executable bit counts");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "\n  | b\n  | c");
        assert_eq!(tail("", 2), "");
    }
}
