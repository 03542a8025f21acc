//! Layering: verified tar streams applied in order onto one tree (docs/layers.md).
//!
//! Paths resolve inside the image root as under chroot: symlinks in parent components are
//! followed (an absolute target from the image root), so a patch's `./lib/x86_64-linux-gnu/…`
//! lands in `usr/lib/…` on a usr-merged base, and no entry of the result has a symlink among
//! its parents. Whiteouts act on the tree as it was before their layer: a node remembers which
//! layer set it, and a whiteout spares what its own layer set, wherever it stands in the tar.

mod check;
mod decode;
pub mod decoded;
pub(crate) mod decompress;
mod dpkg;
mod error;
pub mod index;
mod resolve;
pub mod tar;

use std::collections::HashMap;
use std::io::{self, BufRead};

use crate::limits::Limits;
use crate::progress::Progress;
use crate::spool::{Spool, SpoolReader};
use crate::tree::{self, Kind, Node, Origin, Tree, GILD};
use crate::trust::Verified;
pub use check::check_layer;
pub use decode::{decode, decode_ahead, decode_base, Ahead, Decoded};
pub use decompress::{Compression, Sink, Spill};
pub use dpkg::{inspect, Applied, InspectError, Inspected, Packages, SCRIPTS};
use error::with_window_help;
pub use error::{LayerError, Refusal};
use resolve::Resolver;
use tar::{Archive, Header, TarError};

/// The path gild writes itself; a layer may not ship it.
pub const RELEASE_PATH: &[u8] = b"etc/gild/release";

/// What `etc/gild/release` holds in an image of `name` at `version` (docs/layers.md). `audit` knows a
/// host's version from its digest alone when the host reports with a spec.
pub fn release_text(name: &str, version: &str) -> String {
    format!("name = \"{name}\"\nversion = \"{version}\"\n")
}

/// What one patch did to the tree, as the baseline records it.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub added: Vec<Vec<u8>>,
    pub changed: Vec<Vec<u8>>,
    pub removed: Vec<Vec<u8>>,
    /// The same changes as steps a script can replay on a host (`install.sh`), in an order
    /// that gives the layer's result: removals deepest first, directories parents first, then
    /// everything else in the order the layer set it.
    pub steps: Vec<Step>,
    pub compression: Option<Compression>,
    /// What a Debian package did to the database, when the layer was one.
    pub deb: Option<Applied>,
    /// Files gild generated for this layer (the dpkg database), which no member holds, with
    /// the bytes it gave them.
    pub generated: Vec<(Vec<u8>, crate::spool::Content)>,
    /// The sha256 of the layer as decoded, when the cache keeps it that way.
    pub decoded: Option<[u8; 32]>,
    /// The decoded layer was read from the cache.
    pub from_cache: bool,
}

/// Where a file's content came from within its layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The member of the layer's tar with this name (as the archive spells it).
    Member(Vec<u8>),
    /// A hard link to this (resolved) path of the tree as it was at that point.
    Link(Vec<u8>),
    /// Written by gild for this layer (a Debian package's database files, `.dpkg-dist`
    /// files): `install.sh` takes the bytes from `install-data.tar`.
    Generated,
}

/// One change of a layer, with resolved paths: no step goes through a symlink.
#[derive(Debug, Clone)]
pub enum Step {
    Remove(Vec<u8>),
    Put { path: Vec<u8>, node: Node, source: Option<Source> },
}

/// A setuid/setgid, capability-carrying or world-writable file that a patch added or changed.
#[derive(Debug, Clone)]
pub struct Notable {
    pub path: Vec<u8>,
    pub why: &'static str,
    pub layer: Origin,
}

/// The tree being built, with the spool holding its file contents.
pub struct Layering {
    tree: Tree,
    spool: Spool,
    limits: Limits,
    allow_devices: bool,
    epoch: Option<i64>,
    pub warnings: Vec<String>,
    pub notable: Vec<Notable>,
    /// Which layer last installed each Debian package (by database name).
    installed_by: HashMap<String, Origin>,
}

