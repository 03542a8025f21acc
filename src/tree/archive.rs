//! An image or layer tarball as a tree source: any compression (told by magic bytes), read
//! with the capped tar reader of [`crate::layer::tar`], contents hashed as they stream by.
//!
//! Nothing is extracted and nothing spooled: only digests matter. The tarball's own sha256 is
//! taken on the same pass, for `gild verify IMAGE`. Entries are taken as listed (no layering):
//! a later entry at a path replaces an earlier one, a hard link takes its target's contents.

use std::io::{self, BufReader, Read};

use sha2::{Digest, Sha256};

use super::source::SourceError;
use crate::layer::decompress::{self, Compression};
use crate::layer::tar::{self, Archive, TarError};
use crate::layer::RELEASE_PATH;
use crate::limits::Limits;
use crate::progress::Progress;
use crate::spool::Content;
use crate::tree::{clean_path, Kind, Lacks, Node, Tree};

pub struct Unpacked {
    pub tree: Tree,
    /// Set when the tarball has no `./` entry: the root's mode and owner are unknown.
    pub root_lacks: Lacks,
    pub compression: Compression,
    /// sha256 of the tarball file itself.
    pub sha256: [u8; 32],
    /// sha256 of the decompressed tar stream, when asked for (an OCI layer's `diff_id`).
    pub tar_sha256: Option<[u8; 32]>,
    /// The contents of `etc/gild/release`, when the tarball has one.
    pub release: Option<Vec<u8>>,
    pub warnings: Vec<String>,
}

