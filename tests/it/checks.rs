//! `[[check]]`: smoke tests run on the extracted image before anything is recorded.

use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn passing_check_is_recorded_as_pass() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .check("tree is there", "test -f etc/gild/release && test -L lib && test -f \"$GILD_ROOT/etc/hostname\"")
        .write();
    ws.gild(&["build", &recipe]).success();
    let b = ws.baseline("demo", "1.0.0");
    let checks = tv(&b, &["check"]).as_array().unwrap();
    assert_eq!(checks.len(), 1, "{b}");
    assert_eq!(checks[0]["name"].as_str(), Some("tree is there"));
    assert_eq!(checks[0]["result"].as_str(), Some("pass"));
}

#[test]
fn failing_check_exits_1_shows_name_and_output_and_writes_nothing() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .check("libssl present", "echo out-marker-41; echo err-marker-42 >&2; exit 3")
        .build_fails(1)
        .output_has("libssl present")
        .output_has("out-marker-41")
        .output_has("err-marker-42");
}

#[test]
fn check_running_past_its_timeout_fails_and_is_killed() {
    let ws = Workspace::new();
    let started = Instant::now();
    ws.recipe("demo").check_timeout("slow", "sleep 30 | cat", "1s").build_fails(1).output_has("slow");
    assert!(started.elapsed() < Duration::from_secs(20), "the check's process group was not killed at 1s");
}

#[test]
fn check_sees_gild_variables_and_a_clean_environment() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .check(
            "environment",
            r#"echo "name=$GILD_NAME version=$GILD_VERSION root=$GILD_ROOT leak=${LEAKED_VAR:-}";
test "$GILD_NAME" = demo && test "$GILD_VERSION" = 1.2.3 && test -z "${LEAKED_VAR:-}" &&
test "$(cd "$GILD_ROOT" && pwd -P)" = "$(pwd -P)" && test -f "$GILD_ROOT/etc/gild/release""#,
        )
        .write();
    let args = ["build", recipe.as_str(), "--version", "1.2.3"];
    let mut cmd = ws.command(&args);
    cmd.env("LEAKED_VAR", "from the caller");
    Run::new(&args, cmd.output().unwrap()).success();
}

#[test]
fn any_failing_check_fails_the_build() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .check("first passes", "true")
        .check("second fails", "test -f usr/bin/no-such-tool")
        .build_fails(1)
        .output_has("second fails");
}