/// The finished tree and its contents.
pub struct Layered {
    pub tree: Tree,
    pub spool: SpoolReader,
    pub warnings: Vec<String>,
    pub notable: Vec<Notable>,
}

impl Layering {
    pub fn new(limits: Limits, allow_devices: bool, epoch: Option<i64>) -> io::Result<Layering> {
        Ok(Layering {
            tree: Tree::new(Node::dir(0o755, epoch.unwrap_or(0), 0)),
            spool: Spool::new()?,
            limits,
            allow_devices,
            epoch,
            warnings: Vec::new(),
            notable: Vec::new(),
            installed_by: HashMap::new(),
        })
    }

    /// Applies one verified layer (index 0 is the base) and returns what it changed.
    /// Decompression runs on a second thread while this one parses, hashes and spools.
    pub fn apply(
        &mut self,
        index: Origin,
        artifact: &Verified,
        progress: &dyn Progress,
    ) -> Result<Changes, LayerError> {
        let limits = self.limits;
        let (writer, pipe) = decompress::pipe();
        std::thread::scope(|scope| {
            let producer = scope.spawn(move || decode_base(artifact, &limits, writer));
            let finished = || {
                producer
                    .join()
                    .unwrap_or_else(|_| Decoded::failed(io::Error::other("the decompression thread panicked")))
            };
            self.apply_decoded(index, artifact, false, pipe, finished, progress)
        })
    }

    /// Layering that starts from a cached base index instead of the decoded base: the tree
    /// and the base's warnings as the base left them, contents read from the cache's frames.
    pub fn from_index(
        limits: Limits,
        allow_devices: bool,
        epoch: Option<i64>,
        index: index::BaseIndex,
    ) -> io::Result<Layering> {
        index.source.prefetch(dpkg::read_after_patches(&index.tree));
        let spool = Spool::with_external(index.source, index.next_id)?;
        Ok(Layering {
            tree: index.tree,
            spool,
            warnings: index.warnings,
            ..Layering::new(limits, allow_devices, epoch)?
        })
    }

    /// The tree and warnings as they are now (after the base), for a base index.
    pub fn snapshot(&self) -> Option<index::Snapshot> {
        index::Snapshot::take(&self.tree, &self.warnings)
    }

    /// Applies one verified layer from its decompressed `stream`, which [`decode`] produces on
    /// another thread; `finished` waits for what that thread found at the end.
    /// `downgrade` lets a Debian package install a version lower than the tree's.
    pub fn apply_decoded(
        &mut self,
        index: Origin,
        artifact: &Verified,
        downgrade: bool,
        stream: impl BufRead,
        finished: impl FnOnce() -> Decoded,
        progress: &dyn Progress,
    ) -> Result<Changes, LayerError> {
        let spec = artifact.spec();
        let (layer, id) = (spec.written.clone(), spec.id.clone());
        let archive_err = |source: TarError| LayerError::archive(&layer, &id, source);
        let mut pass = Pass::new(index, index > 0);
        progress.start(&format!("layering {id}"), None);
        let (parsed, deb) = if artifact.is_deb() {
            match self.apply_deb(&mut pass, stream, downgrade, &layer, &id) {
                Ok(applied) => (Ok(()), Some(applied)),
                Err(e) => (Err(e), None),
            }
        } else {
            (self.read_layer(&mut pass, stream, &layer, &id, progress), None)
        };
        let produced = finished();
        if let Some(changed) = produced.changed(artifact) {
            return Err(changed.into());
        }
        parsed?;
        let (kept, from_cache) = (produced.kept, produced.from_cache);
        let compression = produced.result.map_err(|e| archive_err(with_window_help(TarError::Io(e))))?;
        produced.digest.map_err(|e| archive_err(TarError::Io(e)))?;
        if pass.dropped.records > 0 {
            let d = &mut pass.dropped;
            d.keys.sort();
            let more = if d.more { format!(" and other keys ({} records in all)", d.records) } else { String::new() };
            self.warnings.push(format!(
                "layer `{layer}` ({id}): dropped PAX records gild does not keep: {}{more}",
                d.keys.join(", ")
            ));
        }
        let generated = pass
            .generated
            .iter()
            .filter_map(|p| match self.tree.get(p).map(|n| &n.kind) {
                Some(Kind::File(c)) => Some((p.clone(), c.clone())),
                _ => None,
            })
            .collect();
        Ok(Changes { compression: Some(compression), deb, generated, decoded: kept, from_cache, ..self.changes(pass) })
    }

