//! docs/layers.md: how layers combine, and what a hostile layer cannot do.

use crate::harness::*;

fn no_whiteouts_in(image: &Image) {
    for p in image.paths() {
        assert!(!p.contains(".wh."), "whiteout entry {p} in the image");
    }
}

#[test]
fn later_layer_entry_replaces_earlier_one() {
    let ws = Workspace::new();
    let image =
        ws.recipe("demo").patch("P-1", Layer::new().file_meta("./etc/hostname", b"patched\n", 0o600, 1, 2)).build();
    let e = image.entry("etc/hostname");
    assert_eq!(e.data, b"patched\n");
    assert_eq!((e.mode & 0o7777, e.uid, e.gid), (0o600, 1, 2));
}

#[test]
fn later_entry_in_the_same_layer_wins() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("./etc/motd", b"first\n").file("./etc/motd", b"second\n"))
        .build();
    assert_eq!(image.data("etc/motd"), b"second\n");
}

#[test]
fn directory_entry_updates_metadata_and_keeps_children() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().dir_meta("./usr/lib", 0o700, 5, 6)).build();
    let dir = image.entry("usr/lib");
    assert_eq!((dir.kind, dir.mode & 0o7777, dir.uid, dir.gid), (Kind::Dir, 0o700, 5, 6));
    assert_eq!(image.data("usr/lib/x86_64-linux-gnu/libc.so.6"), b"libc\n");
}

#[test]
fn file_replacing_directory_drops_its_subtree() {
    let ws = Workspace::new();
    let image =
        ws.recipe("demo").patch("P-1", Layer::new().file("./usr/lib/x86_64-linux-gnu", b"now a file\n")).build();
    assert_eq!(image.entry("usr/lib/x86_64-linux-gnu").kind, Kind::File);
    assert!(!image.has("usr/lib/x86_64-linux-gnu/libc.so.6"), "{}", image.listing());
    assert!(!ws.mtree("demo", "1.0.0").has("usr/lib/x86_64-linux-gnu/libc.so.6"));
}

#[test]
fn whiteout_removes_lower_path_and_its_subtree() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().whiteout("./usr/lib/x86_64-linux-gnu")).build();
    assert!(!image.has("usr/lib/x86_64-linux-gnu"), "{}", image.listing());
    assert!(!image.has("usr/lib/x86_64-linux-gnu/libc.so.6"));
    assert!(image.has("usr/lib"));
    no_whiteouts_in(&image);
}

#[test]
fn whiteout_acts_on_lower_layers_only_even_after_the_new_entry() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("./etc/hostname", b"new\n").whiteout("./etc/hostname"))
        .build();
    assert_eq!(image.data("etc/hostname"), b"new\n");
    no_whiteouts_in(&image);
}

#[test]
fn opaque_marker_hides_lower_children_wherever_it_stands_in_the_tar() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().file("./etc/new.conf", b"n\n").opaque("./etc")).build();
    assert!(!image.has("etc/hostname"), "{}", image.listing());
    assert!(!image.has("etc/passwd"));
    assert_eq!(image.data("etc/new.conf"), b"n\n");
    assert_eq!(image.entry("etc").kind, Kind::Dir);
    no_whiteouts_in(&image);
}

#[test]
fn whiteout_of_an_absent_path_is_accepted() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().whiteout("./etc/never-was")).build();
    assert!(image.has("etc/hostname"));
    no_whiteouts_in(&image);
}

