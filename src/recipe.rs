//! The recipe: `recipes/NAME.toml` (docs/recipe.md).
//!
//! The file is read once into [`raw`] serde types that mirror it (unknown keys rejected, spans
//! kept), then checked into a [`Recipe`] whose fields cannot be wrong: versions parsed, key
//! names resolved to loaded keys, paths made relative to the recipe file, thresholds within
//! the signers. Every mistake is reported with `FILE:LINE:COL` and the offending key.

mod check;
pub mod edit;
mod raw;
mod sign;
mod version;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::error::Report;
use crate::limits::{Limit, Limits};
use crate::trust::{KeyId, PublicKey};
use check::{check_audit, Checker, Locator};
pub use version::Version;

/// A recipe mistake, located in its file.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    Read { path: PathBuf, source: std::io::Error },
    Invalid { path: PathBuf, line: usize, col: usize, message: String, help: Option<String> },
}

crate::error::display_report!(RecipeError);

impl RecipeError {
    pub fn report(&self) -> Report {
        match self {
            RecipeError::Read { path, source } => {
                Report::new(format!("cannot read recipe `{}`", path.display())).because_io(source)
            }
            RecipeError::Invalid { path, line, col, message, help } => {
                Report::new(format!("invalid recipe `{}`", path.display()))
                    .cause(format!("{}:{line}:{col}: {message}", path.display()))
                    .maybe_help(help.clone())
            }
        }
    }
}

/// An output format of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Format {
    #[serde(rename = "tar.zst")]
    TarZst,
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "tar")]
    Tar,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::TarZst => "tar.zst",
            Format::TarGz => "tar.gz",
            Format::Tar => "tar",
        }
    }
}

/// How the OCI image's one layer is compressed: gzip (the default) is what every consumer
/// reads, and then the layer is byte for byte the `tar.gz` image; zstd only for consumers
/// that read it (umoci from 0.5, containerd, podman).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    #[default]
    Gzip,
    Zstd,
}

impl LayerCompression {
    /// The image format whose bytes the layer is.
    pub fn format(self) -> Format {
        match self {
            LayerCompression::Gzip => Format::TarGz,
            LayerCompression::Zstd => Format::TarZst,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "gzip",
            LayerCompression::Zstd => "zstd",
        }
    }
}

