//! `gild intake RECIPE ARTIFACT …`: operations feed an approved patch back into the build.
//!
//! The artifact is verified against the recipe's keys before anything is written; its
//! sha256 becomes the pin and a `[[patch]]` is appended with the recipe's comments and
//! formatting kept. The whole read-check-write runs under the image's lock, and the recipe
//! is replaced by a rename, so concurrent intakes all land and a reader never sees half a file.

use std::path::{Path, PathBuf};

use serde_json::{json, Map};

use crate::error::{Error, Report};
use crate::hex;
use crate::ops::build::Notify;
use crate::ops::{date_arg, display_path, relative_to, today, Context, RecipeEdit};
use crate::recipe::edit::{EditError, NewPatch};
use crate::recipe::{self, Approval, ArtifactSpec, Recipe, Severity, SignatureFile};
use crate::trust::{Ignored, Signer};
use crate::workspace;

#[derive(Debug, Clone)]
pub struct IntakeOptions {
    pub recipe: String,
    pub artifact: PathBuf,
    /// `None`: a `.deb`'s `PACKAGE_VERSION_ARCH`; required for other artifacts.
    pub id: Option<String>,
    pub severity: Severity,
    pub change: String,
    pub approved_by: String,
    pub fixes: Vec<String>,
    /// Empty: the `signed-by` of the recipe's last patch (else of its base).
    pub signed_by: Vec<String>,
    /// Empty: `ARTIFACT.minisig`.
    pub signatures: Vec<PathBuf>,
    pub exploited: bool,
    pub released: Option<String>,
    pub backout: Option<String>,
    /// Approval date; today when not given.
    pub date: Option<String>,
}

pub struct IntakeReport {
    pub name: String,
    /// The recipe, relative to the workspace.
    pub recipe: String,
    pub id: String,
    /// As written in the recipe (relative to it).
    pub artifact: String,
    pub sha256: String,
    pub severity: Severity,
    pub signed_by: Vec<String>,
    pub threshold: usize,
    pub signers: Vec<Signer>,
    pub ignored: Vec<Ignored>,
    pub approval: Approval,
}

