//! Tree sources (docs/audit.md): anything gild can read as a file tree, told apart in this
//! order. An argument naming an existing path is a baseline directory (holds `files.mtree`), an
//! OCI image layout (holds `oci-layout`; its one layer is read as a tarball), a
//! directory, a tarball (compression magic or a valid tar header), or an mtree spec (parses as
//! one); otherwise it is `NAME[@VERSION]` or `NAME@CHANNEL` of a baseline in the workspace, a
//! bare `NAME` meaning the newest recorded version that is not revoked.

mod recorded;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::spec::{self, Form};
use super::{archive, walk, Kind, Lacks, Tree};
use crate::baseline::Record;
use crate::error::Report;
use crate::hex;
use crate::layer::decompress::Compression;
use crate::layer::tar::TarError;
use crate::layer::RELEASE_PATH;
use crate::limits::Limits;
use crate::oci::{self, OciError};
use crate::progress::{Progress, Reporter};
use crate::recipe::Version;
use crate::workspace::Workspace;
pub use recorded::record_path;
use recorded::{differing_lines, read_baseline, recorded_source, xattr_differences};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    Spec {
        file: String,
        line: usize,
        why: String,
        help: Option<String>,
    },
    Archive {
        file: String,
        source: TarError,
    },
    Entry {
        file: String,
        entry: String,
        why: String,
    },
    Io {
        what: String,
        source: io::Error,
    },
    NotFound {
        arg: String,
        cause: String,
        help: String,
    },
    Record {
        path: String,
        why: String,
    },
    Tampered {
        dir: String,
        expected: String,
        found: String,
    },
    /// `channels.toml` (revocations, channels) cannot be read.
    Channels(Box<crate::rollout::RolloutError>),
    /// Boxed: its variants carry many names, and every `Result` would pay for them.
    Oci(Box<OciError>),
    /// Boxed, as `Oci`.
    Sign(Box<crate::sign::SignError>),
}

impl From<crate::sign::SignError> for SourceError {
    fn from(e: crate::sign::SignError) -> SourceError {
        SourceError::Sign(Box::new(e))
    }
}

impl From<OciError> for SourceError {
    fn from(e: OciError) -> SourceError {
        SourceError::Oci(Box::new(e))
    }
}

crate::error::display_report!(SourceError);

impl SourceError {
    pub fn report(&self) -> Report {
        match self {
            SourceError::Spec { file, line, why, help } => Report::new(format!("invalid mtree spec `{file}`"))
                .cause(format!("{file}:{line}: {why}"))
                .maybe_help(help.clone()),
            SourceError::Archive { file, source } => {
                Report::new(format!("`{file}` is not a valid tarball")).because(source.report())
            }
            SourceError::Entry { file, entry, why } => Report::new(format!("`{file}`, entry `{entry}`: {why}")),
            SourceError::Io { what, source } => {
                let r = Report::new(what).because_io(source);
                if source.kind() == io::ErrorKind::PermissionDenied {
                    return r.help("run gild as a user who can read the whole tree");
                }
                r
            }
            SourceError::NotFound { arg, cause, help } => {
                Report::new(format!("no tree source `{arg}`")).cause(cause).help(help)
            }
            SourceError::Record { path, why } => Report::new(format!("`{path}` is not a baseline record")).cause(why),
            SourceError::Channels(e) => e.report(),
            SourceError::Tampered { dir, expected, found } => {
                Report::new(format!("baseline `{dir}` was altered after it was recorded"))
                    .cause(format!("`files.mtree` has sha256 {found}"))
                    .cause(format!("`baseline.toml` records {expected}"))
                    .help("restore the baseline from version control or a backup")
            }
            SourceError::Oci(e) => Report::from_text(&e.to_string()),
            SourceError::Sign(e) => Report::from_text(&e.to_string()),
        }
    }

