//! A directory as a tree source: walked with `walkdir` without following symlinks and without
//! leaving its filesystem, while worker threads (one per core) hash the files it finds.
//!
//! Only digests matter, so nothing is copied: each file is opened once (`O_NOFOLLOW`, checked
//! to still be a regular file), hashed, and its `security.capability` read from the same
//! descriptor. Hard links are hashed once per inode.

use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::source::SourceError;
use crate::progress::Progress;
use crate::spool::Content;
use crate::tree::{Kind, Node, Tree};

/// Top-level directories of a root that hold kernel and runtime filesystems: listed, never
/// descended into, when the directory scanned is `/`.
const VIRTUAL: [&[u8]; 4] = [b"proc", b"sys", b"dev", b"run"];

/// How far a walk goes (docs/audit.md: a scan stays on one filesystem and skips `proc`, `sys`,
/// `dev` and `run` when it scans `/`, unless told otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// Descend into filesystems mounted below the directory (a separate `/usr` or `/var`).
    pub cross_mounts: bool,
    /// When scanning `/`, descend into `proc`, `sys`, `dev` and `run` too, mounts and all.
    pub include_virtual: bool,
}

pub struct Walked {
    pub tree: Tree,
    pub sockets: usize,
    pub warnings: Vec<String>,
}

/// What a worker learnt of one file.
struct Hashed {
    size: u64,
    sha256: [u8; 32],
    /// sha256 of the `security.capability` value, if the file has one.
    capability: Option<[u8; 32]>,
}

type Job = (usize, PathBuf);
type Done = (usize, io::Result<Hashed>);

/// Reads the directory `root` as a tree.
pub fn read(root: &Path, reach: Reach, progress: &dyn Progress) -> Result<Walked, SourceError> {
    let scans_root = root.canonicalize().is_ok_and(|p| p == Path::new("/"));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let cancel = AtomicBool::new(false);
    let (jobs, job_rx) = mpsc::sync_channel::<Job>(4096);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        let (done_tx, done) = mpsc::channel::<Done>();
        for _ in 0..workers {
            let (job_rx, done_tx, cancel) = (&job_rx, done_tx.clone(), &cancel);
            scope.spawn(move || hash_worker(job_rx, done_tx, cancel, progress));
        }
        drop(done_tx);
        let listing = list(root, scans_root, reach, &jobs);
        drop(jobs);
        if listing.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        let hashed: Vec<Done> = done.iter().collect();
        listing?.finish(root, hashed)
    })
}

fn hash_worker(
    jobs: &Mutex<mpsc::Receiver<Job>>,
    done: mpsc::Sender<Done>,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((index, path)) = job else { return };
        if cancel.load(Ordering::Relaxed) {
            continue;
        }
        let hashed = hash_file(&path, &mut buf);
        progress.advance(1);
        if done.send((index, hashed)).is_err() {
            return;
        }
    }
}

fn hash_file(path: &Path, buf: &mut [u8]) -> io::Result<Hashed> {
    let mut file =
        OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("it stopped being a regular file during the scan"));
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        crate::interrupt::check()?;
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let capability = capability(&file).map(|v| Sha256::digest(v).into());
    Ok(Hashed { size, sha256: hasher.finalize().into(), capability })
}

