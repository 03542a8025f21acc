//! Rollout state: `baselines/NAME/channels.toml` (docs/baseline.md) and the rules for changing it.
//!
//! The file holds each channel's current version, the whole history of changes, the revoked
//! versions, and the journal head written with the last change (so `log --verify` can tell
//! a cut journal). History is the truth: a channel's current version is its last change.
//! The rules are pure functions of the state, the recipe's `[rollout]` and the time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::baseline::JournalHead;
use crate::error::Report;
use crate::recipe::{Rollout, Version};

/// Why a rollout change is refused (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    State { path: PathBuf, name: String, cause: String },
    Read { path: PathBuf, source: std::io::Error },
    NoRollout { name: String, recipe: String },
    UnknownChannel { name: String, channel: String, channels: Vec<String> },
    NotRecorded { name: String, version: String, dir: PathBuf },
    Revoked { name: String, version: String, reason: String, actor: String, time: String },
    AlreadyRevoked { name: String, version: String, reason: String, actor: String, time: String },
    OutOfOrder { name: String, version: String, channel: String, previous: String, order: String },
    Soak(Box<Unsoaked>),
    NotNewer { name: String, version: String, channel: String, current: String },
    NoRollback { name: String, channel: String, cause: String, help: Option<String> },
}

crate::error::display_report!(RolloutError);

impl RolloutError {
    pub fn report(&self) -> Report {
        match self {
            RolloutError::State { path, name, cause } => {
                Report::new(format!("`{}` is not a valid channels file", path.display()))
                    .cause(cause)
                    .help(format!("restore it from version control; `gild log {name}` lists every change"))
            }
            RolloutError::Read { path, source } => {
                Report::new(format!("cannot read `{}`", path.display())).because_io(source)
            }
            RolloutError::NoRollout { name, recipe } => Report::new(format!("`{name}` has no `[rollout]`"))
                .cause(format!("`{recipe}` lists no channels"))
                .help("add `[rollout] channels = [\"test\", \"prod\"]` (in promotion order) to the recipe"),
            RolloutError::UnknownChannel { name, channel, channels } => {
                Report::new(format!("`{channel}` is not a channel of `{name}`")).help(format!(
                    "the channels are {}",
                    channels.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                ))
            }
            RolloutError::NotRecorded { name, version, dir } => {
                Report::new(format!("`{name}@{version}` is not recorded"))
                    .cause(format!("`{}` does not exist", dir.display()))
                    .help("build it first (`gild build`), or name a recorded version")
            }
            RolloutError::Revoked { name, version, reason, actor, time } => {
                Report::new(format!("`{name}@{version}` is revoked and is never promoted"))
                    .cause(format!("revoked by {actor} at {time}: {reason}"))
            }
            RolloutError::AlreadyRevoked { name, version, reason, actor, time } => {
                Report::new(format!("`{name}@{version}` is already revoked"))
                    .cause(format!("revoked by {actor} at {time}: {reason}"))
            }
            RolloutError::OutOfOrder { name, version, channel, previous, order } => {
                Report::new(format!("`{name}@{version}` cannot go to `{channel}` before `{previous}`"))
                    .cause(format!(
                        "channels are promoted in the order {order}, and `{version}` has never been the version of `{previous}`"
                    ))
                    .help(format!("`gild promote {name}@{version} {previous}` first"))
            }
            RolloutError::Soak(u) => u.report(),
            RolloutError::NotNewer { name, version, channel, current } => Report::new(format!(
                "`{name}@{version}` is not newer than `{channel}`'s current version {current}"
            ))
            .help(format!("promotions only go up; `gild rollback {name} {channel}` steps back")),
            RolloutError::NoRollback { name, channel, cause, help } => {
                Report::new(format!("`{name}` channel `{channel}` has nothing to roll back to"))
                    .cause(cause)
                    .maybe_help(help.clone())
            }
        }
    }
}

/// A promotion asked before the version soaked long enough in the channel before.
#[derive(Debug)]
pub struct Unsoaked {
    pub name: String,
    pub version: String,
    pub channel: String,
    pub previous: String,
    pub soaked: String,
    pub soak: String,
    pub ready: String,
}

