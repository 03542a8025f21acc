//! `install.sh` and `RELEASE.md` (docs/baseline.md): the script brings a host extracted from the base
//! to exactly the image's tree, judged by NetBSD `mtree` against `files.mtree`, under `dash`
//! and `busybox sh`; it never writes outside ROOT and changes nothing before every artifact
//! checks out.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{base_layer, copy_from_repo, decompress, require, Layer, Need, Workspace};

/// Extracts a (compressed) base artifact into `root` with the tar crate: an extractor that is
/// not gild's.
fn extract(artifact: &Path, root: &Path) {
    let tar = decompress(&std::fs::read(artifact).unwrap());
    let mut archive = tar::Archive::new(&tar[..]);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_overwrite(true);
    archive.unpack(root).unwrap();
}

/// Runs `install.sh` under `shell` (e.g. `["dash"]`, `["busybox", "sh"]`).
fn install(shell: &[&str], script: &Path, root: &Path, artifacts: &Path) -> std::process::Output {
    Command::new(shell[0]).args(&shell[1..]).arg(script).env("ROOT", root).env("ARTIFACTS", artifacts).output().unwrap()
}

/// NetBSD mtree without `-e`: silent when the tree is exactly the spec (it exits 0 on missing
/// files, so its silence is the verdict).
fn mtree_clean(spec: &Path, root: &Path) -> Result<(), String> {
    let out = Command::new("mtree").arg("-f").arg(spec).arg("-p").arg(root).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() && text.trim().is_empty() {
        Ok(())
    } else {
        Err(text)
    }
}

/// Every path with its type, mode, owner, inode, mtime and bytes: what "changes nothing" means.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let content = if m.file_type().is_file() {
                crate::harness::sha256_hex(&std::fs::read(e.path()).unwrap())
            } else if m.file_type().is_symlink() {
                std::fs::read_link(e.path()).unwrap().display().to_string()
            } else {
                String::new()
            };
            out.insert(
                e.path().strip_prefix(root).unwrap().to_path_buf(),
                format!("{:o} {}:{} ino={} mtime={} {content}", m.mode(), m.uid(), m.gid(), m.ino(), m.mtime()),
            );
            if m.file_type().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// The demo workspace (recipe and fixtures from the repository) built in a temporary copy.
