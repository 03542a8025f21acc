//! `gild log NAME [--verify]`: the journal, its hash chain, and the heads recorded elsewhere.

use crate::harness::*;

const JOURNAL: &str = "baselines/demo/journal.jsonl";

/// A workspace whose journal has four build lines; baselines 1.1.0..1.3.0 record heads 1..3.
fn four_builds() -> Workspace {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    for v in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"] {
        ws.gild(&["build", &recipe, "--version", v]).success();
    }
    ws
}

fn lines(ws: &Workspace) -> Vec<String> {
    ws.read_string(JOURNAL).lines().map(str::to_string).collect()
}

fn set_lines(ws: &Workspace, lines: &[String]) {
    ws.write(JOURNAL, lines.iter().map(|l| format!("{l}\n")).collect::<String>());
}

#[test]
fn log_prints_every_event_in_order() {
    let ws = four_builds();
    let run = ws.gild(&["log", "demo"]);
    run.success();
    let shown: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(shown.len(), 4, "{}", run.stdout);
    for (i, v) in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"].iter().enumerate() {
        assert!(shown[i].trim_start().starts_with(&format!("{}  ", i + 1)), "{}", shown[i]);
        assert!(shown[i].contains("tester  build") && shown[i].contains(&format!("version={v}")), "{}", shown[i]);
    }
}

#[test]
fn log_json_lists_the_entries_and_the_verdict() {
    let ws = four_builds();
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).success().json();
    assert_eq!(j["command"], "log");
    assert_eq!(j["name"], "demo");
    assert_eq!(j["journal"], JOURNAL);
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[3]["seq"], 4);
    assert_eq!(entries[3]["event"], "build");
    assert_eq!(j["verified"]["ok"], true);
    assert_eq!(j["verified"]["anchors"].as_array().unwrap().len(), 4, "{j}");
    assert_eq!(j["verified"]["unanchored"], 1, "line 4 comes after the newest recorded head: {j}");
}

#[test]
fn log_without_verify_has_no_verdict() {
    let ws = four_builds();
    let j = ws.gild(&["--json", "log", "demo"]).success().json();
    assert!(j["verified"].is_null(), "{j}");
}

#[test]
fn log_verify_passes_an_untouched_journal() {
    let ws = four_builds();
    ws.gild(&["log", "demo", "--verify"]).success().stdout_has("verified: 4 line(s), chain intact");
}

#[test]
fn log_verify_names_each_edited_line() {
    let ws = four_builds();
    let original = lines(&ws);
    for n in 1..=3 {
        let mut l = original.clone();
        l[n - 1] = l[n - 1].replace("\"actor\":\"tester\"", "\"actor\":\"mallory\"");
        assert_ne!(l, original);
        set_lines(&ws, &l);
        ws.gild(&["log", "demo", "--verify"]).exit(3).stderr_has(&format!("tampered with at line {n}"));
        let j = ws.gild(&["--json", "log", "demo", "--verify"]).exit(3).json();
        assert_eq!(j["verified"]["problem"]["line"], n, "{j}");
    }
}

#[test]
fn log_verify_names_the_line_where_one_was_deleted() {
    let ws = four_builds();
    let original = lines(&ws);
    for n in 1..=3 {
        let mut l = original.clone();
        l.remove(n - 1);
        set_lines(&ws, &l);
        ws.gild(&["log", "demo", "--verify"]).exit(3).stderr_has(&format!("at line {n}")).stderr_has("removed");
    }
}

#[test]
fn log_verify_names_the_first_of_two_swapped_lines() {
    let ws = four_builds();
    let original = lines(&ws);
    for n in 1..=3 {
        let mut l = original.clone();
        l.swap(n - 1, n);
        set_lines(&ws, &l);
        ws.gild(&["log", "demo", "--verify"]).exit(3).stderr_has(&format!("at line {n}"));
    }
}

#[test]
fn log_verify_finds_an_inserted_line() {
    let ws = four_builds();
    let mut l = lines(&ws);
    let forged = l[1].clone();
    l.insert(2, forged);
    set_lines(&ws, &l);
    ws.gild(&["log", "demo", "--verify"]).exit(3).stderr_has("at line 3").stderr_has("seq 2, expected 3");
}

#[test]
fn log_verify_catches_a_cut_tail_through_the_baseline_heads() {
    let ws = four_builds();
    let mut l = lines(&ws);
    l.truncate(2);
    set_lines(&ws, &l);
    ws.gild(&["log", "demo", "--verify"])
        .exit(3)
        .stderr_has("baselines/demo/1.3.0/baseline.toml")
        .stderr_has("its tail was cut");
}

#[test]
fn log_verify_catches_a_rewritten_chain_through_the_baseline_heads() {
    // Whoever rewrites a line and every `prev` after it keeps the chain intact; the head
    // recorded in a baseline still differs.
    let ws = four_builds();
    let mut l = lines(&ws);
    l[0] = l[0].replace("\"actor\":\"tester\"", "\"actor\":\"mallory\"");
    for i in 1..l.len() {
        let prev = sha256_hex(l[i - 1].as_bytes());
        let mut v: serde_json::Value = serde_json::from_str(&l[i]).unwrap();
        v["prev"] = prev.into();
        l[i] = v.to_string();
    }
    set_lines(&ws, &l);
    ws.gild(&["log", "demo", "--verify"])
        .exit(3)
        .stderr_has("at line 1")
        .stderr_has("baselines/demo/1.1.0/baseline.toml");
}

#[test]
fn log_verify_refuses_a_line_that_is_not_json() {
    let ws = four_builds();
    let mut l = lines(&ws);
    l[1] = "{ broken".into();
    set_lines(&ws, &l);
    ws.gild(&["log", "demo", "--verify"]).exit(3).stderr_has("at line 2");
}

#[test]
fn log_of_an_unknown_image_is_a_usage_error() {
    let ws = four_builds();
    ws.gild(&["log", "nope"]).exit(2).stderr_has("no image `nope`");
    ws.gild(&["log", "../demo"]).exit(2).stderr_has("not an image name");
}

#[test]
fn log_of_an_image_without_a_journal_is_empty_and_verifies() {
    let ws = Workspace::new();
    ws.recipe("demo").write();
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).success().json();
    assert_eq!(j["entries"].as_array().map(Vec::len), Some(0), "{j}");
}
