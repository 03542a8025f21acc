//! docs/debian.md: Debian packages as patches. The judge is the real dpkg: each package is applied
//! by gild to a dpkg-managed base and by `dpkg --root=COPY -i` to a copy of the same base,
//! and the two trees (database included) must be the same; `dpkg --audit`, `--verify` and
//! `dpkg-query` are run on the extracted image.

use std::path::Path;

use crate::debfix::*;
use crate::harness::*;

/// What a reference run leaves for further checks.
struct Agreed {
    ws: Workspace,
    /// The copy of the base the real dpkg installed the packages on.
    dpkg: DebRoot,
    /// gild's image, extracted by GNU tar.
    image: tempfile::TempDir,
    /// `gild build`'s output.
    build: Run,
}

impl Agreed {
    fn image_file(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.image.path().join(rel)).unwrap_or_else(|e| panic!("the image has no {rel}: {e}"))
    }

    fn image_has(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.image.path().join(rel)).is_ok()
    }

    fn baseline(&self) -> toml::Value {
        self.ws.baseline(NAME, VERSION)
    }
}

/// Builds `debs` (patches `P-1`, `P-2`… in order) over `root` with gild, installs them on
/// `root` itself with the real dpkg, one `dpkg -i` each in the same order, and asserts that
/// the two trees are the same (paths, types, modes, owners, link targets, contents; dpkg's
/// own backups and locks aside).
fn gild_agrees_with_dpkg(what: &str, root: DebRoot, debs: &[&[u8]]) -> Agreed {
    gild_agrees_with_dpkg_given(what, root, debs, &[])
}

/// [`gild_agrees_with_dpkg`] with more options for dpkg (such as `--force-hold`).
fn gild_agrees_with_dpkg_given(what: &str, root: DebRoot, debs: &[&[u8]], dpkg_options: &[&str]) -> Agreed {
    let ws = Workspace::new();
    let mut recipe = ws.recipe(NAME).base(root.layer());
    for (i, deb) in debs.iter().enumerate() {
        recipe = recipe.deb(&format!("P-{}", i + 1), deb);
    }
    let recipe = recipe.write();
    let build = ws.gild(&["build", &recipe]);
    build.success();
    assert_consistent(&ws.image(NAME, VERSION), &ws.mtree(NAME, VERSION));
    for deb in debs {
        let (ok, text) = root.try_install_with(dpkg_options, &[deb]);
        assert!(ok, "dpkg -i failed on the reference copy:\n{text}");
    }
    let image = extract_image(&ws, NAME, VERSION);
    assert_same_tree(what, &root.dir, image.path());
    Agreed { ws, dpkg: root, image, build }
}

/// libfoo1's security update: drops the 1.0.0 library, a data file and a plugin directory
/// only it had, adds 1.0.1 and a new data file, swaps its `postinst` for a `prerm`, and names
/// two CVEs in its changelog.
fn libfoo1_update() -> Deb {
    libfoo1()
        .version("1.0-1+deb12u1")
        .without("usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0")
        .without("usr/lib/x86_64-linux-gnu/foo1/plugin.so")
        .file("usr/lib/x86_64-linux-gnu/libfoo.so.1.0.1", b"\x7fELF libfoo 1.0.1\n")
        .symlink("usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1.0.1")
        .without("usr/share/foo/old.dat")
        .file("usr/share/foo/new.dat", b"new data\n")
        .without_member("postinst")
        .script("prerm")
        .changelog("foo", &[("1.0-1+deb12u1", &["CVE-2026-1111", "CVE-2026-2222"]), ("1.0-1", &["CVE-2025-0001"])])
}

fn stanza<'a>(status: &'a str, package: &str) -> &'a str {
    let start = status
        .find(&format!("Package: {package}\n"))
        .unwrap_or_else(|| panic!("status has no stanza of {package}:\n{status}"));
    let rest = &status[start..];
    &rest[..rest.find("\n\n").map_or(rest.len(), |e| e + 1)]
}

