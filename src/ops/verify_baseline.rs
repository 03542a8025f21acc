//! `gild verify NAME@VERSION` (or a baseline directory): a recorded baseline, checked as a
//! host or an auditor would before trusting it — its signature when the recipe has `[sign]`
//! (or `GILD_BUILD_KEY` is set), and every file `baseline.toml` pins.

use std::path::{Path, PathBuf};

use crate::baseline::Record;
use crate::error::Error;
use crate::hex;
use crate::ops::{sources, Context};
use crate::sign::{self, SignError};

pub struct VerifyBaselineReport {
    pub name: String,
    pub version: String,
    /// The baseline directory, as shown.
    pub dir: String,
    /// The key that signed it and the trusted comment, when a signature was required.
    pub signed: Option<(String, String)>,
    /// Files whose digest matched.
    pub checked: Vec<String>,
    /// Images the record lists that are not in the output directory.
    pub unchecked: Vec<String>,
    pub warnings: Vec<String>,
}

/// `NAME@VERSION` or a directory holding `baseline.toml`: a recorded baseline, not a recipe.
pub fn is_baseline(ctx: &Context, arg: &str) -> bool {
    let dir = ctx.base().map(|b| b.join(arg)).ok();
    arg.contains('@') || dir.is_some_and(|d| d.join("baseline.toml").is_file())
}

pub fn verify_baseline(ctx: &Context, arg: &str) -> Result<VerifyBaselineReport, Error> {
    let locator = sources::locator(ctx)?;
    let path = locator.base.join(arg);
    let dir = if path.is_dir() { path } else { locator.reference_dir(arg)? };
    // The signature first: a signed baseline.toml is trusted only once it checks out.
    let mut signed = None;
    let mut warnings = Vec::new();
    let mut signed_files = Vec::new();
    if let Some(ws) = &locator.workspace {
        if let Some((checked, w)) = sign::check_baseline(ws, &dir)? {
            if !checked.key.is_empty() {
                signed = Some((checked.key.clone(), checked.trusted_comment.clone()));
            }
            warnings = w;
            signed_files = checked.files;
        }
    }
    let record_path = dir.join("baseline.toml");
    let text =
        std::fs::read_to_string(&record_path).map_err(Error::io(format!("cannot read `{}`", record_path.display())))?;
    let record = Record::from_toml(&text).map_err(|e| {
        Error::usage_text(format!("`{}` is not a baseline record\n  cause: {}", record_path.display(), e.message()))
    })?;
    let mut report = VerifyBaselineReport {
        name: record.name.clone(),
        version: record.version.clone(),
        dir: dir.display().to_string(),
        signed,
        checked: Vec::new(),
        unchecked: Vec::new(),
        warnings,
    };
    let out = locator.workspace.as_ref().map(|w| w.out()).unwrap_or_else(|| dir.join("../../../out"));
    let pinned = pins(&record, &dir, &out);
    for (name, path, expected) in pinned {
        if signed_files.contains(&name) {
            continue;
        }
        match file_sha256(&path) {
            Ok(found) if found == expected => report.checked.push(name),
            Ok(found) => {
                return Err(SignError::Mismatch {
                    dir: report.dir.clone(),
                    file: path.display().to_string(),
                    expected,
                    found,
                }
                .into())
            }
            Err(_) if name.ends_with(".mtree") || name == "install-data.tar" => {
                return Err(SignError::Missing { dir: report.dir.clone(), file: name }.into())
            }
            Err(_) => report.unchecked.push(name),
        }
    }
    // What the signature covered and the record pins, each once, in name order.
    report.checked.extend(signed_files);
    report.checked.sort();
    report.checked.dedup();
    Ok(report)
}

/// What `baseline.toml` pins: `files.mtree` (its `tree`), `install-data.tar`, and each image
/// (looked for in `out`).
fn pins(record: &Record, dir: &Path, out: &Path) -> Vec<(String, PathBuf, String)> {
    let mut pins = vec![("files.mtree".to_string(), dir.join("files.mtree"), record.tree.clone())];
    if let Some(d) = &record.install_data {
        pins.push(("install-data.tar".into(), dir.join("install-data.tar"), d.sha256.clone()));
    }
    for image in &record.image {
        pins.push((image.file.clone(), out.join(&image.file), image.sha256.clone()));
    }
    pins
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    crate::trust::sha256_file(path).map(|d| hex::encode(&d))
}
