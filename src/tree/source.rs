//! Tree sources (SPEC §1): anything gild can read as a file tree, told apart in the SPEC's
//! order. An argument naming an existing path is a baseline directory (holds `files.mtree`), a
//! directory, a tarball (compression magic or a valid tar header), or an mtree spec (parses as
//! one); otherwise it is `NAME[@VERSION]` of a baseline in the workspace, a bare `NAME` meaning
//! the newest recorded version.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::spec::{self, Form};
use super::{archive, walk, Kind, Lacks, Tree};
use crate::baseline::{self, Record};
use crate::layer::decompress::Compression;
use crate::layer::tar::TarError;
use crate::layer::RELEASE_PATH;
use crate::limits::Limits;
use crate::recipe::Version;
use crate::trust::hex;
use crate::workspace::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("invalid mtree spec `{file}`\n  cause: {file}:{line}: {why}{}", help.as_ref().map(|h| format!("\n  help: {h}")).unwrap_or_default())]
    Spec { file: String, line: usize, why: String, help: Option<String> },
    #[error("`{file}` is not a valid tarball\n  cause: {source}")]
    Archive { file: String, source: TarError },
    #[error("`{file}`, entry `{entry}`: {why}")]
    Entry { file: String, entry: String, why: String },
    #[error("{what}\n  cause: {source}")]
    Io { what: String, source: io::Error },
    #[error("no tree source `{arg}`\n  cause: {cause}\n  help: {help}")]
    NotFound { arg: String, cause: String, help: String },
    #[error("`{path}` is not a baseline record\n  cause: {why}")]
    Record { path: String, why: String },
    #[error("baseline `{dir}` was altered after it was recorded\n  cause: `files.mtree` has sha256 {found}\n  cause: `baseline.toml` records {expected}\n  help: restore the baseline from version control or a backup")]
    Tampered { dir: String, expected: String, found: String },
}

impl SourceError {
    /// Context for an I/O error where it happened.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> SourceError {
        let what = what.into();
        move |source| SourceError::Io { what, source }
    }

    /// 3 when a recorded baseline no longer matches its record, else 2 (bad input).
    pub fn exit_code(&self) -> u8 {
        match self {
            SourceError::Tampered { .. } => 3,
            _ => 2,
        }
    }
}

/// Which extended attributes a source knows, so comparisons only compare what both know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Xattrs {
    /// None (an mtree spec has no keyword for them).
    None,
    /// `security.capability` only (a directory: other attributes, such as SELinux labels, are
    /// the host's own business).
    Capability,
    /// Every attribute, as the sha256 of its value (baselines record no more).
    All,
}

#[derive(Debug)]
pub enum SourceKind {
    /// `baselines/NAME/VERSION/`; `record` is its `baseline.toml` when it has one.
    Baseline {
        dir: PathBuf,
        record: Option<Box<Record>>,
    },
    Tarball {
        path: PathBuf,
        compression: Compression,
        sha256: [u8; 32],
    },
    Directory {
        path: PathBuf,
    },
    Spec {
        path: PathBuf,
        form: Form,
    },
}

impl SourceKind {
    /// A word for reports: `baseline`, `tarball`, `directory`, `spec`.
    pub fn word(&self) -> &'static str {
        match self {
            SourceKind::Baseline { .. } => "baseline",
            SourceKind::Tarball { .. } => "tarball",
            SourceKind::Directory { .. } => "directory",
            SourceKind::Spec { .. } => "spec",
        }
    }
}

/// A tree read from a source, with what the source could not say.
#[derive(Debug)]
pub struct Source {
    /// The argument as given.
    pub label: String,
    pub kind: SourceKind,
    pub tree: Tree,
    /// Entries the source could not say everything about; most sources have none.
    pub lacks: HashMap<Vec<u8>, Lacks>,
    pub xattrs: Xattrs,
    /// The bytes of `etc/gild/release`, when the source has contents (tarball, directory).
    pub release: Option<Vec<u8>>,
    pub warnings: Vec<String>,
}

impl Source {
    pub fn lacks(&self, path: &[u8]) -> Lacks {
        if self.lacks.is_empty() {
            return Lacks::NONE;
        }
        self.lacks.get(path).copied().unwrap_or_default()
    }

    /// The baseline record, for a baseline that has one.
    pub fn record(&self) -> Option<&Record> {
        match &self.kind {
            SourceKind::Baseline { record, .. } => record.as_deref(),
            _ => None,
        }
    }

    /// `demo 1.0.0` for a recorded baseline, else the label.
    pub fn title(&self) -> String {
        match self.record() {
            Some(r) => format!("{} {}", r.name, r.version),
            None => self.label.clone(),
        }
    }
}

/// Finds and opens tree sources for a command: paths relative to `base`, baseline
/// references in `workspace`.
#[derive(Debug, Clone)]
pub struct Locator {
    pub base: PathBuf,
    pub workspace: Option<Workspace>,
    pub limits: Limits,
}

