//! Operations: what each command does, as plain functions of plain options. They know nothing
//! of clap, stdout or colours; `cli` maps flags to options and `output` prints the reports.

pub mod audit;
pub mod build;
pub mod defer;
pub mod diff;
pub mod init;
pub mod intake;
pub mod list;
pub mod log;
pub mod man;
pub mod plan;
pub mod prune;
pub mod recover;
pub mod rollout;
pub mod scan;
pub mod show;
mod sources;
pub mod verify;
pub mod verify_baseline;
pub mod verify_image;

use std::path::{Path, PathBuf};

use crate::error::{Error, Report};
use crate::limits::Limits;
use crate::progress::Reporter;
use crate::recipe::{self, Recipe};
use crate::workspace::Workspace;

/// Where the command runs: `-C DIR` (relative arguments are then taken from it) or the
/// current directory.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub dir: Option<PathBuf>,
    pub limits: Vec<String>,
    /// Where long operations (builds, hashing a directory, reading a tarball) report.
    pub progress: Reporter,
}

impl Context {
    fn base(&self) -> Result<PathBuf, Error> {
        let cwd = std::env::current_dir().map_err(Error::io("cannot read the current directory"))?;
        Ok(match &self.dir {
            Some(d) => cwd.join(d),
            None => cwd,
        })
    }

    /// The workspace: `-C DIR`, else found from the current directory upwards.
    pub fn workspace(&self) -> Result<Workspace, Error> {
        let base = self.base()?;
        Workspace::find(self.dir.as_ref().map(|_| base.as_path()), &base).ok_or_else(|| {
            Error::Usage(
                Report::new("no workspace here")
                    .cause("no directory holding `recipes/` from here upwards")
                    .help("run gild in the workspace, or pass `-C DIR` (`gild init` starts one)"),
            )
        })
    }

    /// Finds the recipe file (a path, or a bare NAME in the workspace) and its workspace,
    /// without reading it; the path is as the user would type it, relative to where gild
    /// started.
    pub fn recipe_path(&self, arg: &str) -> Result<(Workspace, PathBuf), Error> {
        let base = self.base()?;
        let found = Workspace::find(self.dir.as_ref().map(|_| base.as_path()), &base);
        let as_path = base.join(arg);
        let path = if as_path.is_file() || arg.contains('/') || arg.ends_with(".toml") {
            as_path
        } else {
            match &found {
                Some(ws) => ws.recipe_path(arg),
                None => as_path,
            }
        };
        if !path.is_file() {
            return Err(Error::Usage(
                Report::new(format!("no recipe `{arg}`"))
                    .cause(format!("`{}` does not exist", path.display()))
                    .help("give the path of a recipe file, or a NAME with `recipes/NAME.toml` in the workspace"),
            ));
        }
        let ws = found.or_else(|| Workspace::of_recipe(&path)).ok_or_else(|| {
            Error::Usage(
                Report::new(format!("no workspace for `{}`", path.display()))
                    .help("run gild in the directory holding `recipes/`, or pass `-C DIR`"),
            )
        })?;
        let cwd = std::env::current_dir().unwrap_or_default();
        let shown = path.strip_prefix(&cwd).map_or_else(|_| path.clone(), Path::to_path_buf);
        Ok((ws, shown))
    }

    /// Finds the recipe (a path, or a bare NAME in the workspace) and its workspace, and loads it.
    pub fn recipe(&self, arg: &str) -> Result<(Workspace, Recipe), Error> {
        let (ws, path) = self.recipe_path(arg)?;
        Ok((ws, recipe::load(&path)?))
    }

    /// The recipe's limits with the `--limit` overrides applied.
    pub fn limits(&self, recipe: &Recipe) -> Result<Limits, Error> {
        let mut limits = recipe.limits;
        for arg in &self.limits {
            limits.apply_arg(arg).map_err(Error::usage)?;
        }
        Ok(limits)
    }
}

/// Reads a `baseline.toml`.
pub(crate) fn read_record(path: &Path) -> Result<crate::baseline::Record, Error> {
    let text = std::fs::read_to_string(path).map_err(Error::io(format!("cannot read `{}`", path.display())))?;
    crate::baseline::Record::from_toml(&text).map_err(|e| {
        Error::Corrupt(Report::new(format!("`{}` is not a baseline record", path.display())).cause(e.message()))
    })
}

/// `path` relative to `base` when it is inside it, for messages and reports.
pub fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

/// `path` relative to the directory `from` (both absolute, symlinks resolved), with `..`
/// where it climbs: how a recipe refers to a file.
pub fn relative_to(from: &Path, path: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = path.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
}

/// Parses a `YYYY-MM-DD` option.
pub fn date_arg(flag: &str, value: &str) -> Result<crate::date::Date, Error> {
    crate::date::Date::parse(value).ok_or_else(|| {
        Error::Usage(Report::new(format!("`{flag} {value}` is not a date")).help("write it as YYYY-MM-DD"))
    })
}

/// Today, from `GILD_NOW` or the clock.
pub fn today() -> Result<crate::date::Date, Error> {
    crate::date::Date::today().map_err(Error::Usage)
}

