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

/// A journal that cannot grow: about 1 MiB already, and gild run under a 1 MiB file size
/// limit, so reading it works and appending fails (EFBIG, as on a full disk).
const LIMIT: u64 = 1 << 20;

fn stuck_journal(ws: &Workspace, name: &str) {
    ws.bloat_journal(name, LIMIT as usize + 1000);
}

fn says_the_journal_failed(run: &Run, name: &str, outcome: &str) {
    run.exit(2)
        .stderr_has(&format!("the journal `baselines/{name}/journal.jsonl` could not be appended; {outcome}"))
        .stderr_has("cause: ")
        .stderr_has(&format!("gild log {name} --verify"));
}

/// docs/README.md: a journal append that fails is a failed command (exit 2) that says so, in every
/// command alike: intake and defer (the recipe put back), the build (recorded, without its
/// line), promote (channels.toml put back).
#[test]
fn a_journal_that_cannot_grow_fails_every_writing_command_with_exit_2() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("./etc/motd", b"one\n")).write();
    stuck_journal(&ws, "demo");
    let before = ws.read(&recipe);
    let art = ws.signed_artifact("p2.tar", &Layer::new().file("./etc/two", b"two\n"), &["vendor"]);
    let args =
        ["intake", &recipe, &art, "--id", "P-2", "--severity", "high", "--change", "CHG-7", "--approved-by", "a.khan"];
    let run = ws.gild_with_file_size_limit(LIMIT, None, &args);
    says_the_journal_failed(&run, "demo", "nothing changed (`");
    assert_eq!(ws.read(&recipe), before, "intake put the recipe back");

    let run = ws.gild_with_file_size_limit(LIMIT, None, &["defer", &recipe, "P-1", "--reason", "breaks the app"]);
    says_the_journal_failed(&run, "demo", "nothing changed (`");
    assert_eq!(ws.read(&recipe), before, "defer put the recipe back");

    let run = ws.gild_with_file_size_limit(LIMIT, None, &["build", &recipe]);
    says_the_journal_failed(
        &run,
        "demo",
        "the build of `demo` 1.0.0 is recorded in `baselines/demo/1.0.0` without its journal line (the next command that writes the journal records it as `recovered`)",
    );
    assert!(ws.exists("baselines/demo/1.0.0/baseline.toml"), "the commit point was passed: the baseline stays");
    assert!(run.stdout.is_empty(), "no success report: {}", run.stdout);
}

/// A workspace whose `demo` 1.0.0 was recorded while its journal could not grow: committed,
/// without its `build` line. The journal is stuck still; returns the recipe.
fn unjournaled_build(ws: &Workspace) -> String {
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("./etc/motd", b"one\n")).section(ROLLOUT).write();
    stuck_journal(ws, "demo");
    ws.gild_with_file_size_limit(LIMIT, None, &["build", &recipe]).exit(2);
    assert!(ws.exists("baselines/demo/1.0.0/baseline.toml"));
    recipe
}

const ROLLOUT: &str = "[rollout]\nchannels = [\"test\", \"prod\"]\n";

fn events(ws: &Workspace) -> Vec<serde_json::Value> {
    lines(ws).iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// docs/baseline.md: `log --verify` names a baseline recorded without its `build` line (exit 1,
/// a finding: the chain itself is intact).
#[test]
fn log_verify_names_a_baseline_whose_build_line_could_not_be_written() {
    let ws = Workspace::new();
    unjournaled_build(&ws);
    ws.gild(&["log", "demo", "--verify"])
        .exit(1)
        .stdout_has("chain intact")
        .stdout_has("unjournaled: demo 1.0.0 is recorded in `baselines/demo/1.0.0` without its `build` line");
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).exit(1).json();
    assert_eq!(j["verified"]["ok"], false, "{j}");
    assert!(j["verified"]["problem"].is_null(), "not tampering: {j}");
    assert_eq!(
        j["verified"]["unjournaled"],
        serde_json::json!([{"version": "1.0.0", "baseline": "baselines/demo/1.0.0"}]),
        "{j}"
    );
}