impl Unsoaked {
    pub fn report(&self) -> Report {
        let Unsoaked { name, version, channel, previous, soaked, soak, ready } = self;
        Report::new(format!("`{name}@{version}` has not soaked in `{previous}` long enough for `{channel}`"))
            .cause(format!("it has been there {soaked}, the soak is {soak}"))
            .help(format!("promote it at {ready} or later, or with `--emergency --change CHG` under a change record"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Promote,
    /// A promotion that skipped the soak, under a change record.
    Emergency,
    Rollback,
}

/// One change of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Change {
    pub channel: String,
    pub version: String,
    pub action: Action,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The change record of an emergency promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Revocation {
    pub version: String,
    pub reason: String,
    pub time: String,
    pub actor: String,
}

/// `channels.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Channels {
    pub name: String,
    /// The journal's head including the change that wrote this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalHead>,
    /// Each channel's current version (a summary of `history`).
    #[serde(default)]
    pub current: BTreeMap<String, String>,
    #[serde(default)]
    pub history: Vec<Change>,
    #[serde(default)]
    pub revoked: Vec<Revocation>,
}

const HEADER: &str = "# Written by gild (promote, rollback, revoke); every change is also in journal.jsonl.\n\n";

/// Reads `channels.toml`; a missing file is an empty state.
pub fn load(path: &Path, name: &str) -> Result<Channels, RolloutError> {
    let bad = |cause: String| RolloutError::State { path: path.to_path_buf(), name: name.to_string(), cause };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Channels { name: name.to_string(), ..Channels::default() })
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let state: Channels = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    for c in &state.history {
        Version::parse(&c.version).map_err(|why| bad(format!("history version `{}`: {why}", c.version)))?;
        crate::date::parse_timestamp(&c.time).ok_or_else(|| bad(format!("history time `{}` is not a time", c.time)))?;
    }
    Ok(state)
}

impl Channels {
    pub fn to_toml(&self) -> String {
        format!("{HEADER}{}", toml::to_string(self).expect("channels always serialize"))
    }

    /// A channel's current version: its last change.
    pub fn current(&self, channel: &str) -> Option<&str> {
        self.history.iter().rev().find(|c| c.channel == channel).map(|c| c.version.as_str())
    }

    pub fn revocation(&self, version: &Version) -> Option<&Revocation> {
        self.revoked.iter().find(|r| Version::parse(&r.version).is_ok_and(|v| v == *version))
    }

    /// Channels whose current version is `version`.
    pub fn holding(&self, version: &Version) -> Vec<String> {
        let mut out: Vec<String> = self
            .current_all()
            .into_iter()
            .filter(|(_, v)| Version::parse(v).is_ok_and(|v| v == *version))
            .map(|(c, _)| c)
            .collect();
        out.sort();
        out
    }

    /// Each channel's current version, from the history.
    pub fn current_all(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for c in &self.history {
            out.insert(c.channel.clone(), c.version.clone());
        }
        out
    }

    /// The longest stretch `version` was the current version of `channel`, up to `now`.
    pub fn soaked(&self, channel: &str, version: &Version, now: i64) -> Option<i64> {
        let changes: Vec<&Change> = self.history.iter().filter(|c| c.channel == channel).collect();
        let mut best = None;
        for (i, c) in changes.iter().enumerate() {
            if Version::parse(&c.version).ok().as_ref() != Some(version) {
                continue;
            }
            let start = crate::date::parse_timestamp(&c.time).unwrap_or(now);
            let end = changes.get(i + 1).and_then(|n| crate::date::parse_timestamp(&n.time)).unwrap_or(now);
            best = Some(best.map_or(end - start, |b: i64| b.max(end - start)));
        }
        best
    }

