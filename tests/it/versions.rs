//! "Newest" is the newest version that is not revoked (issue 13): a mistyped version is revoked,
//! not deleted, and the next versions are recorded below it; `NAME@CHANNEL` names the version
//! a channel runs; `RELEASE.md` never sends anyone back to a revoked version.

use crate::harness::*;

const ROLLOUT: &str = "[rollout]\nchannels = [\"test\", \"prod\"]\nsoak = \"1d\"\n";
const T0: &str = "2026-11-01T09:00:00Z";

fn events(ws: &Workspace) -> Vec<serde_json::Value> {
    ws.read_string("baselines/demo/journal.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// demo 1.0.0 (motd `one`), and a mistyped 9.0.0 (motd `two`).
fn mistyped(ws: &Workspace) -> String {
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("etc/motd", b"one\n")).section(ROLLOUT).write();
    ws.gild_at(T0, &["build", &recipe]).success();
    ws.edit(&recipe, |t| t.replace("version = \"1.0.0\"", "version = \"1.1.0\""));
    ws.gild_at(T0, &["build", &recipe, "--version", "9.0.0"]).success();
    recipe
}

#[test]
fn a_mistyped_version_once_revoked_lets_the_next_ones_be_recorded_below_it() {
    let ws = Workspace::new();
    let recipe = mistyped(&ws);
    ws.gild_at(T0, &["build", &recipe])
        .exit(2)
        .stderr_has("version 1.1.0 of `demo` is lower than 9.0.0, the newest recorded version that is not revoked");
    ws.gild_at(T0, &["revoke", "demo@9.0.0", "--reason", "mistyped --version"]).success();
    let run = ws.gild_at(T0, &["build", &recipe]);
    run.success().stdout_has("built demo 1.1.0 (parent 1.0.0)").stderr_has("below revoked version(s) 9.0.0");
    let last = events(&ws).pop().unwrap();
    assert_eq!(last["event"], "build");
    assert_eq!(last["below-revoked"], serde_json::json!(["9.0.0"]), "the history says why: {last}");
    assert_eq!(tv(&ws.baseline("demo", "1.1.0"), &["parent"]).as_str(), Some("1.0.0"));
    let release = ws.read_string(ws.baseline_dir("demo", "1.1.0").join("RELEASE.md"));
    assert!(release.contains("Point the channel back at 1.0.0"), "{release}");
    assert!(release.contains("Never roll back to a revoked version: 9.0.0"), "{release}");
    // Lower than the newest version that is not revoked stays refused.
    ws.gild_at(T0, &["build", &recipe, "--version", "1.0.5"]).exit(2).stderr_has("lower than 1.1.0");
}

#[test]
fn a_bare_name_is_the_newest_version_that_is_not_revoked() {
    let ws = Workspace::new();
    mistyped(&ws);
    let newest = |ws: &Workspace| ws.gild(&["--json", "diff", "demo", "demo"]).success().json()["a"]["version"].clone();
    assert_eq!(newest(&ws), "9.0.0");
    ws.gild_at(T0, &["revoke", "demo@9.0.0", "--reason", "mistyped"]).success();
    assert_eq!(newest(&ws), "1.0.0", "with the newest version revoked, a bare name means the one before");
    let image = ws.image_path("demo", "1.0.0", "tar.zst");
    let j = ws.gild(&["--json", "audit", "demo", image.to_str().unwrap()]).success().json();
    assert_eq!(j["baseline"]["version"], "1.0.0", "audit compares with the newest version not revoked: {j}");
    ws.gild_at(T0, &["revoke", "demo@1.0.0", "--reason", "bad"]).success();
    ws.gild(&["diff", "demo", "demo@1.0.0"]).exit(2).stderr_has("every recorded version of `demo` is revoked");
}

#[test]
fn name_at_channel_is_the_version_the_channel_runs() {
    let ws = Workspace::new();
    mistyped(&ws);
    ws.gild_at(T0, &["promote", "demo@1.0.0", "test"]).success();
    let image = ws.image_path("demo", "1.0.0", "tar.zst");
    let image = image.to_str().unwrap();
    let j = ws.gild(&["--json", "audit", "demo@test", image]).success().json();
    assert_eq!(j["baseline"]["version"], "1.0.0", "{j}");
    assert_eq!(j["targets"][0]["verdict"], "compliant", "{j}");
    ws.gild(&["audit", "demo@test", image]).success().stdout_has("audit against demo 1.0.0");
    ws.gild(&["diff", "demo@test", "demo@1.0.0"]).success();
    ws.gild(&["audit", "demo@prod", image])
        .exit(2)
        .stderr_has("`prod` is not a version, nor a channel of `demo` that runs one")
        .stderr_has("channels: test");
}

#[test]
fn a_channel_that_reads_as_a_version_is_refused_in_the_recipe() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").section("[rollout]\nchannels = [\"test\", \"2\"]\n").write();
    ws.gild(&["build", &recipe]).exit(2).stderr_has("channel `2` reads as a version");
}

#[test]
fn plan_counts_what_the_newest_version_not_revoked_has() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("etc/motd", b"one\n")).write();
    ws.gild_at(T0, &["build", &recipe]).success();
    let art = ws.signed_artifact("p2.tar", &Layer::new().file("opt/two", b"2\n"), &["vendor"]);
    let intake = ["intake", &recipe, &art, "--id", "P-2", "--severity", "low", "--change", "C", "--approved-by", "me"];
    ws.gild_at(T0, &intake).success();
    ws.gild_at(T0, &["build", &recipe, "--version", "2.0.0"]).success();
    let pending = |ws: &Workspace| {
        let j = ws.gild_at(T0, &["--json", "plan"]).json();
        j["patches"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert!(pending(&ws).is_empty());
    ws.gild_at(T0, &["revoke", "demo@2.0.0", "--reason", "broke ssh"]).success();
    assert_eq!(pending(&ws), ["P-2"], "2.0.0 is revoked: P-2 is in no baseline that counts");
}

/// Issue 13: `build --version` leaves the recipe as it was; the next plain build is of a
/// version recorded with other inputs, and fails at once — before an artifact is read — naming
/// what differs and the fix.
#[test]
fn a_version_recorded_with_other_inputs_is_refused_before_anything_is_read() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("etc/motd", b"one\n")).write();
    ws.gild_at(T0, &["build", &recipe]).success();
    let art = ws.signed_artifact("p2.tar", &Layer::new().file("opt/two", b"2\n"), &["vendor"]);
    let intake = ["intake", &recipe, &art, "--id", "P-2", "--severity", "low", "--change", "C", "--approved-by", "me"];
    ws.gild_at(T0, &intake).success();
    ws.gild_at(T0, &["build", &recipe, "--version", "1.1.0"]).success();
    // Were any artifact read, this would be a trust failure (exit 3), journaled.
    ws.write("artifacts/demo-base.tar", b"not the pinned base");
    let journal = ws.read_string("baselines/demo/journal.jsonl");
    let doc = ws.gild_at(T0, &["--json", "build", &recipe]).exit(2).json();
    assert_eq!(doc["error"]["message"], "version 1.0.0 of `demo` is recorded with other inputs", "{doc}");
    let causes: Vec<&str> = doc["error"]["causes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(causes.contains(&"patch `P-2` is not in the record"), "{doc}");
    assert!(causes.iter().any(|c| c.starts_with("the newest recorded version is 1.1.0")), "{doc}");
    assert_eq!(doc["error"]["help"], "bump `[image] version` in `recipes/demo.toml` (or pass `--version`)");
    assert_eq!(ws.read_string("baselines/demo/journal.jsonl"), journal, "nothing journaled");
}