#[test]
fn patch_under_usr_merged_lib_lands_in_usr_lib() {
    let ws = Workspace::new();
    let patch = Layer::new()
        .dir("./lib")
        .dir("./lib/x86_64-linux-gnu")
        .file("./lib/x86_64-linux-gnu/liblzma.so.5.4.1", b"lzma\n")
        .symlink("./lib/x86_64-linux-gnu/liblzma.so.5", "liblzma.so.5.4.1");
    let image = ws.recipe("demo").patch("P-1", patch).build();
    let lib = image.entry("lib");
    assert_eq!(lib.kind, Kind::Symlink, "lib stays a symlink:\n{}", image.listing());
    assert_eq!(lib.link.as_deref(), Some(&b"usr/lib"[..]));
    assert_eq!(image.data("usr/lib/x86_64-linux-gnu/liblzma.so.5.4.1"), b"lzma\n");
    assert_eq!(image.entry("usr/lib/x86_64-linux-gnu/liblzma.so.5").kind, Kind::Symlink);
    assert_eq!(image.data("usr/lib/x86_64-linux-gnu/libc.so.6"), b"libc\n");
    assert!(image.paths().iter().all(|p| !p.starts_with("lib/")), "{}", image.listing());
}

#[test]
fn absolute_symlink_in_a_parent_is_taken_from_the_image_root() {
    let ws = Workspace::new();
    let base = base_layer().dir("./usr/sbin").symlink("./sbin", "/usr/sbin");
    let image = ws.recipe("demo").base(base).patch("P-1", Layer::new().file("./sbin/init", b"init\n")).build();
    assert_eq!(image.data("usr/sbin/init"), b"init\n");
    assert_eq!(image.entry("sbin").kind, Kind::Symlink);
    assert!(!image.has("sbin/init"));
}

#[test]
fn directory_entry_over_symlink_keeps_the_symlink() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().dir_meta("./bin", 0o755, 0, 0)).build();
    let bin = image.entry("bin");
    assert_eq!(bin.kind, Kind::Symlink);
    assert_eq!(bin.link.as_deref(), Some(&b"usr/bin"[..]));
    assert!(image.has("usr/bin/sh"));
}

#[test]
fn missing_parents_are_created_0755_root_owned_at_the_epoch() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().file("./opt/vendor/bin/tool", b"t\n")).build();
    for dir in ["opt", "opt/vendor", "opt/vendor/bin"] {
        let e = image.entry(dir);
        assert_eq!((e.kind, e.mode & 0o7777, e.uid, e.gid, e.mtime), (Kind::Dir, 0o755, 0, 0, EPOCH), "{dir}");
    }
    assert_eq!(image.data("opt/vendor/bin/tool"), b"t\n");
}

#[test]
fn leading_slash_and_dot_slash_are_dropped() {
    let ws = Workspace::new();
    let image =
        ws.recipe("demo").patch("P-1", Layer::new().file("/etc/motd", b"a\n").file("etc/issue", b"b\n")).build();
    assert_eq!(image.data("etc/motd"), b"a\n");
    assert_eq!(image.data("etc/issue"), b"b\n");
}

#[test]
fn hard_link_group_has_one_data_entry_first_in_byte_order() {
    let ws = Workspace::new();
    let patch = Layer::new()
        .file_meta("./usr/bin/gzip", b"gzip binary\n", 0o755, 0, 0)
        .hardlink("./usr/bin/gunzip", "./usr/bin/gzip")
        .hardlink("./usr/bin/zcat", "./usr/bin/gzip");
    let image = ws.recipe("demo").patch("P-1", patch).build();
    let first = image.entry("usr/bin/gunzip");
    assert_eq!((first.kind, &first.data[..]), (Kind::File, &b"gzip binary\n"[..]), "{}", image.listing());
    for other in ["usr/bin/gzip", "usr/bin/zcat"] {
        let e = image.entry(other);
        assert_eq!(e.kind, Kind::Hardlink, "{other}:\n{}", image.listing());
        assert_eq!(normalize(e.link.as_deref().unwrap()), b"usr/bin/gunzip");
    }
    let mtree = ws.mtree("demo", "1.0.0");
    for p in ["usr/bin/gunzip", "usr/bin/gzip", "usr/bin/zcat"] {
        let kw = mtree.entry(p);
        assert_eq!(kw["type"], "file", "{p}");
        assert_eq!(kw["sha256digest"], sha256_hex(b"gzip binary\n"), "{p}");
    }
}

