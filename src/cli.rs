//! The command line: clap types, and the mapping from flags to operations.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::ops::{
    self, audit::AuditOptions, build::BuildOptions, diff::DiffOptions, scan::ScanOptions,
    verify_image::VerifyImageOptions, Context,
};
use crate::output::Output;

/// Build golden images from signed, approved patches; record what is in them.
#[derive(Parser, Debug)]
#[command(name = "gild", version, about, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in DIR (the workspace holding `recipes/`)
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print one JSON document on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Raise or lower a limit on layers (header, path, depth, entries, unpacked, links, window)
    #[arg(long = "limit", global = true, value_name = "KEY=VALUE")]
    pub limits: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify, layer, write the images, run the checks and record the baseline
    Build {
        /// The recipe file (or NAME for recipes/NAME.toml)
        recipe: String,
        /// Where the images go (default: out/ in the workspace)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Build this version instead of `[image] version`
        #[arg(long, value_name = "V")]
        version: Option<String>,
    },
    /// Check every artifact's pin and signatures; build nothing. With `--baseline`: check an
    /// image file against a recorded baseline
    Verify {
        /// The recipe file (or NAME for recipes/NAME.toml); with `--baseline`, the image file
        recipe: String,
        /// The baseline the image must match: NAME, NAME@VERSION or a baseline directory
        #[arg(long, value_name = "REF")]
        baseline: Option<String>,
    },
    /// Compare two tree sources (baselines, tarballs, directories, mtree specs)
    Diff {
        /// The tree before: NAME, NAME@VERSION, a baseline directory, a tarball, a directory or a spec
        a: String,
        /// The tree after
        b: String,
        /// Counts only (by patch), no list of paths
        #[arg(long)]
        stat: bool,
    },
    /// Write the mtree spec (files.mtree form) of any tree source: a host's report
    Scan {
        /// NAME, NAME@VERSION, a baseline directory, a tarball, a directory or a spec
        source: String,
        /// Write the spec to FILE (beside it, then renamed) instead of stdout
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Is each target compliant with a baseline? Which patches does it lack?
    Audit {
        /// The baseline: NAME, NAME@VERSION or a baseline directory
        baseline: String,
        /// Directories, host specs, images or baselines to judge
        #[arg(required = true)]
        targets: Vec<String>,
        /// Which targets need this patch? (exit 1 when any does)
        #[arg(long, value_name = "ID", conflicts_with = "fixes")]
        patch: Option<String>,
        /// Which targets need a fix for this CVE? (exit 1 when any does)
        #[arg(long, value_name = "CVE")]
        fixes: Option<String>,
        /// Pass over paths matching GLOB (relative, e.g. `var/log/**`), besides `[audit] ignore`
        #[arg(long, value_name = "GLOB")]
        ignore: Vec<String>,
        /// Extra paths on a target count against compliance
        #[arg(long)]
        strict: bool,
    },
}

/// Runs the command line; returns the exit code.
pub fn main() -> u8 {
    let cli = Cli::parse();
    crate::interrupt::install();
    let out = Output { json: cli.json };
    let ctx = Context { dir: cli.dir, limits: cli.limits };
    match cli.command {
        Command::Build { recipe, out: out_dir, version } => {
            let opts = BuildOptions { recipe, out: out_dir, version };
            match ops::build::build(&ctx, &opts, &|msg| out.note(msg)) {
                Ok(report) => {
                    out.build(&report);
                    0
                }
                Err(_) if crate::interrupt::requested() => interrupted(&out),
                Err(e) => {
                    out.error(&e);
                    e.exit_code()
                }
            }
        }
        Command::Verify { recipe: image, baseline: Some(baseline) } => {
            match ops::verify_image::verify_image(&ctx, &VerifyImageOptions { image, baseline }) {
                Ok(report) => {
                    out.verify_image(&report);
                    report.exit_code()
                }
                Err(e) => failed(&out, &e),
            }
        }
        Command::Verify { recipe, baseline: None } => match ops::verify::verify(&ctx, &recipe) {
            Ok(report) => {
                out.verify(&report);
                report.exit_code()
            }
            Err(e) => {
                out.error(&e);
                e.exit_code()
            }
        },
        Command::Diff { a, b, stat } => match ops::diff::diff(&ctx, &DiffOptions { a, b }) {
            Ok(report) => {
                out.diff(&report, stat);
                report.exit_code()
            }
            Err(e) => failed(&out, &e),
        },
        Command::Scan { source, output } => match ops::scan::scan(&ctx, &ScanOptions { source, output }) {
            Ok(report) => {
                out.scan(&report);
                0
            }
            Err(e) => failed(&out, &e),
        },
        Command::Audit { baseline, targets, patch, fixes, ignore, strict } => {
            let opts = AuditOptions { baseline, targets, patch, fixes, ignore, strict };
            match ops::audit::audit(&ctx, &opts) {
                Ok(report) => {
                    out.audit(&report);
                    report.exit_code()
                }
                Err(e) => failed(&out, &e),
            }
        }
    }
}

/// Prints the error; its exit code, or 130 after an interruption.
fn failed(out: &Output, e: &crate::Error) -> u8 {
    if crate::interrupt::requested() {
        return interrupted(out);
    }
    out.error(e);
    e.exit_code()
}

/// Exit code 130, as a shell reports a process ended by SIGINT.
fn interrupted(out: &Output) -> u8 {
    out.note("interrupted: nothing was recorded");
    130
}
