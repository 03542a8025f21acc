//! The only writer to stdout and stderr: human text, or one JSON document with `--json`.

mod compare;

use serde_json::{json, Value};

use crate::error::Error;
use crate::ops::build::{BuildReport, Status};
use crate::ops::verify::VerifyReport;

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
                "rewritten": r.rewritten,
                "baseline": r.baseline,
                "patches": r.patches.iter().map(|p| json!({"id": p.id, "added": p.added.len(), "changed": p.changed.len(), "removed": p.removed.len()})).collect::<Vec<_>>(),
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
        println!("  baseline  {}  {} entries  tree sha256 {}", r.baseline, r.entries, r.tree);
        for p in &r.patches {
            println!("  patch     {}  +{} ~{} -{}", p.id, p.added.len(), p.changed.len(), p.removed.len());
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
}
