//! `RELEASE.md`: the build explained for the people who approve its promotion (docs/baseline.md).
//!
//! A pure function of the baseline record and its parent's, so two builds of the same
//! version give the same bytes: no wall-clock time, no host name, no absolute path.

use std::fmt::Write as _;

use super::record::{PatchRecord, Record};

/// Renders RELEASE.md for `record`, whose parent (the newest version not revoked, when there
/// is one) is `parent`; `revoked` are the recorded versions revoked when it was built, which
/// the rollback advice warns off.
pub fn render(record: &Record, parent: Option<&Record>, revoked: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} {}\n", record.name, record.version);
    match &record.parent {
        Some(p) => {
            let _ = writeln!(s, "Parent version: {p}. Built from the recipe with sha256 `{}`.\n", record.recipe);
        }
        None if revoked.is_empty() => {
            let _ = writeln!(s, "First recorded version. Built from the recipe with sha256 `{}`.\n", record.recipe);
        }
        None => {
            let _ = writeln!(
                s,
                "No parent version: every version recorded before it is revoked. Built from the recipe with sha256 `{}`.\n",
                record.recipe
            );
        }
    }

    let was_in_parent = |id: &str| parent.is_some_and(|p| p.patch.iter().any(|q| q.id == id));
    let new: Vec<&PatchRecord> = record.patch.iter().filter(|p| !was_in_parent(&p.id)).collect();
    let kept: Vec<&PatchRecord> = record.patch.iter().filter(|p| was_in_parent(&p.id)).collect();
    let removed: Vec<&PatchRecord> = parent
        .map(|p| p.patch.iter().filter(|q| !record.patch.iter().any(|r| r.id == q.id)).collect())
        .unwrap_or_default();

    s.push_str("## What is new\n\n");
    if new.is_empty() && removed.is_empty() {
        s.push_str("No patch was added or removed since the parent version.\n\n");
    }
    for p in &new {
        patch_section(&mut s, p, record, "New patch");
    }
    for p in &removed {
        let _ = writeln!(s, "### Removed patch {} ({})\n", p.id, p.severity_text());
        let _ = writeln!(s, "- Fixed: {}", list_or_none(&p.fixes));
        let _ =
            writeln!(s, "- Was approved as change {} by {} on {}\n", p.approval.change, p.approval.by, p.approval.date);
    }
    if !kept.is_empty() {
        s.push_str("## Patches carried over from the parent\n\n");
        for p in &kept {
            let _ = writeln!(s, "- {} ({}): fixes {}", p.id, p.severity_text(), list_or_none(&p.fixes));
        }
        s.push('\n');
    }

    packages_section(&mut s, record, parent);

    s.push_str("## Deferred patches\n\n");
    if record.deferred.is_empty() {
        s.push_str("None.\n\n");
    }
    for d in &record.deferred {
        let _ = writeln!(s, "### {}\n", d.id);
        let _ = writeln!(s, "- Reason: {}", d.reason);
        let _ = writeln!(s, "- Mitigation: {}", d.mitigation.as_deref().unwrap_or("none recorded"));
        let _ =
            writeln!(s, "- Review by: {}\n", d.review_by.map(|d| d.to_string()).unwrap_or_else(|| "not set".into()));
    }

    s.push_str("## Checks\n\n");
    if record.check.is_empty() {
        s.push_str("The recipe has no `[[check]]`.\n\n");
    }
    for c in &record.check {
        let _ = writeln!(s, "- {}: {}", c.name, c.result);
    }
    if !record.check.is_empty() {
        s.push('\n');
    }

    s.push_str("## Images\n\n| file | size | sha256 |\n| --- | --- | --- |\n");
    for i in &record.image {
        let _ = writeln!(s, "| {} | {} | `{}` |", i.file, i.size, i.sha256);
    }
    if let Some(o) = &record.oci {
        let _ = writeln!(
            s,
            "\nOCI image layout `{}/` ({}, {} layer): manifest `{}`, layer `{}`; push it with \
             `skopeo copy oci:{}:{} docker://REGISTRY/{}:{}`.",
            o.dir,
            o.platform,
            o.layer_compression,
            o.manifest,
            o.layer,
            o.dir,
            record.version,
            record.name,
            record.version
        );
    }
    let _ = writeln!(s, "\nTree: {} entries, `files.mtree` sha256 `{}`.\n", record.entries, record.tree);

    s.push_str("## Rolling back\n\n");
    match &record.parent {
        Some(p) => {
            let _ = writeln!(
                s,
                "Point the channel back at {p} (`gild rollback {} CHANNEL`) and redeploy hosts from the {p} images; \
                 hosts built by script run the `install.sh` of baselines/{}/{p}/ on a fresh base. Each patch's own \
                 backout plan is above.",
                record.name, record.name
            );
        }
        None if revoked.is_empty() => {
            s.push_str("This is the first recorded version: there is no earlier baseline to return to. Each patch's backout plan is above.\n");
        }
        None => {
            s.push_str(
                "There is no earlier version that is not revoked to return to. Each patch's backout plan is above.\n",
            );
        }
    }
    if !revoked.is_empty() {
        let _ = writeln!(
            s,
            "\nNever roll back to a revoked version: {} (`gild log {}` says why).",
            revoked.join(", "),
            record.name
        );
    }
    s
}

