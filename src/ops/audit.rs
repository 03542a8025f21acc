//! `gild audit BASELINE TARGET...`: is each target compliant, and which patches does it lack?
//!
//! Each target (a directory, a host's spec, an image, a baseline) names its version in
//! `etc/gild/release` — for a spec, by the digest of that file — and is compared with that
//! version's baseline: reported behind when older than BASELINE, flagged when the version was
//! revoked. `--patch ID` and `--fixes CVE` ask instead which targets need that patch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::audit::{self, Ignore};
use crate::baseline::{self, Record};
use crate::diff::{self, Attribution, Side, Unchecked};
use crate::error::{Error, Report};
use crate::layer::{release_text, RELEASE_PATH};
use crate::ops::diff::{PathChange, SourceInfo};
use crate::ops::{sources, Context};
use crate::recipe::{Severity, Version};
use crate::tree::source::{Locator, Source, SourceKind};
use crate::tree::{Kind, Lacks};

#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    pub baseline: String,
    pub targets: Vec<String>,
    /// Which targets need this patch?
    pub patch: Option<String>,
    /// Which targets need a fix for this CVE?
    pub fixes: Option<String>,
    /// Globs passed over, besides the recipe's `[audit] ignore`.
    pub ignore: Vec<String>,
    /// Extra paths count against compliance.
    pub strict: bool,
    /// How far directory targets are walked.
    pub reach: crate::tree::walk::Reach,
}

/// The question `--patch` or `--fixes` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    Patch(String),
    /// A CVE, and the baseline's patches that fix it.
    Fixes {
        cve: String,
        patches: Vec<String>,
    },
}

/// Where a target stands against BASELINE, by the version its release file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// On BASELINE's version.
    Current,
    /// On a newer recorded version, compared with that one.
    Newer,
    /// On an older recorded version, compared with that one.
    Behind,
    /// On a version not recorded here; compared with BASELINE.
    Unrecorded,
    /// Built from another image (the name its release file gives).
    OtherImage(String),
    /// No version gild knows: no `etc/gild/release`, or one gild did not write.
    Unknown,
}

impl Standing {
    pub fn word(&self) -> &'static str {
        match self {
            Standing::Current => "current",
            Standing::Newer => "newer",
            Standing::Behind => "behind",
            Standing::Unrecorded => "unrecorded",
            Standing::OtherImage(_) => "other-image",
            Standing::Unknown => "unknown",
        }
    }
}

/// A patch of BASELINE the target lacks, and how that shows.
#[derive(Debug, Clone)]
pub struct MissingPatch {
    pub id: String,
    pub severity: Option<Severity>,
    pub fixes: Vec<String>,
    pub why: String,
}

#[derive(Debug, Clone)]
pub struct TargetReport {
    pub target: String,
    pub kind: Option<&'static str>,
    /// The version the target's release file names, when it names one.
    pub version: Option<String>,
    pub standing: Standing,
    /// The version it was compared with.
    pub compared_with: Option<String>,
    /// Why its version was revoked (`gild revoke`).
    pub revoked: Option<String>,
    pub drift: Vec<PathChange>,
    /// Paths only the target has, and whether each counts against compliance.
    pub extra: Vec<(PathChange, bool)>,
    pub ignored: usize,
    pub missing: Vec<MissingPatch>,
    pub unchecked: Vec<Unchecked>,
    pub warnings: Vec<String>,
    /// The answer to `--patch` / `--fixes`.
    pub needs: Option<bool>,
    /// The target could not be read: the message and its exit code.
    pub error: Option<(Report, u8)>,
}

impl TargetReport {
    fn failed(target: &str, e: &Error) -> TargetReport {
        TargetReport {
            target: target.to_string(),
            kind: None,
            version: None,
            standing: Standing::Unknown,
            compared_with: None,
            revoked: None,
            drift: Vec::new(),
            extra: Vec::new(),
            ignored: 0,
            missing: Vec::new(),
            unchecked: Vec::new(),
            warnings: Vec::new(),
            needs: None,
            error: Some((e.report(), e.exit_code())),
        }
    }

