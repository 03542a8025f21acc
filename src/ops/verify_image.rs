//! `gild verify IMAGE --baseline REF`: is this image file the one a baseline records? Its
//! sha256 must be one of the recorded images' and its tree (with extended attributes) the
//! recorded `files.mtree`; anything else is a trust failure (exit 3). An OCI layout is the
//! recorded one when every file the record pins (documents and layer) has its recorded
//! sha256, whatever the layout's directory is called now.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::baseline::{mtree, Record};
use crate::diff::{self, Attribution};
use crate::error::Error;
use crate::ops::diff::{path_changes, PathChange, SourceInfo};
use crate::ops::{sources, Context};
use crate::tree::source::SourceKind;
use crate::trust::hex;

#[derive(Debug, Clone, Default)]
pub struct VerifyImageOptions {
    pub image: String,
    pub baseline: String,
}

#[derive(Debug, Clone)]
pub struct VerifyImageReport {
    pub image: String,
    pub baseline: SourceInfo,
    /// sha256 of the image file (of an OCI layout: of its layer).
    pub sha256: String,
    /// Files of an OCI layout whose sha256 is not the recorded one (or that one side lacks).
    pub differing: Vec<String>,
    /// The recorded image file with that sha256, if any.
    pub recorded_as: Option<String>,
    /// The recorded images, for the report when none matches.
    pub recorded: Vec<(String, String)>,
    /// sha256 of the image's tree in the `files.mtree` form.
    pub tree: String,
    pub tree_matches: bool,
    /// How the image's tree differs from the recorded one.
    pub changes: Vec<PathChange>,
}

impl VerifyImageReport {
    pub fn ok(&self) -> bool {
        self.recorded_as.is_some() && self.tree_matches
    }

    /// 0 when the image is the recorded one, 3 when not.
    pub fn exit_code(&self) -> u8 {
        if self.ok() {
            0
        } else {
            3
        }
    }
}

pub fn verify_image(ctx: &Context, opts: &VerifyImageOptions) -> Result<VerifyImageReport, Error> {
    let locator = sources::locator(ctx)?;
    let baseline = locator.baseline(&opts.baseline)?;
    let record = baseline.record().expect("a recorded baseline");
    let image = locator.open(&opts.image)?;
    let (sha256, recorded_as, differing) = match &image.kind {
        SourceKind::Tarball { sha256, .. } => {
            let sha256 = hex(sha256);
            let recorded_as = record.image.iter().find(|i| i.sha256 == sha256).map(|i| i.file.clone());
            (sha256, recorded_as, Vec::new())
        }
        SourceKind::Oci { files, layer_sha256, .. } => {
            let (recorded_as, differing) = oci_files(record, files);
            (hex(layer_sha256), recorded_as, differing)
        }
        _ => {
            return Err(Error::Usage(format!(
                "`{}` is {}, not an image file or OCI layout\n  help: give the image tarball or OCI layout, e.g. out/{}-{}.tar.zst",
                opts.image,
                image.kind.with_article(),
                record.name,
                record.version
            )))
        }
    };
    let spec = mtree::render_with(&image.tree, |p| image.lacks(p));
    let tree = hex(&Sha256::digest(spec.as_bytes()));
    let attribution = Attribution::of(record)
        .map_err(|why| Error::Usage(format!("the record of `{}` is not valid\n  cause: {why}", baseline.label)))?;
    let (changes, _) = path_changes(&baseline, &image, diff::Options { xattrs: true }, &[&attribution]);
    Ok(VerifyImageReport {
        image: opts.image.clone(),
        baseline: SourceInfo::of(&baseline),
        recorded_as,
        differing,
        recorded: record
            .image
            .iter()
            .map(|i| (i.file.clone(), i.sha256.clone()))
            .chain(record.oci.iter().map(|o| (o.dir.clone(), o.layer.clone())))
            .collect(),
        tree_matches: tree == record.tree && changes.is_empty(),
        sha256,
        tree,
        changes,
    })
}

/// An OCI layout's files against the record: the recorded layout's name when every pinned
/// file has its recorded sha256, and the files that do not (or that one side lacks).
fn oci_files(record: &Record, files: &[(String, [u8; 32])]) -> (Option<String>, Vec<String>) {
    let Some(oci) = &record.oci else { return (None, Vec::new()) };
    let found: BTreeMap<&str, String> = files.iter().map(|(f, sha)| (f.as_str(), hex(sha))).collect();
    let recorded: BTreeMap<&str, &str> = oci.file.iter().map(|i| (i.file.as_str(), i.sha256.as_str())).collect();
    let mut differing: Vec<String> = recorded
        .iter()
        .filter(|(f, sha)| found.get(*f).map(String::as_str) != Some(**sha))
        .map(|(f, _)| format!("{}/{f}", oci.dir))
        .collect();
    differing.extend(found.keys().filter(|f| !recorded.contains_key(*f)).map(|f| format!("{}/{f}", oci.dir)));
    differing.sort();
    (differing.is_empty().then(|| oci.dir.clone()), differing)
}