pub fn intake(ctx: &Context, opts: &IntakeOptions, notify: Notify) -> Result<IntakeReport, Error> {
    if let Some(id) = &opts.id {
        check_id(id)?;
    }
    let released = opts.released.as_deref().map(|d| date_arg("--released", d)).transpose()?;
    let date = match &opts.date {
        Some(d) => date_arg("--date", d)?,
        None => today()?,
    };
    // Read under the lock: what another intake wrote a moment ago is in it.
    let RecipeEdit { ws, path, text, recipe, mut editor, _lock } = RecipeEdit::open(ctx, &opts.recipe, notify)?;
    if let Some(id) = &opts.id {
        unique_id(&recipe, id)?;
    }

    let base = ctx.base()?;
    let artifact = canonical(&base.join(&opts.artifact), "artifact")?;
    let recipe_dir = canonical(path.parent().unwrap_or(Path::new(".")), "recipe directory")?;
    let written = written(&recipe_dir, &artifact)?;
    let sha256 = digest(&artifact)?;
    let pinned = recipe
        .artifacts()
        .map(|a| (a.id.clone(), hex::encode(&a.sha256)))
        .chain(editor.deferred_pins())
        .find(|(_, sha)| *sha == hex::encode(&sha256));
    if let Some((id, sha256)) = pinned {
        return Err(EditError::DuplicateDigest { artifact: written, id, sha256 }.into());
    }

    let signed_by = signer_names(&recipe, &opts.signed_by);
    let mut indices = Vec::new();
    for name in &signed_by {
        let i = recipe.keys.iter().position(|k| k.name == *name).ok_or_else(|| {
            let known: Vec<String> = recipe.keys.iter().map(|k| format!("`{}`", k.name)).collect();
            Error::Usage(
                Report::new(format!("`--signed-by {name}`: `[keys]` of `{}` has no key `{name}`", path.display()))
                    .help(format!("the keys are {}", known.join(", "))),
            )
        })?;
        if indices.contains(&i) {
            return Err(Error::usage(format!("`--signed-by {name}` is given twice")));
        }
        indices.push(i);
    }
    let sig_files = if opts.signatures.is_empty() {
        vec![SignatureFile {
            written: format!("{written}.minisig"),
            path: PathBuf::from(format!("{}.minisig", artifact.display())),
        }]
    } else {
        opts.signatures
            .iter()
            .map(|s| {
                let p = canonical(&base.join(s), "signature")?;
                Ok(SignatureFile { written: self::written(&recipe_dir, &p)?, path: p })
            })
            .collect::<Result<Vec<_>, Error>>()?
    };
    let spec = ArtifactSpec {
        id: opts.id.clone().unwrap_or_else(|| "(intake)".into()),
        written: written.clone(),
        path: artifact.clone(),
        sha256,
        threshold: indices.len(),
        signed_by: indices,
        signatures: sig_files,
    };
    let mut details = Map::new();
    details.insert("command".into(), json!("intake"));
    let verified = super::verify_or_refuse(&ws, &recipe, &spec, details)?;
    let (id, fixes) = package_defaults(ctx, &ws, &recipe, &verified, opts)?;
    if !verified.is_deb() {
        // A file gild cannot layer never enters the recipe: it is read to its end first.
        crate::layer::check_layer(&verified, &ctx.limits(&recipe)?, true, recipe.allow_devices).map_err(
            |e| match e {
                crate::layer::LayerError::Trust(t) => Error::from(t),
                e => Error::Usage(
                    Report::new(format!(
                        "`{}` is not a layer gild can apply; the recipe is unchanged",
                        opts.artifact.display()
                    ))
                    .because(e.report()),
                ),
            },
        )?;
    }

    let default_sig = spec.signatures.len() == 1 && spec.signatures[0].written == format!("{written}.minisig");
    let new = NewPatch {
        id: id.clone(),
        artifact: written.clone(),
        sha256: hex::encode(&sha256),
        signed_by: signed_by.clone(),
        threshold: spec.threshold,
        signatures: (!default_sig).then(|| spec.signatures.iter().map(|s| s.written.clone()).collect()),
        severity: opts.severity,
        fixes: fixes.clone(),
        exploited: opts.exploited,
        released,
        change: opts.change.clone(),
        approved_by: opts.approved_by.clone(),
        date,
        backout: opts.backout.clone(),
    };
    editor.append_patch(&new)?;
    let new_text = editor.to_text();
    // The edit must leave a recipe that checks, with the patch as intended.
    let checked = recipe::parse(&path, &new_text)?;
    debug_assert!(checked.patches.last().is_some_and(|p| p.artifact.id == id));
    workspace::replace_file(&path, new_text.as_bytes())
        .map_err(Error::io(format!("cannot write `{}`", path.display())))?;

    let approval = Approval { change: opts.change.clone(), by: opts.approved_by.clone(), date: date.to_toml() };
    let mut details = Map::new();
    details.insert("name".into(), json!(recipe.name));
    details.insert("id".into(), json!(id));
    details.insert("artifact".into(), json!(written));
    details.insert("sha256".into(), json!(hex::encode(&sha256)));
    details.insert("severity".into(), json!(opts.severity));
    details.insert("fixes".into(), json!(fixes));
    details.insert("exploited".into(), json!(opts.exploited));
    if let Some(r) = released {
        details.insert("released".into(), json!(r.to_string()));
    }
    details.insert("change".into(), json!(opts.change));
    details.insert("approved-by".into(), json!(opts.approved_by));
    details.insert("date".into(), json!(date.to_string()));
    details.insert(
        "signers".into(),
        json!(verified
            .signers
            .iter()
            .map(|s| json!({"key": s.key, "key-id": s.key_id.to_string()}))
            .collect::<Vec<_>>()),
    );
    details.insert("recipe".into(), json!(hex::encode(&checked.sha256)));
    super::journal_append(&ws, &recipe.name, "intake", details, || super::put_back(&path, &text))?;

    Ok(IntakeReport {
        name: recipe.name.clone(),
        recipe: display_path(&path, &ws.root),
        id,
        artifact: written,
        sha256: hex::encode(&sha256),
        severity: opts.severity,
        signed_by,
        threshold: spec.threshold,
        signers: verified.signers.clone(),
        ignored: verified.ignored.clone(),
        approval,
    })
}

fn check_id(id: &str) -> Result<(), Error> {
    if id.trim().is_empty() || id.chars().any(char::is_control) {
        return Err(Error::usage(format!("`--id {id:?}` is not a patch id")));
    }
    Ok(())
}

