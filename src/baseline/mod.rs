//! The baseline: the record of one build (docs/baseline.md), `baselines/NAME/VERSION/`.
//!
//! `files.mtree` says every file's digest in a form stock tools check; `baseline.toml` says
//! what went in (artifacts, signers, approvals), what each patch did, what was deferred and
//! what came out. Later commands (diff, audit, plan) read only these files.

pub mod install;
pub mod mtree;
mod record;
pub mod release;

pub use record::*;

use std::path::{Path, PathBuf};

use crate::recipe::Version;

/// The recorded versions of an image, oldest first.
pub fn recorded_versions(dir: &Path) -> std::io::Result<Vec<(Version, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Ok(v) = Version::parse(name) {
            if entry.path().join("baseline.toml").is_file() {
                out.push((v, entry.path()));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
