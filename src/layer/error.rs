//! Why a layer is refused: the errors layering returns, and the reports they render as.

use std::io;

use super::decompress;
use super::tar::TarError;
use crate::error::Report;
use crate::limits::Limit;
use crate::trust::TrustError;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    Archive { layer: String, id: String, source: TarError },
    Entry { layer: String, id: String, entry: String, why: Refusal },
    Packages { problems: Vec<String> },
    Trust(#[from] TrustError),
    Spool(io::Error),
}

crate::error::display_report!(LayerError);

/// Why an entry is refused, and the fix when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub help: Option<String>,
}

impl Refusal {
    pub fn help(mut self, help: impl Into<String>) -> Refusal {
        self.help = Some(help.into());
        self
    }
}

impl From<String> for Refusal {
    fn from(why: String) -> Refusal {
        Refusal { why, help: None }
    }
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Refusal {
        Refusal::from(why.to_string())
    }
}

/// The reason alone, for messages that embed it.
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl LayerError {
    pub fn report(&self) -> Report {
        match self {
            LayerError::Archive { layer, id, source } => {
                Report::new(format!("layer `{layer}` ({id}) is not a valid archive")).because(source.report())
            }
            LayerError::Entry { layer, id, entry, why } => {
                Report::new(format!("layer `{layer}` ({id}), entry `{entry}`: {}", why.why))
                    .maybe_help(why.help.clone())
            }
            LayerError::Packages { problems } => {
                Report::new("the package database is not consistent after the last patch")
                    .causes(problems.iter().cloned())
                    .help("add the packages these relations need as patches (or drop the patch that broke them)")
            }
            LayerError::Trust(e) => e.report(),
            LayerError::Spool(e) => Report::new("cannot write the spool file (file contents in flight)")
                .cause(e.to_string())
                .help("set TMPDIR to a directory with room"),
        }
    }

    /// A layer's stream failed; when the temporary directory is at fault, not the layer, the
    /// error says so.
    pub(super) fn archive(layer: &str, id: &str, source: TarError) -> LayerError {
        match source {
            TarError::Io(e) if is_spill_failure(&e) => LayerError::Spool(e),
            source => LayerError::Archive { layer: layer.to_string(), id: id.to_string(), source },
        }
    }
}

fn is_spill_failure(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<decompress::SpillFailed>())
}

impl TarError {
    pub fn report(&self) -> Report {
        match self {
            TarError::Io(e) => match e.get_ref().and_then(|inner| inner.downcast_ref::<TarError>()) {
                Some(inner) => inner.report(),
                None => Report::of_io(e),
            },
            TarError::Limit { limit, .. } => Report::new(self.to_string())
                .help(format!("raise it with `[image.limits] {limit} = …` in the recipe or `--limit {limit}=…`")),
            other => Report::new(other.to_string()),
        }
    }
}

/// A decoder that ran out of memory hit the `window` limit: the message names it and the fix.
pub(super) fn with_window_help(e: TarError) -> TarError {
    match e {
        TarError::Io(io) if io.to_string().contains("memory") || io.to_string().contains("Memory") => TarError::Io(
            Report::new(format!("{io}: the decoder window is over the `{}` limit", Limit::Window))
                .help("raise it with `[image.limits] window = …` or `--limit window=…`")
                .into_io(io::ErrorKind::Other),
        ),
        other => other,
    }
}