impl Locator {
    pub fn open(&self, arg: &str) -> Result<Source, SourceError> {
        let path = self.base.join(arg);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if path.join("files.mtree").is_file() {
                    return self.baseline_dir(arg, &path);
                }
                return directory(arg, &path);
            }
            Ok(_) => return self.file(arg, &path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(SourceError::io(format!("cannot read `{arg}`"))(e)),
        }
        self.reference(arg)
    }

    /// Opens `arg` and insists on a recorded baseline (with `baseline.toml`).
    pub fn baseline(&self, arg: &str) -> Result<Source, SourceError> {
        let source = self.open(arg)?;
        if source.record().is_none() {
            return Err(SourceError::NotFound {
                arg: arg.to_string(),
                cause: format!("`{arg}` is a {}, not a recorded baseline", source.kind.word()),
                help: "give NAME, NAME@VERSION or a baseline directory holding `files.mtree` and `baseline.toml`"
                    .into(),
            });
        }
        Ok(source)
    }

    /// `NAME` or `NAME@VERSION` in the workspace.
    fn reference(&self, arg: &str) -> Result<Source, SourceError> {
        let not_found = |cause: String, help: String| SourceError::NotFound { arg: arg.to_string(), cause, help };
        let (name, version) = match arg.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (arg, None),
        };
        let plausible = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        let Some(ws) = self.workspace.as_ref().filter(|_| plausible) else {
            return Err(not_found(
                format!("no file or directory `{}`", self.base.join(arg).display()),
                "give a baseline (NAME, NAME@VERSION or its directory), a tarball, a directory or an mtree spec".into(),
            ));
        };
        let dir = ws.baselines(name);
        let recorded =
            baseline::recorded_versions(&dir).map_err(SourceError::io(format!("cannot read `{}`", dir.display())))?;
        let listed = || recorded.iter().map(|(v, _)| v.to_string()).collect::<Vec<_>>().join(", ");
        let found = match version {
            None => recorded.last(),
            Some(v) => {
                let wanted = Version::parse(v)
                    .map_err(|why| not_found(format!("`{v}` is not a version: {why}"), "write NAME@1.2.3".into()))?;
                recorded.iter().find(|(r, _)| *r == wanted)
            }
        };
        match found {
            Some((_, dir)) => self.baseline_dir(arg, dir),
            None if recorded.is_empty() => Err(not_found(
                format!("no file or directory `{arg}`, and no recorded baseline `{name}` in `{}`", ws.root.display()),
                "give a path, or NAME[@VERSION] of a recorded baseline".into(),
            )),
            None => Err(not_found(
                format!("`{name}` has no recorded version {}", version.unwrap_or_default()),
                format!("recorded versions: {}", listed()),
            )),
        }
    }

    /// Opens the baseline directory `dir`; `arg` names it in reports.
    pub fn baseline_dir(&self, arg: &str, dir: &Path) -> Result<Source, SourceError> {
        let spec_path = dir.join("files.mtree");
        let shown = spec_path.display().to_string();
        let text = std::fs::read(&spec_path).map_err(SourceError::io(format!("cannot read `{shown}`")))?;
        let record_path = dir.join("baseline.toml");
        let record = match std::fs::read_to_string(&record_path) {
            Ok(t) => Some(Box::new(Record::from_toml(&t).map_err(|e| SourceError::Record {
                path: record_path.display().to_string(),
                why: e.message().to_string(),
            })?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(SourceError::io(format!("cannot read `{}`", record_path.display()))(e)),
        };
        if let Some(r) = &record {
            let found = hex(&Sha256::digest(&text));
            if found != r.tree {
                return Err(SourceError::Tampered { dir: dir.display().to_string(), expected: r.tree.clone(), found });
            }
        }
        let (parsed, _) = parse_spec(text, &shown)?;
        let mut tree = parsed.tree;
        let xattrs = match &record {
            Some(r) => {
                attach_xattrs(&mut tree, r)
                    .map_err(|why| SourceError::Record { path: record_path.display().to_string(), why })?;
                Xattrs::All
            }
            None => Xattrs::None,
        };
        let warnings = sockets_warning(parsed.sockets);
        Ok(Source {
            label: arg.to_string(),
            kind: SourceKind::Baseline { dir: dir.to_path_buf(), record },
            tree,
            lacks: parsed.lacks,
            xattrs,
            release: None,
            warnings,
        })
    }

    /// A file: a tarball (compressed, or a valid tar header) or else an mtree spec. The file
    /// is read once, front to back, so a pipe (`/dev/stdin`) works too.
    fn file(&self, arg: &str, path: &Path) -> Result<Source, SourceError> {
        let cannot = || format!("cannot read `{arg}`");
        let mut file = File::open(path).map_err(SourceError::io(cannot()))?;
        let mut head = Vec::with_capacity(512);
        (&mut file).take(512).read_to_end(&mut head).map_err(SourceError::io(cannot()))?;
        let compression = Compression::detect(&head)
            .map_err(|why| SourceError::Io { what: cannot(), source: io::Error::other(why) })?;
        let tarball = compression != Compression::None || looks_like_tar(&head);
        let file = io::Cursor::new(head).chain(file);
        if tarball {
            let mut unpacked = archive::read(file, &self.limits, arg)?;
            let mut lacks = HashMap::new();
            if !unpacked.root_lacks.is_empty() {
                lacks.insert(Vec::new(), unpacked.root_lacks);
            }
            let release = unpacked.release.take().filter(|_| release_is_plain(&unpacked.tree));
            return Ok(Source {
                label: arg.to_string(),
                kind: SourceKind::Tarball {
                    path: path.to_path_buf(),
                    compression: unpacked.compression,
                    sha256: unpacked.sha256,
                },
                tree: unpacked.tree,
                lacks,
                xattrs: Xattrs::All,
                release,
                warnings: unpacked.warnings,
            });
        }
        let mut text = Vec::new();
        let mut file = file;
        file.read_to_end(&mut text).map_err(SourceError::io(cannot()))?;
        let (parsed, form) = parse_spec(text, arg)?;
        Ok(Source {
            label: arg.to_string(),
            kind: SourceKind::Spec { path: path.to_path_buf(), form },
            tree: parsed.tree,
            lacks: parsed.lacks,
            xattrs: Xattrs::None,
            release: None,
            warnings: sockets_warning(parsed.sockets),
        })
    }
}

fn parse_spec(text: Vec<u8>, shown: &str) -> Result<(spec::SpecTree, Form), SourceError> {
    let err = |e: spec::SpecError| SourceError::Spec {
        file: shown.to_string(),
        line: e.line,
        why: e.why,
        help: Some(
            "write host reports with `gild scan`, `mtree -c -K sha256digest,…` or `bsdtar --format=mtree`".into(),
        ),
    };
    spec::read(text).map_err(err)
}

fn directory(arg: &str, path: &Path) -> Result<Source, SourceError> {
    let walked = walk::read(path)?;
    let mut warnings = walked.warnings;
    warnings.extend(sockets_warning(walked.sockets));
    let release = if release_is_plain(&walked.tree) { read_release(path) } else { None };
    Ok(Source {
        label: arg.to_string(),
        kind: SourceKind::Directory { path: path.to_path_buf() },
        tree: walked.tree,
        lacks: HashMap::new(),
        xattrs: Xattrs::Capability,
        release,
        warnings,
    })
}

/// True when `etc`, `etc/gild` are directories and `etc/gild/release` a file in the tree, so
/// reading it follows no symlink.
fn release_is_plain(tree: &Tree) -> bool {
    tree.get(b"etc").is_some_and(|n| n.is_dir())
        && tree.get(b"etc/gild").is_some_and(|n| n.is_dir())
        && tree.get(RELEASE_PATH).is_some_and(|n| matches!(n.kind, Kind::File(_)))
}

fn read_release(root: &Path) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let path = root.join(std::ffi::OsStr::from_bytes(RELEASE_PATH));
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).ok()?;
    let mut text = Vec::new();
    file.take(64 * 1024).read_to_end(&mut text).ok()?;
    Some(text)
}

