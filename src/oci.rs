//! The OCI image layout (docs/oci.md): `out/NAME-VERSION.oci/`, written from the same tar
//! stream as the tar images, and read back as a tree source.
//!
//! The layout holds one image of one layer, so that `skopeo copy` can push it and podman or
//! umoci can run or unpack it with the version and provenance attached. The layer is the
//! image tar compressed by the very encoder of the `tar.gz` (or `tar.zst`) image, so its
//! bytes are those of that image; the JSON documents are serialized from structs (fixed key
//! order, maps sorted) and carry nothing but the tree, the version and the epoch: a layout
//! is byte-identical on every machine and every run, like every other output.
//!
//! Reading trusts nothing: every document is size-capped, every blob is found by a digest
//! that must be `sha256:` and 64 hex digits (no path can be smuggled in), and every blob must
//! hash to its digest, the uncompressed layer to the config's `diff_id`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::baseline::{ImageFile, OciRecord};
use crate::hex;
use crate::recipe::{LayerCompression, Oci, Platform};

/// The content of `oci-layout`.
pub const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
pub const INDEX_FILE: &str = "index.json";

pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const VERSION: &str = "org.opencontainers.image.version";
pub const REVISION: &str = "org.opencontainers.image.revision";
pub const CREATED: &str = "org.opencontainers.image.created";

/// The largest JSON document (index, manifest, config) a layout may hold: gild's are under a
/// KiB, and a reader of untrusted layouts must not be made to allocate without bound.
const DOCUMENT_MAX: u64 = 4 << 20;

/// The media type of the layer blob.
pub fn layer_type(c: LayerCompression) -> &'static str {
    match c {
        LayerCompression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        LayerCompression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// `sha256:HEX`.
pub fn digest(sha256: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(sha256))
}

// ---------------------------------------------------------------------------------------------
// The documents. Field order is serialization order; maps are sorted.

#[derive(Debug, Serialize, Deserialize)]
struct LayoutDoc {
    #[serde(rename = "imageLayoutVersion")]
    version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<PlatformDoc>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlatformDoc {
    architecture: String,
    os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IndexDoc {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "String::is_empty")]
    media_type: String,
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestDoc {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "String::is_empty")]
    media_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ConfigDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    architecture: String,
    os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    #[serde(default)]
    config: RunConfig,
    rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<History>,
}

/// The image's run configuration: only labels, so `podman inspect` and `skopeo inspect`
/// show the version and the tree too. No command: a golden system image has no one program
/// to run, the user names it (`podman run IMAGE /bin/sh`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct RunConfig {
    #[serde(rename = "Labels", default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: String,
    diff_ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    created_by: String,
}

// ---------------------------------------------------------------------------------------------
// Writing

/// What the layout says about the image besides its layer.
pub struct About<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// The baseline's `tree` (sha256 of `files.mtree`): the image's revision.
    pub tree: &'a str,
    pub epoch: Option<i64>,
    pub oci: &'a Oci,
}

/// A layout being written in a private directory beside its final name (`.gild-tmp-…`,
/// removed on drop): like an image file, it appears whole or not at all.
pub struct Staging {
    dir: tempfile::TempDir,
    layer: PathBuf,
}

/// The layer blob's name until its digest is known: not a digest, so no reader takes it.
const LAYER_TMP: &str = "layer.partial";

