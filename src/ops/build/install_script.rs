//! `install.sh` and `install-data.tar` of a build: the patches as steps a script-built host
//! replays, and the checks it makes first.

use super::*;

/// The inputs of `install.sh`: artifacts and signature files by file name, resolved steps.
pub(super) fn install_script(
    recipe: &Recipe,
    patches: &[Verified],
    changes: &[Changes],
    base_links: Vec<(Vec<u8>, Vec<u8>)>,
    layered: &Layered,
    install_data: Option<String>,
    preconditions: Vec<install::Precondition>,
) -> String {
    let file_name =
        |s: &str| Path::new(s).file_name().map_or_else(|| s.to_string(), |f| f.to_string_lossy().into_owned());
    let patches = recipe
        .patches
        .iter()
        .zip(patches)
        .zip(changes)
        .map(|((p, v), c)| ScriptPatch {
            id: &p.artifact.id,
            file: file_name(&p.artifact.written),
            sha256: hex::encode(&p.artifact.sha256),
            compression: c.compression.unwrap_or(Compression::None),
            signatures: v
                .signers
                .iter()
                .filter_map(|s| {
                    let key = recipe.keys.iter().find(|k| k.name == s.key)?;
                    Some((file_name(&s.signature), key.key.base64().to_string(), s.key.clone()))
                })
                .collect(),
            steps: &c.steps,
            deb: c.deb.is_some(),
        })
        .collect();
    let gild_steps = layered
        .tree
        .iter()
        .filter(|(_, n)| n.origin == GILD)
        .map(|(p, n)| Step::Put { path: p.clone(), node: n.clone(), source: None })
        .collect();
    let release = release_text(recipe);
    let version = recipe.version.to_string();
    install::render(&ScriptInput {
        name: &recipe.name,
        version: &version,
        base_links,
        patches,
        gild_steps,
        release: &release,
        install_data,
        preconditions,
        signed_with: recipe.sign.as_ref().and_then(|p| p.public.first()).map(|(f, _)| file_name(f)),
    })
}

/// `install-data.tar` in the staged baseline, when a patch is a Debian package.
pub(super) fn write_install_data(
    changes: &[Changes],
    layered: &Layered,
    epoch: Option<i64>,
    path: &Path,
) -> Result<Option<baseline::DataFile>, Error> {
    if !changes.iter().any(|c| c.deb.is_some()) {
        return Ok(None);
    }
    let generated: Vec<(usize, &[install::Generated])> =
        changes.iter().enumerate().map(|(i, c)| (i + 1, &c.generated[..])).collect();
    let tree = install::data_tree(&generated, epoch.unwrap_or(0));
    let write = || -> std::io::Result<(u64, [u8; 32])> {
        let mut out = image::Stream { out: image::Hashed::new(fs::File::create(path)?), spool: &layered.spool };
        image::write_tar(&tree, &mut out, &Silent)?;
        out.out.finish()
    };
    let (size, sha) = write().map_err(Error::io(format!("cannot write `{}`", path.display())))?;
    Ok(Some(baseline::DataFile { size, sha256: hex::encode(&sha) }))
}

/// The host files `install.sh` must find as the base or the image has them before changing
/// anything: the package database's `status`, `diversions` and `statoverride`, and every
/// conffile a package ships.
pub(super) fn preconditions(changes: &[Changes], base: &BaseDigests, layered: &Layered) -> Vec<install::Precondition> {
    if !changes.iter().any(|c| c.deb.is_some()) {
        return Vec::new();
    }
    let mut paths: std::collections::BTreeSet<Vec<u8>> =
        ["status", "diversions", "statoverride"].iter().map(|f| format!("var/lib/dpkg/{f}").into_bytes()).collect();
    for c in changes.iter().filter_map(|c| c.deb.as_ref()) {
        paths.extend(c.conffiles.iter().cloned());
    }
    let image = |p: &[u8]| match layered.tree.get(p).map(|n| &n.kind) {
        Some(crate::tree::Kind::File(c)) => Some(hex::encode(&c.sha256)),
        _ => None,
    };
    paths
        .into_iter()
        .map(|path| install::Precondition { base: base.get(&path).map(|d| hex::encode(d)), image: image(&path), path })
        .collect()
}