#[test]
fn replacing_one_hard_link_member_leaves_the_others() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("./usr/bin/gzip", b"old\n").hardlink("./usr/bin/zcat", "./usr/bin/gzip"))
        .patch("P-2", Layer::new().file("./usr/bin/gzip", b"new\n"))
        .build();
    assert_eq!(image.data("usr/bin/gzip"), b"new\n");
    assert_eq!(image.data("usr/bin/zcat"), b"old\n");
    assert_eq!(image.entry("usr/bin/zcat").kind, Kind::File);
}

#[test]
fn setuid_capabilities_and_xattrs_are_kept_and_reported() {
    let ws = Workspace::new();
    let cap: &[u8] = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    let patch = Layer::new()
        .file_meta("./usr/bin/su", b"su\n", 0o4755, 0, 0)
        .file_xattrs("./usr/bin/ping", b"ping\n", 0o755, &[("security.capability", cap)])
        .file_xattrs("./etc/labelled", b"l\n", 0o644, &[("user.origin", b"vendor")]);
    let recipe = ws.recipe("demo").patch("P-1", patch).write();
    let j = ws.gild(&["--json", "build", &recipe]).success().json();
    let image = ws.image("demo", "1.0.0");
    assert_eq!(image.entry("usr/bin/su").mode & 0o7777, 0o4755);
    assert_eq!(image.entry("usr/bin/ping").xattr("security.capability"), Some(cap));
    assert_eq!(image.entry("etc/labelled").xattr("user.origin"), Some(&b"vendor"[..]));
    assert_eq!(ws.mtree("demo", "1.0.0").entry("usr/bin/su")["mode"], "04755");

    let notable = j["notable"].as_array().unwrap();
    assert!(notable.contains(&serde_json::json!({"path": "./usr/bin/su", "why": "setuid", "patch": "P-1"})), "{j}");
    assert!(
        notable.contains(&serde_json::json!({"path": "./usr/bin/ping", "why": "capability", "patch": "P-1"})),
        "{j}"
    );
    let b = ws.baseline("demo", "1.0.0");
    let xattrs = tv(&b, &["xattr"]).as_array().unwrap();
    assert!(
        xattrs.iter().any(|x| x["path"].as_str() == Some("./usr/bin/ping")
            && x["name"].as_str() == Some("security.capability")
            && x["sha256"].as_str() == Some(&sha256_hex(cap)[..])),
        "{b}"
    );
    let recorded = tv(&b, &["notable"]).as_array().unwrap();
    assert!(
        recorded.iter().any(|n| n["path"].as_str() == Some("./usr/bin/su")
            && n["why"].as_str() == Some("setuid")
            && n["patch"].as_str() == Some("P-1")),
        "{b}"
    );
}

#[test]
fn image_carries_release_file_with_name_and_version() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").build();
    let release = image.entry("etc/gild/release");
    assert_eq!((release.kind, release.mode & 0o7777, release.uid, release.gid), (Kind::File, 0o644, 0, 0));
    let t: toml::Value = toml::from_str(std::str::from_utf8(&release.data).unwrap()).unwrap();
    assert_eq!(t["name"].as_str(), Some("demo"));
    assert_eq!(t["version"].as_str(), Some("1.0.0"));
    let dir = image.entry("etc/gild");
    assert_eq!((dir.kind, dir.mode & 0o7777, dir.uid, dir.gid), (Kind::Dir, 0o755, 0, 0));
    let mtree = ws.mtree("demo", "1.0.0");
    assert_eq!(mtree.entry("etc/gild/release")["sha256digest"], sha256_hex(&release.data));
    assert!(mtree.has("etc/gild"));
}

#[test]
fn layer_shipping_the_release_file_is_refused() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .patch("P-REL", Layer::new().dir("./etc/gild").file("./etc/gild/release", b"name = \"evil\"\n"))
        .build_fails(2)
        .stderr_has("P-REL")
        .stderr_has("etc/gild/release");
}

// -- hostile input ----------------------------------------------------------------------------

fn refused(entry_layer: Layer, names: &[&str]) {
    let ws = Workspace::new();
    let run = ws.recipe("demo").patch("P-EVIL", entry_layer).build_fails(2);
    run.stderr_has("P-EVIL");
    for n in names {
        run.stderr_has(n);
    }
}

