//! The crate's error, and the one place exit codes are decided (SPEC §8).

use std::io;

use crate::check::CheckError;
use crate::layer::LayerError;
use crate::recipe::edit::EditError;
use crate::recipe::RecipeError;
use crate::rollout::RolloutError;
use crate::tree::source::SourceError;
use crate::trust::TrustError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    /// Boxed: its variants carry many names, and every `Result` would pay for them.
    #[error(transparent)]
    Rollout(Box<RolloutError>),
    #[error("{what}\n  cause: {source}")]
    Io { what: String, source: io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("{message}\n  help: bump `[image] version` in `{recipe}` (or pass `--version`)")]
    Version { message: String, recipe: String },
    /// A journal append failed: the command fails, saying what stands without its line.
    #[error("the journal `{path}` could not be appended; {outcome}\n  cause: {source}\n  help: make the journal writable again (a full disk, a file size limit, a read-only file system?), then check it with `gild log {name} --verify`")]
    Journal { name: String, path: String, outcome: String, source: io::Error },
    /// A failure (a refusal) whose journal line could not be written either.
    #[error(
        "{error}\n  cause: the refusal could not be journaled: the journal `{path}` could not be appended: {source}"
    )]
    Unjournaled { error: Box<Error>, path: String, source: io::Error },
    #[error("image `{file}` does not reproduce the recorded one\n  cause: recorded sha256 {expected}\n  cause: built sha256    {found}\n  help: the artifacts or the gild version differ from the recorded build")]
    Irreproducible { file: String, expected: String, found: String },
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

    /// 1 a finding, 2 bad input or call, 3 trust failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Trust(TrustError::Missing { .. }) => 2,
            Error::Trust(_) | Error::Layer(LayerError::Trust(_)) | Error::Irreproducible { .. } => 3,
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
            | Error::Version { .. } => 2,
        }
    }
}
