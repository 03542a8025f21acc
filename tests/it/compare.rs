//! `gild diff`, `gild scan`, `gild verify IMAGE --baseline`, `gild audit`: tree sources of every
//! kind compared, each difference attributed to the patch that last touched it.

use std::path::{Path, PathBuf};
use std::process::Command;

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
fn diff_flags_capabilities_from_the_records_and_world_writable_files() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .version("1.0.0")
        .patch("P-1", Layer::new().file_meta("./usr/bin/ping", b"ping\n", 0o755, 0, 0))
        .build();
    let patch = Layer::new()
        .file_xattrs("./usr/bin/ping", b"ping\n", 0o755, &[("security.capability", b"\x01\x00\x00\x02")])
        .file_meta("./etc/shared", b"x\n", 0o666, 0, 0);
    ws.recipe("demo")
        .version("1.1.0")
        .patch("P-1", Layer::new().file_meta("./usr/bin/ping", b"ping\n", 0o755, 0, 0))
        .patch("P-CAP", patch)
        .build();
    let j = ws.gild(&["--json", "diff", "demo@1.0.0", "demo@1.1.0"]).exit(1).json();
    let find = |p: &str| {
        j["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == p)
            .unwrap_or_else(|| panic!("no {p}: {j}"))
            .clone()
    };
    let ping = find("./usr/bin/ping");
    assert_eq!(strings(&ping["what"]), ["xattrs"]);
    assert_eq!(strings(&ping["flags"]), ["capability"]);
    assert_eq!(ping["patch"], "P-CAP");
    assert_eq!(strings(&find("./etc/shared")["flags"]), ["world-writable"]);
    let image = ws.image_path("demo", "1.1.0", "tar.zst");
    ws.gild(&["diff", "demo@1.1.0", image.to_str().unwrap()]).success();
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

// ---------------------------------------------------------------------------------------------
// scan

/// Extracts an image with `bsdtar -xpf` (owners kept: run as root) into a new directory.
fn extract(image: &Path) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("gild-host-").tempdir().unwrap();
    let out = Command::new("bsdtar").arg("-xpf").arg(image).arg("-C").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "bsdtar -xpf: {}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// Runs a stock tool, asserting success; returns stdout.
fn stock(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The host's report by NetBSD `mtree -c` and by `bsdtar --format=mtree`, written in `ws`.
fn stock_reports(ws: &Workspace, host: &Path) -> (PathBuf, PathBuf) {
    let netbsd = ws.path("netbsd.mtree");
    let spec = stock(Command::new("mtree").args(["-c", "-K", "sha256digest,mode,uid,gid,type,link", "-p"]).arg(host));
    std::fs::write(&netbsd, spec).unwrap();
    let bsd = ws.path("bsdtar.mtree");
    stock(
        Command::new("bsdtar")
            .args(["--format=mtree", "--options=!all,type,mode,uid,gid,size,link,sha256", "-cf"])
            .arg(&bsd)
            .arg("-C")
            .arg(host)
            .arg("."),
    );
    (netbsd, bsd)
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_root), ignore = "needs bsdtar and root")]
fn scan_of_an_image_and_of_its_extraction_is_the_recorded_files_mtree() {
    require(&[Need::Tool("bsdtar"), Need::Root]);
    let ws = Workspace::new();
    two_versions(&ws);
    let recorded = ws.read_string("baselines/demo/1.1.0/files.mtree");
    for format in ["tar.zst", "tar.gz", "tar"] {
        let image = ws.image_path("demo", "1.1.0", format);
        let run = ws.gild(&["scan", image.to_str().unwrap()]);
        run.success();
        assert_eq!(run.stdout, recorded, "{format}");
    }
    let host = extract(&ws.image_path("demo", "1.1.0", "tar.gz"));
    let run = ws.gild(&["scan", host.path().to_str().unwrap()]);
    assert_eq!(run.success().stdout, recorded);
}

