//! docs/interop.md: stock tools (bsdtar, NetBSD mtree) read what gild writes.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

fn rich_patch() -> Layer {
    Layer::new()
        .dir("./lib")
        .file("./lib/x86_64-linux-gnu/liblzma.so.5", b"lzma\n")
        .file_meta("./usr/bin/su", b"su\n", 0o4755, 0, 0)
        .file_meta("./usr/bin/gzip", b"gzip\n", 0o755, 0, 0)
        .hardlink("./usr/bin/gunzip", "./usr/bin/gzip")
        .dir_meta("./srv", 0o750, 33, 33)
        .file_meta("./srv/index.html", b"<html>\n", 0o640, 33, 33)
        .symlink("./srv/current", "index.html")
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Extracts the image with `bsdtar -xpf` and checks it with `mtree -e -f files.mtree -p DIR`.
fn netbsd_mtree_accepts_extracted_image(ws: &Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let image = ws.image_path("demo", "1.0.0", "tar.zst");
    let (ok, text) = run(Command::new("bsdtar").arg("-xpf").arg(&image).arg("-C").arg(dir.path()));
    assert!(ok, "bsdtar -xpf failed: {text}");
    let spec = ws.baseline_dir("demo", "1.0.0").join("files.mtree");
    let (ok, text) = run(Command::new("mtree").arg("-e").arg("-f").arg(&spec).arg("-p").arg(dir.path()));
    // NetBSD mtree exits 0 on missing files: its silence is the verdict, not its exit code.
    assert!(
        ok && text.trim().is_empty(),
        "mtree -e -f files.mtree failed:\n{text}\n--- spec ---\n{}",
        std::fs::read_to_string(&spec).unwrap()
    );
}

fn bsdtar_lists(spec: &Path) -> String {
    let (ok, text) = run(Command::new("bsdtar").arg("-tf").arg(spec));
    assert!(ok, "bsdtar -tf files.mtree failed: {text}");
    text
}

#[test]
#[cfg_attr(gild_no_bsdtar, ignore = "bsdtar not installed")]
fn bsdtar_reads_files_mtree() {
    require(&[Need::Tool("bsdtar")]);
    let ws = Workspace::new();
    ws.recipe("demo").patch("P-1", rich_patch()).build();
    let listing = bsdtar_lists(&ws.baseline_dir("demo", "1.0.0").join("files.mtree"));
    for p in ["usr/bin/su", "usr/lib/x86_64-linux-gnu/liblzma.so.5", "etc/gild/release", "srv/current"] {
        assert!(listing.lines().any(|l| l.trim_start_matches("./") == p), "{p} not listed:\n{listing}");
    }
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_mtree, gild_no_root), ignore = "needs bsdtar, NetBSD mtree and root")]
fn netbsd_mtree_accepts_the_image_extracted_by_bsdtar() {
    // Extracted with owners kept, which only root can do; mtree compares them.
    require(&[Need::Tool("bsdtar"), Need::Tool("mtree"), Need::Root]);
    let ws = Workspace::new();
    ws.recipe("demo").patch("P-1", rich_patch()).build();
    netbsd_mtree_accepts_extracted_image(&ws);
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_mtree, gild_no_root), ignore = "needs bsdtar, NetBSD mtree and root")]
fn odd_names_round_trip_through_files_mtree() {
    // Extracted with owners kept, which only root can do; mtree compares them.
    require(&[Need::Tool("bsdtar"), Need::Tool("mtree"), Need::Root]);
    let names: [&[u8]; 8] = [
        b"opt/with space",
        b"opt/hash#tag",
        b"opt/a=b",
        b"opt/back\\slash",
        b"opt/latin1-\xe9t\xe9",
        b"opt/star*q?[x]",
        b"opt/tab\there",
        b"opt/caf\xc3\xa9",
    ];
    let mut patch = Layer::new().dir("./opt");
    for n in names {
        let mut p = b"./".to_vec();
        p.extend_from_slice(n);
        patch = patch.file(&p, n);
    }
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", patch).build();
    let mtree = ws.mtree("demo", "1.0.0");
    for n in names {
        assert_eq!(image.data(n), n, "image entry {:?}", String::from_utf8_lossy(n));
        assert_eq!(mtree.entry(n)["sha256digest"], sha256_hex(n), "spec entry {:?}", String::from_utf8_lossy(n));
    }
    for line in mtree.text.lines().filter(|l| l.starts_with("./opt/")) {
        let path = line.split(' ').next().unwrap();
        assert!(
            !path.contains(['#', '=', '*', '?', '[']) && path.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "unescaped byte in {path:?}"
        );
    }
    let listing = bsdtar_lists(&ws.baseline_dir("demo", "1.0.0").join("files.mtree"));
    assert!(listing.contains("with space"), "{listing}");
    netbsd_mtree_accepts_extracted_image(&ws);
}

#[test]
#[cfg_attr(any(gild_no_bsdtar, gild_no_mtree, gild_no_mknod), ignore = "needs bsdtar, NetBSD mtree and device nodes")]
fn netbsd_mtree_accepts_device_nodes_and_fifos() {
    require(&[Need::Tool("bsdtar"), Need::Tool("mtree"), Need::DeviceNodes]);
    let ws = Workspace::new();
    ws.recipe("demo")
        .image_line("allow-devices = true")
        .patch("P-DEV", Layer::new().dir("./dev").char_dev("./dev/null", 1, 3).fifo("./dev/initctl"))
        .build();
    netbsd_mtree_accepts_extracted_image(&ws);
}