/// A recipe opened for editing (intake, defer): the image's lock held, temporaries a killed
/// edit left beside it removed, and the text read under the lock, so what another writer
/// stored a moment ago is in it.
pub struct RecipeEdit {
    pub ws: Workspace,
    pub path: PathBuf,
    pub text: String,
    pub recipe: Recipe,
    pub editor: crate::recipe::edit::Editor,
    _lock: crate::workspace::Lock,
}

impl RecipeEdit {
    pub fn open(ctx: &Context, recipe_arg: &str, notify: build::Notify) -> Result<RecipeEdit, Error> {
        let (ws, path) = ctx.recipe_path(recipe_arg)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let lock = lock_to_write(&ws, &stem, notify)?;
        crate::workspace::remove_stale_beside(&path)
            .map_err(Error::io(format!("cannot clean beside `{}`", path.display())))?;
        let text = std::fs::read_to_string(&path).map_err(Error::io(format!("cannot read `{}`", path.display())))?;
        let recipe = recipe::parse(&path, &text)?;
        let editor = crate::recipe::edit::Editor::parse(&text)
            .map_err(|e| Error::Usage(Report::new(format!("cannot edit `{}`", path.display())).cause(e.to_string())))?;
        Ok(RecipeEdit { ws, path, text, recipe, editor, _lock: lock })
    }
}

/// Takes the image's lock for a command that writes its journal (build, intake, defer,
/// promote, rollback, revoke), and before the command changes anything checks that its line
/// will not be dated before the last one (a replay goes back no further) and records, as
/// `recovered`, every baseline whose `build` line could not be written ([`recover`]).
pub fn lock_to_write(ws: &Workspace, name: &str, notify: build::Notify) -> Result<crate::workspace::Lock, Error> {
    let lock = ws
        .lock(name, || notify(&format!("waiting for another gild working on `{name}`…")))
        .map_err(Error::io(format!("cannot lock `{}`", ws.baselines(name).display())))?;
    crate::journal::now(&ws.journal(name)).map_err(Error::Usage)?;
    recover::recover(ws, name, notify)?;
    Ok(lock)
}

/// Verifies an artifact; a trust failure (exit 3) is journaled as a `refused` event with
/// `details`, as every refusal is (docs/recipe.md).
pub fn verify_or_refuse(
    ws: &Workspace,
    recipe: &Recipe,
    spec: &crate::recipe::ArtifactSpec,
    details: serde_json::Map<String, serde_json::Value>,
) -> Result<crate::trust::Verified, Error> {
    crate::trust::verify(spec, &recipe.keys).map_err(|e| refuse(ws, recipe, spec, details, e))
}

/// The error for an artifact that failed verification (or changed after it, found while it
/// was read), journaled as [`verify_or_refuse`] does; a digest mismatch adds both digests
/// (`expected`, `found`) to the line.
pub fn refuse(
    ws: &Workspace,
    recipe: &Recipe,
    spec: &crate::recipe::ArtifactSpec,
    mut details: serde_json::Map<String, serde_json::Value>,
    e: crate::trust::TrustError,
) -> Error {
    use crate::trust::TrustError;
    if let TrustError::Pin { expected, found, .. } | TrustError::Changed { expected, found, .. } = &e {
        details.insert("expected".into(), expected.clone().into());
        details.insert("found".into(), found.clone().into());
    }
    let e = Error::from(e);
    if e.exit_code() == 3 {
        details.insert("name".into(), recipe.name.clone().into());
        details.insert("id".into(), spec.id.clone().into());
        details.insert("artifact".into(), spec.written.clone().into());
        details.insert("reason".into(), e.to_string().into());
        let path = ws.journal(&recipe.name);
        if let Err(source) = crate::journal::append(&path, "refused", details) {
            return Error::Unjournaled { error: Box::new(e), path: display_path(&path, &ws.root), source };
        }
    }
    e
}

/// Appends `event` to the journal of image `name`. A failed append fails the command
/// (exit 2, docs/README.md) in every command alike; `outcome` says what stands without the line.
pub fn journal_append(
    ws: &Workspace,
    name: &str,
    event: &str,
    details: serde_json::Map<String, serde_json::Value>,
    outcome: impl FnOnce() -> String,
) -> Result<crate::baseline::JournalHead, Error> {
    let path = ws.journal(name);
    crate::journal::append(&path, event, details).map_err(|e| journal_failed(ws, name, outcome(), e))
}

/// Puts a recipe back as it was after its journal line could not be written; says so.
pub fn put_back(path: &Path, text: &str) -> String {
    match crate::workspace::replace_file(path, text.as_bytes()) {
        Ok(()) => format!("nothing changed (`{}` is as it was)", path.display()),
        Err(e) => {
            format!("`{}` could not be put back either ({e}): it is changed without its journal line", path.display())
        }
    }
}

/// The error of a failed journal append (see [`journal_append`]).
pub fn journal_failed(ws: &Workspace, name: &str, outcome: String, source: std::io::Error) -> Error {
    Error::Journal { name: name.to_string(), path: display_path(&ws.journal(name), &ws.root), outcome, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_descend() {
        let r = |a: &str, b: &str| relative_to(Path::new(a), Path::new(b)).display().to_string();
        assert_eq!(r("/w/recipes", "/w/artifacts/p.tar"), "../artifacts/p.tar");
        assert_eq!(r("/w/recipes", "/w/recipes/p.tar"), "p.tar");
        assert_eq!(r("/w/recipes", "/elsewhere/p.tar"), "../../elsewhere/p.tar");
    }
}
