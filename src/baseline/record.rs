//! `baseline.toml`: provenance of one build. Paths use the `files.mtree` escaping so that
//! non-UTF-8 names survive TOML.

use serde::{Deserialize, Serialize};

use crate::recipe::{Approval, Deferred, Severity};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    pub gild: String,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// sha256 of `files.mtree`.
    pub tree: String,
    /// sha256 of the recipe file.
    pub recipe: String,
    pub entries: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalHead>,
    /// `install-data.tar` beside `install.sh`: the files gild generated for Debian packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_data: Option<DataFile>,
    /// How the images are cut and compressed (docs/image-format.md); absent from baselines
    /// recorded before images were written in chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_format: Option<String>,
    /// sha256 of the cached index of the decoded base this build used or wrote
    /// (docs/image-format.md): a later build from the same base may start from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_index: Option<String>,
    #[serde(default)]
    pub image: Vec<ImageFile>,
    /// The OCI image layout, when the recipe asks for one (docs/oci.md); absent from baselines
    /// recorded without it, which stay byte for byte as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciRecord>,
    pub base: ArtifactRecord,
    #[serde(default)]
    pub patch: Vec<PatchRecord>,
    #[serde(default)]
    pub deferred: Vec<Deferred>,
    #[serde(default)]
    pub check: Vec<CheckRecord>,
    #[serde(default)]
    pub xattr: Vec<XattrRecord>,
    #[serde(default)]
    pub notable: Vec<NotableRecord>,
    /// The Debian packages installed in the image (docs/debian.md); empty for a tree without dpkg.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub package: Vec<PackageRecord>,
}

/// What a build is made of, as a recipe states it: compared with a record before anything is
/// read, so a version recorded with other inputs is refused at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// The base artifact's sha256 (hex).
    pub base: String,
    /// Each patch's id and artifact sha256 (hex), in order.
    pub patches: Vec<(String, String)>,
    /// The epoch the recipe sets; `None` (the recipe sets none) takes the recorded one, as
    /// does a rebuild under any `SOURCE_DATE_EPOCH`.
    pub epoch: Option<i64>,
}