/// The OCI platform of the image's programs: `OS/ARCHITECTURE[/VARIANT]` as container tools
/// write it (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Platform, String> {
        let word =
            |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| word(p)) {
            return Err("a platform is OS/ARCHITECTURE[/VARIANT] in lower case, such as \"linux/amd64\"".into());
        }
        Ok(Platform {
            os: parts[0].into(),
            architecture: parts[1].into(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// `"oci"` in `formats`: write `out/NAME-VERSION.oci/` (docs/oci.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oci {
    pub platform: Platform,
    pub layer: LayerCompression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    Internal,
    Dmz,
    Internet,
}

/// A trusted public key, by its name in `[keys]`.
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub id: KeyId,
    pub key: PublicKey,
    /// When set, signatures by this key never count.
    pub revoked: Option<String>,
    pub reason: Option<String>,
}

/// One artifact to verify: the base or a patch.
#[derive(Debug, Clone)]
pub struct ArtifactSpec {
    /// `base`, or the patch id.
    pub id: String,
    /// As written in the recipe, for messages and records.
    pub written: String,
    /// Resolved against the recipe's directory.
    pub path: PathBuf,
    pub sha256: [u8; 32],
    /// Indices into [`Recipe::keys`].
    pub signed_by: Vec<usize>,
    pub threshold: usize,
    pub signatures: Vec<SignatureFile>,
}

/// A signature file of an artifact.
#[derive(Debug, Clone)]
pub struct SignatureFile {
    /// As written in the recipe (or the default `ARTIFACT.minisig`), for messages.
    pub written: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Approval {
    pub change: String,
    pub by: String,
    pub date: toml::value::Datetime,
}

#[derive(Debug, Clone)]
pub struct Patch {
    pub artifact: ArtifactSpec,
    pub severity: Severity,
    pub fixes: Vec<String>,
    /// `fixes` is written in the recipe (even empty), so a changelog does not replace it.
    pub fixes_given: bool,
    pub exploited: bool,
    pub released: Option<toml::value::Datetime>,
    pub approval: Approval,
    pub backout: Option<String>,
    /// A Debian package may install a version lower than the tree's (docs/debian.md).
    pub downgrade: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Deferred {
    pub id: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<toml::value::Datetime>,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub run: String,
    pub timeout: std::time::Duration,
}

/// A checked recipe.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub path: PathBuf,
    /// sha256 of the recipe file's bytes, recorded in the baseline.
    pub sha256: [u8; 32],
    pub name: String,
    pub version: Version,
    pub epoch: Option<i64>,
    /// The tar images to write (none when only `"oci"` is asked for).
    pub formats: Vec<Format>,
    pub oci: Option<Oci>,
    pub criticality: Option<Criticality>,
    pub exposure: Option<Exposure>,
    pub allow_devices: bool,
    pub limits: Limits,
    pub keys: Vec<Key>,
    pub base: ArtifactSpec,
    pub patches: Vec<Patch>,
    pub deferred: Vec<Deferred>,
    pub checks: Vec<Check>,
    pub rollout: Option<Rollout>,
    pub policy: Option<Policy>,
    /// `[sign]`: every baseline is signed with the build key.
    pub sign: Option<crate::sign::SignPolicy>,
    /// `[audit] ignore`: globs an audit passes over, checked here.
    pub audit_ignore: Vec<String>,
}

/// `[rollout]`: the channels in promotion order, and how long a version stays in one before
/// the next (zero when `soak` is not set).
#[derive(Debug, Clone)]
pub struct Rollout {
    pub channels: Vec<String>,
    pub soak: std::time::Duration,
}

/// `[policy]`: days from release (else approval) until a patch must be in a recorded
/// baseline, per severity; a severity without days has no due date.
#[derive(Debug, Clone)]
pub struct Policy {
    pub critical: Option<u32>,
    pub high: Option<u32>,
    pub medium: Option<u32>,
    pub low: Option<u32>,
    /// 1 when not set.
    pub exploited_factor: f64,
}

impl Policy {
    /// Days allowed for a patch: `floor(days × exploited-factor)` when exploited.
    pub fn days(&self, severity: Severity, exploited: bool) -> Option<i64> {
        let days = match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
        }?;
        Some(if exploited { (f64::from(days) * self.exploited_factor).floor() as i64 } else { i64::from(days) })
    }
}

impl Recipe {
    /// Every artifact, base first, in the order layers apply.
    pub fn artifacts(&self) -> impl Iterator<Item = &ArtifactSpec> {
        std::iter::once(&self.base).chain(self.patches.iter().map(|p| &p.artifact))
    }
}

/// Reads and checks a recipe file.
pub fn load(path: &Path) -> Result<Recipe, RecipeError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| RecipeError::Read { path: path.to_path_buf(), source })?;
    parse(path, &text)
}

/// Checks recipe text as if it were the file at `path` (its name, and the directory its
/// paths are relative to): how an edit is checked before it replaces the file.
pub fn parse(path: &Path, text: &str) -> Result<Recipe, RecipeError> {
    let loc = Locator { path, text };
    let raw: raw::RawRecipe = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        loc.error(span, e.message().to_string(), None)
    })?;
    let checker = Checker { loc, dir: path.parent().unwrap_or(Path::new(".")).to_path_buf() };
    checker.check(raw, Sha256::digest(text.as_bytes()).into())
}

/// The recipe's `[audit] ignore` alone, checked as [`parse`] checks it: what `audit` reads,
/// which needs neither the recipe's keys nor its artifacts.
pub fn audit_ignore(path: &Path, text: &str) -> Result<Vec<String>, RecipeError> {
    let loc = Locator { path, text };
    let raw: raw::AuditOnly =
        toml::from_str(text).map_err(|e| loc.error(e.span().unwrap_or(0..0), e.message().into(), None))?;
    check_audit(&loc, raw.audit)
}

pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

/// Parses 64 lowercase hex digits.
pub fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    crate::hex::decode_array(s.as_bytes())
}