    /// Checks a promotion of `version` to `channel` (docs/baseline.md); returns the channel's current
    /// version and how long `version` soaked in the channel before (for the record).
    pub fn check_promote(
        &self,
        rollout: &Rollout,
        version: &Version,
        channel: &str,
        now: i64,
        emergency: bool,
    ) -> Result<(Option<String>, Option<i64>), RolloutError> {
        let name = self.name.clone();
        let k = rollout.channels.iter().position(|c| c == channel).ok_or_else(|| RolloutError::UnknownChannel {
            name: name.clone(),
            channel: channel.to_string(),
            channels: rollout.channels.clone(),
        })?;
        if let Some(r) = self.revocation(version) {
            return Err(RolloutError::Revoked {
                name,
                version: version.to_string(),
                reason: r.reason.clone(),
                actor: r.actor.clone(),
                time: r.time.clone(),
            });
        }
        let current = self.current(channel).map(str::to_string);
        if let Some(cur) = &current {
            if Version::parse(cur).is_ok_and(|c| *version <= c) {
                return Err(RolloutError::NotNewer {
                    name,
                    version: version.to_string(),
                    channel: channel.to_string(),
                    current: cur.clone(),
                });
            }
        }
        if k == 0 {
            return Ok((current, None));
        }
        let previous = &rollout.channels[k - 1];
        let Some(soaked) = self.soaked(previous, version, now) else {
            return Err(RolloutError::OutOfOrder {
                name,
                version: version.to_string(),
                channel: channel.to_string(),
                previous: previous.clone(),
                order: rollout.channels.join(" → "),
            });
        };
        let soak = rollout.soak.as_secs() as i64;
        if soaked < soak && !emergency {
            return Err(RolloutError::Soak(Box::new(Unsoaked {
                name,
                version: version.to_string(),
                channel: channel.to_string(),
                previous: previous.clone(),
                soaked: duration(soaked),
                soak: duration(soak),
                ready: crate::date::format_timestamp(now + soak - soaked),
            })));
        }
        Ok((current, Some(soaked)))
    }

    /// The version a rollback of `channel` goes to: the one before the current in the
    /// channel's history (rollbacks pop, so a second rollback goes further back), skipping
    /// revoked versions. Returns (from, to).
    pub fn rollback_target(&self, channel: &str) -> Result<(String, String), RolloutError> {
        let none = |cause: &str, help: Option<&str>| RolloutError::NoRollback {
            name: self.name.clone(),
            channel: channel.to_string(),
            cause: cause.to_string(),
            help: help.map(str::to_string),
        };
        let mut stack: Vec<&str> = Vec::new();
        for c in self.history.iter().filter(|c| c.channel == channel) {
            match c.action {
                Action::Promote | Action::Emergency => stack.push(&c.version),
                Action::Rollback => {
                    while stack.last().is_some_and(|v| *v != c.version) {
                        stack.pop();
                    }
                    if stack.is_empty() {
                        stack.push(&c.version);
                    }
                }
            }
        }
        let from = stack.pop().ok_or_else(|| none("the channel has never had a version", None))?;
        while let Some(v) = stack.last() {
            let revoked = Version::parse(v).is_ok_and(|v| self.revocation(&v).is_some());
            if *v != from && !revoked {
                return Ok((from.to_string(), v.to_string()));
            }
            stack.pop();
        }
        Err(none(
            &format!("it had no version before `{from}` that is not revoked"),
            Some("promote a newer, fixed version to it instead"),
        ))
    }
}

/// An image's recorded versions with what `channels.toml` says of them: which are revoked and
/// which version each channel runs. "Newest" everywhere is [`Versions::newest`]: the newest
/// recorded version that is not revoked.
#[derive(Debug, Clone, Default)]
pub struct Versions {
    /// Oldest first, with their baseline directories.
    pub recorded: Vec<(Version, PathBuf)>,
    pub channels: Channels,
}

impl Versions {
    /// Reads `baselines/NAME/` (a missing directory has no versions).
    pub fn load(records: &Path, name: &str) -> Result<Versions, RolloutError> {
        let recorded = crate::baseline::recorded_versions(records)
            .map_err(|source| RolloutError::Read { path: records.to_path_buf(), source })?;
        let channels = load(&records.join("channels.toml"), name)?;
        Ok(Versions { recorded, channels })
    }

    pub fn is_revoked(&self, v: &Version) -> bool {
        self.channels.revocation(v).is_some()
    }

    /// The newest recorded version that is not revoked.
    pub fn newest(&self) -> Option<&(Version, PathBuf)> {
        self.recorded.iter().rev().find(|(v, _)| !self.is_revoked(v))
    }

    pub fn get(&self, v: &Version) -> Option<&(Version, PathBuf)> {
        self.recorded.iter().find(|(r, _)| r == v)
    }

    /// The version `channel` runs, when it has run one.
    pub fn channel(&self, channel: &str) -> Option<Version> {
        self.channels.current(channel).and_then(|v| Version::parse(v).ok())
    }

