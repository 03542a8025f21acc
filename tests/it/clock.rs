//! The clock and the actor (issue 13): `GILD_NOW` replays the past but never runs ahead of the
//! clock nor before the journal's last line; a journal line dated before its predecessor is
//! tampering; the actor is `GILD_ACTOR`, else `SUDO_USER`, else the user name.

use crate::harness::*;

const JOURNAL: &str = "baselines/web/journal.jsonl";
const ROLLOUT: &str = "[rollout]\nchannels = [\"test\", \"pilot\"]\nsoak = \"7d\"\n";

fn built(ws: &Workspace) -> String {
    let recipe = ws.recipe("web").section(ROLLOUT).write();
    ws.gild_at("2026-11-01T09:00:00Z", &["build", &recipe]).success();
    recipe
}

#[test]
fn a_future_gild_now_does_not_satisfy_the_soak() {
    let ws = Workspace::new();
    built(&ws);
    ws.gild_at("2026-11-01T10:00:00Z", &["promote", "web@1.0.0", "test"]).success();
    let before = ws.read_string(JOURNAL);
    ws.gild_at("2099-01-01T00:00:00Z", &["promote", "web@1.0.0", "pilot"])
        .exit(2)
        .stderr_has("`GILD_NOW=2099-01-01T00:00:00Z` is later than the clock");
    assert_eq!(ws.read_string(JOURNAL), before, "nothing journaled");
    let doc = ws.gild_at("2099-01-01T00:00:00Z", &["--json", "plan"]).exit(2).json();
    assert_eq!(doc["command"], "plan");
}

#[test]
fn gild_now_before_the_journals_last_line_is_refused_before_anything_changes() {
    let ws = Workspace::new();
    let recipe = built(&ws);
    let before = ws.read_string(JOURNAL);
    ws.gild_at("2026-10-01T00:00:00Z", &["promote", "web@1.0.0", "test"])
        .exit(2)
        .stderr_has("earlier than line 1 of the journal");
    ws.gild_at("2026-10-01T00:00:00Z", &["build", &recipe, "--version", "1.1.0"]).exit(2).stderr_has("earlier than");
    ws.assert_nothing_written("web", "1.1.0");
    ws.gild_at("2026-10-01T00:00:00Z", &["defer", &recipe, "P-9", "--reason", "r"]).exit(2);
    assert_eq!(ws.read_string(JOURNAL), before, "nothing journaled");
    // The same moment as the last line is fine.
    ws.gild_at("2026-11-01T09:00:00Z", &["promote", "web@1.0.0", "test"]).success();
}

/// Rewrites each line's `prev` so the hash chain holds again: what someone who edits the
/// journal would do.
fn rechain(lines: &mut [serde_json::Value]) -> String {
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for l in lines.iter_mut() {
        l["prev"] = serde_json::Value::String(prev.clone());
        let text = serde_json::to_string(l).unwrap();
        prev = sha256_hex(text.as_bytes());
        out.push_str(&text);
        out.push('\n');
    }
    out
}

#[test]
fn a_line_dated_before_the_one_before_it_is_tampering() {
    let ws = Workspace::new();
    built(&ws);
    ws.gild_at("2026-11-02T09:00:00Z", &["promote", "web@1.0.0", "test"]).success();
    ws.gild_at("2026-11-03T09:00:00Z", &["rollback", "web", "test"]).exit(2);
    ws.gild_at("2026-11-04T09:00:00Z", &["revoke", "web@1.0.0", "--reason", "r"]).success();
    ws.gild(&["log", "web", "--verify"]).success();
    let mut lines: Vec<serde_json::Value> =
        ws.read_string(JOURNAL).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    lines[1]["time"] = "2026-11-05T09:00:00Z".into();
    ws.write(JOURNAL, rechain(&mut lines));
    // channels.toml records the head of line 3, which no longer hashes the same: put it right
    // too, as a careful forger would.
    let head = sha256_hex(ws.read_string(JOURNAL).lines().nth(2).unwrap().as_bytes());
    ws.edit("baselines/web/channels.toml", |t| {
        let at = t.find("hash = \"").unwrap() + 8;
        format!("{}{head}{}", &t[..at], &t[at + 64..])
    });
    ws.gild(&["log", "web", "--verify"])
        .exit(3)
        .stderr_has("tampered with at line 3")
        .stderr_has("line 3 is dated 2026-11-04T09:00:00Z, earlier than line 2 before it (2026-11-05T09:00:00Z)");
}

#[test]
fn the_actor_is_gild_actor_else_sudo_user_else_the_user() {
    let ws = Workspace::new();
    let recipe = ws.recipe("web").write();
    let run = |cmd: &mut assert_cmd::Command| Run::new(&[], cmd.output().unwrap());
    run(ws.command(&["build", &recipe]).env("SUDO_USER", "alice").env("USER", "root")).success();
    run(ws
        .command(&["build", &recipe, "--version", "1.1.0"])
        .env_remove("GILD_ACTOR")
        .env("SUDO_USER", "alice")
        .env("USER", "root"))
    .success();
    run(ws
        .command(&["build", &recipe, "--version", "1.2.0"])
        .env_remove("GILD_ACTOR")
        .env_remove("SUDO_USER")
        .env("USER", "bob"))
    .success();
    let actors: Vec<String> = ws
        .read_string(JOURNAL)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["actor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actors, ["tester", "alice", "bob"]);
}
