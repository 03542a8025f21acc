//! `gild promote`, `gild rollback`, `gild revoke`: channels in order, soak, emergencies,
//! revocation, and the journal lines and `channels.toml` they leave.

use crate::harness::*;

const ROLLOUT: &str = "[rollout]\nchannels = [\"test\", \"pilot\", \"prod\"]\nsoak = \"7d\"\n";

fn day(d: u32) -> String {
    format!("2026-11-{d:02}T09:00:00Z")
}

/// `web` with versions 1.0.0, 1.1.0 and 1.2.0 recorded.
fn three_versions() -> Workspace {
    let ws = Workspace::new();
    let recipe = ws.recipe("web").section(ROLLOUT).write();
    for (i, v) in ["1.0.0", "1.1.0", "1.2.0"].iter().enumerate() {
        ws.edit(&recipe, |t| t.replace("golden", &format!("golden{i}")));
        // Built before the days the tests promote on: a journal's times never go back.
        ws.gild_at("2026-10-01T09:00:00Z", &["build", &recipe, "--version", v]).success();
    }
    ws
}

fn channels(ws: &Workspace) -> toml::Value {
    let text = ws.read_string("baselines/web/channels.toml");
    toml::from_str(&text).unwrap_or_else(|e| panic!("channels.toml does not parse: {e}\n{text}"))
}

fn events(ws: &Workspace) -> Vec<serde_json::Value> {
    ws.gild(&["--json", "log", "web"]).success().json()["entries"].as_array().unwrap().clone()
}

#[test]
fn promotion_follows_the_channel_order_after_the_soak() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success().stdout_has("promoted web 1.0.0 to test");
    ws.gild_at(&day(8), &["promote", "web@1.0.0", "pilot"]).success().stdout_has("soaked    7d 0h in test");
    ws.gild_at(&day(16), &["promote", "web@1.0.0", "prod"]).success();
    let c = channels(&ws);
    for ch in ["test", "pilot", "prod"] {
        assert_eq!(c["current"][ch].as_str(), Some("1.0.0"), "{c}");
    }
    let history = c["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[1]["channel"].as_str(), Some("pilot"));
    assert_eq!(history[1]["action"].as_str(), Some("promote"));
    assert_eq!(history[1]["time"].as_str(), Some(&day(8)[..]));
    assert_eq!(history[1]["actor"].as_str(), Some("tester"));
}

#[test]
fn promotion_out_of_order_is_refused_with_the_reason() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success();
    ws.gild_at(&day(20), &["promote", "web@1.0.0", "prod"])
        .exit(2)
        .stderr_has("cannot go to `prod` before `pilot`")
        .stderr_has("has never been the version of `pilot`");
    ws.gild_at(&day(20), &["promote", "web@1.1.0", "pilot"]).exit(2).stderr_has("before `test`");
    assert_eq!(channels(&ws)["history"].as_array().unwrap().len(), 1, "nothing changed");
}

#[test]
fn promotion_before_the_soak_is_refused_with_the_reason() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success();
    ws.gild_at(&day(5), &["promote", "web@1.0.0", "pilot"])
        .exit(2)
        .stderr_has("has not soaked in `test` long enough for `pilot`")
        .stderr_has("it has been there 4d 0h, the soak is 7d 0h")
        .stderr_has(&format!("promote it at {} or later", day(8)));
}

#[test]
fn an_emergency_promotion_skips_the_soak_and_is_journaled_with_its_change() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success();
    ws.gild_at(&day(2), &["promote", "web@1.0.0", "pilot", "--emergency", "--change", "CHG-911"])
        .success()
        .stdout_has("EMERGENCY under CHG-911");
    let e = events(&ws);
    let last = e.last().unwrap();
    assert_eq!(last["event"], "promote");
    assert_eq!(last["channel"], "pilot");
    assert_eq!(last["version"], "1.0.0");
    assert_eq!(last["emergency"], true);
    assert_eq!(last["change"], "CHG-911");
    assert_eq!(last["soaked"]["seconds"], 86400);
    let h = &channels(&ws)["history"][1];
    assert_eq!(h["action"].as_str(), Some("emergency"));
    assert_eq!(h["change"].as_str(), Some("CHG-911"));
    // An emergency still goes in order.
    ws.gild_at(&day(2), &["promote", "web@1.1.0", "prod", "--emergency", "--change", "CHG-912"])
        .exit(2)
        .stderr_has("before `pilot`");
}

#[test]
fn emergency_needs_a_change_record() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test", "--emergency"]).exit(2).stderr_has("--change");
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test", "--change", "C"]).exit(2).stderr_has("--emergency");
}