    /// The recorded versions above `v`, when every one of them is revoked (so `v` may be
    /// recorded past them); `None` when one above it is not revoked.
    pub fn revoked_above(&self, v: &Version) -> Option<Vec<Version>> {
        let above: Vec<Version> = self.recorded.iter().filter(|(r, _)| r > v).map(|(r, _)| r.clone()).collect();
        above.iter().all(|r| self.is_revoked(r)).then_some(above)
    }
}

/// `7d 0h`, `3h 20m`, `45s`.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> String {
        format!("2026-11-{day:02}T00:00:00Z")
    }

    fn t(day: u32) -> i64 {
        crate::date::parse_timestamp(&at(day)).unwrap()
    }

    fn change(channel: &str, version: &str, action: Action, day: u32) -> Change {
        Change {
            channel: channel.into(),
            version: version.into(),
            action,
            time: at(day),
            actor: "a".into(),
            from: None,
            change: None,
        }
    }

    fn rollout() -> Rollout {
        Rollout {
            channels: vec!["test".into(), "pilot".into(), "prod".into()],
            soak: std::time::Duration::from_secs(7 * 86400),
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn promotion_needs_order_soak_and_a_newer_version() {
        let mut s = Channels { name: "web".into(), ..Channels::default() };
        s.history.push(change("test", "1.0.0", Action::Promote, 1));
        let r = rollout();
        assert!(matches!(s.check_promote(&r, &v("1.0.0"), "prod", t(20), false), Err(RolloutError::OutOfOrder { .. })));
        assert!(matches!(s.check_promote(&r, &v("1.0.0"), "pilot", t(5), false), Err(RolloutError::Soak(_))));
        assert!(s.check_promote(&r, &v("1.0.0"), "pilot", t(5), true).is_ok(), "emergency skips the soak");
        assert_eq!(s.check_promote(&r, &v("1.0.0"), "pilot", t(8), false).unwrap(), (None, Some(7 * 86400)));
        assert!(matches!(s.check_promote(&r, &v("1.0.0"), "test", t(8), false), Err(RolloutError::NotNewer { .. })));
        assert!(matches!(
            s.check_promote(&r, &v("1.0.0"), "qa", t(8), false),
            Err(RolloutError::UnknownChannel { .. })
        ));
    }

    #[test]
    fn soak_counts_a_past_stretch_in_the_previous_channel() {
        let mut s = Channels { name: "web".into(), ..Channels::default() };
        s.history.push(change("test", "1.0.0", Action::Promote, 1));
        s.history.push(change("test", "1.1.0", Action::Promote, 9));
        assert_eq!(s.soaked("test", &v("1.0.0"), t(20)), Some(8 * 86400));
        assert_eq!(s.soaked("test", &v("1.1.0"), t(20)), Some(11 * 86400));
        assert_eq!(s.soaked("test", &v("1.2.0"), t(20)), None);
    }

    #[test]
    fn rollback_pops_back_through_history_skipping_revoked() {
        let mut s = Channels { name: "web".into(), ..Channels::default() };
        s.history.push(change("prod", "1.0.0", Action::Promote, 1));
        s.history.push(change("prod", "1.1.0", Action::Promote, 2));
        s.history.push(change("prod", "1.2.0", Action::Emergency, 3));
        assert_eq!(s.rollback_target("prod").unwrap(), ("1.2.0".into(), "1.1.0".into()));
        s.history.push(change("prod", "1.1.0", Action::Rollback, 4));
        assert_eq!(
            s.rollback_target("prod").unwrap(),
            ("1.1.0".into(), "1.0.0".into()),
            "a second rollback goes further back"
        );
        s.revoked.push(Revocation { version: "1.0.0".into(), reason: "r".into(), time: at(5), actor: "a".into() });
        assert!(matches!(s.rollback_target("prod"), Err(RolloutError::NoRollback { .. })));
        assert!(matches!(s.rollback_target("test"), Err(RolloutError::NoRollback { .. })));
    }

    #[test]
    fn the_file_round_trips() {
        let mut s = Channels { name: "web".into(), ..Channels::default() };
        s.history.push(Change {
            change: Some("CHG-1".into()),
            from: Some("0.9.0".into()),
            ..change("test", "1.0.0", Action::Emergency, 1)
        });
        s.revoked.push(Revocation { version: "0.9.0".into(), reason: "bad".into(), time: at(2), actor: "a".into() });
        s.current.insert("test".into(), "1.0.0".into());
        s.journal = Some(JournalHead { seq: 3, hash: "ab".repeat(32) });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("channels.toml");
        std::fs::write(&path, s.to_toml()).unwrap();
        assert_eq!(load(&path, "web").unwrap(), s);
    }
}
