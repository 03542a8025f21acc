//! `gild show NAME[@VERSION|@CHANNEL]`: what one baseline holds, at a glance — its parent, its
//! patches with their CVEs, the packages that changed, its images, the channels that run it,
//! its revocation and whether it is signed. A bare NAME is its newest version not revoked.

use crate::baseline::{ImageFile, PatchRecord};
use crate::diff::PackageChange;
use crate::error::{Error, Report};
use crate::ops::{display_path, sources, Context};
use crate::recipe::{Deferred, Version};
use crate::rollout::{Revocation, Versions};

pub struct ShowReport {
    pub name: String,
    pub version: String,
    /// The baseline directory, relative to the workspace.
    pub baseline: String,
    pub parent: Option<String>,
    /// Whether this is the newest version not revoked.
    pub newest: bool,
    pub revoked: Option<Revocation>,
    /// Channels whose current version this is.
    pub channels: Vec<String>,
    pub tree: String,
    pub entries: u64,
    pub base: (String, String),
    pub patches: Vec<PatchRecord>,
    /// Package changes since the parent (every package for a first version).
    pub packages: Vec<PackageChange>,
    /// Each recorded image and whether `out/` holds it.
    pub images: Vec<(ImageFile, bool)>,
    pub deferred: Vec<Deferred>,
    pub checks: Vec<String>,
    /// `SHA256SUMS.minisig` is there (see `gild verify NAME@VERSION`).
    pub signed: bool,
}

pub fn show(ctx: &Context, target: &str) -> Result<ShowReport, Error> {
    let ws = ctx.workspace()?;
    let locator = sources::locator(ctx)?;
    let dir = locator.reference_dir(target)?;
    let record = super::read_record(&dir.join("baseline.toml"))?;
    let name = record.name.clone();
    let versions = Versions::load(&ws.baselines(&name), &name)?;
    let version = Version::parse(&record.version).map_err(|why| {
        Error::Corrupt(Report::new(format!("`{}` records version `{}`", dir.display(), record.version)).cause(why))
    })?;
    let parent = match record.parent.as_deref().map(Version::parse) {
        Some(Ok(p)) => versions.get(&p).map(|(_, d)| super::read_record(&d.join("baseline.toml"))).transpose()?,
        _ => None,
    };
    let packages = match &parent {
        Some(p) => crate::diff::records(p, &record).packages,
        None => record
            .package
            .iter()
            .map(|p| PackageChange {
                name: p.name.clone(),
                before: None,
                after: Some(p.version.clone()),
                patch: Some(p.patch.clone()),
                fixes: Vec::new(),
            })
            .collect(),
    };
    Ok(ShowReport {
        baseline: display_path(&dir, &ws.root),
        parent: record.parent.clone(),
        newest: versions.newest().is_some_and(|(v, _)| *v == version),
        revoked: versions.channels.revocation(&version).cloned(),
        channels: versions.channels.holding(&version),
        tree: record.tree.clone(),
        entries: record.entries,
        base: (record.base.artifact.clone(), record.base.sha256.clone()),
        images: record.image.iter().map(|i| (i.clone(), ws.out().join(&i.file).is_file())).collect(),
        patches: record.patch.clone(),
        packages,
        deferred: record.deferred.clone(),
        checks: record.check.iter().map(|c| format!("{}: {}", c.name, c.result)).collect(),
        signed: dir.join("SHA256SUMS.minisig").is_file(),
        version: record.version,
        name,
    })
}
