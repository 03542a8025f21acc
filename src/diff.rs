//! What differs between two trees, and between two baseline records (docs/audit.md).
//!
//! [`trees`] is a pure function: two trees in, a list of changes sorted by path out. Both
//! trees iterate in path-byte order, so it is one linear merge of two sorted lists, whatever
//! their size. A check one side cannot support (a spec without digests, say) is not made and
//! is counted in [`TreeDiff::unchecked`] instead. [`records`] compares what went into two
//! builds; [`Attribution`] names the patch that last touched a path.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use crate::baseline::{PatchRecord, Record};
use crate::recipe::Deferred;
use crate::tree::source::{self, Source, Xattrs};
use crate::tree::{Kind, Lacks, Node, Tree};

/// One side of a comparison: a tree and what its source could not say.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub tree: &'a Tree,
    pub lacks: &'a HashMap<Vec<u8>, Lacks>,
    pub xattrs: Xattrs,
}

impl<'a> From<&'a Source> for Side<'a> {
    fn from(s: &'a Source) -> Side<'a> {
        Side { tree: &s.tree, lacks: &s.lacks, xattrs: s.xattrs }
    }
}

impl Side<'_> {
    fn lacks(&self, path: &[u8]) -> Lacks {
        if self.lacks.is_empty() {
            return Lacks::NONE;
        }
        self.lacks.get(path).copied().unwrap_or_default()
    }
}

/// What about a path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aspect {
    Type,
    Content,
    Mode,
    Owner,
    Link,
    Device,
    Xattrs,
}

impl Aspect {
    pub fn word(self) -> &'static str {
        match self {
            Aspect::Type => "type",
            Aspect::Content => "content",
            Aspect::Mode => "mode",
            Aspect::Owner => "owner",
            Aspect::Link => "link",
            Aspect::Device => "device",
            Aspect::Xattrs => "xattrs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Added,
    Removed,
    Changed,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Changed => "changed",
        }
    }
}

/// One path that differs from A to B.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub path: &'a [u8],
    pub status: Status,
    /// What differs, for a changed path (the type alone when the type differs).
    pub aspects: Vec<Aspect>,
    pub before: Option<&'a Node>,
    pub after: Option<&'a Node>,
    /// Setuid, setgid, capability or world-writable, when B's file has it and it is added or
    /// changed.
    pub flags: Vec<&'static str>,
}

/// A check that could not be made on some entries, and which side lacked what it needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unchecked {
    pub aspect: Aspect,
    /// `"A"`, `"B"` or `"A and B"`.
    pub side: &'static str,
    /// The keyword missing (`sha256digest`, `mode`, ...).
    pub keyword: &'static str,
    pub entries: u64,
}

#[derive(Debug, Default)]
pub struct TreeDiff<'a> {
    pub changes: Vec<Change<'a>>,
    pub unchecked: Vec<Unchecked>,
}

impl TreeDiff<'_> {
    pub fn count(&self, status: Status) -> usize {
        self.changes.iter().filter(|c| c.status == status).count()
    }
}

/// What a comparison looks at.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Compare extended attributes (as far as both sides know them). `audit` does not:
    /// compliance is type, mode, owner, link and digest.
    pub xattrs: bool,
}

