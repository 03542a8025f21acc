//! `gild build`: what it writes, where, and what it reports.

use crate::harness::*;

#[test]
fn build_writes_zst_image_and_baseline_files() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).success().stdout_has("built demo 1.0.0");
    assert!(ws.exists("out/demo-1.0.0.tar.zst"));
    assert!(!ws.exists("out/demo-1.0.0.tar.gz"), "only the default format is written");
    assert!(!ws.exists("out/demo-1.0.0.tar"), "only the default format is written");
    assert!(ws.exists("baselines/demo/1.0.0/files.mtree"));
    assert!(ws.exists("baselines/demo/1.0.0/baseline.toml"));
    assert_eq!(ws.image("demo", "1.0.0").data("etc/hostname"), b"golden\n");
}

#[test]
fn build_json_reports_status_tree_entries_and_images() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let j = ws.gild(&["--json", "build", &recipe]).success().json();
    assert_eq!(j["command"], "build");
    assert_eq!(j["status"], "built");
    assert_eq!(j["name"], "demo");
    assert_eq!(j["version"], "1.0.0");
    assert!(j["parent"].is_null(), "first build has no parent: {j}");
    assert_eq!(j["tree"], sha256_hex(&ws.read("baselines/demo/1.0.0/files.mtree")));
    let image = ws.image("demo", "1.0.0");
    assert_eq!(j["entries"], image.entries.len());
    assert_eq!(j["entries"], ws.mtree("demo", "1.0.0").entries.len());
    let bytes = ws.read("out/demo-1.0.0.tar.zst");
    let images = j["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{j}");
    assert_eq!(images[0]["file"], "demo-1.0.0.tar.zst");
    assert_eq!(images[0]["size"], bytes.len());
    assert_eq!(images[0]["sha256"], sha256_hex(&bytes));
    assert_eq!(j["baseline"], "baselines/demo/1.0.0");
    assert!(j["notable"].as_array().is_some_and(|n| n.is_empty()), "nothing notable: {j}");
    assert!(j["warnings"].is_array(), "{j}");
}

