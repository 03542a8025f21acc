//! `[[check]]` smoke tests, run against the finished image before anything is recorded.
//!
//! The image is extracted from the tree and spool (the same bytes the image holds) into a
//! temporary directory, `$GILD_ROOT`; only recipes with checks pay for that. Each check runs
//! as `sh -c RUN` in a clean environment, in its own process group, killed at its timeout.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Seek};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Report;
use crate::recipe::Check;
use crate::spool::SpoolReader;
use crate::tree::{Kind, Tree};

/// A check that did not pass.
#[derive(Debug, thiserror::Error)]
pub struct CheckFailed {
    pub name: String,
    pub how: String,
    pub output: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    Failed(#[from] CheckFailed),
    Io { what: String, source: io::Error },
}

crate::error::display_report!(CheckFailed, CheckError);

impl CheckFailed {
    pub fn report(&self) -> Report {
        let r = Report::new(format!("check `{}` {}", self.name, self.how));
        if self.output.trim().is_empty() {
            return r.cause("it printed nothing");
        }
        r.cause(format!("it printed:\n{}", self.output.trim_end()))
    }
}

impl CheckError {
    pub fn report(&self) -> Report {
        match self {
            CheckError::Failed(f) => f.report(),
            CheckError::Io { what, source } => {
                Report::new(format!("cannot prepare the checks: {what}")).because_io(source)
            }
        }
    }
}

/// The checks' environment.
pub struct Env<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// Extracts the tree and runs every check in order; the first failure stops.
pub fn run_all(tree: &Tree, spool: &SpoolReader, checks: &[Check], env: &Env) -> Result<Vec<String>, CheckError> {
    let root = tempfile::Builder::new()
        .prefix(".gild-check-")
        .tempdir()
        .map_err(|source| CheckError::Io { what: "temporary directory".into(), source })?;
    extract(tree, spool, root.path()).map_err(|source| CheckError::Io {
        what: format!("extracting the image into `{}`", root.path().display()),
        source,
    })?;
    let mut passed = Vec::new();
    for check in checks {
        run_one(check, root.path(), env)?;
        passed.push(check.name.clone());
    }
    // Read-only directories would stop the temporary directory's removal.
    let _ = make_writable(root.path());
    Ok(passed)
}

fn run_one(check: &Check, root: &Path, env: &Env) -> Result<(), CheckError> {
    let io_err = |source| CheckError::Io { what: format!("running check `{}`", check.name), source };
    let mut log = tempfile::tempfile().map_err(io_err)?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&check.run)
        .current_dir(root)
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("GILD_ROOT", root)
        .env("GILD_NAME", env.name)
        .env("GILD_VERSION", env.version)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io_err)?)
        .stderr(log.try_clone().map_err(io_err)?)
        .process_group(0)
        .spawn()
        .map_err(io_err)?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io_err)? {
            break Some(status);
        }
        if start.elapsed() >= check.timeout || crate::interrupt::requested() {
            // SAFETY: signals the process group the child leads; no memory is involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut output = String::new();
    log.rewind().map_err(io_err)?;
    let mut bytes = Vec::new();
    log.take(64 * 1024).read_to_end(&mut bytes).map_err(io_err)?;
    output.push_str(&String::from_utf8_lossy(&bytes));
    let how = match status {
        None => format!("timed out after {}s", check.timeout.as_secs()),
        Some(s) if s.success() => return Ok(()),
        Some(s) => match s.code() {
            Some(code) => format!("failed (exit {code})"),
            None => "was killed by a signal".into(),
        },
    };
    Err(CheckFailed { name: check.name.clone(), how, output }.into())
}

/// Writes the tree under `root`. Without root privileges, device nodes and ownership are
/// skipped (docs/recipe.md).
pub fn extract(tree: &Tree, spool: &SpoolReader, root: &Path) -> io::Result<()> {
    let privileged = unsafe { libc::geteuid() } == 0;
    let mut leaders: HashMap<u64, std::path::PathBuf> = HashMap::new();
    let mut dirs = Vec::new();
    for (path, node) in tree.iter() {
        let dest = root.join(OsStr::from_bytes(path));
        match &node.kind {
            Kind::Dir => {
                if !path.is_empty() {
                    fs::create_dir(&dest)?;
                }
                dirs.push((dest.clone(), node.mode));
            }
            Kind::File(c) => {
                if let Some(first) = leaders.get(&c.id) {
                    fs::hard_link(first, &dest)?;
                } else {
                    let mut f = File::create(&dest)?;
                    spool.copy_to(c, &mut f)?;
                    fs::set_permissions(&dest, fs::Permissions::from_mode(node.mode))?;
                    leaders.insert(c.id, dest.clone());
                }
            }
            Kind::Symlink(t) => symlink(OsStr::from_bytes(t), &dest)?,
            Kind::Fifo => mknod(&dest, libc::S_IFIFO | node.mode, 0)?,
            Kind::Char(a, b) | Kind::Block(a, b) if privileged => {
                let kind = if matches!(node.kind, Kind::Char(..)) { libc::S_IFCHR } else { libc::S_IFBLK };
                mknod(&dest, kind | node.mode, libc::makedev(*a, *b))?
            }
            Kind::Char(..) | Kind::Block(..) => continue,
        }
        if privileged {
            std::os::unix::fs::lchown(&dest, Some(node.uid as u32), Some(node.gid as u32))?;
            if !matches!(node.kind, Kind::Symlink(_)) {
                // chown clears setuid bits: set the mode again.
                fs::set_permissions(&dest, fs::Permissions::from_mode(node.mode))?;
            }
        }
    }
    // Directory modes last, deepest first, so a read-only directory does not stop its children.
    for (dir, mode) in dirs.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(*mode))?;
    }
    Ok(())
}

fn mknod(path: &Path, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::mknod(c.as_ptr(), mode, dev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn make_writable(root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o755))?;
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}