#[test]
fn scan_writes_its_file_whole_and_reports_the_digest() {
    let ws = Workspace::new();
    two_versions(&ws);
    ws.gild(&["scan", "demo", "-o", "reports/host.mtree"]).exit(2).stderr_has("cannot write `");
    std::fs::create_dir(ws.path("reports")).unwrap();
    let j = ws.gild(&["--json", "scan", "demo@1.0.0", "-o", "reports/host.mtree"]).success().json();
    ws.gild(&["scan", "demo", "-o", "reports/host.mtree"]).success().stdout_has("→ reports/host.mtree");
    assert_eq!(j["command"], "scan");
    assert_eq!(j["output"], "reports/host.mtree");
    assert!(j["spec"].is_null(), "{j}");
    let recorded = ws.read("baselines/demo/1.0.0/files.mtree");
    assert_eq!(j["sha256"], sha256_hex(&recorded));
    assert_eq!(j["source"]["entries"], ws.mtree("demo", "1.0.0").entries.len());
    let names: Vec<String> = std::fs::read_dir(ws.path("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["host.mtree"], "nothing left beside it");
    assert_eq!(ws.read("reports/host.mtree"), ws.read("baselines/demo/1.1.0/files.mtree"), "`demo` is the newest");
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_mtree, gild_no_root), ignore = "needs bsdtar, NetBSD mtree and root")]
fn scan_of_stock_tool_reports_reads_back_the_host() {
    require(&[Need::Tool("bsdtar"), Need::Tool("mtree"), Need::Root]);
    let ws = Workspace::new();
    let odd = Layer::new()
        .dir("./opt")
        .file("./opt/with space", b"s")
        .file("./opt/hash#and=eq", b"h")
        .file(b"./opt/caf\xc3\xa9", b"c")
        .file("./opt/glob*?[x]", b"g")
        .symlink("./opt/to space", "with space")
        .hardlink("./opt/hard", "./opt/with space");
    ws.recipe("demo").patch("P-ODD", odd).build();
    let host = extract(&ws.image_path("demo", "1.0.0", "tar.zst"));
    let (netbsd, bsd) = stock_reports(&ws, host.path());
    let recorded = ws.read_string("baselines/demo/1.0.0/files.mtree");
    for spec in [netbsd, bsd] {
        let run = ws.gild(&["scan", spec.to_str().unwrap()]);
        assert_eq!(run.success().stdout, recorded, "{}", spec.display());
    }
}

#[test]
fn scan_of_a_spec_without_digests_leaves_them_out_and_says_so() {
    let ws = Workspace::new();
    ws.write("host.mtree", "#mtree\n. type=dir mode=755 uid=0 gid=0\n./etc type=dir mode=755 uid=0 gid=0\n./etc/motd type=file mode=644 uid=0 gid=0 size=3\n");
    let run = ws.gild(&["scan", "host.mtree"]);
    run.success().stderr_has("no `sha256digest` for 1 entries");
    assert_eq!(
        run.stdout,
        "#mtree v2.0\n. type=dir mode=0755 uid=0 gid=0\n./etc type=dir mode=0755 uid=0 gid=0\n./etc/motd type=file mode=0644 uid=0 gid=0 size=3\n"
    );
}

#[test]
fn bad_specs_exit_2_naming_the_line() {
    let ws = Workspace::new();
    two_versions(&ws);
    let good = ws.read_string("baselines/demo/1.0.0/files.mtree");
    let line = |n: usize| good.lines().take(n).map(|l| format!("{l}\n")).collect::<String>();
    let cases = [
        ("truncated.mtree", format!("{}./usr/bin/openssl type=file mode=07", line(5)), 6, "cut short"),
        ("keyword.mtree", format!("{}./x type=file colour=red\n{}", line(3), line(2)), 4, "unknown keyword `colour`"),
        ("escape.mtree", format!("{}./x\\q type=file\n", line(2)), 3, "bad escape"),
    ];
    for (file, text, n, why) in cases {
        ws.write(file, text);
        for args in [vec!["scan", file], vec!["diff", "demo", file]] {
            ws.gild(&args)
                .exit(2)
                .stderr_has(&format!("invalid mtree spec `{file}`"))
                .stderr_has(&format!("{file}:{n}: "))
                .stderr_has(why);
        }
    }
}

