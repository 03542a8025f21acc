//! `gild list`: every image of the workspace — a recipe in `recipes/` or records in
//! `baselines/` — with its versions, the revoked ones, its newest and what each channel runs.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::ops::{display_path, Context};
use crate::rollout::Versions;

pub struct ListReport {
    pub images: Vec<ImageLine>,
}

pub struct ImageLine {
    pub name: String,
    /// `recipes/NAME.toml`, when there is one.
    pub recipe: Option<String>,
    /// Oldest first, each with whether it is revoked.
    pub versions: Vec<(String, bool)>,
    /// The newest version not revoked.
    pub newest: Option<String>,
    /// Each channel's current version.
    pub channels: BTreeMap<String, String>,
}

pub fn list(ctx: &Context) -> Result<ListReport, Error> {
    let ws = ctx.workspace()?;
    let mut names = std::collections::BTreeSet::new();
    for (dir, suffix) in [(ws.root.join("recipes"), ".toml"), (ws.root.join("baselines"), "")] {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("cannot read `{}`", dir.display()))(e)),
        };
        for entry in entries {
            let entry = entry.map_err(Error::io(format!("cannot read `{}`", dir.display())))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(suffix)) else { continue };
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if crate::recipe::valid_name(name) && (suffix.is_empty() == is_dir) {
                names.insert(name.to_string());
            }
        }
    }
    let mut images = Vec::new();
    for name in names {
        let versions = Versions::load(&ws.baselines(&name), &name)?;
        let recipe = ws.recipe_path(&name);
        images.push(ImageLine {
            recipe: recipe.is_file().then(|| display_path(&recipe, &ws.root)),
            versions: versions.recorded.iter().map(|(v, _)| (v.to_string(), versions.is_revoked(v))).collect(),
            newest: versions.newest().map(|(v, _)| v.to_string()),
            channels: versions.channels.current_all(),
            name,
        });
    }
    Ok(ListReport { images })
}
