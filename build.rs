//! Probes what the tests need from this machine (stock tools, root, a tmpfs, device nodes…)
//! and sets `cfg(gild_no_…)` for each need that is missing, so those tests show as ignored
//! with their reason. Under `CI=true` it sets none: there every test runs, and one that lacks
//! what it needs fails saying why. The rule and the probes are in `tests/support/needs.rs`.
//! gild itself does not depend on any of it.

// The build script uses the probes; the run-time half of the file is for the tests.
#[allow(dead_code)]
#[path = "tests/support/needs.rs"]
mod needs;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=tests/support/needs.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    // A tool installed later lands in a directory of PATH: probe again then.
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths).filter(|d| d.is_absolute() && d.is_dir()) {
            println!("cargo::rerun-if-changed={}", dir.display());
        }
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    for need in needs::Need::all() {
        println!("cargo::rustc-check-cfg=cfg({})", need.cfg());
        if !ci && !need.met() {
            println!("cargo::rustc-cfg={}", need.cfg());
        }
    }
}