impl Staging {
    /// Creates the staging directory in `out_dir` and the file the layer is written to.
    pub fn new(out_dir: &Path, prefix: &str) -> io::Result<(Staging, File)> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(out_dir)?;
        let blobs = dir.path().join("blobs/sha256");
        fs::create_dir_all(&blobs)?;
        let layer = blobs.join(LAYER_TMP);
        let file = File::create(&layer)?;
        Ok((Staging { dir, layer }, file))
    }

    /// Names the written layer by its digest and writes the config, the manifest,
    /// `index.json` and `oci-layout` around it. `layer` is the compressed layer's size and
    /// sha256, `diff_id` the uncompressed tar's sha256.
    pub fn finish(self, layer: (u64, [u8; 32]), diff_id: [u8; 32], about: &About) -> io::Result<Layout> {
        let root = self.dir.path();
        let blobs = root.join("blobs/sha256");
        let layer_blob = blobs.join(hex::encode(&layer.1));
        fs::rename(&self.layer, &layer_blob)?;
        set_mode(&layer_blob, 0o644)?;
        let docs = documents(layer, diff_id, about);
        let mut files = Vec::new();
        for bytes in [&docs.config, &docs.manifest] {
            let sha = Sha256::digest(bytes);
            write_synced(&blobs.join(hex::encode(&sha)), bytes)?;
        }
        write_synced(&root.join(INDEX_FILE), &docs.index)?;
        write_synced(&root.join(LAYOUT_FILE), LAYOUT)?;
        for (path, size, sha) in [
            (format!("blobs/sha256/{}", hex::encode(&docs.config_sha)), docs.config.len() as u64, docs.config_sha),
            (format!("blobs/sha256/{}", hex::encode(&layer.1)), layer.0, layer.1),
            (
                format!("blobs/sha256/{}", hex::encode(&docs.manifest_sha)),
                docs.manifest.len() as u64,
                docs.manifest_sha,
            ),
            (INDEX_FILE.to_string(), docs.index.len() as u64, Sha256::digest(&docs.index).into()),
            (LAYOUT_FILE.to_string(), LAYOUT.len() as u64, Sha256::digest(LAYOUT).into()),
        ] {
            files.push(ImageFile { file: path, size, sha256: hex::encode(&sha), frame: Vec::new() });
        }
        files.sort_by(|a, b| a.file.cmp(&b.file));
        for dir in [&blobs, &root.join("blobs"), &root.to_path_buf()] {
            File::open(dir)?.sync_all()?;
            set_mode(dir, 0o755)?;
        }
        let record = OciRecord {
            dir: format!("{}-{}.oci", about.name, about.version),
            platform: about.oci.platform.to_string(),
            layer_compression: about.oci.layer.word().to_string(),
            manifest: digest(&docs.manifest_sha),
            layer: digest(&layer.1),
            diff_id: digest(&diff_id),
            file: files,
            // The build adds the layer's frames, which it knows.
            frame: Vec::new(),
        };
        Ok(Layout { record, dir: self.dir })
    }
}

/// A finished layout, still in its staging directory.
pub struct Layout {
    pub record: OciRecord,
    dir: tempfile::TempDir,
}

impl Layout {
    /// Renames the layout to `dest` (which must not exist as a non-empty directory).
    pub fn publish(self, dest: &Path) -> io::Result<()> {
        let staged = self.dir.keep();
        fs::rename(&staged, dest).inspect_err(|_| {
            let _ = fs::remove_dir_all(&staged);
        })
    }
}

/// Why a recorded layout cannot be written again as the recipe now asks (`None`: it can):
/// another platform or layer compression is another image at the same version.
pub fn recorded_otherwise(oci: &Oci, recorded: &OciRecord) -> Option<String> {
    let (platform, layer) = (oci.platform.to_string(), oci.layer.word());
    if platform == recorded.platform && layer == recorded.layer_compression {
        return None;
    }
    Some(format!(
        "is recorded with an OCI image for `{}` with a {} layer, and the recipe now asks for `{platform}` with a {layer} layer (to rebuild the recorded one, set `platform = \"{}\"` and `oci-layer = \"{}\"` back)",
        recorded.platform, recorded.layer_compression, recorded.platform, recorded.layer_compression
    ))
}

/// The first file whose sha256 differs between a recorded layout and one written again
/// (`-` for a file one side lacks): (file, recorded, built).
pub fn first_difference(recorded: &OciRecord, built: &OciRecord) -> Option<(String, String, String)> {
    let sha256 = |r: &OciRecord, f: &str| r.file.iter().find(|i| i.file == f).map_or("-".into(), |i| i.sha256.clone());
    recorded.file.iter().chain(&built.file).map(|i| &i.file).find_map(|f| {
        let (a, b) = (sha256(recorded, f), sha256(built, f));
        (a != b).then(|| (f.clone(), a, b))
    })
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    set_mode(path, 0o644)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
}

