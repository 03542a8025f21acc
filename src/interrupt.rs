//! SIGINT and SIGTERM: stop at the next safe point, remove what was written, exit 130.
//!
//! The handler only sets a flag; long loops (reading layers, writing images, waiting for a
//! check) look at it and unwind with an error, so every temporary is dropped on the way out
//! and the commit point (the rename of the staged baseline) is never reached half-way.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// An error to unwind with when an interruption was requested.
pub fn check() -> io::Result<()> {
    if requested() {
        Err(io::Error::other("interrupted"))
    } else {
        Ok(())
    }
}