#[test]
fn all_requested_formats_are_written_and_hold_the_same_tar() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").formats(&["tar.zst", "tar.gz", "tar"]).write();
    ws.gild(&["build", &recipe]).success();
    let tar = ws.read("out/demo-1.0.0.tar");
    let gz = ws.read("out/demo-1.0.0.tar.gz");
    let zst = ws.read("out/demo-1.0.0.tar.zst");
    assert!(gz.starts_with(&[0x1f, 0x8b]), "tar.gz is gzip");
    assert!(zst.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "tar.zst is zstd");
    assert_eq!(&tar[257..263], b"ustar\0", "plain tar is a tar");
    assert!(decompress(&gz) == tar, "tar.gz holds other bytes than .tar");
    assert!(decompress(&zst) == tar, "tar.zst holds other bytes than .tar");

    let baseline = ws.baseline("demo", "1.0.0");
    let mut recorded: Vec<(String, i64, String)> = tv(&baseline, &["image"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["file"].as_str().unwrap().to_string(),
                i["size"].as_integer().unwrap(),
                i["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    recorded.sort();
    let mut expected: Vec<(String, i64, String)> = [("tar", &tar), ("tar.gz", &gz), ("tar.zst", &zst)]
        .iter()
        .map(|(ext, b)| (format!("demo-1.0.0.{ext}"), b.len() as i64, sha256_hex(b)))
        .collect();
    expected.sort();
    assert_eq!(recorded, expected);
}

#[test]
fn image_is_sorted_ustar_with_dot_names_numeric_ids_and_clamped_mtimes() {
    let ws = Workspace::new();
    let image =
        ws.recipe("demo").patch("P-1", Layer::new().file_meta("./usr/bin/tool", b"x", 0o755, 1000, 1000)).build();
    assert_eq!(image.entries[0].raw_path, b"./", "the root comes first as `./`");
    assert_eq!(&image.tar[257..263], b"ustar\0");
    let raw: Vec<&[u8]> = image.entries.iter().map(|e| &e.raw_path[..]).collect();
    let mut sorted = raw.clone();
    sorted.sort();
    assert_eq!(raw, sorted, "entries are sorted by path bytes:\n{}", image.listing());
    for e in &image.entries {
        let p = String::from_utf8_lossy(&e.raw_path);
        assert!(p.starts_with("./"), "{p} lacks the ./ prefix");
        assert_eq!(e.kind == Kind::Dir, p.ends_with('/'), "{p}: directories and only they end in /");
        assert!(e.uname.is_empty() && e.gname.is_empty(), "{p} carries user/group names");
        assert_eq!(e.mtime, EPOCH, "{p}: mtime not clamped to the epoch");
        for (k, _) in &e.pax {
            assert!(k != "atime" && k != "ctime", "{p} carries {k}");
        }
    }
    let tool = image.entry("usr/bin/tool");
    assert_eq!((tool.uid, tool.gid), (1000, 1000));
}

#[test]
fn files_mtree_starts_with_header_and_root_and_lists_every_image_entry() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").build();
    let mtree = ws.mtree("demo", "1.0.0");
    let mut lines = mtree.text.lines();
    assert_eq!(lines.next(), Some("#mtree v2.0"));
    assert!(lines.next().unwrap().starts_with(". type=dir"), "root line second:\n{}", mtree.text);

    let spec: Vec<Vec<u8>> = mtree.entries.iter().map(|(p, _)| normalize(p)).collect();
    let mut sorted = spec.clone();
    sorted.sort();
    assert_eq!(spec, sorted, "files.mtree is sorted by path bytes");
    let mut in_image: Vec<Vec<u8>> = image.entries.iter().map(|e| normalize(&e.raw_path)).collect();
    in_image.sort();
    assert_eq!(sorted, in_image, "files.mtree and the image list the same paths");

    let sh = mtree.entry("usr/bin/sh");
    assert_eq!(sh["type"], "file");
    assert_eq!(sh["mode"], "0755");
    assert_eq!((sh["uid"].as_str(), sh["gid"].as_str()), ("0", "0"));
    assert_eq!(sh["size"], "8");
    assert_eq!(sh["sha256digest"], sha256_hex(b"#!shell\n"));
    let lib = mtree.entry("lib");
    assert_eq!(lib["type"], "link");
    assert_eq!(lib["link"], "usr/lib");
    assert!(!lib.contains_key("mode"), "links carry no mode");
    assert_eq!(mtree.entry("tmp")["mode"], "01777");
    assert_eq!(mtree.entry("usr")["type"], "dir");
}

#[test]
fn recipe_may_be_a_bare_name_found_from_a_subdirectory_or_given_with_dash_c() {
    let ws = Workspace::new();
    ws.recipe("demo").write();
    let mut cmd = ws.command(&["build", "demo"]);
    cmd.current_dir(ws.path("artifacts"));
    Run::new(&["build", "demo"], cmd.output().unwrap()).success();
    assert!(ws.exists("baselines/demo/1.0.0/files.mtree"));

    let root = ws.root.to_str().unwrap().to_string();
    let args = ["-C", &root, "build", "demo", "--version", "1.0.1"];
    let mut cmd = ws.command(&args);
    cmd.current_dir("/");
    Run::new(&args, cmd.output().unwrap()).success();
    assert!(ws.exists("baselines/demo/1.0.1/files.mtree"));
    assert!(ws.exists("out/demo-1.0.1.tar.zst"));
}

#[test]
fn out_flag_puts_images_elsewhere() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = elsewhere.path().to_str().unwrap();
    ws.gild(&["build", &recipe, "--out", dir]).success();
    assert!(elsewhere.path().join("demo-1.0.0.tar.zst").is_file());
    assert!(!ws.exists("out/demo-1.0.0.tar.zst"));
    assert!(ws.exists("baselines/demo/1.0.0/baseline.toml"));
}

#[test]
fn version_flag_replaces_the_recipe_version_and_is_recorded() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe, "--version", "2.0.0"]).success().stdout_has("built demo 2.0.0");
    assert!(!ws.exists("baselines/demo/1.0.0"));
    assert_eq!(tv(&ws.baseline("demo", "2.0.0"), &["version"]).as_str(), Some("2.0.0"));
    let release = ws.image("demo", "2.0.0").data("etc/gild/release").to_vec();
    let release: toml::Value = toml::from_str(std::str::from_utf8(&release).unwrap()).unwrap();
    assert_eq!(release["version"].as_str(), Some("2.0.0"));
}

