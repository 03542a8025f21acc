//! The only writer to stdout and stderr: human text, or one JSON document with `--json`.
//!
//! Every line goes through [`write`]: a stream whose reader has gone (`gild build | head -1`)
//! is dropped quietly and the command ends with its own exit code; any other failure to write
//! stdout is reported once at the end and makes the exit code at least 2.

/// Prints a line (or with `outln!()`, an empty one) on stdout.
macro_rules! outln {
    () => { $crate::output::write($crate::output::Stream::Out, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write($crate::output::Stream::Out, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints on stdout without a newline.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write($crate::output::Stream::Out, format_args!($($arg)*)) };
}

/// Prints a line on stderr.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::write($crate::output::Stream::Err, format_args!("{}\n", format_args!($($arg)*))) };
}

mod compare;
pub mod progress;
mod workspace;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::error::{Error, Report};
use crate::ops::build::{BuildReport, Status};
use crate::ops::defer::{Action, DeferReport};
use crate::ops::intake::IntakeReport;
use crate::ops::log::LogReport;
use crate::ops::plan::PlanReport;
use crate::ops::rollout::{PromoteReport, RevokeReport, RollbackReport};
use crate::ops::verify::VerifyReport;
use crate::recipe::edit::Deferral;
use crate::rollout::duration;

/// Which stream a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Set once a stream's reader has gone (or a write to it failed): nothing more is written.
static CLOSED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
/// A failure to write stdout other than a closed pipe (a full disk), reported at the end.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Writes to a stream; a closed pipe or a failed write stops further writes to it instead of
/// panicking as `println!` would.
pub fn write(stream: Stream, args: std::fmt::Arguments) {
    let closed = &CLOSED[stream as usize];
    if closed.load(Ordering::Relaxed) {
        return;
    }
    let result = match stream {
        Stream::Out => std::io::stdout().lock().write_fmt(args),
        Stream::Err => std::io::stderr().lock().write_fmt(args),
    };
    if let Err(e) = result {
        failed(stream, e);
    }
}

fn failed(stream: Stream, e: std::io::Error) {
    CLOSED[stream as usize].store(true, Ordering::Relaxed);
    if stream == Stream::Out && e.kind() != std::io::ErrorKind::BrokenPipe {
        let mut failed = FAILED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failed.get_or_insert_with(|| e.to_string());
    }
}

/// The exit code once everything is printed: stdout flushed, and at least 2 when it could not
/// be written for another reason than a reader that has gone.
pub fn finish(code: u8) -> u8 {
    if !CLOSED[Stream::Out as usize].load(Ordering::Relaxed) {
        if let Err(e) = std::io::stdout().lock().flush() {
            failed(Stream::Out, e);
        }
    }
    let failed = FAILED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    match failed {
        Some(e) => {
            errln!("error: {}", Report::new("cannot write the output").cause(e));
            code.max(2)
        }
        None => code,
    }
}

pub struct Output {
    pub json: bool,
    /// The command's name, as `--json` documents carry it.
    pub command: String,
}

/// An error as `--json` writes it: `{"message": …, "causes": […], "help": … or null}`.
pub fn report_json(r: &Report) -> Value {
    json!({"message": r.message, "causes": r.causes, "help": r.help})
}

impl Output {
    /// The command failed: the error on stderr and, with `--json`, as the one document on
    /// stdout. Returns the exit code.
    pub fn failure(&self, e: &Error) -> u8 {
        let code = e.exit_code();
        self.failed(&e.report(), code);
        code
    }

    /// The command failed with `code` for the reason `r`.
    pub fn failed(&self, r: &Report, code: u8) {
        self.error(r);
        if self.json {
            outln!("{}", json!({"command": self.command, "exit": code, "error": report_json(r)}));
        }
    }

    /// An error on stderr alone: one that a report also carries (a target an audit could not
    /// read, an artifact `verify` refuses).
    pub fn error(&self, e: &impl std::fmt::Display) {
        errln!("error: {e}");
    }

    pub fn warning(&self, msg: &str) {
        errln!("warning: {msg}");
    }

    pub fn note(&self, msg: &str) {
        errln!("{msg}");
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
                "frames": {"reused": r.frames.reused, "compressed": r.frames.compressed},
                "base-index": r.base_index,
                "decoded": {"reused": r.decoded.reused, "decompressed": r.decoded.decompressed},
                "baseline": r.baseline,
                "patches": r.patches.iter().map(|p| json!({
                    "id": p.id, "added": p.added.len(), "changed": p.changed.len(), "removed": p.removed.len(), "fixes": p.fixes,
                    "package": p.deb.as_ref().map(|d| json!({"name": d.package, "version": d.version, "previous": d.previous, "scripts": d.scripts, "triggers": d.triggers, "dist": d.dist})),
                })).collect::<Vec<_>>(),
                "notable": r.notable.iter().map(|n| json!({"path": n.path, "why": n.why, "patch": n.patch})).collect::<Vec<_>>(),
                "checks": r.checks.iter().map(|c| json!({"name": c.name, "result": c.result})).collect::<Vec<_>>(),
                "warnings": r.warnings,
            });
            outln!("{doc}");
            return;
        }
        let parent = r.parent.as_ref().map(|p| format!(" (parent {p})")).unwrap_or_default();
        match r.status {
            Status::Built => outln!("built {} {}{parent}", r.name, r.version),
            Status::Unchanged => {
                outln!("unchanged {} {}: the tree is the one recorded in {}", r.name, r.version, r.baseline)
            }
        }
        for (image, path) in &r.images {
            let note = if r.rewritten.contains(path) { "  (written again; matches the record)" } else { "" };
            outln!("  image     {path}  {} bytes  sha256 {}{note}", image.size, image.sha256);
        }
        if let Some((o, path)) = &r.oci {
            let note = if r.rewritten.contains(path) { "  (written again; matches the record)" } else { "" };
            outln!("  oci       {path}  {}  manifest {}  layer {}{note}", o.platform, o.manifest, o.layer);
        }
        let f = r.frames;
        if f.reused + f.compressed > 0 {
            outln!("  frames    {} compressed, {} from the cache", f.compressed, f.reused);
        }
        if r.decoded.reused > 0 {
            let d = r.decoded;
            outln!("  patches   {} decompressed, {} read decoded from the cache", d.decompressed, d.reused);
        }
        if r.base_index == Some("used") {
            outln!("  base      read from the cache's index of it, not decoded again");
        }
        outln!("  baseline  {}  {} entries  tree sha256 {}", r.baseline, r.entries, r.tree);
        for p in &r.patches {
            outln!("  patch     {}  +{} ~{} -{}", p.id, p.added.len(), p.changed.len(), p.removed.len());
            if let Some(d) = &p.deb {
                let from = d.previous.as_ref().map(|v| format!("{v} → ")).unwrap_or_default();
                let fixes = if p.fixes.is_empty() { String::new() } else { format!("  fixes {}", p.fixes.join(", ")) };
                outln!("  package   {} {from}{}{fixes}", d.package, d.version);
            }
        }
        for c in &r.checks {
            outln!("  check     {}: {}", c.name, c.result);
        }
        for n in &r.notable {
            outln!("  notable   {} is {} (from {})", n.path, n.why, n.patch);
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
            let failures: Vec<Value> = r.failures.iter().map(|e| report_json(&e.report())).collect();
            outln!(
                "{}",
                json!({"command": "verify", "name": r.name, "version": r.version, "ok": r.failures.is_empty(), "artifacts": artifacts, "failures": failures})
            );
        } else {
            for a in &r.artifacts {
                let signers: Vec<String> = a.signers.iter().map(|s| format!("{} ({})", s.key, s.key_id)).collect();
                outln!("ok  {}  {}  signed by {}", a.id, a.artifact, signers.join(", "));
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
            outln!("{doc}");
            return;
        }
        match &r.signed {
            Some((key, comment)) => outln!("ok  {}  signed by `{key}`: \"{comment}\"", crate::sign::SUMS_SIG),
            None => outln!("--  {}  no signature required (the recipe has no `[sign]`)", crate::sign::SUMS_SIG),
        }
        for f in &r.checked {
            outln!("ok  {f}");
        }
        for f in &r.unchecked {
            outln!("--  {f}  not found: unchecked");
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
            outln!("{doc}");
            return;
        }
        outln!("intake {} {}: appended to {}", r.name, r.id, r.recipe);
        outln!("  artifact  {}  sha256 {}", r.artifact, r.sha256);
        let signers: Vec<String> = r.signers.iter().map(|s| format!("{} ({})", s.key, s.key_id)).collect();
        outln!("  signed    by {}  (threshold {})", signers.join(", "), r.threshold);
        outln!("  approval  {} by {} on {}", r.approval.change, r.approval.by, r.approval.date);
    }

    pub fn defer(&self, r: &DeferReport) {
        let action = match r.action {
            Action::Deferred(Deferral::Moved) => "moved",
            Action::Deferred(Deferral::Updated) => "updated",
            Action::Deferred(Deferral::Recorded) => "recorded",
            Action::Restored => "restored",
            Action::Dropped(_) => "dropped",
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
            outln!("{doc}");
            return;
        }
        match r.action {
            Action::Deferred(Deferral::Moved) => {
                outln!("deferred {} {}: moved from [[patch]] to [[deferred]] in {}", r.name, r.id, r.recipe)
            }
            Action::Deferred(Deferral::Updated) => {
                outln!("deferred {} {}: decision updated in {}", r.name, r.id, r.recipe)
            }
            Action::Deferred(Deferral::Recorded) => outln!("deferred {} {}: recorded in {}", r.name, r.id, r.recipe),
            Action::Restored => {
                outln!("restored {} {}: back at the end of [[patch]] in {}", r.name, r.id, r.recipe)
            }
            Action::Dropped(section) => {
                outln!("dropped {} {}: removed from [[{section}]] in {}", r.name, r.id, r.recipe)
            }
        }
        if let (Some(reason), false) = (&r.reason, r.action == Action::Restored) {
            outln!("  reason      {reason}");
        }
        if let Some(m) = &r.mitigation {
            outln!("  mitigation  {m}");
        }
        if let Some(d) = &r.review_by {
            outln!("  review by   {d}");
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
            outln!(
                "{}",
                json!({"command": "plan", "today": today.to_string(), "overdue": r.overdue(), "images": images, "patches": patches, "reviews": reviews})
            );
            return;
        }
        if r.patches.is_empty() {
            outln!("plan on {today}: every approved patch is in a recorded baseline");
        } else {
            outln!(
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
            outln!("  {:>2}. {}  {}  {what}  {since}  {due}{fixes}", i + 1, p.image, p.id);
        }
        if !r.reviews.is_empty() {
            outln!("deferrals past their review date:");
            for v in &r.reviews {
                outln!(
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
            outln!("{doc}");
            return;
        }
        let was = r.from.as_ref().map(|f| format!(" (was {f})")).unwrap_or_default();
        outln!("promoted {} {} to {}{was}", r.name, r.version, r.channel);
        if let Some((channel, secs)) = &r.soaked {
            outln!("  soaked    {} in {channel} (soak {})", duration(*secs), duration(r.soak));
        }
        if r.emergency {
            outln!("  EMERGENCY under {}: the soak was not required", r.change.as_deref().unwrap_or_default());
        }
    }

    pub fn rollback(&self, r: &RollbackReport) {
        if self.json {
            outln!(
                "{}",
                json!({"command": "rollback", "name": r.name, "channel": r.channel, "from": r.from, "to": r.to})
            );
            return;
        }
        outln!("rolled back {} {}: {} -> {}", r.name, r.channel, r.from, r.to);
    }

    pub fn revoke(&self, r: &RevokeReport) {
        if self.json {
            outln!(
                "{}",
                json!({"command": "revoke", "name": r.name, "version": r.version, "reason": r.reason, "channels": r.channels})
            );
            return;
        }
        outln!("revoked {} {}: {}", r.name, r.version, r.reason);
        if r.channels.is_empty() {
            outln!("  no channel holds it");
        } else {
            outln!("  still current in: {}  (roll them back: gild rollback {} CHANNEL)", r.channels.join(", "), r.name);
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
                    "ok": v.ok(),
                    "lines": r.lines.len(),
                    "anchors": v.anchors.iter().map(|a| json!({"source": a.source, "seq": a.head.seq, "hash": a.head.hash})).collect::<Vec<_>>(),
                    "unanchored": v.unanchored,
                    "problem": v.problem.as_ref().map(|p| json!({"line": p.line, "cause": p.cause})),
                    "unjournaled": v.unjournaled.iter().map(|(version, baseline)| json!({"version": version, "baseline": baseline})).collect::<Vec<_>>(),
                })
            });
            outln!(
                "{}",
                json!({"command": "log", "name": r.name, "journal": r.path, "entries": entries, "verified": verified})
            );
        } else {
            for line in &r.lines {
                outln!("{}", log_line(line));
            }
            if let Some(v) = &r.verified {
                if v.problem.is_none() {
                    let heads = if v.anchors.is_empty() {
                        "no recorded heads to compare with".to_string()
                    } else {
                        format!("{} recorded head(s) match", v.anchors.len())
                    };
                    outln!("verified: {} line(s), chain intact, {heads}", r.lines.len());
                    if v.unanchored > 0 {
                        outln!(
                            "note: the last {} line(s) come after the newest recorded head; a change to the last of them, or a cut there, would not show",
                            v.unanchored
                        );
                    }
                }
                for (version, baseline) in &v.unjournaled {
                    outln!(
                        "unjournaled: {} {version} is recorded in `{baseline}` without its `build` line; the next command that writes the journal records it as `recovered`",
                        r.name
                    );
                }
            }
        }
        if let Some(p) = r.verified.as_ref().and_then(|v| v.problem.as_ref()) {
            self.error(p);
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
