//! How far a long operation is. Operations report here and know nothing of terminals; the
//! implementation that draws a bar on stderr lives in `output`.

/// Reports of progress from an operation. Calls are cheap; an implementation decides whether
/// and when to show anything.
pub trait Progress: Sync {
    /// A new phase: what is being done and, when known, how many units it has.
    fn start(&self, what: &str, total: Option<u64>);
    /// `n` more units done.
    fn advance(&self, n: u64);
    /// The operation is over; clear whatever was shown.
    fn finish(&self);
}

/// Shows nothing: for `--json`, pipes, and library callers.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
