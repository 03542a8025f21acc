//! Reports of the commands about the workspace itself: `show`, `list`, `prune`, `init`,
//! `completions`, `man`.

use serde_json::{json, Value};

use super::Output;
use crate::ops::init::InitReport;
use crate::ops::list::ListReport;
use crate::ops::man::ManReport;
use crate::ops::prune::PruneReport;
use crate::ops::show::ShowReport;

impl Output {
    pub fn show(&self, r: &ShowReport) {
        if self.json {
            let doc = json!({
                "command": "show",
                "name": r.name,
                "version": r.version,
                "baseline": r.baseline,
                "parent": r.parent,
                "newest": r.newest,
                "revoked": r.revoked.as_ref().map(|v| json!({"reason": v.reason, "time": v.time, "actor": v.actor})),
                "channels": r.channels,
                "tree": r.tree,
                "entries": r.entries,
                "base": {"artifact": r.base.0, "sha256": r.base.1},
                "patches": r.patches.iter().map(|p| json!({
                    "id": p.id,
                    "severity": p.severity,
                    "fixes": p.fixes,
                    "exploited": p.exploited,
                    "approval": {"change": p.approval.change, "by": p.approval.by, "date": p.approval.date.to_string()},
                })).collect::<Vec<_>>(),
                "packages": r.packages.iter().map(|p| json!({"name": p.name, "before": p.before, "after": p.after, "patch": p.patch})).collect::<Vec<_>>(),
                "images": r.images.iter().map(|(i, present)| json!({"file": i.file, "size": i.size, "sha256": i.sha256, "present": present})).collect::<Vec<_>>(),
                "deferred": r.deferred.iter().map(|d| json!({"id": d.id, "reason": d.reason, "mitigation": d.mitigation, "review-by": d.review_by.map(|d| d.to_string())})).collect::<Vec<_>>(),
                "checks": r.checks,
                "signed": r.signed,
            });
            outln!("{doc}");
            return;
        }
        let status = match (&r.revoked, r.newest) {
            (Some(v), _) => format!("  REVOKED by {} at {}: {}", v.actor, v.time, v.reason),
            (None, true) => "  (newest)".to_string(),
            (None, false) => String::new(),
        };
        outln!("{} {}{status}", r.name, r.version);
        outln!("  baseline  {}  {} entries  tree sha256 {}", r.baseline, r.entries, r.tree);
        outln!("  parent    {}", r.parent.as_deref().unwrap_or("none (first version)"));
        let channels = if r.channels.is_empty() { "none runs it".to_string() } else { r.channels.join(", ") };
        outln!("  channels  {channels}");
        outln!("  base      {}  sha256 {}", r.base.0, r.base.1);
        for p in &r.patches {
            let fixes = if p.fixes.is_empty() { String::new() } else { format!("  {}", p.fixes.join(", ")) };
            let exploited = if p.exploited { ", exploited" } else { "" };
            outln!(
                "  patch     {}  {}{exploited}{fixes}  ({} by {} on {})",
                p.id,
                super::compare::severity(p.severity),
                p.approval.change,
                p.approval.by,
                p.approval.date
            );
        }
        for p in &r.packages {
            let by = p.patch.as_ref().map(|p| format!("  ({p})")).unwrap_or_default();
            match (&p.before, &p.after) {
                (Some(a), Some(b)) => outln!("  package   {} {a} → {b}{by}", p.name),
                (None, Some(b)) => outln!("  package   {} {b}{by}", p.name),
                (Some(a), None) => outln!("  package   {} {a} removed", p.name),
                (None, None) => {}
            }
        }
        for (i, present) in &r.images {
            let missing = if *present { "" } else { "  (not in out/)" };
            outln!("  image     {}  {} bytes  sha256 {}{missing}", i.file, i.size, i.sha256);
        }
        for d in &r.deferred {
            outln!("  deferred  {}: {}", d.id, d.reason);
        }
        for c in &r.checks {
            outln!("  check     {c}");
        }
        outln!("  signed    {}", if r.signed { "yes (`gild verify NAME@VERSION` checks it)" } else { "no" });
    }

