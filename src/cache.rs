//! The build cache (docs/cache.md): compressed frames by key, so a rebuild compresses only
//! the chunks that changed.
//!
//! The cache is an accelerator, never a source of truth: an entry is used only when its
//! sha256 equals the one a baseline recorded for its key, so a corrupt, truncated or planted
//! entry is a miss (and is removed); and every failure to read or write it is a warning, never
//! a failed build. Entries are written beside and renamed, so concurrent builds sharing one
//! cache see whole entries or none. Least recently used entries go first when it outgrows
//! `GILD_CACHE_MAX`.

use std::fs;
use std::io::{Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::hex;

/// `GILD_CACHE_MAX` when unset.
pub const DEFAULT_MAX: u64 = 2 << 30;
/// Warnings kept per build: one bad disk should not print a line per frame.
const WARNINGS: usize = 3;

pub struct Cache {
    dir: PathBuf,
    max: u64,
    warnings: Mutex<Vec<String>>,
    dropped: AtomicU64,
}

/// Where the cache is: `GILD_CACHE`, else `$XDG_CACHE_HOME/gild`, else `~/.cache/gild`.
pub fn location() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("GILD_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("gild")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("gild")))
}

/// `GILD_CACHE_MAX`: bytes, or a number with `K`, `M`, `G` (`KiB`, `MiB`, `GiB`) for powers of
/// 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        "T" | "TiB" => 40,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(1 << shift)
}

impl Cache {
    /// Opens (creating, `0700`) the cache, or says in a warning why there is none.
    pub fn open() -> Result<Cache, String> {
        let dir = location().ok_or("no cache: set GILD_CACHE (neither XDG_CACHE_HOME nor HOME is set)")?;
        let max = match std::env::var("GILD_CACHE_MAX") {
            Ok(v) => parse_size(&v).ok_or_else(|| {
                format!("cache not used: GILD_CACHE_MAX={v} is not a size (bytes, or a number with K, M or G)")
            })?,
            Err(_) => DEFAULT_MAX,
        };
        Cache::at(dir, max)
    }

