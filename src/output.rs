//! The only writer to stdout and stderr: human text, or one JSON document with `--json`.

mod compare;
pub mod progress;

use serde_json::{json, Value};

use crate::error::Error;
use crate::ops::build::{BuildReport, Status};
use crate::ops::defer::{Action, DeferReport};
use crate::ops::intake::IntakeReport;
use crate::ops::log::LogReport;
use crate::ops::plan::PlanReport;
use crate::ops::rollout::{PromoteReport, RevokeReport, RollbackReport};
use crate::ops::verify::VerifyReport;
use crate::recipe::edit::Deferral;
use crate::rollout::duration;

pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn error(&self, e: &Error) {
        eprintln!("error: {e}");
    }

    pub fn warning(&self, msg: &str) {
        eprintln!("warning: {msg}");
    }

    pub fn note(&self, msg: &str) {
        eprintln!("{msg}");
    }

    pub fn build(&self, r: &BuildReport) {
        for w in &r.warnings {
            self.warning(w);
        }
        if self.json {
            let doc = json!({
                "command": "build",
                "status": match r.status { Status::Built => "built", Status::Unchanged => "unchanged" },
                "name": r.name,
                "version": r.version,
                "parent": r.parent,
                "tree": r.tree,
                "entries": r.entries,
                "images": r.images.iter().map(|(i, path)| json!({"file": i.file, "path": path, "size": i.size, "sha256": i.sha256})).collect::<Vec<_>>(),
                "oci": r.oci.as_ref().map(|(o, path)| json!({"dir": o.dir, "path": path, "platform": o.platform, "manifest": o.manifest, "layer": o.layer, "diff-id": o.diff_id})),
                "rewritten": r.rewritten,
                "baseline": r.baseline,
                "patches": r.patches.iter().map(|p| json!({
                    "id": p.id, "added": p.added.len(), "changed": p.changed.len(), "removed": p.removed.len(), "fixes": p.fixes,
                    "package": p.deb.as_ref().map(|d| json!({"name": d.package, "version": d.version, "previous": d.previous, "scripts": d.scripts, "triggers": d.triggers, "dist": d.dist})),
                })).collect::<Vec<_>>(),
                "notable": r.notable.iter().map(|n| json!({"path": n.path, "why": n.why, "patch": n.patch})).collect::<Vec<_>>(),
                "checks": r.checks.iter().map(|c| json!({"name": c.name, "result": c.result})).collect::<Vec<_>>(),
                "warnings": r.warnings,
            });
            println!("{doc}");
            return;
        }
        let parent = r.parent.as_ref().map(|p| format!(" (parent {p})")).unwrap_or_default();
        match r.status {
            Status::Built => println!("built {} {}{parent}", r.name, r.version),
            Status::Unchanged => {
                println!("unchanged {} {}: the tree is the one recorded in {}", r.name, r.version, r.baseline)
            }
        }
        for (image, path) in &r.images {
            let note = if r.rewritten.contains(path) { "  (written again; matches the record)" } else { "" };
            println!("  image     {path}  {} bytes  sha256 {}{note}", image.size, image.sha256);
        }
        if let Some((o, path)) = &r.oci {
            let note = if r.rewritten.contains(path) { "  (written again; matches the record)" } else { "" };
            println!("  oci       {path}  {}  manifest {}  layer {}{note}", o.platform, o.manifest, o.layer);
        }
        println!("  baseline  {}  {} entries  tree sha256 {}", r.baseline, r.entries, r.tree);
        for p in &r.patches {
            println!("  patch     {}  +{} ~{} -{}", p.id, p.added.len(), p.changed.len(), p.removed.len());
            if let Some(d) = &p.deb {
                let from = d.previous.as_ref().map(|v| format!("{v} → ")).unwrap_or_default();
                let fixes = if p.fixes.is_empty() { String::new() } else { format!("  fixes {}", p.fixes.join(", ")) };
                println!("  package   {} {from}{}{fixes}", d.package, d.version);
            }
        }
        for c in &r.checks {
            println!("  check     {}: {}", c.name, c.result);
        }
        for n in &r.notable {
            println!("  notable   {} is {} (from {})", n.path, n.why, n.patch);
        }
    }

    pub fn verify(&self, r: &VerifyReport) {
        for a in &r.artifacts {
            for i in &a.ignored {
                self.warning(&format!("{} (`{}`): signature not counted: {}", a.id, a.artifact, i.reason));
            }
        }
        if self.json {
            let artifacts: Vec<Value> = r
                .artifacts
                .iter()
                .map(|a| {
                    json!({
                        "id": a.id,
                        "artifact": a.artifact,
                        "sha256": a.sha256,
                        "signers": a.signers.iter().map(|s| json!({"key": s.key, "key-id": s.key_id.to_string(), "trusted-comment": s.trusted_comment})).collect::<Vec<_>>(),
                        "ignored": a.ignored.iter().map(|i| json!({"signature": i.signature, "reason": i.reason})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let failures: Vec<String> = r.failures.iter().map(|e| e.to_string()).collect();
            println!(
                "{}",
                json!({"command": "verify", "name": r.name, "version": r.version, "ok": r.failures.is_empty(), "artifacts": artifacts, "failures": failures})
            );
        } else {
            for a in &r.artifacts {
                let signers: Vec<String> = a.signers.iter().map(|s| format!("{} ({})", s.key, s.key_id)).collect();
                println!("ok  {}  {}  signed by {}", a.id, a.artifact, signers.join(", "));
            }
        }
        for e in &r.failures {
            self.error(e);
        }
    }

    pub fn verify_baseline(&self, r: &crate::ops::verify_baseline::VerifyBaselineReport) {
        for w in &r.warnings {
            self.warning(w);
        }
        if self.json {
            let doc = json!({
                "command": "verify",
                "name": r.name,
                "version": r.version,
                "baseline": r.dir,
                "signed": r.signed.as_ref().map(|(key, comment)| json!({"key": key, "trusted-comment": comment})),
                "checked": r.checked,
                "unchecked": r.unchecked,
                "warnings": r.warnings,
            });
            println!("{doc}");
            return;
        }
        match &r.signed {
            Some((key, comment)) => println!("ok  {}  signed by `{key}`: \"{comment}\"", crate::sign::SUMS_SIG),
            None => println!("--  {}  no signature required (the recipe has no `[sign]`)", crate::sign::SUMS_SIG),
        }
        for f in &r.checked {
            println!("ok  {f}");
        }
        for f in &r.unchecked {
            println!("--  {f}  not found: unchecked");
        }
    }

    pub fn intake(&self, r: &IntakeReport) {
        for i in &r.ignored {
            self.warning(&format!("{} (`{}`): signature not counted: {}", r.id, r.artifact, i.reason));
        }
        if self.json {
            let doc = json!({
                "command": "intake",
                "name": r.name,
                "recipe": r.recipe,
                "id": r.id,
                "artifact": r.artifact,
                "sha256": r.sha256,
                "severity": r.severity,
                "signed-by": r.signed_by,
                "threshold": r.threshold,
                "signers": r.signers.iter().map(|s| json!({"key": s.key, "key-id": s.key_id.to_string(), "trusted-comment": s.trusted_comment})).collect::<Vec<_>>(),
                "approval": {"change": r.approval.change, "by": r.approval.by, "date": r.approval.date.to_string()},
            });
            println!("{doc}");
            return;
        }
        println!("intake {} {}: appended to {}", r.name, r.id, r.recipe);
        println!("  artifact  {}  sha256 {}", r.artifact, r.sha256);
        let signers: Vec<String> = r.signers.iter().map(|s| format!("{} ({})", s.key, s.key_id)).collect();
        println!("  signed    by {}  (threshold {})", signers.join(", "), r.threshold);
        println!("  approval  {} by {} on {}", r.approval.change, r.approval.by, r.approval.date);
    }

    pub fn defer(&self, r: &DeferReport) {
        let action = match r.action {
            Action::Deferred(Deferral::Moved) => "moved",
            Action::Deferred(Deferral::Updated) => "updated",
            Action::Deferred(Deferral::Recorded) => "recorded",
            Action::Restored => "restored",
        };
        if self.json {
            let doc = json!({
                "command": "defer",
                "name": r.name,
                "recipe": r.recipe,
                "id": r.id,
                "action": action,
                "reason": r.reason,
                "mitigation": r.mitigation,
                "review-by": r.review_by,
            });
            println!("{doc}");
            return;
        }
        match r.action {
            Action::Deferred(Deferral::Moved) => {
                println!("deferred {} {}: moved from [[patch]] to [[deferred]] in {}", r.name, r.id, r.recipe)
            }
            Action::Deferred(Deferral::Updated) => {
                println!("deferred {} {}: decision updated in {}", r.name, r.id, r.recipe)
            }
            Action::Deferred(Deferral::Recorded) => println!("deferred {} {}: recorded in {}", r.name, r.id, r.recipe),
            Action::Restored => {
                println!("restored {} {}: back at the end of [[patch]] in {}", r.name, r.id, r.recipe)
            }
        }
        if let (Some(reason), false) = (&r.reason, r.action == Action::Restored) {
            println!("  reason      {reason}");
        }
        if let Some(m) = &r.mitigation {
            println!("  mitigation  {m}");
        }
        if let Some(d) = &r.review_by {
            println!("  review by   {d}");
        }
    }

    pub fn plan(&self, r: &PlanReport) {
        let today = r.today;
        if self.json {
            let patches: Vec<Value> = r
                .patches
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    json!({
                        "rank": i + 1,
                        "name": p.image,
                        "recipe": p.recipe,
                        "id": p.id,
                        "severity": p.severity,
                        "exploited": p.exploited,
                        "fixes": p.fixes,
                        "released": p.released.map(|d| d.to_string()),
                        "approved": p.approved.to_string(),
                        "due": p.due.map(|d| d.to_string()),
                        "days-left": p.days_left(today),
                        "overdue": p.overdue(today),
                        "exposure": p.exposure,
                        "criticality": p.criticality,
                    })
                })
                .collect();
            let reviews: Vec<Value> = r
                .reviews
                .iter()
                .map(|v| {
                    json!({
                        "name": v.image,
                        "recipe": v.recipe,
                        "id": v.id,
                        "reason": v.reason,
                        "mitigation": v.mitigation,
                        "review-by": v.review_by.to_string(),
                        "days-past": today.days_since(v.review_by),
                    })
                })
                .collect();
            let images: Vec<Value> = r.images.iter().map(|(n, v)| json!({"name": n, "baseline": v})).collect();
            println!(
                "{}",
                json!({"command": "plan", "today": today.to_string(), "overdue": r.overdue(), "images": images, "patches": patches, "reviews": reviews})
            );
            return;
        }
        if r.patches.is_empty() {
            println!("plan on {today}: every approved patch is in a recorded baseline");
        } else {
            println!(
                "plan on {today}: {} patch(es) not yet in a recorded baseline, {} overdue",
                r.patches.len(),
                r.overdue()
            );
        }
        for (i, p) in r.patches.iter().enumerate() {
            let mut what = format!("{:?}", p.severity).to_lowercase();
            if p.exploited {
                what.push_str(", exploited");
            }
            let since = match p.released {
                Some(d) => format!("released {d}"),
                None => format!("approved {}", p.approved),
            };
            let due = match (p.due, p.days_left(today)) {
                (Some(d), Some(n)) if n < 0 => format!("due {d}  OVERDUE by {} day(s)", -n),
                (Some(d), Some(0)) => format!("due {d}  due today"),
                (Some(d), Some(n)) => format!("due {d}  in {n} day(s)"),
                _ => "no due date ([policy] sets none)".to_string(),
            };
            let fixes = if p.fixes.is_empty() { String::new() } else { format!("  fixes {}", p.fixes.join(", ")) };
            println!("  {:>2}. {}  {}  {what}  {since}  {due}{fixes}", i + 1, p.image, p.id);
        }
        if !r.reviews.is_empty() {
            println!("deferrals past their review date:");
            for v in &r.reviews {
                println!(
                    "  {}  {}  review by {} ({} day(s) ago): {}",
                    v.image,
                    v.id,
                    v.review_by,
                    today.days_since(v.review_by),
                    v.reason
                );
            }
        }
    }

    pub fn promote(&self, r: &PromoteReport) {
        if self.json {
            let doc = json!({
                "command": "promote",
                "name": r.name,
                "version": r.version,
                "channel": r.channel,
                "from": r.from,
                "emergency": r.emergency,
                "change": r.change,
                "soaked": r.soaked.as_ref().map(|(c, s)| json!({"channel": c, "seconds": s})),
                "soak-seconds": r.soak,
            });
            println!("{doc}");
            return;
        }
        let was = r.from.as_ref().map(|f| format!(" (was {f})")).unwrap_or_default();
        println!("promoted {} {} to {}{was}", r.name, r.version, r.channel);
        if let Some((channel, secs)) = &r.soaked {
            println!("  soaked    {} in {channel} (soak {})", duration(*secs), duration(r.soak));
        }
        if r.emergency {
            println!("  EMERGENCY under {}: the soak was not required", r.change.as_deref().unwrap_or_default());
        }
    }

    pub fn rollback(&self, r: &RollbackReport) {
        if self.json {
            println!(
                "{}",
                json!({"command": "rollback", "name": r.name, "channel": r.channel, "from": r.from, "to": r.to})
            );
            return;
        }
        println!("rolled back {} {}: {} -> {}", r.name, r.channel, r.from, r.to);
    }

    pub fn revoke(&self, r: &RevokeReport) {
        if self.json {
            println!(
                "{}",
                json!({"command": "revoke", "name": r.name, "version": r.version, "reason": r.reason, "channels": r.channels})
            );
            return;
        }
        println!("revoked {} {}: {}", r.name, r.version, r.reason);
        if r.channels.is_empty() {
            println!("  no channel holds it");
        } else {
            println!(
                "  still current in: {}  (roll them back: gild rollback {} CHANNEL)",
                r.channels.join(", "),
                r.name
            );
        }
    }

    pub fn log(&self, r: &LogReport) {
        if self.json {
            let entries: Vec<Value> = r
                .lines
                .iter()
                .map(|l| match &l.value {
                    Some(map) => Value::Object(map.clone()),
                    None => json!({"unparsed": String::from_utf8_lossy(&l.bytes)}),
                })
                .collect();
            let verified = r.verified.as_ref().map(|v| {
                json!({
                    "ok": v.problem.is_none(),
                    "lines": r.lines.len(),
                    "anchors": v.anchors.iter().map(|a| json!({"source": a.source, "seq": a.head.seq, "hash": a.head.hash})).collect::<Vec<_>>(),
                    "unanchored": v.unanchored,
                    "problem": v.problem.as_ref().map(|p| json!({"line": p.line, "cause": p.cause})),
                })
            });
            println!(
                "{}",
                json!({"command": "log", "name": r.name, "journal": r.path, "entries": entries, "verified": verified})
            );
        } else {
            for line in &r.lines {
                println!("{}", log_line(line));
            }
            if let Some(v) = &r.verified {
                if v.problem.is_none() {
                    let heads = if v.anchors.is_empty() {
                        "no recorded heads to compare with".to_string()
                    } else {
                        format!("{} recorded head(s) match", v.anchors.len())
                    };
                    println!("verified: {} line(s), chain intact, {heads}", r.lines.len());
                    if v.unanchored > 0 {
                        println!(
                            "note: the last {} line(s) come after the newest recorded head; a change to the last of them, or a cut there, would not show",
                            v.unanchored
                        );
                    }
                }
            }
        }
        if let Some(p) = r.verified.as_ref().and_then(|v| v.problem.as_ref()) {
            eprintln!("error: {p}");
        }
    }
}

/// `SEQ  TIME  ACTOR  EVENT  key=value…` (values JSON-quoted when they need it).
fn log_line(line: &crate::journal::Line) -> String {
    let Some(map) = &line.value else {
        return format!("?  (not JSON) {}", String::from_utf8_lossy(&line.bytes));
    };
    let field = |k: &str| map.get(k).map(scalar).unwrap_or_default();
    let mut out = format!("{:>4}  {}  {}  {}", field("seq"), field("time"), field("actor"), field("event"));
    for (k, v) in map {
        if !["seq", "time", "actor", "event", "prev"].contains(&k.as_str()) {
            out.push_str(&format!("  {k}={}", scalar(v)));
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains('"') => s.clone(),
        other => other.to_string(),
    }
}