/// Every path that differs from `a` to `b`, in path-byte order.
pub fn trees<'a>(a: Side<'a>, b: Side<'a>, opts: Options) -> TreeDiff<'a> {
    let mut out = TreeDiff::default();
    let mut unchecked: HashMap<(Aspect, &'static str, &'static str), u64> = HashMap::new();
    let mut ia = a.tree.iter().peekable();
    let mut ib = b.tree.iter().peekable();
    loop {
        let order = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => {
                #[cfg(test)]
                tests::COMPARED.with(|c| c.set(c.get() + 1));
                pa.cmp(pb)
            }
        };
        match order {
            Ordering::Less => {
                let (path, node) = ia.next().expect("peeked");
                out.changes.push(Change {
                    path,
                    status: Status::Removed,
                    aspects: Vec::new(),
                    before: Some(node),
                    after: None,
                    flags: Vec::new(),
                });
            }
            Ordering::Greater => {
                let (path, node) = ib.next().expect("peeked");
                out.changes.push(Change {
                    path,
                    status: Status::Added,
                    aspects: Vec::new(),
                    before: None,
                    after: Some(node),
                    flags: flags(node, b.xattrs),
                });
            }
            Ordering::Equal => {
                let (path, na) = ia.next().expect("peeked");
                let (_, nb) = ib.next().expect("peeked");
                let mut note = |aspect, side, keyword| *unchecked.entry((aspect, side, keyword)).or_default() += 1;
                let aspects = compare(na, nb, (a, b), path, opts, &mut note);
                if !aspects.is_empty() {
                    out.changes.push(Change {
                        path,
                        status: Status::Changed,
                        aspects,
                        before: Some(na),
                        after: Some(nb),
                        flags: flags(nb, b.xattrs),
                    });
                }
            }
        }
    }
    out.unchecked = unchecked
        .into_iter()
        .map(|((aspect, side, keyword), entries)| Unchecked { aspect, side, keyword, entries })
        .collect();
    out.unchecked.sort();
    out
}

/// The aspects in which two nodes at one path differ, as far as both sides know them.
fn compare(
    na: &Node,
    nb: &Node,
    (a, b): (Side, Side),
    path: &[u8],
    opts: Options,
    note: &mut dyn FnMut(Aspect, &'static str, &'static str),
) -> Vec<Aspect> {
    if na.kind.mtree_type() != nb.kind.mtree_type() {
        return vec![Aspect::Type];
    }
    let (la, lb) = (a.lacks(path), b.lacks(path));
    // Whether a check can be made; when not, which side lacks which keyword.
    let mut known = |aspect: Aspect, flag: Lacks| -> bool {
        let side = match (la.has(flag), lb.has(flag)) {
            (false, false) => return true,
            (true, false) => "A",
            (false, true) => "B",
            (true, true) => "A and B",
        };
        let keyword = flag.keywords().first().copied().unwrap_or("?");
        note(aspect, side, keyword);
        false
    };
    let mut out = Vec::new();
    let link = matches!(na.kind, Kind::Symlink(_));
    if !link && known(Aspect::Mode, Lacks::MODE) && na.mode != nb.mode {
        out.push(Aspect::Mode);
    }
    let uid = known(Aspect::Owner, Lacks::UID);
    let gid = known(Aspect::Owner, Lacks::GID);
    if (uid && na.uid != nb.uid) || (gid && na.gid != nb.gid) {
        out.push(Aspect::Owner);
    }
    match (&na.kind, &nb.kind) {
        (Kind::File(ca), Kind::File(cb)) => {
            let digest = known(Aspect::Content, Lacks::DIGEST);
            let size = !(la | lb).has(Lacks::SIZE);
            if (digest && ca.sha256 != cb.sha256) || (size && ca.size != cb.size) {
                out.push(Aspect::Content);
            }
        }
        (Kind::Symlink(ta), Kind::Symlink(tb)) if known(Aspect::Link, Lacks::LINK) && ta != tb => {
            out.push(Aspect::Link);
        }
        // Stock tools leave `device` out by default: compared only where both sides have it,
        // and its absence is no check left unmade.
        (Kind::Char(..), Kind::Char(..)) | (Kind::Block(..), Kind::Block(..))
            if !(la | lb).has(Lacks::DEVICE) && na.kind != nb.kind =>
        {
            out.push(Aspect::Device);
        }
        _ => {}
    }
    if opts.xattrs {
        let scope = a.xattrs.min(b.xattrs);
        match scope {
            Xattrs::None => {
                let has = |n: &Node, s: Xattrs| !xattrs_in(n, s).is_empty();
                if has(na, a.xattrs) || has(nb, b.xattrs) {
                    let side = if a.xattrs == Xattrs::None { "A" } else { "B" };
                    note(Aspect::Xattrs, side, "xattr");
                }
            }
            _ if xattrs_in(na, scope) != xattrs_in(nb, scope) => out.push(Aspect::Xattrs),
            _ => {}
        }
    }
    out
}

