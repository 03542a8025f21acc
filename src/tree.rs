//! The image's file tree as gild holds it: metadata per path, contents in the spool.
//!
//! Paths are the bytes relative to the image root without a leading `./` (the root itself is
//! the empty path). A `BTreeMap` keeps them in path-byte order, which is the order of the
//! image and of `files.mtree`, and makes every subtree one contiguous range.
//!
//! The same model holds every tree source gild compares (docs/audit.md): [`source`] reads a baseline,
//! a tarball, a directory or an mtree spec ([`spec`]) into a [`Tree`], with [`Lacks`] for what
//! a source could not say about an entry.

pub mod source;
pub mod spec;

mod archive;
pub mod walk;

use std::collections::BTreeMap;
use std::ops::{BitOr, BitOrAssign, Bound};

use crate::spool::Content;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Content),
    Symlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

impl Kind {
    pub fn mtree_type(&self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::File(_) => "file",
            Kind::Symlink(_) => "link",
            Kind::Char(..) => "char",
            Kind::Block(..) => "block",
            Kind::Fifo => "fifo",
        }
    }
}

/// Who last set a path: a layer index (0 is the base) or gild itself.
pub type Origin = u16;
/// The origin of what gild adds itself (`etc/gild/release` and the dirs it needs).
pub const GILD: Origin = u16::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    /// Sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub origin: Origin,
}

impl Node {
    pub fn dir(mode: u32, mtime: i64, origin: Origin) -> Node {
        Node { kind: Kind::Dir, mode, uid: 0, gid: 0, mtime, xattrs: Vec::new(), origin }
    }

    /// Equal as the baseline sees it: everything but the mtime and who set it.
    pub fn same_state(&self, other: &Node) -> bool {
        let content = |k: &Kind| match k {
            Kind::File(c) => Kind::File(Content { id: 0, offset: 0, ..c.clone() }),
            other => other.clone(),
        };
        content(&self.kind) == content(&other.kind)
            && self.mode == other.mode
            && self.uid == other.uid
            && self.gid == other.gid
            && self.xattrs == other.xattrs
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir)
    }
}

/// What a tree source could not say about one entry (a spec without `sha256digest`, say), so
/// the checks that need it cannot be made. A set of flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Lacks(u8);

impl Lacks {
    pub const NONE: Lacks = Lacks(0);
    pub const MODE: Lacks = Lacks(1);
    pub const UID: Lacks = Lacks(1 << 1);
    pub const GID: Lacks = Lacks(1 << 2);
    pub const SIZE: Lacks = Lacks(1 << 3);
    pub const DIGEST: Lacks = Lacks(1 << 4);
    pub const LINK: Lacks = Lacks(1 << 5);
    pub const DEVICE: Lacks = Lacks(1 << 6);
    const ALL: [(Lacks, &'static str); 7] = [
        (Lacks::MODE, "mode"),
        (Lacks::UID, "uid"),
        (Lacks::GID, "gid"),
        (Lacks::SIZE, "size"),
        (Lacks::DIGEST, "sha256digest"),
        (Lacks::LINK, "link"),
        (Lacks::DEVICE, "device"),
    ];

    pub fn has(self, any: Lacks) -> bool {
        self.0 & any.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The mtree keywords lacking, in a fixed order.
    pub fn keywords(self) -> Vec<&'static str> {
        Lacks::ALL.iter().filter(|(l, _)| self.has(*l)).map(|(_, k)| *k).collect()
    }
}

impl BitOr for Lacks {
    type Output = Lacks;
    fn bitor(self, rhs: Lacks) -> Lacks {
        Lacks(self.0 | rhs.0)
    }
}

impl BitOrAssign for Lacks {
    fn bitor_assign(&mut self, rhs: Lacks) {
        self.0 |= rhs.0;
    }
}

#[derive(Debug, Default)]
pub struct Tree {
    nodes: BTreeMap<Vec<u8>, Node>,
}

impl Tree {
    pub fn new(root: Node) -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert(Vec::new(), root);
        Tree { nodes }
    }

    /// Entries sorted by path without duplicates, the root (the empty path) first; built in
    /// place, without another copy of a large tree.
    pub fn from_sorted(entries: Vec<(Vec<u8>, Node)>) -> Tree {
        debug_assert!(entries.first().is_some_and(|(p, _)| p.is_empty()), "the root comes first");
        Tree { nodes: entries.into_iter().collect() }
    }

    /// The root and every other entry, in any order (a later duplicate wins). Building from
    /// sorted entries is linear, which is what readers of large sorted specs rely on.
    pub fn from_entries(root: Node, entries: impl IntoIterator<Item = (Vec<u8>, Node)>) -> Tree {
        let nodes = std::iter::once((Vec::new(), root)).chain(entries).collect();
        Tree { nodes }
    }

    pub fn get(&self, path: &[u8]) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub fn get_mut(&mut self, path: &[u8]) -> Option<&mut Node> {
        self.nodes.get_mut(path)
    }

    pub fn insert(&mut self, path: Vec<u8>, node: Node) -> Option<Node> {
        self.nodes.insert(path, node)
    }

    pub fn remove(&mut self, path: &[u8]) -> Option<Node> {
        self.nodes.remove(path)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every path in path-byte order, the root first.
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Node)> {
        self.nodes.iter()
    }

    /// The paths strictly below `dir`, in order.
    pub fn descendants<'a>(&'a self, dir: &[u8]) -> impl Iterator<Item = (&'a Vec<u8>, &'a Node)> + 'a {
        let prefix = child_prefix(dir);
        let end = prefix_end(&prefix);
        let upper = match &end {
            Some(e) => Bound::Excluded(e.clone()),
            None => Bound::Unbounded,
        };
        // The root's prefix is empty, which would include the root itself.
        let lower = if prefix.is_empty() { Bound::Excluded(prefix) } else { Bound::Included(prefix) };
        self.nodes.range((lower, upper))
    }

    pub fn has_children(&self, dir: &[u8]) -> bool {
        self.descendants(dir).next().is_some()
    }
}

/// `dir/` (or the empty prefix for the root).
pub fn child_prefix(dir: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p
}

/// The smallest key greater than every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// An entry name as a tree path: `/`, `./`, empty and `.` components dropped (`./usr//bin/`
/// is `usr/bin`, `./` the root); `None` when a component is `..`.
pub fn clean_path(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len());
    for comp in name.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".") {
        if comp == b".." {
            return None;
        }
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(comp);
    }
    Some(out)
}

/// `a` joined with `b` by a slash (just `b` under the root).
pub fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut p = child_prefix(a);
    p.extend_from_slice(b);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_stay_inside_the_directory() {
        let mut t = Tree::new(Node::dir(0o755, 0, 0));
        for p in ["usr", "usr/bin", "usr/bin/x", "usr-foo", "usrx", "var"] {
            t.insert(p.as_bytes().to_vec(), Node::dir(0o755, 0, 0));
        }
        let d: Vec<_> = t.descendants(b"usr").map(|(p, _)| String::from_utf8_lossy(p).into_owned()).collect();
        assert_eq!(d, ["usr/bin", "usr/bin/x"]);
        assert_eq!(t.descendants(b"").count(), 6);
    }
}
