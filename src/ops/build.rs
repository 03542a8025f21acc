//! `gild build`: verify, layer, write the images, run the checks, record the baseline.
//!
//! Nothing is visible until the end: images are written beside their final names
//! (`.gild-tmp-…`), the baseline is staged in a temporary directory, and the rename of that
//! directory is the one commit point; a failure anywhere before it removes what was written.
//! Everything a build creates is listed in its [`claim::Claim`] first, so that after a kill
//! the next build removes what the killed one wrote, and nothing else.

mod cache;
mod claim;
mod images;
mod install_script;
mod layering;
mod publish;
mod records;
mod unchanged;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use serde_json::{json, Map};
use sha2::{Digest, Sha256};

use crate::baseline::install::{self, ScriptInput, ScriptPatch};
use crate::baseline::release;
use crate::baseline::{
    self, mtree, ArtifactRecord, CheckRecord, ImageFile, NotableRecord, OciRecord, PackageRecord, PatchRecord, Record,
    SignatureRecord, XattrRecord,
};
use crate::check;
use crate::deb;
use crate::error::{Error, Report};
use crate::hex;
use crate::image;
use crate::layer::{self, Changes, Compression, Layered, Layering, Step};
use crate::oci;
use crate::ops::{display_path, Context};
use crate::progress::{Progress, Silent};
use crate::recipe::{ArtifactSpec, Format, Recipe, Version};
use crate::tree::GILD;
use crate::trust::{self, Verified};
use crate::workspace::Workspace;
use cache::{find_index, index_extras, open_cache, recorded_decoded, recorded_frames, store_index, trusted_records};
use claim::Claim;
use images::{image_name, write_images, write_spec, Staged};
use install_script::{install_script, preconditions, write_install_data};
use layering::{verify_and_layer, BaseDigests, Start};
use publish::{publish, publish_layout, records_image, sync_dir, write_synced, Placed};
use records::{artifact_record, package_problems, package_records, patch_record, sbom, xattr_records};
use unchanged::unchanged;

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub recipe: String,
    pub out: Option<PathBuf>,
    pub version: Option<String>,
    /// Neither read nor write the frame cache.
    pub no_cache: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Built,
    Unchanged,
}

/// How many patches were read decoded from the cache, and how many were decompressed.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodedCount {
    pub reused: u64,
    pub decompressed: u64,
}

impl DecodedCount {
    fn of(changes: &[Changes]) -> DecodedCount {
        let reused = changes.iter().filter(|c| c.from_cache).count() as u64;
        DecodedCount { reused, decompressed: changes.len() as u64 - reused }
    }
}

/// What a build did, for `output`.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub status: Status,
    pub name: String,
    pub version: String,
    pub parent: Option<String>,
    pub tree: String,
    pub entries: u64,
    /// Image files as recorded, with the path they were (or are) at.
    pub images: Vec<(ImageFile, String)>,
    /// The OCI image layout as recorded, with the path it was (or is) at.
    pub oci: Option<(OciRecord, String)>,
    /// Images an unchanged build had to write again.
    pub rewritten: Vec<String>,
    pub baseline: String,
    pub patches: Vec<PatchRecord>,
    pub notable: Vec<NotableRecord>,
    pub checks: Vec<CheckRecord>,
    /// How the images' frames were made (none for an unchanged build that wrote nothing).
    pub frames: image::FrameCount,
    /// Whether the base came from a cached index (`used`), was decoded and indexed
    /// (`written`), or neither (no cache, or an unchanged build).
    pub base_index: Option<&'static str>,
    /// How the patches were decoded: read from the cache, or decompressed.
    pub decoded: DecodedCount,
    pub warnings: Vec<String>,
}

/// Progress notes for people (stderr), such as waiting for a lock.
pub type Notify<'a> = &'a dyn Fn(&str);

pub fn build(ctx: &Context, opts: &BuildOptions, notify: Notify) -> Result<BuildReport, Error> {
    let lost = Arc::new(AtomicBool::new(false));
    match build_once(ctx, opts, notify, Some(&lost)) {
        // The cache lost a frame of the base index mid-build: a cache failure is never a
        // failed build, so build again, decoding the base.
        Err(_) if lost.load(Ordering::Relaxed) => {
            let mut report = build_once(ctx, opts, notify, None)?;
            report
                .warnings
                .insert(0, "cache: a frame of the base index was lost during the build; built again without it".into());
            Ok(report)
        }
        result => result,
    }
}