    /// Reads every entry of one layer's tar stream into the tree.
    fn read_layer(
        &mut self,
        pass: &mut Pass,
        stream: impl BufRead,
        layer: &str,
        id: &str,
        progress: &dyn Progress,
    ) -> Result<(), LayerError> {
        let archive_err = |source: TarError| LayerError::archive(layer, id, source);
        let mut archive = Archive::new(stream, self.limits);
        loop {
            crate::interrupt::check().map_err(|e| archive_err(e.into()))?;
            let header = match archive.next_entry() {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => return Err(archive_err(with_window_help(e))),
            };
            progress.advance(1);
            let entry = String::from_utf8_lossy(&header.path).into_owned();
            self.entry(pass, header, &mut archive).map_err(|why| match why {
                EntryError::Refused(why) => {
                    LayerError::Entry { layer: layer.to_string(), id: id.to_string(), entry, why }
                }
                EntryError::Tar(e) => archive_err(with_window_help(e)),
                EntryError::Spool(e) => LayerError::Spool(e),
            })?;
        }
        if archive.missing_end {
            self.warnings.push(format!(
                "layer `{layer}` ({id}) ends without end-of-archive blocks (read to its end; the pin proves it whole)"
            ));
        }
        Ok(())
    }

    fn changes(&mut self, mut pass: Pass) -> Changes {
        let mut changes = Changes::default();
        let mut puts = Vec::new();
        for (path, before) in &pass.touched {
            let after = self.tree.get(path);
            match (before, after) {
                (Some(_), None) => changes.steps.push(Step::Remove(path.clone())),
                (None, Some(a)) => puts.push((path.clone(), a.clone())),
                (Some(b), Some(a)) if !b.same_state(a) => puts.push((path.clone(), a.clone())),
                _ => {}
            }
        }
        changes.steps.sort_by(|a, b| match (a, b) {
            (Step::Remove(a), Step::Remove(b)) => b.cmp(a),
            _ => std::cmp::Ordering::Equal,
        });
        let order = |p: &Vec<u8>| pass.order.get(p).copied().unwrap_or(0);
        puts.sort_by(|(pa, a), (pb, b)| {
            (!a.is_dir(), if a.is_dir() { 0 } else { order(pa) }, pa).cmp(&(
                !b.is_dir(),
                if b.is_dir() { 0 } else { order(pb) },
                pb,
            ))
        });
        for (path, node) in puts {
            let source = pass.sources.remove(&path);
            changes.steps.push(Step::Put { path, node, source });
        }
        for (path, before) in pass.touched {
            match (before, self.tree.get(&path)) {
                (None, Some(_)) => changes.added.push(path),
                (Some(_), None) => changes.removed.push(path),
                (Some(b), Some(a)) if !b.same_state(a) => changes.changed.push(path),
                _ => {}
            }
        }
        changes.added.sort();
        changes.changed.sort();
        changes.removed.sort();
        for path in changes.added.iter().chain(&changes.changed) {
            if let Some(node) = self.tree.get(path) {
                for why in notable(node) {
                    self.notable.push(Notable { path: path.clone(), why, layer: pass.index });
                }
            }
        }
        changes
    }

