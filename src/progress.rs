//! How far a long operation is. Operations report here and know nothing of terminals; the
//! implementation that draws a bar on stderr lives in `output`.

use std::sync::Arc;

/// Reports of progress from an operation. Calls are cheap; an implementation decides whether
/// and when to show anything.
pub trait Progress: Send + Sync {
    /// A new phase: what is being done and, when known, how many units it has.
    fn start(&self, what: &str, total: Option<u64>);
    /// `n` more units done.
    fn advance(&self, n: u64);
    /// The operation is over; clear whatever was shown.
    fn finish(&self);
}

/// A shared handle on the run's [`Progress`], so an operation's context can carry it (and a
/// source read on another thread can report to it).
#[derive(Clone)]
pub struct Reporter(Arc<dyn Progress>);

impl Reporter {
    pub fn new(progress: impl Progress + 'static) -> Reporter {
        Reporter(Arc::new(progress))
    }
}

impl Default for Reporter {
    fn default() -> Reporter {
        Reporter::new(Silent)
    }
}

impl std::ops::Deref for Reporter {
    type Target = dyn Progress;

    fn deref(&self) -> &(dyn Progress + 'static) {
        &*self.0
    }
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporter")
    }
}

/// Shows nothing: for `--json`, pipes, and library callers.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
