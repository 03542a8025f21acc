//! The workspace: the directory holding `recipes/` and `baselines/`, found like git finds its
//! repository, and the lock that keeps two writers from interleaving.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Report;

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    /// `-C DIR` when given, else the first directory upwards from `start` holding `recipes/`.
    pub fn find(explicit: Option<&Path>, start: &Path) -> Option<Workspace> {
        if let Some(dir) = explicit {
            return Some(Workspace { root: dir.to_path_buf() });
        }
        start.ancestors().find(|d| d.join("recipes").is_dir()).map(|d| Workspace { root: d.to_path_buf() })
    }

    /// The workspace a recipe file belongs to: the parent of its `recipes/` directory.
    pub fn of_recipe(recipe: &Path) -> Option<Workspace> {
        let dir = recipe.parent()?;
        (dir.file_name()? == "recipes")
            .then(|| Workspace { root: dir.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf) })
    }

    pub fn recipe_path(&self, name: &str) -> PathBuf {
        self.root.join("recipes").join(format!("{name}.toml"))
    }

    pub fn baselines(&self, name: &str) -> PathBuf {
        self.root.join("baselines").join(name)
    }

    pub fn journal(&self, name: &str) -> PathBuf {
        self.baselines(name).join("journal.jsonl")
    }

    pub fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    /// Takes the exclusive lock of one image's records, waiting (and saying so) while another
    /// gild holds it.
    pub fn lock(&self, name: &str, waiting: impl FnOnce()) -> io::Result<Lock> {
        let dir = self.baselines(name);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(".lock");
        let file = File::options().create(true).truncate(false).write(true).open(&path)?;
        let timeout = lock_timeout()?;
        let started = Instant::now();
        let mut waiting = Some(waiting);
        // SAFETY (both calls): flock on a file descriptor we own; no memory is shared.
        while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(e);
            }
            if started.elapsed() >= timeout {
                return Err(Report::new(format!(
                    "another gild has held `{}` for {} s",
                    path.display(),
                    timeout.as_secs()
                ))
                .help(format!(
                    "let it finish, or wait longer with `{LOCK_TIMEOUT}=SECONDS` (default {})",
                    DEFAULT_LOCK_TIMEOUT.as_secs()
                ))
                .into_io(io::ErrorKind::TimedOut));
            }
            if let Some(say) = waiting.take() {
                say();
            }
            crate::interrupt::check()?;
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Lock { _file: file })
    }
}

/// How long a command waits for another gild's lock before giving up (exit 2, docs/exit-codes.md): long
/// enough for a big build to finish, short enough that a stuck pipeline says why.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(600);
const LOCK_TIMEOUT: &str = "GILD_LOCK_TIMEOUT";

fn lock_timeout() -> io::Result<Duration> {
    match std::env::var(LOCK_TIMEOUT) {
        Err(_) => Ok(DEFAULT_LOCK_TIMEOUT),
        Ok(v) => v.trim().parse::<u64>().map(Duration::from_secs).map_err(|_| {
            Report::new(format!("`{LOCK_TIMEOUT}={v}` is not a number of seconds"))
                .help(format!("for example `{LOCK_TIMEOUT}=60`; 0 gives up at once"))
                .into_io(io::ErrorKind::InvalidInput)
        }),
    }
}

/// Held while a command writes; released on drop (or by the kernel when the process dies).
pub struct Lock {
    _file: File,
}

/// The prefix of everything gild writes beside its final place.
pub const TMP_PREFIX: &str = ".gild-tmp-";

/// Removes temporaries a killed build left in `dir` whose names start with `prefix` (itself
/// starting with [`TMP_PREFIX`]). Call with the lock held.
pub fn remove_stale(dir: &Path, prefix: &str) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically: written beside it (`.gild-tmp-FILE-…`, with the
/// old file's permissions), synced, then renamed over it. Call with the lock held; a killed
/// run's temporaries are removed by [`remove_stale_beside`].
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(&beside_prefix(path)).tempfile_in(dir)?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes what a killed [`replace_file`] of `path` left beside it. Call with the lock held.
pub fn remove_stale_beside(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    remove_stale(dir, &beside_prefix(path))
}

fn beside_prefix(path: &Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{TMP_PREFIX}{file}-")
}