/// A node's extended attributes a source of that scope knows.
fn xattrs_in(node: &Node, scope: Xattrs) -> Vec<&(Vec<u8>, Vec<u8>)> {
    match scope {
        Xattrs::None => Vec::new(),
        Xattrs::Capability => node.xattrs.iter().filter(|(n, _)| n == b"security.capability").collect(),
        Xattrs::All => node.xattrs.iter().collect(),
    }
}

/// Why an added or changed file deserves a look; a capability only where the side knows.
fn flags(node: &Node, scope: Xattrs) -> Vec<&'static str> {
    let mut out = crate::layer::notable(node);
    if scope == Xattrs::None {
        out.retain(|f| *f != "capability");
    }
    out
}

/// What changed between two builds' records (owned: reports outlive the records read).
#[derive(Debug, Clone, Default)]
pub struct RecordDiff {
    /// The base artifact's sha256 before and after, when it changed.
    pub base: Option<(String, String)>,
    pub patches_added: Vec<PatchRecord>,
    pub patches_removed: Vec<PatchRecord>,
    /// The same patch id with another artifact (its sha256 differs).
    pub patches_changed: Vec<(PatchRecord, PatchRecord)>,
    pub deferred_added: Vec<Deferred>,
    pub deferred_removed: Vec<Deferred>,
    /// The same id deferred with another reason, mitigation or review date.
    pub deferred_changed: Vec<(Deferred, Deferred)>,
    /// CVEs B's patches fix and A's do not, sorted.
    pub cves_fixed: Vec<String>,
    /// CVEs A's patches fix and B's no longer do, sorted.
    pub cves_reverted: Vec<String>,
    /// Debian packages added, removed or at another version, by name.
    pub packages: Vec<PackageChange>,
}

/// One package that differs between two baselines' inventories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageChange {
    /// The database name (`libc6`, `libssl3:amd64`).
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The patch of B that installed it, and what that patch fixes.
    pub patch: Option<String>,
    pub fixes: Vec<String>,
}

impl RecordDiff {
    pub fn is_empty(&self) -> bool {
        self.base.is_none()
            && self.patches_added.is_empty()
            && self.patches_removed.is_empty()
            && self.patches_changed.is_empty()
            && self.deferred_added.is_empty()
            && self.deferred_removed.is_empty()
            && self.deferred_changed.is_empty()
            && self.packages.is_empty()
    }
}

pub fn records(a: &Record, b: &Record) -> RecordDiff {
    let mut d = RecordDiff::default();
    if a.base.sha256 != b.base.sha256 {
        d.base = Some((a.base.sha256.clone(), b.base.sha256.clone()));
    }
    for pb in &b.patch {
        match a.patch.iter().find(|pa| pa.id == pb.id) {
            None => d.patches_added.push(pb.clone()),
            Some(pa) if pa.sha256 != pb.sha256 => d.patches_changed.push((pa.clone(), pb.clone())),
            Some(_) => {}
        }
    }
    d.patches_removed = a.patch.iter().filter(|pa| !b.patch.iter().any(|pb| pb.id == pa.id)).cloned().collect();
    for db in &b.deferred {
        match a.deferred.iter().find(|da| da.id == db.id) {
            None => d.deferred_added.push(db.clone()),
            Some(da) if da != db => d.deferred_changed.push((da.clone(), db.clone())),
            Some(_) => {}
        }
    }
    d.deferred_removed = a.deferred.iter().filter(|da| !b.deferred.iter().any(|db| db.id == da.id)).cloned().collect();
    let fixes = |r: &Record| -> BTreeSet<String> { r.patch.iter().flat_map(|p| p.fixes.iter().cloned()).collect() };
    let (fa, fb) = (fixes(a), fixes(b));
    d.cves_fixed = fb.difference(&fa).cloned().collect();
    d.cves_reverted = fa.difference(&fb).cloned().collect();
    d.packages = packages(a, b);
    d
}

