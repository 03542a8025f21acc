//! Printing the comparing commands' reports: `diff`, `scan`, `verify IMAGE`, `audit`.

use serde_json::{json, Value};

use super::Output;
use crate::diff::{Aspect, Status, Unchecked};
use crate::error::Report;
use crate::ops::audit::{AuditReport, MissingPatch, Question, Standing, TargetReport};
use crate::ops::diff::{DiffReport, EntryState, PathChange, RecordChanges, SourceInfo};
use crate::ops::scan::ScanReport;
use crate::ops::verify_image::VerifyImageReport;

pub(super) fn source_json(s: &SourceInfo) -> Value {
    json!({"source": s.label, "kind": s.kind, "name": s.name, "version": s.version, "entries": s.entries})
}

fn mode(m: u32) -> String {
    format!("0{m:o}")
}

fn state_json(s: &EntryState) -> Value {
    let mut v = json!({"type": s.kind});
    let o = v.as_object_mut().expect("an object");
    if let Some(m) = s.mode {
        o.insert("mode".into(), json!(mode(m)));
    }
    for (k, x) in [("uid", s.uid), ("gid", s.gid), ("size", s.size)] {
        if let Some(x) = x {
            o.insert(k.into(), json!(x));
        }
    }
    if let Some(d) = &s.sha256 {
        o.insert("sha256".into(), json!(d));
    }
    if let Some(l) = &s.link {
        o.insert("link".into(), json!(l));
    }
    if let Some((a, b)) = s.device {
        o.insert("device".into(), json!(format!("{a},{b}")));
    }
    v
}

pub(super) fn change_json(c: &PathChange) -> Value {
    json!({
        "path": c.path,
        "change": c.status.word(),
        "what": c.aspects.iter().map(|a| a.word()).collect::<Vec<_>>(),
        "before": c.before.as_ref().map(state_json),
        "after": c.after.as_ref().map(state_json),
        "patch": c.patch,
        "flags": c.flags,
    })
}

pub(super) fn unchecked_json(u: &Unchecked) -> Value {
    json!({"check": u.aspect.word(), "side": u.side, "keyword": u.keyword, "entries": u.entries})
}

/// `content of 12 entries (B has no sha256digest)`.
pub(super) fn unchecked_line(u: &Unchecked) -> String {
    let side = if u.side == "A and B" { "neither side has".to_string() } else { format!("{} has no", u.side) };
    format!("{} of {} entries ({side} `{}`)", u.aspect.word(), u.entries, u.keyword)
}

fn owner(s: &EntryState) -> String {
    let id = |x: Option<u64>| x.map_or("?".into(), |v| v.to_string());
    format!("{}:{}", id(s.uid), id(s.gid))
}

