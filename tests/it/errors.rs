//! Errors as data: under `--json` every failure is one document on stdout,
//! `{"command": …, "exit": N, "error": {"message": …, "causes": […], "help": … or null}}`, and
//! stderr carries the same text as without `--json`.

use crate::harness::*;

/// Runs `args` with and without `--json`; asserts the code, that stderr is the same both
/// times, and returns the document.
fn failure(ws: &Workspace, args: &[&str], code: i32) -> serde_json::Value {
    let text = ws.gild(args);
    text.exit(code);
    assert!(text.stdout.is_empty(), "a failure prints nothing on stdout without --json:\n{}", text.stdout);
    let mut with = vec!["--json"];
    with.extend(args);
    let json = ws.gild(&with);
    json.exit(code);
    assert_eq!(json.stderr, text.stderr, "stderr is the same with --json");
    let doc = json.json();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["command", "error", "exit"], "exactly the documented keys: {doc}");
    assert_eq!(doc["exit"].as_i64(), Some(i64::from(code)), "{doc}");
    let error = doc["error"].as_object().unwrap();
    let keys: Vec<&String> = error.keys().collect();
    assert_eq!(keys, ["causes", "help", "message"], "{doc}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(!message.contains('\n'), "the message is one line: {message:?}");
    assert!(text.stderr.starts_with(&format!("error: {message}")), "{}", text.stderr);
    for cause in doc["error"]["causes"].as_array().unwrap() {
        let cause = cause.as_str().unwrap();
        assert!(!cause.contains("cause:") && !cause.contains("help:"), "no baked-in lines: {cause:?}");
        let first = cause.lines().next().unwrap_or_default();
        assert_eq!(text.stderr.matches(&format!("  cause: {first}\n")).count(), 1, "{}", text.stderr);
    }
    match doc["error"]["help"].as_str() {
        Some(help) => assert!(text.stderr.ends_with(&format!("  help: {help}\n")), "{}", text.stderr),
        None => {
            assert!(doc["error"]["help"].is_null());
            assert!(!text.stderr.contains("help:"), "{}", text.stderr);
        }
    }
    doc
}

#[test]
fn a_trust_failure_under_json_is_one_document_with_causes_and_help() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.edit(&recipe, |t| {
        let at = t.find("sha256 = \"").unwrap() + 10;
        format!("{}{}{}", &t[..at], "0".repeat(64), &t[at + 64..])
    });
    let doc = failure(&ws, &["build", &recipe], 3);
    assert_eq!(doc["command"], "build");
    assert!(doc["error"]["message"].as_str().unwrap().contains("does not match its pin"), "{doc}");
    let causes = doc["error"]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 2, "expected and found digests: {doc}");
    assert!(causes[0].as_str().unwrap().starts_with("expected sha256 0000"), "{doc}");
    assert!(doc["error"]["help"].as_str().unwrap().contains("update `sha256`"), "{doc}");
}

#[test]
fn usage_and_input_mistakes_under_json_name_the_command() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").section("[rollout]\nchannels = [\"test\", \"prod\"]\nsoak = \"7d\"\n").write();
    ws.gild(&["build", &recipe]).success();
    let doc = failure(&ws, &["diff", "demo", "nosuch"], 2);
    assert_eq!(doc["command"], "diff");
    assert_eq!(doc["error"]["message"], "no tree source `nosuch`");
    let doc = failure(&ws, &["promote", "demo@1.0.0", "qa"], 2);
    assert_eq!(doc["command"], "promote");
    assert_eq!(doc["error"]["causes"].as_array().unwrap().len(), 0);
    assert_eq!(doc["error"]["help"], "the channels are `test`, `prod`");
    let doc = failure(&ws, &["log", "NOPE"], 2);
    assert_eq!(doc["command"], "log");
    // An audit reports each target; one it cannot read carries the error in the same shape.
    let doc = ws.gild(&["--json", "audit", "demo", "nosuch"]).exit(2).json();
    assert_eq!(doc["command"], "audit");
    assert_eq!(doc["targets"][0]["error"]["message"], "no tree source `nosuch`", "{doc}");
    assert!(doc["targets"][0]["error"]["help"].is_string(), "{doc}");
}

#[test]
fn a_layer_refusal_keeps_its_help_apart() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-DEV", Layer::new().char_dev("dev/evil", 1, 3)).write();
    let doc = failure(&ws, &["build", &recipe], 2);
    assert!(doc["error"]["message"].as_str().unwrap().contains("a patch may not add device nodes or fifos"), "{doc}");
    assert_eq!(doc["error"]["help"], "set `allow-devices = true` in `[image]` if this patch must");
}

#[test]
fn a_command_line_clap_refuses_is_a_json_failure_too() {
    let ws = Workspace::new();
    let run = ws.gild(&["--json", "build"]);
    run.exit(2).stderr_has("error:");
    let doc = run.json();
    assert_eq!(doc["command"], "build");
    assert_eq!(doc["exit"], 2);
    assert!(doc["error"]["message"].as_str().unwrap().contains("required"), "{doc}");
    let run = ws.gild(&["build"]);
    run.exit(2);
    assert!(run.stdout.is_empty());
}
