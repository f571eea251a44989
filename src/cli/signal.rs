//! Ctrl-C (SIGINT) and SIGTERM for `gcrl run --executor slurm`: the first sets a flag that the
//! Slurm executor watches (it cancels the run's jobs); a second one ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: signal and raise are async-signal-safe; this restores the default action.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// Installs the handlers; the flag they set.
pub fn install() -> &'static AtomicBool {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches an atomic and async-signal-safe functions.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    &INTERRUPTED
}

/// Lets a closed pipe end the process quietly, as it ends `cat` (`gcrl show … | head`): Rust
/// ignores SIGPIPE, so without this the next `println!` panics with "Broken pipe". Used for the
/// commands that only print; `run` and `exec` keep SIGPIPE ignored, so a dead reader of their
/// output never stops tasks half-way.
pub fn die_quietly_on_closed_pipe() {
    // SAFETY: restoring the default action of a signal has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