    pub fn compliant(&self) -> bool {
        self.error.is_none()
            && self.revoked.is_none()
            && matches!(self.standing, Standing::Current | Standing::Newer)
            && self.drift.is_empty()
            && self.extra.iter().all(|(_, counts)| !counts)
            && self.unchecked.is_empty()
    }

    /// One word for the summary: the gravest finding.
    pub fn verdict(&self) -> &'static str {
        if self.error.is_some() {
            "error"
        } else if self.revoked.is_some() {
            "revoked"
        } else if let Standing::OtherImage(_) = self.standing {
            "other-image"
        } else if self.standing == Standing::Behind {
            "behind"
        } else if matches!(self.standing, Standing::Unknown | Standing::Unrecorded) {
            "unknown-version"
        } else if !self.drift.is_empty() || self.extra.iter().any(|(_, c)| *c) {
            "drifted"
        } else if !self.unchecked.is_empty() {
            "incomplete"
        } else {
            "compliant"
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditReport {
    pub baseline: SourceInfo,
    pub question: Option<Question>,
    pub ignore: Vec<String>,
    pub strict: bool,
    pub targets: Vec<TargetReport>,
}

impl AuditReport {
    /// 2 or 3 when a target could not be read (the highest wins); else 1 when a target needs
    /// the patch asked about or, without a question, is not compliant; else 0.
    pub fn exit_code(&self) -> u8 {
        let errors = self.targets.iter().filter_map(|t| t.error.as_ref().map(|e| e.1)).max();
        if let Some(code) = errors {
            return code;
        }
        let finding = match self.question {
            Some(_) => self.targets.iter().any(|t| t.needs == Some(true)),
            None => self.targets.iter().any(|t| !t.compliant()),
        };
        u8::from(finding)
    }
}

pub fn audit(ctx: &Context, opts: &AuditOptions) -> Result<AuditReport, Error> {
    let locator = Locator { reach: opts.reach, ..sources::locator(ctx)? };
    let baseline = locator.baseline(&opts.baseline)?;
    let record = baseline.record().expect("a recorded baseline");
    let SourceKind::Baseline { dir, .. } = &baseline.kind else { unreachable!("a recorded baseline") };
    let images = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
    let question = question(record, opts)?;
    let ignore = ignores(&locator, &images, &record.name, &opts.ignore)?;
    let ctx = Audit {
        locator: &locator,
        baseline: &baseline,
        record,
        version: Version::parse(&record.version).map_err(|why| {
            Error::Corrupt(Report::new(format!("`{}` records version `{}`: {why}", opts.baseline, record.version)))
        })?,
        recorded: baseline::recorded_versions(&images)
            .map_err(Error::io(format!("cannot read `{}`", images.display())))?,
        revoked: revocations(&images, &record.name)?,
        ignore: &ignore,
        strict: opts.strict,
        question: question.as_ref(),
    };
    let mut cache = HashMap::new();
    let mut targets = Vec::new();
    for arg in &opts.targets {
        match ctx.target(arg, &mut cache) {
            Ok(t) => targets.push(t),
            Err(e) if crate::interrupt::requested() => return Err(e),
            Err(e) => targets.push(TargetReport::failed(arg, &e)),
        }
    }
    Ok(AuditReport {
        baseline: SourceInfo::of(&baseline),
        question,
        ignore: ignore.patterns.clone(),
        strict: opts.strict,
        targets,
    })
}

/// `--patch ID` or `--fixes CVE`, checked against BASELINE's patches.
fn question(record: &Record, opts: &AuditOptions) -> Result<Option<Question>, Error> {
    let ids = || record.patch.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(id) = &opts.patch {
        if !record.patch.iter().any(|p| &p.id == id) {
            return Err(Error::Usage(
                Report::new(format!("`{id}` is not a patch of {} {}", record.name, record.version))
                    .help(format!("its patches are {}", ids())),
            ));
        }
        return Ok(Some(Question::Patch(id.clone())));
    }
    if let Some(cve) = &opts.fixes {
        let patches: Vec<String> =
            record.patch.iter().filter(|p| p.fixes.iter().any(|f| f == cve)).map(|p| p.id.clone()).collect();
        if patches.is_empty() {
            return Err(Error::Usage(
                Report::new(format!("no patch of {} {} fixes `{cve}`", record.name, record.version))
                    .help("audit against a baseline whose patches fix it"),
            ));
        }
        return Ok(Some(Question::Fixes { cve: cve.clone(), patches }));
    }
    Ok(None)
}

/// The recipe's `[audit] ignore` (when the recipe is found; checked as `recipe` checks it) and
/// `--ignore`, compiled.
fn ignores(locator: &Locator, images: &Path, name: &str, extra: &[String]) -> Result<Ignore, Error> {
    // The workspace's recipe, else the one beside `baselines/NAME/` when BASELINE is a path.
    let recipe = match &locator.workspace {
        Some(ws) => Some(ws.recipe_path(name)),
        None => images.parent().and_then(Path::parent).map(|root| root.join("recipes").join(format!("{name}.toml"))),
    };
    let mut patterns = Vec::new();
    if let Some(path) = recipe.filter(|p| p.is_file()) {
        let text = std::fs::read_to_string(&path).map_err(Error::io(format!("cannot read `{}`", path.display())))?;
        patterns = crate::recipe::audit_ignore(&path, &text)?;
    }
    for p in extra {
        if !patterns.contains(p) {
            patterns.push(p.clone());
        }
    }
    Ignore::new(&patterns).map_err(|(i, why)| Error::usage(format!("`--ignore {}`: {why}", patterns[i])))
}

/// Revoked versions and why, from `channels.toml` (written by `gild revoke`).
fn revocations(images: &Path, name: &str) -> Result<HashMap<Version, String>, Error> {
    let channels = crate::rollout::load(&images.join("channels.toml"), name)?;
    Ok(channels.revoked.into_iter().filter_map(|r| Some((Version::parse(&r.version).ok()?, r.reason))).collect())
}

/// What every target of one audit is judged against.
struct Audit<'a> {
    locator: &'a Locator,
    baseline: &'a Source,
    record: &'a Record,
    version: Version,
    recorded: Vec<(Version, PathBuf)>,
    revoked: HashMap<Version, String>,
    ignore: &'a Ignore,
    strict: bool,
    question: Option<&'a Question>,
}

impl Audit<'_> {
    fn target(&self, arg: &str, cache: &mut HashMap<Version, Source>) -> Result<TargetReport, Error> {
        let target = self.locator.open(arg)?;
        let release = self.release_of(&target);
        let (standing, other) = match &release {
            None => (Standing::Unknown, None),
            Some((name, _)) if *name != self.record.name => (Standing::OtherImage(name.clone()), None),
            Some((_, v)) => match Version::parse(v) {
                Err(_) => (Standing::Unknown, None),
                Ok(v) if v == self.version => (Standing::Current, None),
                Ok(v) => match self.recorded.iter().find(|(r, _)| *r == v) {
                    None => (Standing::Unrecorded, None),
                    Some((_, dir)) => {
                        (if v > self.version { Standing::Newer } else { Standing::Behind }, Some((v, dir)))
                    }
                },
            },
        };
        if let Some((v, dir)) = &other {
            if !cache.contains_key(v) {
                let label = format!("{}@{v}", self.record.name);
                cache.insert(v.clone(), self.locator.baseline_dir(&label, dir)?);
            }
        }
        let compared = other.as_ref().and_then(|(v, _)| cache.get(v)).unwrap_or(self.baseline);
        let compared_record = compared.record().expect("a recorded baseline");
        let attribution = Attribution::of(compared_record).map_err(|why| {
            Error::Corrupt(Report::new(format!("the record of {} is not valid", compared.title())).cause(why))
        })?;
        let d = diff::trees(Side::from(compared), Side::from(&target), diff::Options { xattrs: false });
        let verdict = audit::judge(&d.changes, &attribution, self.ignore, self.strict);
        let owned = |i: usize| PathChange::of(&d.changes[i], compared, &target, &[&attribution]);
        let drift: Vec<PathChange> = verdict.drift.iter().map(|&i| owned(i)).collect();
        let extra = verdict.extra.iter().map(|&(i, counts)| (owned(i), counts)).collect();
        let missing = self.missing(compared_record, &verdict.missing, &drift);
        let needs = self.question.map(|q| match q {
            Question::Patch(id) => missing.iter().any(|m| &m.id == id),
            Question::Fixes { cve, .. } => {
                !compared_record.patch.iter().any(|p| p.fixes.contains(cve))
                    || missing.iter().any(|m| m.fixes.contains(cve))
            }
        });
        let version = release.map(|(_, v)| v);
        Ok(TargetReport {
            target: arg.to_string(),
            kind: Some(target.kind.word()),
            revoked: version.as_deref().and_then(|v| self.revoked.get(&Version::parse(v).ok()?).cloned()),
            version,
            standing,
            compared_with: Some(compared_record.version.clone()),
            drift,
            extra,
            ignored: verdict.ignored,
            missing,
            unchecked: d.unchecked,
            warnings: target.warnings.clone(),
            needs,
            error: None,
        })
    }

