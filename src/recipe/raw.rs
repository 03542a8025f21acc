//! The serde mirror of the recipe file: unknown keys rejected, spans kept for messages.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::value::Datetime;
use toml::Spanned;

use super::{Approval, Criticality, Exposure, Format, LayerCompression, Severity};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawRecipe {
    pub image: RawImage,
    #[serde(default)]
    pub keys: BTreeMap<String, Spanned<RawKey>>,
    pub base: Spanned<RawArtifact>,
    #[serde(default)]
    pub patch: Vec<Spanned<RawPatch>>,
    #[serde(default)]
    pub deferred: Vec<Spanned<RawDeferred>>,
    #[serde(default)]
    pub check: Vec<RawCheck>,
    pub rollout: Option<RawRollout>,
    pub policy: Option<RawPolicy>,
    pub audit: Option<RawAudit>,
    pub sign: Option<Spanned<RawSign>>,
}

/// The recipe's `[audit]` table alone (what `audit` reads, which needs no keys or artifacts).
#[derive(Deserialize)]
pub struct AuditOnly {
    pub audit: Option<RawAudit>,
}

/// `[sign]`: `key = { file = … }` or `{ env = … }`, `public = […]`, `since`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSign {
    pub key: Spanned<RawSecret>,
    #[serde(default)]
    pub public: Vec<Spanned<String>>,
    pub since: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSecret {
    pub file: Option<String>,
    pub env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawImage {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    pub epoch: Option<i64>,
    pub formats: Option<Vec<Spanned<RawFormat>>>,
    /// `OS/ARCHITECTURE[/VARIANT]` of the OCI image; required by (and only for) `"oci"`.
    pub platform: Option<Spanned<String>>,
    pub oci_layer: Option<Spanned<LayerCompression>>,
    pub criticality: Option<Criticality>,
    pub exposure: Option<Exposure>,
    #[serde(default)]
    pub allow_devices: bool,
    pub limits: Option<BTreeMap<String, Spanned<SizeValue>>>,
}

/// A `formats` entry: a tar image, or the OCI image layout (docs/oci.md).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum RawFormat {
    #[serde(rename = "tar.zst")]
    TarZst,
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "tar")]
    Tar,
    #[serde(rename = "oci")]
    Oci,
}

impl RawFormat {
    pub fn word(self) -> &'static str {
        match self {
            RawFormat::TarZst => Format::TarZst.extension(),
            RawFormat::TarGz => Format::TarGz.extension(),
            RawFormat::Tar => Format::Tar.extension(),
            RawFormat::Oci => "oci",
        }
    }

    /// The tar image format; `None` for `oci`.
    pub fn image(self) -> Option<Format> {
        match self {
            RawFormat::TarZst => Some(Format::TarZst),
            RawFormat::TarGz => Some(Format::TarGz),
            RawFormat::Tar => Some(Format::Tar),
            RawFormat::Oci => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Int(u64),
    Str(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawKey {
    pub file: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub revoked: Option<Datetime>,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawArtifact {
    pub artifact: Spanned<String>,
    pub sha256: Spanned<String>,
    pub signed_by: Spanned<Vec<Spanned<String>>>,
    pub threshold: Option<Spanned<u32>>,
    pub signatures: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPatch {
    pub id: Spanned<String>,
    pub artifact: Spanned<String>,
    pub sha256: Spanned<String>,
    pub signed_by: Spanned<Vec<Spanned<String>>>,
    pub threshold: Option<Spanned<u32>>,
    pub signatures: Option<Vec<Spanned<String>>>,
    pub severity: Severity,
    /// `None` when the key is absent: a Debian package's changelog then says what it fixes.
    pub fixes: Option<Vec<String>>,
    #[serde(default)]
    pub exploited: bool,
    pub released: Option<Datetime>,
    pub approval: Approval,
    pub backout: Option<String>,
    #[serde(default)]
    pub downgrade: bool,
}

/// A deferral; it may keep every key of the `[[patch]]` it came from so it can be restored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[allow(dead_code)]
pub struct RawDeferred {
    pub id: Spanned<String>,
    pub reason: String,
    pub mitigation: Option<String>,
    pub review_by: Option<Datetime>,
    pub artifact: Option<String>,
    pub sha256: Option<String>,
    pub signed_by: Option<Vec<String>>,
    pub threshold: Option<u32>,
    pub signatures: Option<Vec<String>>,
    pub severity: Option<Severity>,
    pub fixes: Option<Vec<String>>,
    pub exploited: Option<bool>,
    pub released: Option<Datetime>,
    pub approval: Option<Approval>,
    pub backout: Option<String>,
    pub downgrade: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCheck {
    pub name: String,
    pub run: String,
    pub timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawRollout {
    pub channels: Spanned<Vec<Spanned<String>>>,
    pub soak: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPolicy {
    pub critical: Option<u32>,
    pub high: Option<u32>,
    pub medium: Option<u32>,
    pub low: Option<u32>,
    pub exploited_factor: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawAudit {
    #[serde(default)]
    pub ignore: Vec<Spanned<String>>,
}