/// The three JSON documents of a layout, serialized.
struct Documents {
    config: Vec<u8>,
    config_sha: [u8; 32],
    manifest: Vec<u8>,
    manifest_sha: [u8; 32],
    index: Vec<u8>,
}

fn documents(layer: (u64, [u8; 32]), diff_id: [u8; 32], about: &About) -> Documents {
    let created = about.epoch.map(crate::date::format_timestamp);
    let p: &Platform = &about.oci.platform;
    let mut labels = BTreeMap::new();
    labels.insert(VERSION.to_string(), about.version.to_string());
    labels.insert(REVISION.to_string(), about.tree.to_string());
    let config = ConfigDoc {
        created: created.clone(),
        architecture: p.architecture.clone(),
        os: p.os.clone(),
        variant: p.variant.clone(),
        config: RunConfig { labels: labels.clone() },
        rootfs: RootFs { kind: "layers".into(), diff_ids: vec![digest(&diff_id)] },
        history: vec![History {
            created: created.clone(),
            created_by: format!("gild build {} {}", about.name, about.version),
        }],
    };
    let config = serde_json::to_vec(&config).expect("plain structs serialize");
    let config_sha: [u8; 32] = Sha256::digest(&config).into();
    let mut annotations = labels;
    if let Some(c) = &created {
        annotations.insert(CREATED.to_string(), c.clone());
    }
    let manifest = ManifestDoc {
        schema_version: 2,
        media_type: MANIFEST_TYPE.into(),
        config: descriptor(CONFIG_TYPE, &config_sha, config.len() as u64),
        layers: vec![descriptor(layer_type(about.oci.layer), &layer.1, layer.0)],
        annotations,
    };
    let manifest = serde_json::to_vec(&manifest).expect("plain structs serialize");
    let manifest_sha: [u8; 32] = Sha256::digest(&manifest).into();
    let mut entry = descriptor(MANIFEST_TYPE, &manifest_sha, manifest.len() as u64);
    entry.platform =
        Some(PlatformDoc { architecture: p.architecture.clone(), os: p.os.clone(), variant: p.variant.clone() });
    entry.annotations.insert(REF_NAME.to_string(), about.version.to_string());
    let index = IndexDoc { schema_version: 2, media_type: INDEX_TYPE.into(), manifests: vec![entry] };
    let index = serde_json::to_vec(&index).expect("plain structs serialize");
    Documents { config, config_sha, manifest, manifest_sha, index }
}

fn descriptor(media_type: &str, sha256: &[u8; 32], size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest: digest(sha256),
        size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("`{dir}` is not an OCI image layout gild can read\n  cause: `{file}`: {why}{}", help.as_ref().map(|h| format!("\n  help: {h}")).unwrap_or_default())]
    Invalid { dir: String, file: String, why: String, help: Option<String> },
    #[error("OCI layout `{}` was altered\n  cause: `{}` has {} {}\n  cause: {} says {}\n  help: copy the layout again from its build or registry (`gild build` writes a recorded version's missing layout again)", .0.dir, .0.file, .0.what, hex::encode(&.0.found), .0.by, hex::encode(&.0.expected))]
    Digest(Box<Altered>),
    #[error("cannot read `{file}`\n  cause: {source}")]
    Io { file: String, source: io::Error },
}

/// A blob of a layout that does not hash to what the document naming it says.
#[derive(Debug)]
pub struct Altered {
    /// The layout, as given.
    pub dir: String,
    /// The blob's path in the layout.
    pub file: String,
    /// `sha256`, or `uncompressed sha256` for a layer against its `diff_id`.
    pub what: &'static str,
    /// Which document says otherwise.
    pub by: String,
    pub expected: [u8; 32],
    pub found: [u8; 32],
}

impl OciError {
    /// 3 when a blob does not hash to its digest (altered), else 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            OciError::Digest(_) => 3,
            _ => 2,
        }
    }
}

