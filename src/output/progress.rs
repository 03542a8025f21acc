//! The progress bar: stderr, a terminal only, never with `--json`, and only once an operation
//! has run for about a second (a quick build prints nothing extra).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Progress, Reporter, Silent};

/// How long an operation runs before a bar appears.
const DELAY: Duration = Duration::from_secs(1);

/// The delay, which `GILD_PROGRESS_DELAY_MS` replaces (tests and demos show the bar at once).
fn delay() -> Duration {
    std::env::var("GILD_PROGRESS_DELAY_MS").ok().and_then(|ms| ms.parse().ok()).map_or(DELAY, Duration::from_millis)
}

struct State {
    bar: Option<ProgressBar>,
    what: String,
    total: Option<u64>,
    pos: u64,
}

pub struct TermProgress {
    start: Instant,
    delay: Duration,
    state: Mutex<State>,
}

/// The progress reporter for this run: a bar on a terminal, else nothing.
pub fn for_run(json: bool) -> Reporter {
    if json || !std::io::stderr().is_terminal() {
        return Reporter::new(Silent);
    }
    Reporter::new(TermProgress {
        start: Instant::now(),
        delay: delay(),
        state: Mutex::new(State { bar: None, what: String::new(), total: None, pos: 0 }),
    })
}

fn style(total: Option<u64>) -> ProgressStyle {
    let template = match total {
        Some(_) => "{spinner} {msg} [{bar:30}] {pos}/{len} entries ({elapsed})",
        None => "{spinner} {msg}: {pos} entries ({elapsed})",
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

impl Progress for TermProgress {
    fn start(&self, what: &str, total: Option<u64>) {
        let Ok(mut s) = self.state.lock() else { return };
        (s.what, s.total, s.pos) = (what.to_string(), total, 0);
        if let Some(bar) = &s.bar {
            bar.set_style(style(total));
            bar.set_length(total.unwrap_or(0));
            bar.set_position(0);
            bar.set_message(what.to_string());
        }
    }

    fn advance(&self, n: u64) {
        let Ok(mut s) = self.state.lock() else { return };
        s.pos += n;
        if s.bar.is_none() && self.start.elapsed() >= self.delay {
            let bar = ProgressBar::with_draw_target(s.total, ProgressDrawTarget::stderr());
            bar.set_style(style(s.total));
            bar.set_message(s.what.clone());
            s.bar = Some(bar);
        }
        if let Some(bar) = &s.bar {
            bar.set_position(s.pos);
        }
    }

    fn finish(&self) {
        if let Ok(mut s) = self.state.lock() {
            if let Some(bar) = s.bar.take() {
                bar.finish_and_clear();
            }
        }
    }
}