    pub fn at(dir: PathBuf, max: u64) -> Result<Cache, String> {
        let shown = dir.display().to_string();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cache `{shown}` not used: cannot create it: {e}"))?;
        let meta = fs::metadata(&dir).map_err(|e| format!("cache `{shown}` not used: {e}"))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "cache `{shown}` not used: others can write to it (make it yours and `chmod 700` it, or set GILD_CACHE)"
            ));
        }
        Ok(Cache { dir, max, warnings: Mutex::new(Vec::new()), dropped: AtomicU64::new(0) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, kind: &str, key: &[u8; 32]) -> PathBuf {
        let key = hex::encode(key);
        self.dir.join(kind).join(&key[..2]).join(key)
    }

    fn warn(&self, message: String) {
        let mut w = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() < WARNINGS {
            w.push(message);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The warnings of this build so far.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.warnings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match self.dropped.load(Ordering::Relaxed) {
            0 => {}
            n => w.push(format!("cache: {n} more warning(s) like these")),
        }
        w
    }

    /// The entry of `kind` at `key`, when its sha256 is `expected`. An entry with other bytes
    /// is removed (it is corrupt: entries are named by what determines their bytes).
    pub fn get(&self, kind: &str, key: &[u8; 32], expected: &[u8; 32]) -> Option<Vec<u8>> {
        let path = self.path(kind, key);
        let read = fs::read(&path).map(|bytes| {
            let sha = Sha256::digest(&bytes).into();
            (bytes, sha)
        });
        self.checked(&path, read, &[*expected]).map(|(bytes, _)| bytes)
    }

    /// The entry of `kind` at `key`, opened and rewound, when its sha256 is one of `expected`
    /// (returned with it): for entries too large to read whole. It is hashed through the
    /// handle it is then read from, so a replaced entry is not read; one with other bytes is
    /// removed.
    pub fn get_file(&self, kind: &str, key: &[u8; 32], expected: &[[u8; 32]]) -> Option<(fs::File, [u8; 32])> {
        let path = self.path(kind, key);
        let read = || -> std::io::Result<(fs::File, [u8; 32])> {
            let mut file = fs::File::open(&path)?;
            let mut hasher = Sha256::new();
            std::io::copy(&mut file, &mut hasher)?;
            file.seek(std::io::SeekFrom::Start(0))?;
            Ok((file, hasher.finalize().into()))
        };
        self.checked(&path, read(), expected)
    }

    /// An entry read (with its sha256), when that is one of `expected`; the read's failure is a
    /// warning, a missing entry a plain miss, and an entry with other bytes removed. A served
    /// entry is marked used now: the last to be evicted.
    fn checked<T>(
        &self,
        path: &Path,
        read: std::io::Result<(T, [u8; 32])>,
        expected: &[[u8; 32]],
    ) -> Option<(T, [u8; 32])> {
        match read {
            Ok((entry, sha)) if expected.contains(&sha) => {
                let _ = fs::File::options().append(true).open(path).and_then(|f| f.set_modified(SystemTime::now()));
                Some((entry, sha))
            }
            Ok(_) => {
                self.warn(format!("cache: `{}` is not what a baseline recorded; ignored and removed", path.display()));
                let _ = fs::remove_file(path);
                None
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                self.warn(format!("cache: cannot read `{}`: {e}", path.display()));
                None
            }
        }
    }

    /// A new entry of `kind` at `key`, written beside its name until [`Writing::commit`].
    pub fn create(&self, kind: &str, key: &[u8; 32]) -> Option<Writing<'_>> {
        let path = self.path(kind, key);
        match beside(&path) {
            Ok(tmp) => Some(Writing { cache: self, path, tmp, hasher: Sha256::new() }),
            Err(e) => {
                self.warn(format!("cache: cannot write `{}`: {e}", path.display()));
                None
            }
        }
    }

    /// Whether an entry of `kind` is at `key` (its bytes are checked when it is read).
    pub fn has(&self, kind: &str, key: &[u8; 32]) -> bool {
        self.path(kind, key).is_file()
    }

    /// Stores an entry, written beside and renamed so no reader sees part of it.
    /// (The caller knows the bytes' sha256: they are not hashed again here.)
    pub fn put(&self, kind: &str, key: &[u8; 32], bytes: &[u8]) {
        let path = self.path(kind, key);
        let write = || -> std::io::Result<()> {
            let mut tmp = beside(&path)?;
            tmp.write_all(bytes)?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            self.warn(format!("cache: cannot write `{}`: {e}", path.display()));
        }
    }

    /// Removes least recently used entries until the cache holds at most its bound.
    pub fn trim(&self) {
        let mut entries = Vec::new();
        let mut total = 0u64;
        for kind in ["frame", "index", "decoded"] {
            let Ok(groups) = fs::read_dir(self.dir.join(kind)) else { continue };
            for group in groups.flatten() {
                let Ok(files) = fs::read_dir(group.path()) else { continue };
                for file in files.flatten() {
                    let Ok(meta) = file.metadata() else { continue };
                    let name = file.file_name();
                    // Another build's temporary: its own, not ours to remove (unless stale).
                    if name.to_string_lossy().starts_with(".tmp-") && !stale(&meta) {
                        continue;
                    }
                    total += meta.len();
                    entries.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), file.path()));
                }
            }
        }
        if total <= self.max {
            return;
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max {
                break;
            }
            match fs::remove_file(&path) {
                Ok(()) => total -= len,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => total -= len,
                Err(e) => self.warn(format!("cache: cannot remove `{}`: {e}", path.display())),
            }
        }
    }
}

/// An entry being written, hashed as it is (dropped unfinished, it is removed).
pub struct Writing<'a> {
    cache: &'a Cache,
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    hasher: Sha256,
}

impl Write for Writing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