    /// Context for an I/O error where it happened.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> SourceError {
        let what = what.into();
        move |source| SourceError::Io { what, source }
    }

    /// 3 when a recorded baseline no longer matches its record, else 2 (bad input).
    pub fn exit_code(&self) -> u8 {
        match self {
            SourceError::Tampered { .. } => 3,
            SourceError::Sign(e) => e.exit_code(),
            SourceError::Oci(e) => e.exit_code(),
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
    /// An OCI image layout of one image: `manifest` is its digest (the sha256 of its manifest,
    /// which pins its config and layer; all three are checked against their digests).
    Oci {
        path: PathBuf,
        manifest: [u8; 32],
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
            SourceKind::Oci { .. } => "OCI layout",
            SourceKind::Directory { .. } => "directory",
            SourceKind::Spec { .. } => "spec",
        }
    }
}

impl SourceKind {
    /// `a tarball`, `an OCI layout`.
    pub fn with_article(&self) -> String {
        let word = self.word();
        let article = if word.starts_with(['a', 'e', 'i', 'o', 'u', 'O']) { "an" } else { "a" };
        format!("{article} {word}")
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
    pub progress: Reporter,
    /// How far directories are walked.
    pub reach: walk::Reach,
}

impl Locator {
    pub fn open(&self, arg: &str) -> Result<Source, SourceError> {
        let path = self.base.join(arg);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if path.join("files.mtree").is_file() {
                    return self.baseline_dir(arg, &path);
                }
                if path.join(oci::LAYOUT_FILE).is_file() {
                    return self.oci_layout(arg, &path);
                }
                return directory(arg, &path, self.reach, &*self.progress);
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
                cause: format!("`{arg}` is {}, not a recorded baseline", source.kind.with_article()),
                help: "give NAME, NAME@VERSION or a baseline directory holding `files.mtree` and `baseline.toml`"
                    .into(),
            });
        }
        Ok(source)
    }

    /// `NAME`, `NAME@VERSION` or `NAME@CHANNEL` in the workspace.
    fn reference(&self, arg: &str) -> Result<Source, SourceError> {
        let dir = self.reference_dir(arg)?;
        self.baseline_dir(arg, &dir)
    }

    /// The directory of `NAME` (its newest version that is not revoked), `NAME@VERSION` or
    /// `NAME@CHANNEL` (the version that channel runs) in the workspace.
    pub fn reference_dir(&self, arg: &str) -> Result<PathBuf, SourceError> {
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
        let versions = crate::rollout::Versions::load(&ws.baselines(name), name)
            .map_err(|e| SourceError::Channels(Box::new(e)))?;
        let recorded = &versions.recorded;
        if recorded.is_empty() {
            return Err(not_found(
                format!("no file or directory `{arg}`, and no recorded baseline `{name}` in `{}`", ws.root.display()),
                "give a path, or NAME[@VERSION] of a recorded baseline".into(),
            ));
        }
        let listed = || recorded.iter().map(|(v, _)| v.to_string()).collect::<Vec<_>>().join(", ");
        let found = match version {
            None => versions.newest().ok_or_else(|| {
                not_found(
                    format!("every recorded version of `{name}` is revoked"),
                    format!(
                        "name one: {}",
                        recorded.iter().map(|(v, _)| format!("{name}@{v}")).collect::<Vec<_>>().join(", ")
                    ),
                )
            })?,
            // A channel name never parses as a version (the recipe refuses one that would).
            Some(v) => match Version::parse(v) {
                Ok(wanted) => versions.get(&wanted).ok_or_else(|| {
                    not_found(
                        format!("`{name}` has no recorded version {v}"),
                        format!("recorded versions: {}", listed()),
                    )
                })?,
                Err(_) => {
                    let running = versions.channel(v).ok_or_else(|| {
                        let channels = versions.channels.current_all().into_keys().collect::<Vec<_>>().join(", ");
                        let known = if channels.is_empty() {
                            "none has run one yet".to_string()
                        } else {
                            format!("channels: {channels}")
                        };
                        not_found(
                            format!("`{v}` is not a version, nor a channel of `{name}` that runs one"),
                            format!("write NAME@VERSION or NAME@CHANNEL; recorded versions: {}; {known}", listed()),
                        )
                    })?;
                    versions.get(&running).ok_or_else(|| {
                        not_found(
                            format!("channel `{v}` runs `{name}@{running}`, which is not recorded here"),
                            format!("recorded versions: {}", listed()),
                        )
                    })?
                }
            },
        };
        Ok(found.1.clone())
    }

    /// Opens the baseline directory `dir`; `arg` names it in reports.
    pub fn baseline_dir(&self, arg: &str, dir: &Path) -> Result<Source, SourceError> {
        let warnings = self.signed(dir)?;
        let (text, record) = read_baseline(dir)?;
        let mut source = recorded_source(&self.limits, arg, dir, text, record, false)?;
        source.warnings.extend(warnings);
        Ok(source)
    }

    /// A baseline of a recipe with `[sign]` (or with `GILD_BUILD_KEY` set) is read only when
    /// its signature and every file it lists check out.
    fn signed(&self, dir: &Path) -> Result<Vec<String>, SourceError> {
        let Some(ws) = &self.workspace else { return Ok(Vec::new()) };
        Ok(crate::sign::check_baseline(ws, dir)?.map(|(_, warnings)| warnings).unwrap_or_default())
    }

    /// The directory a recorded baseline argument names (a directory holding `files.mtree`
    /// and `baseline.toml`, or `NAME[@VERSION]`), or `None` for any other source.
    fn recorded_dir(&self, arg: &str) -> Option<PathBuf> {
        let path = self.base.join(arg);
        let dir = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => path,
            Ok(_) => return None,
            Err(_) => self.reference_dir(arg).ok()?,
        };
        (dir.join("files.mtree").is_file() && dir.join("baseline.toml").is_file()).then_some(dir)
    }

    /// Two recorded baselines, read for comparing each other: both `files.mtree` are checked
    /// against their records, then merged line by line (both are sorted by path), and only
    /// the entries whose lines differ — or whose extended attributes differ — are parsed into
    /// the trees. Identical lines are identical entries, as GNU diff finds them, so a diff of
    /// two large, close baselines costs a read of both files, not two trees of everything.
    /// `None` when either argument is not a recorded baseline.
    pub fn recorded_pair(&self, a: &str, b: &str) -> Result<Option<(Source, Source)>, SourceError> {
        let (Some(da), Some(db)) = (self.recorded_dir(a), self.recorded_dir(b)) else {
            return Ok(None);
        };
        // Signatures first: a signed record is read only once it checks out.
        let (wa, wb) = (self.signed(&da)?, self.signed(&db)?);
        let (ra, rb) = std::thread::scope(|s| {
            let ra = s.spawn(|| read_baseline(&da));
            let rb = read_baseline(&db);
            (ra.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), rb)
        });
        let ((ta, reca), (tb, recb)) = (ra?, rb?);
        let (Some(reca), Some(recb)) = (reca, recb) else {
            return Ok(None);
        };
        let extra = xattr_differences(&reca, &recb);
        let (sa, sb) = differing_lines(&ta, &tb, &extra).map_err(|why| SourceError::Spec {
            file: da.join("files.mtree").display().to_string(),
            line: 0,
            why,
            help: None,
        })?;
        let mut a = recorded_source(&self.limits, a, &da, sa, Some(reca), true)?;
        let mut b = recorded_source(&self.limits, b, &db, sb, Some(recb), true)?;
        a.warnings.extend(wa);
        b.warnings.extend(wb);
        Ok(Some((a, b)))
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
            let unpacked = archive::read(file, &self.limits, arg, &*self.progress, false)?;
            let kind = SourceKind::Tarball {
                path: path.to_path_buf(),
                compression: unpacked.compression,
                sha256: unpacked.sha256,
            };
            return Ok(tarball_source(arg, kind, unpacked));
        }
        let mut text = Vec::new();
        let mut file = file;
        file.read_to_end(&mut text).map_err(SourceError::io(cannot()))?;
        let (parsed, form) = parse_spec(text, arg, &self.limits)?;
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

