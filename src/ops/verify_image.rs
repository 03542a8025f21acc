//! `gild verify IMAGE --baseline REF`: is this image file the one a baseline records? Its
//! sha256 must be one of the recorded images' and its tree (with extended attributes) the
//! recorded `files.mtree`; anything else is a trust failure (exit 3).

use sha2::{Digest, Sha256};

use crate::baseline::mtree;
use crate::diff::{self, Attribution};
use crate::error::{Error, Report};
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
    /// sha256 of the image file.
    pub sha256: String,
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
    let SourceKind::Tarball { sha256, .. } = &image.kind else {
        return Err(Error::Usage(
            Report::new(format!("`{}` is a {}, not an image file", opts.image, image.kind.word()))
                .help(format!("give the image tarball, e.g. out/{}-{}.tar.zst", record.name, record.version)),
        ));
    };
    let sha256 = hex(sha256);
    let spec = mtree::render_with(&image.tree, |p| image.lacks(p));
    let tree = hex(&Sha256::digest(spec.as_bytes()));
    let attribution = Attribution::of(record).map_err(|why| {
        Error::Corrupt(Report::new(format!("the record of `{}` is not valid", baseline.label)).cause(why))
    })?;
    let (changes, _) = path_changes(&baseline, &image, diff::Options { xattrs: true }, &[&attribution]);
    Ok(VerifyImageReport {
        image: opts.image.clone(),
        baseline: SourceInfo::of(&baseline),
        recorded_as: record.image.iter().find(|i| i.sha256 == sha256).map(|i| i.file.clone()),
        recorded: record.image.iter().map(|i| (i.file.clone(), i.sha256.clone())).collect(),
        tree_matches: tree == record.tree && changes.is_empty(),
        sha256,
        tree,
        changes,
    })
}