/// Hashes every byte read through it (when it has a hasher).
struct Hashing<R> {
    inner: R,
    hasher: Option<Sha256>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Reads the tarball `file` from its first byte; `shown` names it in errors. With `hash_tar`,
/// the decompressed stream is hashed too: the tar reader reads it to its very end (only
/// zeros may follow the end-of-archive blocks), so that is the whole tar's sha256.
pub fn read(
    file: impl Read,
    limits: &Limits,
    shown: &str,
    progress: &dyn Progress,
    hash_tar: bool,
) -> Result<Unpacked, SourceError> {
    progress.start(&format!("reading `{shown}`"), None);
    let archive_err = |source: TarError| SourceError::Archive { file: shown.to_string(), source };
    let mut raw = BufReader::with_capacity(256 * 1024, Hashing { inner: file, hasher: Some(Sha256::new()) });
    let mut tree = Tree::new(Node::dir(0, 0, 0));
    let mut root_lacks = Lacks::MODE | Lacks::UID | Lacks::GID;
    let mut release = None;
    let mut warnings = Vec::new();
    let compression;
    let tar_sha256;
    {
        let (kind, reader) = decompress::decoder(&mut raw, limits).map_err(|e| archive_err(e.into()))?;
        compression = kind;
        let mut tar = Hashing { inner: reader, hasher: hash_tar.then(Sha256::new) };
        let mut archive = Archive::new(&mut tar, *limits);
        let mut buf = vec![0u8; 256 * 1024];
        while let Some(h) = archive.next_entry().map_err(archive_err)? {
            crate::interrupt::check().map_err(|e| archive_err(e.into()))?;
            progress.advance(1);
            let entry = |why: String| SourceError::Entry {
                file: shown.to_string(),
                entry: String::from_utf8_lossy(&h.path).into_owned(),
                why,
            };
            let path = clean_path(&h.path).ok_or_else(|| entry("`..` in the entry name".into()))?;
            let xattrs = h.xattrs.iter().map(|(n, v)| (n.clone(), Sha256::digest(v).to_vec())).collect();
            let mut node =
                Node { kind: Kind::Dir, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, xattrs, origin: 0 };
            node.kind = match h.kind {
                tar::Kind::Dir => Kind::Dir,
                tar::Kind::File => {
                    let keep = (path == RELEASE_PATH && h.size <= 64 * 1024).then(Vec::new);
                    let (size, sha256, kept) = hash(&mut archive.data(), &mut buf, keep).map_err(archive_err)?;
                    release = kept.or(release);
                    Kind::File(Content::digest(size, sha256))
                }
                tar::Kind::Symlink => Kind::Symlink(h.link.clone()),
                tar::Kind::HardLink => {
                    let target = clean_path(&h.link).ok_or_else(|| entry("`..` in the hard link's target".into()))?;
                    match tree.get(&target).map(|n| &n.kind) {
                        Some(k @ Kind::File(_)) => k.clone(),
                        _ => {
                            return Err(entry(format!(
                                "hard link to `{}`, which is not a file listed before it",
                                String::from_utf8_lossy(&h.link)
                            )))
                        }
                    }
                }
                tar::Kind::Char => Kind::Char(h.dev.0, h.dev.1),
                tar::Kind::Block => Kind::Block(h.dev.0, h.dev.1),
                tar::Kind::Fifo => Kind::Fifo,
            };
            if path.is_empty() {
                if !node.is_dir() {
                    return Err(entry("the root `./` is not a directory".into()));
                }
                root_lacks = Lacks::NONE;
            }
            tree.insert(path, node);
        }
        if archive.missing_end {
            warnings.push(format!("`{shown}` ends without end-of-archive blocks"));
        }
        tar_sha256 = tar.hasher.map(|h| h.finalize().into());
    }
    io::copy(&mut raw, &mut io::sink()).map_err(|e| archive_err(e.into()))?;
    let sha256 = raw.into_inner().hasher.expect("always hashed").finalize().into();
    Ok(Unpacked { tree, root_lacks, compression, sha256, tar_sha256, release, warnings })
}

/// An entry's size and sha256, and its bytes when they were asked for.
type Hashed = (u64, [u8; 32], Option<Vec<u8>>);

/// Hashes an entry's data, keeping the bytes when asked.
fn hash(data: &mut impl Read, buf: &mut [u8], mut keep: Option<Vec<u8>>) -> Result<Hashed, TarError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = match data.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        if let Some(k) = keep.as_mut() {
            k.extend_from_slice(&buf[..n]);
        }
        size += n as u64;
    }
    Ok((size, hasher.finalize().into(), keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball() -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: ::tar::EntryType, mode: u32, data: &[u8], link: Option<&str>| {
            let mut h = ::tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(data.len() as u64);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            h.set_path(path).unwrap();
            h.set_cksum();
            b.append(&h, data).unwrap();
        };
        add("./", ::tar::EntryType::Directory, 0o755, b"", None);
        add("./etc/", ::tar::EntryType::Directory, 0o755, b"", None);
        add("./etc/gild/", ::tar::EntryType::Directory, 0o755, b"", None);
        add("./etc/gild/release", ::tar::EntryType::Regular, 0o644, b"name = \"x\"\n", None);
        add("./usr/bin/gzip", ::tar::EntryType::Regular, 0o755, b"gzip", None);
        add("./usr/bin/gunzip", ::tar::EntryType::Link, 0o755, b"", Some("./usr/bin/gzip"));
        add("./bin", ::tar::EntryType::Symlink, 0o777, b"", Some("usr/bin"));
        b.into_inner().unwrap()
    }

    #[test]
    fn reads_any_compression_and_hashes_the_file_itself() {
        let tar = tarball();
        for bytes in [tar.clone(), zstd::encode_all(&tar[..], 3).unwrap()] {
            let mut f = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut f, &bytes).unwrap();
            std::io::Seek::rewind(&mut f).unwrap();
            let u = read(f, &Limits::default(), "t.tar", &crate::progress::Silent, true).unwrap();
            assert_eq!(u.sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));
            assert_eq!(u.tar_sha256, Some(<[u8; 32]>::from(Sha256::digest(&tar))), "the decompressed stream's sha256");
            assert!(u.root_lacks.is_empty());
            assert_eq!(u.release.as_deref(), Some(&b"name = \"x\"\n"[..]));
            let gz = u.tree.get(b"usr/bin/gzip").unwrap().kind.clone();
            assert_eq!(u.tree.get(b"usr/bin/gunzip").unwrap().kind, gz, "a hard link has its target's contents");
            assert_eq!(u.tree.get(b"bin").unwrap().kind, Kind::Symlink(b"usr/bin".to_vec()));
            assert!(u.tree.get(b"usr").is_none(), "entries are taken as listed");
        }
    }
}