#[test]
fn dotdot_entry_name_is_refused() {
    refused(Layer::new().file("../x", b"x"), &["../x"]);
}

#[test]
fn dotdot_inside_entry_name_is_refused() {
    refused(Layer::new().file("a/../../x", b"x"), &["a/../../x"]);
}

#[test]
fn harmless_looking_dotdot_component_is_refused() {
    refused(Layer::new().dir("./etc").file("./etc/../etc/motd", b"x"), &["etc/../etc/motd"]);
}

#[test]
fn empty_entry_name_is_refused() {
    refused(Layer::new().file("", b"x"), &[]);
}

#[test]
fn entry_through_a_symlink_climbing_out_of_the_root_is_refused() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .base(base_layer().symlink("./evil", "../../.."))
        .patch("P-EVIL", Layer::new().file("./evil/etc/x", b"x"))
        .build_fails(2)
        .stderr_has("P-EVIL")
        .stderr_has("evil/etc/x");
}

#[test]
fn hard_link_to_itself_is_refused() {
    refused(Layer::new().hardlink("./etc/loop", "./etc/loop"), &["etc/loop"]);
}

#[test]
fn hard_link_to_an_absent_path_is_refused() {
    refused(Layer::new().hardlink("./etc/dangling", "./etc/nothing-here"), &["etc/dangling"]);
}

#[test]
fn hard_link_to_a_directory_is_refused() {
    refused(Layer::new().hardlink("./etc/dirlink", "./usr/lib"), &["etc/dirlink"]);
}

#[test]
fn bare_whiteout_prefix_is_refused() {
    refused(Layer::new().file("./etc/.wh.", b""), &["P-EVIL"]);
}

#[test]
fn stream_cut_inside_an_entry_is_refused() {
    let mut e = TarEntry::new(b'0', "./etc/big");
    e.data = vec![b'a'; 4096];
    let full = Layer::new().entry(e).tar();
    let cut = &full[..512 + 1024];
    refused(Layer::new().raw(cut).without_end(), &[]);
}

#[test]
fn malformed_pax_size_record_is_refused() {
    let mut e = TarEntry::new(b'0', "./etc/motd");
    e.data = b"hi\n".to_vec();
    e.pax.push(("size".to_string(), b"3x".to_vec()));
    refused(Layer::new().entry(e), &[]);
}

#[test]
fn data_after_the_end_of_archive_is_refused() {
    let mut tar = Layer::new().file("./etc/motd", b"hi\n").tar();
    tar.extend_from_slice(b"trailing garbage");
    tar.resize(tar.len() + 512 - tar.len() % 512, 0);
    refused(Layer::new().raw(&tar).without_end(), &[]);
}

#[test]
fn sparse_entry_is_refused() {
    let mut e = TarEntry::new(b'S', "./var/sparse");
    e.data = vec![0; 10];
    refused(Layer::new().entry(e), &["var/sparse"]);
}

#[test]
fn device_node_in_a_patch_is_refused_by_default() {
    refused(Layer::new().dir("./dev").char_dev("./dev/kmem2", 1, 2), &["dev/kmem2"]);
}

#[test]
fn fifo_in_a_patch_is_refused_by_default() {
    refused(Layer::new().fifo("./run-pipe"), &["run-pipe"]);
}

#[test]
fn device_node_in_a_patch_is_kept_with_allow_devices() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .image_line("allow-devices = true")
        .patch("P-DEV", Layer::new().dir("./dev").char_dev("./dev/null", 1, 3))
        .build();
    let dev = image.entry("dev/null");
    assert_eq!((dev.kind, dev.dev), (Kind::Char, (1, 3)));
    let kw = ws.mtree("demo", "1.0.0").entry("dev/null").clone();
    assert_eq!(kw["type"], "char");
    assert_eq!(kw["device"], "native,1,3");
}

#[test]
fn device_node_in_the_base_is_kept() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").base(base_layer().dir("./dev").char_dev("./dev/null", 1, 3)).build();
    assert_eq!(image.entry("dev/null").kind, Kind::Char);
}

