//! The command line: clap types, and the mapping from flags to operations.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ops::{
    self, audit::AuditOptions, build::BuildOptions, defer::DeferOptions, diff::DiffOptions, init::InitOptions,
    intake::IntakeOptions, log::LogOptions, plan::PlanOptions, prune::PruneOptions, rollout::PromoteOptions,
    scan::ScanOptions, verify_image::VerifyImageOptions, Context,
};
use crate::output::Output;
use crate::recipe::Severity;
use crate::tree::walk::Reach;

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
        /// Neither read nor write the cache of frames, base indexes and decoded patches
        /// (GILD_CACHE, else ~/.cache/gild, bounded by GILD_CACHE_MAX; GILD_JOBS threads
        /// compress). The image comes out the same either way
        #[arg(long)]
        no_cache: bool,
    },
    /// Check every artifact's pin and signatures; build nothing. With `--baseline`: check an
    /// image file against a recorded baseline
    Verify {
        /// The recipe file (or NAME for recipes/NAME.toml); NAME@VERSION or a baseline
        /// directory to check a recorded baseline (its signature and every pinned file); with
        /// `--baseline`, the image file
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
        #[command(flatten)]
        reach: ReachArgs,
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
        #[command(flatten)]
        reach: ReachArgs,
    },
    /// Verify an approved patch, pin it and append it to the recipe (comments kept)
    Intake {
        /// The recipe file (or NAME for recipes/NAME.toml)
        recipe: String,
        /// The patch artifact (a signed tarball or Debian package)
        artifact: PathBuf,
        /// The patch id, unique in the recipe. Default for a `.deb`: PACKAGE_VERSION_ARCH
        #[arg(long)]
        id: Option<String>,
        #[arg(long, value_enum)]
        severity: SeverityArg,
        /// The change record that approved it
        #[arg(long, value_name = "CHG")]
        change: String,
        /// Who approved it
        #[arg(long, value_name = "WHO")]
        approved_by: String,
        /// What it fixes (repeatable; e.g. a CVE id). Default for a `.deb`: the CVEs its
        /// changelog names since the version the newest baseline has
        #[arg(long, value_name = "ID")]
        fixes: Vec<String>,
        /// A key of `[keys]` that must have signed it (repeatable; the threshold is their
        /// number). Default: the signers of the recipe's last patch, else of its base
        #[arg(long, value_name = "KEY")]
        signed_by: Vec<String>,
        /// A signature file (repeatable; default ARTIFACT.minisig)
        #[arg(long, value_name = "FILE")]
        signature: Vec<PathBuf>,
        /// A known exploit is in the wild
        #[arg(long)]
        exploited: bool,
        /// The vendor's release date (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        released: Option<String>,
        /// How to back it out
        #[arg(long, value_name = "TEXT")]
        backout: Option<String>,
        /// The approval date (YYYY-MM-DD; default today)
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
    /// Record a decision not to apply a patch; a listed patch moves out of the build
    Defer {
        /// The recipe file (or NAME for recipes/NAME.toml)
        recipe: String,
        /// The patch id
        id: String,
        /// Why it is not applied, or dropped (required unless --undo)
        #[arg(long, required_unless_present = "undo")]
        reason: Option<String>,
        /// What limits the risk meanwhile
        #[arg(long, conflicts_with = "undo")]
        mitigation: Option<String>,
        /// When to decide again (YYYY-MM-DD); `plan` reports it once past
        #[arg(long, value_name = "DATE", conflicts_with = "undo")]
        review_by: Option<String>,
        /// Move a deferred patch back to the end of the patch list
        #[arg(long)]
        undo: bool,
        /// Remove the patch (listed or deferred) from the recipe: the way back from an intake,
        /// leaving its id and artifact free to take again (the journal keeps both)
        #[arg(long, conflicts_with_all = ["undo", "mitigation", "review_by"])]
        drop: bool,
    },
    /// Approved patches not yet in a recorded baseline, by priority, with due dates (exit 1 when overdue)
    Plan {
        /// Recipe files or NAMEs (default: every recipe in the workspace)
        recipes: Vec<String>,
        /// Plan as of this date (YYYY-MM-DD; default today)
        #[arg(long, value_name = "DATE")]
        today: Option<String>,
    },
    /// Move a channel to a recorded version, honouring the channel order and the soak
    Promote {
        /// NAME@VERSION
        target: String,
        /// A channel of the recipe's `[rollout]`
        channel: String,
        /// Skip the soak (recorded as an emergency)
        #[arg(long, requires = "change")]
        emergency: bool,
        /// The change record allowing an emergency promotion
        #[arg(long, value_name = "CHG", requires = "emergency")]
        change: Option<String>,
    },
    /// Point a channel back at the version it had before
    Rollback {
        /// The image NAME
        name: String,
        channel: String,
    },
    /// Mark a recorded version unfit: never promoted again; channels holding it are reported
    Revoke {
        /// NAME@VERSION
        target: String,
        /// Why it is unfit
        #[arg(long)]
        reason: String,
    },
    /// The journal: every intake, deferral, build, promotion, rollback and revocation
    Log {
        /// The image NAME
        name: String,
        /// Check the hash chain and the heads recorded in baselines and channels.toml (exit 3 when tampered)
        #[arg(long)]
        verify: bool,
    },
    /// What a baseline holds: parent, patches and CVEs, packages changed, images, channels,
    /// revocation, signature
    Show {
        /// NAME (its newest version not revoked), NAME@VERSION or NAME@CHANNEL
        target: String,
    },
    /// Every image of the workspace: versions, revoked ones, channels; one line each
    List,
    /// Remove images in out/ that no channel runs and that are not among the newest N
    /// versions not revoked; baselines are never removed
    Prune {
        /// The image NAME
        name: String,
        /// How many of the newest versions not revoked keep their images
        #[arg(long, value_name = "N", default_value_t = 3)]
        keep: usize,
        /// Where the images are (default: out/ in the workspace)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Start a workspace: a commented recipe, recipes/keys/, and with --key a new minisign key
    /// pair (the secret half outside the workspace)
    Init {
        /// The workspace directory (default: the current one)
        #[arg(value_name = "DIR")]
        path: Option<PathBuf>,
        /// The image name (default: the directory's name)
        #[arg(long)]
        name: Option<String>,
        /// Make a minisign key pair of this name: recipes/keys/NAME.pub, and the secret half in
        /// $XDG_CONFIG_HOME/gild/keys/ (else ~/.config/gild/keys/)
        #[arg(long, value_name = "NAME")]
        key: Option<String>,
    },
    /// Print shell completions, generated from this command line's definition
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages (gild.1 and one per command) into DIR
    Man {
        /// Where the pages go (created when missing)
        #[arg(value_name = "DIR")]
        path: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SeverityArg {
    Critical,
    High,
    Medium,
    Low,
}

/// How far a directory is walked (a directory stays on one filesystem, and `/` skips its
/// virtual filesystems, unless told otherwise).
#[derive(Debug, Args)]
pub struct ReachArgs {
    /// Descend into filesystems mounted below a directory (a separate /usr or /var)
    #[arg(long)]
    cross_mounts: bool,
    /// When scanning /, descend into proc, sys, dev and run too
    #[arg(long)]
    include_virtual: bool,
}

impl From<ReachArgs> for Reach {
    fn from(a: ReachArgs) -> Reach {
        Reach { cross_mounts: a.cross_mounts, include_virtual: a.include_virtual }
    }
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Critical => Severity::Critical,
            SeverityArg::High => Severity::High,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::Low => Severity::Low,
        }
    }
}

/// Clears the progress bar of an operation that has returned, before its report is printed.
fn finished<T>(ctx: &Context, result: T) -> T {
    ctx.progress.finish();
    result
}

impl Command {
    /// The name `--json` documents carry.
    fn name(&self) -> &'static str {
        match self {
            Command::Build { .. } => "build",
            Command::Verify { .. } => "verify",
            Command::Diff { .. } => "diff",
            Command::Scan { .. } => "scan",
            Command::Audit { .. } => "audit",
            Command::Intake { .. } => "intake",
            Command::Defer { .. } => "defer",
            Command::Plan { .. } => "plan",
            Command::Promote { .. } => "promote",
            Command::Rollback { .. } => "rollback",
            Command::Revoke { .. } => "revoke",
            Command::Log { .. } => "log",
            Command::Show { .. } => "show",
            Command::List => "list",
            Command::Prune { .. } => "prune",
            Command::Init { .. } => "init",
            Command::Completions { .. } => "completions",
            Command::Man { .. } => "man",
        }
    }
}

