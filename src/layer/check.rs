//! A tar layer read to its end without a tree: what `intake` proves before it pins a patch,
//! so a file gild cannot layer never enters a recipe.
//!
//! Everything a layer is refused for on its own is checked as [`super::Layering`] checks it:
//! the compression and every byte of it, tar headers and PAX records, the limits, entry names
//! (`..`, NUL, empty, bare whiteouts), entry types, device nodes in a patch, and a layer
//! shipping `etc/gild/release`. What depends on the tree below (a hard link to a file of the
//! base, a symlink a path goes through) is judged at build time.

use std::io::{self, BufReader};

use super::tar::{self, Archive, TarError};
use super::{components, decompress, with_window_help, EntryError, LayerError, Refusal, RELEASE_PATH};
use crate::limits::Limits;
use crate::trust::Verified;

/// Reads a verified tar layer to its end; `patch`: it is not the base (device nodes and fifos
/// need `allow_devices`). A Debian package is read by [`super::inspect`] instead.
pub fn check_layer(artifact: &Verified, limits: &Limits, patch: bool, allow_devices: bool) -> Result<(), LayerError> {
    let (layer, id) = (artifact.spec().written.as_str(), artifact.spec().id.as_str());
    let archive_err = |e: TarError| LayerError::archive(layer, id, with_window_help(e));
    let mut pinned = artifact.open().map_err(|e| archive_err(TarError::Io(e)))?;
    {
        let (_, reader) = decompress::decoder(BufReader::with_capacity(256 * 1024, &mut pinned), limits)
            .map_err(|e| archive_err(TarError::Io(e)))?;
        let mut archive = Archive::new(BufReader::with_capacity(256 * 1024, reader), *limits);
        while let Some(h) = archive.next_entry().map_err(archive_err)? {
            crate::interrupt::check().map_err(|e| archive_err(e.into()))?;
            entry(&h, patch, allow_devices).map_err(|e| match e {
                EntryError::Refused(why) => LayerError::Entry {
                    layer: layer.to_string(),
                    id: id.to_string(),
                    entry: String::from_utf8_lossy(&h.path).into_owned(),
                    why,
                },
                EntryError::Tar(e) => archive_err(e),
                EntryError::Spool(e) => LayerError::Spool(e),
            })?;
            io::copy(&mut archive.data(), &mut io::sink()).map_err(|e| archive_err(TarError::Io(e)))?;
        }
    }
    io::copy(&mut pinned, &mut io::sink()).map_err(|e| archive_err(TarError::Io(e)))?;
    let digest = pinned.digest();
    if digest != artifact.spec().sha256 {
        return Err(artifact.changed_error(digest).into());
    }
    Ok(())
}

/// The checks of one entry that need no tree.
fn entry(h: &tar::Header, patch: bool, allow_devices: bool) -> Result<(), EntryError> {
    let comps = components(&h.path)?;
    super::xattr_names(h)?;
    let Some((name, _)) = comps.split_last() else {
        if h.kind != tar::Kind::Dir {
            return Err(EntryError::Refused("the image root can only be a directory".into()));
        }
        return Ok(());
    };
    if let Some(target) = name.strip_prefix(b".wh.") {
        let opaque = target == b".wh..opq";
        if !opaque && (target.is_empty() || target == b"." || target == b".." || target.starts_with(b".wh.")) {
            return Err(EntryError::from(format!("whiteout of `{}` names no entry", String::from_utf8_lossy(target))));
        }
        return Ok(());
    }
    if comps.join(&b'/') == RELEASE_PATH {
        return Err(EntryError::Refused("`etc/gild/release` is written by gild; a layer may not ship it".into()));
    }
    match h.kind {
        tar::Kind::Symlink if h.link.is_empty() => Err(EntryError::Refused("symlink with an empty target".into())),
        tar::Kind::HardLink => {
            if components(&h.link)?.is_empty() {
                return Err(EntryError::Refused("hard link to the image root".into()));
            }
            Ok(())
        }
        tar::Kind::Char | tar::Kind::Block | tar::Kind::Fifo if patch && !allow_devices => Err(EntryError::Refused(
            Refusal::from("a patch may not add device nodes or fifos")
                .help("set `allow-devices = true` in `[image]` if this patch must"),
        )),
        _ => Ok(()),
    }
}