#[test]
fn hard_link_through_a_symlink_climbing_out_of_the_root_is_refused() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .base(base_layer().symlink("./evil", "../.."))
        .patch("P-EVIL", Layer::new().hardlink("./etc/shadow-copy", "./evil/etc/shadow"))
        .build_fails(2)
        .stderr_has("P-EVIL")
        .stderr_has("etc/shadow-copy");
}

#[test]
fn whiteout_of_dotdot_is_refused() {
    refused(Layer::new().file("./etc/.wh..", b""), &["P-EVIL"]);
}

#[test]
fn pax_global_header_is_refused() {
    let mut g = TarEntry::new(b'g', "././@PaxGlobal");
    g.data = pax_record("comment", b"global");
    refused(Layer::new().entry(g).file("./etc/motd", b"m"), &[]);
}

// -- more resolution ------------------------------------------------------------------------

#[test]
fn whiteout_through_a_usr_merged_symlink_removes_from_usr_lib() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().whiteout("./lib/x86_64-linux-gnu/libc.so.6")).build();
    assert!(!image.has("usr/lib/x86_64-linux-gnu/libc.so.6"), "{}", image.listing());
    assert_eq!(image.entry("lib").kind, Kind::Symlink);
    no_whiteouts_in(&image);
}

#[test]
fn opaque_marker_through_a_usr_merged_symlink_empties_the_usr_directory() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .patch("P-1", Layer::new().dir("./lib/x86_64-linux-gnu").opaque("./lib/x86_64-linux-gnu"))
        .build();
    assert!(!image.has("usr/lib/x86_64-linux-gnu/libc.so.6"), "{}", image.listing());
    assert_eq!(image.entry("usr/lib/x86_64-linux-gnu").kind, Kind::Dir);
    assert_eq!(image.entry("lib").kind, Kind::Symlink);
}

#[test]
fn file_over_a_symlink_replaces_the_symlink_not_its_target() {
    let ws = Workspace::new();
    let base = base_layer()
        .dir("./usr/share")
        .dir("./usr/share/zoneinfo")
        .file("./usr/share/zoneinfo/UTC", b"utc\n")
        .symlink("./etc/localtime", "/usr/share/zoneinfo/UTC");
    let image = ws.recipe("demo").base(base).patch("P-1", Layer::new().file("./etc/localtime", b"jst\n")).build();
    let localtime = image.entry("etc/localtime");
    assert_eq!((localtime.kind, &localtime.data[..]), (Kind::File, &b"jst\n"[..]));
    assert_eq!(image.data("usr/share/zoneinfo/UTC"), b"utc\n");
}

#[test]
fn symlink_replacing_a_directory_drops_its_subtree() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").patch("P-1", Layer::new().symlink("./usr/lib/x86_64-linux-gnu", "/opt/lib")).build();
    assert_eq!(image.entry("usr/lib/x86_64-linux-gnu").kind, Kind::Symlink);
    assert!(!image.has("usr/lib/x86_64-linux-gnu/libc.so.6"), "{}", image.listing());
}

#[test]
fn directory_replacing_a_file_keeps_the_directory() {
    let ws = Workspace::new();
    let image =
        ws.recipe("demo").patch("P-1", Layer::new().dir("./etc/hostname").file("./etc/hostname/short", b"g\n")).build();
    assert_eq!(image.entry("etc/hostname").kind, Kind::Dir);
    assert_eq!(image.data("etc/hostname/short"), b"g\n");
}

#[test]
fn chained_symlinks_in_parents_are_followed() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .base(base_layer().symlink("./a", "b").symlink("./b", "usr/lib"))
        .patch("P-1", Layer::new().file("./a/new.so", b"n\n"))
        .build();
    assert_eq!(image.data("usr/lib/new.so"), b"n\n");
    assert_eq!(image.entry("a").kind, Kind::Symlink);
}

