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
    /// Recorded baselines without a `build` (or `recovered`) line, with their directory
    /// relative to the workspace: the next command that writes the journal records them.
    pub unjournaled: Vec<(String, String)>,
}

impl Verdict {
    /// Nothing to report: the chain and the heads hold, and every baseline is journaled.
    pub fn ok(&self) -> bool {
        self.problem.is_none() && self.unjournaled.is_empty()
    }
}

impl LogReport {
    /// 3 for a tampered journal; 1 (a finding) for a baseline the journal lacks.
    pub fn exit_code(&self) -> u8 {
        match &self.verified {
            Some(Verdict { problem: Some(_), .. }) => 3,
            Some(v) if !v.unjournaled.is_empty() => 1,
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
        let unjournaled = crate::ops::recover::unjournaled(&ws, &name, &lines)?
            .into_iter()
            .map(|u| (u.version, display_path(&u.dir, &ws.root)))
            .collect();
        Some(Verdict { unanchored: lines.len().saturating_sub(newest), anchors, problem, unjournaled })
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
        if let Some(head) = crate::ops::read_record(&file)?.journal {
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