/// A host report is untrusted input: a spec nesting deeper than `depth` (whose paths would
/// grow with every line) is refused at the line that crosses it, naming the limit's key.
#[test]
fn a_spec_nesting_past_the_depth_limit_is_refused_naming_the_limit() {
    let ws = Workspace::new();
    ws.write("deep.mtree", "d type=dir\n".repeat(50_000));
    ws.gild(&["scan", "deep.mtree"])
        .exit(2)
        .stderr_has("deep.mtree:257: ")
        .stderr_has("over the `depth` limit")
        .stderr_has("--limit depth=");
    ws.gild(&["--limit", "depth=300", "scan", "deep.mtree"]).exit(2).stderr_has("deep.mtree:301: ");
}

// ---------------------------------------------------------------------------------------------
// verify IMAGE --baseline

#[test]
fn verify_image_accepts_every_recorded_image_of_the_baseline() {
    let ws = Workspace::new();
    two_versions(&ws);
    for format in ["tar.zst", "tar.gz", "tar"] {
        let image = ws.image_path("demo", "1.1.0", format);
        let run = ws.gild(&["--json", "verify", image.to_str().unwrap(), "--baseline", "demo@1.1.0"]);
        let j = run.success().json();
        assert_eq!(j["command"], "verify");
        assert_eq!(j["ok"], true);
        assert_eq!(j["recorded-as"], format!("demo-1.1.0.{format}"));
        assert_eq!(j["tree"], sha256_hex(&ws.read("baselines/demo/1.1.0/files.mtree")));
    }
    let image = ws.image_path("demo", "1.1.0", "tar.zst");
    ws.gild(&["verify", image.to_str().unwrap(), "--baseline", "demo"]).success().stdout_has("matches files.mtree");
}

#[test]
fn verify_image_of_another_version_is_exit_3_naming_the_paths() {
    let ws = Workspace::new();
    two_versions(&ws);
    let image = ws.image_path("demo", "1.0.0", "tar.zst");
    let run = ws.gild(&["verify", image.to_str().unwrap(), "--baseline", "demo@1.1.0"]);
    run.exit(3)
        .stdout_has("- ./usr/bin/ssh-keysign")
        .stdout_has("(P-SSH)")
        .stderr_has("is not the one recorded in demo 1.1.0")
        .stderr_has("is not one the baseline records");
}

#[test]
fn verify_image_with_the_recorded_tree_but_other_bytes_is_exit_3() {
    let ws = Workspace::new();
    two_versions(&ws);
    let tar = decompress(&ws.read(ws.image_path("demo", "1.1.0", "tar.zst")));
    ws.write("recompressed.tar.xz", Compression::Xz.compress(&tar));
    let j = ws.gild(&["--json", "verify", "recompressed.tar.xz", "--baseline", "demo@1.1.0"]).exit(3).json();
    assert_eq!(j["ok"], false);
    assert!(j["recorded-as"].is_null(), "{j}");
    assert_eq!(j["tree-matches"], true, "{j}");
}

#[test]
fn verify_image_with_a_changed_file_is_exit_3_with_its_patch() {
    let ws = Workspace::new();
    two_versions(&ws);
    let mut tar = decompress(&ws.read(ws.image_path("demo", "1.1.0", "tar")));
    let at = tar.windows(14).position(|w| w == b"openssl 3.0.15").expect("the file's data");
    tar[at..at + 7].copy_from_slice(b"OPENSSL");
    ws.write("tampered.tar", &tar);
    let run = ws.gild(&["verify", "tampered.tar", "--baseline", "demo@1.1.0"]);
    run.exit(3).stdout_has("~ ./usr/bin/openssl  content  (P-SSL)");
}

#[test]
fn verify_image_wants_an_image_file() {
    let ws = Workspace::new();
    two_versions(&ws);
    ws.gild(&["verify", "baselines/demo/1.0.0/files.mtree", "--baseline", "demo"])
        .exit(2)
        .stderr_has("not an image file");
    ws.gild(&["verify", "nosuch.tar.zst", "--baseline", "demo"]).exit(2).stderr_has("no tree source");
    let image = ws.image_path("demo", "1.1.0", "tar.zst");
    ws.gild(&["verify", image.to_str().unwrap(), "--baseline", "nosuch"]).exit(2);
}

