//! `gild diff A B`: what differs between two tree sources, each differing path attributed to
//! the patch that last touched it; for two baselines also the patches, deferrals and CVEs.

use crate::baseline::mtree;
use crate::diff::{self, Aspect, Attribution, Side, Status, Unchecked};
use crate::error::{Error, Report};
use crate::hex;
use crate::ops::{sources, Context};
use crate::tree::source::Source;
use crate::tree::{Kind, Lacks, Node};

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    pub a: String,
    pub b: String,
}

/// A tree source as a report names it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// The argument as given.
    pub label: String,
    /// `baseline`, `tarball`, `directory` or `spec`.
    pub kind: &'static str,
    /// Name and version, for a recorded baseline.
    pub name: Option<String>,
    pub version: Option<String>,
    pub entries: usize,
}

impl SourceInfo {
    pub fn of(s: &Source) -> SourceInfo {
        SourceInfo {
            label: s.label.clone(),
            kind: s.kind.word(),
            name: s.record().map(|r| r.name.clone()),
            version: s.record().map(|r| r.version.clone()),
            // A recorded baseline read for a diff holds only the entries that differ.
            entries: s.record().map_or(s.tree.len(), |r| r.entries as usize),
        }
    }

    /// `demo 1.0.0` for a baseline, else the label.
    pub fn title(&self) -> String {
        match (&self.name, &self.version) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            _ => self.label.clone(),
        }
    }
}

/// An entry as a source describes it; `None` where the source does not say or it does not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryState {
    pub kind: &'static str,
    pub mode: Option<u32>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// Escaped as in `files.mtree`.
    pub link: Option<String>,
    pub device: Option<(u32, u32)>,
}

impl EntryState {
    pub fn of(node: &Node, lacks: Lacks) -> EntryState {
        let known = |flag: Lacks| !lacks.has(flag);
        let mut s = EntryState {
            kind: node.kind.mtree_type(),
            mode: (known(Lacks::MODE) && !matches!(node.kind, Kind::Symlink(_))).then_some(node.mode),
            uid: known(Lacks::UID).then_some(node.uid),
            gid: known(Lacks::GID).then_some(node.gid),
            size: None,
            sha256: None,
            link: None,
            device: None,
        };
        match &node.kind {
            Kind::File(c) => {
                s.size = known(Lacks::SIZE).then_some(c.size);
                s.sha256 = known(Lacks::DIGEST).then(|| hex::encode(&c.sha256));
            }
            Kind::Symlink(t) => s.link = known(Lacks::LINK).then(|| mtree::escape(t)),
            Kind::Char(a, b) | Kind::Block(a, b) => s.device = known(Lacks::DEVICE).then_some((*a, *b)),
            Kind::Dir | Kind::Fifo => {}
        }
        s
    }
}

/// One differing path, owned, ready to print.
#[derive(Debug, Clone)]
pub struct PathChange {
    /// Escaped as in `files.mtree` (`./usr/bin/su`).
    pub path: String,
    pub status: Status,
    pub aspects: Vec<Aspect>,
    pub before: Option<EntryState>,
    pub after: Option<EntryState>,
    /// The patch that last touched the path, when one did.
    pub patch: Option<String>,
    pub flags: Vec<&'static str>,
}

impl PathChange {
    /// The owned form of one change from `a` to `b`, attributed to the first attribution that
    /// names its path.
    pub fn of(c: &diff::Change, a: &Source, b: &Source, attribution: &[&Attribution]) -> PathChange {
        PathChange {
            path: mtree::escape_path(c.path),
            status: c.status,
            aspects: c.aspects.clone(),
            before: c.before.map(|n| EntryState::of(n, a.lacks(c.path))),
            after: c.after.map(|n| EntryState::of(n, b.lacks(c.path))),
            patch: attribution.iter().find_map(|at| at.patch(c.path)).map(str::to_string),
            flags: c.flags.clone(),
        }
    }
}

/// Every path that differs from `a` to `b`, owned, and the checks that could not be made.
pub fn path_changes(
    a: &Source,
    b: &Source,
    opts: diff::Options,
    attribution: &[&Attribution],
) -> (Vec<PathChange>, Vec<Unchecked>) {
    let d = diff::trees(Side::from(a), Side::from(b), opts);
    let changes = d.changes.iter().map(|c| PathChange::of(c, a, b, attribution)).collect();
    (changes, d.unchecked)
}

/// What differs between two baselines' records.
pub type RecordChanges = diff::RecordDiff;

#[derive(Debug, Clone)]
pub struct DiffReport {
    pub a: SourceInfo,
    pub b: SourceInfo,
    pub changes: Vec<PathChange>,
    pub unchecked: Vec<Unchecked>,
    /// For two recorded baselines.
    pub records: Option<RecordChanges>,
    pub warnings: Vec<String>,
}

impl DiffReport {
    pub fn count(&self, status: Status) -> usize {
        self.changes.iter().filter(|c| c.status == status).count()
    }

    pub fn differ(&self) -> bool {
        !self.changes.is_empty() || self.records.as_ref().is_some_and(|r| !r.is_empty())
    }

    /// 0 no difference, 1 differences.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.differ())
    }
}

pub fn diff(ctx: &Context, opts: &DiffOptions) -> Result<DiffReport, Error> {
    let locator = sources::locator(ctx)?;
    let (a, b) = match locator.recorded_pair(&opts.a, &opts.b)? {
        Some(pair) => pair,
        None => {
            // Read both at once: two large specs parse in the time of one.
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| locator.open(&opts.a));
                let b = locator.open(&opts.b);
                (a.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), b)
            });
            (a?, b?)
        }
    };
    let mut attributions = Vec::new();
    for s in [&b, &a] {
        if let Some(r) = s.record() {
            let at = Attribution::of(r).map_err(|why| {
                Error::Corrupt(Report::new(format!("the record of `{}` is not valid", s.label)).cause(why))
            })?;
            attributions.push(at);
        }
    }
    let refs: Vec<&Attribution> = attributions.iter().collect();
    let (changes, unchecked) = path_changes(&a, &b, diff::Options { xattrs: true }, &refs);
    let records = match (a.record(), b.record()) {
        (Some(ra), Some(rb)) => Some(diff::records(ra, rb)),
        _ => None,
    };
    let mut warnings = a.warnings.clone();
    warnings.extend(b.warnings.iter().cloned());
    Ok(DiffReport { a: SourceInfo::of(&a), b: SourceInfo::of(&b), changes, unchecked, records, warnings })
}
