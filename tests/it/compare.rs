//! `gild diff`, `gild scan`, `gild verify IMAGE --baseline`, `gild audit`: tree sources of every
//! kind compared, each difference attributed to the patch that last touched it.

use crate::harness::*;

/// The first patch of the demo-like image: an openssl update.
fn openssl_patch() -> Layer {
    Layer::new()
        .dir("./usr/bin")
        .file_meta("./usr/bin/openssl", b"openssl 3.0.15\n", 0o755, 0, 0)
        .file("./usr/lib/x86_64-linux-gnu/libssl.so.3", b"libssl 3.0.15\n")
}

/// The second: sshd hardening that also drops a file and ships a setuid helper.
fn sshd_patch() -> Layer {
    Layer::new()
        .dir("./etc/ssh")
        .file("./etc/ssh/sshd_config", b"PermitRootLogin no\n")
        .whiteout("./etc/hostname")
        .file_meta("./usr/bin/ssh-keysign", b"keysign\n", 0o4755, 0, 0)
}

fn with_fixes(id: &str, layer: Layer, cves: &[&str]) -> impl FnOnce(RecipeBuilder<'_>) -> RecipeBuilder<'_> {
    let id = id.to_string();
    let fixes = cves.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    move |r| r.patch(&id, layer).line(&format!("fixes = [{fixes}]"))
}

/// `demo` 1.0.0 with the openssl patch, 1.1.0 with both patches.
fn two_versions(ws: &Workspace) {
    let r = ws.recipe("demo").version("1.0.0");
    with_fixes("P-SSL", openssl_patch(), &["CVE-2026-1001"])(r).build();
    let r = ws.recipe("demo").version("1.1.0").formats(&["tar.zst", "tar.gz", "tar"]);
    let r = with_fixes("P-SSL", openssl_patch(), &["CVE-2026-1001"])(r);
    with_fixes("P-SSH", sshd_patch(), &["CVE-2026-2001", "CVE-2026-2002"])(r).build();
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The paths a patch added, changed and removed, as baseline.toml records them.
fn patch_paths(ws: &Workspace, version: &str, id: &str) -> Vec<String> {
    let b = ws.baseline("demo", version);
    let patch = tv(&b, &["patch"]).as_array().unwrap().iter().find(|p| p["id"].as_str() == Some(id)).unwrap().clone();
    let mut out: Vec<String> = ["added", "changed", "removed"]
        .iter()
        .flat_map(|k| patch[*k].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn diff_of_two_baselines_lists_the_patch_its_cves_and_exactly_its_paths() {
    let ws = Workspace::new();
    two_versions(&ws);
    let run = ws.gild(&["--json", "diff", "demo@1.0.0", "demo@1.1.0"]);
    run.exit(1);
    let j = run.json();
    assert_eq!(j["command"], "diff");
    assert_eq!(j["differ"], true);
    let records = &j["records"];
    let added: Vec<&str> =
        records["patches"]["added"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(added, ["P-SSH"]);
    assert!(records["patches"]["removed"].as_array().unwrap().is_empty());
    assert_eq!(strings(&records["cves"]["fixed"]), ["CVE-2026-2001", "CVE-2026-2002"]);
    let changes = j["changes"].as_array().unwrap();
    let mut paths: Vec<String> = changes
        .iter()
        .filter(|c| c["path"] != "./etc/gild/release")
        .map(|c| {
            assert_eq!(c["patch"], "P-SSH", "{c}");
            c["path"].as_str().unwrap().to_string()
        })
        .collect();
    paths.sort();
    assert_eq!(paths, patch_paths(&ws, "1.1.0", "P-SSH"));
    assert_eq!(paths, ["./etc/hostname", "./etc/ssh", "./etc/ssh/sshd_config", "./usr/bin/ssh-keysign"]);
    let keysign = changes.iter().find(|c| c["path"] == "./usr/bin/ssh-keysign").unwrap();
    assert_eq!(keysign["change"], "added");
    assert_eq!(strings(&keysign["flags"]), ["setuid"]);
    assert_eq!(changes.iter().find(|c| c["path"] == "./etc/hostname").unwrap()["change"], "removed");
}

#[test]
fn diff_the_other_way_reports_the_patch_removed_and_its_cves_no_longer_fixed() {
    let ws = Workspace::new();
    two_versions(&ws);
    let run = ws.gild(&["diff", "demo@1.1.0", "demo@1.0.0"]);
    run.exit(1).stdout_has("patch   - P-SSH").stdout_has("CVE-2026-2001, CVE-2026-2002");
    assert!(run.stdout.contains("+ ./etc/hostname") && run.stdout.contains("(P-SSH)"), "{}", run.stdout);
    let j = ws.gild(&["--json", "diff", "demo@1.1.0", "demo@1.0.0"]).json();
    assert_eq!(strings(&j["records"]["cves"]["reverted"]), ["CVE-2026-2001", "CVE-2026-2002"]);
}

#[test]
fn diff_of_a_baseline_with_itself_is_quiet_and_exit_0() {
    let ws = Workspace::new();
    two_versions(&ws);
    ws.gild(&["diff", "demo", "baselines/demo/1.1.0"]).success().stdout_has("0 added, 0 removed, 0 changed");
}

#[test]
fn diff_stat_counts_by_patch_without_listing_paths() {
    let ws = Workspace::new();
    two_versions(&ws);
    let run = ws.gild(&["diff", "--stat", "demo@1.0.0", "demo@1.1.0"]);
    run.exit(1).stdout_has("P-SSH  +3 -1 ~0").stdout_has("3 added, 1 removed, 1 changed");
    assert!(!run.stdout.contains("./usr/bin/ssh-keysign"), "{}", run.stdout);
    let j = ws.gild(&["--json", "diff", "--stat", "demo@1.0.0", "demo@1.1.0"]).json();
    assert_eq!(j["stat"]["added"], 3);
    assert!(j.get("changes").is_none(), "{j}");
}

#[test]
fn diff_of_a_baseline_and_its_own_image_finds_nothing() {
    let ws = Workspace::new();
    two_versions(&ws);
    for format in ["tar.zst", "tar.gz", "tar"] {
        let image = ws.image_path("demo", "1.1.0", format);
        ws.gild(&["diff", "demo@1.1.0", image.to_str().unwrap()]).success();
    }
    let old = ws.image_path("demo", "1.0.0", "tar.zst");
    let run = ws.gild(&["diff", old.to_str().unwrap(), "demo@1.1.0"]);
    run.exit(1).stdout_has("+ ./usr/bin/ssh-keysign").stdout_has("(P-SSH)");
}

#[test]
fn diff_names_a_changed_mode_owner_and_link_target() {
    let ws = Workspace::new();
    ws.recipe("demo").version("1.0.0").build();
    let patch = Layer::new()
        .file_meta("./usr/bin/sh", b"#!shell\n", 0o4755, 0, 0)
        .file_meta("./etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644, 1000, 1000)
        .symlink("./lib", "usr/lib64");
    ws.recipe("demo").version("1.1.0").patch("P-1", patch).build();
    let run = ws.gild(&["diff", "demo@1.0.0", "demo@1.1.0"]);
    run.exit(1)
        .stdout_has("~ ./usr/bin/sh  mode 0755 → 04755  [setuid]  (P-1)")
        .stdout_has("~ ./etc/passwd  owner 0:0 → 1000:1000  (P-1)")
        .stdout_has("~ ./lib  link usr/lib → usr/lib64  (P-1)");
}

#[test]
fn diff_of_a_missing_source_is_exit_2_with_help() {
    let ws = Workspace::new();
    two_versions(&ws);
    ws.gild(&["diff", "demo@1.0.0", "nosuch"]).exit(2).stderr_has("no tree source `nosuch`").stderr_has("help:");
    ws.gild(&["diff", "demo@9.9.9", "demo"]).exit(2).stderr_has("recorded versions: 1.0.0, 1.1.0");
}

#[test]
fn a_baseline_whose_files_mtree_was_edited_is_a_trust_failure() {
    let ws = Workspace::new();
    two_versions(&ws);
    ws.edit("baselines/demo/1.0.0/files.mtree", |t| t.replace("mode=0755", "mode=0777"));
    ws.gild(&["diff", "demo@1.0.0", "demo@1.1.0"]).exit(3).stderr_has("was altered after it was recorded");
}