/// One build; `index_lost` (when a cached base index may be used) is set when a frame it
/// points at could not be read.
fn build_once(
    ctx: &Context,
    opts: &BuildOptions,
    notify: Notify,
    index_lost: Option<&Arc<AtomicBool>>,
) -> Result<BuildReport, Error> {
    let progress = &*ctx.progress;
    let (ws, mut recipe) = ctx.recipe(&opts.recipe)?;
    if let Some(v) = &opts.version {
        recipe.version = Version::parse(v).map_err(|why| Error::usage(format!("`--version {v}`: {why}")))?;
    }
    let limits = ctx.limits(&recipe)?;
    let out_dir = match &opts.out {
        Some(dir) => ctx.base()?.join(dir),
        None => ws.out(),
    };
    let records_dir = ws.baselines(&recipe.name);
    for dir in [&out_dir, &ws.root.join("baselines"), &records_dir] {
        refuse_symlink(dir)?;
    }
    // Before any work: the build's journal line must not be dated before the last one.
    let _lock = super::lock_to_write(&ws, &recipe.name, notify)?;
    let recorded = |version: &str, file: &str, sha: Option<&str>| records_image(&records_dir, version, file, sha);
    let cleaned = claim::clean(&records_dir, &out_dir, &recipe.name, &recorded)
        .map_err(Error::io(format!("cannot clean up after a killed build in `{}`", records_dir.display())))?;

    // "Newest" is the newest version not revoked: a mistyped version is revoked, not deleted,
    // and the versions after it may be recorded below it.
    let versions = crate::rollout::Versions::load(&records_dir, &recipe.name)?;
    let existing = match versions.get(&recipe.version) {
        Some((_, dir)) => Some(read_record(dir)?),
        None => None,
    };
    let newest = versions.newest().cloned();
    let below_revoked = match &existing {
        Some(_) => Vec::new(),
        None => versions.revoked_above(&recipe.version).unwrap_or_default(),
    };
    let newest = newest.map(|(v, _)| v);
    if existing.is_none() {
        if let Some(newest) = newest.as_ref().filter(|n| **n > recipe.version) {
            return Err(Error::Version {
                message: format!(
                    "version {} of `{}` is lower than {newest}, the newest recorded version that is not revoked",
                    recipe.version, recipe.name
                ),
                causes: Vec::new(),
                recipe: display_path(&recipe.path, &ws.root),
            });
        }
    }
    // A build that must be signed and cannot be fails before any layer is read.
    let build_key = match &recipe.sign {
        Some(policy) => Some(load_build_key(policy, &ws)?),
        None => None,
    };
    if let Some(record) = &existing {
        refuse_other_inputs(&ws, &recipe, record, newest.as_ref())?;
    }
    let epoch = match &existing {
        Some(r) => r.epoch,
        None => recipe.epoch.or_else(source_date_epoch),
    };

    let mut warnings = cleaned;
    warnings.extend(image::jobs_warning());
    let cache = open_cache(opts, &mut warnings);
    // The records the cache may serve from, read (and their signatures checked) once.
    let trusted = match &cache {
        Some(_) => trusted_records(&recipe, &versions, &mut warnings),
        None => Vec::new(),
    };
    let recorded = recorded_frames(&trusted);
    // Frames in the format new versions are written in (a rebuild takes its record's).
    let frames =
        image::Frames { format: image::frame::ImageFormat::CURRENT, cache: cache.as_deref(), recorded: &recorded };
    let reuse = cache.as_ref().map(|c| layer::decoded::Reuse::new(Arc::clone(c), recorded_decoded(&trusted)));
    let index_key = layer::index::key(&recipe.base.sha256, epoch, recipe.allow_devices, &limits);
    let base_index = match (&cache, index_lost) {
        (Some(cache), Some(lost)) => find_index(&trusted, &recipe, cache, &index_key, lost),
        _ => None,
    };
    let (start, index_digest) = match base_index {
        Some((index, digest)) => (Start::Index(Box::new(index)), Some(digest)),
        None => (Start::Decode { snapshot: cache.is_some() }, None),
    };
    let (base, patches, (layered, changes, base_links, packages, base_digests), snapshot) =
        verify_and_layer(&ws, &recipe, limits, epoch, start, reuse.as_ref(), progress)?;
    // Everything up to the images' writing; the base's verification may still be running
    // beside it (see `layering::BaseCheck`), and its failure is reported before any of these.
    let region = (|| -> Result<Region, Error> {
        warnings.extend(layered.warnings.iter().cloned());
        if let Some(p) = &packages {
            warnings.extend(package_problems(&recipe, &changes, p)?);
        }
        // The baseline is staged from here on: files.mtree streams into it while it is hashed.
        let staging = || Error::io(format!("cannot stage the baseline in `{}`", records_dir.display()));
        let mut claim = Claim::create(&records_dir, &recipe.version).map_err(staging())?;
        let staged = claim.staged(&records_dir).map_err(staging())?;
        let tree_hash = write_spec(&layered, &staged.path().join("files.mtree"))?;
        if let Some(record) = existing {
            if record.tree != tree_hash {
                return Err(Error::Version {
                    message: format!(
                        "version {} of `{}` is already recorded with another tree (recorded {}, built {tree_hash})",
                        recipe.version, recipe.name, record.tree
                    ),
                    causes: Vec::new(),
                    recipe: display_path(&recipe.path, &ws.root),
                });
            }
            return Ok(Region::Unchanged { record: Box::new(record), claim });
        }
        // While the images are written: the base's contents no image holds go to the cache,
        // and what needs the layers but not the images is made (the tail after the last frame
        // is single-threaded).
        let (images, extras, install_data) = std::thread::scope(|scope| -> Result<_, Error> {
            let extras = match (&snapshot, &cache) {
                (Some(snapshot), Some(cache)) => {
                    let (tree, recipe) = ((&layered.tree, layered.spool.ranges()), &recipe);
                    Some(scope.spawn(move || index_extras(snapshot, tree, recipe, cache)))
                }
                _ => None,
            };
            let made = (&recipe, &layered, &patches[..], &changes[..], &base_digests, staged.path());
            let for_hosts = scope.spawn(move || for_hosts(made, base_links, epoch));
            let images = write_images(&recipe, &layered, &out_dir, (&tree_hash, epoch), &mut claim, frames, progress)?;
            let extras = extras.map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("the thread stopped"))));
            let install_data = for_hosts.join().unwrap_or_else(|_| {
                let script = staged.path().join("install.sh");
                Err(Error::io(format!("cannot write `{}`", script.display()))(std::io::Error::other(
                    "the thread stopped",
                )))
            })?;
            Ok((images, extras, install_data))
        })?;
        Ok(Region::Built(Box::new(Built { claim, staged, tree_hash, images, extras, install_data })))
    })();
    let base = base.settle(&ws, &recipe)?;
    let Built { mut claim, staged, tree_hash, images, extras, install_data } = match region? {
        Region::Built(built) => *built,
        Region::Unchanged { record, mut claim } => {
            progress.finish();
            let mut report = unchanged(&ws, &recipe, *record, &layered, &out_dir, &mut claim, frames)?;
            report.decoded = DecodedCount::of(&changes);
            report.warnings.splice(0..0, warnings);
            if let Some(cache) = &cache {
                cache.trim();
                report.warnings.extend(cache.warnings());
            }
            return Ok(report);
        }
    };
    let verified: Vec<Verified> = std::iter::once(base).chain(patches).collect();
    for v in &verified {
        warnings.extend(
            v.ignored
                .iter()
                .map(|i| format!("{} (`{}`): signature not counted: {}", v.spec().id, v.spec().written, i.reason)),
        );
    }
    progress.finish();
    let index_use = match (&index_digest, &snapshot) {
        (Some(_), _) => Some("used"),
        (None, Some(_)) => Some("written"),
        _ => None,
    };
    let base_index = match (index_digest, snapshot, &cache) {
        (Some(digest), _, _) => Some(digest),
        (None, Some(snapshot), Some(cache)) => {
            let extras = extras.unwrap_or_else(|| Err(std::io::Error::other("no extra frames")));
            store_index(snapshot, extras, &images, cache, &index_key, &mut warnings)
        }
        _ => None,
    };
    // The checks run alone, not beside the compression: their timeouts mean what they say.
    let mut checks = Vec::new();
    if !recipe.checks.is_empty() {
        let env = check::Env { name: &recipe.name, version: &recipe.version.to_string() };
        for name in check::run_all(&layered.tree, &layered.spool, &recipe.checks, &env)? {
            checks.push(CheckRecord { name, result: "pass".into() });
        }
    }
    // Nothing reads the layers' contents any more: their spool is closed (and the kernel
    // frees its pages) while the baseline is committed.
    let Layered { tree, spool, notable, .. } = layered;
    let freeing = std::thread::spawn(move || drop(spool));
    let journal_path = ws.journal(&recipe.name);
    let head =
        crate::journal::head(&journal_path).map_err(Error::io(format!("cannot read `{}`", journal_path.display())))?;
    let record = Record {
        gild: env!("CARGO_PKG_VERSION").into(),
        name: recipe.name.clone(),
        version: recipe.version.to_string(),
        parent: newest.map(|v| v.to_string()),
        epoch,
        tree: tree_hash,
        recipe: hex::encode(&recipe.sha256),
        entries: tree.len() as u64,
        journal: Some(head.unwrap_or_else(|| baseline::JournalHead { seq: 0, hash: "0".repeat(64) })),
        install_data,
        image_format: Some(image::frame::ImageFormat::CURRENT.name().into()),
        base_index,
        image: images.files.iter().map(|(f, _)| f.clone()).collect(),
        oci: images.oci.as_ref().map(|l| l.record.clone()),
        base: artifact_record(&verified[0]),
        patch: recipe
            .patches
            .iter()
            .zip(&verified[1..])
            .zip(&changes)
            .map(|((p, v), c)| patch_record(p, v, c, &mut warnings))
            .collect(),
        deferred: recipe.deferred.clone(),
        check: checks,
        xattr: xattr_records(&tree),
        notable: notable
            .iter()
            .map(|n| NotableRecord {
                path: mtree::escape_path(&n.path),
                why: n.why.into(),
                patch: recipe.patches[n.layer as usize - 1].artifact.id.clone(),
            })
            .collect(),
        package: packages.as_ref().map(|p| package_records(&recipe, p)).unwrap_or_default(),
    };

    // Stage the baseline, put the images in place, then commit by renaming the baseline.
    let final_dir = records_dir.join(&record.version);
    write_synced(&staged.path().join("baseline.toml"), record.to_toml().as_bytes())?;
    let parent_record = match versions.newest() {
        Some((_, dir)) => Some(read_record(dir)?),
        None => None,
    };
    let revoked: Vec<String> =
        versions.recorded.iter().filter(|(v, _)| versions.is_revoked(v)).map(|(v, _)| v.to_string()).collect();
    let mut release_text = release::render(&record, parent_record.as_ref(), &revoked);
    if let Some(policy) = &recipe.sign {
        release_text.push_str(&release::checking(&record, policy));
    }
    write_synced(&staged.path().join("RELEASE.md"), release_text.as_bytes())?;
    if let Some(p) = &packages {
        write_synced(&staged.path().join("sbom.cdx.json"), sbom(&record, p).as_bytes())?;
    }
    let layout = images.oci.map(|l| publish_layout(l, &out_dir, &mut claim)).transpose()?;
    if let Some(key) = &build_key {
        let mut images: Vec<(String, String)> =
            record.image.iter().map(|i| (i.file.clone(), i.sha256.clone())).collect();
        // An OCI layout's files by their path in the output directory (`NAME-VERSION.oci/…`).
        if let Some(oci) = &record.oci {
            images.extend(oci.file.iter().map(|f| (format!("{}/{}", oci.dir, f.file), f.sha256.clone())));
        }
        let sums = crate::sign::sums(staged.path(), &images)?;
        write_synced(&staged.path().join(crate::sign::SUMS), sums.as_bytes())?;
        let public = &recipe.sign.as_ref().expect("a build key comes from `[sign]`").public;
        let sig = crate::sign::sign_checked(key, public, &sums, &record.name, &record.version, &record.tree)?;
        write_synced(&staged.path().join(crate::sign::SUMS_SIG), sig.as_bytes())?;
    }
    // Temporary directories are private (0700); a recorded baseline is for everyone to read.
    fs::set_permissions(staged.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(Error::io(format!("cannot stage the baseline in `{}`", records_dir.display())))?;
    let mut placed = Placed::default();
    for (file, tmp) in images.files {
        let dest = out_dir.join(&file.file);
        placed.put(publish(tmp, &dest, &file, &mut claim)?);
        placed.images.push((file, dest));
    }
    let staged_path = staged.keep();
    if let Err(e) = fs::rename(&staged_path, &final_dir) {
        let _ = fs::remove_dir_all(&staged_path);
        if let Some((_, dest)) = &layout {
            let _ = fs::remove_dir_all(dest);
        }
        return Err(Error::io(format!("cannot record the baseline `{}`", final_dir.display()))(e));
    }
    let placed = placed.commit();
    sync_dir(&records_dir);
    if let Some(cache) = &cache {
        cache.trim();
        warnings.extend(cache.warnings());
    }

    let mut details = journal_details(&record);
    if !below_revoked.is_empty() {
        // The history says why a version lower than a recorded one could be recorded.
        let revoked: Vec<String> = below_revoked.iter().map(ToString::to_string).collect();
        details.insert("below-revoked".into(), json!(revoked));
        warnings.push(format!("recorded below revoked version(s) {}", revoked.join(", ")));
    }
    let recorded_in = display_path(&final_dir, &ws.root);
    super::journal_append(&ws, &record.name, "build", details, || {
        format!(
            "the build of `{}` {} is recorded in `{recorded_in}` without its journal line (the next command that writes the journal records it as `recovered`)",
            record.name, record.version
        )
    })?;
    let _ = freeing.join();

    Ok(BuildReport {
        status: Status::Built,
        name: record.name.clone(),
        version: record.version.clone(),
        parent: record.parent.clone(),
        tree: record.tree.clone(),
        entries: record.entries,
        images: placed.into_iter().map(|(f, dest)| (f, display_path(&dest, &ws.root))).collect(),
        oci: layout.map(|(r, dest)| (r, display_path(&dest, &ws.root))),
        rewritten: Vec::new(),
        baseline: display_path(&final_dir, &ws.root),
        patches: record.patch.clone(),
        notable: record.notable.clone(),
        checks: record.check.clone(),
        frames: images.count,
        base_index: index_use.filter(|_| record.base_index.is_some()),
        decoded: DecodedCount::of(&changes),
        warnings,
    })
}