    pub fn list(&self, r: &ListReport) {
        if self.json {
            let images: Vec<Value> = r
                .images
                .iter()
                .map(|i| {
                    json!({
                        "name": i.name,
                        "recipe": i.recipe,
                        "versions": i.versions.iter().map(|(v, revoked)| json!({"version": v, "revoked": revoked})).collect::<Vec<_>>(),
                        "newest": i.newest,
                        "channels": i.channels,
                    })
                })
                .collect();
            outln!("{}", json!({"command": "list", "images": images}));
            return;
        }
        if r.images.is_empty() {
            outln!("no image in this workspace (`gild init` starts one)");
        }
        for i in &r.images {
            let versions = if i.versions.is_empty() {
                "no recorded version".to_string()
            } else {
                let list: Vec<String> = i
                    .versions
                    .iter()
                    .map(|(v, revoked)| if *revoked { format!("{v} (revoked)") } else { v.clone() })
                    .collect();
                list.join(", ")
            };
            let newest = i.newest.as_ref().map(|n| format!("  newest {n}")).unwrap_or_default();
            let channels: Vec<String> = i.channels.iter().map(|(c, v)| format!("{c}={v}")).collect();
            let channels = if channels.is_empty() { String::new() } else { format!("  {}", channels.join(" ")) };
            let recipe = if i.recipe.is_none() { "  (no recipe)" } else { "" };
            outln!("{}  {versions}{newest}{channels}{recipe}", i.name);
        }
    }

    pub fn prune(&self, r: &PruneReport) {
        if self.json {
            let doc = json!({
                "command": "prune",
                "name": r.name,
                "keep": r.keep,
                "removed": r.removed.iter().map(|(f, v, s)| json!({"file": f, "version": v, "size": s})).collect::<Vec<_>>(),
                "kept": r.kept.iter().map(|(v, why)| json!({"version": v, "why": why})).collect::<Vec<_>>(),
                "left": r.left.iter().map(|(f, why)| json!({"file": f, "why": why})).collect::<Vec<_>>(),
            });
            outln!("{doc}");
            return;
        }
        let bytes: u64 = r.removed.iter().map(|(_, _, s)| s).sum();
        outln!("pruned {}: removed {} image(s), {bytes} bytes", r.name, r.removed.len());
        for (file, version, _) in &r.removed {
            outln!("  removed   {file}  ({version})");
        }
        for (version, why) in &r.kept {
            outln!("  kept      {version}  ({why})");
        }
        for (file, why) in &r.left {
            outln!("  left      {file}  ({why})");
        }
    }

    pub fn init(&self, r: &InitReport) {
        if let Some(k) = &r.key {
            self.warning(&format!(
                "the SECRET key `{}` is at {}, unencrypted and outside the workspace: back it up, keep it private, never commit it",
                k.name,
                k.secret.display()
            ));
        }
        if self.json {
            let doc = json!({
                "command": "init",
                "root": r.root,
                "name": r.name,
                "created": r.created,
                "key": r.key.as_ref().map(|k| json!({"name": k.name, "key-id": k.id.to_string(), "public": k.public, "secret": k.secret})),
            });
            outln!("{doc}");
            return;
        }
        outln!("initialised `{}` in {}", r.name, r.root.display());
        for c in &r.created {
            outln!("  created   {c}");
        }
        if let Some(k) = &r.key {
            outln!("  key       {} (key ID {}): public half {}", k.name, k.id, k.public);
        }
        outln!(
            "next: put the signed base image in artifacts/, fill in `artifact` and `sha256` under [base] in recipes/{}.toml, then `gild build {}`",
            r.name,
            r.name
        );
    }

    pub fn completions(&self, script: &str) {
        if self.json {
            outln!("{}", json!({"command": "completions", "script": script}));
            return;
        }
        out!("{script}");
    }

    pub fn man(&self, r: &ManReport) {
        if self.json {
            outln!("{}", json!({"command": "man", "pages": r.pages}));
            return;
        }
        for p in &r.pages {
            outln!("wrote {p}");
        }
    }
}
