//! `gild verify IMAGE --baseline REF`: is this image file the one a baseline records? Its
//! sha256 must be one of the recorded images' and its tree (with extended attributes) the
//! recorded `files.mtree`; anything else is a trust failure (exit 3). An OCI layout's sha256
//! is its image's digest (its manifest's, which pins the config and the layer): a layout
//! copied by `skopeo copy --preserve-digests`, or pulled back from a registry, is the recorded
//! image though its `index.json` is the copier's own.

use sha2::{Digest, Sha256};

use crate::baseline::mtree;
use crate::diff::{self, Attribution};
use crate::error::{Error, Report};
use crate::hex;
use crate::ops::diff::{path_changes, PathChange, SourceInfo};
use crate::ops::{sources, Context};
use crate::tree::source::SourceKind;

#[derive(Debug, Clone, Default)]
pub struct VerifyImageOptions {
    pub image: String,
    pub baseline: String,
}

#[derive(Debug, Clone)]
pub struct VerifyImageReport {
    pub image: String,
    pub baseline: SourceInfo,
    /// sha256 of the image file (of an OCI layout: of its manifest).
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
    let (sha256, recorded_as) = match &image.kind {
        SourceKind::Tarball { sha256, .. } => {
            let sha256 = hex::encode(sha256);
            let recorded_as = record.image.iter().find(|i| i.sha256 == sha256).map(|i| i.file.clone());
            (sha256, recorded_as)
        }
        SourceKind::Oci { manifest, .. } => {
            let digest = crate::oci::digest(manifest);
            let recorded_as = record.oci.as_ref().filter(|o| o.manifest == digest).map(|o| o.dir.clone());
            (hex::encode(manifest), recorded_as)
        }
        _ => {
            return Err(Error::Usage(
                Report::new(format!(
                    "`{}` is {}, not an image file or OCI layout",
                    opts.image,
                    image.kind.with_article()
                ))
                .help(format!(
                    "give the image tarball or OCI layout, e.g. out/{}-{}.tar.zst",
                    record.name, record.version
                )),
            ))
        }
    };
    let spec = mtree::render_with(&image.tree, |p| image.lacks(p));
    let tree = hex::encode(&Sha256::digest(spec.as_bytes()));
    let attribution = Attribution::of(record).map_err(|why| {
        Error::Corrupt(Report::new(format!("the record of `{}` is not valid", baseline.label)).cause(why))
    })?;
    let (changes, _) = path_changes(&baseline, &image, diff::Options { xattrs: true }, &[&attribution]);
    Ok(VerifyImageReport {
        image: opts.image.clone(),
        baseline: SourceInfo::of(&baseline),
        recorded_as,
        recorded: record
            .image
            .iter()
            .map(|i| (i.file.clone(), i.sha256.clone()))
            .chain(record.oci.iter().map(|o| (o.dir.clone(), o.manifest.trim_start_matches("sha256:").to_string())))
            .collect(),
        tree_matches: tree == record.tree && changes.is_empty(),
        sha256,
        tree,
        changes,
    })
}
