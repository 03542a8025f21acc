//! `gild scan SOURCE [-o FILE]`: the `files.mtree` form of any tree source — a host's report,
//! which `gild audit` (or NetBSD `mtree -f`) checks against a baseline later.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::baseline::mtree;
use crate::error::Error;
use crate::hex;
use crate::ops::diff::SourceInfo;
use crate::ops::{display_path, sources, Context};
use crate::tree::source::Locator;
use crate::tree::walk::Reach;
use crate::workspace::TMP_PREFIX;

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub source: String,
    /// Where the spec goes; `None`: into the report (stdout).
    pub output: Option<PathBuf>,
    /// How far a directory is walked.
    pub reach: Reach,
}

#[derive(Debug, Clone)]
pub struct ScanReport {
    pub source: SourceInfo,
    /// sha256 of the spec.
    pub sha256: String,
    /// The file written, as the user would name it.
    pub output: Option<String>,
    /// The spec itself, when no file was asked for.
    pub spec: Option<String>,
    /// Keywords the source could not give, with the number of entries lacking each.
    pub lacking: Vec<(&'static str, usize)>,
    pub warnings: Vec<String>,
}

pub fn scan(ctx: &Context, opts: &ScanOptions) -> Result<ScanReport, Error> {
    let locator = Locator { reach: opts.reach, ..sources::locator(ctx)? };
    let source = locator.open(&opts.source)?;
    let spec = mtree::render_with(&source.tree, |p| source.lacks(p));
    let mut lacking: BTreeMap<&'static str, usize> = BTreeMap::new();
    for l in source.lacks.values() {
        for k in l.keywords() {
            *lacking.entry(k).or_default() += 1;
        }
    }
    let sha256 = hex::encode(&Sha256::digest(spec.as_bytes()));
    let (output, spec) = match &opts.output {
        Some(file) => {
            let dest = locator.base.join(file);
            write_beside(&dest, spec.as_bytes())?;
            (Some(display_path(&dest, &locator.base)), None)
        }
        None => (None, Some(spec)),
    };
    Ok(ScanReport {
        source: SourceInfo::of(&source),
        sha256,
        output,
        spec,
        lacking: lacking.into_iter().collect(),
        warnings: source.warnings.clone(),
    })
}

/// Writes `bytes` beside `dest` and renames it into place: a reader sees the old file or the
/// whole new one.
fn write_beside(dest: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let io = || Error::io(format!("cannot write `{}`", dest.display()));
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(TMP_PREFIX).tempfile_in(dir).map_err(io())?;
    tmp.write_all(bytes).map_err(io())?;
    tmp.as_file().sync_all().map_err(io())?;
    tmp.persist(dest).map_err(|e| io()(e.error))?;
    Ok(())
}