impl Record {
    /// How `inputs` differ from what this record was built from, one line each; empty when
    /// they are the same.
    pub fn input_differences(&self, inputs: &Inputs) -> Vec<String> {
        let mut out = Vec::new();
        if inputs.base != self.base.sha256 {
            out.push(format!("the base is sha256 {}, recorded {}", inputs.base, self.base.sha256));
        }
        let recorded: Vec<(&str, &str)> = self.patch.iter().map(|p| (p.id.as_str(), p.sha256.as_str())).collect();
        let now: Vec<(&str, &str)> = inputs.patches.iter().map(|(i, s)| (i.as_str(), s.as_str())).collect();
        for (id, sha) in &now {
            match recorded.iter().find(|(r, _)| r == id) {
                None => out.push(format!("patch `{id}` is not in the record")),
                Some((_, r)) if r != sha => out.push(format!("patch `{id}` is sha256 {sha}, recorded {r}")),
                Some(_) => {}
            }
        }
        for (id, _) in recorded.iter().filter(|(r, _)| !now.iter().any(|(n, _)| n == r)) {
            out.push(format!("the recorded patch `{id}` is no longer in the recipe"));
        }
        // The patches both lists have, in each one's order.
        let common = |list: &[(&str, &str)], other: &[(&str, &str)]| -> Vec<String> {
            list.iter().filter(|(i, _)| other.iter().any(|(o, _)| o == i)).map(|(i, _)| i.to_string()).collect()
        };
        let (a, b) = (common(&now, &recorded), common(&recorded, &now));
        if a != b {
            out.push(format!("the patches apply in the order {}, recorded {}", a.join(", "), b.join(", ")));
        }
        if let Some(epoch) = inputs.epoch.filter(|e| Some(*e) != self.epoch) {
            let recorded = self.epoch.map_or_else(|| "none".to_string(), |e| e.to_string());
            out.push(format!("the epoch is {epoch}, recorded {recorded}"));
        }
        out
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct JournalHead {
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct DataFile {
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct ImageFile {
    pub file: String,
    pub size: u64,
    pub sha256: String,
    /// A compressed image's frames, in order: what determines each one's bytes (its key)
    /// and its sha256, so a frame copied from the cache is checked against this record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frame: Vec<FrameRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct FrameRecord {
    pub key: String,
    pub sha256: String,
}

/// `out/NAME-VERSION.oci/`: what a registry and `skopeo inspect` show (`manifest`, `layer`),
/// what umoci checks (`diff-id`), and every file of the layout pinned like an image file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct OciRecord {
    /// The layout directory's name in the output directory.
    pub dir: String,
    /// `OS/ARCHITECTURE[/VARIANT]`.
    pub platform: String,
    /// `gzip` or `zstd`.
    pub layer_compression: String,
    /// Digests as OCI writes them (`sha256:…`): the manifest (the image's digest), the layer
    /// blob, and the uncompressed layer (`rootfs.diff_ids`).
    pub manifest: String,
    pub layer: String,
    pub diff_id: String,
    /// Every file of the layout, by its path inside the layout directory.
    #[serde(default)]
    pub file: Vec<ImageFile>,
    /// The layer's frames, in order (as an image's; docs/image-format.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frame: Vec<FrameRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct SignatureRecord {
    pub key: String,
    pub key_id: String,
    pub trusted_comment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct ArtifactRecord {
    pub artifact: String,
    pub sha256: String,
    #[serde(default)]
    pub signature: Vec<SignatureRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct PatchRecord {
    pub id: String,
    pub artifact: String,
    pub sha256: String,
    pub severity: Severity,
    #[serde(default)]
    pub fixes: Vec<String>,
    #[serde(default)]
    pub exploited: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<toml::value::Datetime>,
    pub approval: Approval,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backout: Option<String>,
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
    /// The sha256 of the patch as decoded, as the build cache keeps it: a rebuild takes the
    /// decoded patch from the cache only when its bytes have this digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<String>,
    #[serde(default)]
    pub signature: Vec<SignatureRecord>,
    /// What the patch did to the package database, when it is a Debian package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deb: Option<DebRecord>,
}

/// A Debian package a patch installed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct DebRecord {
    /// The database name: `PACKAGE`, or `PACKAGE:ARCH` for `Multi-Arch: same`.
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// The version the tree had before; none when the package was new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The CVEs its changelog names in entries newer than `previous`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changelog_fixes: Vec<String>,
    /// Maintainer scripts it ships: not run at build time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scripts: Vec<String>,
    /// Triggers it activates, for a host to run at first boot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<String>,
    /// Edited conffiles kept; the new version is beside them as `PATH.dpkg-dist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dist: Vec<String>,
}

/// One installed package of the image, and the patch that installed it (`base` for the base).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct PackageRecord {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub source: String,
    pub source_version: String,
    pub patch: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct CheckRecord {
    pub name: String,
    pub result: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct XattrRecord {
    pub path: String,
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct NotableRecord {
    pub path: String,
    pub why: String,
    pub patch: String,
}

impl Record {
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a baseline record always serializes")
    }

    pub fn from_toml(text: &str) -> Result<Record, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod input_tests {
    use super::*;

    fn record(patches: &[(&str, &str)], epoch: Option<i64>) -> Record {
        let text = format!(
            "gild = \"0\"\nname = \"web\"\nversion = \"1.0.0\"\ntree = \"t\"\nrecipe = \"r\"\nentries = 1\n{}[base]\nartifact = \"b\"\nsha256 = \"bb\"\n{}",
            epoch.map(|e| format!("epoch = {e}\n")).unwrap_or_default(),
            patches
                .iter()
                .map(|(id, sha)| format!("[[patch]]\nid = \"{id}\"\nartifact = \"a\"\nsha256 = \"{sha}\"\nseverity = \"low\"\napproval = {{ change = \"C\", by = \"b\", date = 2026-11-01 }}\n"))
                .collect::<String>()
        );
        Record::from_toml(&text).unwrap()
    }

    fn inputs(patches: &[(&str, &str)], epoch: Option<i64>) -> Inputs {
        Inputs {
            base: "bb".into(),
            patches: patches.iter().map(|(i, s)| (i.to_string(), s.to_string())).collect(),
            epoch,
        }
    }

    #[test]
    fn inputs_differ_by_digest_order_membership_and_epoch() {
        let r = record(&[("A", "aa"), ("B", "bb")], Some(5));
        assert!(r.input_differences(&inputs(&[("A", "aa"), ("B", "bb")], Some(5))).is_empty());
        assert!(
            r.input_differences(&inputs(&[("A", "aa"), ("B", "bb")], None)).is_empty(),
            "no epoch: the recorded one"
        );
        assert_eq!(r.input_differences(&inputs(&[("A", "aa"), ("B", "bb")], Some(6))), ["the epoch is 6, recorded 5"]);
        assert_eq!(
            r.input_differences(&inputs(&[("B", "bb"), ("A", "aa")], None)),
            ["the patches apply in the order B, A, recorded A, B"]
        );
        assert_eq!(
            r.input_differences(&inputs(&[("A", "a2"), ("B", "bb")], None)),
            ["patch `A` is sha256 a2, recorded aa"]
        );
        assert_eq!(
            r.input_differences(&inputs(&[("A", "aa"), ("C", "cc")], None)),
            ["patch `C` is not in the record", "the recorded patch `B` is no longer in the recipe"]
        );
    }
}
