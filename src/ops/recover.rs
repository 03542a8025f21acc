//! Baselines recorded without their `build` journal line, and the `recovered` line that makes
//! up for each (docs/baseline.md).
//!
//! A build's commit point is the rename of its baseline directory; its journal line follows.
//! When that append fails (a full disk, a file size limit) or the build is killed in between,
//! the baseline stands and the journal does not say so. `log --verify` names every such
//! baseline, and the next command that writes the journal, once it holds the image's lock,
//! first appends one `recovered` line for each, carrying what the `build` line would have.

use std::path::PathBuf;

use serde_json::json;

use crate::baseline::{self, Record};
use crate::error::Error;
use crate::journal::{self, Line};
use crate::ops::build::Notify;
use crate::ops::display_path;
use crate::workspace::Workspace;

/// A recorded baseline that no `build` or `recovered` journal line names.
#[derive(Debug, Clone)]
pub struct Unjournaled {
    /// As the baseline's directory spells it (and a `build` line would).
    pub version: String,
    /// The baseline directory.
    pub dir: PathBuf,
    pub record: Record,
}

/// The baselines of `name` that `lines` (its journal) has no `build` or `recovered` line for,
/// oldest version first.
pub fn unjournaled(ws: &Workspace, name: &str, lines: &[Line]) -> Result<Vec<Unjournaled>, Error> {
    let journaled: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.value.as_ref())
        .filter(|v| matches!(v.get("event").and_then(|e| e.as_str()), Some("build" | "recovered")))
        .filter_map(|v| v.get("version")?.as_str())
        .collect();
    let records = ws.baselines(name);
    let mut out = Vec::new();
    for (_, dir) in
        baseline::recorded_versions(&records).map_err(Error::io(format!("cannot read `{}`", records.display())))?
    {
        let version = dir.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_string();
        if !journaled.contains(&version.as_str()) {
            let record = super::read_record(&dir.join("baseline.toml"))?;
            out.push(Unjournaled { version, dir, record });
        }
    }
    Ok(out)
}

/// Appends a `recovered` line for each baseline of `name` the journal lacks, saying so through
/// `notify`. Call with the image's lock held, before the command writes anything else: a
/// journal that still cannot be appended fails the command with nothing changed.
pub fn recover(ws: &Workspace, name: &str, notify: Notify) -> Result<(), Error> {
    let path = ws.journal(name);
    let lines = journal::read(&path).map_err(Error::io(format!("cannot read `{}`", path.display())))?;
    for missing in unjournaled(ws, name, &lines)? {
        let shown = display_path(&missing.dir, &ws.root);
        let outcome = || {
            format!(
                "nothing changed: the build of `{name}` {} in `{shown}` is still without its journal line",
                missing.version
            )
        };
        let mut details = super::build::journal_details(&missing.record);
        // The directory's spelling of the version, which `unjournaled` matches.
        details.insert("version".into(), json!(missing.version));
        super::journal_append(ws, name, "recovered", details, outcome)?;
        notify(&format!(
            "recorded the build of `{name}` {} in the journal as `recovered`: its `build` line could not be written when it was built",
            missing.version
        ));
    }
    Ok(())
}
