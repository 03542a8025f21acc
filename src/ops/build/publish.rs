//! Putting a build's files in place: images renamed beside their final names, claimed first,
//! never over a file gild cannot prove it wrote, and removed again when the build fails
//! before its commit point.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::claim::{self, Claim};
use crate::baseline::{ImageFile, OciRecord, Record};
use crate::error::Error;
use crate::hex;
use crate::oci;

/// Images renamed into place before the commit point, removed again if the build fails
/// before it.
#[derive(Default)]
pub(super) struct Placed {
    /// Files this build created (not those that already held the same bytes).
    created: Vec<PathBuf>,
    pub(super) images: Vec<(ImageFile, PathBuf)>,
}

impl Placed {
    pub(super) fn put(&mut self, created: Option<PathBuf>) {
        self.created.extend(created);
    }

    /// The build is recorded: the images stay.
    pub(super) fn commit(mut self) -> Vec<(ImageFile, PathBuf)> {
        self.created.clear();
        std::mem::take(&mut self.images)
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        for path in &self.created {
            let _ = fs::remove_file(path);
        }
    }
}

/// Renames a finished image into place, readable by all (temporary files are created 0600),
/// claimed first. A file already at `dest` is never replaced: when it holds the very bytes it
/// stays as it is; otherwise the build stops, since gild cannot tell it wrote that file.
/// Returns the path when this build created it.
pub(super) fn publish(
    tmp: NamedTempFile,
    dest: &Path,
    file: &ImageFile,
    claim: &mut Claim,
) -> Result<Option<PathBuf>, Error> {
    let io = || Error::io(format!("cannot write `{}`", dest.display()));
    if let Err(e) = fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)) {
        return Err(io()(e));
    }
    if !dest.exists() {
        claim.image(dest, &file.sha256, file.size).map_err(io())?;
    }
    match tmp.persist_noclobber(dest) {
        Ok(_) => Ok(Some(dest.to_path_buf())),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            let found = fs::File::open(dest).and_then(|mut f| claim::sha256_of(&mut f)).map_err(io())?;
            if hex::encode(&found) == file.sha256 {
                return Ok(None);
            }
            Err(Error::usage_text(format!(
                "`{}` already exists and holds other bytes than the image built (sha256 {}, built {})\n  cause: no baseline records that file, so gild cannot tell it wrote it, and never replaces a file it did not write\n  help: move it away (or remove it, if it is yours to remove) and build again",
                dest.display(),
                hex::encode(&found),
                file.sha256
            )))
        }
        Err(e) => Err(io()(e.error)),
    }
}

/// Whether `baselines/NAME/VERSION/baseline.toml` lists the image `file` (with `sha256`, when
/// given). A record that cannot be read counts as listing it: a removal needs proof.
pub(super) fn records_image(records: &Path, version: &str, file: &str, sha256: Option<&str>) -> bool {
    let Ok(text) = fs::read_to_string(records.join(version).join("baseline.toml")) else { return false };
    let Ok(record) = Record::from_toml(&text) else { return true };
    record.image.iter().any(|i| i.file == file && sha256.map_or(true, |s| i.sha256 == s))
}

/// Renames a finished OCI layout into place; returns its record and path.
pub(super) fn publish_layout(
    layout: oci::Layout,
    out_dir: &Path,
    claim: &mut Claim,
) -> Result<(OciRecord, PathBuf), Error> {
    let dest = out_dir.join(&layout.record.dir);
    let record = layout.record.clone();
    claim.layout(&dest, &record.manifest).map_err(Error::io(format!("cannot write `{}`", dest.display())))?;
    layout.publish(&dest).map_err(Error::io(format!("cannot write `{}`", dest.display())))?;
    Ok((record, dest))
}

pub(super) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = Error::io(format!("cannot write `{}`", path.display()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(path)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()
    };
    write().map_err(io)
}

pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