/// What a baseline's `build` journal line says of it (and a `recovered` line, when the build
/// could not write its own): `name`, `version`, `tree`, `images`, `oci`.
pub(super) fn journal_details(record: &Record) -> Map<String, serde_json::Value> {
    let mut details = Map::new();
    details.insert("name".into(), json!(record.name));
    details.insert("version".into(), json!(record.version));
    details.insert("tree".into(), json!(record.tree));
    details.insert(
        "images".into(),
        json!(record.image.iter().map(|i| json!({"file": i.file, "sha256": i.sha256})).collect::<Vec<_>>()),
    );
    if let Some(o) = &record.oci {
        details.insert("oci".into(), json!({"dir": o.dir, "manifest": o.manifest}));
    }
    details
}

/// A recorded version is rebuilt only from the inputs it was recorded with: anything else is
/// refused here, before an artifact is read, rather than after minutes of layering.
fn refuse_other_inputs(
    ws: &Workspace,
    recipe: &Recipe,
    record: &Record,
    newest: Option<&Version>,
) -> Result<(), Error> {
    let inputs = baseline::Inputs {
        base: hex::encode(&recipe.base.sha256),
        patches: recipe.patches.iter().map(|p| (p.artifact.id.clone(), hex::encode(&p.artifact.sha256))).collect(),
        epoch: recipe.epoch,
    };
    let mut causes = record.input_differences(&inputs);
    if causes.is_empty() {
        return Ok(());
    }
    if let Some(newest) = newest.filter(|n| **n > recipe.version) {
        causes.push(format!("the newest recorded version is {newest} (`--version` does not change the recipe)"));
    }
    Err(Error::Version {
        message: format!("version {} of `{}` is recorded with other inputs", recipe.version, recipe.name),
        causes,
        recipe: display_path(&recipe.path, &ws.root),
    })
}

