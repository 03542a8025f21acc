//! `gild defer`: a decision not to apply a patch, with its rationale kept; `--undo` brings
//! the patch back.

use crate::harness::*;

fn recipe_with_two_patches(ws: &Workspace) -> String {
    let recipe = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("./opt/one", b"1\n"))
        .line("backout = \"Rebuild without P-1.\"")
        .patch("P-2", Layer::new().file("./opt/two", b"2\n"))
        .write();
    ws.edit(&recipe, |t| t.replacen("[[patch]]\n", "# Patches, in order.\n[[patch]]\n# the first one\n", 1));
    recipe
}

fn toml_of(ws: &Workspace, recipe: &str) -> toml::Value {
    let text = ws.read_string(recipe);
    toml::from_str(&text).unwrap_or_else(|e| panic!("recipe does not parse: {e}\n{text}"))
}

fn ids(t: &toml::Value, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(|a| a.as_array())
        .map(|a| a.iter().map(|p| p["id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn defer_moves_a_listed_patch_out_of_the_build_with_its_pin() {
    let ws = Workspace::new();
    let recipe = recipe_with_two_patches(&ws);
    let pinned = toml_of(&ws, &recipe)["patch"][0].clone();
    ws.gild(&[
        "defer",
        &recipe,
        "P-1",
        "--reason",
        "breaks billing",
        "--mitigation",
        "LB only",
        "--review-by",
        "2026-12-15",
    ])
    .success()
    .stdout_has("moved from [[patch]] to [[deferred]]");
    let t = toml_of(&ws, &recipe);
    assert_eq!(ids(&t, "patch"), ["P-2"]);
    let d = &t["deferred"][0];
    assert_eq!(d["reason"].as_str(), Some("breaks billing"));
    assert_eq!(d["mitigation"].as_str(), Some("LB only"));
    assert_eq!(d["review-by"].as_datetime().unwrap().to_string(), "2026-12-15");
    for (k, v) in pinned.as_table().unwrap() {
        assert_eq!(&d[k], v, "key {k} kept");
    }
    let text = ws.read_string(&recipe);
    assert!(text.contains("# Patches, in order.") && text.contains("# the first one"), "{text}");
    ws.gild(&["build", &recipe]).success();
    let image = ws.image("demo", "1.0.0");
    assert!(!image.has("opt/one") && image.has("opt/two"), "{}", image.listing());
    let deferred = tv(&ws.baseline("demo", "1.0.0"), &["deferred"]).as_array().unwrap().clone();
    assert_eq!(deferred[0]["id"].as_str(), Some("P-1"));
    assert_eq!(deferred[0]["reason"].as_str(), Some("breaks billing"));
}

#[test]
fn defer_undo_puts_the_patch_back_at_the_end() {
    let ws = Workspace::new();
    let recipe = recipe_with_two_patches(&ws);
    let pinned = toml_of(&ws, &recipe)["patch"][0].clone();
    ws.gild(&["defer", &recipe, "P-1", "--reason", "breaks billing"]).success();
    ws.gild(&["defer", &recipe, "P-1", "--undo"]).success().stdout_has("restored demo P-1");
    let t = toml_of(&ws, &recipe);
    assert_eq!(ids(&t, "patch"), ["P-2", "P-1"]);
    assert!(t.get("deferred").is_none(), "{t}");
    assert_eq!(&t["patch"][1], &pinned, "every key back, the decision dropped");
    ws.gild(&["build", &recipe]).success();
    assert!(ws.image("demo", "1.0.0").has("opt/one"));
}

#[test]
fn defer_of_an_unlisted_patch_records_the_decision_and_again_updates_it() {
    let ws = Workspace::new();
    let recipe = recipe_with_two_patches(&ws);
    ws.gild(&["defer", &recipe, "VENDOR-99", "--reason", "not for this image"]).success().stdout_has("recorded");
    ws.gild(&["defer", &recipe, "VENDOR-99", "--reason", "still not", "--review-by", "2027-01-01"])
        .success()
        .stdout_has("decision updated");
    let t = toml_of(&ws, &recipe);
    assert_eq!(ids(&t, "patch"), ["P-1", "P-2"]);
    let d = &t["deferred"][0];
    assert_eq!(d["reason"].as_str(), Some("still not"));
    assert_eq!(d["review-by"].as_datetime().unwrap().to_string(), "2027-01-01");
    assert_eq!(t["deferred"].as_array().unwrap().len(), 1);
    ws.gild(&["defer", &recipe, "VENDOR-99", "--undo"]).exit(2).stderr_has("deferred without its pin");
}

#[test]
fn defer_needs_a_reason_and_undo_needs_a_deferral() {
    let ws = Workspace::new();
    let recipe = recipe_with_two_patches(&ws);
    let before = ws.read(&recipe);
    ws.gild(&["defer", &recipe, "P-1"]).exit(2).stderr_has("--reason");
    ws.gild(&["defer", &recipe, "P-1", "--reason", "  "]).exit(2).stderr_has("needs `--reason`");
    ws.gild(&["defer", &recipe, "P-1", "--undo"]).exit(2).stderr_has("`P-1` is not deferred");
    ws.gild(&["defer", &recipe, "P-1", "--reason", "r", "--review-by", "soon"]).exit(2).stderr_has("not a date");
    assert!(ws.read(&recipe) == before);
}

#[test]
fn defer_and_undo_are_journaled() {
    let ws = Workspace::new();
    let recipe = recipe_with_two_patches(&ws);
    let sha = toml_of(&ws, &recipe)["patch"][0]["sha256"].as_str().unwrap().to_string();
    ws.gild(&["defer", &recipe, "P-1", "--reason", "breaks billing", "--review-by", "2026-12-15"]).success();
    ws.gild(&["defer", &recipe, "P-1", "--undo", "--reason", "vendor fixed billing"]).success();
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).success().json();
    let e = j["entries"].as_array().unwrap();
    assert_eq!(e[0]["event"], "defer");
    assert_eq!(e[0]["id"], "P-1");
    assert_eq!(e[0]["action"], "moved");
    assert_eq!(e[0]["reason"], "breaks billing");
    assert_eq!(e[0]["review-by"], "2026-12-15");
    assert_eq!(e[0]["sha256"], sha);
    assert_eq!(e[1]["event"], "undefer");
    assert_eq!(e[1]["reason"], "vendor fixed billing");
    assert_eq!(e[1]["recipe"], sha256_hex(&ws.read(&recipe)));
}

#[test]
fn defer_undo_of_an_artifact_changed_since_is_refused() {
    let ws = Workspace::new();
    let recipe = recipe_with_two_patches(&ws);
    ws.gild(&["defer", &recipe, "P-1", "--reason", "r"]).success();
    let before = ws.read(&recipe);
    std::fs::write(ws.artifact("demo", "P-1"), b"swapped").unwrap();
    ws.gild(&["defer", &recipe, "P-1", "--undo"]).exit(3).stderr_has("does not match its pin");
    assert!(ws.read(&recipe) == before);
    let j = ws.gild(&["--json", "log", "demo"]).success().json();
    assert_eq!(j["entries"][1]["event"], "refused");
}

#[test]
fn defer_json_reports_the_decision() {
    let ws = Workspace::new();
    let recipe = recipe_with_two_patches(&ws);
    let j = ws.gild(&["--json", "defer", &recipe, "P-2", "--reason", "r", "--mitigation", "m"]).success().json();
    assert_eq!(j["command"], "defer");
    assert_eq!(j["name"], "demo");
    assert_eq!(j["recipe"], "recipes/demo.toml");
    assert_eq!(j["id"], "P-2");
    assert_eq!(j["action"], "moved");
    assert_eq!(j["reason"], "r");
    assert_eq!(j["mitigation"], "m");
    assert!(j["review-by"].is_null());
}

/// Issue 13: the way back from an intake must not burn the id: `--drop` removes the patch,
/// listed or deferred, and the id and artifact can be taken again; the journal keeps it all.
#[test]
fn drop_removes_a_patch_so_its_id_and_artifact_can_be_taken_again() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let art = ws.signed_artifact("p1.tar", &Layer::new().file("opt/one", b"1\n"), &["vendor"]);
    let intake = ["intake", &recipe, &art, "--id", "P-1", "--severity", "low", "--change", "C", "--approved-by", "me"];
    ws.gild(&intake).success();
    ws.gild(&intake).exit(2).stderr_has("already used");
    ws.gild(&["defer", &recipe, "P-1", "--drop"]).exit(2).stderr_has("--reason");
    ws.gild(&["defer", &recipe, "P-1", "--drop", "--reason", "approved the wrong file"])
        .success()
        .stdout_has("dropped demo P-1: removed from [[patch]] in recipes/demo.toml");
    assert!(!ws.read_string(&recipe).contains("P-1"), "{}", ws.read_string(&recipe));
    ws.gild(&intake).success();
    ws.gild(&["defer", &recipe, "P-1", "--reason", "later"]).success();
    ws.gild(&intake)
        .exit(2)
        .stderr_has("help: `gild defer --undo` brings a deferred patch back; `gild defer --drop` removes it");
    let j = ws.gild(&["--json", "defer", &recipe, "P-1", "--drop", "--reason", "not needed"]).success().json();
    assert_eq!(j["action"], "dropped");
    ws.gild(&["defer", &recipe, "P-9", "--drop", "--reason", "r"]).exit(2).stderr_has("`P-9` is neither");
    let events: Vec<String> = ws
        .read_string("baselines/demo/journal.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["intake", "drop", "intake", "defer", "drop"]);
}