// ---------------------------------------------------------------------------------------------
// audit

/// `demo` 1.0.0 and 1.1.0 as in [`two_versions`], with the recipe's `[audit] ignore`.
fn audited(ws: &Workspace) {
    let r = ws.recipe("demo").version("1.0.0");
    with_fixes("P-SSL", openssl_patch(), &["CVE-2026-1001"])(r).build();
    let r = ws.recipe("demo").version("1.1.0").formats(&["tar.zst", "tar.gz"]);
    let r = with_fixes("P-SSL", openssl_patch(), &["CVE-2026-1001"])(r);
    with_fixes("P-SSH", sshd_patch(), &["CVE-2026-2001", "CVE-2026-2002"])(r)
        .section("[audit]\nignore = [\"var/log/**\", \"etc/machine-id\"]\n")
        .build();
}

fn host(ws: &Workspace, version: &str) -> tempfile::TempDir {
    extract(&ws.image_path("demo", version, "tar.zst"))
}

fn audit_json(ws: &Workspace, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["--json", "audit"];
    all.extend_from_slice(args);
    ws.gild(&all).exit(code).json()
}

/// (change, path, what, patch) of each drift and extra finding of the first target.
fn findings(j: &serde_json::Value) -> Vec<(String, String, Vec<String>, Option<String>)> {
    let t = &j["targets"][0];
    let list = t["drift"].as_array().unwrap().iter().chain(t["extra"].as_array().unwrap());
    list.map(|c| {
        (
            c["change"].as_str().unwrap().to_string(),
            c["path"].as_str().unwrap().to_string(),
            strings(&c["what"]),
            c["patch"].as_str().map(str::to_string),
        )
    })
    .collect()
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_root), ignore = "needs bsdtar and root")]
fn audit_of_a_tree_extracted_from_the_image_is_compliant() {
    require(&[Need::Tool("bsdtar"), Need::Root]);
    let ws = Workspace::new();
    audited(&ws);
    let h = host(&ws, "1.1.0");
    let dir = h.path().to_str().unwrap();
    let j = audit_json(&ws, &["demo", dir], 0);
    assert_eq!(j["command"], "audit");
    assert_eq!(j["compliant"], true);
    let t = &j["targets"][0];
    assert_eq!(
        (t["verdict"].as_str(), t["version"].as_str(), t["kind"].as_str()),
        (Some("compliant"), Some("1.1.0"), Some("directory"))
    );
    ws.gild(&["audit", "demo@1.1.0", dir]).success().stdout_has("compliant").stdout_has("1 of 1 target(s) compliant");
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_root), ignore = "needs bsdtar and root")]
fn audit_reports_each_change_with_its_patch_and_exit_1() {
    require(&[Need::Tool("bsdtar"), Need::Root]);
    use std::os::unix::fs::{chown, symlink, PermissionsExt};
    let ws = Workspace::new();
    audited(&ws);
    type Mutation = fn(&Path);
    let cases: [(Mutation, &str, &str, &str, Option<&str>); 6] = [
        (
            |h| std::fs::write(h.join("usr/bin/openssl"), b"trojan\n").unwrap(),
            "changed",
            "./usr/bin/openssl",
            "content",
            Some("P-SSL"),
        ),
        (
            |h| {
                std::fs::set_permissions(h.join("etc/ssh/sshd_config"), std::fs::Permissions::from_mode(0o666)).unwrap()
            },
            "changed",
            "./etc/ssh/sshd_config",
            "mode",
            Some("P-SSH"),
        ),
        (
            |h| chown(h.join("usr/lib/x86_64-linux-gnu/libssl.so.3"), Some(1000), None).unwrap(),
            "changed",
            "./usr/lib/x86_64-linux-gnu/libssl.so.3",
            "owner",
            Some("P-SSL"),
        ),
        (
            |h| {
                std::fs::remove_file(h.join("lib")).unwrap();
                symlink("/opt/evil/lib", h.join("lib")).unwrap();
            },
            "changed",
            "./lib",
            "link",
            None,
        ),
        (
            |h| {
                std::fs::write(h.join("usr/bin/rootme"), b"#!/bin/sh\n").unwrap();
                std::fs::set_permissions(h.join("usr/bin/rootme"), std::fs::Permissions::from_mode(0o4755)).unwrap();
            },
            "added",
            "./usr/bin/rootme",
            "",
            None,
        ),
        (
            |h| std::fs::remove_file(h.join("usr/bin/ssh-keysign")).unwrap(),
            "removed",
            "./usr/bin/ssh-keysign",
            "",
            Some("P-SSH"),
        ),
    ];
    for (mutate, change, path, what, patch) in cases {
        let h = host(&ws, "1.1.0");
        mutate(h.path());
        let j = audit_json(&ws, &["demo", h.path().to_str().unwrap()], 1);
        let want_what: Vec<String> = if what.is_empty() { vec![] } else { vec![what.to_string()] };
        assert_eq!(
            findings(&j),
            [(change.to_string(), path.to_string(), want_what, patch.map(str::to_string))],
            "{path}"
        );
        let t = &j["targets"][0];
        assert_eq!(t["compliant"], false, "{path}");
        let missing: Vec<&str> = t["missing"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(missing, patch.into_iter().collect::<Vec<_>>(), "{path}");
        if change == "added" {
            assert_eq!(t["extra"][0]["counts"], true, "a setuid extra file always counts");
            assert_eq!(strings(&t["extra"][0]["flags"]), ["setuid"]);
        }
    }
    let h = host(&ws, "1.1.0");
    std::fs::write(h.path().join("usr/bin/openssl"), b"trojan\n").unwrap();
    ws.gild(&["audit", "demo", h.path().to_str().unwrap()])
        .exit(1)
        .stdout_has("~ ./usr/bin/openssl  content  (P-SSL)")
        .stdout_has("missing  P-SSL  high  CVE-2026-1001  (1 of its paths differ)")
        .stdout_has("0 of 1 target(s) compliant");
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_root), ignore = "needs bsdtar and root")]
fn ignored_paths_stay_quiet() {
    require(&[Need::Tool("bsdtar"), Need::Root]);
    let ws = Workspace::new();
    audited(&ws);
    let h = host(&ws, "1.1.0");
    std::fs::create_dir_all(h.path().join("var/log/apt")).unwrap();
    std::fs::write(h.path().join("var/log/apt/history.log"), b"x").unwrap();
    std::fs::write(h.path().join("etc/machine-id"), b"0123\n").unwrap();
    std::fs::write(h.path().join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
        .unwrap();
    let dir = h.path().to_str().unwrap();
    // var/ itself is new on the host: extra, counted only with --strict.
    let j = audit_json(&ws, &["demo", dir, "--ignore", "etc/passwd"], 0);
    assert_eq!(j["targets"][0]["ignored"], 4, "{j}");
    assert!(j["targets"][0]["drift"].as_array().unwrap().is_empty(), "{j}");
    let j = audit_json(&ws, &["demo", dir, "--ignore", "etc/passwd", "--strict"], 1);
    assert_eq!(
        findings(&j),
        [("added".into(), "./var".into(), vec![], None), ("added".into(), "./var/log".into(), vec![], None)]
    );
    let j = audit_json(&ws, &["demo", dir], 1);
    assert_eq!(
        findings(&j),
        [
            ("changed".into(), "./etc/passwd".into(), vec!["content".into()], None),
            ("added".into(), "./var".into(), vec![], None),
            ("added".into(), "./var/log".into(), vec![], None)
        ]
    );
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_mtree, gild_no_root), ignore = "needs bsdtar, NetBSD mtree and root")]
fn the_same_host_reported_by_gild_netbsd_mtree_and_bsdtar_audits_the_same() {
    require(&[Need::Tool("bsdtar"), Need::Tool("mtree"), Need::Root]);
    let ws = Workspace::new();
    audited(&ws);
    for drifted in [false, true] {
        let h = host(&ws, "1.1.0");
        if drifted {
            std::fs::write(h.path().join("etc/ssh/sshd_config"), b"PermitRootLogin yes\n").unwrap();
        }
        let dir = h.path().to_str().unwrap().to_string();
        ws.gild(&["scan", &dir, "-o", "gild.mtree"]).success();
        let (netbsd, bsd) = stock_reports(&ws, h.path());
        let targets = [dir.clone(), "gild.mtree".into(), netbsd.to_str().unwrap().into(), bsd.to_str().unwrap().into()];
        let mut args = vec!["demo"];
        args.extend(targets.iter().map(String::as_str));
        let j = audit_json(&ws, &args, if drifted { 1 } else { 0 });
        let verdicts: Vec<(String, String, Vec<String>)> = j["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                assert!(t["unchecked"].as_array().unwrap().is_empty(), "{t}");
                let drift =
                    t["drift"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap().to_string()).collect();
                (t["verdict"].as_str().unwrap().to_string(), t["version"].as_str().unwrap().to_string(), drift)
            })
            .collect();
        let want = if drifted {
            ("drifted".to_string(), "1.1.0".to_string(), vec!["./etc/ssh/sshd_config".to_string()])
        } else {
            ("compliant".to_string(), "1.1.0".to_string(), vec![])
        };
        assert_eq!(verdicts, vec![want; 4], "drifted: {drifted}");
    }
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_root), ignore = "needs bsdtar and root")]
fn a_host_behind_is_compared_with_its_version_and_lacks_the_newer_patches() {
    require(&[Need::Tool("bsdtar"), Need::Root]);
    let ws = Workspace::new();
    audited(&ws);
    let h = host(&ws, "1.0.0");
    let dir = h.path().to_str().unwrap();
    let j = audit_json(&ws, &["demo", dir], 1);
    let t = &j["targets"][0];
    assert_eq!(
        (t["verdict"].as_str(), t["version"].as_str(), t["compared-with"].as_str()),
        (Some("behind"), Some("1.0.0"), Some("1.0.0"))
    );
    assert!(t["drift"].as_array().unwrap().is_empty(), "compared with its own version: {t}");
    assert_eq!(t["missing"][0]["id"], "P-SSH");
    assert_eq!(t["missing"][0]["why"], "not in 1.0.0");
    assert_eq!(t["missing"].as_array().unwrap().len(), 1);

    let j = audit_json(&ws, &["demo", dir, "--patch", "P-SSH"], 1);
    assert_eq!(j["question"]["patch"], "P-SSH");
    assert_eq!(j["targets"][0]["needs"], true);
    let j = audit_json(&ws, &["demo", dir, "--patch", "P-SSL"], 0);
    assert_eq!(j["targets"][0]["needs"], false);
    let j = audit_json(&ws, &["demo", dir, "demo@1.1.0", "--fixes", "CVE-2026-2002"], 1);
    let needs: Vec<bool> = j["targets"].as_array().unwrap().iter().map(|t| t["needs"].as_bool().unwrap()).collect();
    assert_eq!(needs, [true, false]);
    ws.gild(&["audit", "demo", dir, "--fixes", "CVE-2026-2002"])
        .exit(1)
        .stdout_has("which targets need a fix for CVE-2026-2002 (P-SSH)?")
        .stdout_has("1 of 1 target(s) need it");
    ws.gild(&["audit", "demo", dir, "--patch", "P-NOPE"]).exit(2).stderr_has("`P-NOPE` is not a patch of demo 1.1.0");
    ws.gild(&["audit", "demo", dir, "--fixes", "CVE-1999-0001"]).exit(2).stderr_has("no patch of demo 1.1.0 fixes");
}