#[test]
fn promotion_only_goes_to_a_newer_version() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.1.0", "test"]).success();
    ws.gild_at(&day(2), &["promote", "web@1.0.0", "test"])
        .exit(2)
        .stderr_has("not newer than `test`'s current version 1.1.0");
    ws.gild_at(&day(2), &["promote", "web@1.1.0", "test"]).exit(2).stderr_has("not newer");
}

#[test]
fn a_revoked_version_is_never_promoted_and_its_channels_are_reported() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.1.0", "test"]).success();
    ws.gild_at(&day(2), &["revoke", "web@1.1.0", "--reason", "kernel panic on boot"])
        .success()
        .stdout_has("revoked web 1.1.0: kernel panic on boot")
        .stdout_has("still current in: test");
    ws.gild_at(&day(20), &["promote", "web@1.1.0", "pilot", "--emergency", "--change", "C"])
        .exit(2)
        .stderr_has("`web@1.1.0` is revoked and is never promoted")
        .stderr_has("kernel panic on boot");
    ws.gild_at(&day(3), &["revoke", "web@1.1.0", "--reason", "again"]).exit(2).stderr_has("already revoked");
    let c = channels(&ws);
    assert_eq!(c["revoked"][0]["version"].as_str(), Some("1.1.0"));
    assert_eq!(c["revoked"][0]["reason"].as_str(), Some("kernel panic on boot"));
    let j = ws.gild(&["--json", "revoke", "web@1.2.0", "--reason", "r"]).success().json();
    assert_eq!(j["command"], "revoke");
    assert_eq!(j["channels"].as_array().map(Vec::len), Some(0));
    let last = events(&ws).pop().unwrap();
    assert_eq!(last["event"], "revoke");
    assert_eq!(last["version"], "1.2.0");
}

#[test]
fn rollback_returns_to_the_previous_version_then_further_skipping_revoked() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success();
    ws.gild_at(&day(2), &["promote", "web@1.1.0", "test"]).success();
    ws.gild_at(&day(3), &["promote", "web@1.2.0", "test"]).success();
    ws.gild_at(&day(4), &["rollback", "web", "test"]).success().stdout_has("rolled back web test: 1.2.0 -> 1.1.0");
    assert_eq!(channels(&ws)["current"]["test"].as_str(), Some("1.1.0"));
    ws.gild_at(&day(4), &["revoke", "web@1.0.0", "--reason", "bad"]).success();
    ws.gild_at(&day(5), &["rollback", "web", "test"]).exit(2).stderr_has("nothing to roll back to");
    let j = ws.gild_at(&day(5), &["--json", "promote", "web@1.2.0", "test"]).success().json();
    assert_eq!(j["from"], "1.1.0", "{j}");
    let last = events(&ws).pop().unwrap();
    assert_eq!(last["event"], "promote");
    let rb = events(&ws).into_iter().find(|e| e["event"] == "rollback").unwrap();
    assert_eq!((rb["from"].as_str(), rb["to"].as_str()), (Some("1.2.0"), Some("1.1.0")));
}

#[test]
fn rollback_of_a_channel_without_history_is_refused() {
    let ws = three_versions();
    ws.gild(&["rollback", "web", "prod"]).exit(2).stderr_has("never had a version");
}

#[test]
fn promote_refuses_unknown_versions_channels_and_recipes_without_rollout() {
    let ws = three_versions();
    ws.gild(&["promote", "web@9.9.9", "test"]).exit(2).stderr_has("`web@9.9.9` is not recorded");
    ws.gild(&["promote", "web@1.0.0", "qa"]).exit(2).stderr_has("`qa` is not a channel").stderr_has("`pilot`");
    ws.gild(&["promote", "web", "test"]).exit(2).stderr_has("NAME@VERSION");
    let other = ws.recipe("plain").write();
    ws.gild(&["build", &other]).success();
    ws.gild(&["promote", "plain@1.0.0", "test"]).exit(2).stderr_has("has no `[rollout]`");
}

#[test]
fn promote_json_reports_the_move() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success();
    let j = ws.gild_at(&day(9), &["--json", "promote", "web@1.0.0", "pilot"]).success().json();
    assert_eq!(j["command"], "promote");
    assert_eq!(j["name"], "web");
    assert_eq!(j["version"], "1.0.0");
    assert_eq!(j["channel"], "pilot");
    assert!(j["from"].is_null());
    assert_eq!(j["emergency"], false);
    assert_eq!(j["soaked"]["channel"], "test");
    assert_eq!(j["soaked"]["seconds"], 8 * 86400);
    assert_eq!(j["soak-seconds"], 7 * 86400);
    let r = ws.gild_at(&day(9), &["--json", "rollback", "web", "test"]);
    r.exit(2);
}