/// Outputs go only into real directories: a symlinked `out/` or `baselines/` would put images
/// and records where the workspace does not say, and make "nothing partial" unprovable.
fn refuse_symlink(dir: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::Usage(
            Report::new(format!(
                "`{}` is a symlink; gild writes images and baselines only into real directories",
                dir.display()
            ))
            .help("pass the real directory (`--out DIR` for images), or replace the symlink by a directory"),
        )),
        _ => Ok(()),
    }
}

fn source_date_epoch() -> Option<i64> {
    std::env::var("SOURCE_DATE_EPOCH").ok()?.trim().parse().ok()
}

fn read_record(dir: &Path) -> Result<Record, Error> {
    let path = dir.join("baseline.toml");
    let text = fs::read_to_string(&path).map_err(Error::io(format!("cannot read `{}`", path.display())))?;
    Record::from_toml(&text).map_err(|e| {
        Error::Corrupt(Report::new(format!("`{}` is not a baseline record", path.display())).cause(e.message()))
    })
}

/// What a build has done when its images are written, or the record of the version it rebuilt.
enum Region {
    Built(Box<Built>),
    Unchanged { record: Box<Record>, claim: Claim },
}

struct Built {
    claim: Claim,
    staged: tempfile::TempDir,
    tree_hash: String,
    images: Staged,
    extras: Option<std::io::Result<layer::index::Extras>>,
    /// `install-data.tar`'s record, when the layers hold Debian packages.
    install_data: Option<baseline::DataFile>,
}