/// Packages by name, merged: added, removed, or at another version in B.
fn packages(a: &Record, b: &Record) -> Vec<PackageChange> {
    let before: std::collections::BTreeMap<&str, &str> =
        a.package.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect();
    let after: std::collections::BTreeMap<&str, (&str, &str)> =
        b.package.iter().map(|p| (p.name.as_str(), (p.version.as_str(), p.patch.as_str()))).collect();
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let mut out = Vec::new();
    for name in names {
        let (old, new) = (before.get(name).copied(), after.get(name).copied());
        if old == new.map(|(v, _)| v) {
            continue;
        }
        let patch = new.map(|(_, p)| p).filter(|p| *p != "base");
        let fixes =
            patch.and_then(|id| b.patch.iter().find(|p| p.id == id)).map(|p| p.fixes.clone()).unwrap_or_default();
        out.push(PackageChange {
            name: name.to_string(),
            before: old.map(str::to_string),
            after: new.map(|(v, _)| v.to_string()),
            patch: patch.map(str::to_string),
            fixes,
        });
    }
    out
}

/// The patch that last added, changed or removed each path, from a record's per-patch lists.
#[derive(Debug, Default)]
pub struct Attribution {
    by_path: HashMap<Vec<u8>, usize>,
    ids: Vec<String>,
}

impl Attribution {
    pub fn of(record: &Record) -> Result<Attribution, String> {
        let mut out = Attribution::default();
        for (i, p) in record.patch.iter().enumerate() {
            out.ids.push(p.id.clone());
            for escaped in p.added.iter().chain(&p.changed).chain(&p.removed) {
                let path = source::record_path(escaped).map_err(|why| format!("patch `{}`: {why}", p.id))?;
                out.by_path.insert(path, i);
            }
        }
        Ok(out)
    }