/// Runs the command line; returns the exit code.
pub fn main() -> u8 {
    let code = match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => bad_call(&e),
    };
    crate::output::finish(code)
}

/// What clap says about a command line it cannot take (or `--help`, `--version`), through
/// `output`: as text, and with `--json` as the failure document too.
fn bad_call(e: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    let text = e.render().to_string();
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        crate::output::write(crate::output::Stream::Out, format_args!("{text}"));
        return 0;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<String> =
        <Cli as clap::CommandFactory>::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    let command = args.iter().find(|a| names.contains(a)).cloned().unwrap_or_else(|| "gild".into());
    let out = Output { json: args.iter().any(|a| a == "--json"), command };
    let code = e.exit_code().clamp(0, 255) as u8;
    if !matches!(e.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) && out.json {
        // clap renders `error: WHAT`, a blank line, usage and a hint: WHAT is the message.
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let message = lines.next().unwrap_or_default().trim_start_matches("error: ").to_string();
        let help = lines.map(str::trim).collect::<Vec<_>>().join("; ");
        let report = crate::error::Report::new(message).maybe_help((!help.is_empty()).then_some(help));
        crate::output::write(crate::output::Stream::Err, format_args!("{text}"));
        crate::output::write(
            crate::output::Stream::Out,
            format_args!(
                "{}\n",
                serde_json::json!({"command": out.command, "exit": code, "error": crate::output::report_json(&report)})
            ),
        );
        return code;
    }
    crate::output::write(crate::output::Stream::Err, format_args!("{text}"));
    code
}

