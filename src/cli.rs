//! The command line: clap types, and the mapping from flags to operations.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::ops::{self, build::BuildOptions, log::LogOptions, Context};
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
    /// Check every artifact's pin and signatures; build nothing
    Verify {
        /// The recipe file (or NAME for recipes/NAME.toml)
        recipe: String,
    },
    /// The journal: every intake, deferral, build, promotion, rollback and revocation
    Log {
        /// The image NAME
        name: String,
        /// Check the hash chain and the heads recorded in baselines and channels.toml (exit 3 when tampered)
        #[arg(long)]
        verify: bool,
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
        Command::Verify { recipe } => match ops::verify::verify(&ctx, &recipe) {
            Ok(report) => {
                out.verify(&report);
                report.exit_code()
            }
            Err(e) => {
                out.error(&e);
                e.exit_code()
            }
        },
        Command::Log { name, verify } => report(&out, ops::log::log(&ctx, &LogOptions { name, verify }), |r| {
            out.log(r);
            r.exit_code()
        }),
    }
}

/// Prints a report (returning its exit code) or the error.
fn report<R>(out: &Output, result: Result<R, crate::Error>, print: impl FnOnce(&R) -> u8) -> u8 {
    match result {
        Ok(r) => print(&r),
        Err(e) => {
            out.error(&e);
            e.exit_code()
        }
    }
}

/// Exit code 130, as a shell reports a process ended by SIGINT.
fn interrupted(out: &Output) -> u8 {
    out.note("interrupted: nothing was recorded");
    130
}
