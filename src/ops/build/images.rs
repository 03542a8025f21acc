//! Writing the images: every format of the recipe from one tar stream of the layered tree,
//! beside the final names, and the tree's `files.mtree`.

use std::fs;
use std::path::Path;

use tempfile::NamedTempFile;

use super::claim::Claim;
use crate::baseline::{self, mtree, ImageFile};
use crate::error::Error;
use crate::hex;
use crate::image;
use crate::layer::Layered;
use crate::oci;
use crate::progress::Progress;
use crate::recipe::{Format, Recipe};
use crate::workspace::TMP_PREFIX;

pub(super) fn image_name(recipe: &Recipe, format: Format) -> String {
    format!("{}-{}.{}", recipe.name, recipe.version, format.extension())
}

/// Images written beside their final names: the tar files, and the OCI layout.
pub(super) struct Staged {
    pub(super) files: Vec<(ImageFile, NamedTempFile)>,
    pub(super) oci: Option<oci::Layout>,
    pub(super) count: image::FrameCount,
    /// Where each content lies in the chunks, and every format's frames: a base index points there.
    pub(super) map: image::ChunkMap,
    pub(super) written: Vec<image::Written>,
}

/// Writes every format beside its final name in `out_dir`, from one tar stream: the OCI
/// layer shares the encoder of the tar image of its compression, and its `diff_id` is the
/// plain tar's sha256. `record` is the baseline's `tree` and epoch, which the layout names.
/// Each temporary is claimed first.
pub(super) fn write_images(
    recipe: &Recipe,
    layered: &Layered,
    out_dir: &Path,
    record: (&str, Option<i64>),
    claim: &mut Claim,
    frames: image::Frames,
    progress: &dyn Progress,
) -> Result<Staged, Error> {
    fs::create_dir_all(out_dir).map_err(Error::io(format!("cannot create `{}`", out_dir.display())))?;
    let io = || Error::io(format!("cannot write the image in `{}`", out_dir.display()));
    let prefix = format!("{TMP_PREFIX}{}@", recipe.name);
    let mut temps = Vec::new();
    let mut outputs: Vec<(Format, Vec<fs::File>)> = Vec::new();
    for &format in &recipe.formats {
        let tmp = claim
            .temp_image(out_dir, &recipe.name, format)
            .map_err(Error::io(format!("cannot write in `{}`", out_dir.display())))?;
        outputs.push((format, vec![tmp.reopen().map_err(io())?]));
        temps.push((format, tmp));
    }
    let staging = match &recipe.oci {
        Some(o) => {
            let (staging, layer) = oci::Staging::new(out_dir, &prefix).map_err(io())?;
            for (format, file) in [(o.layer.format(), Some(layer)), (Format::Tar, None)] {
                match outputs.iter_mut().find(|(f, _)| *f == format) {
                    Some((_, files)) => files.extend(file),
                    None => outputs.push((format, file.into_iter().collect())),
                }
            }
            Some((staging, o))
        }
        None => None,
    };
    let image::Wrote { written, count, map } =
        image::write(&layered.tree, &layered.spool, outputs, frames, progress).map_err(io())?;
    let of = |format: Format| written.iter().find(|w| w.format == format).expect("every format was written");
    let files = temps
        .into_iter()
        .map(|(format, tmp)| {
            let w = of(format);
            let frame = frame_records(&w.frames);
            (ImageFile { file: image_name(recipe, format), size: w.size, sha256: hex::encode(&w.sha256), frame }, tmp)
        })
        .collect();
    let oci = match staging {
        Some((staging, o)) => {
            let (layer, tar) = (of(o.layer.format()), of(Format::Tar));
            let version = recipe.version.to_string();
            let about = oci::About { name: &recipe.name, version: &version, tree: record.0, epoch: record.1, oci: o };
            let mut layout = staging.finish((layer.size, layer.sha256), tar.sha256, &about).map_err(io())?;
            layout.record.frame = frame_records(&layer.frames);
            Some(layout)
        }
        None => None,
    };
    Ok(Staged { files, oci, count, map, written })
}

pub(super) fn frame_records(frames: &[image::Frame]) -> Vec<baseline::FrameRecord> {
    frames.iter().map(|f| baseline::FrameRecord { key: hex::encode(&f.key), sha256: hex::encode(&f.sha256) }).collect()
}

/// Writes `files.mtree` of the tree to `path`, synced; returns its sha256 (the `tree`).
pub(super) fn write_spec(layered: &Layered, path: &Path) -> Result<String, Error> {
    let write = || -> std::io::Result<String> {
        let mut out = image::Hashed::new(fs::File::create(path)?);
        mtree::write(&layered.tree, &mut out)?;
        Ok(hex::encode(&out.finish()?.1))
    };
    write().map_err(Error::io(format!("cannot write `{}`", path.display())))
}