impl Locator {
    /// An OCI image layout: its one layer read as a tarball, which must hash to the
    /// manifest's digest and, decompressed, to the config's `diff_id` (else exit 3).
    fn oci_layout(&self, arg: &str, dir: &Path) -> Result<Source, SourceError> {
        let opened = oci::open(dir, arg)?;
        let shown = format!("{arg}/{}", opened.layer_file);
        let file = File::open(&opened.layer_path).map_err(SourceError::io(format!("cannot read `{shown}`")))?;
        let altered = |what, by: String, expected: &[u8; 32], found: &[u8; 32]| {
            OciError::Digest(Box::new(oci::Altered {
                dir: arg.to_string(),
                file: opened.layer_file.clone(),
                what,
                by,
                expected: *expected,
                found: *found,
            }))
        };
        let unpacked = match archive::read(file, &self.limits, &shown, &*self.progress, true) {
            Ok(u) => u,
            // A layer that does not read may have been altered: that is the finding (exit 3),
            // not the broken tar it makes.
            Err(e) => {
                let found = crate::trust::sha256_file(&opened.layer_path)
                    .map_err(SourceError::io(format!("cannot read `{shown}`")))?;
                if found != opened.layer_sha256 {
                    let by = format!("`{}`", opened.manifest_file);
                    return Err(altered("sha256", by, &opened.layer_sha256, &found).into());
                }
                return Err(e);
            }
        };
        if unpacked.sha256 != opened.layer_sha256 {
            let by = format!("`{}`", opened.manifest_file);
            return Err(altered("sha256", by, &opened.layer_sha256, &unpacked.sha256).into());
        }
        let tar_sha256 = unpacked.tar_sha256.expect("asked for");
        if tar_sha256 != opened.diff_id {
            let by = format!("`rootfs.diff_ids` of `{}`", opened.config_file);
            return Err(altered("uncompressed sha256", by, &opened.diff_id, &tar_sha256).into());
        }
        let kind = SourceKind::Oci { path: dir.to_path_buf(), manifest: opened.manifest_sha256 };
        Ok(tarball_source(arg, kind, unpacked))
    }
}

