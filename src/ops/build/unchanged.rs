//! A rebuild of a version already recorded with the same tree: nothing is recorded again, and
//! only a recorded image missing from `out/` is written, with its recorded bytes.

use super::*;

/// A rebuild of a recorded version with the same tree: rewrites nothing but a recorded image
/// or OCI layout missing from `out_dir`, which must come out with its recorded digests.
pub(super) fn unchanged(
    ws: &Workspace,
    recipe: &Recipe,
    record: Record,
    layered: &Layered,
    out_dir: &Path,
    claim: &mut Claim,
    frames: image::Frames,
) -> Result<BuildReport, Error> {
    let mut warnings = Vec::new();
    let mut missing = Vec::new();
    for &f in &recipe.formats {
        let name = image_name(recipe, f);
        match record.image.iter().any(|i| i.file == name) {
            true if !out_dir.join(&name).exists() => missing.push(f),
            true => {}
            false => warnings.push(unrecorded_format(&record, f.extension())),
        }
    }
    let oci = match (&recipe.oci, &record.oci) {
        (Some(o), Some(r)) => {
            if let Some(message) = oci::recorded_otherwise(o, r) {
                let message = format!("version {} of `{}` {message}", recipe.version, recipe.name);
                return Err(Error::Version {
                    message,
                    causes: Vec::new(),
                    recipe: display_path(&recipe.path, &ws.root),
                });
            }
            (!out_dir.join(&r.dir).exists()).then(|| o.clone())
        }
        (Some(_), None) => {
            warnings.push(unrecorded_format(&record, "oci"));
            None
        }
        (None, _) => None,
    };
    let mut rewritten = Vec::new();
    let mut count = image::FrameCount::default();
    let format = record.image_format.as_deref().unwrap_or(image::frame::STREAM_FORMAT);
    let known = image::frame::ImageFormat::parse(format);
    if (!missing.is_empty() || oci.is_some()) && known.is_none() {
        // Another image format cannot give the recorded bytes: the tree was checked, say so.
        warnings.push(format!(
            "`{}` {} was recorded in image format `{format}`, and this gild writes `{}`: its missing images are not written (bump `[image] version` to build them)",
            record.name,
            record.version,
            image::frame::ImageFormat::CURRENT.name()
        ));
    } else if let (Some(known), true) = (known, !missing.is_empty() || oci.is_some()) {
        // The recorded format, whichever this gild writes new versions in.
        let frames = image::Frames { format: known, ..frames };
        let only = Recipe { formats: missing, oci, ..recipe.clone() };
        let staged = write_images(&only, layered, out_dir, (&record.tree, record.epoch), claim, frames, &Silent)?;
        count = staged.count;
        for (file, tmp) in staged.files {
            let recorded = record.image.iter().find(|i| i.file == file.file).expect("filtered above");
            if recorded.sha256 != file.sha256 {
                return Err(Error::Irreproducible {
                    file: file.file,
                    expected: recorded.sha256.clone(),
                    found: file.sha256,
                });
            }
            let dest = out_dir.join(&file.file);
            publish(tmp, &dest, &file, claim)?;
            rewritten.push(display_path(&dest, &ws.root));
        }
        if let (Some(layout), Some(recorded)) = (staged.oci, &record.oci) {
            if let Some((file, expected, found)) = oci::first_difference(recorded, &layout.record) {
                return Err(Error::Irreproducible { file: format!("{}/{file}", recorded.dir), expected, found });
            }
            let (_, dest) = publish_layout(layout, out_dir, claim)?;
            rewritten.push(display_path(&dest, &ws.root));
        }
    }
    let baseline_dir = ws.baselines(&recipe.name).join(&record.version);
    Ok(BuildReport {
        status: Status::Unchanged,
        name: record.name.clone(),
        version: record.version.clone(),
        parent: record.parent.clone(),
        tree: record.tree.clone(),
        entries: record.entries,
        images: record.image.iter().map(|i| (i.clone(), display_path(&out_dir.join(&i.file), &ws.root))).collect(),
        oci: record.oci.as_ref().map(|o| (o.clone(), display_path(&out_dir.join(&o.dir), &ws.root))),
        rewritten,
        baseline: display_path(&baseline_dir, &ws.root),
        patches: record.patch.clone(),
        notable: record.notable.clone(),
        checks: record.check.clone(),
        frames: count,
        base_index: None,
        decoded: DecodedCount::default(),
        warnings,
    })
}

/// A format the recipe asks for that the recorded version was built without: a rebuild
/// writes only what is recorded.
fn unrecorded_format(record: &Record, format: &str) -> String {
    format!(
        "`{}` {} was recorded without the `{format}` format, so none is written: bump `[image] version` to build it",
        record.name, record.version
    )
}