/// What changed, in words: `mode 0755 → 04755, content`.
pub(super) fn describe(c: &PathChange) -> String {
    let (Some(b), Some(a)) = (&c.before, &c.after) else {
        let s = c.after.as_ref().or(c.before.as_ref()).expect("a change has a side");
        let mut words = vec![s.kind.to_string()];
        if let Some(m) = s.mode {
            words.push(mode(m));
        }
        words.push(owner(s));
        if let Some(l) = &s.link {
            words.push(format!("-> {l}"));
        }
        return words.join(" ");
    };
    let opt_mode = |m: Option<u32>| m.map_or("?".into(), mode);
    c.aspects
        .iter()
        .map(|aspect| match aspect {
            Aspect::Type => format!("type {} → {}", b.kind, a.kind),
            Aspect::Mode => format!("mode {} → {}", opt_mode(b.mode), opt_mode(a.mode)),
            Aspect::Owner => format!("owner {} → {}", owner(b), owner(a)),
            Aspect::Link => format!("link {} → {}", b.link.as_deref().unwrap_or("?"), a.link.as_deref().unwrap_or("?")),
            Aspect::Content => "content".to_string(),
            Aspect::Device => {
                let dev = |d: Option<(u32, u32)>| d.map_or("?".into(), |(x, y)| format!("{x},{y}"));
                format!("device {} → {}", dev(b.device), dev(a.device))
            }
            Aspect::Xattrs => "extended attributes".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per change: `~ ./usr/bin/su  mode 0755 → 04755  [setuid]  (DEMO-1)`.
pub(super) fn change_line(c: &PathChange) -> String {
    let mark = match c.status {
        Status::Added => "+",
        Status::Removed => "-",
        Status::Changed => "~",
    };
    let flags = if c.flags.is_empty() { String::new() } else { format!("  [{}]", c.flags.join(", ")) };
    let patch = c.patch.as_ref().map(|p| format!("  ({p})")).unwrap_or_default();
    format!("{mark} {}  {}{flags}{patch}", c.path, describe(c))
}

fn records_json(r: &RecordChanges) -> Value {
    let patch = |p: &crate::baseline::PatchRecord| json!({"id": p.id, "severity": p.severity, "fixes": p.fixes, "sha256": p.sha256});
    let deferred = |d: &crate::recipe::Deferred| json!({"id": d.id, "reason": d.reason, "mitigation": d.mitigation, "review-by": d.review_by.map(|t| t.to_string())});
    json!({
        "base": r.base.as_ref().map(|(a, b)| json!({"before": a, "after": b})),
        "patches": {
            "added": r.patches_added.iter().map(patch).collect::<Vec<_>>(),
            "removed": r.patches_removed.iter().map(patch).collect::<Vec<_>>(),
            "changed": r.patches_changed.iter().map(|(a, b)| json!({"id": b.id, "before": a.sha256, "after": b.sha256})).collect::<Vec<_>>(),
        },
        "deferred": {
            "added": r.deferred_added.iter().map(deferred).collect::<Vec<_>>(),
            "removed": r.deferred_removed.iter().map(deferred).collect::<Vec<_>>(),
            "changed": r.deferred_changed.iter().map(|(_, b)| deferred(b)).collect::<Vec<_>>(),
        },
        "cves": {"fixed": r.cves_fixed, "reverted": r.cves_reverted},
        "packages": r.packages.iter().map(|p| json!({"name": p.name, "before": p.before, "after": p.after, "patch": p.patch, "fixes": p.fixes})).collect::<Vec<_>>(),
    })
}

/// `critical`, as the recipe writes it.
pub(super) fn severity(s: crate::recipe::Severity) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn print_records(r: &RecordChanges) {
    // Packages first: they are what a security team reads (`libc6 2.36-9+deb12u7 → …u14`).
    for p in &r.packages {
        let fixes = if p.fixes.is_empty() { String::new() } else { format!("  fixes {}", p.fixes.join(", ")) };
        let patch = p.patch.as_ref().map(|id| format!("  ({id})")).unwrap_or_default();
        match (&p.before, &p.after) {
            (Some(a), Some(b)) => outln!("package ~ {} {a} → {b}{fixes}{patch}", p.name),
            (None, Some(b)) => outln!("package + {} {b}{fixes}{patch}", p.name),
            (Some(a), None) => outln!("package - {} {a}", p.name),
            (None, None) => {}
        }
    }
    if let Some((a, b)) = &r.base {
        outln!("base      {} → {}", &a[..a.len().min(12)], &b[..b.len().min(12)]);
    }
    for p in &r.patches_added {
        let fixes = if p.fixes.is_empty() { String::new() } else { format!("  fixes {}", p.fixes.join(", ")) };
        outln!("patch   + {}  {}{fixes}", p.id, severity(p.severity));
    }
    for p in &r.patches_removed {
        outln!("patch   - {}", p.id);
    }
    for (a, b) in &r.patches_changed {
        outln!(
            "patch   ~ {}  artifact sha256 {} → {}",
            b.id,
            &a.sha256[..12.min(a.sha256.len())],
            &b.sha256[..12.min(b.sha256.len())]
        );
    }
    for d in &r.deferred_added {
        outln!("deferred + {}: {}", d.id, d.reason);
    }
    for d in &r.deferred_removed {
        outln!("deferred - {}", d.id);
    }
    for (_, d) in &r.deferred_changed {
        outln!("deferred ~ {}: {}", d.id, d.reason);
    }
    if !r.cves_fixed.is_empty() {
        outln!("fixed     {}", r.cves_fixed.join(", "));
    }
    if !r.cves_reverted.is_empty() {
        outln!("unfixed   {} (fixed in A, not in B)", r.cves_reverted.join(", "));
    }
}

impl Output {
    pub fn diff(&self, r: &DiffReport, stat: bool) {
        for w in &r.warnings {
            self.warning(w);
        }
        let counts = json!({
            "added": r.count(Status::Added),
            "removed": r.count(Status::Removed),
            "changed": r.count(Status::Changed),
        });
        if self.json {
            let mut doc = json!({
                "command": "diff",
                "a": source_json(&r.a),
                "b": source_json(&r.b),
                "differ": r.differ(),
                "stat": counts,
                "unchecked": r.unchecked.iter().map(unchecked_json).collect::<Vec<_>>(),
                "records": r.records.as_ref().map(records_json),
                "warnings": r.warnings,
            });
            if !stat {
                doc["changes"] = r.changes.iter().map(change_json).collect();
            }
            outln!("{doc}");
            return;
        }
        outln!("--- {}", r.a.title());
        outln!("+++ {}", r.b.title());
        if let Some(records) = &r.records {
            print_records(records);
        }
        if !stat {
            for c in &r.changes {
                outln!("{}", change_line(c));
            }
        } else {
            let mut by_patch: std::collections::BTreeMap<&str, [usize; 3]> = Default::default();
            for c in &r.changes {
                let slot = by_patch.entry(c.patch.as_deref().unwrap_or("(no patch)")).or_default();
                slot[c.status as usize] += 1;
            }
            for (patch, [added, removed, changed]) in by_patch {
                outln!("  {patch}  +{added} -{removed} ~{changed}");
            }
        }
        outln!(
            "{} added, {} removed, {} changed",
            r.count(Status::Added),
            r.count(Status::Removed),
            r.count(Status::Changed)
        );
        for u in &r.unchecked {
            outln!("not checked: {}", unchecked_line(u));
        }
    }
}

impl Output {
    pub fn scan(&self, r: &ScanReport) {
        for w in &r.warnings {
            self.warning(w);
        }
        for (keyword, entries) in &r.lacking {
            self.warning(&format!(
                "{} has no `{keyword}` for {entries} entries: the spec leaves it out",
                r.source.label
            ));
        }
        if self.json {
            let doc = json!({
                "command": "scan",
                "source": source_json(&r.source),
                "sha256": r.sha256,
                "output": r.output,
                "spec": r.spec,
                "lacking": r.lacking.iter().map(|(k, n)| json!({"keyword": k, "entries": n})).collect::<Vec<_>>(),
                "warnings": r.warnings,
            });
            outln!("{doc}");
            return;
        }
        match (&r.output, &r.spec) {
            (Some(file), _) => {
                outln!("scanned {}: {} entries → {file} (sha256 {})", r.source.label, r.source.entries, r.sha256)
            }
            (None, Some(spec)) => out!("{spec}"),
            (None, None) => {}
        }
    }
}

impl Output {
    pub fn verify_image(&self, r: &VerifyImageReport) {
        if self.json {
            let doc = json!({
                "command": "verify",
                "image": r.image,
                "baseline": source_json(&r.baseline),
                "ok": r.ok(),
                "sha256": r.sha256,
                "recorded-as": r.recorded_as,
                "tree": r.tree,
                "tree-matches": r.tree_matches,
                "changes": r.changes.iter().map(change_json).collect::<Vec<_>>(),
            });
            outln!("{doc}");
        } else {
            outln!("image     {}", r.image);
            outln!("baseline  {}", r.baseline.title());
            match &r.recorded_as {
                Some(file) => outln!("sha256    {}  recorded as {file}", r.sha256),
                None => {
                    let files: Vec<&str> = r.recorded.iter().map(|(f, _)| f.as_str()).collect();
                    outln!("sha256    {}  not recorded (the baseline records {})", r.sha256, files.join(", "))
                }
            }
            if r.tree_matches {
                outln!("tree      {}  matches files.mtree", r.tree);
            } else {
                outln!("tree      {}  differs from files.mtree:", r.tree);
                for c in &r.changes {
                    outln!("  {}", change_line(c));
                }
            }
            if r.ok() {
                outln!("ok");
            }
        }
        if !r.ok() {
            let mut report =
                Report::new(format!("image `{}` is not the one recorded in {}", r.image, r.baseline.title()));
            if r.recorded_as.is_none() {
                report = report.cause(format!("its sha256 {} is not one the baseline records", r.sha256));
            }
            if !r.tree_matches {
                report =
                    report.cause(format!("its tree differs from files.mtree in {} path(s)", r.changes.len().max(1)));
            }
            self.error(&report);
        }
    }
}

/// `content of 12 entries (the target has no `sha256digest`)`, for audits.
fn audit_unchecked_line(u: &Unchecked) -> String {
    let who = match u.side {
        "A" => "the baseline has",
        "B" => "the target has",
        _ => "neither has",
    };
    format!("{} of {} entries ({who} no `{}`)", u.aspect.word(), u.entries, u.keyword)
}

fn missing_json(m: &MissingPatch) -> Value {
    json!({"id": m.id, "severity": m.severity.map(severity), "fixes": m.fixes, "why": m.why})
}

fn target_json(t: &TargetReport) -> Value {
    json!({
        "target": t.target,
        "kind": t.kind,
        "version": t.version,
        "standing": t.standing.word(),
        "image": match &t.standing { Standing::OtherImage(n) => Some(n), _ => None },
        "compared-with": t.compared_with,
        "revoked": t.revoked,
        "compliant": t.compliant(),
        "verdict": t.verdict(),
        "drift": t.drift.iter().map(change_json).collect::<Vec<_>>(),
        "extra": t.extra.iter().map(|(c, counts)| {
            let mut v = change_json(c);
            v["counts"] = json!(counts);
            v
        }).collect::<Vec<_>>(),
        "ignored": t.ignored,
        "missing": t.missing.iter().map(missing_json).collect::<Vec<_>>(),
        "unchecked": t.unchecked.iter().map(unchecked_json).collect::<Vec<_>>(),
        "needs": t.needs,
        "error": t.error.as_ref().map(|e| super::report_json(&e.0)),
        "warnings": t.warnings,
    })
}

impl Output {
    pub fn audit(&self, r: &AuditReport) {
        for t in &r.targets {
            for w in &t.warnings {
                self.warning(&format!("{}: {w}", t.target));
            }
            if let Some((e, _)) = &t.error {
                self.error(e);
            }
        }
        let question = match &r.question {
            Some(Question::Patch(id)) => Some(json!({"patch": id})),
            Some(Question::Fixes { cve, patches }) => Some(json!({"fixes": cve, "patches": patches})),
            None => None,
        };
        if self.json {
            let doc = json!({
                "command": "audit",
                "baseline": source_json(&r.baseline),
                "question": question,
                "ignore": r.ignore,
                "strict": r.strict,
                "compliant": r.targets.iter().all(TargetReport::compliant),
                "targets": r.targets.iter().map(target_json).collect::<Vec<_>>(),
            });
            outln!("{doc}");
            return;
        }
        let asked = match &r.question {
            Some(Question::Patch(id)) => format!(": which targets need {id}?"),
            Some(Question::Fixes { cve, patches }) => {
                format!(": which targets need a fix for {cve} ({})?", patches.join(", "))
            }
            None => String::new(),
        };
        outln!("audit against {}{asked}", r.baseline.title());
        if !r.ignore.is_empty() {
            outln!("ignoring {}", r.ignore.join(", "));
        }
        for t in &r.targets {
            print_target(t, r.strict);
        }
        outln!();
        print_table(r);
    }
}

fn print_target(t: &TargetReport, strict: bool) {
    let kind = t.kind.map(|k| format!(" ({k})")).unwrap_or_default();
    let on = match (&t.standing, &t.version) {
        (Standing::OtherImage(name), Some(v)) => format!(", built from {name} {v}"),
        (Standing::Unknown, _) => ", names no version gild recorded".to_string(),
        (Standing::Unrecorded, Some(v)) => format!(", on {v}, which is not recorded here"),
        (_, Some(v)) => format!(", on {v}"),
        (_, None) => String::new(),
    };
    let compared = match (&t.compared_with, &t.version) {
        (Some(c), Some(v)) if c == v => String::new(),
        (Some(c), _) => format!(" (compared with {c})"),
        _ => String::new(),
    };
    outln!("== {}{kind}: {}{on}{compared}", t.target, t.verdict());
    if let Some(reason) = &t.revoked {
        outln!("  revoked: {reason}");
    }
    for c in &t.drift {
        outln!("  {}", change_line(c));
    }
    for (c, counts) in &t.extra {
        let note = match (counts, strict) {
            (true, _) => "  extra",
            (false, _) => "  extra (counts with --strict)",
        };
        outln!("  {}{note}", change_line(c));
    }
    for m in &t.missing {
        let sev = m.severity.map(severity).unwrap_or_default();
        let fixes = if m.fixes.is_empty() { String::new() } else { format!("  {}", m.fixes.join(", ")) };
        outln!("  missing  {}  {sev}{fixes}  ({})", m.id, m.why);
    }
    for u in &t.unchecked {
        outln!("  not checked: {}", audit_unchecked_line(u));
    }
    if t.ignored > 0 {
        outln!("  {} differing path(s) ignored", t.ignored);
    }
    if let Some(needs) = t.needs {
        outln!("  {}", if needs { "needs it" } else { "does not need it" });
    }
}

fn print_table(r: &AuditReport) {
    let width = r.targets.iter().map(|t| t.target.chars().count()).max().unwrap_or(6).max(6);
    let needs_col = r.question.is_some();
    let needs_head = if needs_col { "NEEDS  " } else { "" };
    outln!(
        "{:<width$}  {:<10}  {:<15}  {:>5}  {:>5}  {needs_head}MISSING",
        "TARGET",
        "VERSION",
        "VERDICT",
        "DRIFT",
        "EXTRA"
    );
    for t in &r.targets {
        let missing: Vec<&str> = t.missing.iter().map(|m| m.id.as_str()).collect();
        let needs = match t.needs {
            Some(true) => "yes    ",
            Some(false) => "no     ",
            None if needs_col => "?      ",
            None => "",
        };
        outln!(
            "{:<width$}  {:<10}  {:<15}  {:>5}  {:>5}  {needs}{}",
            t.target,
            t.version.as_deref().unwrap_or("-"),
            t.verdict(),
            t.drift.len(),
            t.extra.len(),
            if missing.is_empty() { "-".to_string() } else { missing.join(", ") }
        );
    }
    let total = r.targets.len();
    match &r.question {
        Some(_) => {
            let n = r.targets.iter().filter(|t| t.needs == Some(true)).count();
            outln!("{n} of {total} target(s) need it");
        }
        None => {
            let n = r.targets.iter().filter(|t| !t.compliant()).count();
            outln!("{} of {total} target(s) compliant", total - n);
        }
    }
}
