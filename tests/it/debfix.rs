//! Fixtures and judges for the Debian package tests (docs/debian.md).
//!
//! - [`DebRoot`]: a small dpkg-managed root made by the real dpkg (`dpkg --root=DIR -i`,
//!   scriptless), so its `status`, `info/` and `triggers/` are byte for byte what dpkg
//!   writes; [`deb_base`] is it as a base layer.
//! - [`Deb`]: a `.deb` built by the real `dpkg-deb --build --root-owner-group`.
//! - The judges: [`extract_image`] (GNU tar), [`DebRoot::install`] (the real dpkg on a copy
//!   of the base) and [`assert_same_tree`], which names every path that differs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use md5::{Digest, Md5};

use crate::harness::*;

/// The base's native architecture (its `dpkg` package's).
pub const ARCH: &str = "amd64";
pub const MAINTAINER: &str = "Gild Tests <tests@example.org>";
/// The recipe every Debian test builds.
pub const NAME: &str = "deb";
pub const VERSION: &str = "1.0.0";

pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs a stock tool; returns whether it succeeded and its stdout and stderr together.
pub fn run_tool(cmd: &mut Command) -> (bool, String) {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// dpkg and its helpers, with `sbin` on the PATH (dpkg looks for `ldconfig` there) and no
/// colour or pager.
pub fn dpkg_command(tool: &str) -> Command {
    let mut cmd = Command::new(tool);
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{path}:/usr/sbin:/sbin"))
        .env("DPKG_COLORS", "never")
        .env("DPKG_PAGER", "cat")
        .env("LC_ALL", "C.UTF-8")
        .env("SOURCE_DATE_EPOCH", LAYER_MTIME.to_string());
    cmd
}

// ---------------------------------------------------------------------------------------------
// .deb files

#[derive(Clone, Debug)]
enum Data {
    Dir(String, u32),
    File(String, Vec<u8>, u32),
    Symlink(String, String),
    /// A hard link to a file given before.
    Hardlink(String, String),
}

impl Data {
    fn path(&self) -> &str {
        match self {
            Data::Dir(p, _) | Data::File(p, _, _) | Data::Symlink(p, _) | Data::Hardlink(p, _) => p,
        }
    }
}

/// What goes in the control tar's `md5sums`.
#[derive(Clone, Debug)]
pub enum Md5sums {
    /// As `dh_md5sums` writes it: every regular file but the conffiles, sorted by path.
    Auto,
    /// No `md5sums` member: dpkg computes it at install.
    Omit,
}

/// A Debian binary package, built by the real `dpkg-deb`.
#[derive(Clone, Debug)]
pub struct Deb {
    pub package: String,
    pub version: String,
    pub arch: String,
    source: Option<String>,
    fields: Vec<(String, String)>,
    data: Vec<Data>,
    conffiles: Vec<String>,
    members: Vec<(String, Vec<u8>, u32)>,
    md5sums: Md5sums,
    compression: String,
    /// (source name, entries newest first: version and the CVEs it names).
    changelog: Option<(String, Vec<ChangelogEntry>)>,
}

/// One changelog entry: its version and the CVEs it names.
type ChangelogEntry = (String, Vec<String>);

impl Deb {
    pub fn new(package: &str, version: &str) -> Deb {
        Deb {
            package: package.to_string(),
            version: version.to_string(),
            arch: ARCH.to_string(),
            source: None,
            fields: Vec::new(),
            data: Vec::new(),
            conffiles: Vec::new(),
            members: Vec::new(),
            md5sums: Md5sums::Auto,
            compression: "xz".to_string(),
            changelog: None,
        }
    }

    pub fn arch(mut self, arch: &str) -> Deb {
        self.arch = arch.to_string();
        self
    }

    pub fn version(mut self, version: &str) -> Deb {
        self.version = version.to_string();
        self
    }

    /// `Source: NAME` or `Source: NAME (VERSION)`.
    pub fn source(mut self, source: &str) -> Deb {
        self.source = Some(source.to_string());
        self
    }

    /// A control field, written in the order given (after `Installed-Size`).
    pub fn field(mut self, name: &str, value: &str) -> Deb {
        self.fields.retain(|(n, _)| n != name);
        self.fields.push((name.to_string(), value.to_string()));
        self
    }

    pub fn dir(mut self, path: &str) -> Deb {
        self.data.push(Data::Dir(path.to_string(), 0o755));
        self
    }

    pub fn dir_mode(mut self, path: &str, mode: u32) -> Deb {
        self.data.push(Data::Dir(path.to_string(), mode));
        self
    }

    /// A regular file `0644` (a path like `usr/bin/x`, as the package ships it).
    pub fn file(self, path: &str, data: &[u8]) -> Deb {
        self.file_mode(path, data, 0o644)
    }

    pub fn file_mode(mut self, path: &str, data: &[u8], mode: u32) -> Deb {
        self.data.retain(|d| d.path() != path);
        self.data.push(Data::File(path.to_string(), data.to_vec(), mode));
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Deb {
        self.data.retain(|d| d.path() != path);
        self.data.push(Data::Symlink(path.to_string(), target.to_string()));
        self
    }

    /// A hard link to a file given before (`dpkg-deb` stores it as a tar hard link).
    pub fn hardlink(mut self, path: &str, target: &str) -> Deb {
        self.data.retain(|d| d.path() != path);
        self.data.push(Data::Hardlink(path.to_string(), target.to_string()));
        self
    }

    /// Drops a data path (file, link or directory given before).
    pub fn without(mut self, path: &str) -> Deb {
        self.data.retain(|d| d.path() != path);
        self.conffiles.retain(|c| c.trim_start_matches('/') != path);
        self
    }

    /// A file listed in `conffiles`.
    pub fn conffile(mut self, path: &str, data: &[u8]) -> Deb {
        let listed = format!("/{path}");
        if !self.conffiles.contains(&listed) {
            self.conffiles.push(listed);
        }
        self.file(path, data)
    }

    /// A maintainer script (`postinst`, `prerm`…): harmless, since dpkg runs it on the host
    /// under `--force-script-chrootless`.
    pub fn script(mut self, name: &str) -> Deb {
        let body = format!("#!/bin/sh\nset -e\n# {name} of {}: nothing to do in tests\nexit 0\n", self.package);
        self.members.retain(|(n, _, _)| n != name);
        self.members.push((name.to_string(), body.into_bytes(), 0o755));
        self
    }

    pub fn without_member(mut self, name: &str) -> Deb {
        self.members.retain(|(n, _, _)| n != name);
        self
    }

    /// Another control member (`shlibs`, `triggers`, `symbols`…), `0644`.
    pub fn member(mut self, name: &str, data: &str) -> Deb {
        self.members.retain(|(n, _, _)| n != name);
        self.members.push((name.to_string(), data.as_bytes().to_vec(), 0o644));
        self
    }

    pub fn md5sums(mut self, m: Md5sums) -> Deb {
        self.md5sums = m;
        self
    }

    /// `-Zgzip`, `-Zxz`, `-Zzstd` or `-Znone`.
    pub fn compression(mut self, c: &str) -> Deb {
        self.compression = c.to_string();
        self
    }

    /// `usr/share/doc/PACKAGE/changelog.Debian.gz` with these entries, newest first, each
    /// naming its CVEs.
    pub fn changelog(mut self, source: &str, entries: &[(&str, &[&str])]) -> Deb {
        let entries =
            entries.iter().map(|(v, cves)| (v.to_string(), cves.iter().map(|c| c.to_string()).collect())).collect();
        self.changelog = Some((source.to_string(), entries));
        self
    }

    fn changelog_text(&self) -> Option<String> {
        let (source, entries) = self.changelog.as_ref()?;
        let mut t = String::new();
        for (i, (version, cves)) in entries.iter().enumerate() {
            writeln!(t, "{source} ({version}) bookworm-security; urgency=high\n").unwrap();
            writeln!(t, "  * Non-maintainer upload by the Security Team.").unwrap();
            for cve in cves {
                writeln!(t, "  * Fix {cve}: out-of-bounds write in the parser.").unwrap();
            }
            if cves.is_empty() {
                writeln!(t, "  * Rebuild; no security content (bug #10{i}).").unwrap();
            }
            writeln!(t, "\n -- {MAINTAINER}  Tue, {:02} Nov 2026 12:00:00 +0000\n", 20 - i.min(19)).unwrap();
        }
        Some(t)
    }

    fn control_text(&self, installed_kib: u64) -> String {
        let mut t = format!("Package: {}\n", self.package);
        if let Some(s) = &self.source {
            writeln!(t, "Source: {s}").unwrap();
        }
        writeln!(t, "Version: {}\nArchitecture: {}\nMaintainer: {MAINTAINER}", self.version, self.arch).unwrap();
        writeln!(t, "Installed-Size: {installed_kib}").unwrap();
        for (k, v) in &self.fields {
            writeln!(t, "{k}: {v}").unwrap();
        }
        writeln!(t, "Description: {} for the gild tests\n Built by dpkg-deb in code; nothing real.", self.package)
            .unwrap();
        t
    }

    /// Every data entry, the changelog included.
    fn all_data(&self) -> Vec<Data> {
        let mut data = self.data.clone();
        if let Some(text) = self.changelog_text() {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(text.as_bytes()).unwrap();
            data.push(Data::File(
                format!("usr/share/doc/{}/changelog.Debian.gz", self.package),
                gz.finish().unwrap(),
                0o644,
            ));
        }
        data
    }

    /// The `.deb`'s bytes, built by `dpkg-deb --build --root-owner-group -Z…`.
    pub fn build(&self) -> Vec<u8> {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkg");
        let debian = root.join("DEBIAN");
        std::fs::create_dir_all(&debian).unwrap();
        let data = self.all_data();
        let mut explicit_dirs = BTreeMap::new();
        let mut size = 0u64;
        for d in &data {
            let p = root.join(d.path());
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            match d {
                Data::Dir(_, mode) => {
                    std::fs::create_dir_all(&p).unwrap();
                    explicit_dirs.insert(p.clone(), *mode);
                }
                Data::File(_, bytes, mode) => {
                    std::fs::write(&p, bytes).unwrap();
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
                    size += bytes.len() as u64;
                }
                Data::Symlink(_, target) => std::os::unix::fs::symlink(target, &p).unwrap(),
                Data::Hardlink(_, target) => std::fs::hard_link(root.join(target), &p).unwrap(),
            }
        }
        // Directories 0755 whatever the umask, unless given.
        for e in walkdir::WalkDir::new(&root) {
            let e = e.unwrap();
            if e.file_type().is_dir() {
                let mode = explicit_dirs.get(e.path()).copied().unwrap_or(0o755);
                std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        let kib = size.div_ceil(1024).max(1);
        let control = |name: &str, bytes: &[u8], mode: u32| {
            let p = debian.join(name);
            std::fs::write(&p, bytes).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        control("control", self.control_text(kib).as_bytes(), 0o644);
        if !self.conffiles.is_empty() {
            let text: String = self.conffiles.iter().map(|c| format!("{c}\n")).collect();
            control("conffiles", text.as_bytes(), 0o644);
        }
        if let Md5sums::Auto = self.md5sums {
            let mut files: Vec<(&str, &[u8])> = data
                .iter()
                .filter_map(|d| match d {
                    Data::File(p, b, _) if !self.conffiles.contains(&format!("/{p}")) => Some((p.as_str(), &b[..])),
                    _ => None,
                })
                .collect();
            files.sort();
            let text: String = files.iter().map(|(p, b)| format!("{}  {p}\n", md5_hex(b))).collect();
            if !text.is_empty() {
                control("md5sums", text.as_bytes(), 0o644);
            }
        }
        for (name, bytes, mode) in &self.members {
            control(name, bytes, *mode);
        }
        let out = tmp.path().join("out.deb");
        let (ok, text) = run_tool(
            dpkg_command("dpkg-deb")
                .arg("--build")
                .arg("--root-owner-group")
                .arg(format!("-Z{}", self.compression))
                .arg(&root)
                .arg(&out),
        );
        assert!(ok, "dpkg-deb --build of {} {} failed:\n{text}", self.package, self.version);
        std::fs::read(&out).unwrap()
    }
}

/// Whether this `dpkg-deb` can build with `-Z` of this compressor.
pub fn dpkg_deb_supports(compression: &str) -> bool {
    let (_, help) = run_tool(dpkg_command("dpkg-deb").arg("--help"));
    help.lines().any(|l| l.contains("Allowed types") && l.contains(compression))
}

// ---------------------------------------------------------------------------------------------
// ar, for taking a .deb apart and putting broken ones together

/// The members of an `ar` archive: name (without padding or a trailing `/`) and bytes.
pub fn ar_members(ar: &[u8]) -> Vec<(String, Vec<u8>)> {
    assert!(ar.starts_with(b"!<arch>\n"), "not an ar archive");
    let mut out = Vec::new();
    let mut at = 8;
    while at + 60 <= ar.len() {
        let h = &ar[at..at + 60];
        let name = String::from_utf8_lossy(&h[..16]).trim_end().trim_end_matches('/').to_string();
        let size: usize = String::from_utf8_lossy(&h[48..58]).trim().parse().unwrap();
        out.push((name, ar[at + 60..at + 60 + size].to_vec()));
        at += 60 + size + size % 2;
    }
    out
}

/// An `ar` archive of these members, as `dpkg-deb` writes one.
pub fn ar_build(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let h = format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", 0, 0, 0, "100644", data.len());
        assert_eq!(h.len(), 60);
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The packages of the base

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
bin:x:2:2:bin:/bin:/usr/sbin/nologin\nman:x:6:12:man:/var/cache/man:/usr/sbin/nologin\n\
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
pub const GROUP: &str = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nmail:x:8:\nman:x:12:\nstaff:x:50:\nnogroup:x:65534:\n";
pub const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n\
HOME_URL=\"https://www.debian.org/\"\n";

/// The base's `/etc/foo.conf`.
pub const FOO_CONF: &[u8] = b"# foo configuration\nlevel = 1\n";

pub fn dpkg_pkg() -> Deb {
    Deb::new("dpkg", "1.21.22")
        .field("Essential", "yes")
        .field("Priority", "required")
        .field("Section", "admin")
        .field("Multi-Arch", "foreign")
        .field("Pre-Depends", "libc6 (>= 2.34) | libc-bin")
        .field("Suggests", "apt, debsig-verify")
        .field("Breaks", "libapt-pkg5.0 (<< 1.7~b), lsb-base (<< 10.2019031300)")
        .conffile("etc/dpkg/dpkg.cfg", b"# dpkg configuration file\n")
        .file("usr/share/doc/dpkg/copyright", b"GPL-2+\n")
        .dir("var/lib/dpkg")
        .dir("var/lib/dpkg/info")
        .dir("var/lib/dpkg/updates")
        .dir("var/lib/dpkg/alternatives")
}

pub fn base_files() -> Deb {
    Deb::new("base-files", "12.4+deb12u5")
        .field("Essential", "yes")
        .field("Priority", "required")
        .field("Section", "admin")
        .field("Provides", "base")
        .field("Replaces", "base, dpkg (<= 1.15.0), miscutils")
        .conffile("etc/debian_version", b"12.5\n")
        .file("usr/lib/os-release", OS_RELEASE.as_bytes())
        .symlink("etc/os-release", "../usr/lib/os-release")
        .dir_mode("tmp", 0o1777)
        .dir("var/lib")
        .dir("var/cache")
        .file("usr/share/doc/base-files/README", b"base files\n")
}

/// dash, shipping `/bin/sh` and `/bin/dash` through the usr-merge symlink; the base diverts
/// `/bin/sh` to `/bin/sh.distrib` for it.
pub fn dash() -> Deb {
    Deb::new("dash", "0.5.12-2")
        .field("Essential", "yes")
        .field("Priority", "required")
        .field("Section", "shells")
        .field("Multi-Arch", "foreign")
        .field("Pre-Depends", "libc6 (>= 2.34) | libc-bin")
        .field("Homepage", "http://gondor.apana.org.au/~herbert/dash/")
        .file_mode("bin/dash", b"\x7fELF dash\n", 0o755)
        .symlink("bin/sh", "dash")
        .file("usr/share/man/man1/dash.1.gz", b"dash(1)\n")
        .script("postinst")
}

pub fn libc_bin() -> Deb {
    Deb::new("libc-bin", "2.36-9+deb12u7")
        .source("glibc")
        .field("Essential", "yes")
        .field("Priority", "required")
        .field("Section", "libs")
        .field("Multi-Arch", "foreign")
        .file_mode("sbin/ldconfig", b"\x7fELF ldconfig\n", 0o755)
        .member("triggers", "# Triggers added by dh_makeshlibs\ninterest-noawait ldconfig\n")
}

/// man-db: a file trigger on `/usr/share/man`.
pub fn man_db() -> Deb {
    Deb::new("man-db", "2.11.2-2")
        .field("Priority", "standard")
        .field("Section", "doc")
        .file_mode("usr/bin/man", b"\x7fELF man\n", 0o755)
        .member("triggers", "interest-noawait /usr/share/man\n")
}

/// perl-base: `Multi-Arch: allowed`, so `perl-base:any` satisfies a dependency.
pub fn perl_base() -> Deb {
    Deb::new("perl-base", "5.36.0-7+deb12u1")
        .source("perl")
        .field("Essential", "yes")
        .field("Priority", "required")
        .field("Section", "perl")
        .field("Multi-Arch", "allowed")
        .field("Provides", "libperl-base, perlapi-5.36.0")
        .file_mode("usr/bin/perl", b"\x7fELF perl\n", 0o755)
}

/// libfoo1 1.0-1: a `Multi-Arch: same` library with a conffile, shlibs, an ldconfig trigger
/// and a changelog naming CVEs.
pub fn libfoo1() -> Deb {
    Deb::new("libfoo1", "1.0-1")
        .source("foo")
        .field("Priority", "optional")
        .field("Section", "libs")
        .field("Multi-Arch", "same")
        .field("Depends", "libc6 (>= 2.34) | libc-bin")
        .file("usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0", b"\x7fELF libfoo 1.0\n")
        .symlink("usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1.0.0")
        .file("usr/lib/x86_64-linux-gnu/foo1/plugin.so", b"\x7fELF foo plugin\n")
        .file("usr/share/foo/old.dat", b"old data\n")
        .conffile("etc/foo.conf", FOO_CONF)
        .member("shlibs", "libfoo 1 libfoo1 (>= 1.0)\n")
        .member("triggers", "# Triggers added by dh_makeshlibs\nactivate-noawait ldconfig\n")
        .script("postinst")
        .changelog("foo", &[("1.0-1", &["CVE-2025-0001"])])
}

/// foo-utils 1:1.0-1 (an epoch; source `foo 1.0-1`): `/usr/bin/foo-lock` has a stat override
/// (`root mail 2755`) in the base.
pub fn foo_utils() -> Deb {
    Deb::new("foo-utils", "1:1.0-1")
        .source("foo (1.0-1)")
        .field("Priority", "optional")
        .field("Section", "utils")
        .field("Depends", "libfoo1 (>= 1.0-1), libc6 (>= 2.34) | libc-bin")
        .file_mode("usr/bin/foo", b"\x7fELF foo\n", 0o755)
        .file_mode("usr/bin/foo-lock", b"\x7fELF foo-lock\n", 0o755)
        .file("usr/share/man/man1/foo.1.gz", b"foo(1)\n")
}

/// foo-data: `Architecture: all`, with an unknown field (`Homepage`).
pub fn foo_data() -> Deb {
    Deb::new("foo-data", "1.0-1")
        .arch("all")
        .source("foo")
        .field("Priority", "optional")
        .field("Section", "misc")
        .field("Multi-Arch", "foreign")
        .field("Homepage", "https://foo.example.org/")
        .file("usr/share/foo/data.txt", b"data\n")
}

/// Every package of the base, in the order dpkg installs them.
pub fn base_packages() -> Vec<Deb> {
    vec![libc_bin(), dpkg_pkg(), base_files(), dash(), man_db(), perl_base(), libfoo1(), foo_utils(), foo_data()]
}

// ---------------------------------------------------------------------------------------------
// A dpkg-managed root

/// A root directory dpkg manages, in a temporary directory.
pub struct DebRoot {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

fn root_uid() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl DebRoot {
    /// An empty root ready for `dpkg --root`: `var/lib/dpkg/{status,available,info,…}`, the
    /// usr-merge symlinks, `etc/passwd` and `etc/group`.
    pub fn empty() -> DebRoot {
        let tmp = tempfile::Builder::new().prefix("gild-debroot-").tempdir().unwrap();
        let dir = tmp.path().join("root");
        for d in [
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "var/lib/dpkg/triggers",
            "var/lib/dpkg/alternatives",
            "usr/bin",
            "usr/sbin",
            "usr/lib/x86_64-linux-gnu",
            "etc",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        for (link, target) in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib")] {
            std::os::unix::fs::symlink(target, dir.join(link)).unwrap();
        }
        let root = DebRoot { _tmp: tmp, dir };
        root.write("var/lib/dpkg/status", b"");
        root.write("var/lib/dpkg/available", b"");
        root.write("etc/passwd", PASSWD.as_bytes());
        root.write("etc/group", GROUP.as_bytes());
        for e in walkdir::WalkDir::new(&root.dir) {
            let e = e.unwrap();
            if e.file_type().is_dir() {
                std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        root
    }

    /// The standard base: [`base_packages`] installed by the real dpkg, dash's diversion of
    /// `/bin/sh` and a stat override of `/usr/bin/foo-lock`. Built once per test run; each
    /// call extracts a fresh copy (with GNU tar).
    pub fn standard() -> DebRoot {
        let tar = standard_tar();
        let root = DebRoot::empty_dir();
        let mut child = Command::new("tar")
            .args(["-xpf", "-", "--numeric-owner", "-C"])
            .arg(&root.dir)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&tar).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "tar -x of the base: {}", String::from_utf8_lossy(&out.stderr));
        root
    }

    fn empty_dir() -> DebRoot {
        let tmp = tempfile::Builder::new().prefix("gild-debroot-").tempdir().unwrap();
        let dir = tmp.path().join("root");
        std::fs::create_dir(&dir).unwrap();
        DebRoot { _tmp: tmp, dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }

    /// `dpkg --root=DIR` with scripts run outside a chroot (ours do nothing), no log,
    /// `--force-confold`, and `args`.
    pub fn dpkg(&self, args: &[&str]) -> (bool, String) {
        let mut cmd = dpkg_command("dpkg");
        cmd.arg(format!("--root={}", self.dir.display()))
            .args(["--force-script-chrootless", "--force-not-root", "--force-confold", "--force-unsafe-io"])
            .arg("--log=/dev/null")
            .args(args);
        run_tool(&mut cmd)
    }

    /// Installs the packages with `dpkg -i` in one run; returns whether dpkg succeeded and
    /// what it said.
    pub fn try_install(&self, debs: &[&[u8]]) -> (bool, String) {
        self.try_install_with(&[], debs)
    }

    /// [`DebRoot::try_install`] with more dpkg options (`--force-hold`).
    pub fn try_install_with(&self, options: &[&str], debs: &[&[u8]]) -> (bool, String) {
        let tmp = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        args.push("-i".to_string());
        for (i, deb) in debs.iter().enumerate() {
            let p = tmp.path().join(format!("{i}.deb"));
            std::fs::write(&p, deb).unwrap();
            args.push(p.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.dpkg(&args)
    }

    /// `dpkg --root=DIR ARGS` with `input` on its standard input (`--set-selections`).
    pub fn dpkg_with_input(&self, args: &[&str], input: &str) -> (bool, String) {
        let mut child = dpkg_command("dpkg")
            .arg(format!("--root={}", self.dir.display()))
            .args(["--force-not-root", "--log=/dev/null"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// Installs the packages with the real dpkg, or panics with what dpkg said.
    pub fn install(&self, debs: &[&[u8]]) -> String {
        let (ok, text) = self.try_install(debs);
        assert!(ok, "dpkg -i failed on the reference copy:\n{text}");
        text
    }

    /// The root as a base layer: every entry in path order, modes and (as root) owners kept;
    /// not root, everything is `0:0`.
    pub fn layer(&self) -> Layer {
        let mut layer = Layer::new().dir("./");
        let keep_owners = root_uid();
        let walk = walkdir::WalkDir::new(&self.dir).min_depth(1).sort_by_file_name();
        for e in walk {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(&self.dir).unwrap();
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let (uid, gid) = if keep_owners { (u64::from(md.uid()), u64::from(md.gid())) } else { (0, 0) };
            let mode = md.mode() & 0o7777;
            let name = format!("./{}", rel.display());
            let ft = md.file_type();
            let entry = if ft.is_dir() {
                TarEntry { mode, uid, gid, ..TarEntry::new(b'5', format!("{name}/")) }
            } else if ft.is_symlink() {
                let target = std::fs::read_link(e.path()).unwrap();
                TarEntry { uid, gid, link: target.display().to_string().into_bytes(), ..TarEntry::new(b'2', &name) }
            } else if ft.is_file() {
                TarEntry { mode, uid, gid, data: std::fs::read(e.path()).unwrap(), ..TarEntry::new(b'0', &name) }
            } else {
                panic!("unexpected file type at {name}");
            };
            layer = layer.entry(entry);
        }
        layer
    }
}

fn standard_tar() -> Vec<u8> {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let root = DebRoot::empty();
        let (ok, text) = run_tool(dpkg_command("dpkg-divert").arg(format!("--root={}", root.dir.display())).args([
            "--package",
            "dash",
            "--no-rename",
            "--divert",
            "/bin/sh.distrib",
            "--add",
            "/bin/sh",
        ]));
        assert!(ok, "dpkg-divert: {text}");
        let (ok, text) =
            run_tool(dpkg_command("dpkg-statoverride").arg(format!("--root={}", root.dir.display())).args([
                "--add",
                "root",
                "mail",
                "2755",
                "/usr/bin/foo-lock",
            ]));
        assert!(ok, "dpkg-statoverride: {text}");
        // libc-bin first: the others pre-depend on it, and dpkg wants a pre-dependency
        // configured before it unpacks the package that has it.
        let debs: Vec<Vec<u8>> = base_packages().iter().map(Deb::build).collect();
        root.install(&[&debs[0]]);
        let refs: Vec<&[u8]> = debs[1..].iter().map(Vec::as_slice).collect();
        root.install(&refs);
        // Files that are no package's, as a minbase has them.
        root.write("etc/hostname", b"golden\n");
        root.layer().tar()
    })
    .clone()
}

/// The standard dpkg-managed base (see [`DebRoot::standard`]) as a layer.
pub fn deb_base() -> Layer {
    Layer::new().raw(&standard_tar()).without_end()
}

// ---------------------------------------------------------------------------------------------
// Recipes with .deb patches

pub trait DebRecipe {
    /// A `[[patch]]` whose artifact is this `.deb` (`artifacts/NAME-ID.deb`).
    fn deb(self, id: &str, bytes: &[u8]) -> Self;
}

impl DebRecipe for RecipeBuilder<'_> {
    fn deb(self, id: &str, bytes: &[u8]) -> Self {
        self.patch(id, Layer::new()).artifact_bytes(bytes.to_vec()).named_as("deb")
    }
}

/// Removes the harness's default `fixes = [...]` line of every patch, so that gild's
/// default (the changelog's CVEs) applies.
pub fn drop_default_fixes(ws: &Workspace, recipe: &str) {
    ws.edit(recipe, |t| t.replace("fixes = [\"CVE-2026-0001\"]\n", ""));
}

// ---------------------------------------------------------------------------------------------
// Judging images

/// Extracts `out/NAME-VERSION.tar.zst` with GNU tar (owners kept when root).
pub fn extract_image(ws: &Workspace, name: &str, version: &str) -> tempfile::TempDir {
    let tar = decompress(&std::fs::read(ws.image_path(name, version, "tar.zst")).unwrap());
    let dir = tempfile::Builder::new().prefix("gild-img-").tempdir().unwrap();
    let mut child = Command::new("tar")
        .args(["-xpf", "-", "--numeric-owner", "-C"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "GNU tar cannot extract the image: {}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// One path of a tree on disk, as the comparison sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub link: Option<String>,
    pub data: Vec<u8>,
    /// Hard links of a regular file (directories: 0, their count depends on subdirectories).
    pub nlink: u64,
}

impl Node {
    fn describe(&self) -> String {
        let mut s = format!("{} {:04o} {}:{}", self.kind, self.mode, self.uid, self.gid);
        if self.nlink > 1 {
            write!(s, " nlink={}", self.nlink).unwrap();
        }
        if let Some(l) = &self.link {
            write!(s, " -> {l}").unwrap();
        }
        if self.kind == "file" {
            write!(s, " {} bytes", self.data.len()).unwrap();
        }
        s
    }
}

pub type Tree = BTreeMap<String, Node>;

/// Every path under `dir` (relative, `.` for the root) with type, mode, owner, link target
/// and contents.
pub fn read_tree(dir: &Path) -> Tree {
    let mut out = Tree::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
        let rel = if rel.is_empty() { ".".to_string() } else { rel };
        let md = std::fs::symlink_metadata(e.path()).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "link"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        };
        let link = ft.is_symlink().then(|| std::fs::read_link(e.path()).unwrap().display().to_string());
        let data = if ft.is_file() { std::fs::read(e.path()).unwrap() } else { Vec::new() };
        let mode = if ft.is_symlink() { 0 } else { md.mode() & 0o7777 };
        let nlink = if ft.is_file() { md.nlink() } else { 0 };
        out.insert(rel, Node { kind, mode, uid: md.uid(), gid: md.gid(), link, data, nlink });
    }
    out
}

/// What dpkg writes for itself and gild need not: its backups, locks and journal files, and
/// what gild adds to every image.
pub fn ignored(path: &str) -> bool {
    let dpkg_own = path.strip_prefix("var/lib/dpkg/").is_some_and(|p| {
        p.ends_with("-old")
            || matches!(p, "available" | "lock" | "lock-frontend" | "triggers/Unincorp" | "triggers/Lock")
    });
    dpkg_own || path == "etc/gild" || path == "etc/gild/release"
}

/// A line diff of two texts: `-` lines only `a` has, `+` lines only `b` has, each with the
/// side's label and line number.
pub fn line_diff(a: &str, b: &str, labels: (&str, &str)) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            writeln!(out, "    +{}  ({}, line {})", b[j], labels.1, j + 1).unwrap();
            j += 1;
        } else {
            writeln!(out, "    -{}  ({}, line {})", a[i], labels.0, i + 1).unwrap();
            i += 1;
        }
    }
    out
}

/// Every difference between two trees, one paragraph each (empty: the same); `labels` name
/// the sides (`dpkg`, `gild`).
pub fn tree_diff(left: &Tree, right: &Tree, labels: (&str, &str)) -> Vec<String> {
    let (l, r) = labels;
    let mut out = Vec::new();
    let paths: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    for p in paths {
        if ignored(p) {
            continue;
        }
        match (left.get(p), right.get(p)) {
            (Some(d), None) => out.push(format!("{p}: {l} has it ({}), {r} does not", d.describe())),
            (None, Some(g)) => out.push(format!("{p}: {r} has it ({}), {l} does not", g.describe())),
            (Some(d), Some(g)) if d != g => {
                let mut s = format!("{p}: differs\n  {l}: {}\n  {r}: {}", d.describe(), g.describe());
                if d.data != g.data {
                    match (std::str::from_utf8(&d.data), std::str::from_utf8(&g.data)) {
                        (Ok(a), Ok(b)) => {
                            write!(s, "\n  contents (-{l} +{r}):\n{}", line_diff(a, b, labels)).unwrap();
                            if a.lines().eq(b.lines()) {
                                let why = "same lines; line ends or final newline differ";
                                write!(s, "    ({why}: {l} {:?}, {r} {:?})", tail(a), tail(b)).unwrap();
                            }
                        }
                        _ => write!(s, "\n  contents: md5 {l} {} {r} {}", md5_hex(&d.data), md5_hex(&g.data)).unwrap(),
                    }
                }
                out.push(s);
            }
            _ => {}
        }
    }
    out
}

fn tail(s: &str) -> &str {
    &s[s.len().saturating_sub(8)..]
}

/// Panics listing every difference between dpkg's tree and gild's extracted image.
pub fn assert_same_tree(what: &str, dpkg_dir: &Path, gild_dir: &Path) {
    let what = format!("{what} (dpkg: the copy of the base after `dpkg -i`; gild: gild's image)");
    assert_trees_equal(&what, ("dpkg", dpkg_dir), ("gild", gild_dir));
}

/// Panics listing every difference between two trees on disk, each side named.
pub fn assert_trees_equal(what: &str, left: (&str, &Path), right: (&str, &Path)) {
    let diffs = tree_diff(&read_tree(left.1), &read_tree(right.1), (left.0, right.0));
    assert!(
        diffs.is_empty(),
        "{what}: {} and {} differ in {} path(s):\n{}",
        left.0,
        right.0,
        diffs.len(),
        diffs.join("\n")
    );
}

/// `dpkg-query --admindir=ROOT/var/lib/dpkg -W -f FORMAT`.
pub fn dpkg_query(root: &Path, format: &str) -> String {
    let (ok, text) = run_tool(
        dpkg_command("dpkg-query")
            .arg(format!("--admindir={}", root.join("var/lib/dpkg").display()))
            .args(["-W", "-f", format]),
    );
    assert!(ok, "dpkg-query failed: {text}");
    text
}

/// `dpkg --root=ROOT ARGS` (for `--audit`, `--verify`).
pub fn dpkg_on(root: &Path, args: &[&str]) -> (bool, String) {
    run_tool(dpkg_command("dpkg").arg(format!("--root={}", root.display())).args(args))
}