/// Parses `30s`, `5m`, `2h`, `7d`.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A workspace whose `fixtures` is the repository's, so mutated demo recipes find keys.
    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("recipes")).unwrap();
        std::os::unix::fs::symlink(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"), dir.path().join("fixtures"))
            .unwrap();
        dir
    }

    fn load_text(dir: &Path, text: &[u8]) -> Result<Recipe, RecipeError> {
        let path = dir.join("recipes/demo.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any bytes: no panic, and a located error names a line and column that exist.
        #[test]
        fn random_text_never_panics_and_errors_name_a_place_in_it(text in proptest::collection::vec(any::<u8>(), 0..600)) {
            let ws = workspace();
            if let Err(RecipeError::Invalid { line, col, .. }) = load_text(ws.path(), &text) {
                let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
                prop_assert!(line >= 1 && line <= lines.len(), "line {} of {}", line, lines.len());
                prop_assert!(col >= 1 && col <= lines[line - 1].len() + 1, "col {} of {:?}", col, lines[line - 1]);
            }
        }

        /// One line of the demo recipe mutated (a byte inserted, removed or replaced): the
        /// error names that line, or the line the mistake shows at, and why it is that one.
        #[test]
        fn a_mutated_demo_line_is_the_line_the_error_names(
            at in any::<prop::sample::Index>(),
            pos in any::<prop::sample::Index>(),
            byte in prop::sample::select(b" =\"[]{},.#abcxyz019-_\\'\t".to_vec()),
            how in 0u8..3,
        ) {
            let ws = workspace();
            let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/demo.toml")).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let l = at.index(lines.len());
            let mut bytes = lines[l].clone().into_bytes();
            let i = pos.index(bytes.len() + 1);
            match how {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => {}
            }
            lines[l] = String::from_utf8_lossy(&bytes).into_owned();
            let mutated = lines.iter().map(|x| format!("{x}\n")).collect::<String>();
            if let Err(RecipeError::Invalid { line, message, .. }) = load_text(ws.path(), mutated.as_bytes()) {
                prop_assert!(
                    explains(&lines, l, line - 1, &message),
                    "mutated line {}: {:?}\nerror at line {}: {}", l + 1, lines[l], line, message
                );
            }
        }
    }

    /// Whether an error at line `e` (0-based) is where a mistake on line `l` shows.
    fn explains(lines: &[String], l: usize, e: usize, message: &str) -> bool {
        if e == l {
            return true;
        }
        let content = |k: usize| !lines[k].trim().is_empty() && !lines[k].trim_start().starts_with('#');
        // A construct left open (an array, a string escape) is found where content resumes.
        if e > l && (l + 1..e).all(|k| !content(k)) {
            return true;
        }
        // A `[keys]` entry renamed or broken: the key is missing where an artifact names it.
        if message.contains("which `[keys]` does not define") {
            return (0..=l)
                .rev()
                .find(|&k| lines[k].trim_start().starts_with('['))
                .is_some_and(|k| lines[k].trim() == "[keys]");
        }
        // A key commented out or renamed: its table misses it, named at the table's header.
        if message.starts_with("missing field") {
            return (0..=l).rev().find(|&k| lines[k].trim_start().starts_with('[')) == Some(e);
        }
        // A table header broken: its keys fall into the table above, where the first one that
        // does not belong there is named, at its own line.
        let key = message.split('`').nth(1).unwrap_or("\u{0}");
        (message.starts_with("duplicate key") || message.starts_with("unknown field"))
            && e > l
            && lines[e].trim_start().starts_with(key)
    }

    #[test]
    fn names_follow_the_spec_pattern() {
        assert!(valid_name("web"));
        assert!(valid_name("debian-12.min_base"));
        assert!(!valid_name("Web"));
        assert!(!valid_name("-web"));
        assert!(!valid_name(""));
    }

    #[test]
    fn durations_take_one_unit() {
        assert_eq!(parse_duration("60s"), Some(std::time::Duration::from_secs(60)));
        assert_eq!(parse_duration("7d"), Some(std::time::Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("1w"), None);
    }
}
