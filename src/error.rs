//! The crate's error as data, and the one place exit codes are decided (docs/exit-codes.md).
//!
//! Every error type of the crate gives a [`Report`]: what went wrong, why (one line a cause,
//! outermost first) and the fix. `output` renders a report once as text (`error: WHAT`,
//! `  cause: …`, `  help: …`) and once as JSON; each type's `Display` is its report's text.

use std::fmt;
use std::io;

use crate::check::CheckError;
use crate::layer::LayerError;
use crate::recipe::edit::EditError;
use crate::recipe::RecipeError;
use crate::rollout::RolloutError;
use crate::tree::source::SourceError;
use crate::trust::TrustError;

/// An error as data: what went wrong, why, and the fix where there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One line, lower case, no trailing period.
    pub message: String,
    /// Why, outermost first; a cause may span lines (a check's output).
    pub causes: Vec<String>,
    pub help: Option<String>,
}

impl Report {
    pub fn new(message: impl Into<String>) -> Report {
        Report { message: message.into(), causes: Vec::new(), help: None }
    }

    pub fn cause(mut self, cause: impl Into<String>) -> Report {
        self.causes.push(cause.into());
        self
    }

    pub fn causes<S: Into<String>>(mut self, causes: impl IntoIterator<Item = S>) -> Report {
        self.causes.extend(causes.into_iter().map(Into::into));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Report {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Report {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// `inner` as the reason for this one: its message and causes become causes, and its
    /// help stands where this report has none.
    pub fn because(mut self, inner: Report) -> Report {
        self.causes.push(inner.message);
        self.causes.extend(inner.causes);
        if self.help.is_none() {
            self.help = inner.help;
        }
        self
    }

    /// A report from an error's text written the older way: a first line, then `  cause: …`
    /// and `  help: …` lines.
    pub fn from_text(text: &str) -> Report {
        let mut lines = text.lines();
        let mut report = Report::new(lines.next().unwrap_or_default());
        for line in lines {
            if let Some(c) = line.strip_prefix("  cause: ") {
                report.causes.push(c.to_string());
            } else if let Some(h) = line.strip_prefix("  help: ") {
                report.help = Some(h.to_string());
            } else if let Some(last) = report.causes.last_mut() {
                last.push('\n');
                last.push_str(line);
            } else {
                report.message.push('\n');
                report.message.push_str(line);
            }
        }
        report
    }

    /// An I/O error as the reason: a [`Report`] it carries (see [`Report::into_io`]) keeps
    /// its causes and help.
    pub fn because_io(self, e: &io::Error) -> Report {
        self.because(Report::of_io(e))
    }

    /// An I/O error as a report: the one it carries, else its text.
    pub fn of_io(e: &io::Error) -> Report {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Report>()) {
            Some(r) => r.clone(),
            None => Report::new(e.to_string()),
        }
    }

    /// An I/O error carrying this report, for code that can only fail with `io::Error`.
    pub fn into_io(self, kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, self)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in &self.causes {
            let mut lines = cause.lines();
            write!(f, "\n  cause: {}", lines.next().unwrap_or_default())?;
            for line in lines {
                write!(f, "\n  | {line}")?;
            }
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// `Display` of error types that give a [`Report`]: the report's text.
macro_rules! display_report {
    ($($t:ty),* $(,)?) => {
        $(impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.report(), f)
            }
        })*
    };
}
pub(crate) use display_report;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    Recipe(#[from] RecipeError),
    Trust(#[from] TrustError),
    /// Boxed: an entry's refusal carries the layer, the entry and the fix.
    Layer(Box<LayerError>),
    Check(#[from] CheckError),
    Source(#[from] SourceError),
    Edit(#[from] EditError),
    /// Boxed, as `Rollout`.
    Sign(Box<crate::sign::SignError>),
    /// Boxed: its variants carry many names, and every `Result` would pay for them.
    Rollout(Box<RolloutError>),
    /// Reading or writing failed; `what` says what gild was doing.
    Io {
        what: String,
        source: io::Error,
    },
    /// The call is wrong: an argument, a flag, a name that is not there.
    Usage(Report),
    /// A record gild keeps (`baseline.toml`, `channels.toml`) is not one it can read.
    Corrupt(Report),
    /// A version that cannot be built: lower than the newest, or recorded with other inputs.
    Version {
        message: String,
        causes: Vec<String>,
        recipe: String,
    },
    Irreproducible {
        file: String,
        expected: String,
        found: String,
    },
    /// A journal append failed: the command fails, saying what stands without its line.
    Journal {
        name: String,
        path: String,
        outcome: String,
        source: io::Error,
    },
    /// A failure (a refusal) whose journal line could not be written either.
    Unjournaled {
        error: Box<Error>,
        path: String,
        source: io::Error,
    },
}

display_report!(Error);

impl From<LayerError> for Error {
    fn from(e: LayerError) -> Error {
        Error::Layer(Box::new(e))
    }
}

impl From<crate::sign::SignError> for Error {
    fn from(e: crate::sign::SignError) -> Error {
        Error::Sign(Box::new(e))
    }
}

impl From<RolloutError> for Error {
    fn from(e: RolloutError) -> Error {
        Error::Rollout(Box::new(e))
    }
}

impl Error {
    /// Context for an I/O error at the edge where it happened.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    /// A usage error from text written the older way (`WHAT`, then `  cause:`/`  help:` lines).
    pub fn usage_text(text: impl AsRef<str>) -> Error {
        Error::Usage(Report::from_text(text.as_ref()))
    }

    /// A usage error with a message alone.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(Report::new(message))
    }

    /// What went wrong, why and the fix, for text and for JSON.
    pub fn report(&self) -> Report {
        match self {
            Error::Recipe(e) => e.report(),
            Error::Trust(e) => e.report(),
            Error::Layer(e) => e.report(),
            Error::Check(e) => e.report(),
            Error::Source(e) => e.report(),
            Error::Edit(e) => e.report(),
            Error::Rollout(e) => e.report(),
            Error::Io { what, source } => Report::new(what).because_io(source),
            Error::Usage(r) | Error::Corrupt(r) => r.clone(),
            Error::Version { message, causes, recipe } => Report::new(message)
                .causes(causes.iter().cloned())
                .help(format!("bump `[image] version` in `{recipe}` (or pass `--version`)")),
            Error::Irreproducible { file, expected, found } => {
                Report::new(format!("image `{file}` does not reproduce the recorded one"))
                    .cause(format!("recorded sha256 {expected}"))
                    .cause(format!("built sha256    {found}"))
                    .help("the artifacts or the gild version differ from the recorded build")
            }
            Error::Sign(e) => Report::from_text(&e.to_string()),
            Error::Journal { name, path, outcome, source } => {
                Report::new(format!("the journal `{path}` could not be appended; {outcome}"))
                    .cause(source.to_string())
                    .help(format!("make the journal writable again (a full disk, a file size limit, a read-only file system?), then check it with `gild log {name} --verify`"))
            }
            Error::Unjournaled { error, path, source } => error.report().cause(format!(
                "the refusal could not be journaled: the journal `{path}` could not be appended: {source}"
            )),
        }
    }

    /// 1 a finding, 2 bad input or call, 3 trust failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Trust(TrustError::Missing { .. }) => 2,
            Error::Layer(e) if matches!(**e, LayerError::Trust(_)) => 3,
            Error::Trust(_) | Error::Irreproducible { .. } => 3,
            Error::Check(CheckError::Failed(_)) => 1,
            Error::Unjournaled { error, .. } => error.exit_code().max(2),
            Error::Source(e) => e.exit_code(),
            Error::Sign(e) => e.exit_code(),
            Error::Recipe(_)
            | Error::Layer(_)
            | Error::Check(_)
            | Error::Edit(_)
            | Error::Rollout(_)
            | Error::Io { .. }
            | Error::Journal { .. }
            | Error::Usage(_)
            | Error::Corrupt(_)
            | Error::Version { .. } => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_renders_causes_and_help_once() {
        let r = Report::new("cannot build `web`")
            .because(Report::new("layer `p.tar` is bad").cause("truncated").help("fetch it again"))
            .cause("it printed:\none\ntwo");
        assert_eq!(
            r.to_string(),
            "cannot build `web`\n  cause: layer `p.tar` is bad\n  cause: truncated\n  cause: it printed:\n  | one\n  | two\n  help: fetch it again"
        );
    }

    #[test]
    fn a_report_survives_an_io_error() {
        let inner = Report::new("another gild holds the lock").help("wait");
        let e = Error::io("cannot lock `web`")(inner.into_io(io::ErrorKind::TimedOut));
        assert_eq!(e.report(), Report::new("cannot lock `web`").cause("another gild holds the lock").help("wait"));
    }
}