/// The one image of a layout, its documents checked against their digests.
#[derive(Debug)]
pub struct Opened {
    /// The layer blob's file, and its path inside the layout.
    pub layer_path: PathBuf,
    pub layer_file: String,
    /// The manifest's and the config's paths inside the layout, for messages.
    pub manifest_file: String,
    pub config_file: String,
    pub layer_sha256: [u8; 32],
    /// The config's `rootfs.diff_ids[0]`: what the uncompressed layer must hash to.
    pub diff_id: [u8; 32],
    /// The manifest's sha256: the image's digest, as registries and `skopeo inspect` show it.
    /// The manifest names the config and the layer by digest, so it pins the whole image.
    pub manifest_sha256: [u8; 32],
}

/// Opens the layout `dir` (`shown` names it in messages): a layout of one image of one layer.
pub fn open(dir: &Path, shown: &str) -> Result<Opened, OciError> {
    let invalid = |file: &str, why: String, help: Option<&str>| OciError::Invalid {
        dir: shown.to_string(),
        file: file.to_string(),
        why,
        help: help.map(str::to_string),
    };
    let layout_bytes = read_capped(&dir.join(LAYOUT_FILE), LAYOUT_FILE)?;
    let layout: LayoutDoc =
        serde_json::from_slice(&layout_bytes).map_err(|e| invalid(LAYOUT_FILE, e.to_string(), None))?;
    if !layout.version.starts_with("1.") {
        return Err(invalid(LAYOUT_FILE, format!("image layout version `{}`; gild reads 1.x", layout.version), None));
    }
    let index_bytes = read_capped(&dir.join(INDEX_FILE), INDEX_FILE)?;
    let index: IndexDoc = serde_json::from_slice(&index_bytes).map_err(|e| invalid(INDEX_FILE, e.to_string(), None))?;
    let [entry] = &index.manifests[..] else {
        return Err(invalid(
            INDEX_FILE,
            format!("it lists {} images; gild reads a layout of one", index.manifests.len()),
            Some("copy the one to read into a layout of its own: `skopeo copy oci:DIR:TAG oci:ONE:TAG`"),
        ));
    };
    if ![MANIFEST_TYPE, DOCKER_MANIFEST_TYPE, ""].contains(&entry.media_type.as_str()) {
        return Err(invalid(INDEX_FILE, format!("the image is a `{}`, not an image manifest", entry.media_type), None));
    }
    let (manifest_file, manifest_bytes) = blob(dir, shown, entry, INDEX_FILE, true)?;
    let manifest: ManifestDoc =
        serde_json::from_slice(&manifest_bytes).map_err(|e| invalid(&manifest_file, e.to_string(), None))?;
    let (config_file, config_bytes) = blob(dir, shown, &manifest.config, &manifest_file, true)?;
    let config: ConfigDoc =
        serde_json::from_slice(&config_bytes).map_err(|e| invalid(&config_file, e.to_string(), None))?;
    let [layer] = &manifest.layers[..] else {
        return Err(invalid(
            &manifest_file,
            format!("the image has {} layers; gild reads images of one layer", manifest.layers.len()),
            Some("flatten it first, e.g. `umoci unpack` it and give gild the `rootfs` directory"),
        ));
    };
    let [diff_id] = &config.rootfs.diff_ids[..] else {
        return Err(invalid(&config_file, "`rootfs.diff_ids` does not list exactly one layer".into(), None));
    };
    let diff_id = parse_digest(diff_id).ok_or_else(|| {
        invalid(&config_file, format!("`rootfs.diff_ids` holds `{diff_id}`, not a sha256 digest"), None)
    })?;
    let (layer_file, _) = blob(dir, shown, layer, &manifest_file, false)?;
    let layer_sha256 = parse_digest(&layer.digest).expect("checked by blob()");
    Ok(Opened {
        layer_path: dir.join(&layer_file),
        layer_file,
        manifest_file,
        config_file,
        layer_sha256,
        diff_id,
        manifest_sha256: Sha256::digest(&manifest_bytes).into(),
    })
}

