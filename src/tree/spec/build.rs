//! A spec's entries made a [`Tree`]: one node per entry, what each lacks, duplicates named by
//! their two lines.

use std::collections::HashMap;

use super::{Entry, EntryType, Spec, SpecError};
use crate::spool::Content;
use crate::tree::{Kind, Lacks, Node, Tree};

/// The tree a spec describes, with what each entry lacks, and the number of sockets passed
/// over (gild's trees hold none).
pub struct SpecTree {
    pub tree: Tree,
    pub lacks: HashMap<Vec<u8>, Lacks>,
    pub sockets: usize,
}

/// Makes the entries a tree. Every entry needs a `type`; a path may appear once. A spec
/// without the root `.` gets a root whose mode and owner are unknown.
pub fn to_tree(spec: Spec) -> Result<SpecTree, SpecError> {
    let mut builder = Builder::default();
    for e in spec.entries {
        builder.add(e)?;
    }
    builder.finish()
}

/// Collects nodes entry by entry; checks for duplicates once they are sorted.
pub(super) struct Builder {
    /// Path and node; the root first (a stand-in until the spec's `.` comes).
    pub(super) nodes: Vec<(Vec<u8>, Node)>,
    /// The line of each node.
    pub(super) lines: Vec<usize>,
    pub(super) root_line: Option<usize>,
    pub(super) lacks: HashMap<Vec<u8>, Lacks>,
    pub(super) sockets: usize,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::with_capacity(0)
    }
}

impl Builder {
    pub(super) fn with_capacity(n: usize) -> Builder {
        let mut nodes = Vec::with_capacity(n + 1);
        nodes.push((Vec::new(), Node::dir(0, 0, 0)));
        let mut lines = Vec::with_capacity(n + 1);
        lines.push(0);
        Builder { nodes, lines, root_line: None, lacks: HashMap::new(), sockets: 0 }
    }

    pub(super) fn add(&mut self, e: Entry) -> Result<(), SpecError> {
        let Some((node, lacking)) = node(&e)? else {
            self.sockets += 1;
            return Ok(());
        };
        if !lacking.is_empty() {
            self.lacks.insert(e.path.clone(), lacking);
        }
        if !e.path.is_empty() {
            self.nodes.push((e.path, node));
            self.lines.push(e.line);
            return Ok(());
        }
        if !node.is_dir() {
            return Err(SpecError { help: None, line: e.line, why: "the root `.` is not a directory".into() });
        }
        if let Some(first) = self.root_line {
            return Err(twice(b"", first, e.line));
        }
        self.root_line = Some(e.line);
        self.nodes[0].1 = node;
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<SpecTree, SpecError> {
        if !self.nodes.windows(2).all(|w| w[0].0 <= w[1].0) {
            let mut both: Vec<_> = self.nodes.into_iter().zip(self.lines).collect();
            both.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
            (self.nodes, self.lines) = both.into_iter().unzip();
        }
        if let Some(i) = self.nodes.windows(2).position(|w| w[0].0 == w[1].0) {
            return Err(twice(&self.nodes[i].0, self.lines[i], self.lines[i + 1]));
        }
        if self.root_line.is_none() {
            self.lacks.insert(Vec::new(), Lacks::MODE | Lacks::UID | Lacks::GID);
        }
        drop(self.lines);
        Ok(SpecTree { tree: Tree::from_sorted(self.nodes), lacks: self.lacks, sockets: self.sockets })
    }
}

fn twice(path: &[u8], a: usize, b: usize) -> SpecError {
    let (first, second) = (a.min(b), a.max(b));
    SpecError {
        help: None,
        line: second,
        why: format!("`{}` is listed twice (lines {first} and {second})", crate::baseline::mtree::escape_path(path)),
    }
}

/// The node of one entry and what it lacks; `None` for a socket.
fn node(e: &Entry) -> Result<Option<(Node, Lacks)>, SpecError> {
    let k = &e.keywords;
    let err = |why: String| SpecError { help: None, line: e.line, why };
    let kind =
        k.kind.ok_or_else(|| err(format!("`{}` has no `type`", crate::baseline::mtree::escape_path(&e.path))))?;
    let mut lacks = Lacks::NONE;
    let mut want = |present: bool, flag: Lacks| {
        if !present {
            lacks |= flag;
        }
    };
    want(k.uid.is_some(), Lacks::UID);
    want(k.gid.is_some(), Lacks::GID);
    if kind != EntryType::Link {
        want(k.mode.is_some(), Lacks::MODE);
    }
    let kind = match kind {
        EntryType::Socket => return Ok(None),
        EntryType::Dir => Kind::Dir,
        EntryType::Fifo => Kind::Fifo,
        EntryType::File => {
            want(k.size.is_some(), Lacks::SIZE);
            want(k.sha256.is_some(), Lacks::DIGEST);
            Kind::File(Content::digest(k.size.unwrap_or(0), k.sha256.unwrap_or([0; 32])))
        }
        EntryType::Link => {
            want(k.link.is_some(), Lacks::LINK);
            Kind::Symlink(k.link.as_deref().map(<[u8]>::to_vec).unwrap_or_default())
        }
        EntryType::Char | EntryType::Block => {
            want(k.device.is_some(), Lacks::DEVICE);
            let (major, minor) = k.device.unwrap_or((0, 0));
            if kind == EntryType::Char {
                Kind::Char(major, minor)
            } else {
                Kind::Block(major, minor)
            }
        }
    };
    let node = Node {
        kind,
        mode: k.mode.unwrap_or(0),
        uid: k.uid.unwrap_or(0),
        gid: k.gid.unwrap_or(0),
        mtime: 0,
        xattrs: Vec::new(),
        origin: 0,
    };
    Ok(Some((node, lacks)))
}
