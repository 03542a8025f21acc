//! Is a target compliant with a baseline? (docs/audit.md, `audit`)
//!
//! A target is compliant when it is on a non-revoked version not older than the baseline and
//! every baseline path not ignored matches in type, mode, uid, gid, link and digest. Extra
//! paths are listed; they count only with `--strict`, except a setuid/setgid or world-writable
//! extra file, which always does. A patch is missing when a path it last set or removed
//! differs. A target whose source lacks a keyword cannot be shown compliant.
//!
//! [`judge`] is the pure core: the changes from the compared baseline to the target in, which
//! of them count and which patches they show missing out. Versions, revocations and reading
//! the trees are the operation's business (`ops::audit`).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::diff::{Attribution, Change, Status};

/// Paths an audit passes over: the recipe's `[audit] ignore` and `--ignore` globs, matched
/// against the path without `./` (`var/log/**`); `*` stays within one component.
#[derive(Debug, Clone)]
pub struct Ignore {
    set: GlobSet,
    pub patterns: Vec<String>,
}

impl Ignore {
    /// Compiles the globs; a bad one is reported with its index and why.
    pub fn new(patterns: &[String]) -> Result<Ignore, (usize, String)> {
        let mut builder = GlobSetBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            let p = p.trim_start_matches("./").trim_start_matches('/');
            let glob = GlobBuilder::new(p).literal_separator(true).backslash_escape(true).build();
            builder.add(glob.map_err(|e| (i, e.kind().to_string()))?);
        }
        let set = builder.build().map_err(|e| (0, e.to_string()))?;
        Ok(Ignore { set, patterns: patterns.to_vec() })
    }

    pub fn none() -> Ignore {
        Ignore::new(&[]).expect("no globs always compile")
    }

    pub fn matches(&self, path: &[u8]) -> bool {
        !self.patterns.is_empty() && self.set.is_match(OsStr::from_bytes(path))
    }
}

/// Which of a target's differences count, by index into the changes judged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Baseline paths the target lacks or has otherwise.
    pub drift: Vec<usize>,
    /// Paths only the target has, and whether each counts against compliance.
    pub extra: Vec<(usize, bool)>,
    /// Differing paths passed over by the ignore globs.
    pub ignored: usize,
    /// Patches whose paths differ (a path the patch last set or removed), in first-seen order.
    pub missing: Vec<String>,
}

impl Verdict {
    /// No drift and no extra path that counts.
    pub fn clean(&self) -> bool {
        self.drift.is_empty() && self.extra.iter().all(|(_, counts)| !counts)
    }
}

/// Sorts the changes from the compared baseline to a target into what counts.
pub fn judge(changes: &[Change], attribution: &Attribution, ignore: &Ignore, strict: bool) -> Verdict {
    let mut v = Verdict::default();
    let mut missing = BTreeSet::new();
    for (i, c) in changes.iter().enumerate() {
        if ignore.matches(c.path) {
            v.ignored += 1;
            continue;
        }
        let patch = attribution.patch(c.path);
        if let Some(p) = patch {
            if missing.insert(p) {
                v.missing.push(p.to_string());
            }
        }
        match c.status {
            Status::Added => {
                let dangerous = c.flags.iter().any(|f| matches!(*f, "setuid" | "setgid" | "world-writable"));
                v.extra.push((i, strict || dangerous || patch.is_some()));
            }
            Status::Removed | Status::Changed => v.drift.push(i),
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Record;
    use crate::tree::Node;

    fn record(patches: &str) -> Record {
        let text = format!(
            "gild = \"0.1.0\"\nname = \"demo\"\nversion = \"1.0.0\"\ntree = \"\"\nrecipe = \"\"\nentries = 0\n[base]\nartifact = \"b\"\nsha256 = \"\"\n{patches}"
        );
        Record::from_toml(&text).unwrap()
    }

    #[test]
    fn ignore_globs_match_paths_without_dot_slash_and_star_stays_in_a_component() {
        let ig = Ignore::new(&["var/log/**".into(), "./etc/machine-id".into(), "tmp/*".into()]).unwrap();
        assert!(ig.matches(b"var/log/syslog"));
        assert!(ig.matches(b"var/log/apt/history.log"));
        assert!(!ig.matches(b"var/log"));
        assert!(ig.matches(b"etc/machine-id"));
        assert!(ig.matches(b"tmp/x"));
        assert!(!ig.matches(b"tmp/x/y"));
        assert!(ig.matches(b"var/log/caf\xe9"), "non-UTF-8 names match too");
        assert_eq!(Ignore::new(&["ok".into(), "bad[".into()]).unwrap_err().0, 1);
    }

    #[test]
    fn extras_count_when_strict_dangerous_or_removed_by_a_patch() {
        let rec = record(
            "[[patch]]\nid = \"P-1\"\nartifact = \"p\"\nsha256 = \"\"\nseverity = \"high\"\napproval = { change = \"C\", by = \"b\", date = 2026-01-01 }\nremoved = [\"./etc/motd\"]\nchanged = [\"./usr/bin/sh\"]\n",
        );
        let at = Attribution::of(&rec).unwrap();
        let node = Node::dir(0o755, 0, 0);
        let change = |path: &'static [u8], status, flags: Vec<&'static str>| Change {
            path,
            status,
            aspects: Vec::new(),
            before: None,
            after: Some(&node),
            flags,
        };
        let changes = vec![
            change(b"etc/motd", Status::Added, vec![]),
            change(b"opt/tool", Status::Added, vec![]),
            change(b"opt/su", Status::Added, vec!["setuid"]),
            change(b"usr/bin/sh", Status::Changed, vec![]),
            change(b"var/log/x", Status::Added, vec!["setuid"]),
        ];
        let ig = Ignore::new(&["var/log/**".into()]).unwrap();
        let v = judge(&changes, &at, &ig, false);
        assert_eq!(v.extra, [(0, true), (1, false), (2, true)]);
        assert_eq!(v.drift, [3]);
        assert_eq!(v.ignored, 1);
        assert_eq!(v.missing, ["P-1"]);
        assert!(!v.clean());
        let strict = judge(&changes[1..2], &at, &ig, true);
        assert_eq!(strict.extra, [(0, true)]);
        assert!(judge(&changes[1..2], &at, &ig, false).clean());
    }
}