#[test]
fn baseline_toml_records_inputs_signers_and_what_each_patch_did() {
    let ws = Workspace::new();
    let patch = Layer::new()
        .dir("./opt")
        .file("./opt/new", b"new\n")
        .file("./etc/hostname", b"patched\n")
        .whiteout("./etc/passwd");
    let recipe = ws
        .recipe("demo")
        .base(base_layer())
        .sig_with_comment("vendor", "debian 12 minbase")
        .patch("P-1", patch)
        .line("backout = \"rebuild without P-1\"")
        .write();
    ws.gild(&["build", &recipe]).success();
    let b = ws.baseline("demo", "1.0.0");
    assert!(tv(&b, &["gild"]).is_str());
    assert_eq!(tv(&b, &["name"]).as_str(), Some("demo"));
    assert_eq!(tv(&b, &["version"]).as_str(), Some("1.0.0"));
    assert!(b.get("parent").is_none(), "first build has no parent");
    assert_eq!(tv(&b, &["epoch"]).as_integer(), Some(EPOCH as i64));
    assert_eq!(tv(&b, &["tree"]).as_str().unwrap(), sha256_hex(&ws.read("baselines/demo/1.0.0/files.mtree")));
    assert_eq!(tv(&b, &["recipe"]).as_str().unwrap(), sha256_hex(&ws.read(&recipe)));
    assert_eq!(tv(&b, &["entries"]).as_integer(), Some(ws.mtree("demo", "1.0.0").entries.len() as i64));

    let base_bytes = std::fs::read(ws.artifact("demo", "base")).unwrap();
    assert_eq!(tv(&b, &["base", "artifact"]).as_str(), Some("../artifacts/demo-base.tar"));
    assert_eq!(tv(&b, &["base", "sha256"]).as_str().unwrap(), sha256_hex(&base_bytes));
    let sig = &tv(&b, &["base", "signature"]).as_array().unwrap()[0];
    assert_eq!(sig["key"].as_str(), Some("vendor"));
    assert!(sig["key-id"].as_str().unwrap().eq_ignore_ascii_case(&ws.key("vendor").key_id()));
    assert_eq!(sig["trusted-comment"].as_str(), Some("debian 12 minbase"));

    let p = &tv(&b, &["patch"]).as_array().unwrap()[0];
    assert_eq!(p["id"].as_str(), Some("P-1"));
    assert_eq!(p["severity"].as_str(), Some("high"));
    assert_eq!(p["fixes"].as_array().unwrap()[0].as_str(), Some("CVE-2026-0001"));
    assert_eq!(p["approval"]["change"].as_str(), Some("CHG-1"));
    assert_eq!(p["backout"].as_str(), Some("rebuild without P-1"));
    assert_eq!(p["signature"][0]["trusted-comment"].as_str(), Some("P-1 signed by vendor"));
    let list = |k: &str| -> Vec<&str> {
        let mut v: Vec<&str> = p[k].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(list("added"), ["./opt", "./opt/new"]);
    assert_eq!(list("changed"), ["./etc/hostname"]);
    assert_eq!(list("removed"), ["./etc/passwd"]);
}

#[test]
fn second_version_records_its_parent() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).success();
    ws.recipe("demo").version("1.1.0").patch("P-1", Layer::new().file("./etc/motd", b"hi\n")).write();
    let j = ws.gild(&["--json", "build", &recipe]).success().json();
    assert_eq!(j["parent"], "1.0.0");
    assert_eq!(tv(&ws.baseline("demo", "1.1.0"), &["parent"]).as_str(), Some("1.0.0"));
}

#[test]
fn build_appends_a_build_event_to_the_journal() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).success();
    let journal = ws.read_string("baselines/demo/journal.jsonl");
    let lines: Vec<&str> = journal.lines().collect();
    assert_eq!(lines.len(), 1, "{journal}");
    let ev: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(ev["seq"], 1);
    assert_eq!(ev["event"], "build");
    assert_eq!(ev["prev"], "0".repeat(64));
    assert_eq!(ev["actor"], "tester");
}

#[test]
fn baseline_records_the_journal_head_it_follows() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).success();
    let first_line = ws.read_string("baselines/demo/journal.jsonl");
    ws.gild(&["build", &recipe, "--version", "1.1.0"]).success();
    let head = tv(&ws.baseline("demo", "1.1.0"), &["journal"]).clone();
    assert_eq!(head["seq"].as_integer(), Some(1), "{head}");
    // docs/README.md: a line's hash is the sha256 of its bytes without the newline (what `prev` of
    // the next line holds), and the head recorded is that of the last line.
    let line = first_line.strip_suffix('\n').expect("a journal line ends with a newline");
    assert!(!line.contains('\n'), "one line: {first_line:?}");
    assert_eq!(head["hash"].as_str(), Some(sha256_hex(line.as_bytes()).as_str()), "not the sha256 of the line's bytes");
    let second: serde_json::Value =
        serde_json::from_str(ws.read_string("baselines/demo/journal.jsonl").lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["prev"].as_str(), head["hash"].as_str(), "the head is what the next line chains to");
}

/// The contract lists `[journal] seq, hash` without "absent for the first" (as it says for
/// `parent` and `epoch`): the first baseline records the empty journal's head.
#[test]
fn first_baseline_records_the_empty_journal_head() {
    let ws = Workspace::new();
    ws.recipe("demo").build();
    let head = tv(&ws.baseline("demo", "1.0.0"), &["journal"]).clone();
    assert_eq!(head["seq"].as_integer(), Some(0), "{head}");
    assert_eq!(head["hash"].as_str(), Some(&"0".repeat(64)[..]), "{head}");
}

