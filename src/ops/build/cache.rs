//! The build's use of the cache (docs/image-format.md): which frames baselines recorded, and
//! the index of the decoded base a build may start from or leaves for the next one.

use super::*;

/// How many of the newest baselines a build takes recorded frames from.
const RECORDS: usize = 4;

/// The frame cache, unless `--no-cache`; a cache that cannot be used is a warning.
pub(super) fn open_cache(opts: &BuildOptions, warnings: &mut Vec<String>) -> Option<Arc<crate::cache::Cache>> {
    if opts.no_cache {
        return None;
    }
    crate::cache::Cache::open().map_err(|w| warnings.push(w)).ok().map(Arc::new)
}

/// The cached index of this recipe's base, when a baseline built from the same base
/// artifact recorded its sha256 (newest first) and the cache holds it with those bytes.
pub(super) fn find_index(
    versions: &crate::rollout::Versions,
    recipe: &Recipe,
    cache: &Arc<crate::cache::Cache>,
    key: &[u8; 32],
    lost: &Arc<AtomicBool>,
) -> Option<(layer::index::BaseIndex, String)> {
    let base = hex::encode(&recipe.base.sha256);
    for (_, dir) in versions.recorded.iter().rev().take(RECORDS) {
        let Ok(record) = read_record(dir) else { continue };
        let Some(digest) = record.base_index.filter(|_| record.base.sha256 == base) else { continue };
        let Some(sha) = hex::decode_array(digest.as_bytes()) else { continue };
        if recipe.sign.is_some()
            && crate::sign::check(dir, &dir.join(".gild-no-images"), &recipe.sign.as_ref()?.public).is_err()
        {
            continue;
        }
        if let Some(bytes) = cache.get("index", key, &sha) {
            return layer::index::BaseIndex::load(&bytes, Arc::clone(cache), Arc::clone(lost)).map(|i| (i, digest));
        }
    }
    None
}

/// Stores the index of the base this build decoded; returns its sha256 for the record.
pub(super) fn store_index(
    snapshot: layer::index::Snapshot,
    layered: &Layered,
    images: &Staged,
    cache: &crate::cache::Cache,
    key: &[u8; 32],
    warnings: &mut Vec<String>,
) -> Option<String> {
    // The frames of the zstd image (else the gzip one): an OCI layer shares them.
    let frames = [Format::TarZst, Format::TarGz].into_iter().find_map(|f| {
        images.written.iter().find(|w| w.format == f && !w.frames.is_empty()).map(|w| (f, &w.frames[..]))
    });
    match snapshot.finish(&layered.spool, &images.map, frames, cache) {
        Ok(bytes) => {
            cache.put("index", key, &bytes);
            Some(hex::encode(&sha2::Sha256::digest(&bytes)))
        }
        Err(e) => {
            warnings.push(format!("cache: the base index was not stored: {e}"));
            None
        }
    }
}

/// The frames recorded by this recipe's baselines (key → sha256): the only frames the cache
/// may serve. A signed recipe's baseline counts only when its signature checks.
pub(super) fn recorded_frames(
    recipe: &Recipe,
    versions: &crate::rollout::Versions,
    warnings: &mut Vec<String>,
) -> std::collections::HashMap<[u8; 32], [u8; 32]> {
    let mut out = std::collections::HashMap::new();
    // The newest few versions (and the one rebuilt): an older one's frames are what the cache
    // evicts first, and reading every record of a long history, signatures checked, costs
    // more than the frames save.
    let newest = versions.recorded.iter().rev().take(RECORDS);
    let rebuilt = versions.get(&recipe.version).into_iter();
    let mut seen = std::collections::HashSet::new();
    for (version, dir) in newest.chain(rebuilt).filter(|(v, _)| seen.insert(v.clone())) {
        let Ok(record) = read_record(dir) else { continue };
        if record.image_format.as_deref() != Some(image::frame::IMAGE_FORMAT) {
            continue;
        }
        if let Some(sign) = &recipe.sign {
            // The images themselves are not needed: only the record's own signature counts.
            let no_images = dir.join(".gild-no-images");
            if let Err(e) = crate::sign::check(dir, &no_images, &sign.public) {
                warnings.push(format!("the cache is not used for the frames of {version}: {e}"));
                continue;
            }
        }
        for f in record.image.iter().flat_map(|i| &i.frame).chain(record.oci.iter().flat_map(|o| &o.frame)) {
            if let (Some(key), Some(sha)) =
                (hex::decode_array(f.key.as_bytes()), hex::decode_array(f.sha256.as_bytes()))
            {
                out.insert(key, sha);
            }
        }
    }
    out
}