/// A source read from a tar stream (a tarball, an OCI layer).
fn tarball_source(arg: &str, kind: SourceKind, mut unpacked: archive::Unpacked) -> Source {
    let mut lacks = HashMap::new();
    if !unpacked.root_lacks.is_empty() {
        lacks.insert(Vec::new(), unpacked.root_lacks);
    }
    let release = unpacked.release.take().filter(|_| release_is_plain(&unpacked.tree));
    Source {
        label: arg.to_string(),
        kind,
        tree: unpacked.tree,
        lacks,
        xattrs: Xattrs::All,
        release,
        warnings: unpacked.warnings,
    }
}

fn parse_spec(text: Vec<u8>, shown: &str, limits: &Limits) -> Result<(spec::SpecTree, Form), SourceError> {
    let err = |e: spec::SpecError| SourceError::Spec {
        file: shown.to_string(),
        line: e.line,
        why: e.why,
        help: Some(e.help.unwrap_or_else(|| {
            "write host reports with `gild scan`, `mtree -c -K sha256digest,…` or `bsdtar --format=mtree`".into()
        })),
    };
    spec::read(text, limits).map_err(err)
}

fn directory(arg: &str, path: &Path, reach: walk::Reach, progress: &dyn Progress) -> Result<Source, SourceError> {
    progress.start(&format!("hashing `{arg}`"), None);
    let walked = walk::read(path, reach, progress)?;
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
