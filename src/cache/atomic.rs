//! Temp files and atomic writes, for the whole cache and the files kept beside it.
//!
//! - [`write_atomic`]: the one writer of whole files (run records, seals, file-hash memos, Slurm
//!   job files): a temp file in the destination's folder, fsynced, renamed over the
//!   destination, and the folder fsynced; a reader sees the old file or the new one, and the new
//!   one survives a crash once it returns.
//! - [`tmp_path`]: the names of temp files in `tmp/` (objects, manifest batches), which say the
//!   process and host that write them, for `Cache::clean_tmp`; [`hostname`] is that host, as
//!   manifests record it.
//! - Unnamed files (`O_TMPFILE`) linked into place when complete, for objects.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{CacheError, io};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temp path in `tmp_dir`: `<pid>-<n>@<host>.tmp` (see `Cache::clean_tmp`).
pub(super) fn tmp_path(tmp_dir: &Path) -> PathBuf {
    tmp_dir.join(tmp_name())
}

/// A fresh temp file name, `<pid>-<n>@<host>.tmp`: unique among every process and host.
fn tmp_name() -> String {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}@{}.tmp", PID.get_or_init(std::process::id), hostname())
}

/// This machine's name, read once (temp files, manifests and Slurm heads are named by it):
/// `/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `unknown`, with `/` and `@` (which would
/// break a temp file's name) as `_`.
pub fn hostname() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let name = fs::read_to_string("/proc/sys/kernel/hostname").or_else(|_| std::env::var("HOSTNAME"));
        let name = name.map(|s| s.trim().replace(['/', '@'], "_")).unwrap_or_default();
        if name.is_empty() { "unknown".into() } else { name }
    })
}

/// Writes `bytes` to `dest` atomically and durably: a temp file beside it (named as
/// [`tmp_path`] names them, after a `.` and `dest`'s name), fsync, rename over `dest`, fsync of
/// the folder (created when missing). A failed write leaves no temp file.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = dest.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", tmp_name()));
    let written = File::create(&tmp).and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, dest)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)?.sync_all()
}

/// Writes `bytes` as an unnamed file in `dest`'s directory and links it as `dest` (an existing
/// `dest` is left as it is: objects are named by their content). `Ok(false)` when the file
/// system cannot create unnamed files; the caller then goes through `tmp/`.
pub(super) fn link_new(bytes: &[u8], dest: &Path) -> Result<bool, CacheError> {
    let Some(mut file) = open_unnamed(dest.parent().unwrap_or(Path::new(".")))? else { return Ok(false) };
    file.write_all(bytes).map_err(io(dest))?;
    link_unnamed(&file, dest)?;
    Ok(true)
}

/// Renames `tmp` to `dest`, creating `dest`'s folder when missing.
pub(super) fn rename_into(tmp: &Path, dest: &Path) -> Result<(), CacheError> {
    if let Err(e) = fs::rename(tmp, dest) {
        if e.kind() != ErrorKind::NotFound {
            return Err(io(dest)(e));
        }
        let parent = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io(parent))?;
        fs::rename(tmp, dest).map_err(io(dest))?;
    }
    Ok(())
}

/// An unnamed file in `dir` (`O_TMPFILE`); `None` where the file system cannot make one.
pub(super) fn open_unnamed(dir: &Path) -> Result<Option<File>, CacheError> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || fs::OpenOptions::new().write(true).mode(0o644).custom_flags(libc::O_TMPFILE).open(dir);
    let file = match open() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io(dir))?;
            open()
        }
        other => other,
    };
    match file {
        Ok(f) => Ok(Some(f)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)) => Ok(None),
        Err(e) => Err(io(dir)(e)),
    }
}

/// Links the unnamed `file` as `dest` (creating its directory); an existing `dest` is left as
/// it is (objects are named by their content) and `Ok(false)` returned.
pub(super) fn link_unnamed(file: &File, dest: &Path) -> Result<bool, CacheError> {
    use std::os::unix::ffi::OsStrExt;
    // Linking a descriptor (`AT_EMPTY_PATH`) needs a privilege; its /proc link needs none.
    let source = std::ffi::CString::new(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(file)))
        .expect("no NUL in a /proc path");
    let target = std::ffi::CString::new(dest.as_os_str().as_bytes())
        .map_err(|_| io(dest)(std::io::Error::from(ErrorKind::InvalidInput)))?;
    let link = || {
        // SAFETY: both paths are NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::linkat(libc::AT_FDCWD, source.as_ptr(), libc::AT_FDCWD, target.as_ptr(), libc::AT_SYMLINK_FOLLOW)
        };
        if rc == 0 { Ok(true) } else { Err(std::io::Error::last_os_error()) }
    };
    match link() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let parent = dest.parent().unwrap_or(Path::new("."));
            fs::create_dir_all(parent).map_err(io(parent))?;
            link()
        }
        other => other,
    }
    .or_else(|e| if e.kind() == ErrorKind::AlreadyExists { Ok(false) } else { Err(io(dest)(e)) })
}
