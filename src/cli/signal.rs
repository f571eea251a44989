//! Ctrl-C (SIGINT) and SIGTERM during `gcrl run`: the first sets a flag that the scheduler
//! watches (it starts nothing more and lets running tasks finish; the Slurm executor also
//! cancels the run's jobs); a second one ends the process at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        const MESSAGE: &[u8] = b"gcrl: interrupted again, stopping at once\n";
        // SAFETY: write, signal and raise are async-signal-safe; this restores the default action.
        unsafe {
            libc::write(libc::STDERR_FILENO, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    } else {
        SIGNAL.store(signal, Ordering::SeqCst);
    }
}

/// Installs the handlers; the flag they set.
pub fn install() -> &'static AtomicBool {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches atomics and async-signal-safe functions.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    &INTERRUPTED
}

/// A signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// How `gcrl run` names it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C (SIGINT)",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// The first signal the handlers caught, if any.
pub fn received() -> Option<Signal> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGINT => Some(Signal::Interrupt),
        _ => Some(Signal::Terminate),
    }
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