#[test]
fn a_spec_names_its_version_by_the_digest_of_its_release_file() {
    let ws = Workspace::new();
    audited(&ws);
    ws.gild(&["scan", "demo@1.0.0", "-o", "old.mtree"]).success();
    let j = audit_json(&ws, &["demo", "old.mtree"], 1);
    let t = &j["targets"][0];
    assert_eq!(
        (t["verdict"].as_str(), t["version"].as_str(), t["kind"].as_str()),
        (Some("behind"), Some("1.0.0"), Some("spec"))
    );
}

#[test]
fn a_spec_without_digests_is_not_compliant_and_says_which_checks_it_lacks() {
    let ws = Workspace::new();
    audited(&ws);
    let text = ws.read_string("baselines/demo/1.1.0/files.mtree");
    let stripped: String = text
        .lines()
        .map(|l| l.split(' ').filter(|w| !w.starts_with("sha256digest=")).collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    ws.write("nodigest.mtree", stripped);
    let j = audit_json(&ws, &["demo", "nodigest.mtree"], 1);
    let t = &j["targets"][0];
    assert_eq!(t["compliant"], false);
    let u = &t["unchecked"][0];
    assert_eq!(
        (u["check"].as_str(), u["side"].as_str(), u["keyword"].as_str()),
        (Some("content"), Some("B"), Some("sha256digest"))
    );
    assert!(t["drift"].as_array().unwrap().is_empty(), "{t}");
    ws.gild(&["audit", "demo", "nodigest.mtree"])
        .exit(1)
        .stdout_has("not checked: content of")
        .stdout_has("(the target has no `sha256digest`)");
}

#[test]
fn a_target_on_a_revoked_version_is_flagged() {
    let ws = Workspace::new();
    audited(&ws);
    ws.gild(&["revoke", "demo@1.1.0", "--reason", "libssl regression"]).success();
    let j = audit_json(&ws, &["demo@1.0.0", "demo@1.1.0", "demo@1.0.0"], 1);
    assert_eq!(j["targets"][0]["verdict"], "revoked");
    assert_eq!(j["targets"][0]["revoked"], "libssl regression");
    assert_eq!(j["targets"][1]["verdict"], "compliant");
}

#[test]
fn a_bad_target_is_exit_2_and_the_others_are_still_judged() {
    let ws = Workspace::new();
    audited(&ws);
    ws.write("bad.mtree", ". type=dir\n./x type=file frobnicate=1\n");
    let run = ws.gild(&["audit", "demo", "demo@1.1.0", "bad.mtree"]);
    run.exit(2).stderr_has("bad.mtree:2: unknown keyword `frobnicate`").stdout_has("demo@1.1.0  1.1.0       compliant");
}

#[test]
fn a_host_of_another_image_is_not_compliant() {
    let ws = Workspace::new();
    audited(&ws);
    ws.recipe("web").version("2.0.0").build();
    let j = audit_json(&ws, &["demo", "web"], 1);
    assert_eq!(j["targets"][0]["verdict"], "other-image");
    assert_eq!(j["targets"][0]["image"], "web");
}

#[test]
fn a_bad_ignore_glob_in_the_recipe_names_its_line() {
    let ws = Workspace::new();
    audited(&ws);
    ws.edit("recipes/demo.toml", |t| t.replace("\"etc/machine-id\"", "\"etc/[machine-id\""));
    let line = nth_line_of(&ws.read_string("recipes/demo.toml"), "etc/[machine-id", 1);
    ws.gild(&["audit", "demo", "demo"])
        .exit(2)
        .stderr_has(&format!("recipes/demo.toml:{line}:"))
        .stderr_has("`[audit] ignore` glob `etc/[machine-id`");
}

#[test]
fn a_host_report_can_come_through_a_pipe() {
    let ws = Workspace::new();
    audited(&ws);
    let report = ws.read("baselines/demo/1.1.0/files.mtree");
    let out = ws.command(&["audit", "demo", "/dev/stdin"]).write_stdin(report).output().unwrap();
    let run = Run::new(&["audit", "demo", "/dev/stdin"], out);
    run.success().stdout_has("/dev/stdin  1.1.0       compliant");
    let image = ws.read(ws.image_path("demo", "1.1.0", "tar.zst"));
    let out = ws.command(&["diff", "demo", "/dev/stdin"]).write_stdin(image).output().unwrap();
    Run::new(&["diff", "demo", "/dev/stdin"], out).success();
}

#[test]
fn an_empty_report_is_refused_not_read_as_an_empty_host() {
    let ws = Workspace::new();
    audited(&ws);
    ws.write("empty.mtree", "");
    ws.gild(&["audit", "demo", "empty.mtree"]).exit(2).stderr_has("empty.mtree:1: no entries");
}

/// Two baselines whose files.mtree lines are identical for a path but whose records give it
/// different extended attributes: the diff still reports it (the line merge must not skip it).
#[test]
fn diff_of_baselines_reports_an_xattr_change_on_an_otherwise_identical_line() {
    let ws = Workspace::new();
    let base = || crate::harness::base_layer().file_meta("./usr/bin/ping", b"ping\n", 0o755, 0, 0);
    ws.recipe("plain").base(base()).build();
    let patch =
        Layer::new().file_xattrs("./usr/bin/ping", b"ping\n", 0o755, &[("security.capability", b"\x01\x00\x00\x02")]);
    ws.recipe("caps").base(base()).patch("P-CAP", patch).build();
    let run = ws.gild(&["diff", "plain", "caps"]);
    run.exit(1).stdout_has("usr/bin/ping");
    let same = ws.gild(&["diff", "plain", "plain"]);
    same.exit(0);
}

/// A host whose `/usr` is a filesystem of its own: a scan or audit of the directory stays on
/// one filesystem (so `usr` is listed, its files are not, and the host is not compliant) until
/// told `--cross-mounts`.
#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_root, gild_no_tmpfs), ignore = "needs bsdtar, root and a tmpfs")]
fn scan_and_audit_stay_on_one_filesystem_unless_told_to_cross_mounts() {
    require(&[Need::Tool("bsdtar"), Need::Root]);
    let ws = Workspace::new();
    audited(&ws);
    let host = tempfile::Builder::new().prefix("gild-host-").tempdir().unwrap();
    std::fs::create_dir(host.path().join("usr")).unwrap();
    let _usr = Mount::tmpfs(&host.path().join("usr"), "4m");
    let image = ws.image_path("demo", "1.1.0", "tar.zst");
    stock(Command::new("bsdtar").arg("-xpf").arg(&image).arg("-C").arg(host.path()));
    let dir = host.path().to_str().unwrap();

    ws.gild(&["scan", dir, "-o", "one.mtree"]).success();
    let one = Mtree::parse(&ws.read("one.mtree"));
    assert!(one.get("usr").is_some() && one.get("usr/bin/ssh-keysign").is_none(), "the scan went below /usr");
    ws.gild(&["scan", dir, "--cross-mounts", "-o", "all.mtree"]).success();
    assert!(Mtree::parse(&ws.read("all.mtree")).get("usr/bin/ssh-keysign").is_some(), "--cross-mounts left out /usr");

    let j = audit_json(&ws, &["demo", dir], 1);
    assert_eq!(j["compliant"], false);
    let j = audit_json(&ws, &["demo", dir, "--cross-mounts"], 0);
    assert_eq!(j["targets"][0]["verdict"], "compliant", "{j}");
}

/// Issue 13: `mtree -c` and bsdtar leave `device` out by default; a report without it is not
/// incomplete for that. Device numbers still count where both sides record them.
#[test]
fn audit_compares_device_numbers_only_where_both_sides_have_them() {
    let ws = Workspace::new();
    ws.recipe("demo").base(base_layer().dir("dev").char_dev("dev/null", 1, 3)).build();
    ws.gild(&["scan", "demo", "-o", "host.mtree"]).success();
    let spec = ws.read_string("host.mtree");
    assert!(spec.contains(" device=native,1,3"), "{spec}");
    ws.write("host.mtree", spec.replace(" device=native,1,3", ""));
    let j = audit_json(&ws, &["demo", "host.mtree"], 0);
    assert_eq!(j["targets"][0]["verdict"], "compliant", "{j}");
    ws.write("other.mtree", spec.replace(" device=native,1,3", " device=native,1,5"));
    let j = audit_json(&ws, &["demo", "other.mtree"], 1);
    assert_eq!(j["targets"][0]["verdict"], "drifted", "{j}");
}