impl Writing<'_> {
    /// Gives the entry up, with a warning.
    pub fn fail(self, e: std::io::Error) {
        self.cache.warn(format!("cache: cannot write `{}`: {e}", self.path.display()));
    }

    /// Puts the entry in place; returns its sha256 (for a baseline to record).
    pub fn commit(self) -> Option<[u8; 32]> {
        let Writing { cache, path, tmp, hasher } = self;
        match tmp.persist(&path) {
            Ok(_) => Some(hasher.finalize().into()),
            Err(e) => {
                cache.warn(format!("cache: cannot write `{}`: {}", path.display(), e.error));
                None
            }
        }
    }
}

/// A private temporary beside the entry at `path`, to be renamed onto it.
fn beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path.parent().expect("entries live in a directory");
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.as_file().set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(tmp)
}

/// A temporary older than a day was left by a killed build.
fn stale(meta: &fs::Metadata) -> bool {
    meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age.as_secs() > 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max: u64) -> (tempfile::TempDir, Cache) {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("c"), max).unwrap();
        (dir, cache)
    }

    #[test]
    fn an_entry_is_served_only_with_its_recorded_digest() {
        let (_d, c) = cache(1 << 20);
        let key = [7u8; 32];
        c.put("frame", &key, b"frame bytes");
        let sha: [u8; 32] = Sha256::digest(b"frame bytes").into();
        assert_eq!(c.get("frame", &key, &sha).as_deref(), Some(&b"frame bytes"[..]));
        assert_eq!(c.get("frame", &key, &[0; 32]), None, "another digest is a miss");
        assert_eq!(c.get("frame", &key, &sha), None, "and the entry is gone");
        assert_eq!(c.warnings().len(), 1);
    }

    /// A large entry written through [`Writing`] is served when its sha256 is any one of those
    /// several baselines recorded, hashed through the handle it is read from.
    #[test]
    fn a_streamed_entry_is_served_for_any_recorded_digest() {
        let (_d, c) = cache(1 << 20);
        let key = [9u8; 32];
        let mut w = c.create("decoded", &key).unwrap();
        w.write_all(b"decoded stream").unwrap();
        let sha = w.commit().unwrap();
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(b"decoded stream")));
        let (mut file, found) = c.get_file("decoded", &key, &[[1; 32], sha]).unwrap();
        assert_eq!(found, sha, "the digest that matched");
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut read).unwrap();
        assert_eq!(read, b"decoded stream", "rewound after hashing");
        assert!(c.get_file("decoded", &key, &[[1; 32]]).is_none(), "no recorded digest matches");
        assert!(c.get_file("decoded", &key, &[sha]).is_none(), "and the entry is gone");
    }

    #[test]
    fn a_truncated_entry_is_a_miss() {
        let (_d, c) = cache(1 << 20);
        let key = [8u8; 32];
        c.put("frame", &key, b"frame bytes");
        fs::write(c.path("frame", &key), b"frame").unwrap();
        let sha: [u8; 32] = Sha256::digest(b"frame bytes").into();
        assert_eq!(c.get("frame", &key, &sha), None);
    }

    #[test]
    fn least_recently_used_entries_go_first() {
        let (_d, c) = cache(2500);
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for i in 0..3u8 {
            c.put("frame", &[i; 32], &[i; 1000]);
            let f = fs::File::options().append(true).open(c.path("frame", &[i; 32])).unwrap();
            f.set_modified(old + std::time::Duration::from_secs(i as u64)).unwrap();
        }
        // Entry 0 was used last.
        let sha: [u8; 32] = Sha256::digest([0u8; 1000]).into();
        assert!(c.get("frame", &[0; 32], &sha).is_some());
        c.trim();
        assert!(!c.path("frame", &[1; 32]).exists(), "the least recently used entry is removed");
        assert!(c.path("frame", &[0; 32]).exists() && c.path("frame", &[2; 32]).exists());
    }

    #[test]
    fn a_cache_others_can_write_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("c");
        fs::create_dir(&c).unwrap();
        fs::set_permissions(&c, fs::Permissions::from_mode(0o777)).unwrap();
        let e = Cache::at(c, 1 << 20).err().expect("refused");
        assert!(e.contains("others can write"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5X"), None);
    }
}