#[test]
fn channels_toml_records_the_head_of_the_journal_line_it_goes_with() {
    let ws = three_versions();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success();
    let c = channels(&ws);
    let journal = ws.read_string("baselines/web/journal.jsonl");
    let last = journal.lines().last().unwrap();
    assert_eq!(c["journal"]["seq"].as_integer(), Some(journal.lines().count() as i64));
    assert_eq!(c["journal"]["hash"].as_str(), Some(&sha256_hex(last.as_bytes())[..]));
}

/// A journal with every kind of event, ending with one that `channels.toml` anchors.
fn full_journal() -> Workspace {
    let ws = Workspace::new();
    let recipe = ws.recipe("web").section(ROLLOUT).write();
    let art = ws.signed_artifact("p.tar", &Layer::new().file("./opt/p", b"p"), &["vendor"]);
    let intake = ["intake", &recipe, &art, "--id", "P-1", "--severity", "high", "--change", "C", "--approved-by", "b"];
    ws.gild_at(&day(1), &intake).success();
    ws.gild_at(&day(1), &["defer", &recipe, "P-1", "--reason", "r"]).success();
    ws.gild_at(&day(1), &["defer", &recipe, "P-1", "--undo"]).success();
    ws.gild_at(&day(1), &["build", &recipe]).success();
    ws.gild_at(&day(1), &["build", &recipe, "--version", "1.1.0"]).success();
    ws.gild_at(&day(1), &["promote", "web@1.0.0", "test"]).success();
    ws.gild_at(&day(2), &["promote", "web@1.1.0", "test"]).success();
    ws.gild_at(&day(3), &["rollback", "web", "test"]).success();
    ws.gild_at(&day(4), &["revoke", "web@1.1.0", "--reason", "r"]).success();
    ws
}

#[test]
fn editing_deleting_or_swapping_any_journal_line_is_reported_with_its_number() {
    let ws = full_journal();
    let path = "baselines/web/journal.jsonl";
    let original: Vec<String> = ws.read_string(path).lines().map(str::to_string).collect();
    let events: Vec<String> = original
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["intake", "defer", "undefer", "build", "build", "promote", "promote", "rollback", "revoke"]);
    ws.gild(&["log", "web", "--verify"]).success();
    let write = |lines: &[String]| ws.write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    let n = original.len();
    for i in 0..n {
        let line = i + 1;
        let mut edited = original.clone();
        edited[i] = edited[i].replacen("\"actor\":\"tester\"", "\"actor\":\"mallory\"", 1);
        assert_ne!(edited, original);
        write(&edited);
        let j = ws.gild(&["--json", "log", "web", "--verify"]).exit(3).json();
        assert_eq!(j["verified"]["problem"]["line"], line, "edit of line {line}: {j}");

        let mut deleted = original.clone();
        deleted.remove(i);
        write(&deleted);
        let j = ws.gild(&["--json", "log", "web", "--verify"]).exit(3).json();
        assert_eq!(j["verified"]["problem"]["line"], line, "deletion of line {line}: {j}");

        if i + 1 < n {
            let mut swapped = original.clone();
            swapped.swap(i, i + 1);
            write(&swapped);
            ws.gild(&["log", "web", "--verify"]).exit(3).stderr_has(&format!("tampered with at line {line}\n"));
        }
    }
    write(&original);
    ws.gild(&["log", "web", "--verify"]).success().stdout_has("verified: 9 line(s)");
}

#[test]
fn concurrent_rollout_changes_are_all_kept() {
    let ws = three_versions();
    let mut commands: Vec<assert_cmd::Command> = ["1.0.0", "1.1.0", "1.2.0"]
        .iter()
        .map(|v| ws.command(&["revoke", &format!("web@{v}"), "--reason", &format!("bad {v}")]))
        .collect();
    commands.push(ws.command(&["promote", "web@1.0.0", "test"]));
    let codes: Vec<i32> = run_at_once(commands).into_iter().map(|o| o.status.code().unwrap()).collect();
    assert_eq!(&codes[..3], [0, 0, 0], "every revocation lands");
    let c = channels(&ws);
    assert_eq!(c["revoked"].as_array().unwrap().len(), 3, "{c}");
    // The promotion landed before 1.0.0 was revoked, or was refused after.
    let promoted = c.get("history").and_then(|h| h.as_array()).map_or(0, Vec::len);
    assert_eq!(promoted, usize::from(codes[3] == 0), "{c}");
    ws.gild(&["log", "web", "--verify"]).success();
}
