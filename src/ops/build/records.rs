//! What `baseline.toml` says of each artifact, patch, package and extended attribute.

use super::*;

fn signature_records(v: &Verified) -> Vec<SignatureRecord> {
    v.signers
        .iter()
        .map(|s| SignatureRecord {
            key: s.key.clone(),
            key_id: s.key_id.to_string(),
            trusted_comment: s.trusted_comment.clone(),
        })
        .collect()
}

pub(super) fn artifact_record(v: &Verified) -> ArtifactRecord {
    ArtifactRecord {
        artifact: v.spec().written.clone(),
        sha256: hex::encode(&v.spec().sha256),
        signature: signature_records(v),
    }
}

pub(super) fn patch_record(
    p: &crate::recipe::Patch,
    v: &Verified,
    c: &Changes,
    warnings: &mut Vec<String>,
) -> PatchRecord {
    let esc = |paths: &[Vec<u8>]| paths.iter().map(|p| mtree::escape_path(p)).collect();
    let deb = c.deb.as_ref().map(|d| deb_record(&p.artifact.id, d, warnings));
    // A package's `fixes` defaults to what its changelog says it fixes (docs/debian.md).
    let fixes = match &deb {
        Some(d) if !p.fixes_given => d.changelog_fixes.clone(),
        _ => p.fixes.clone(),
    };
    PatchRecord {
        id: p.artifact.id.clone(),
        artifact: p.artifact.written.clone(),
        sha256: hex::encode(&p.artifact.sha256),
        severity: p.severity,
        fixes,
        exploited: p.exploited,
        released: p.released,
        approval: p.approval.clone(),
        backout: p.backout.clone(),
        added: esc(&c.added),
        changed: esc(&c.changed),
        removed: esc(&c.removed),
        decoded: c.decoded.map(|d| hex::encode(&d)),
        signature: signature_records(v),
        deb,
    }
}

pub(super) fn xattr_records(tree: &crate::tree::Tree) -> Vec<XattrRecord> {
    let mut out = Vec::new();
    for (path, node) in tree.iter() {
        for (name, value) in &node.xattrs {
            out.push(XattrRecord {
                path: mtree::escape_path(path),
                name: mtree::escape(name),
                sha256: hex::encode(&Sha256::digest(value)),
            });
        }
    }
    out
}

fn deb_record(id: &str, d: &layer::Applied, warnings: &mut Vec<String>) -> baseline::DebRecord {
    let previous = d.previous.as_deref().and_then(|v| deb::version::Version::parse(v).ok());
    let newer = |v: &str| match (&previous, deb::version::Version::parse(v)) {
        (None, _) => true,
        (Some(prev), Ok(v)) => v > *prev,
        (Some(_), Err(_)) => false,
    };
    let changelog_fixes = match &d.changelog {
        Some(gz) => deb::changelog::cves_gz(gz, CHANGELOG_MAX, newer).unwrap_or_else(|e| {
            warnings.push(format!("{id}: cannot read the changelog of `{}`: {e}", d.db_name));
            Vec::new()
        }),
        None => Vec::new(),
    };
    for dist in &d.dist {
        warnings
            .push(format!("{id}: the edited conffile `{dist}` was kept; the package's version is `{dist}.dpkg-dist`"));
    }
    baseline::DebRecord {
        package: d.db_name.clone(),
        version: d.version.clone(),
        architecture: d.architecture.clone(),
        previous: d.previous.clone(),
        changelog_fixes,
        scripts: d.scripts.clone(),
        triggers: d.triggers.clone(),
        dist: d.dist.clone(),
    }
}

/// The patch a layer index stands for (`base` for 0).
fn layer_name(recipe: &Recipe, origin: u16) -> String {
    match origin {
        0 => "base".to_string(),
        i => recipe.patches.get(i as usize - 1).map_or_else(|| "gild".to_string(), |p| p.artifact.id.clone()),
    }
}

/// Unmet relations that a patch caused fail the build; those the base already had are
/// warnings (gild did not make them, and cannot fix them).
pub(super) fn package_problems(
    recipe: &Recipe,
    changes: &[Changes],
    p: &layer::Packages,
) -> Result<Vec<String>, Error> {
    let describe = |u: &deb::installed::Unmet| {
        let verb = match u.field {
            "Conflicts" => "conflicts with",
            "Breaks" => "breaks",
            "Pre-Depends" => "pre-depends on",
            _ => "depends on",
        };
        let what =
            if matches!(u.field, "Conflicts" | "Breaks") { "which is installed" } else { "which is not satisfied" };
        format!("`{}` {} {verb} `{}`, {what}", u.package, u.version, u.relation)
    };
    let any_deb = changes.iter().any(|c| c.deb.is_some());
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (u, origin) in &p.unmet {
        if *origin > 0 && any_deb {
            problems.push(format!("{} (after patch {})", describe(u), layer_name(recipe, *origin)));
        } else {
            warnings.push(format!("the base already has an unmet relation: {}", describe(u)));
        }
    }
    if !problems.is_empty() {
        return Err(layer::LayerError::Packages { problems }.into());
    }
    Ok(warnings)
}

pub(super) fn package_records(recipe: &Recipe, p: &layer::Packages) -> Vec<PackageRecord> {
    p.inventory
        .iter()
        .map(|(pkg, origin)| PackageRecord {
            name: pkg.db_name.clone(),
            version: pkg.version.clone(),
            architecture: pkg.architecture.clone(),
            source: pkg.source.clone(),
            source_version: pkg.source_version.clone(),
            patch: layer_name(recipe, *origin),
        })
        .collect()
}

/// `sbom.cdx.json`: the image's packages for scanners (docs/debian.md).
pub(super) fn sbom(record: &Record, p: &layer::Packages) -> String {
    let image = deb::sbom::Image { name: record.name.clone(), version: record.version.clone(), epoch: record.epoch };
    let packages: Vec<deb::sbom::Package> = p
        .inventory
        .iter()
        .map(|(pkg, _)| deb::sbom::Package {
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            arch: pkg.architecture.clone(),
            source: pkg.source.clone(),
            source_version: pkg.source_version.clone(),
        })
        .collect();
    deb::sbom::render(&image, p.os.as_ref(), &packages)
}