#[test]
fn source_date_epoch_clamps_mtimes_when_the_recipe_has_no_epoch() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").epoch(None).write();
    let mut cmd = ws.command(&["build", &recipe]);
    cmd.env("SOURCE_DATE_EPOCH", "1700000000");
    Run::new(&["build", &recipe], cmd.output().unwrap()).success();
    let image = ws.image("demo", "1.0.0");
    assert!(image.entries.iter().all(|e| e.mtime <= 1_700_000_000), "{}", image.listing());
    assert_eq!(image.entry("etc/hostname").mtime, 1_700_000_000);
    assert_eq!(tv(&ws.baseline("demo", "1.0.0"), &["epoch"]).as_integer(), Some(1_700_000_000));
}

#[test]
fn without_any_epoch_layer_mtimes_are_kept() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").epoch(None).build();
    assert_eq!(image.entry("etc/hostname").mtime, LAYER_MTIME);
    assert!(ws.baseline("demo", "1.0.0").get("epoch").is_none(), "no epoch recorded when there is none");
}

/// gild deletes only what it can prove it wrote (docs/baseline.md): files in `out/` named like its
/// images or temporaries, and a staged-looking directory in the records, that no claim of a
/// killed build lists are reported and left in place.
#[test]
fn files_gild_cannot_account_for_are_reported_and_kept() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let mine = [
        ("out/.gild-tmp-demo@1.0.0.tar.zst", &b"half an image?"[..]),
        ("out/demo-0.9.0.tar.zst", b"an image no baseline records"),
        ("out/demo-1.0.0.tar.gz", b"a format the recipe does not build"),
        ("baselines/demo/.gild-tmp-killed/files.mtree", b"#mtree v2.0\n"),
    ];
    for (path, bytes) in mine {
        ws.write(path, bytes);
    }
    let run = ws.gild(&["build", &recipe]);
    run.success()
        .stderr_has("out/.gild-tmp-demo@1.0.0.tar.zst` looks like a temporary image")
        .stderr_has("out/demo-0.9.0.tar.zst` is named like an image of `demo` but no baseline records it")
        .stderr_has("out/demo-1.0.0.tar.gz` is named like an image")
        .stderr_has("baselines/demo/.gild-tmp-killed` looks like a staged baseline");
    for (path, bytes) in mine {
        assert_eq!(ws.read(path), bytes, "{path} was changed or removed");
    }
    assert!(ws.exists("out/demo-1.0.0.tar.zst"));
    assert!(!run.stderr.contains("demo-1.0.0.tar.zst`"), "the recorded image is accounted for: {}", run.stderr);
}

/// A file at the very name of the image being built, which gild did not write, is never
/// replaced: the build stops before its commit point and the file keeps its bytes. Once it is
/// moved away the build goes through; an identical file would have been kept as it is.
#[test]
fn an_image_name_taken_by_another_file_stops_the_build_and_the_file_survives() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.write("out/demo-1.0.0.tar.zst", b"somebody else's file");
    ws.gild(&["build", &recipe])
        .exit(2)
        .stderr_has("out/demo-1.0.0.tar.zst` already exists and holds other bytes")
        .stderr_has("move it away");
    assert_eq!(ws.read("out/demo-1.0.0.tar.zst"), b"somebody else's file");
    assert!(!ws.exists("baselines/demo/1.0.0"), "nothing recorded");
    std::fs::rename(ws.path("out/demo-1.0.0.tar.zst"), ws.path("elsewhere")).unwrap();
    ws.gild(&["build", &recipe]).success();
    let built = ws.read("out/demo-1.0.0.tar.zst");
    std::fs::remove_dir_all(ws.path("baselines/demo/1.0.0")).unwrap();
    let inode = |p: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(ws.path(p)).unwrap());
    let before = inode("out/demo-1.0.0.tar.zst");
    ws.gild(&["build", &recipe]).success();
    assert_eq!(ws.read("out/demo-1.0.0.tar.zst"), built);
    assert_eq!(inode("out/demo-1.0.0.tar.zst"), before, "an identical file is kept, not replaced");
}

#[test]
fn human_output_lists_patches_and_notable_files() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file_meta("./usr/bin/su", b"su\n", 0o4755, 0, 0)).write();
    ws.gild(&["build", &recipe]).success().stdout_has("built demo 1.0.0").stdout_has("P-1").output_has("./usr/bin/su");
}

#[test]
fn images_and_baselines_are_readable_by_everyone() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    ws.recipe("demo").build();
    let mode = |p: &str| std::fs::metadata(ws.path(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("out/demo-1.0.0.tar.zst"), 0o644);
    assert_eq!(mode("baselines/demo/1.0.0"), 0o755);
}