#[test]
fn symlink_loop_in_a_parent_is_refused_naming_the_links_limit() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .base(base_layer().symlink("./loop1", "loop2").symlink("./loop2", "loop1"))
        .patch("P-EVIL", Layer::new().file("./loop1/x", b"x"))
        .build_fails(2)
        .stderr_has("P-EVIL")
        .stderr_has("links");
}

#[test]
fn hard_link_through_a_usr_merged_parent_links_the_usr_file() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .patch("P-1", Layer::new().hardlink("./usr/lib/libc-alias.so", "./lib/x86_64-linux-gnu/libc.so.6"))
        .build();
    let mtree = ws.mtree("demo", "1.0.0");
    assert_eq!(mtree.entry("usr/lib/libc-alias.so")["sha256digest"], sha256_hex(b"libc\n"));
    let alias = image.entry("usr/lib/libc-alias.so");
    assert_eq!((alias.kind, &alias.data[..]), (Kind::File, &b"libc\n"[..]), "first in byte order carries the data");
    let libc = image.entry("usr/lib/x86_64-linux-gnu/libc.so.6");
    assert_eq!(libc.kind, Kind::Hardlink);
    assert_eq!(normalize(libc.link.as_deref().unwrap()), b"usr/lib/libc-alias.so");
}

#[test]
fn removing_the_data_carrier_of_a_hard_link_group_keeps_the_others() {
    let ws = Workspace::new();
    let image = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("./usr/bin/gzip", b"gz\n").hardlink("./usr/bin/zcat", "./usr/bin/gzip"))
        .patch("P-2", Layer::new().whiteout("./usr/bin/gzip"))
        .build();
    assert!(!image.has("usr/bin/gzip"));
    let zcat = image.entry("usr/bin/zcat");
    assert_eq!((zcat.kind, &zcat.data[..]), (Kind::File, &b"gz\n"[..]));
}

#[test]
fn names_and_link_targets_over_100_bytes_are_kept() {
    let ws = Workspace::new();
    let long_dir = format!("./opt/{}", "d".repeat(110));
    let long_file = format!("{long_dir}/{}", "f".repeat(120));
    let long_target = format!("/{}", &long_file[2..]);
    let image = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file(&long_file, b"long\n").symlink("./opt/short", &long_target))
        .build();
    assert_eq!(image.data(&long_file), b"long\n");
    assert_eq!(image.entry("opt/short").link.as_deref(), Some(long_target.as_bytes()));
    assert_eq!(ws.mtree("demo", "1.0.0").entry(&long_file)["sha256digest"], sha256_hex(b"long\n"));
}

#[test]
fn setgid_and_world_writable_files_are_notable() {
    let ws = Workspace::new();
    let patch = Layer::new().file_meta("./usr/bin/wall", b"wall\n", 0o2755, 0, 5).file_meta(
        "./etc/scratch",
        b"s\n",
        0o666,
        0,
        0,
    );
    let recipe = ws.recipe("demo").patch("P-1", patch).write();
    let j = ws.gild(&["--json", "build", &recipe]).success().json();
    let notable = j["notable"].as_array().unwrap();
    assert!(notable.contains(&serde_json::json!({"path": "./usr/bin/wall", "why": "setgid", "patch": "P-1"})), "{j}");
    assert!(
        notable.contains(&serde_json::json!({"path": "./etc/scratch", "why": "world-writable", "patch": "P-1"})),
        "{j}"
    );
}

// -- limits -----------------------------------------------------------------------------------

#[test]
fn depth_limit_from_the_command_line_refuses_a_deeper_entry() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-DEEP", Layer::new().file("./a/b/c/d/e/f/g", b"x")).write();
    ws.gild(&["--limit", "depth=5", "build", &recipe]).exit(2).stderr_has("P-DEEP").stderr_has("depth");
    ws.assert_nothing_written("demo", "1.0.0");
    ws.gild(&["--limit", "depth=10", "build", &recipe]).success();
}

#[test]
fn limits_table_in_the_recipe_is_honoured() {
    let ws = Workspace::new();
    ws.recipe("demo").image_line("[image.limits]\nentries = 5").build_fails(2).stderr_has("entries");
}