fn unique_id(recipe: &Recipe, id: &str) -> Result<(), Error> {
    if recipe.patches.iter().any(|p| p.artifact.id == id) {
        return Err(EditError::DuplicateId { id: id.to_string(), section: "patch" }.into());
    }
    if recipe.deferred.iter().any(|d| d.id == id) {
        return Err(EditError::DuplicateId { id: id.to_string(), section: "deferred" }.into());
    }
    Ok(())
}

/// The id and fixes of the new patch: as given, or for a `.deb` read from the package
/// (docs/debian.md): `PACKAGE_VERSION_ARCH`, and the CVEs its changelog names in entries newer than
/// the version of that package in the newest baseline (every entry when it has none).
fn package_defaults(
    ctx: &Context,
    ws: &crate::workspace::Workspace,
    recipe: &Recipe,
    verified: &crate::trust::Verified,
    opts: &IntakeOptions,
) -> Result<(String, Vec<String>), Error> {
    if !verified.is_deb() {
        let id = opts
            .id
            .clone()
            .ok_or_else(|| Error::usage("`--id` is required for a patch that is not a Debian package"))?;
        return Ok((id, opts.fixes.clone()));
    }
    let limits = ctx.limits(recipe)?;
    let info = crate::layer::inspect(verified, &limits).map_err(|e| match e {
        crate::layer::InspectError::Changed(e) => Error::from(e),
        crate::layer::InspectError::Invalid(why) => Error::Usage(
            Report::new(format!("`{}` is not a Debian package gild can install", opts.artifact.display())).cause(why),
        ),
    })?;
    let id = match &opts.id {
        Some(id) => id.clone(),
        None => {
            let id = format!("{}_{}_{}", info.package, info.version, info.architecture);
            check_id(&id)?;
            unique_id(recipe, &id)?;
            id
        }
    };
    if !opts.fixes.is_empty() {
        return Ok((id, opts.fixes.clone()));
    }
    let installed = newest_package_version(ws, recipe, &info.package);
    let installed = installed.as_deref().and_then(|v| crate::deb::version::Version::parse(v).ok());
    let newer = |v: &str| match (&installed, crate::deb::version::Version::parse(v)) {
        (None, _) => true,
        (Some(i), Ok(v)) => v > *i,
        (Some(_), Err(_)) => false,
    };
    let fixes = match &info.changelog {
        Some(gz) => crate::deb::changelog::cves_gz(gz, 64 << 20, newer).unwrap_or_default(),
        None => Vec::new(),
    };
    Ok((id, fixes))
}

/// The version of `package` the newest baseline that is not revoked holds.
fn newest_package_version(ws: &crate::workspace::Workspace, recipe: &Recipe, package: &str) -> Option<String> {
    let versions = crate::rollout::Versions::load(&ws.baselines(&recipe.name), &recipe.name).ok()?;
    let (_, newest) = versions.newest()?;
    let text = std::fs::read_to_string(newest.join("baseline.toml")).ok()?;
    let record = crate::baseline::Record::from_toml(&text).ok()?;
    record
        .package
        .iter()
        .find(|p| p.name == package || p.name.split(':').next() == Some(package))
        .map(|p| p.version.clone())
}

/// The signers asked for, or the recipe's convention: its last patch's, else its base's.
fn signer_names(recipe: &Recipe, asked: &[String]) -> Vec<String> {
    if !asked.is_empty() {
        return asked.to_vec();
    }
    let model = recipe.patches.last().map_or(&recipe.base, |p| &p.artifact);
    model.signed_by.iter().map(|&i| recipe.keys[i].name.clone()).collect()
}

fn canonical(path: &Path, what: &str) -> Result<PathBuf, Error> {
    path.canonicalize().map_err(Error::io(format!("cannot read the {what} `{}`", path.display())))
}

/// How the recipe in `recipe_dir` refers to `path`.
fn written(recipe_dir: &Path, path: &Path) -> Result<String, Error> {
    let rel = relative_to(recipe_dir, path);
    rel.to_str().map(str::to_string).ok_or_else(|| {
        Error::usage(format!("`{}` is not valid UTF-8; a recipe can only name UTF-8 paths", path.display()))
    })
}

fn digest(path: &Path) -> Result<[u8; 32], Error> {
    crate::trust::sha256_file(path).map_err(Error::io(format!("cannot read the artifact `{}`", path.display())))
}