/// The `security.capability` value of an open file, if it has one.
fn capability(file: &std::fs::File) -> Option<Vec<u8>> {
    let name = c"security.capability";
    let mut value = vec![0u8; 256];
    // SAFETY: the descriptor is open for the call; the buffer pointer and length agree.
    let n = unsafe { libc::fgetxattr(file.as_raw_fd(), name.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
    let n = usize::try_from(n).ok()?;
    value.truncate(n);
    Some(value)
}

/// The walk's result before the hashes are in.
struct Listing {
    root: Node,
    nodes: Vec<(Vec<u8>, Node)>,
    /// Index of a hard link's node, and of the node of the first path of its inode.
    links: Vec<(usize, usize)>,
    sockets: usize,
}

fn list(root: &Path, scans_root: bool, reach: Reach, jobs: &mpsc::SyncSender<Job>) -> Result<Listing, SourceError> {
    let cannot = |path: &Path| format!("cannot read `{}`", path.display());
    let root_meta = std::fs::metadata(root).map_err(SourceError::io(cannot(root)))?;
    let root_node = node(&root_meta, root).map_err(SourceError::io(cannot(root)))?;
    let mut listing = Listing { root: root_node, nodes: Vec::new(), links: Vec::new(), sockets: 0 };
    let mut inodes: HashMap<(u64, u64), usize> = HashMap::new();
    // Mount points are listed like any directory; whether the walk goes below them is `reach`.
    let mut walk = WalkDir::new(root).follow_links(false).min_depth(1).into_iter();
    while let Some(entry) = walk.next() {
        crate::interrupt::check().map_err(SourceError::io("interrupted"))?;
        let entry = entry.map_err(|e| {
            let path = e.path().map_or_else(|| root.to_path_buf(), Path::to_path_buf);
            SourceError::io(cannot(&path))(e.into())
        })?;
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(path).as_os_str().as_bytes().to_vec();
        let meta = entry.metadata().map_err(|e| SourceError::io(cannot(path))(e.into()))?;
        if meta.file_type().is_socket() {
            listing.sockets += 1;
            continue;
        }
        let node = node(&meta, path).map_err(SourceError::io(cannot(path)))?;
        let index = listing.nodes.len();
        if meta.is_file() {
            let first = if meta.nlink() > 1 {
                match inodes.entry((meta.dev(), meta.ino())) {
                    Slot::Occupied(o) => Some(*o.get()),
                    Slot::Vacant(v) => {
                        v.insert(index);
                        None
                    }
                }
            } else {
                None
            };
            match first {
                Some(first) => listing.links.push((index, first)),
                None => {
                    let _ = jobs.send((index, path.to_path_buf()));
                }
            }
        }
        if meta.is_dir() {
            let in_virtual = scans_root
                && VIRTUAL.iter().any(|v| rel.starts_with(v) && rel.get(v.len()).map_or(true, |&b| b == b'/'));
            let descend =
                if in_virtual { reach.include_virtual } else { meta.dev() == root_meta.dev() || reach.cross_mounts };
            if !descend {
                walk.skip_current_dir();
            }
        }
        listing.nodes.push((rel, node));
    }
    Ok(listing)
}

/// The node of one path, its file contents not yet known.
fn node(meta: &std::fs::Metadata, path: &Path) -> io::Result<Node> {
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File(Content::digest(0, [0; 32]))
    } else if ft.is_symlink() {
        Kind::Symlink(std::fs::read_link(path)?.as_os_str().as_bytes().to_vec())
    } else if ft.is_char_device() {
        let (major, minor) = split_dev(meta.rdev());
        Kind::Char(major, minor)
    } else if ft.is_block_device() {
        let (major, minor) = split_dev(meta.rdev());
        Kind::Block(major, minor)
    } else {
        Kind::Fifo
    };
    Ok(Node {
        kind,
        mode: meta.mode() & 0o7777,
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        mtime: meta.mtime(),
        xattrs: Vec::new(),
        origin: 0,
    })
}

impl Listing {
    fn finish(mut self, root: &Path, hashed: Vec<Done>) -> Result<Walked, SourceError> {
        let mut warnings = Vec::new();
        let mut vanished = Vec::new();
        for (index, result) in hashed {
            let (path, node) = &mut self.nodes[index];
            match result {
                Ok(h) => {
                    node.kind = Kind::File(Content { id: index as u64 + 1, offset: 0, size: h.size, sha256: h.sha256 });
                    if let Some(cap) = h.capability {
                        node.xattrs = vec![(b"security.capability".to_vec(), cap.to_vec())];
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    warnings.push(format!("`{}` vanished during the scan", String::from_utf8_lossy(path)));
                    vanished.push(index);
                }
                Err(e) => {
                    let shown = root.join(std::ffi::OsStr::from_bytes(path));
                    return Err(SourceError::io(format!("cannot read `{}`", shown.display()))(e));
                }
            }
        }
        crate::interrupt::check().map_err(SourceError::io("interrupted"))?;
        for (link, first) in std::mem::take(&mut self.links) {
            let (kind, xattrs) = (self.nodes[first].1.kind.clone(), self.nodes[first].1.xattrs.clone());
            let node = &mut self.nodes[link].1;
            (node.kind, node.xattrs) = (kind, xattrs);
        }
        let mut i = 0;
        vanished.sort_unstable();
        self.nodes.retain(|_| {
            i += 1;
            vanished.binary_search(&(i - 1)).is_err()
        });
        Ok(Walked { tree: Tree::from_entries(self.root, self.nodes), sockets: self.sockets, warnings })
    }
}

/// A Linux `dev_t` as (major, minor).
pub(crate) fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_split_as_linux_packs_them() {
        assert_eq!(split_dev(0x0103), (1, 3));
        assert_eq!(split_dev((259 << 8) | 5), (259, 5));
        let makedev = |major: u64, minor: u64| {
            (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
        };
        assert_eq!(split_dev(makedev(0x1000, 0x1_2345)), (0x1000, 0x1_2345));
    }
}

#[cfg(test)]
mod walk_tests {
    use super::*;

    #[test]
    fn walks_without_following_symlinks_and_hashes_every_file() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/sh"), b"shell").unwrap();
        std::fs::set_permissions(root.join("usr/bin/sh"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::hard_link(root.join("usr/bin/sh"), root.join("usr/bin/dash")).unwrap();
        symlink("usr/bin", root.join("bin")).unwrap();
        symlink("/nonexistent", root.join("dangling")).unwrap();
        for i in 0..200 {
            std::fs::write(root.join(format!("usr/f{i}")), format!("{i}")).unwrap();
        }
        let walked = read(root, Reach::default(), &crate::progress::Silent).unwrap();
        let t = &walked.tree;
        assert_eq!(t.len(), 1 + 2 + 2 + 2 + 200);
        let sha: [u8; 32] = Sha256::digest(b"shell").into();
        for p in [&b"usr/bin/sh"[..], b"usr/bin/dash"] {
            match &t.get(p).unwrap().kind {
                Kind::File(c) => assert_eq!((c.size, c.sha256), (5, sha)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(t.get(b"usr/bin/sh").unwrap().mode, 0o4755);
        assert_eq!(t.get(b"bin").unwrap().kind, Kind::Symlink(b"usr/bin".to_vec()));
        assert!(t.get(b"bin/sh").is_none(), "a symlink to a directory is not followed");
        match &t.get(b"usr/f77").unwrap().kind {
            Kind::File(c) => assert_eq!(c.sha256, <[u8; 32]>::from(Sha256::digest(b"77"))),
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod reach_tests {
    use super::*;

    /// The paths `list` finds below `root`, as if `root` were `/`.
    fn listed_as_root(root: &Path, reach: Reach) -> Vec<String> {
        let (jobs, _rx) = mpsc::sync_channel(1024);
        let listing = list(root, true, reach, &jobs).unwrap();
        let mut paths: Vec<String> =
            listing.nodes.iter().map(|(p, _)| String::from_utf8_lossy(p).into_owned()).collect();
        paths.sort();
        paths
    }

    #[test]
    fn a_root_lists_its_virtual_directories_without_descending_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["proc/1", "sys/kernel", "dev/pts", "run/lock", "usr/bin", "procedures"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let default = listed_as_root(dir.path(), Reach::default());
        assert_eq!(default, ["dev", "proc", "procedures", "run", "sys", "usr", "usr/bin"]);
        let all = listed_as_root(dir.path(), Reach { include_virtual: true, ..Reach::default() });
        assert_eq!(
            all,
            [
                "dev",
                "dev/pts",
                "proc",
                "proc/1",
                "procedures",
                "run",
                "run/lock",
                "sys",
                "sys/kernel",
                "usr",
                "usr/bin"
            ]
        );
    }
}
