//! A parsed recipe checked into a [`Recipe`]: every field that can be wrong is checked here,
//! and each mistake names the file, line and column of the key at fault.

use super::*;

/// Compiles every `[audit] ignore` glob, so a bad one fails where the recipe is read (`gild
/// verify RECIPE`, a build), at its line and column, not at the first audit.
pub(super) fn check_audit(loc: &Locator, raw: Option<raw::RawAudit>) -> Result<Vec<String>, RecipeError> {
    let spanned = raw.map(|a| a.ignore).unwrap_or_default();
    let globs: Vec<String> = spanned.iter().map(|s| s.get_ref().clone()).collect();
    crate::audit::Ignore::new(&globs)
        .map_err(|(i, why)| loc.at(&spanned[i], format!("`[audit] ignore` glob `{}`: {why}", globs[i])))?;
    Ok(globs)
}

/// Turns spans into `FILE:LINE:COL` errors.
pub(super) struct Locator<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Locator<'_> {
    pub(super) fn error(&self, span: Range<usize>, message: String, help: Option<String>) -> RecipeError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        RecipeError::Invalid { path: self.path.to_path_buf(), line, col, message, help }
    }

    pub(super) fn at<T>(&self, spanned: &Spanned<T>, message: impl fmt::Display) -> RecipeError {
        self.error(spanned.span(), message.to_string(), None)
    }
}

pub(super) struct Checker<'a> {
    pub(super) loc: Locator<'a>,
    pub(super) dir: PathBuf,
}

