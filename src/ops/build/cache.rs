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

/// The baselines whose frames and base index the cache may serve, newest first: the newest
/// few (and the version rebuilt), since an older one's frames are what the cache evicts first
/// and reading every record of a long history costs more than its frames save. A signed
/// recipe's baseline counts only when its own signature checks (its images are not needed).
pub(super) fn trusted_records(
    recipe: &Recipe,
    versions: &crate::rollout::Versions,
    warnings: &mut Vec<String>,
) -> Vec<Record> {
    let newest = versions.recorded.iter().rev().take(RECORDS);
    let rebuilt = versions.get(&recipe.version).into_iter();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (version, dir) in newest.chain(rebuilt).filter(|(v, _)| seen.insert(v.clone())) {
        let Ok(record) = read_record(dir) else { continue };
        if let Some(sign) = &recipe.sign {
            if let Err(e) = crate::sign::check(dir, None, &sign.public) {
                warnings.push(format!("the cache is not used for the frames of {version}: {e}"));
                continue;
            }
        }
        out.push(record);
    }
    out
}

/// The cached index of this recipe's base, when one of `records` built from the same base
/// artifact recorded its sha256 (newest first) and the cache holds it with those bytes.
pub(super) fn find_index(
    records: &[Record],
    recipe: &Recipe,
    cache: &Arc<crate::cache::Cache>,
    key: &[u8; 32],
    lost: &Arc<AtomicBool>,
) -> Option<(layer::index::BaseIndex, String)> {
    let base = hex::encode(&recipe.base.sha256);
    for record in records.iter().filter(|r| r.base.sha256 == base) {
        let Some(digest) = &record.base_index else { continue };
        let Some(sha) = hex::decode_array(digest.as_bytes()) else { continue };
        if let Some(bytes) = cache.get("index", key, &sha) {
            let index = layer::index::BaseIndex::load(&bytes, Arc::clone(cache), Arc::clone(lost));
            return index.map(|i| (i, digest.clone()));
        }
    }
    None
}

/// Stores, beside the image's writing, the base's contents the images will not hold (see
/// [`layer::index::Snapshot::extras`]).
pub(super) fn index_extras(
    snapshot: &layer::index::Snapshot,
    (tree, ranges): (&crate::tree::Tree, crate::spool::Ranges<'_>),
    recipe: &Recipe,
    cache: &crate::cache::Cache,
) -> std::io::Result<layer::index::Extras> {
    let framed = |f: &Format| matches!(f, Format::TarZst | Format::TarGz);
    let compressed =
        recipe.formats.iter().any(framed) || recipe.oci.as_ref().is_some_and(|o| framed(&o.layer.format()));
    let mut held = std::collections::HashSet::new();
    if compressed {
        for (_, node) in tree.iter() {
            if let crate::tree::Kind::File(c) = &node.kind {
                held.insert(c.sha256);
            }
        }
    }
    snapshot.extras(ranges, &held, cache)
}

/// Stores the index of the base this build decoded; returns its sha256 for the record.
pub(super) fn store_index(
    snapshot: layer::index::Snapshot,
    extras: std::io::Result<layer::index::Extras>,
    images: &Staged,
    cache: &crate::cache::Cache,
    key: &[u8; 32],
    warnings: &mut Vec<String>,
) -> Option<String> {
    // The frames of the zstd image (else the gzip one): an OCI layer shares them.
    let frames = [Format::TarZst, Format::TarGz].into_iter().find_map(|f| {
        images.written.iter().find(|w| w.format == f && !w.frames.is_empty()).map(|w| (f, &w.frames[..]))
    });
    match extras.and_then(|extras| snapshot.finish(extras, &images.map, frames)) {
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

/// The frames `records` list (key → sha256): the only frames the cache may serve.
pub(super) fn recorded_frames(records: &[Record]) -> std::collections::HashMap<[u8; 32], [u8; 32]> {
    let mut out = std::collections::HashMap::new();
    for record in
        records.iter().filter(|r| r.image_format.as_deref().and_then(image::frame::ImageFormat::parse).is_some())
    {
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

/// The decoded digests `records` list for their patches (artifact sha256 → digests): the only
/// decoded patches the cache may serve.
pub(super) fn recorded_decoded(records: &[Record]) -> std::collections::HashMap<[u8; 32], Vec<[u8; 32]>> {
    let mut out: std::collections::HashMap<[u8; 32], Vec<[u8; 32]>> = std::collections::HashMap::new();
    for patch in records.iter().flat_map(|r| &r.patch) {
        let pin = hex::decode_array(patch.sha256.as_bytes());
        let decoded = patch.decoded.as_deref().and_then(|d| hex::decode_array(d.as_bytes()));
        if let (Some(pin), Some(decoded)) = (pin, decoded) {
            let digests = out.entry(pin).or_default();
            if !digests.contains(&decoded) {
                digests.push(decoded);
            }
        }
    }
    out
}