#[test]
fn long_name_header_over_the_header_limit_is_refused() {
    let ws = Workspace::new();
    let long = format!("./opt/{}", "n".repeat(2000));
    let recipe = ws.recipe("demo").patch("P-LONG", Layer::new().file(&long, b"x")).write();
    ws.gild(&["--limit", "header=1024", "build", &recipe]).exit(2).stderr_has("P-LONG").stderr_has("header");
    ws.assert_nothing_written("demo", "1.0.0");
}

// -- compressed streams -----------------------------------------------------------------------

/// The base tar cut in two at a block boundary.
fn base_halves() -> (Vec<u8>, Vec<u8>) {
    let tar = base_layer().tar();
    let mid = tar.len() / 1024 * 512;
    (tar[..mid].to_vec(), tar[mid..].to_vec())
}

fn assert_whole_base(image: &Image) {
    for p in ["etc/hostname", "usr/lib/x86_64-linux-gnu/libc.so.6", "lib", "tmp"] {
        assert!(image.has(p), "{p} missing:\n{}", image.listing());
    }
}

/// A zstd frame of raw blocks whose header asks for a window of 2^`window_log` bytes.
pub fn zstd_raw_frame(window_log: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3];
    let chunks: Vec<&[u8]> = data.chunks(64 * 1024).collect();
    for (i, c) in chunks.iter().enumerate() {
        let last = u32::from(i + 1 == chunks.len());
        let header = last | ((c.len() as u32) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(c);
    }
    out
}

fn zstd_skippable_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x50, 0x2a, 0x4d, 0x18];
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let (a, b) = base_halves();
    let mut bytes = Compression::Gz.compress(&a);
    bytes.extend(Compression::Gz.compress(&b));
    let ws = Workspace::new();
    assert_whole_base(&ws.recipe("demo").base(base_layer()).artifact_bytes(bytes).named_as("tar.gz").build());
}

#[test]
fn zstd_frames_are_one_stream_and_skippable_frames_are_skipped() {
    let (a, b) = base_halves();
    let mut bytes = zstd_skippable_frame(b"gild test");
    bytes.extend(Compression::Zst.compress(&a));
    bytes.extend(zstd_skippable_frame(b""));
    bytes.extend(Compression::Zst.compress(&b));
    let ws = Workspace::new();
    assert_whole_base(&ws.recipe("demo").base(base_layer()).artifact_bytes(bytes).named_as("tar.zst").build());
}

#[test]
fn concatenated_xz_streams_are_one_stream() {
    let (a, b) = base_halves();
    let mut bytes = Compression::Xz.compress(&a);
    bytes.extend(Compression::Xz.compress(&b));
    let ws = Workspace::new();
    assert_whole_base(&ws.recipe("demo").base(base_layer()).artifact_bytes(bytes).named_as("tar.xz").build());
}

#[test]
fn data_after_a_compressed_stream_is_refused() {
    let mut bytes = Compression::Gz.compress(&base_layer().tar());
    bytes.extend_from_slice(b"this is not gzip");
    let ws = Workspace::new();
    ws.recipe("demo").base(base_layer()).artifact_bytes(bytes).named_as("tar.gz").build_fails(2).stderr_has("base");
}

#[test]
fn compression_is_told_by_magic_not_by_file_name() {
    let ws = Workspace::new();
    let image = ws.recipe("demo").base(base_layer()).compress(Compression::Zst).named_as("tar.gz").build();
    assert_whole_base(&image);
}

#[test]
fn tar_without_end_blocks_is_read_with_a_warning() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(base_layer().without_end()).write();
    ws.gild(&["build", &recipe]).success().stderr_has("warning:");
    assert_whole_base(&ws.image("demo", "1.0.0"));
}