    /// BASELINE's patches the target lacks: those its version does not have, and those whose
    /// paths differ on it.
    fn missing(&self, compared: &Record, by_paths: &[String], drift: &[PathChange]) -> Vec<MissingPatch> {
        let mut out = Vec::new();
        let find =
            |id: &str| self.record.patch.iter().find(|p| p.id == id).or(compared.patch.iter().find(|p| p.id == id));
        for p in &self.record.patch {
            if !compared.patch.iter().any(|c| c.id == p.id) {
                out.push(MissingPatch {
                    id: p.id.clone(),
                    severity: Some(p.severity),
                    fixes: p.fixes.clone(),
                    why: format!("not in {}", compared.version),
                });
            }
        }
        for id in by_paths {
            if out.iter().any(|m| &m.id == id) {
                continue;
            }
            let p = find(id);
            let paths = drift.iter().filter(|c| c.patch.as_deref() == Some(id)).count();
            out.push(MissingPatch {
                id: id.clone(),
                severity: p.map(|p| p.severity),
                fixes: p.map(|p| p.fixes.clone()).unwrap_or_default(),
                why: if paths == 0 {
                    "a path it removed is present".into()
                } else {
                    format!("{paths} of its paths differ")
                },
            });
        }
        out
    }

    /// The image name and version the target's `etc/gild/release` gives: read when the source
    /// has contents, else known by its digest among the recorded versions.
    fn release_of(&self, target: &Source) -> Option<(String, String)> {
        if let Some(r) = target.record() {
            return Some((r.name.clone(), r.version.clone()));
        }
        if let Some(text) = &target.release {
            let table: toml::Table = std::str::from_utf8(text).ok()?.parse().ok()?;
            let field = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_string);
            return Some((field("name")?, field("version")?));
        }
        let node = target.tree.get(RELEASE_PATH)?;
        let Kind::File(c) = &node.kind else { return None };
        if target.lacks(RELEASE_PATH).has(Lacks::DIGEST) {
            return None;
        }
        self.recorded.iter().map(|(v, _)| v.to_string()).chain([self.record.version.clone()]).find_map(|v| {
            let digest: [u8; 32] = Sha256::digest(release_text(&self.record.name, &v).as_bytes()).into();
            (digest == c.sha256).then(|| (self.record.name.clone(), v))
        })
    }
}