/// The path of a descriptor's blob, and its bytes when `read` (a JSON document, checked
/// against the descriptor's digest and size).
fn blob(dir: &Path, shown: &str, d: &Descriptor, from: &str, read: bool) -> Result<(String, Vec<u8>), OciError> {
    let sha = parse_digest(&d.digest).ok_or_else(|| OciError::Invalid {
        dir: shown.to_string(),
        file: from.to_string(),
        why: format!("`{}` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)", d.digest),
        help: None,
    })?;
    let file = format!("blobs/sha256/{}", hex::encode(&sha));
    if !read {
        return Ok((file, Vec::new()));
    }
    let bytes = read_capped(&dir.join(&file), &file)?;
    let found: [u8; 32] = Sha256::digest(&bytes).into();
    if found != sha {
        return Err(OciError::Digest(Box::new(Altered {
            dir: shown.to_string(),
            file,
            what: "sha256",
            by: format!("`{from}`"),
            expected: sha,
            found,
        })));
    }
    if bytes.len() as u64 != d.size {
        return Err(OciError::Invalid {
            dir: shown.to_string(),
            file: from.to_string(),
            why: format!("`{file}` has {} bytes, its descriptor says {}", bytes.len(), d.size),
            help: None,
        });
    }
    Ok((file, bytes))
}

fn read_capped(path: &Path, file: &str) -> Result<Vec<u8>, OciError> {
    let io = |source| OciError::Io { file: path.display().to_string(), source };
    let mut bytes = Vec::new();
    File::open(path).map_err(io)?.take(DOCUMENT_MAX + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > DOCUMENT_MAX {
        return Err(io(io::Error::other(format!("`{file}` is larger than {DOCUMENT_MAX} bytes"))));
    }
    Ok(bytes)
}

/// `sha256:` and 64 lowercase hex digits; nothing else names a blob file.
fn parse_digest(s: &str) -> Option<[u8; 32]> {
    crate::recipe::parse_sha256(s.strip_prefix("sha256:")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn about(oci: &Oci, epoch: Option<i64>) -> About<'_> {
        About { name: "demo", version: "1.2.0", tree: "ab", epoch, oci }
    }

    fn oci(layer: LayerCompression) -> Oci {
        Oci { platform: Platform::parse("linux/arm64/v8").unwrap(), layer }
    }

    #[test]
    fn documents_have_a_fixed_form() {
        let o = oci(LayerCompression::Gzip);
        let d = documents((10, [1; 32]), [2; 32], &about(&o, Some(0)));
        let config = String::from_utf8(d.config).unwrap();
        assert!(config.starts_with(
            r#"{"created":"1970-01-01T00:00:00Z","architecture":"arm64","os":"linux","variant":"v8","config":{"Labels":{"org.opencontainers.image.revision":"ab","org.opencontainers.image.version":"1.2.0"}},"rootfs":{"type":"layers","diff_ids":["sha256:0202"#
        ), "{config}");
        let manifest: serde_json::Value = serde_json::from_slice(&d.manifest).unwrap();
        assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
        assert_eq!(manifest["annotations"][CREATED], "1970-01-01T00:00:00Z");
        let index: serde_json::Value = serde_json::from_slice(&d.index).unwrap();
        assert_eq!(index["manifests"][0]["annotations"][REF_NAME], "1.2.0");
        assert_eq!(index["manifests"][0]["digest"], digest(&d.manifest_sha));
    }

    #[test]
    fn no_epoch_leaves_created_out() {
        let o = oci(LayerCompression::Zstd);
        let d = documents((10, [1; 32]), [2; 32], &about(&o, None));
        for doc in [&d.config, &d.manifest, &d.index] {
            assert!(!String::from_utf8_lossy(doc).contains("created\""), "{}", String::from_utf8_lossy(doc));
        }
        assert!(String::from_utf8_lossy(&d.manifest).contains("tar+zstd"));
    }

    #[test]
    fn blob_digests_must_be_sha256_hex() {
        assert!(parse_digest(&format!("sha256:{}", "a".repeat(64))).is_some());
        for bad in ["sha256:../../etc/passwd", "sha512:aa", &format!("sha256:{}", "A".repeat(64))] {
            assert!(parse_digest(bad).is_none(), "{bad}");
        }
    }
}