fn sockets_warning(sockets: usize) -> Vec<String> {
    if sockets == 0 {
        Vec::new()
    } else {
        vec![format!("{sockets} socket(s) passed over: gild's trees hold no sockets")]
    }
}

/// Puts the record's `[[xattr]]` entries (name, sha256 of the value) on the tree's nodes.
fn attach_xattrs(tree: &mut Tree, record: &Record) -> Result<(), String> {
    for x in &record.xattr {
        let path = record_path(&x.path)?;
        let name = spec::unescape(x.name.as_bytes())?;
        let digest = hex_bytes(&x.sha256).ok_or_else(|| format!("`[[xattr]]` of `{}`: bad sha256", x.path))?;
        let node = tree
            .get_mut(&path)
            .ok_or_else(|| format!("`[[xattr]]` names `{}`, which is not in files.mtree", x.path))?;
        node.xattrs.push((name, digest));
        node.xattrs.sort();
    }
    Ok(())
}

/// A path as `baseline.toml` writes it (`./usr/bin/su`, escaped) as a tree path.
pub fn record_path(escaped: &str) -> Result<Vec<u8>, String> {
    let raw = spec::unescape(escaped.as_bytes())?;
    super::clean_path(&raw).ok_or_else(|| format!("`{escaped}` climbs with `..`"))
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// A tar header block: all zeros (an empty archive) or one whose checksum adds up.
fn looks_like_tar(head: &[u8]) -> bool {
    let Ok(block) = <&[u8; 512]>::try_from(head) else { return false };
    if block.iter().all(|&b| b == 0) {
        return true;
    }
    let field = &block[148..156];
    let digits: String = field.iter().map(|&b| b as char).filter(|c| c.is_digit(8)).collect();
    let Ok(stored) = u64::from_str_radix(&digits, 8) else { return false };
    let sum: u64 =
        block.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    stored == sum
}
