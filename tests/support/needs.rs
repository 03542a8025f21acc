//! What a test needs from the machine, and the one rule for a test whose need is not met:
//! locally it shows as ignored with the reason, and under `CI=true` it runs and fails saying
//! why. A skip that prints and returns would show as `ok`, which is how a judge goes missing
//! unnoticed.
//!
//! Stock libtest cannot ignore a test at run time, so the decision is made at build time. This
//! one file is compiled three times, so the probe and the run-time check cannot drift apart:
//!
//! - by `build.rs`, which probes every [`Need`] and emits `cfg(gild_no_…)` ([`Need::cfg`]) for
//!   each one missing, except under `CI=true`, where it emits none;
//! - by the integration tests (`tests/it/harness.rs`) and the unit tests (`src/lib.rs`),
//!   where a test that needs something carries the attribute and calls [`require`] first:
//!
//! ```ignore
//! #[test]
//! #[cfg_attr(gild_no_bsdtar, ignore = "bsdtar not installed")]
//! fn bsdtar_reads_files_mtree() {
//!     require(&[Need::Tool("bsdtar")]);
//!     …
//! }
//! ```
//!
//! The attribute's text is what libtest prints (`ignored, bsdtar not installed`). A test that
//! runs without what it needs fails in [`require`]: always under `CI=true`, and locally only
//! when the machine changed since the probe (`touch build.rs` probes again; a tool added to a
//! directory of `PATH` is noticed by itself).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One thing a test needs from the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A program on `PATH` (a stock tool the test uses as the judge).
    Tool(&'static str),
    /// dpkg and its helpers (`dpkg-deb`, `dpkg-query`, `dpkg-divert`, `dpkg-statoverride`).
    Dpkg,
    /// Effective uid 0: extracting owners, device nodes.
    Root,
    /// A tmpfs can be mounted (the full-disk and `--cross-mounts` tests).
    Tmpfs,
    /// Device nodes can be made (`mknod`).
    DeviceNodes,
    /// `script` can give a command a pseudo-terminal (not in a container without `/dev/pts`).
    Terminal,
    /// Two cores or more, to compare with one.
    TwoCores,
    /// This machine's dpkg database, with packages in it.
    DpkgStatus,
    /// python3 with `cyclonedx-python-lib[json-validation]`, the SBOM's judge.
    CycloneDx,
}

/// The stock tools some test needs; [`Need::Dpkg`] covers dpkg's own.
pub const TOOLS: &[&str] = &[
    "bash",
    "bsdtar",
    "busybox",
    "bzip2",
    "dash",
    "gzip",
    "man",
    "minisign",
    "mtree",
    "python3",
    "sha256sum",
    "shellcheck",
    "skopeo",
    "tar",
    "taskset",
    "umoci",
    "zstd",
];

const DPKG_TOOLS: &[&str] = &["dpkg", "dpkg-deb", "dpkg-query", "dpkg-divert", "dpkg-statoverride"];

impl Need {
    /// Every need the build script probes.
    pub fn all() -> Vec<Need> {
        let others = [
            Need::Dpkg,
            Need::Root,
            Need::Tmpfs,
            Need::DeviceNodes,
            Need::Terminal,
            Need::TwoCores,
            Need::DpkgStatus,
            Need::CycloneDx,
        ];
        TOOLS.iter().map(|t| Need::Tool(t)).chain(others).collect()
    }

    /// The cfg the build script sets when this need is not met (`gild_no_bsdtar`).
    pub fn cfg(self) -> String {
        let what = match self {
            Need::Tool(tool) => tool.replace('-', "_"),
            Need::Dpkg => "dpkg".into(),
            Need::Root => "root".into(),
            Need::Tmpfs => "tmpfs".into(),
            Need::DeviceNodes => "mknod".into(),
            Need::Terminal => "pty".into(),
            Need::TwoCores => "two_cores".into(),
            Need::DpkgStatus => "dpkg_status".into(),
            Need::CycloneDx => "cyclonedx".into(),
        };
        format!("gild_no_{what}")
    }

    /// Why a test cannot run without it; the `ignore` attributes say the same.
    pub fn why(self) -> String {
        match self {
            Need::Tool("mtree") => "NetBSD mtree not installed".into(),
            Need::Tool("tar") => "GNU tar not installed".into(),
            Need::Tool(tool) => format!("{tool} not installed"),
            Need::Dpkg => "dpkg not installed".into(),
            Need::Root => "needs root".into(),
            Need::Tmpfs => "cannot mount a tmpfs here".into(),
            Need::DeviceNodes => "cannot make device nodes here".into(),
            Need::Terminal => "`script` cannot open a pseudo-terminal here".into(),
            Need::TwoCores => "needs 2 cores to compare with 1".into(),
            Need::DpkgStatus => "no /var/lib/dpkg/status with packages here".into(),
            Need::CycloneDx => "python3 lacks cyclonedx-python-lib[json-validation]".into(),
        }
    }

    /// Whether this machine meets it, probed as the tests use it.
    pub fn met(self) -> bool {
        match self {
            Need::Tool(tool) => on_path(tool),
            Need::Dpkg => DPKG_TOOLS.iter().all(|t| on_path(t)),
            // SAFETY: geteuid has no preconditions and cannot fail.
            Need::Root => (unsafe { libc::geteuid() }) == 0,
            // In a mount namespace of its own, so probing leaves the machine's mounts alone.
            Need::Tmpfs => in_scratch("tmpfs", |dir| {
                succeeds(
                    Command::new("unshare")
                        .args(["--mount", "--", "mount", "-t", "tmpfs", "-o", "size=64k"])
                        .arg("tmpfs")
                        .arg(dir),
                )
            }),
            Need::DeviceNodes => {
                in_scratch("mknod", |dir| succeeds(Command::new("mknod").arg(dir.join("null")).args(["c", "1", "3"])))
            }
            Need::Terminal => succeeds(Command::new("script").args(["-q", "-e", "-c", "true", "/dev/null"])),
            Need::TwoCores => std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2,
            Need::DpkgStatus => std::fs::read("/var/lib/dpkg/status")
                .is_ok_and(|s| s.starts_with(b"Package: ") || s.windows(10).any(|w| w == b"\nPackage: ")),
            Need::CycloneDx => succeeds(Command::new("python3").args([
                "-c",
                "import jsonschema, referencing; from cyclonedx.validation.json import JsonStrictValidator",
            ])),
        }
    }
}

/// The rule at run time: a test that needs something it lacks fails, saying what. It runs
/// without it only under `CI=true` (the build script ignores nothing there) or when the
/// machine changed since the build script probed it.
#[track_caller]
pub fn require(needs: &[Need]) {
    for &need in needs {
        if !need.met() {
            unmet(need);
        }
    }
}

/// Fails the test for lacking `need` (for a test that finds out by trying, such as a mount).
#[track_caller]
pub fn unmet(need: Need) -> ! {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("under CI=true every test must run, but: {}", need.why());
    }
    panic!(
        "{}, yet the build script's probe found it (it sets `cfg({})` when not): `touch build.rs` to probe again",
        need.why(),
        need.cfg()
    );
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

fn succeeds(command: &mut Command) -> bool {
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Runs `probe` in an empty directory of its own (tests probe on several threads at once),
/// removed after.
fn in_scratch(what: &str, probe: impl FnOnce(&std::path::Path) -> bool) -> bool {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir: PathBuf = std::env::temp_dir().join(format!("gild-probe-{what}-{}-{n}", std::process::id()));
    if std::fs::create_dir(&dir).is_err() {
        return false;
    }
    let met = probe(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    met
}