#[test]
fn zstd_window_over_128_mib_is_refused_naming_the_window_limit() {
    let ws = Workspace::new();
    let frame = zstd_raw_frame(28, &base_layer().tar());
    let recipe = ws.recipe("demo").base(base_layer()).artifact_bytes(frame).named_as("tar.zst").write();
    ws.gild(&["build", &recipe]).exit(2).stderr_has("window");
    ws.assert_nothing_written("demo", "1.0.0");
    ws.gild(&["--limit", "window=268435456", "build", &recipe]).success();
    assert_whole_base(&ws.image("demo", "1.0.0"));
}

#[test]
fn whiteout_and_a_new_child_in_the_same_layer_replace_the_directory_contents() {
    let ws = Workspace::new();
    let patch = Layer::new().file("./usr/lib/x86_64-linux-gnu/new.so", b"new\n").whiteout("./usr/lib/x86_64-linux-gnu");
    let image = ws.recipe("demo").patch("P-1", patch).build();
    assert_eq!(image.data("usr/lib/x86_64-linux-gnu/new.so"), b"new\n");
    assert!(!image.has("usr/lib/x86_64-linux-gnu/libc.so.6"), "{}", image.listing());
}

#[test]
fn pax_path_record_with_dotdot_is_refused() {
    let mut e = TarEntry::new(b'0', "./etc/benign");
    e.data = b"x".to_vec();
    e.pax.push(("path".to_string(), b"../evil".to_vec()));
    refused(Layer::new().entry(e), &["../evil"]);
}

#[test]
fn pax_records_override_the_header() {
    let ws = Workspace::new();
    let mut e = TarEntry::new(b'0', "./etc/short");
    e.data = b"pax\n".to_vec();
    e.pax.push(("path".to_string(), b"./etc/named-by-pax".to_vec()));
    e.pax.push(("uid".to_string(), b"4000000".to_vec()));
    e.pax.push(("gid".to_string(), b"4000001".to_vec()));
    let image = ws.recipe("demo").patch("P-1", Layer::new().entry(e)).build();
    assert!(!image.has("etc/short"));
    let named = image.entry("etc/named-by-pax");
    assert_eq!((named.uid, named.gid, &named.data[..]), (4_000_000, 4_000_001, &b"pax\n"[..]));
}

#[test]
fn gnu_long_names_are_read() {
    let ws = Workspace::new();
    let long = format!("./opt/{}", "g".repeat(150));
    let mut name = long.clone().into_bytes();
    name.push(0);
    let mut ll = TarEntry::new(b'L', "././@LongLink");
    ll.data = name;
    let gnu_header = Layer::new().entry(ll).tar();
    let long_name_block = &gnu_header[..gnu_header.len() - 1024];
    let mut e = TarEntry::new(b'0', &long.as_bytes()[..100]);
    e.data = b"gnu\n".to_vec();
    let file = Layer::new().entry(e).tar();
    let layer = Layer::new().raw(long_name_block).raw(&file[..file.len() - 1024]);
    let image = ws.recipe("demo").patch("P-1", layer).build();
    assert_eq!(image.data(&long), b"gnu\n");
}

#[test]
fn a_patch_larger_than_the_read_ahead_segments_lands_whole() {
    // Patches are decompressed ahead into 32 MiB temporary segments; this one spans three,
    // and the patch after it still waits its turn.
    let block: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut big = Vec::with_capacity(70 << 20);
    for i in 0..(70 << 20) / block.len() {
        big.extend_from_slice(&block);
        big.extend_from_slice(&(i as u32).to_le_bytes());
    }
    let ws = Workspace::new();
    ws.recipe("demo")
        .patch("P-BIG", Layer::new().file("./usr/share/big", &big))
        .compress(Compression::Zst)
        .patch("P-2", Layer::new().file("./etc/motd", b"after the big one\n"))
        .compress(Compression::Xz)
        .write();
    ws.gild(&["build", "recipes/demo.toml"]).success();
    let spec = ws.mtree("demo", "1.0.0");
    assert_eq!(spec.entry("usr/share/big")["sha256digest"], sha256_hex(&big));
    assert_eq!(spec.entry("usr/share/big")["size"], big.len().to_string());
    assert_eq!(spec.entry("etc/motd")["sha256digest"], sha256_hex(b"after the big one\n"));
}