/// How a host operator checks a signed baseline before trusting `install.sh`, with the stock
/// tools (appended when the recipe signs its baselines).
pub fn checking(record: &Record, policy: &crate::sign::SignPolicy) -> String {
    let mut s = String::from("\n## Checking this baseline\n\n");
    s.push_str("Every file of this directory and every image is listed in `SHA256SUMS`, which the build key signed. Before running `install.sh` on a host, check both with the stock tools, in this directory:\n\n");
    for (file, key) in &policy.public {
        let name =
            std::path::Path::new(file).file_name().map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
        let _ = writeln!(
            s,
            "```sh\nminisign -Vm SHA256SUMS -p {name} && sha256sum -c --ignore-missing SHA256SUMS\n```\n\n(`{name}` is the public build key {}, `{file}` in the recipe's directory.) The trusted comment must read `gild {} {} tree={}`.",
            key.id(),
            record.name,
            record.version,
            record.tree
        );
    }
    s
}

fn patch_section(s: &mut String, p: &PatchRecord, record: &Record, title: &str) {
    let _ = writeln!(s, "### {title} {} ({})\n", p.id, p.severity_text());
    let _ = writeln!(s, "- Artifact: `{}`, sha256 `{}`", p.artifact, p.sha256);
    let _ = writeln!(s, "- Fixes: {}", list_or_none(&p.fixes));
    let _ = writeln!(s, "- Known exploited: {}", if p.exploited { "yes" } else { "no" });
    if let Some(r) = &p.released {
        let _ = writeln!(s, "- Released by the vendor: {r}");
    }
    let _ = writeln!(s, "- Approval: change {} by {} on {}", p.approval.change, p.approval.by, p.approval.date);
    for sig in &p.signature {
        let _ = writeln!(s, "- Signed by `{}` ({}): \"{}\"", sig.key, sig.key_id, sig.trusted_comment);
    }
    let _ = writeln!(s, "- Backout: {}", p.backout.as_deref().unwrap_or("no backout plan recorded"));
    if let Some(d) = &p.deb {
        let from = d.previous.as_ref().map(|v| format!("{v} → ")).unwrap_or_else(|| "new, ".into());
        let _ = writeln!(s, "- Debian package: `{}` {from}{} ({})", d.package, d.version, d.architecture);
        let _ = writeln!(s, "- Its changelog names: {}", list_or_none(&d.changelog_fixes));
        for dist in &d.dist {
            let _ = writeln!(s, "  - `{dist}` had been edited before this package came: kept as it was; the package's version is `{dist}.dpkg-dist`");
        }
    }
    let _ = writeln!(s, "- Paths: {} added, {} changed, {} removed", p.added.len(), p.changed.len(), p.removed.len());
    for n in record.notable.iter().filter(|n| n.patch == p.id) {
        let _ = writeln!(s, "  - notable: `{}` is {}", n.path, n.why);
    }
    s.push('\n');
}

/// The package changes since the parent, and what a host must still run: the maintainer
/// scripts and triggers of the packages patches installed (docs/debian.md). Absent for trees that
/// dpkg does not manage.
fn packages_section(s: &mut String, record: &Record, parent: Option<&Record>) {
    let debs: Vec<&PatchRecord> = record.patch.iter().filter(|p| p.deb.is_some()).collect();
    if record.package.is_empty() && debs.is_empty() {
        return;
    }
    s.push_str("## Package changes\n\n");
    let changes = match parent {
        Some(parent) => crate::diff::records(parent, record).packages,
        // A first version: what each package patch did to the base's database.
        None => debs
            .iter()
            .filter_map(|p| {
                let d = p.deb.as_ref()?;
                Some(crate::diff::PackageChange {
                    name: d.package.clone(),
                    before: d.previous.clone(),
                    after: Some(d.version.clone()),
                    patch: Some(p.id.clone()),
                    fixes: p.fixes.clone(),
                })
            })
            .collect(),
    };
    if changes.is_empty() {
        s.push_str("No package changed since the parent version.\n");
    }
    for c in &changes {
        let fixes = if c.fixes.is_empty() { String::new() } else { format!(", fixes {}", c.fixes.join(", ")) };
        let by = c.patch.as_ref().map(|p| format!(" ({p}{fixes})")).unwrap_or_default();
        let _ = match (&c.before, &c.after) {
            (Some(a), Some(b)) => writeln!(s, "- `{}` {a} → {b}{by}", c.name),
            (None, Some(b)) => writeln!(s, "- `{}` {b}, new{by}", c.name),
            (Some(a), None) => writeln!(s, "- `{}` {a}, removed", c.name),
            (None, None) => Ok(()),
        };
    }
    let _ = writeln!(s, "\n{} packages installed; `sbom.cdx.json` lists them for scanners.\n", record.package.len());
    s.push_str("## Not run at build time\n\n");
    s.push_str("gild installs packages as dpkg does but never runs maintainer scripts. A host built from this image should run the triggers below at first boot (for example `dpkg --triggers-only -a`), and an operator should read the scripts listed for what they would have done.\n\n");
    let mut any = false;
    for p in &debs {
        let Some(d) = &p.deb else { continue };
        if d.scripts.is_empty() && d.triggers.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(s, "- `{}` ({})", d.package, p.id);
        if !d.scripts.is_empty() {
            let _ = writeln!(s, "  - scripts: {}", d.scripts.join(", "));
        }
        if !d.triggers.is_empty() {
            let _ = writeln!(s, "  - triggers: {}", d.triggers.join(", "));
        }
    }
    if !any {
        s.push_str("Nothing: no package shipped maintainer scripts or activated triggers.\n");
    }
    s.push('\n');
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none listed".into()
    } else {
        items.join(", ")
    }
}

impl PatchRecord {
    fn severity_text(&self) -> &'static str {
        match self.severity {
            crate::recipe::Severity::Critical => "critical",
            crate::recipe::Severity::High => "high",
            crate::recipe::Severity::Medium => "medium",
            crate::recipe::Severity::Low => "low",
        }
    }
}