    /// The id of the patch that last touched `path`, if a patch did.
    pub fn patch(&self, path: &[u8]) -> Option<&str> {
        self.by_path.get(path).map(|&i| self.ids[i].as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::Content;

    fn file(sha: u8, mode: u32) -> Node {
        Node {
            kind: Kind::File(Content::digest(1, [sha; 32])),
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
            origin: 0,
        }
    }

    fn tree(entries: &[(&str, Node)]) -> Tree {
        Tree::from_entries(Node::dir(0o755, 0, 0), entries.iter().map(|(p, n)| (p.as_bytes().to_vec(), n.clone())))
    }

    fn side<'a>(t: &'a Tree, lacks: &'a HashMap<Vec<u8>, Lacks>, xattrs: Xattrs) -> Side<'a> {
        Side { tree: t, lacks, xattrs }
    }

    #[test]
    fn changes_come_sorted_with_what_differs() {
        let none = HashMap::new();
        let a = tree(&[
            ("etc", Node::dir(0o755, 0, 0)),
            ("etc/a", file(1, 0o644)),
            ("etc/b", file(2, 0o644)),
            ("z", file(3, 0o644)),
        ]);
        let mut owned = file(2, 0o600);
        owned.uid = 1000;
        let b = tree(&[
            ("etc", Node::dir(0o755, 0, 0)),
            ("etc/b", owned),
            ("etc/c", file(4, 0o4755)),
            ("z", Node::dir(0o755, 0, 0)),
        ]);
        let d = trees(side(&a, &none, Xattrs::All), side(&b, &none, Xattrs::All), Options { xattrs: true });
        let got: Vec<(String, Status, Vec<Aspect>, Vec<&str>)> = d
            .changes
            .iter()
            .map(|c| (String::from_utf8_lossy(c.path).into_owned(), c.status, c.aspects.clone(), c.flags.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("etc/a".into(), Status::Removed, vec![], vec![]),
                ("etc/b".into(), Status::Changed, vec![Aspect::Mode, Aspect::Owner], vec![]),
                ("etc/c".into(), Status::Added, vec![], vec!["setuid"]),
                ("z".into(), Status::Changed, vec![Aspect::Type], vec![]),
            ]
        );
        assert!(d.unchecked.is_empty());
    }

    #[test]
    fn a_side_without_digests_is_compared_on_size_and_says_so() {
        let a = tree(&[("f", file(1, 0o644))]);
        let b = tree(&[("f", file(2, 0o644))]);
        let none = HashMap::new();
        let lacks: HashMap<Vec<u8>, Lacks> = [(b"f".to_vec(), Lacks::DIGEST)].into_iter().collect();
        let d = trees(side(&a, &none, Xattrs::All), side(&b, &lacks, Xattrs::None), Options { xattrs: true });
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        assert_eq!(
            d.unchecked,
            [Unchecked { aspect: Aspect::Content, side: "B", keyword: "sha256digest", entries: 1 }]
        );
    }

    #[test]
    fn xattrs_compare_within_what_both_sides_know() {
        let mut capped = file(1, 0o755);
        capped.xattrs = vec![(b"security.capability".to_vec(), vec![1]), (b"user.x".to_vec(), vec![2])];
        let mut labelled = file(1, 0o755);
        labelled.xattrs = vec![(b"security.capability".to_vec(), vec![1])];
        let (a, b) = (tree(&[("ping", capped)]), tree(&[("ping", labelled)]));
        let none = HashMap::new();
        let all = trees(side(&a, &none, Xattrs::All), side(&b, &none, Xattrs::All), Options { xattrs: true });
        assert_eq!(all.changes[0].aspects, [Aspect::Xattrs]);
        assert_eq!(all.changes[0].flags, ["capability"]);
        let cap = trees(side(&a, &none, Xattrs::All), side(&b, &none, Xattrs::Capability), Options { xattrs: true });
        assert!(cap.changes.is_empty());
    }

    thread_local! {
        /// Path comparisons made by [`trees`] on this thread: what "linear" is counted in.
        pub(super) static COMPARED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// One linear merge: at most one path comparison per entry of either tree, however the
    /// trees interleave (counted, not timed).
    #[test]
    fn a_long_diff_is_a_linear_merge() {
        let n = 200_000;
        let entries: Vec<(Vec<u8>, Node)> = (0..n).map(|i| (format!("f{i:07}").into_bytes(), file(1, 0o644))).collect();
        let a = Tree::from_entries(Node::dir(0o755, 0, 0), entries.clone());
        let b = Tree::from_entries(
            Node::dir(0o755, 0, 0),
            entries.into_iter().enumerate().map(|(i, (p, n))| if i % 1000 == 0 { (p, file(2, 0o644)) } else { (p, n) }),
        );
        let none = HashMap::new();
        let counted = |a: &Tree, b: &Tree| {
            COMPARED.with(|c| c.set(0));
            let d = trees(side(a, &none, Xattrs::All), side(b, &none, Xattrs::All), Options { xattrs: true });
            (d.changes.len(), COMPARED.with(|c| c.get()))
        };
        let (changes, compared) = counted(&a, &b);
        assert_eq!(changes, n / 1000);
        assert!(compared <= (a.len() + b.len()) as u64, "{compared} comparisons for {} entries", a.len() + b.len());
        // Interleaved, nothing in common: every path is on one side only.
        let odd = Tree::from_entries(
            Node::dir(0o755, 0, 0),
            (0..n).map(|i| (format!("f{i:07}x").into_bytes(), file(1, 0o644))),
        );
        let (changes, compared) = counted(&a, &odd);
        assert_eq!(changes, 2 * n);
        assert!(compared <= (a.len() + odd.len()) as u64, "{compared} comparisons for {} entries", a.len() + odd.len());
    }
}