impl Checker<'_> {
    pub(super) fn check(&self, raw: raw::RawRecipe, sha256: [u8; 32]) -> Result<Recipe, RecipeError> {
        let loc = &self.loc;
        let image = raw.image;
        let name = image.name.get_ref();
        if !valid_name(name) {
            return Err(
                loc.at(&image.name, format!("`name = \"{name}\"`: an image name is [a-z0-9][a-z0-9._-]{{0,63}}"))
            );
        }
        let stem = loc.path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if name != stem {
            return Err(loc.error(
                image.name.span(),
                format!("`name = \"{name}\"` differs from the file name `{stem}.toml`"),
                Some(format!("rename the file to `{name}.toml` or set `name = \"{stem}\"`")),
            ));
        }
        let version = Version::parse(image.version.get_ref())
            .map_err(|why| loc.at(&image.version, format!("`version = \"{}\"`: {why}", image.version.get_ref())))?;
        let (formats, oci) = self.formats(&image)?;
        let mut limits = Limits::default();
        for (key, value) in image.limits.unwrap_or_default() {
            let limit = Limit::from_key(&key).ok_or_else(|| {
                loc.at(&value, format!("unknown limit `{key}` in `[image.limits]`; the limits are header, path, depth, entries, unpacked, links, window"))
            })?;
            let n = match value.get_ref() {
                raw::SizeValue::Int(n) => Some(*n),
                raw::SizeValue::Str(s) => crate::limits::parse_size(s),
            };
            let n = n.ok_or_else(|| {
                loc.at(&value, format!("limit `{key}` is not a size (a number, or with KiB, MiB, GiB)"))
            })?;
            limits.set(limit, n);
        }

        let keys = self.keys(raw.keys)?;
        let base = self.artifact("base".into(), raw.base.into_inner(), &keys)?;
        let mut patches = Vec::new();
        let mut ids = HashSet::new();
        for p in raw.patch {
            let p = p.into_inner();
            if !ids.insert(p.id.get_ref().clone()) {
                return Err(loc.at(&p.id, format!("patch id `{}` is used twice", p.id.get_ref())));
            }
            let fields = raw::RawArtifact {
                artifact: p.artifact,
                sha256: p.sha256,
                signed_by: p.signed_by,
                threshold: p.threshold,
                signatures: p.signatures,
            };
            patches.push(Patch {
                artifact: self.artifact(p.id.into_inner(), fields, &keys)?,
                severity: p.severity,
                fixes_given: p.fixes.is_some(),
                fixes: p.fixes.unwrap_or_default(),
                exploited: p.exploited,
                released: p.released,
                approval: p.approval,
                backout: p.backout,
                downgrade: p.downgrade,
            });
        }
        let mut deferred = Vec::new();
        for d in raw.deferred {
            let d = d.into_inner();
            if ids.contains(d.id.get_ref()) {
                return Err(loc.at(&d.id, format!("`{}` is both a `[[patch]]` and `[[deferred]]`", d.id.get_ref())));
            }
            deferred.push(Deferred {
                id: d.id.into_inner(),
                reason: d.reason,
                mitigation: d.mitigation,
                review_by: d.review_by,
            });
        }
        let mut checks = Vec::new();
        for c in raw.check {
            let timeout = match &c.timeout {
                None => std::time::Duration::from_secs(60),
                Some(t) => parse_duration(t.get_ref()).ok_or_else(|| {
                    loc.at(t, format!("`timeout = \"{}\"` is not a duration like \"60s\", \"5m\"", t.get_ref()))
                })?,
            };
            checks.push(Check { name: c.name, run: c.run, timeout });
        }
        let rollout = raw.rollout.map(|r| self.rollout(r)).transpose()?;
        let policy = raw.policy.map(|p| self.policy(p)).transpose()?;
        let sign = raw.sign.map(|s| self.sign(s)).transpose()?;
        let audit_ignore = check_audit(loc, raw.audit)?;
        Ok(Recipe {
            path: loc.path.to_path_buf(),
            sha256,
            name: name.clone(),
            version,
            epoch: image.epoch,
            formats,
            oci,
            criticality: image.criticality,
            exposure: image.exposure,
            allow_devices: image.allow_devices,
            limits,
            keys,
            base,
            patches,
            deferred,
            checks,
            rollout,
            policy,
            sign,
            audit_ignore,
        })
    }

    /// The tar formats, and the OCI layout with its `platform` and `oci-layer`.
    fn formats(&self, image: &raw::RawImage) -> Result<(Vec<Format>, Option<Oci>), RecipeError> {
        let loc = &self.loc;
        let listed = image.formats.clone().unwrap_or_else(|| vec![Spanned::new(0..0, raw::RawFormat::TarZst)]);
        let mut seen = Vec::new();
        for f in &listed {
            if seen.contains(f.get_ref()) {
                return Err(loc.at(f, format!("format `{}` is listed twice", f.get_ref().word())));
            }
            seen.push(*f.get_ref());
        }
        if seen.is_empty() {
            return Err(loc.error(
                0..0,
                "`[image] formats` is empty".into(),
                Some("list at least one of \"tar.zst\", \"tar.gz\", \"tar\", \"oci\"".into()),
            ));
        }
        let formats = seen.iter().filter_map(|f| f.image()).collect();
        let oci_at = listed.iter().find(|f| *f.get_ref() == raw::RawFormat::Oci);
        let oci = match (oci_at, &image.platform) {
            (Some(at), None) => {
                return Err(loc.error(
                    at.span(),
                    "`formats` lists \"oci\", which needs `[image] platform`".into(),
                    Some(
                        "add `platform = \"linux/amd64\"` (OS/ARCHITECTURE of the image's programs) to `[image]`"
                            .into(),
                    ),
                ))
            }
            (Some(_), Some(p)) => Some(Oci {
                platform: Platform::parse(p.get_ref())
                    .map_err(|why| loc.at(p, format!("`platform = \"{}\"`: {why}", p.get_ref())))?,
                layer: image.oci_layer.as_ref().map(|l| *l.get_ref()).unwrap_or_default(),
            }),
            (None, _) => {
                let unused = image.platform.as_ref().map(|p| (p.span(), "platform"));
                let unused = unused.or(image.oci_layer.as_ref().map(|l| (l.span(), "oci-layer")));
                if let Some((span, key)) = unused {
                    return Err(loc.error(
                        span,
                        format!("`{key}` is only for the OCI image, and `formats` does not list \"oci\""),
                        Some(format!("add \"oci\" to `[image] formats`, or remove `{key}`")),
                    ));
                }
                None
            }
        };
        Ok((formats, oci))
    }

    fn rollout(&self, raw: raw::RawRollout) -> Result<Rollout, RecipeError> {
        let loc = &self.loc;
        let soak = match &raw.soak {
            None => std::time::Duration::ZERO,
            Some(soak) => parse_duration(soak.get_ref()).ok_or_else(|| {
                loc.at(soak, format!("`soak = \"{}\"` is not a duration like \"7d\"", soak.get_ref()))
            })?,
        };
        if raw.channels.get_ref().is_empty() {
            return Err(loc.at(&raw.channels, "`[rollout] channels` is empty; list them in promotion order"));
        }
        let mut channels: Vec<String> = Vec::new();
        for c in raw.channels.get_ref() {
            if !valid_name(c.get_ref()) {
                return Err(
                    loc.at(c, format!("channel `{}`: a channel name is [a-z0-9][a-z0-9._-]{{0,63}}", c.get_ref()))
                );
            }
            if Version::parse(c.get_ref()).is_ok() {
                // `NAME@CHANNEL` and `NAME@VERSION` share a form: a channel never reads as a version.
                return Err(loc.at(c, format!("channel `{}` reads as a version; name it with a letter", c.get_ref())));
            }
            if channels.contains(c.get_ref()) {
                return Err(loc.at(c, format!("channel `{}` is listed twice", c.get_ref())));
            }
            channels.push(c.get_ref().clone());
        }
        Ok(Rollout { channels, soak })
    }

    fn policy(&self, raw: raw::RawPolicy) -> Result<Policy, RecipeError> {
        let exploited_factor = match &raw.exploited_factor {
            None => 1.0,
            Some(f) if (0.0..=1.0).contains(f.get_ref()) => *f.get_ref(),
            Some(f) => {
                return Err(self
                    .loc
                    .at(f, format!("`exploited-factor = {}` must be a fraction between 0 and 1", f.get_ref())))
            }
        };
        Ok(Policy { critical: raw.critical, high: raw.high, medium: raw.medium, low: raw.low, exploited_factor })
    }

    fn keys(&self, raw: BTreeMap<String, Spanned<raw::RawKey>>) -> Result<Vec<Key>, RecipeError> {
        let loc = &self.loc;
        let mut keys: Vec<Key> = Vec::new();
        for (name, spanned) in raw {
            let k = spanned.get_ref();
            let key = match (&k.file, &k.key) {
                (Some(file), None) => {
                    let path = self.dir.join(file.get_ref());
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| loc.at(file, format!("key `{name}`: cannot read `{}`: {e}", path.display())))?;
                    PublicKey::from_pub_file(&text).map_err(|why| {
                        loc.at(file, format!("key `{name}`: `{}` is not a minisign public key: {why}", path.display()))
                    })?
                }
                (None, Some(key)) => PublicKey::from_base64(key.get_ref())
                    .map_err(|why| loc.at(key, format!("key `{name}`: not a minisign public key: {why}")))?,
                _ => {
                    return Err(loc.error(
                        spanned.span(),
                        format!("key `{name}` needs exactly one of `file` or `key`"),
                        None,
                    ))
                }
            };
            if let Some(other) = keys.iter().find(|o| o.id == key.id()) {
                return Err(
                    loc.at(&spanned, format!("keys `{}` and `{name}` have the same key ID {}", other.name, key.id()))
                );
            }
            keys.push(Key {
                name,
                id: key.id(),
                key,
                revoked: k.revoked.map(|d| d.to_string()),
                reason: k.reason.clone(),
            });
        }
        Ok(keys)
    }

    fn artifact(&self, id: String, raw: raw::RawArtifact, keys: &[Key]) -> Result<ArtifactSpec, RecipeError> {
        let loc = &self.loc;
        let sha256 = parse_sha256(raw.sha256.get_ref())
            .ok_or_else(|| loc.at(&raw.sha256, format!("`{id}`: `sha256` must be 64 lowercase hex digits")))?;
        if raw.signed_by.get_ref().is_empty() {
            return Err(
                loc.at(&raw.signed_by, format!("`{id}`: `signed-by` is empty; name at least one key of `[keys]`"))
            );
        }
        let mut signed_by = Vec::new();
        for k in raw.signed_by.get_ref() {
            let index = keys.iter().position(|key| key.name == *k.get_ref()).ok_or_else(|| {
                let known: Vec<_> = keys.iter().map(|k| format!("`{}`", k.name)).collect();
                loc.error(
                    k.span(),
                    format!("`{id}`: `signed-by` names key `{}`, which `[keys]` does not define", k.get_ref()),
                    Some(if known.is_empty() {
                        "add it to `[keys]`".into()
                    } else {
                        format!("the keys are {}", known.join(", "))
                    }),
                )
            })?;
            if signed_by.contains(&index) {
                return Err(loc.at(k, format!("`{id}`: key `{}` is listed twice in `signed-by`", k.get_ref())));
            }
            signed_by.push(index);
        }
        let threshold = match &raw.threshold {
            None => 1,
            Some(t) => {
                let n = *t.get_ref();
                if n == 0 || n as usize > signed_by.len() {
                    return Err(loc.at(
                        t,
                        format!(
                            "`{id}`: `threshold = {n}` must be between 1 and the {} key(s) of `signed-by`",
                            signed_by.len()
                        ),
                    ));
                }
                n as usize
            }
        };
        let path = self.dir.join(raw.artifact.get_ref());
        let signatures = match raw.signatures {
            Some(list) if list.is_empty() => {
                return Err(loc.error(0..0, format!("`{id}`: `signatures` is empty"), None));
            }
            Some(list) => list
                .iter()
                .map(|s| SignatureFile { written: s.get_ref().clone(), path: self.dir.join(s.get_ref()) })
                .collect(),
            None => {
                let written = format!("{}.minisig", raw.artifact.get_ref());
                vec![SignatureFile { path: self.dir.join(&written), written }]
            }
        };
        Ok(ArtifactSpec { id, written: raw.artifact.into_inner(), path, sha256, signed_by, threshold, signatures })
    }
}