// ---------------------------------------------------------------------------------------------
// The reference: what the real dpkg leaves

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn upgrade_that_drops_and_adds_files_leaves_the_tree_dpkg_leaves() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = libfoo1_update().build();
    let a = gild_agrees_with_dpkg("libfoo1 1.0-1 → 1.0-1+deb12u1", DebRoot::standard(), &[&deb]);
    for gone in [
        "usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0",
        "usr/share/foo/old.dat",
        "usr/lib/x86_64-linux-gnu/foo1",
        "var/lib/dpkg/info/libfoo1:amd64.postinst",
    ] {
        assert!(!a.image_has(gone), "{gone} is still in the image");
    }
    assert!(a.image_has("usr/share/foo/data.txt"), "foo-data's file in the shared directory stays");
    assert_eq!(a.image_file("usr/share/foo/new.dat"), b"new data\n");
    let status = String::from_utf8(a.image_file("var/lib/dpkg/status")).unwrap();
    assert!(stanza(&status, "libfoo1").contains("Version: 1.0-1+deb12u1\n"), "{status}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn new_package_without_md5sums_leaves_the_tree_dpkg_leaves() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // A Multi-Arch: same library shipped under /lib (usr-merge), a conffile, a man page
    // (man-db's file trigger), no md5sums member (dpkg computes it).
    let deb = Deb::new("libbaz2", "2.0-1")
        .source("baz")
        .field("Section", "libs")
        .field("Multi-Arch", "same")
        .field("Depends", "libfoo1 (>= 1.0), libc6 (>= 2.34) | libc-bin")
        .file("lib/x86_64-linux-gnu/libbaz.so.2.0.0", b"\x7fELF libbaz\n")
        .symlink("lib/x86_64-linux-gnu/libbaz.so.2", "libbaz.so.2.0.0")
        .conffile("etc/baz.conf", b"baz = yes\n")
        .file("usr/share/man/man3/baz.3.gz", b"baz(3)\n")
        .member("triggers", "activate-noawait ldconfig\n")
        .script("postinst")
        .md5sums(Md5sums::Omit)
        .build();
    let a = gild_agrees_with_dpkg("new package libbaz2", DebRoot::standard(), &[&deb]);
    let list = String::from_utf8(a.image_file("var/lib/dpkg/info/libbaz2:amd64.list")).unwrap();
    assert!(list.starts_with("/.\n"), "{list}");
    assert!(list.lines().any(|l| l == "/lib/x86_64-linux-gnu/libbaz.so.2.0.0"), "as the package ships it: {list}");
    assert!(a.image_has("usr/lib/x86_64-linux-gnu/libbaz.so.2.0.0"), "through the lib -> usr/lib symlink");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn conffile_the_admin_did_not_touch_takes_the_new_version_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = libfoo1_update().conffile("etc/foo.conf", b"# foo configuration\nlevel = 2\n").build();
    let a = gild_agrees_with_dpkg("untouched conffile", DebRoot::standard(), &[&deb]);
    assert_eq!(a.image_file("etc/foo.conf"), b"# foo configuration\nlevel = 2\n");
    assert!(!a.image_has("etc/foo.conf.dpkg-dist"));
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn edited_conffile_is_kept_and_the_new_one_put_beside_it_as_dpkg_confold_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // Found with dpkg 1.21: under --force-confold, dpkg keeps the edited file and writes the
    // package's version beside it as `.dpkg-dist`; `Conffiles:` gets the new version's md5.
    let new_conf = b"# foo configuration\nlevel = 2\n";
    let root = DebRoot::standard();
    root.write("etc/foo.conf", b"# edited by the admin\nlevel = 9\n");
    let deb = libfoo1_update().conffile("etc/foo.conf", new_conf).build();
    let a = gild_agrees_with_dpkg("edited conffile", root, &[&deb]);
    assert_eq!(a.image_file("etc/foo.conf"), b"# edited by the admin\nlevel = 9\n");
    assert_eq!(a.image_file("etc/foo.conf.dpkg-dist"), new_conf);
    assert!(a.dpkg.path("etc/foo.conf.dpkg-dist").exists(), "dpkg writes .dpkg-dist too");
    let status = String::from_utf8(a.image_file("var/lib/dpkg/status")).unwrap();
    assert!(stanza(&status, "libfoo1").contains(&format!(" /etc/foo.conf {}\n", md5_hex(new_conf))), "{status}");
    a.build.output_has("dpkg-dist");
    let dist = tv(&a.baseline(), &["patch"])[0]["deb"]["dist"].clone();
    assert_eq!(dist.to_string(), r#"["/etc/foo.conf"]"#, "[patch.deb] dist names the kept conffile");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn edited_conffile_the_package_did_not_change_is_kept_without_dpkg_dist() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let root = DebRoot::standard();
    root.write("etc/foo.conf", b"# edited by the admin\n");
    let deb = libfoo1_update().build();
    let a = gild_agrees_with_dpkg("edited, unchanged conffile", root, &[&deb]);
    assert_eq!(a.image_file("etc/foo.conf"), b"# edited by the admin\n");
    assert!(!a.image_has("etc/foo.conf.dpkg-dist"));
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn conffile_the_admin_deleted_stays_deleted_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let root = DebRoot::standard();
    std::fs::remove_file(root.path("etc/foo.conf")).unwrap();
    let deb = libfoo1_update().conffile("etc/foo.conf", b"# foo configuration\nlevel = 2\n").build();
    let a = gild_agrees_with_dpkg("deleted conffile", root, &[&deb]);
    assert!(!a.image_has("etc/foo.conf"));
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn conffile_the_new_version_drops_stays_marked_obsolete_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = libfoo1_update().without("etc/foo.conf").build();
    let a = gild_agrees_with_dpkg("conffile dropped by the package", DebRoot::standard(), &[&deb]);
    assert_eq!(a.image_file("etc/foo.conf"), FOO_CONF, "the file stays");
    let status = String::from_utf8(a.image_file("var/lib/dpkg/status")).unwrap();
    assert!(
        stanza(&status, "libfoo1").contains(&format!(" /etc/foo.conf {} obsolete\n", md5_hex(FOO_CONF))),
        "{status}"
    );
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn package_that_replaces_another_takes_its_file_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = Deb::new("foo-tools", "1.1-1")
        .source("foo")
        .field("Replaces", "foo-utils (<< 1:1.1)")
        .file_mode("usr/bin/foo", b"\x7fELF foo from foo-tools\n", 0o755)
        .build();
    let a = gild_agrees_with_dpkg("Replaces", DebRoot::standard(), &[&deb]);
    assert_eq!(a.image_file("usr/bin/foo"), b"\x7fELF foo from foo-tools\n");
    let utils = String::from_utf8(a.image_file("var/lib/dpkg/info/foo-utils.list")).unwrap();
    assert!(!utils.lines().any(|l| l == "/usr/bin/foo"), "foo-utils no longer lists it: {utils}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn file_at_a_diverted_path_goes_to_the_divert_to_path_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // The base diverts /bin/sh to /bin/sh.distrib for dash; another package's /bin/sh goes
    // there, and dash's symlink stays.
    let deb = Deb::new("sh-alt", "1.0-1").file_mode("bin/sh", b"#!alternative shell\n", 0o755).build();
    let a = gild_agrees_with_dpkg("diverted /bin/sh", DebRoot::standard(), &[&deb]);
    assert_eq!(a.image_file("usr/bin/sh.distrib"), b"#!alternative shell\n");
    let link = std::fs::read_link(a.image.path().join("usr/bin/sh")).unwrap();
    assert_eq!(link, Path::new("dash"), "dash's /bin/sh is not replaced");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn local_diversion_sends_a_packages_own_file_elsewhere_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // The admin diverted foo-utils' /usr/bin/foo (`dpkg-divert --local`): the upgrade's
    // /usr/bin/foo goes to the divert-to path, and the admin's file stays.
    let root = DebRoot::standard();
    let (ok, text) = run_tool(dpkg_command("dpkg-divert").arg(format!("--root={}", root.dir.display())).args([
        "--local",
        "--rename",
        "--divert",
        "/usr/bin/foo.packaged",
        "--add",
        "/usr/bin/foo",
    ]));
    assert!(ok, "dpkg-divert --local: {text}");
    root.write("usr/bin/foo", b"#!/bin/sh\n# the admin's wrapper\n");
    let deb = foo_utils().version("1:1.0-2").file_mode("usr/bin/foo", b"\x7fELF foo 2\n", 0o755).build();
    let a = gild_agrees_with_dpkg("local diversion", root, &[&deb]);
    assert_eq!(a.image_file("usr/bin/foo.packaged"), b"\x7fELF foo 2\n");
    assert_eq!(a.image_file("usr/bin/foo"), b"#!/bin/sh\n# the admin's wrapper\n");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn stat_override_sets_owner_and_mode_of_an_upgraded_file_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = foo_utils().version("1:1.0-2").file_mode("usr/bin/foo-lock", b"\x7fELF foo-lock 2\n", 0o755).build();
    let a = gild_agrees_with_dpkg("statoverride", DebRoot::standard(), &[&deb]);
    let md = std::fs::metadata(a.image.path().join("usr/bin/foo-lock")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((md.mode() & 0o7777, md.uid(), md.gid()), (0o2755, 0, 8), "root:mail 2755 from statoverride");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn foreign_architecture_listed_in_dpkg_arch_installs_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let root = DebRoot::standard();
    let (ok, text) = root.dpkg(&["--add-architecture", "i386"]);
    assert!(ok, "dpkg --add-architecture: {text}");
    let deb = Deb::new("libbaz2", "2.0-1")
        .arch("i386")
        .field("Multi-Arch", "same")
        .file("usr/lib/i386-linux-gnu/libbaz.so.2", b"\x7fELF i386\n")
        .build();
    let a = gild_agrees_with_dpkg("i386 package", root, &[&deb]);
    assert!(a.image_has("var/lib/dpkg/info/libbaz2:i386.list"));
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn several_packages_in_order_leave_the_tree_dpkg_leaves() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // libfoo1 upgraded twice, then foo-utils: each over the result of the ones before.
    let first = libfoo1_update().build();
    let second = libfoo1_update().version("1.0-1+deb12u2").file("usr/share/foo/new.dat", b"newer\n").build();
    let utils = foo_utils().version("1:1.0-2").build();
    let a = gild_agrees_with_dpkg("three patches", DebRoot::standard(), &[&first, &second, &utils]);
    assert_eq!(a.image_file("usr/share/foo/new.dat"), b"newer\n");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn upgrade_of_the_diversion_owner_writes_its_own_paths_through_usr_merge_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // dash owns the diversion of /bin/sh: its own /bin/sh is not diverted; it ships /bin/…
    // paths that land in usr/bin through the symlink; its man page goes away.
    let deb = dash()
        .version("0.5.12-2+deb12u1")
        .file_mode("bin/dash", b"\x7fELF dash 2\n", 0o755)
        .without("usr/share/man/man1/dash.1.gz")
        .build();
    let a = gild_agrees_with_dpkg("dash upgrade", DebRoot::standard(), &[&deb]);
    assert_eq!(a.image_file("usr/bin/dash"), b"\x7fELF dash 2\n");
    assert!(!a.image_has("usr/bin/sh.distrib"), "the owner's file is not diverted");
    assert!(!a.image_has("bin") || std::fs::read_link(a.image.path().join("bin")).is_ok(), "bin stays a symlink");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn existing_directories_keep_their_mode_and_new_ones_take_the_package_mode_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = libfoo1_update()
        .dir_mode("usr/share/foo", 0o700)
        .dir_mode("usr/share/foo-private", 0o750)
        .file("usr/share/foo-private/key", b"k\n")
        .build();
    gild_agrees_with_dpkg("directory modes", DebRoot::standard(), &[&deb]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn symlink_where_a_directory_exists_is_handled_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = Deb::new("foo-doc", "1.0-1")
        .symlink("usr/share/doc/libfoo1", "foo-doc")
        .file("usr/share/doc/foo-doc/x", b"x\n")
        .build();
    gild_agrees_with_dpkg("symlink over a directory", DebRoot::standard(), &[&deb]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn files_on_disk_that_no_package_owns_are_handled_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // A conffile of a new package that the admin already created, and a plain file that no
    // package owns: dpkg overwrites the plain file; the conffile follows its rules.
    let root = DebRoot::standard();
    root.write("etc/baz.conf", b"# written by the admin before the package came\n");
    root.write("usr/share/baz/README", b"left by someone\n");
    let deb = Deb::new("baz", "1.0-1")
        .conffile("etc/baz.conf", b"# baz as packaged\n")
        .file("usr/share/baz/README", b"baz readme\n")
        .build();
    let a = gild_agrees_with_dpkg("unowned files on disk", root, &[&deb]);
    assert_eq!(a.image_file("usr/share/baz/README"), b"baz readme\n");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn hard_links_in_a_package_are_kept_as_dpkg_keeps_them() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = Deb::new("gzip-lite", "1.12-1")
        .file_mode("bin/gzip", b"\x7fELF gzip\n", 0o755)
        .hardlink("bin/gunzip", "bin/gzip")
        .hardlink("bin/zcat", "bin/gzip")
        .build();
    let a = gild_agrees_with_dpkg("hard links", DebRoot::standard(), &[&deb]);
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(a.image.path().join("usr/bin/zcat")).unwrap();
    assert_eq!(md.nlink(), 3, "gzip, gunzip and zcat are one file");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn file_trigger_interest_of_a_new_package_updates_triggers_file_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = Deb::new("baz-indexer", "1.0-1")
        .file_mode("usr/bin/baz-index", b"idx\n", 0o755)
        .member("triggers", "interest-noawait /usr/share/baz\ninterest /usr/share/foo\n")
        .build();
    let a = gild_agrees_with_dpkg("file trigger interest", DebRoot::standard(), &[&deb]);
    let file = String::from_utf8(a.image_file("var/lib/dpkg/triggers/File")).unwrap();
    assert!(file.contains("/usr/share/baz baz-indexer/noawait\n"), "{file}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn explicit_trigger_interest_of_a_new_package_is_registered_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // dpkg keeps a file per explicit trigger: triggers/NAME lists the interested packages.
    let deb = Deb::new("baz-indexer", "1.0-1")
        .file_mode("usr/bin/baz-index", b"idx\n", 0o755)
        .member("triggers", "interest baz-reindex\n")
        .build();
    let a = gild_agrees_with_dpkg("explicit trigger interest", DebRoot::standard(), &[&deb]);
    assert!(a.dpkg.path("var/lib/dpkg/triggers/baz-reindex").exists(), "dpkg writes triggers/baz-reindex");
}

/// A base where `bazconf` was installed and then removed (not purged): `config-files`.
fn base_with_config_files(edit: Option<&[u8]>) -> DebRoot {
    let root = DebRoot::standard();
    root.install(&[&Deb::new("bazconf", "1.0-1")
        .conffile("etc/bazconf.conf", b"v = 1\n")
        .file("usr/share/bazconf/x", b"1\n")
        .build()]);
    let (ok, text) = root.dpkg(&["--remove", "bazconf"]);
    assert!(ok, "dpkg --remove: {text}");
    assert!(std::fs::read_to_string(root.path("var/lib/dpkg/status"))
        .unwrap()
        .contains("Package: bazconf\nStatus: deinstall ok config-files\n"));
    if let Some(bytes) = edit {
        root.write("etc/bazconf.conf", bytes);
    }
    root
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn package_in_config_files_state_is_reinstalled_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = Deb::new("bazconf", "1.1-1")
        .conffile("etc/bazconf.conf", b"v = 2\n")
        .file("usr/share/bazconf/x", b"2\n")
        .build();
    let a = gild_agrees_with_dpkg("reinstall from config-files", base_with_config_files(None), &[&deb]);
    let status = String::from_utf8(a.image_file("var/lib/dpkg/status")).unwrap();
    assert!(stanza(&status, "bazconf").contains("Status: install ok installed\n"), "{status}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn edited_conffile_of_a_package_in_config_files_state_is_kept_as_dpkg_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let deb = Deb::new("bazconf", "1.1-1")
        .conffile("etc/bazconf.conf", b"v = 2\n")
        .file("usr/share/bazconf/x", b"2\n")
        .build();
    let root = base_with_config_files(Some(b"v = 9 # the admin's\n"));
    let a = gild_agrees_with_dpkg("edited conffile of a config-files package", root, &[&deb]);
    assert_eq!(a.image_file("etc/bazconf.conf"), b"v = 9 # the admin's\n");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn held_package_upgraded_by_a_patch_is_selected_install_as_dpkg_force_hold_does() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let root = DebRoot::standard();
    let (ok, text) = root.dpkg_with_input(&["--set-selections"], "foo-utils hold\n");
    assert!(ok, "dpkg --set-selections: {text}");
    let deb = foo_utils().version("1:1.0-2").build();
    let a = gild_agrees_with_dpkg_given("held package", root, &[&deb], &["--force-hold"]);
    let status = String::from_utf8(a.image_file("var/lib/dpkg/status")).unwrap();
    assert!(stanza(&status, "foo-utils").contains("Status: install ok installed\n"), "{status}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn status_stanza_of_a_rich_control_file_has_dpkg_field_order() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    // Fields in a scrambled order, unknown ones among them: dpkg writes its own order, then
    // the unknown ones in control-file order.
    let deb = Deb::new("rich", "2:3.4~rc1-0.1+b2")
        .source("rich-src (3.4~rc1-0.1)")
        .field("Homepage", "https://rich.example.org/")
        .field("Enhances", "foo-utils")
        .field("Conflicts", "rich-old")
        .field("Breaks", "rich-legacy (<< 2)")
        .field("Suggests", "foo-data")
        .field("Recommends", "man-db")
        .field("Depends", "libfoo1 (>= 1.0-1) | libfoo1-compat, dash")
        .field("Pre-Depends", "libc-bin (>= 2.36)")
        .field("Provides", "rich-virtual (= 3.4)")
        .field("Replaces", "rich-old")
        .field("Built-Using", "glibc (= 2.36-9+deb12u7)")
        .field("Multi-Arch", "foreign")
        .field("Bugs", "debbugs://bugs.example.org")
        .field("Origin", "Example")
        .field("Section", "utils")
        .field("Priority", "optional")
        .field("Protected", "yes")
        .field("X-Custom-Field", "kept")
        .field("Tag", "role::program")
        .file("usr/share/rich/x", b"x\n")
        .build();
    gild_agrees_with_dpkg("rich control file", DebRoot::standard(), &[&deb]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn data_and_control_members_in_gzip_xz_zstd_and_none_all_apply() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let mut kinds = vec!["gzip", "xz", "none"];
    if dpkg_deb_supports("zstd") {
        kinds.push("zstd");
    } else {
        println!("note: this dpkg-deb cannot build -Zzstd; zstd members not tested");
    }
    let debs: Vec<Vec<u8>> = kinds
        .iter()
        .map(|k| {
            Deb::new(&format!("comp-{k}"), "1.0-1")
                .compression(k)
                .file(&format!("usr/share/comp/{k}.txt"), format!("{k}\n").as_bytes())
                .build()
        })
        .collect();
    for (deb, k) in debs.iter().zip(&kinds) {
        let names: Vec<String> = ar_members(deb).into_iter().map(|(n, _)| n).collect();
        let ext = match *k {
            "gzip" => ".gz",
            "xz" => ".xz",
            "zstd" => ".zst",
            _ => "",
        };
        assert_eq!(names, ["debian-binary".to_string(), format!("control.tar{ext}"), format!("data.tar{ext}")]);
    }
    let refs: Vec<&[u8]> = debs.iter().map(Vec::as_slice).collect();
    let a = gild_agrees_with_dpkg("compressions", DebRoot::standard(), &refs);
    for k in &kinds {
        assert_eq!(a.image_file(&format!("usr/share/comp/{k}.txt")), format!("{k}\n").as_bytes().to_vec(), "{k}");
    }
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_bzip2, gild_no_root), ignore = "needs dpkg, GNU tar, bzip2 and root")]
fn data_tar_bz2_applies_as_dpkg_applies_it() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Tool("bzip2"), Need::Root]);
    // dpkg-deb cannot write data.tar.bz2, but dpkg reads it (old packages have it).
    let plain = Deb::new("comp-bzip2", "1.0-1").compression("none").file("usr/share/comp/bzip2.txt", b"bz\n").build();
    let mut members = ar_members(&plain);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data.tar");
    std::fs::write(&data, &members[2].1).unwrap();
    let (ok, text) = run_tool(std::process::Command::new("bzip2").arg("-k").arg(&data));
    assert!(ok, "bzip2: {text}");
    members[2] = ("data.tar.bz2".to_string(), std::fs::read(tmp.path().join("data.tar.bz2")).unwrap());
    let deb = ar_build(&members);
    let a = gild_agrees_with_dpkg("data.tar.bz2", DebRoot::standard(), &[&deb]);
    assert_eq!(a.image_file("usr/share/comp/bzip2.txt"), b"bz\n");
}

// ---------------------------------------------------------------------------------------------
// The stock tools on the image

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_root), ignore = "needs dpkg, GNU tar and root")]
fn dpkg_audit_and_verify_are_silent_and_dpkg_query_shows_the_new_versions() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Root]);
    let libfoo = libfoo1_update().build();
    let utils = foo_utils().version("1:1.0-2").build();
    let baz = Deb::new("baz", "2.0-1").file_mode("usr/bin/baz", b"baz\n", 0o755).md5sums(Md5sums::Omit).build();
    let ws = Workspace::new();
    let base = DebRoot::standard();
    let recipe = ws.recipe(NAME).base(base.layer()).deb("P-1", &libfoo).deb("P-2", &utils).deb("P-3", &baz).write();
    ws.gild(&["build", &recipe]).success();
    let image = extract_image(&ws, NAME, VERSION);
    let (ok, audit) = dpkg_on(image.path(), &["--audit"]);
    assert!(ok && audit.trim().is_empty(), "dpkg --audit on the image:\n{audit}");
    let versions = dpkg_query(image.path(), "${Package} ${Version} ${db:Status-Abbrev}\n");
    for want in ["libfoo1 1.0-1+deb12u1 ii ", "foo-utils 1:1.0-2 ii ", "baz 2.0-1 ii ", "dash 0.5.12-2 ii "] {
        assert!(versions.lines().any(|l| l == want), "dpkg-query lacks {want:?}:\n{versions}");
    }
    let (_, base_verify) = dpkg_on(&base.dir, &["--verify"]);
    let (_, image_verify) = dpkg_on(image.path(), &["--verify"]);
    let new: Vec<&str> = image_verify.lines().filter(|l| !base_verify.lines().any(|b| b == *l)).collect();
    assert!(new.is_empty(), "dpkg --verify finds on the image what it does not on the base:\n{}", new.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn downgrade_is_refused_without_downgrade_true() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let ws = Workspace::new();
    // 1.5-1 is lower than the installed 1:1.0-1 (the epoch).
    let deb = foo_utils().version("1.5-1").build();
    let run = ws.recipe(NAME).base(deb_base()).deb("P-OLD", &deb).build_fails(2);
    run.stderr_has("P-OLD").stderr_has("foo-utils").stderr_has("1:1.0-1").stderr_has("downgrade = true");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn downgrade_is_applied_with_downgrade_true() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let ws = Workspace::new();
    let deb = foo_utils().version("1.5-1").build();
    let image = ws.recipe(NAME).base(deb_base()).deb("P-OLD", &deb).line("downgrade = true").build();
    let status = String::from_utf8(image.data("var/lib/dpkg/status").to_vec()).unwrap();
    assert!(stanza(&status, "foo-utils").contains("Version: 1.5-1\n"), "{status}");
    let b = ws.baseline(NAME, VERSION);
    let deb_record = &tv(&b, &["patch"])[0]["deb"];
    assert_eq!(deb_record["previous"].as_str(), Some("1:1.0-1"), "{deb_record}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn file_of_another_package_without_replaces_is_refused_as_dpkg_refuses_it() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let deb = Deb::new("foo-tools", "1.1-1").file_mode("usr/bin/foo", b"\x7fELF other foo\n", 0o755).build();
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(deb_base()).deb("P-TAKE", &deb).build_fails(2);
    run.stderr_has("P-TAKE").stderr_has("/usr/bin/foo").stderr_has("foo-utils").stderr_has("Replaces");
    let (ok, text) = DebRoot::standard().try_install(&[&deb]);
    assert!(!ok && text.contains("trying to overwrite '/usr/bin/foo'"), "dpkg refuses it too:\n{text}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn unmet_depends_after_the_last_patch_is_refused_naming_package_relation_and_patch() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let utils = foo_utils().version("1:1.1-1").field("Depends", "libfoo1 (>= 1.1), libc6 (>= 2.34) | libc-bin").build();
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(deb_base()).deb("P-UTILS", &utils).build_fails(2);
    run.stderr_has("foo-utils").stderr_has("libfoo1 (>= 1.1)").stderr_has("P-UTILS").stderr_has_ci("depends");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn depends_a_later_patch_satisfies_are_accepted() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let utils = foo_utils().version("1:1.1-1").field("Depends", "libfoo1 (>= 1.1), libc6 (>= 2.34) | libc-bin").build();
    let libfoo = libfoo1().version("1.1-1").build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-UTILS", &utils).deb("P-LIB", &libfoo).build();
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn alternatives_provides_and_any_are_judged_as_dpkg_judges_them() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    // Pre-Depends met by the second alternative, Depends met through Provides, `:any` by a
    // `Multi-Arch: allowed` package, a version with `~`.
    let met = Deb::new("needy", "1.0-1")
        .field("Pre-Depends", "libc6 (>= 2.36) | libc-bin (>= 2.36)")
        .field("Depends", "base, perlapi-5.36.0, perl-base:any (>= 5.36), foo-data (>= 1.0~)")
        .file("usr/share/needy/x", b"x\n")
        .build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-NEEDY", &met).build();
    let (ok, text) = DebRoot::standard().try_install(&[&met]);
    assert!(ok, "dpkg accepts it too:\n{text}");

    // `:any` of a `Multi-Arch: foreign` package, a version above the installed one, a
    // versioned relation on a virtual package (Provides without a version).
    for (relation, named) in
        [("dash:any", "dash:any"), ("libc-bin (>= 2.37~)", "libc-bin (>= 2.37~)"), ("base (>= 1)", "base (>= 1)")]
    {
        let unmet = Deb::new("needy", "1.0-1").field("Depends", relation).file("usr/share/needy/x", b"x\n").build();
        let ws = Workspace::new();
        let run = ws.recipe(NAME).base(deb_base()).deb("P-NEEDY", &unmet).build_fails(2);
        run.stderr_has("needy").stderr_has(named).stderr_has("P-NEEDY");
        let (ok, text) = DebRoot::standard().try_install(&[&unmet]);
        assert!(!ok && text.contains("dependency problems"), "dpkg refuses `Depends: {relation}` too:\n{text}");
    }
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn breaks_or_conflicts_between_installed_packages_are_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let breaking = libfoo1().version("1.1-1").field("Breaks", "foo-utils (<< 1:1.1)").build();
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(deb_base()).deb("P-BREAK", &breaking).build_fails(2);
    run.stderr_has("libfoo1").stderr_has("foo-utils").stderr_has("P-BREAK").stderr_has_ci("breaks");

    let conflicting =
        Deb::new("foo-ng", "2.0-1").field("Conflicts", "foo-utils").file("usr/bin/foo-ng", b"ng\n").build();
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(deb_base()).deb("P-NG", &conflicting).build_fails(2);
    run.stderr_has("foo-ng").stderr_has("foo-utils").stderr_has("P-NG").stderr_has_ci("conflicts");

    // The broken package upgraded past the Breaks in a later patch: accepted.
    let fixed = foo_utils().version("1:1.1-1").build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-BREAK", &breaking).deb("P-FIX", &fixed).build();
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn wrong_architecture_is_refused_as_dpkg_refuses_it() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let deb =
        Deb::new("libbaz2", "2.0-1").arch("arm64").file("usr/lib/aarch64-linux-gnu/libbaz.so.2", b"arm\n").build();
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(deb_base()).deb("P-ARM", &deb).build_fails(2);
    run.stderr_has("P-ARM").stderr_has("arm64").stderr_has("amd64");
    let (ok, text) = DebRoot::standard().try_install(&[&deb]);
    assert!(!ok, "dpkg refuses it too:\n{text}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn deb_onto_a_tree_without_dpkg_status_is_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let deb = Deb::new("baz", "1.0-1").file("usr/share/baz/x", b"x\n").build();
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(base_layer()).deb("P-BAZ", &deb).build_fails(2);
    run.stderr_has("not a dpkg-managed tree").stderr_has("P-BAZ");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn pending_dpkg_updates_in_the_base_are_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let root = DebRoot::standard();
    root.write("var/lib/dpkg/updates/0001", b"Package: dash\nStatus: install ok half-configured\n\n");
    let deb = Deb::new("baz", "1.0-1").file("usr/share/baz/x", b"x\n").build();
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(root.layer()).deb("P-BAZ", &deb).build_fails(2);
    run.stderr_has("dpkg --configure -a");
}

/// A package whose members a test rearranges.
fn members() -> Vec<(String, Vec<u8>)> {
    ar_members(&Deb::new("baz", "1.0-1").file("usr/share/baz/x", b"x\n").build())
}

fn assert_refused(bytes: Vec<u8>, needles: &[&str]) {
    let ws = Workspace::new();
    let run = ws.recipe(NAME).base(deb_base()).deb("P-BAD", &bytes).build_fails(2);
    run.stderr_has("deb-P-BAD.deb");
    for n in needles {
        run.stderr_has(n);
    }
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn deb_with_a_bad_debian_binary_is_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let mut m = members();
    m[0].1 = b"3.0\n".to_vec();
    assert_refused(ar_build(&m), &["debian-binary"]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn deb_without_a_control_member_is_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let mut m = members();
    m.remove(1);
    assert_refused(ar_build(&m), &["control.tar"]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn deb_with_data_before_control_is_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let mut m = members();
    m.swap(1, 2);
    assert_refused(ar_build(&m), &[]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn deb_with_a_member_after_data_tar_is_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let mut m = members();
    m.push(("junk".to_string(), b"not part of a package\n".to_vec()));
    assert_refused(ar_build(&m), &["junk"]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn deb_with_bytes_after_the_last_member_is_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let mut bytes = ar_build(&members());
    bytes.extend_from_slice(b"trailing garbage that is no ar member");
    assert_refused(bytes, &[]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn deb_with_a_control_tar_lacking_control_is_refused() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let mut m = members();
    let (name, _) = m[1].clone();
    let empty = Layer::new().dir("./").file("./md5sums", b"").tar();
    m[1] = (name.replace(".xz", ""), empty);
    assert_refused(ar_build(&m), &["control"]);
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn debian_binary_2_1_and_underscore_members_are_accepted_as_dpkg_accepts_them() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let mut m = members();
    m[0].1 = b"2.1\n".to_vec();
    m.insert(1, ("_gpgorigin".to_string(), b"a detached signature\n".to_vec()));
    let bytes = ar_build(&m);
    let ws = Workspace::new();
    let image = ws.recipe(NAME).base(deb_base()).deb("P-1", &bytes).build();
    assert_eq!(image.data("usr/share/baz/x"), b"x\n");
    let (ok, text) = DebRoot::standard().try_install(&[&bytes]);
    assert!(ok, "dpkg accepts it too:\n{text}");
}

// ---------------------------------------------------------------------------------------------
// install.sh and intake

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_dash, gild_no_root), ignore = "needs dpkg, GNU tar, dash and root")]
fn install_sh_brings_a_host_from_the_base_to_the_image_database_included() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Tool("dash"), Need::Root]);
    let root = DebRoot::standard();
    root.write("etc/foo.conf", b"# edited by the admin\nlevel = 9\n");
    let libfoo = libfoo1_update().conffile("etc/foo.conf", b"# foo configuration\nlevel = 2\n").build();
    let baz = Deb::new("baz", "2.0-1").conffile("etc/baz.conf", b"baz\n").file("usr/share/baz/x", b"x\n").build();
    let ws = Workspace::new();
    let recipe = ws.recipe(NAME).base(root.layer()).deb("P-LIB", &libfoo).deb("P-BAZ", &baz).write();
    ws.gild(&["build", &recipe]).success();
    let image = extract_image(&ws, NAME, VERSION);
    let script = ws.baseline_dir(NAME, VERSION).join("install.sh");
    let run = |host: &DebRoot| {
        std::process::Command::new("dash")
            .arg(&script)
            .env("ROOT", &host.dir)
            .env("ARTIFACTS", ws.path("artifacts"))
            .output()
            .unwrap()
    };
    let out = run(&root);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "install.sh failed:\n{said}");
    assert_trees_equal("install.sh on the base", ("host", &root.dir), ("image", image.path()));
    let again = run(&root);
    assert!(again.status.success(), "a second run is harmless: {}", String::from_utf8_lossy(&again.stderr));
    assert_trees_equal("install.sh run twice", ("host", &root.dir), ("image", image.path()));
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar, gild_no_dash, gild_no_root), ignore = "needs dpkg, GNU tar, dash and root")]
fn install_sh_stops_naming_a_database_file_that_holds_neither_the_base_nor_the_image() {
    require(&[Need::Dpkg, Need::Tool("tar"), Need::Tool("dash"), Need::Root]);
    let root = DebRoot::standard();
    let libfoo = libfoo1_update().build();
    let ws = Workspace::new();
    let recipe = ws.recipe(NAME).base(root.layer()).deb("P-LIB", &libfoo).write();
    ws.gild(&["build", &recipe]).success();
    // The host installed something else since: its status is neither the base's nor the image's.
    root.install(&[&Deb::new("local-tool", "1.0-1").file("usr/share/local/x", b"x\n").build()]);
    let before = read_tree(&root.dir);
    let out = std::process::Command::new("dash")
        .arg(ws.baseline_dir(NAME, VERSION).join("install.sh"))
        .env("ROOT", &root.dir)
        .env("ARTIFACTS", ws.path("artifacts"))
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "install.sh went on:\n{said}");
    assert!(said.contains("var/lib/dpkg/status"), "names the file:\n{said}");
    let diffs = tree_diff(&before, &read_tree(&root.dir), ("before", "after"));
    assert!(diffs.is_empty(), "install.sh changed the host before stopping:\n{}", diffs.join("\n"));
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn intake_of_a_deb_defaults_the_id_and_the_fixes_from_the_package() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let ws = Workspace::new();
    let recipe = ws.recipe(NAME).base(deb_base()).write();
    ws.gild(&["build", &recipe]).success();
    let deb = libfoo1_update().build();
    let art = ws.signed_artifact("libfoo1_1.0-1+deb12u1_amd64.deb", &Layer::new().raw(&deb).without_end(), &["vendor"]);
    assert_eq!(ws.read(&art), deb);
    let args = ["intake", &recipe, &art, "--severity", "high", "--change", "CHG-9", "--approved-by", "a.khan"];
    ws.gild(&args).success();
    let text = ws.read_string(&recipe);
    let t: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let p = &t["patch"][0];
    assert_eq!(p["id"].as_str(), Some("libfoo1_1.0-1+deb12u1_amd64"), "PACKAGE_VERSION_ARCH: {p}");
    let fixes: Vec<&str> = p["fixes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(fixes, ["CVE-2026-1111", "CVE-2026-2222"], "the changelog's CVEs newer than the baseline's 1.0-1");
    ws.gild(&["build", &recipe, "--version", "1.0.1"]).success();
    let b = ws.baseline(NAME, "1.0.1");
    let lib = tv(&b, &["package"]).as_array().unwrap().iter().find(|p| p["name"].as_str() == Some("libfoo1:amd64"));
    assert_eq!(lib.unwrap()["patch"].as_str(), Some("libfoo1_1.0-1+deb12u1_amd64"));
}

