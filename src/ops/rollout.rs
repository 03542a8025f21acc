//! `gild promote`, `gild rollback`, `gild revoke`: the channels of an image, in
//! `baselines/NAME/channels.toml`, changed under the image's lock.
//!
//! Each change is written beside the file and renamed over it, carrying the journal head its
//! own journal line makes; the line is appended right after (and the old file put back if
//! that fails), so the file and the journal vouch for each other.

use serde_json::{json, Map, Value};

use crate::baseline;
use crate::error::{Error, Report};
use crate::journal;
use crate::ops::build::Notify;
use crate::ops::{display_path, Context};
use crate::recipe::{self, Version};
use crate::rollout::{self, Action, Change, Channels, Revocation, RolloutError};
use crate::workspace::{self, Workspace};

#[derive(Debug, Clone, Default)]
pub struct PromoteOptions {
    /// `NAME@VERSION`.
    pub target: String,
    pub channel: String,
    /// Skip the soak; needs `change`.
    pub emergency: bool,
    pub change: Option<String>,
}

pub struct PromoteReport {
    pub name: String,
    pub version: String,
    pub channel: String,
    pub from: Option<String>,
    pub emergency: bool,
    pub change: Option<String>,
    /// The channel before it in the order, and how long the version was there (seconds).
    pub soaked: Option<(String, i64)>,
    pub soak: i64,
}

pub struct RollbackReport {
    pub name: String,
    pub channel: String,
    pub from: String,
    pub to: String,
}

pub struct RevokeReport {
    pub name: String,
    pub version: String,
    pub reason: String,
    /// Channels whose current version it is: they should be rolled back.
    pub channels: Vec<String>,
}

pub fn promote(ctx: &Context, opts: &PromoteOptions, notify: Notify) -> Result<PromoteReport, Error> {
    let ws = ctx.workspace()?;
    let (name, version) = name_at_version(&ws, &opts.target)?;
    if opts.emergency && opts.change.as_deref().map_or(true, |c| c.trim().is_empty()) {
        return Err(Error::usage("`--emergency` needs `--change CHG`: the change record that allows it"));
    }
    let recipe_path = ws.recipe_path(&name);
    let shown = display_path(&recipe_path, &ws.root);
    if !recipe_path.is_file() {
        return Err(RolloutError::NoRollout { name, recipe: shown }.into());
    }
    let rollout = recipe::load(&recipe_path)?
        .rollout
        .ok_or_else(|| RolloutError::NoRollout { name: name.clone(), recipe: shown.clone() })?;
    let _lock = crate::ops::lock_to_write(&ws, &name, notify)?;
    let dir = recorded(&ws, &name, &version)?;
    let (mut state, old) = load(&ws, &name)?;
    let now = journal::now(&ws.journal(&name)).map_err(Error::Usage)?;
    let (from, soaked) = state.check_promote(&rollout, &version, &opts.channel, now, opts.emergency)?;
    let k = rollout.channels.iter().position(|c| *c == opts.channel).expect("checked");
    let soaked = soaked.map(|s| (rollout.channels[k.saturating_sub(1)].clone(), s));
    let emergency = opts.emergency;
    let change = if opts.emergency { opts.change.clone() } else { None };
    state.history.push(Change {
        channel: opts.channel.clone(),
        version: dir.clone(),
        action: if emergency { Action::Emergency } else { Action::Promote },
        time: crate::date::format_timestamp(now),
        actor: journal::actor(),
        from: from.clone(),
        change: change.clone(),
    });
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    details.insert("version".into(), json!(dir));
    details.insert("channel".into(), json!(opts.channel));
    details.insert("from".into(), json!(from));
    details.insert("emergency".into(), json!(emergency));
    if let Some(c) = &change {
        details.insert("change".into(), json!(c));
    }
    if let Some((previous, secs)) = &soaked {
        details.insert("soaked".into(), json!({"channel": previous, "seconds": secs}));
    }
    commit(&ws, &name, state, old, now, "promote", details)?;
    Ok(PromoteReport {
        name,
        version: dir,
        channel: opts.channel.clone(),
        from,
        emergency,
        change,
        soaked,
        soak: rollout.soak.as_secs() as i64,
    })
}

pub fn rollback(ctx: &Context, name: &str, channel: &str, notify: Notify) -> Result<RollbackReport, Error> {
    let ws = ctx.workspace()?;
    let name = crate::ops::log::image_name(&ws, name)?;
    let _lock = crate::ops::lock_to_write(&ws, &name, notify)?;
    let (mut state, old) = load(&ws, &name)?;
    let (from, to) = state.rollback_target(channel)?;
    let now = journal::now(&ws.journal(&name)).map_err(Error::Usage)?;
    state.history.push(Change {
        channel: channel.to_string(),
        version: to.clone(),
        action: Action::Rollback,
        time: crate::date::format_timestamp(now),
        actor: journal::actor(),
        from: Some(from.clone()),
        change: None,
    });
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    details.insert("channel".into(), json!(channel));
    details.insert("from".into(), json!(from));
    details.insert("to".into(), json!(to));
    commit(&ws, &name, state, old, now, "rollback", details)?;
    Ok(RollbackReport { name, channel: channel.to_string(), from, to })
}