fn demo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    copy_from_repo(tmp.path(), &["recipes", "fixtures", "fixtures/keys", "fixtures/patches"]);
    let out = assert_cmd::Command::cargo_bin("gild")
        .unwrap()
        .current_dir(tmp.path())
        .args(["build", "recipes/demo.toml"])
        .env("GILD_CACHE", tmp.path().join(".cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "demo build: {}", String::from_utf8_lossy(&out.stderr));
    let baseline = tmp.path().join("baselines/demo/1.1.0");
    (tmp, baseline)
}

fn install_demo_under(shell: &[&str]) {
    let (ws, baseline) = demo();
    let root = ws.path().join("root");
    extract(&ws.path().join("fixtures/base.tar.zst"), &root);
    let script = baseline.join("install.sh");
    let artifacts = ws.path().join("fixtures/patches");

    let out = install(shell, &script, &root, &artifacts);
    assert!(out.status.success(), "install.sh under {shell:?}: {}", String::from_utf8_lossy(&out.stderr));
    mtree_clean(&baseline.join("files.mtree"), &root).unwrap_or_else(|e| panic!("tree differs from the image:\n{e}"));
    assert_eq!(std::fs::read(root.join("etc/gild/release")).unwrap(), b"name = \"demo\"\nversion = \"1.1.0\"\n");
    assert!(
        std::fs::symlink_metadata(root.join("lib")).unwrap().file_type().is_symlink(),
        "lib -> usr/lib stays a symlink"
    );

    let before = snapshot(&root);
    let again = install(shell, &script, &root, &artifacts);
    assert!(again.status.success(), "second run: {}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(snapshot(&root), before, "a second run changed the tree");
}

#[test]
#[cfg_attr(any(gild_no_dash, gild_no_mtree, gild_no_root), ignore = "needs dash, NetBSD mtree and root")]
fn install_sh_under_dash_gives_the_demo_image_tree_and_a_second_run_changes_nothing() {
    require(&[Need::Tool("dash"), Need::Tool("mtree"), Need::Root]);
    install_demo_under(&["dash"]);
}

#[test]
#[cfg_attr(any(gild_no_busybox, gild_no_mtree, gild_no_root), ignore = "needs busybox, NetBSD mtree and root")]
fn install_sh_under_busybox_gives_the_demo_image_tree_and_a_second_run_changes_nothing() {
    require(&[Need::Tool("busybox"), Need::Tool("mtree"), Need::Root]);
    install_demo_under(&["busybox", "sh"]);
}

#[test]
#[cfg_attr(gild_no_shellcheck, ignore = "shellcheck not installed")]
fn install_sh_passes_shellcheck() {
    require(&[Need::Tool("shellcheck")]);
    let (_ws, baseline) = demo();
    let out = Command::new("shellcheck").arg(baseline.join("install.sh")).output().unwrap();
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
#[cfg_attr(any(gild_no_dash, gild_no_root), ignore = "needs dash and root")]
fn tampered_or_missing_artifact_stops_install_sh_before_any_change() {
    require(&[Need::Tool("dash"), Need::Root]);
    let (ws, baseline) = demo();
    let root = ws.path().join("root");
    extract(&ws.path().join("fixtures/base.tar.zst"), &root);
    let artifacts = ws.path().join("fixtures/patches");
    let before = snapshot(&root);
    let record: toml::Value =
        toml::from_str(&std::fs::read_to_string(baseline.join("baseline.toml")).unwrap()).unwrap();
    let expected = record["patch"][2]["sha256"].as_str().unwrap().to_string();

    // The last patch is tampered with: the first two must not have been applied either.
    let last = artifacts.join("sshd-hardening.tar");
    let mut bytes = std::fs::read(&last).unwrap();
    bytes[600] ^= 1;
    std::fs::write(&last, &bytes).unwrap();
    let out = install(&["dash"], &baseline.join("install.sh"), &root, &artifacts);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sshd-hardening.tar") && err.contains(&expected),
        "names the file and the expected digest: {err}"
    );
    assert_eq!(snapshot(&root), before, "nothing changed");

    std::fs::remove_file(&last).unwrap();
    let out = install(&["dash"], &baseline.join("install.sh"), &root, &artifacts);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("missing artifact") && err.contains("sshd-hardening.tar") && err.contains(&expected), "{err}");
    assert_eq!(snapshot(&root), before, "nothing changed");
}

#[test]
#[cfg_attr(any(gild_no_dash, gild_no_root), ignore = "needs dash and root")]
fn install_sh_refuses_a_root_that_did_not_start_from_the_base() {
    require(&[Need::Tool("dash"), Need::Root]);
    let (ws, baseline) = demo();
    let root = ws.path().join("root");
    std::fs::create_dir_all(root.join("lib")).unwrap();
    let out = install(&["dash"], &baseline.join("install.sh"), &root, &ws.path().join("fixtures/patches"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not start from the base"));
}

/// A base whose `lib` is an absolute symlink to `/usr/lib`: the image resolved the patch's
/// `./lib/…` inside the image, and the script must write inside ROOT, not in the host's /usr.
#[test]
#[cfg_attr(any(gild_no_dash, gild_no_mtree, gild_no_root), ignore = "needs dash, NetBSD mtree and root")]
fn install_sh_never_writes_outside_root_through_an_absolute_lib_symlink() {
    require(&[Need::Tool("dash"), Need::Tool("mtree"), Need::Root]);
    let ws = Workspace::new();
    let unique = format!("libgild-it-{}.so.1", std::process::id());
    let base = Layer::new()
        .dir("./")
        .dir("./usr")
        .dir("./usr/lib")
        .dir("./usr/lib/x86_64-linux-gnu")
        .file("./usr/lib/x86_64-linux-gnu/libc.so.6", b"libc\n")
        .symlink("./lib", "/usr/lib")
        .dir("./etc");
    let patch = Layer::new()
        .dir("./lib")
        .dir("./lib/x86_64-linux-gnu")
        .file(format!("./lib/x86_64-linux-gnu/{unique}"), b"patched\n");
    ws.recipe("abs").base(base).patch("P-1", patch).build();
    let root = ws.path("root");
    extract(&ws.artifact("abs", "base"), &root);
    let baseline = ws.baseline_dir("abs", "1.0.0");

    let out = install(&["dash"], &baseline.join("install.sh"), &root, &ws.path("artifacts"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!Path::new("/usr/lib/x86_64-linux-gnu").join(&unique).exists(), "wrote into the host's /usr/lib");
    assert_eq!(std::fs::read(root.join("usr/lib/x86_64-linux-gnu").join(&unique)).unwrap(), b"patched\n");
    mtree_clean(&baseline.join("files.mtree"), &root).unwrap_or_else(|e| panic!("{e}"));
}

/// Whiteouts, opaque directories, hard links, symlinks, a file replacing a directory, a
/// directory replacing a file and a setuid file, replayed by the script as the image has them.
#[test]
#[cfg_attr(any(gild_no_dash, gild_no_mtree, gild_no_root), ignore = "needs dash, NetBSD mtree and root")]
fn install_sh_replays_whiteouts_links_and_replacements_as_the_image_has_them() {
    require(&[Need::Tool("dash"), Need::Tool("mtree"), Need::Root]);
    let ws = Workspace::new();
    let base = base_layer()
        .dir("./opt")
        .dir("./opt/old")
        .file("./opt/old/a", b"a\n")
        .file("./opt/old/b", b"b\n")
        .file("./opt/gone", b"gone\n")
        .dir("./opt/tree")
        .file("./opt/tree/leaf", b"leaf\n")
        .file("./opt/flat", b"flat\n");
    let patch1 = Layer::new()
        .whiteout("./opt/gone")
        .opaque("./opt/old")
        .file("./opt/old/new", b"new\n")
        .file("./opt/tree", b"now a file\n")
        .dir("./opt/flat")
        .file("./opt/flat/inside", b"inside\n")
        .symlink("./opt/link", "old/new")
        .hardlink("./opt/hard", "./opt/old/new")
        .file_meta("./usr/bin/su", b"su\n", 0o4755, 0, 0);
    let patch2 = Layer::new().file("./etc/hostname", b"patched\n").hardlink("./usr/bin/sh2", "./usr/bin/sh");
    ws.recipe("mix").base(base).patch("P-1", patch1).patch("P-2", patch2).build();
    let root = ws.path("root");
    extract(&ws.artifact("mix", "base"), &root);
    let baseline = ws.baseline_dir("mix", "1.0.0");
    let out = install(&["dash"], &baseline.join("install.sh"), &root, &ws.path("artifacts"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    mtree_clean(&baseline.join("files.mtree"), &root).unwrap_or_else(|e| panic!("{e}"));
    let ino = |p: &str| std::fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino("opt/hard"), ino("opt/old/new"), "hard link kept as a link");
    assert_eq!(ino("usr/bin/sh2"), ino("usr/bin/sh"), "link to a base file");
}

#[test]
fn release_md_lists_patches_cves_backout_and_deferrals_and_is_reproducible() {
    let (ws, baseline) = demo();
    let text = std::fs::read_to_string(baseline.join("RELEASE.md")).unwrap();
    for needle in [
        "# demo 1.1.0",
        "DEMO-2026-0001",
        "DEMO-2026-0002",
        "DEMO-2026-0003",
        "CVE-2026-99901",
        "CVE-2026-99917",
        "Backout: Rebuild without DEMO-2026-0001",
        "change CHG-1043 by a.khan",
        "DEMO-2026-0004",
        "Reason: The curl 8.11 update breaks",
        "ssl library present: pass",
        "demo-1.1.0.tar.zst",
    ] {
        assert!(text.contains(needle), "RELEASE.md lacks {needle:?}:\n{text}");
    }
    let (_ws2, baseline2) = demo();
    assert_eq!(std::fs::read(baseline2.join("RELEASE.md")).unwrap(), text.as_bytes(), "two builds, one RELEASE.md");
    drop(ws);
}

/// `tar -T` cannot list a member whose name holds a newline: the script stops before any
/// change instead of applying the patch half.
#[test]
#[cfg_attr(any(gild_no_dash, gild_no_root), ignore = "needs dash and root")]
fn install_sh_stops_before_any_change_on_a_member_name_with_a_newline() {
    require(&[Need::Tool("dash"), Need::Root]);
    let ws = Workspace::new();
    let patch = Layer::new().file("./etc/ok", b"ok\n").file("./etc/two\nlines", b"x\n");
    ws.recipe("nl").patch("P-NL", patch).build();
    let root = ws.path("root");
    extract(&ws.artifact("nl", "base"), &root);
    let before = snapshot(&root);
    let out = install(&["dash"], &ws.baseline_dir("nl", "1.0.0").join("install.sh"), &root, &ws.path("artifacts"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("P-NL"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(snapshot(&root), before, "nothing changed");
}

/// Issue 16: a directory of the host replaced by a symlink pointing outside ROOT, deep in the
/// tree, under which only the last patch writes. The script must refuse before the first
/// patch changes anything, not half-way: the host (every path, inode, mode and byte) and the
/// symlink's target are as they were.
#[test]
#[cfg_attr(any(gild_no_dash, gild_no_root), ignore = "needs dash and root")]
fn install_sh_refuses_a_planted_symlink_before_changing_anything() {
    require(&[Need::Tool("dash"), Need::Root]);
    let ws = Workspace::new();
    let base = base_layer()
        .dir("./usr/share")
        .dir("./usr/share/zoneinfo")
        .dir("./usr/share/zoneinfo/right")
        .file("./usr/share/zoneinfo/right/UTC", b"old utc\n")
        .file("./etc/motd", b"old motd\n");
    let first = Layer::new().file("./etc/motd", b"new motd\n").file("./usr/bin/tool", b"tool\n");
    let last = Layer::new().file("./usr/share/zoneinfo/right/UTC", b"new utc\n");
    ws.recipe("tz").base(base).patch("P-1", first).patch("P-2", last).build();
    let root = ws.path("root");
    extract(&ws.artifact("tz", "base"), &root);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("UTC"), b"outside\n").unwrap();
    let right = root.join("usr/share/zoneinfo/right");
    std::fs::remove_dir_all(&right).unwrap();
    std::os::unix::fs::symlink(outside.path(), &right).unwrap();
    let (before, outside_before) = (snapshot(&root), snapshot(outside.path()));

    let out = install(&["dash"], &ws.baseline_dir("tz", "1.0.0").join("install.sh"), &root, &ws.path("artifacts"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("usr/share/zoneinfo/right` is a symlink") && err.contains("nothing was changed"), "{err}");
    assert_eq!(snapshot(&root), before, "the host changed before the refusal");
    assert_eq!(snapshot(outside.path()), outside_before, "written outside ROOT");
}