// ---------------------------------------------------------------------------------------------
// Records

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn baseline_lists_every_installed_package_with_the_patch_that_installed_it() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let libfoo = libfoo1_update().build();
    let baz = Deb::new("baz", "2.0-1").source("baz-src (2.0)").file("usr/share/baz/x", b"x\n").build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-LIB", &libfoo).deb("P-BAZ", &baz).build();
    let b = ws.baseline(NAME, VERSION);
    let packages = tv(&b, &["package"]).as_array().unwrap();
    let got: Vec<(String, String, String, String)> = packages
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("[[package]] without {k}: {p}")).to_string();
            (s("name"), s("version"), s("architecture"), s("patch"))
        })
        .collect();
    let want = [
        ("base-files", "12.4+deb12u5", "amd64", "base"),
        ("baz", "2.0-1", "amd64", "P-BAZ"),
        ("dash", "0.5.12-2", "amd64", "base"),
        ("dpkg", "1.21.22", "amd64", "base"),
        ("foo-data", "1.0-1", "all", "base"),
        ("foo-utils", "1:1.0-1", "amd64", "base"),
        ("libc-bin", "2.36-9+deb12u7", "amd64", "base"),
        ("libfoo1:amd64", "1.0-1+deb12u1", "amd64", "P-LIB"),
        ("man-db", "2.11.2-2", "amd64", "base"),
        ("perl-base", "5.36.0-7+deb12u1", "amd64", "base"),
    ];
    let want: Vec<(String, String, String, String)> =
        want.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string())).collect();
    assert_eq!(got, want, "[[package]] of baseline.toml");
    let utils = packages.iter().find(|p| p["name"].as_str() == Some("foo-utils")).unwrap();
    assert_eq!(utils["source"].as_str(), Some("foo"), "{utils}");
    assert_eq!(utils["source-version"].as_str(), Some("1.0-1"), "from `Source: foo (1.0-1)`: {utils}");
    let baz = packages.iter().find(|p| p["name"].as_str() == Some("baz")).unwrap();
    assert_eq!(baz["source"].as_str(), Some("baz-src"), "{baz}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn patch_deb_records_package_previous_version_scripts_and_triggers() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let libfoo = libfoo1_update().file("usr/share/man/man3/foo.3.gz", b"foo(3)\n").build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-LIB", &libfoo).build();
    let b = ws.baseline(NAME, VERSION);
    let d = &tv(&b, &["patch"])[0]["deb"];
    assert_eq!(d["package"].as_str(), Some("libfoo1:amd64"), "{d}");
    assert_eq!(d["version"].as_str(), Some("1.0-1+deb12u1"), "{d}");
    assert_eq!(d["architecture"].as_str(), Some("amd64"), "{d}");
    assert_eq!(d["previous"].as_str(), Some("1.0-1"), "{d}");
    assert_eq!(d["scripts"].as_array().map(|a| a.len()), Some(1), "prerm only: {d}");
    assert_eq!(d["scripts"][0].as_str(), Some("prerm"), "{d}");
    let triggers = d["triggers"].to_string();
    assert!(triggers.contains("ldconfig"), "activate-noawait ldconfig: {d}");
    assert!(triggers.contains("/usr/share/man") && triggers.contains("man-db"), "man-db's file trigger: {d}");
    let release = ws.read_string(ws.baseline_dir(NAME, VERSION).join("RELEASE.md"));
    assert!(release.to_lowercase().contains("not run at build time"), "{release}");
    assert!(release.contains("prerm") && release.contains("ldconfig"), "{release}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn fixes_default_to_the_changelog_cves_newer_than_the_installed_version() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let libfoo = libfoo1_update().build();
    let baz = Deb::new("baz", "2.0-1")
        .changelog("baz", &[("2.0-1", &["CVE-2026-3333"]), ("1.0-1", &["CVE-2024-4444"])])
        .build();
    let ws = Workspace::new();
    let recipe = ws.recipe(NAME).base(deb_base()).deb("P-LIB", &libfoo).deb("P-BAZ", &baz).write();
    drop_default_fixes(&ws, &recipe);
    assert!(!ws.read_string(&recipe).contains("fixes"), "the recipe gives no fixes");
    ws.gild(&["build", &recipe]).success();
    let b = ws.baseline(NAME, VERSION);
    let fixes = |i: usize| -> Vec<String> {
        tv(&b, &["patch"])[i]["fixes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(fixes(0), ["CVE-2026-1111", "CVE-2026-2222"], "entries newer than 1.0-1 only");
    let mut new_pkg = fixes(1);
    new_pkg.sort();
    assert_eq!(new_pkg, ["CVE-2024-4444", "CVE-2026-3333"], "every entry of a package that was not installed");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn explicit_fixes_are_kept_and_the_changelog_cves_recorded_beside_them() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let libfoo = libfoo1_update().build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-LIB", &libfoo).line("fixes = [\"CVE-2026-9999\"]").build();
    let b = ws.baseline(NAME, VERSION);
    let p = &tv(&b, &["patch"])[0];
    assert_eq!(p["fixes"].as_array().unwrap(), &[toml::Value::from("CVE-2026-9999")], "{p}");
    let from_changelog = p["deb"]["changelog-fixes"].as_array().unwrap_or_else(|| panic!("no changelog-fixes: {p}"));
    assert_eq!(from_changelog, &[toml::Value::from("CVE-2026-1111"), toml::Value::from("CVE-2026-2222")], "{p}");
}

/// The lines of RELEASE.md's `## Package changes` section.
fn package_changes(release: &str) -> Vec<&str> {
    let section =
        release.split("## Package changes").nth(1).unwrap_or_else(|| panic!("no package changes:\n{release}"));
    section.split("\n## ").next().unwrap().lines().filter(|l| l.starts_with("- ")).collect()
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn release_notes_show_the_package_change_with_its_cves() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let libfoo = libfoo1_update().build();
    let ws = Workspace::new();
    let recipe = ws.recipe(NAME).base(deb_base()).deb("P-LIB", &libfoo).write();
    drop_default_fixes(&ws, &recipe);
    ws.gild(&["build", &recipe]).success();
    let release = ws.read_string(ws.baseline_dir(NAME, VERSION).join("RELEASE.md"));
    for want in ["libfoo1", "1.0-1 → 1.0-1+deb12u1", "CVE-2026-1111", "CVE-2026-2222"] {
        assert!(release.contains(want), "RELEASE.md lacks {want}:\n{release}");
    }
    let changes = package_changes(&release);
    assert!(changes.iter().any(|l| l.contains("libfoo1") && l.contains("CVE-2026-1111")), "{release}");
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn release_notes_of_a_first_build_show_an_upgrade_as_an_upgrade() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let libfoo = libfoo1_update().build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-LIB", &libfoo).build();
    let release = ws.read_string(ws.baseline_dir(NAME, VERSION).join("RELEASE.md"));
    let changes = package_changes(&release);
    let line = changes.iter().find(|l| l.contains("libfoo1")).unwrap_or_else(|| panic!("{release}"));
    assert!(line.contains("1.0-1 → 1.0-1+deb12u1"), "libfoo1 was upgraded from the base's 1.0-1, not new: {line}");
}

/// Undoes purl percent-encoding.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn sbom_lists_every_package_as_dpkg_query_sees_the_image() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let libfoo = libfoo1_update().build();
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).deb("P-LIB", &libfoo).build();
    let text = ws.read_string(ws.baseline_dir(NAME, VERSION).join("sbom.cdx.json"));
    let sbom: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("sbom.cdx.json: {e}\n{text}"));
    assert_eq!(sbom["bomFormat"], "CycloneDX", "{sbom}");
    assert_eq!(sbom["specVersion"], "1.5", "{sbom}");
    assert!(sbom["metadata"]["component"]["name"].as_str().is_some_and(|n| n.contains(NAME)), "{sbom}");
    assert!(
        sbom["metadata"]["timestamp"].as_str().is_some_and(|t| t.starts_with("2025-11-22T00:00:00")),
        "the epoch as timestamp: {}",
        sbom["metadata"]
    );
    assert!(!text.contains("urn:uuid:") || sbom["serialNumber"].is_null(), "no random serial number");
    let components = sbom["components"].as_array().unwrap();
    let os = components.iter().find(|c| c["type"] == "operating-system").unwrap_or_else(|| panic!("no OS: {sbom}"));
    assert_eq!(os["name"], "debian", "{os}");
    assert!(os["version"].as_str().is_some_and(|v| v.starts_with("12")), "{os}");

    let image = extract_image(&ws, NAME, VERSION);
    let mut want: Vec<String> =
        dpkg_query(image.path(), "${Package} ${Version} ${Architecture}\n").lines().map(str::to_string).collect();
    want.sort();
    let mut got = Vec::new();
    let mut refs = Vec::new();
    for c in components.iter().filter(|c| c["purl"].as_str().is_some_and(|p| p.starts_with("pkg:deb/"))) {
        let purl = c["purl"].as_str().unwrap();
        assert!(!purl.contains('+'), "`+` is %2B in a purl: {purl}");
        let rest = purl.strip_prefix("pkg:deb/debian/").unwrap_or_else(|| panic!("namespace debian: {purl}"));
        let (name_version, query) = rest.split_once('?').unwrap();
        let (name, version) = name_version.split_once('@').unwrap();
        let q: std::collections::BTreeMap<&str, String> =
            query.split('&').map(|kv| kv.split_once('=').unwrap()).map(|(k, v)| (k, percent_decode(v))).collect();
        assert_eq!(q.get("distro").map(String::as_str), Some("debian-12"), "{purl}");
        let src = c["properties"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "aquasecurity:trivy:SrcName"))
            .unwrap_or_else(|| panic!("no SrcName: {c}"));
        let src = src["value"].as_str().unwrap();
        // `upstream` may be left out when the source is named like the package (as syft
        // does; grype then takes the package name).
        match q.get("upstream") {
            Some(up) => assert!(up == src || up.starts_with(&format!("{src}@")), "{purl} vs {c}"),
            None => assert_eq!(percent_decode(name), src, "no upstream= though the source differs: {purl}"),
        }
        got.push(format!("{} {} {}", percent_decode(name), percent_decode(version), q["arch"]));
        refs.push(c["bom-ref"].clone());
    }
    got.sort();
    assert_eq!(got, want, "purls against dpkg-query -W of the image");
    // trivy's properties split the source version: upstream part and Debian revision.
    let utils = components.iter().find(|c| c["name"] == "foo-utils").unwrap();
    let prop = |name: &str| {
        let ps = utils["properties"].as_array().unwrap();
        ps.iter().find(|p| p["name"] == name).map(|p| p["value"].as_str().unwrap().to_string())
    };
    assert_eq!(prop("aquasecurity:trivy:SrcName").as_deref(), Some("foo"), "{utils}");
    let src_version = match prop("aquasecurity:trivy:SrcRelease") {
        Some(release) => format!("{}-{release}", prop("aquasecurity:trivy:SrcVersion").unwrap()),
        None => prop("aquasecurity:trivy:SrcVersion").unwrap(),
    };
    assert_eq!(src_version, "1.0-1", "from `Source: foo (1.0-1)`, not the binary's 1:1.0-1: {utils}");
    let deps = sbom["dependencies"].as_array().unwrap_or_else(|| panic!("no dependencies: {sbom}"));
    let os_deps = deps.iter().find(|d| d["ref"] == os["bom-ref"]).unwrap_or_else(|| panic!("OS depends on: {sbom}"));
    for r in &refs {
        assert!(os_deps["dependsOn"].as_array().unwrap().contains(r), "OS does not depend on {r}");
    }
}