/// The layers, the patches' verification and changes, the base's digests, the staged baseline.
type ForHostsFrom<'a> = (&'a Recipe, &'a Layered, &'a [Verified], &'a [Changes], &'a BaseDigests, &'a Path);

/// What the baseline gives hosts, made while the images are written: `install-data.tar` and
/// `install.sh`, written into the staged baseline. Returns `install-data.tar`'s record.
fn for_hosts(
    (recipe, layered, patches, changes, base_digests, staged): ForHostsFrom,
    base_links: Vec<(Vec<u8>, Vec<u8>)>,
    epoch: Option<i64>,
) -> Result<Option<baseline::DataFile>, Error> {
    let install_data = write_install_data(changes, layered, epoch, &staged.join("install-data.tar"))?;
    let preconditions = preconditions(changes, base_digests, layered);
    let data_sha = install_data.as_ref().map(|d| d.sha256.clone());
    let script = install_script(recipe, patches, changes, base_links, layered, data_sha, preconditions);
    let script_path = staged.join("install.sh");
    write_synced(&script_path, script.as_bytes())?;
    fs::set_permissions(&script_path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(Error::io(format!("cannot write `{}`", script_path.display())))?;
    Ok(install_data)
}

/// `etc/gild/release`: which baseline a host was built from.
fn release_text(recipe: &Recipe) -> String {
    crate::layer::release_text(&recipe.name, &recipe.version.to_string())
}

/// The most bytes a package's decompressed changelog may take (Debian's largest are a few MiB).
const CHANGELOG_MAX: u64 = 64 << 20;

/// The build key of `[sign]`, which must be one of the keys `public` lists (or no reader
/// could check what it signs).
fn load_build_key(policy: &crate::sign::SignPolicy, ws: &Workspace) -> Result<crate::sign::BuildKey, Error> {
    let key = crate::sign::load_key(&policy.key, &ws.root)?;
    if !policy.public.iter().any(|(_, p)| p.id() == key.id()) {
        let listed: Vec<String> = policy.public.iter().map(|(f, p)| format!("`{f}` ({})", p.id())).collect();
        return Err(crate::sign::SignError::Key {
            what: format!("key ID {}", key.id()),
            why: format!("it is not among `[sign] public`: {}", listed.join(", ")),
            help: "add the build key's public half to `[sign] public`".into(),
        }
        .into());
    }
    Ok(key)
}