pub fn revoke(ctx: &Context, target: &str, reason: &str, notify: Notify) -> Result<RevokeReport, Error> {
    let ws = ctx.workspace()?;
    let (name, version) = name_at_version(&ws, target)?;
    if reason.trim().is_empty() {
        return Err(Error::usage("a revocation needs `--reason`: auditors and operators read it"));
    }
    let _lock = crate::ops::lock_to_write(&ws, &name, notify)?;
    let dir = recorded(&ws, &name, &version)?;
    let (mut state, old) = load(&ws, &name)?;
    if let Some(r) = state.revocation(&version) {
        return Err(RolloutError::AlreadyRevoked {
            name,
            version: dir,
            reason: r.reason.clone(),
            actor: r.actor.clone(),
            time: r.time.clone(),
        }
        .into());
    }
    let now = journal::now(&ws.journal(&name)).map_err(Error::Usage)?;
    let channels = state.holding(&version);
    state.revoked.push(Revocation {
        version: dir.clone(),
        reason: reason.to_string(),
        time: crate::date::format_timestamp(now),
        actor: journal::actor(),
    });
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    details.insert("version".into(), json!(dir));
    details.insert("reason".into(), json!(reason));
    details.insert("channels".into(), json!(channels));
    commit(&ws, &name, state, old, now, "revoke", details)?;
    Ok(RevokeReport { name, version: dir, reason: reason.to_string(), channels })
}

/// `NAME@VERSION`, with NAME an image of the workspace.
fn name_at_version(ws: &Workspace, arg: &str) -> Result<(String, Version), Error> {
    let (name, version) = arg.split_once('@').ok_or_else(|| {
        Error::Usage(Report::new(format!("`{arg}` names no version")).help("write NAME@VERSION, e.g. `web@2026.11.2`"))
    })?;
    let name = crate::ops::log::image_name(ws, name)?;
    let version = Version::parse(version).map_err(|why| Error::usage(format!("`{arg}`: `{version}`: {why}")))?;
    Ok((name, version))
}

/// The recorded version's directory name (as the baseline spells it).
fn recorded(ws: &Workspace, name: &str, version: &Version) -> Result<String, Error> {
    let dir = ws.baselines(name);
    let versions = baseline::recorded_versions(&dir).map_err(Error::io(format!("cannot read `{}`", dir.display())))?;
    versions
        .iter()
        .find(|(v, _)| v == version)
        .and_then(|(_, p)| p.file_name().and_then(|f| f.to_str()).map(str::to_string))
        .ok_or_else(|| {
            RolloutError::NotRecorded {
                name: name.to_string(),
                version: version.to_string(),
                dir: dir.join(version.to_string()).join("baseline.toml"),
            }
            .into()
        })
}

fn channels_path(ws: &Workspace, name: &str) -> std::path::PathBuf {
    ws.baselines(name).join("channels.toml")
}

/// The state and the file's bytes as they were (to put back if the journal cannot follow).
fn load(ws: &Workspace, name: &str) -> Result<(Channels, Option<Vec<u8>>), Error> {
    let path = channels_path(ws, name);
    workspace::remove_stale_beside(&path).map_err(Error::io(format!("cannot clean beside `{}`", path.display())))?;
    let old = std::fs::read(&path).ok();
    Ok((rollout::load(&path, name)?, old))
}

/// Writes the state with the head of the journal line that records it, then appends that line.
fn commit(
    ws: &Workspace,
    name: &str,
    mut state: Channels,
    old: Option<Vec<u8>>,
    now: i64,
    event: &str,
    details: Map<String, Value>,
) -> Result<(), Error> {
    let path = channels_path(ws, name);
    let journal_path = ws.journal(name);
    let pending = journal::prepare_at(&journal_path, now, event, details)
        .map_err(|e| super::journal_failed(ws, name, "nothing changed".into(), e))?;
    state.journal = Some(pending.head.clone());
    state.current = state.current_all();
    workspace::replace_file(&path, state.to_toml().as_bytes())
        .map_err(Error::io(format!("cannot write `{}`", path.display())))?;
    if let Err(e) = pending.append(&journal_path) {
        let put_back = match old {
            Some(bytes) => workspace::replace_file(&path, &bytes),
            None => std::fs::remove_file(&path),
        };
        let outcome = match put_back {
            Ok(()) => format!("nothing changed (`{}` is as it was)", display_path(&path, &ws.root)),
            Err(b) => format!("`{}` could not be put back either ({b}): it is ahead of the journal", path.display()),
        };
        return Err(super::journal_failed(ws, name, outcome, e));
    }
    Ok(())
}