fn run(cli: Cli) -> u8 {
    crate::interrupt::install();
    let out = Output { json: cli.json, command: cli.command.name().to_string() };
    let progress = crate::output::progress::for_run(cli.json);
    let ctx = Context { dir: cli.dir, limits: cli.limits, progress };
    match cli.command {
        Command::Build { recipe, out: out_dir, version, no_cache } => {
            let opts = BuildOptions { recipe, out: out_dir, version, no_cache };
            let result = finished(&ctx, ops::build::build(&ctx, &opts, &|msg| out.note(msg)));
            report(&out, result, |r| {
                out.build(r);
                0
            })
        }
        Command::Verify { recipe: image, baseline: Some(baseline) } => {
            let result = finished(&ctx, ops::verify_image::verify_image(&ctx, &VerifyImageOptions { image, baseline }));
            report(&out, result, |r| {
                out.verify_image(r);
                r.exit_code()
            })
        }
        Command::Verify { recipe, baseline: None } if ops::verify_baseline::is_baseline(&ctx, &recipe) => {
            report(&out, ops::verify_baseline::verify_baseline(&ctx, &recipe), |r| {
                out.verify_baseline(r);
                0
            })
        }
        Command::Verify { recipe, baseline: None } => report(&out, ops::verify::verify(&ctx, &recipe), |r| {
            out.verify(r);
            r.exit_code()
        }),
        Command::Diff { a, b, stat } => {
            report(&out, finished(&ctx, ops::diff::diff(&ctx, &DiffOptions { a, b })), |r| {
                out.diff(r, stat);
                r.exit_code()
            })
        }
        Command::Scan { source, output, reach } => {
            let result = finished(&ctx, ops::scan::scan(&ctx, &ScanOptions { source, output, reach: reach.into() }));
            report(&out, result, |r| {
                out.scan(r);
                0
            })
        }
        Command::Audit { baseline, targets, patch, fixes, ignore, strict, reach } => {
            let opts = AuditOptions { baseline, targets, patch, fixes, ignore, strict, reach: reach.into() };
            report(&out, finished(&ctx, ops::audit::audit(&ctx, &opts)), |r| {
                out.audit(r);
                r.exit_code()
            })
        }
        Command::Intake {
            recipe,
            artifact,
            id,
            severity,
            change,
            approved_by,
            fixes,
            signed_by,
            signature,
            exploited,
            released,
            backout,
            date,
        } => {
            let opts = IntakeOptions {
                recipe,
                artifact,
                id,
                severity: severity.into(),
                change,
                approved_by,
                fixes,
                signed_by,
                signatures: signature,
                exploited,
                released,
                backout,
                date,
            };
            report(&out, ops::intake::intake(&ctx, &opts, &|msg| out.note(msg)), |r| {
                out.intake(r);
                0
            })
        }
        Command::Defer { recipe, id, reason, mitigation, review_by, undo, drop } => {
            let opts = DeferOptions { recipe, id, reason, mitigation, review_by, undo, drop };
            report(&out, ops::defer::defer(&ctx, &opts, &|msg| out.note(msg)), |r| {
                out.defer(r);
                0
            })
        }
        Command::Plan { recipes, today } => report(&out, ops::plan::plan(&ctx, &PlanOptions { recipes, today }), |r| {
            out.plan(r);
            r.exit_code()
        }),
        Command::Promote { target, channel, emergency, change } => {
            let opts = PromoteOptions { target, channel, emergency, change };
            report(&out, ops::rollout::promote(&ctx, &opts, &|msg| out.note(msg)), |r| {
                out.promote(r);
                0
            })
        }
        Command::Rollback { name, channel } => {
            report(&out, ops::rollout::rollback(&ctx, &name, &channel, &|msg| out.note(msg)), |r| {
                out.rollback(r);
                0
            })
        }
        Command::Revoke { target, reason } => {
            report(&out, ops::rollout::revoke(&ctx, &target, &reason, &|msg| out.note(msg)), |r| {
                out.revoke(r);
                0
            })
        }
        Command::Log { name, verify } => report(&out, ops::log::log(&ctx, &LogOptions { name, verify }), |r| {
            out.log(r);
            r.exit_code()
        }),
        Command::Show { target } => report(&out, ops::show::show(&ctx, &target), |r| {
            out.show(r);
            0
        }),
        Command::List => report(&out, ops::list::list(&ctx), |r| {
            out.list(r);
            0
        }),
        Command::Prune { name, keep, out: dir } => {
            let opts = PruneOptions { name, keep, out: dir };
            report(&out, ops::prune::prune(&ctx, &opts, &|msg| out.note(msg)), |r| {
                out.prune(r);
                0
            })
        }
        Command::Init { path, name, key } => {
            report(&out, ops::init::init(&ctx, &InitOptions { dir: path, name, key }), |r| {
                out.init(r);
                0
            })
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "gild", &mut script);
            out.completions(&String::from_utf8_lossy(&script));
            0
        }
        Command::Man { path } => report(&out, ops::man::install(&ctx, &path, &man_pages()), |r| {
            out.man(r);
            0
        }),
    }
}

/// The man pages, generated from the command line's definition: `gild.1` and one page per
/// command (`gild-build.1`, …), as (file name, roff).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn render(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            render(sub, pages);
        }
        let man = clap_mangen::Man::new(cmd.clone());
        let mut roff = Vec::new();
        man.render(&mut roff).expect("rendering into memory cannot fail");
        pages.push((man.get_filename(), roff));
    }
    let mut cmd = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    render(&cmd, &mut pages);
    pages.sort();
    pages
}

/// Prints a report (returning its exit code) or the failure (its exit code, or 130 after an
/// interruption).
fn report<R>(out: &Output, result: Result<R, crate::Error>, print: impl FnOnce(&R) -> u8) -> u8 {
    match result {
        Ok(r) => print(&r),
        Err(_) if crate::interrupt::requested() => {
            out.failed(&crate::error::Report::new("interrupted: nothing was recorded"), 130);
            130
        }
        Err(e) => out.failure(&e),
    }
}