/// docs/baseline.md: once the journal can grow again, the next command that writes it, whichever
/// it is, first appends a `recovered` line for the baseline (what its `build` line would have
/// said), then its own; `log --verify` is clean after.
#[test]
fn the_next_writing_command_records_an_unjournaled_build_as_recovered() {
    let writers: [(&str, &[&str]); 5] = [
        ("defer", &["defer", "RECIPE", "P-1", "--reason", "breaks the app"]),
        ("promote", &["promote", "demo@1.0.0", "test"]),
        ("revoke", &["revoke", "demo@1.0.0", "--reason", "typo"]),
        ("build", &["build", "RECIPE", "--version", "1.1.0"]),
        // A rebuild of the recorded version is unchanged and writes no line of its own.
        ("", &["build", "RECIPE"]),
    ];
    for (event, args) in writers {
        let ws = Workspace::new();
        let recipe = unjournaled_build(&ws);
        let args: Vec<&str> = args.iter().map(|a| if *a == "RECIPE" { recipe.as_str() } else { a }).collect();
        ws.gild(&args).success().stderr_has("recorded the build of `demo` 1.0.0 in the journal as `recovered`");
        let events = events(&ws);
        let own = usize::from(!event.is_empty());
        let recovered = &events[events.len() - 1 - own];
        let record: toml::Value = toml::from_str(&ws.read_string("baselines/demo/1.0.0/baseline.toml")).unwrap();
        assert_eq!(recovered["event"], "recovered", "{args:?}: {recovered}");
        assert_eq!((recovered["name"].as_str(), recovered["version"].as_str()), (Some("demo"), Some("1.0.0")));
        assert_eq!(recovered["tree"].as_str(), record["tree"].as_str(), "{recovered}");
        let image = &record["image"][0];
        assert_eq!(
            recovered["images"],
            serde_json::json!([{"file": image["file"].as_str(), "sha256": image["sha256"].as_str()}]),
            "{recovered}"
        );
        if own == 1 {
            assert_eq!(events.last().unwrap()["event"], event, "{args:?}: its own line follows");
        }
        let run = ws.gild(&["log", "demo", "--verify"]);
        run.success();
        assert!(!run.stdout.contains("unjournaled"), "{}", run.stdout);
        // Recovered once: the next writing command finds nothing missing.
        let run = ws.gild(&["build", &recipe, "--version", "2.0.0"]);
        assert!(!run.success().stderr.contains("recovered"), "{}", run.stderr);
        let events = self::events(&ws);
        assert_eq!(events.iter().filter(|e| e["event"] == "recovered").count(), 1, "{args:?}: once");
        assert_eq!(events.last().unwrap()["event"], "build");
    }
}

/// A writing command whose `recovered` line cannot be written either fails (exit 2) before it
/// changes anything, and says the build is still without its line.
#[test]
fn a_writing_command_that_cannot_record_the_recovery_changes_nothing() {
    let ws = Workspace::new();
    let recipe = unjournaled_build(&ws);
    let before = ws.read(&recipe);
    let outcome =
        "nothing changed: the build of `demo` 1.0.0 in `baselines/demo/1.0.0` is still without its journal line";
    let run = ws.gild_with_file_size_limit(LIMIT, None, &["defer", &recipe, "P-1", "--reason", "breaks the app"]);
    says_the_journal_failed(&run, "demo", outcome);
    assert_eq!(ws.read(&recipe), before, "the recipe is as it was");
    let run = ws.gild_with_file_size_limit(LIMIT, None, &["promote", "demo@1.0.0", "test"]);
    says_the_journal_failed(&run, "demo", outcome);
    assert!(!ws.exists("baselines/demo/channels.toml"), "no channel moved");
    ws.gild(&["log", "demo", "--verify"]).exit(1).stdout_has("unjournaled: demo 1.0.0");
}

#[test]
fn a_promotion_whose_journal_line_cannot_be_written_changes_nothing() {
    let ws = Workspace::new();
    let recipe = ws.recipe("web").section("[rollout]\nchannels = [\"test\", \"prod\"]\n").write();
    ws.gild(&["build", &recipe]).success();
    stuck_journal(&ws, "web");
    let run = ws.gild_with_file_size_limit(LIMIT, None, &["promote", "web@1.0.0", "test"]);
    says_the_journal_failed(&run, "web", "nothing changed (`baselines/web/channels.toml` is as it was)");
    assert!(!ws.exists("baselines/web/channels.toml"), "channels.toml was not left ahead of the journal");
}

/// A refusal is journaled; when it cannot be, the error says so too (the exit stays 3: the
/// trust failure is the higher code).
#[test]
fn a_refusal_that_cannot_be_journaled_says_so() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("./etc/motd", b"one\n")).write();
    let art = ws.artifact("demo", "P-1");
    let mut bytes = std::fs::read(&art).unwrap();
    bytes[600] ^= 1;
    std::fs::write(&art, &bytes).unwrap();
    stuck_journal(&ws, "demo");
    ws.gild_with_file_size_limit(LIMIT, None, &["build", &recipe])
        .exit(3)
        .stderr_has("does not match its pin")
        .stderr_has(
            "the refusal could not be journaled: the journal `baselines/demo/journal.jsonl` could not be appended",
        );
}
