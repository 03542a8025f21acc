//! The progress bar: on stderr when it is a terminal, for builds, scans and audits, and never
//! with `--json` (the no-terminal case is in `hardening.rs`).

use crate::harness::*;

/// Runs gild with its stderr on a pseudo-terminal (`script`), the bar allowed at once; returns
/// the exit code and everything the terminal showed.
fn on_a_terminal(ws: &Workspace, args: &[&str]) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("gild");
    let line = std::iter::once(bin.display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(ws.path(""))
        .env("GILD_PROGRESS_DELAY_MS", "0")
        .env("NO_COLOR", "1")
        .env("GILD_ACTOR", "tester")
        .env("GILD_CACHE", ws.cache())
        .output()
        .expect("running script");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn a_tree(ws: &Workspace) {
    for i in 0..50 {
        ws.write(format!("host/etc/file{i}"), format!("content {i}\n"));
    }
}

#[test]
#[cfg_attr(gild_no_pty, ignore = "`script` cannot open a pseudo-terminal here")]
fn a_scan_on_a_terminal_shows_what_it_hashes_and_json_shows_no_bar() {
    require(&[Need::Terminal]);
    let ws = Workspace::new();
    a_tree(&ws);
    let (code, shown) = on_a_terminal(&ws, &["scan", "host", "-o", "host.mtree"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("hashing `host`") && shown.contains("entries"), "no bar on the terminal:\n{shown}");
    let (code, shown) = on_a_terminal(&ws, &["--json", "scan", "host", "-o", "host.mtree"]);
    assert_eq!(code, 0, "{shown}");
    assert!(!shown.contains("hashing"), "a bar with --json:\n{shown}");
}

#[test]
#[cfg_attr(gild_no_pty, ignore = "`script` cannot open a pseudo-terminal here")]
fn an_audit_on_a_terminal_shows_the_target_it_reads() {
    require(&[Need::Terminal]);
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).success();
    std::fs::create_dir(ws.path("host")).unwrap();
    let image = ws.image_path("demo", "1.0.0", "tar.zst");
    let (code, shown) = on_a_terminal(&ws, &["audit", "demo", &image.display().to_string()]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("reading `"), "no bar on the terminal:\n{shown}");
}

#[test]
#[cfg_attr(gild_no_pty, ignore = "`script` cannot open a pseudo-terminal here")]
fn a_build_on_a_terminal_shows_the_layer_it_reads() {
    require(&[Need::Terminal]);
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("./etc/motd", b"m")).write();
    let (code, shown) = on_a_terminal(&ws, &["build", &recipe]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("layering P-1"), "no bar on the terminal:\n{shown}");
    assert!(shown.contains("built demo 1.0.0"), "the report follows the bar:\n{shown}");
}