    fn entry<R: BufRead>(&mut self, pass: &mut Pass, h: Header, archive: &mut Archive<R>) -> Result<(), EntryError> {
        pass.dropped.merge(&h.dropped);
        let comps = components(&h.path)?;
        xattr_names(&h)?;
        let mtime = self.epoch.map_or(h.mtime, |e| h.mtime.min(e));
        let Some((name, parents)) = comps.split_last() else {
            // `./` itself: the root's metadata.
            if h.kind != tar::Kind::Dir {
                return Err(EntryError::Refused("the image root can only be a directory".into()));
            }
            let mut root = self.tree.get(b"").cloned().expect("the tree always has a root");
            (root.mode, root.uid, root.gid, root.mtime, root.xattrs) = (h.mode, h.uid, h.gid, mtime, h.xattrs);
            root.origin = pass.index;
            pass.set(&mut self.tree, Vec::new(), root);
            return Ok(());
        };
        if let Some(target) = name.strip_prefix(b".wh.") {
            return self.whiteout(pass, parents, target);
        }
        let dirs_mtime = self.epoch.unwrap_or(0);
        let parent = Resolver::new(&self.limits)
            .dir(&mut self.tree, parents, Some((pass, dirs_mtime)))
            .map_err(EntryError::Refused)?
            .expect("resolving with create always yields a directory");
        let path = tree::join(&parent, name);
        if path == RELEASE_PATH {
            return Err(EntryError::Refused("`etc/gild/release` is written by gild; a layer may not ship it".into()));
        }
        let mut node = Node {
            kind: Kind::Dir,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            mtime,
            xattrs: h.xattrs.clone(),
            origin: pass.index,
        };
        node.kind = match h.kind {
            tar::Kind::Dir => return self.directory(pass, path, node),
            tar::Kind::File => {
                let content = self.spool.store(&mut archive.data()).map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::Other {
                        EntryError::Tar(TarError::Io(e))
                    } else {
                        EntryError::Spool(e)
                    }
                })?;
                if pass.track {
                    pass.sources.insert(path.clone(), Source::Member(h.path.clone()));
                }
                Kind::File(content)
            }
            tar::Kind::Symlink => {
                if h.link.is_empty() {
                    return Err(EntryError::Refused("symlink with an empty target".into()));
                }
                Kind::Symlink(h.link.clone())
            }
            tar::Kind::HardLink => return self.hard_link(pass, path, &h),
            tar::Kind::Char | tar::Kind::Block | tar::Kind::Fifo => {
                if pass.index > 0 && !self.allow_devices {
                    return Err(EntryError::Refused(
                        Refusal::from("a patch may not add device nodes or fifos")
                            .help("set `allow-devices = true` in `[image]` if this patch must"),
                    ));
                }
                match h.kind {
                    tar::Kind::Char => Kind::Char(h.dev.0, h.dev.1),
                    tar::Kind::Block => Kind::Block(h.dev.0, h.dev.1),
                    _ => Kind::Fifo,
                }
            }
        };
        self.replace(pass, path, node);
        Ok(())
    }

    /// Puts a non-directory at `path`, dropping whatever subtree was there.
    fn replace(&mut self, pass: &mut Pass, path: Vec<u8>, node: Node) {
        if self.tree.get(&path).is_some_and(Node::is_dir) {
            let below: Vec<Vec<u8>> = self.tree.descendants(&path).map(|(p, _)| p.clone()).collect();
            for p in below {
                pass.delete(&mut self.tree, &p);
            }
        }
        pass.set(&mut self.tree, path, node);
    }

    fn directory(&mut self, pass: &mut Pass, path: Vec<u8>, node: Node) -> Result<(), EntryError> {
        match self.tree.get(&path).map(|n| &n.kind) {
            Some(Kind::Dir) => {}
            Some(Kind::Symlink(_)) => {
                // Keep a symlink to a directory, as dpkg and `tar --keep-directory-symlink` do.
                let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
                let target = Resolver::new(&self.limits).dir(&mut self.tree, &comps, None);
                if let Ok(Some(t)) = target {
                    if self.tree.get(&t).is_some_and(Node::is_dir) {
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
        pass.set(&mut self.tree, path, node);
        Ok(())
    }

    fn hard_link(&mut self, pass: &mut Pass, path: Vec<u8>, h: &Header) -> Result<(), EntryError> {
        let comps = components(&h.link)?;
        let Some((name, parents)) = comps.split_last() else {
            return Err(EntryError::Refused("hard link to the image root".into()));
        };
        let parent = Resolver::new(&self.limits)
            .dir(&mut self.tree, parents, None)
            .map_err(|why| EntryError::from(format!("hard link target `{}`: {why}", lossy(&h.link))))?;
        let target = parent.map(|p| tree::join(&p, name));
        let node = match target.as_ref().and_then(|t| self.tree.get(t)) {
            None => {
                return Err(EntryError::from(format!(
                    "hard link to `{}`, which is not in the tree at this point",
                    lossy(&h.link)
                )))
            }
            Some(n) if !matches!(n.kind, Kind::File(_)) => {
                return Err(EntryError::from(format!(
                    "hard link to `{}`, which is a {}, not a file",
                    lossy(&h.link),
                    n.kind.mtree_type()
                )))
            }
            Some(n) => n.clone(),
        };
        if target.as_deref() == Some(&path[..]) {
            return Err(EntryError::Refused("hard link to itself".into()));
        }
        if pass.track {
            pass.sources.insert(path.clone(), Source::Link(target.unwrap_or_default()));
        }
        self.replace(pass, path, Node { origin: pass.index, ..node });
        Ok(())
    }

    fn whiteout(&mut self, pass: &mut Pass, parents: &[&[u8]], target: &[u8]) -> Result<(), EntryError> {
        let opaque = target == b".wh..opq";
        if !opaque && (target.is_empty() || target == b"." || target == b".." || target.starts_with(b".wh.")) {
            return Err(EntryError::from(format!("whiteout of `{}` names no entry", lossy(target))));
        }
        let Some(dir) = Resolver::new(&self.limits).dir(&mut self.tree, parents, None).map_err(EntryError::Refused)?
        else {
            return Ok(()); // whiting out under an absent directory: nothing to hide
        };
        let (top, include_top) = if opaque { (dir, false) } else { (tree::join(&dir, target), true) };
        if include_top && self.tree.get(&top).is_none() {
            return Ok(());
        }
        let mut doomed: Vec<Vec<u8>> =
            self.tree.descendants(&top).filter(|(_, n)| n.origin != pass.index).map(|(p, _)| p.clone()).collect();
        if include_top && self.tree.get(&top).is_some_and(|n| n.origin != pass.index) {
            doomed.insert(0, top);
        }
        // Deepest first; a directory that still holds this layer's entries stays.
        for p in doomed.iter().rev() {
            if self.tree.get(p).is_some_and(Node::is_dir) && self.tree.has_children(p) {
                continue;
            }
            pass.delete(&mut self.tree, p);
        }
        Ok(())
    }

    /// Adds `etc/gild/release` (and `etc/gild` when missing), owned by gild.
    pub fn add_release(&mut self, text: &str) -> Result<(), LayerError> {
        let mtime = self.epoch.unwrap_or(0);
        let mut pass = Pass::new(GILD, false);
        let dir = Resolver::new(&self.limits)
            .dir(&mut self.tree, &[b"etc", b"gild"], Some((&mut pass, mtime)))
            .map_err(|why| LayerError::Entry {
                layer: "gild".into(),
                id: "release".into(),
                entry: "etc/gild/release".into(),
                why,
            })?
            .expect("created");
        let content = self.spool.store(&mut text.as_bytes()).map_err(LayerError::Spool)?;
        let node =
            Node { kind: Kind::File(content), mode: 0o644, uid: 0, gid: 0, mtime, xattrs: Vec::new(), origin: GILD };
        self.tree.insert(tree::join(&dir, b"release"), node);
        Ok(())
    }

    /// The top-level symlinks of the tree as it is now (after the base: `lib -> usr/lib`…).
    pub fn top_level_links(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.tree
            .descendants(b"")
            .filter(|(p, _)| !p.contains(&b'/'))
            .filter_map(|(p, n)| match &n.kind {
                Kind::Symlink(t) => Some((p.clone(), t.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn finish(self) -> Result<Layered, LayerError> {
        Ok(Layered {
            tree: self.tree,
            spool: self.spool.finish().map_err(LayerError::Spool)?,
            warnings: self.warnings,
            notable: self.notable,
        })
    }
}

/// Bookkeeping for one layer: the state of every path it touched as it was before.
pub(crate) struct Pass {
    index: Origin,
    track: bool,
    touched: HashMap<Vec<u8>, Option<Node>>,
    /// When each path was last set, to replay the layer in its order.
    order: HashMap<Vec<u8>, u64>,
    seq: u64,
    /// Where each file set by this layer got its content.
    sources: HashMap<Vec<u8>, Source>,
    /// Files gild wrote for this layer (a Debian package's database), sorted.
    generated: std::collections::BTreeSet<Vec<u8>>,
    dropped: tar::Dropped,
}

impl Pass {
    pub(crate) fn origin(&self) -> Origin {
        self.index
    }

    pub(crate) fn set(&mut self, tree: &mut Tree, path: Vec<u8>, node: Node) {
        let old = tree.insert(path.clone(), node);
        if self.track {
            self.seq += 1;
            self.order.insert(path.clone(), self.seq);
            self.touched.entry(path).or_insert(old);
        }
    }

    fn new(index: Origin, track: bool) -> Pass {
        Pass {
            index,
            track,
            touched: HashMap::new(),
            order: HashMap::new(),
            seq: 0,
            sources: HashMap::new(),
            generated: Default::default(),
            dropped: Default::default(),
        }
    }

    fn delete(&mut self, tree: &mut Tree, path: &[u8]) {
        let old = tree.remove(path);
        if self.track && old.is_some() {
            self.touched.entry(path.to_vec()).or_insert(old);
        }
    }
}

enum EntryError {
    Refused(Refusal),
    Tar(TarError),
    Spool(io::Error),
}

impl From<String> for EntryError {
    fn from(s: String) -> Self {
        EntryError::Refused(s.into())
    }
}

impl From<Refusal> for EntryError {
    fn from(r: Refusal) -> Self {
        EntryError::Refused(r)
    }
}

/// An extended attribute name that is empty or holds NUL or `=` would make a PAX record GNU tar
/// cannot parse ("Malformed extended header: missing equal sign"): the image must never carry
/// one.
fn xattr_names(h: &Header) -> Result<(), EntryError> {
    match h.xattrs.iter().find(|(n, _)| n.is_empty() || n.contains(&0) || n.contains(&b'=')) {
        Some((name, _)) => Err(EntryError::from(format!(
            "extended attribute name {:?} is empty or holds NUL or `=`",
            String::from_utf8_lossy(name)
        ))),
        None => Ok(()),
    }
}

/// An entry name's components: `/` and `./` prefixes, empty and `.` components dropped; no
/// component is `..`; an empty result is the root.
fn components(path: &[u8]) -> Result<Vec<&[u8]>, EntryError> {
    if path.is_empty() {
        return Err(EntryError::Refused("empty entry name".into()));
    }
    if path.contains(&0) {
        return Err(EntryError::Refused("NUL byte in the entry name".into()));
    }
    let comps: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").collect();
    if comps.iter().any(|c| *c == b"..") {
        return Err(EntryError::Refused("`..` in the entry name".into()));
    }
    Ok(comps)
}

/// Why a file is worth a person's look: setuid, setgid, file capabilities, world-writable.
pub(crate) fn notable(node: &Node) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Kind::File(_) = node.kind {
        if node.mode & 0o4000 != 0 {
            out.push("setuid");
        }
        if node.mode & 0o2000 != 0 {
            out.push("setgid");
        }
        if node.xattrs.iter().any(|(n, _)| n == b"security.capability") {
            out.push("capability");
        }
        if node.mode & 0o002 != 0 {
            out.push("world-writable");
        }
    }
    out
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
