//! `gild log NAME [--verify]`: the journal, and whether its chain and recorded heads hold.

use crate::baseline;
use crate::error::{Error, Report};
use crate::journal::{self, Anchor, Line, Tampered};
use crate::ops::{display_path, Context};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub name: String,
    pub verify: bool,
}

pub struct LogReport {
    pub name: String,
    /// The journal's path, relative to the workspace.
    pub path: String,
    pub lines: Vec<Line>,
    /// With `--verify`: what was checked and what was found.
    pub verified: Option<Verdict>,
}

pub struct Verdict {
    /// Where the heads checked against came from.
    pub anchors: Vec<Anchor>,
    /// Lines after the newest recorded head: a change to the last of them cannot be seen.
    pub unanchored: usize,
    pub problem: Option<Tampered>,
}

impl LogReport {
    pub fn exit_code(&self) -> u8 {
        match &self.verified {
            Some(Verdict { problem: Some(_), .. }) => 3,
            _ => 0,
        }
    }
}

pub fn log(ctx: &Context, opts: &LogOptions) -> Result<LogReport, Error> {
    let ws = ctx.workspace()?;
    let name = image_name(&ws, &opts.name)?;
    let path = ws.journal(&name);
    let lines = journal::read(&path).map_err(Error::io(format!("cannot read `{}`", path.display())))?;
    let verified = if opts.verify {
        let anchors = anchors(&ws, &name)?;
        let problem = journal::verify(&path, &lines, &anchors).err();
        let newest = anchors.iter().map(|a| a.head.seq as usize).max().unwrap_or(0);
        Some(Verdict { unanchored: lines.len().saturating_sub(newest), anchors, problem })
    } else {
        None
    };
    Ok(LogReport { name: name.clone(), path: display_path(&path, &ws.root), lines, verified })
}

/// An image name that has records (or a recipe) in the workspace.
pub fn image_name(ws: &Workspace, arg: &str) -> Result<String, Error> {
    if !crate::recipe::valid_name(arg) {
        return Err(Error::Usage(
            Report::new(format!("`{arg}` is not an image name"))
                .help("give the NAME of `recipes/NAME.toml` (a-z, 0-9, `.`, `_`, `-`)"),
        ));
    }
    if !ws.baselines(arg).is_dir() && !ws.recipe_path(arg).is_file() {
        return Err(Error::Usage(Report::new(format!("no image `{arg}` in this workspace")).cause(format!(
            "neither `{}` nor `{}` exists",
            display_path(&ws.recipe_path(arg), &ws.root),
            display_path(&ws.baselines(arg), &ws.root)
        ))));
    }
    Ok(arg.to_string())
}

/// Every journal head recorded in the image's baselines and `channels.toml`.
pub fn anchors(ws: &Workspace, name: &str) -> Result<Vec<Anchor>, Error> {
    let dir = ws.baselines(name);
    let mut out = Vec::new();
    for (_, version_dir) in
        baseline::recorded_versions(&dir).map_err(Error::io(format!("cannot read `{}`", dir.display())))?
    {
        let file = version_dir.join("baseline.toml");
        let text = std::fs::read_to_string(&file).map_err(Error::io(format!("cannot read `{}`", file.display())))?;
        let record = baseline::Record::from_toml(&text).map_err(|e| {
            Error::Corrupt(Report::new(format!("`{}` is not a baseline record", file.display())).cause(e.message()))
        })?;
        if let Some(head) = record.journal {
            out.push(Anchor { source: display_path(&file, &ws.root), head });
        }
    }
    let channels = dir.join("channels.toml");
    if channels.is_file() {
        if let Some(head) = crate::rollout::load(&channels, name)?.journal {
            out.push(Anchor { source: display_path(&channels, &ws.root), head });
        }
    }
    Ok(out)
}