#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn diff_of_two_baselines_lists_package_changes_before_paths() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let ws = Workspace::new();
    ws.recipe(NAME).base(deb_base()).build();
    let libfoo = libfoo1_update().build();
    let baz = Deb::new("baz", "2.0-1").file("usr/share/baz/x", b"x\n").build();
    ws.recipe(NAME).version("1.0.1").base(deb_base()).deb("P-LIB", &libfoo).deb("P-BAZ", &baz).build();
    let run = ws.gild(&["diff", &format!("{NAME}@1.0.0"), &format!("{NAME}@1.0.1")]);
    run.exit(1);
    let out = &run.stdout;
    let change = out.lines().position(|l| l.contains("libfoo1") && l.contains("1.0-1 → 1.0-1+deb12u1"));
    let change = change.unwrap_or_else(|| panic!("no `libfoo1 1.0-1 → 1.0-1+deb12u1` line:\n{out}"));
    let added = out.lines().position(|l| l.contains("baz") && l.contains("2.0-1") && !l.contains("usr/"));
    assert!(added.is_some(), "baz added:\n{out}");
    let path = out.lines().position(|l| l.contains("usr/share/foo/new.dat")).unwrap_or(usize::MAX);
    assert!(change < path, "packages before paths:\n{out}");
    let release = ws.read_string(ws.baseline_dir(NAME, "1.0.1").join("RELEASE.md"));
    let changes = package_changes(&release);
    assert!(changes.iter().any(|l| l.contains("libfoo1") && l.contains("1.0-1 → 1.0-1+deb12u1")), "{release}");
    assert!(changes.iter().any(|l| l.contains("baz") && l.contains("new")), "{release}");
    assert_eq!(changes.len(), 2, "only what changed since 1.0.0: {changes:?}");
}
