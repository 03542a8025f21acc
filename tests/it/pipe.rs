//! Output into a closed pipe (`gild build demo | head -1` once head has exited): every
//! command ends quietly with its own exit code — never a panic (101), never SIGPIPE.

use crate::harness::*;

/// Runs `args` with stdout a closed pipe; asserts the exit code and that nothing panicked.
fn into_closed_pipe(ws: &Workspace, args: &[&str], code: i32) {
    let (got, stderr) = ws.gild_into_closed_pipe(args);
    assert!(!stderr.contains("panicked"), "gild {args:?} panicked:\n{stderr}");
    assert_eq!(got, Some(code), "gild {args:?} into a closed pipe: exit {got:?} (None: killed by a signal)\n{stderr}");
}

#[test]
fn build_into_a_closed_pipe_exits_with_its_result() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    into_closed_pipe(&ws, &["build", &recipe], 0);
    assert!(ws.baseline_dir("demo", "1.0.0").join("baseline.toml").is_file(), "the build was recorded");
    into_closed_pipe(&ws, &["build", &recipe], 0);
    into_closed_pipe(&ws, &["--json", "build", &recipe], 0);
}

#[test]
fn every_command_into_a_closed_pipe_exits_with_its_result() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("etc/motd", b"one\n"))
        .section("[rollout]\nchannels = [\"test\", \"prod\"]\nsoak = \"1d\"\n")
        .write();
    ws.gild(&["build", &recipe]).success();
    let image = ws.image_path("demo", "1.0.0", "tar.zst");
    let image = image.to_str().unwrap();
    let art = ws.signed_artifact("p2.tar", &Layer::new().file("opt/two", b"2\n"), &["vendor"]);
    let intake = ["intake", &recipe, &art, "--id", "P-2", "--severity", "low", "--change", "C", "--approved-by", "me"];
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["verify", &recipe], 0),
        (vec!["verify", image, "--baseline", "demo@1.0.0"], 0),
        (vec!["diff", "demo", image], 0),
        (vec!["scan", "demo"], 0),
        (vec!["scan", image], 0),
        (vec!["audit", "demo", image], 0),
        (intake.to_vec(), 0),
        (vec!["defer", &recipe, "P-2", "--reason", "later"], 0),
        (vec!["plan", "--today", "2026-11-25"], 0),
        (vec!["promote", "demo@1.0.0", "test"], 0),
        (vec!["promote", "demo@1.0.0", "prod"], 2),
        (vec!["show", "demo"], 0),
        (vec!["show", "demo@test"], 0),
        (vec!["list"], 0),
        (vec!["prune", "demo", "--keep", "1"], 0),
        (vec!["completions", "bash"], 0),
        (vec!["man", "man-pages"], 0),
        (vec!["init", "elsewhere", "--name", "other"], 0),
        (vec!["revoke", "demo@1.0.0", "--reason", "bad"], 0),
        (vec!["rollback", "demo", "test"], 2),
        (vec!["log", "demo"], 0),
        (vec!["log", "demo", "--verify"], 0),
        (vec!["diff", "demo", "nosuch"], 2),
        (vec!["--help"], 0),
        (vec!["--version"], 0),
        (vec!["build", "--help"], 0),
    ];
    for (args, code) in &runs {
        into_closed_pipe(&ws, args, *code);
        let mut json = vec!["--json"];
        json.extend(args.iter().copied());
        if !args.iter().any(|a| a.starts_with("--help") || *a == "--version") {
            // The state moved on (intake, promote…): only the code's class is stable; what
            // matters is that it is a code, not a death.
            let (got, stderr) = ws.gild_into_closed_pipe(&json);
            assert!(!stderr.contains("panicked"), "gild {json:?} panicked:\n{stderr}");
            assert!(matches!(got, Some(0..=3)), "gild {json:?}: exit {got:?}\n{stderr}");
        }
    }
}
