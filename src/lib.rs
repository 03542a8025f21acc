//! gild builds golden system images from a signed base and signed, approved patches, and
//! records a baseline of what is in them.
//!
//! How a build flows through the modules:
//!
//! - [`recipe`] reads `recipes/NAME.toml` into a checked [`recipe::Recipe`]: keys loaded,
//!   pins parsed, paths resolved, every mistake reported with file, line and column.
//! - [`trust`] checks each artifact's sha256 pin and minisign signatures against the recipe's
//!   keys and thresholds, and hands out a [`trust::Verified`] artifact: the only thing a layer
//!   can be read from.
//! - [`layer`] decompresses (by magic bytes) and reads each verified tar with a capped reader
//!   ([`layer::tar`]), applying entries, whiteouts and hard links onto a [`tree::Tree`] with
//!   chroot-style path resolution. File contents go to the [`spool`], hashed on the way;
//!   memory holds metadata only.
//!   A Debian package (`.deb`, told by its `ar` magic) is applied by `layer::dpkg` as dpkg
//!   would install it: [`deb`] knows the formats (the `ar` container, deb822 control data and
//!   `status`, versions and relations, changelogs, the CycloneDX SBOM), the layer reads and
//!   writes the tree's package database, and after the last patch the database must be
//!   consistent ([`deb::installed`]).
//! - [`image`] writes the tree as one reproducible PAX tar, compressed into every format at
//!   once; [`oci`] wraps the same compressed stream (and the plain tar's digest) into an OCI
//!   image layout; [`check`] extracts it for the recipe's smoke tests when there are any.
//! - [`baseline`] renders `files.mtree` and `baseline.toml`; [`journal`] appends the event.
//!
//! How the comparing commands (`diff`, `scan`, `verify IMAGE`, `audit`) flow:
//!
//! - [`tree::source`] reads any tree source into the same [`tree::Tree`]: a baseline
//!   (`files.mtree` through [`tree::spec`], `baseline.toml` for attribution and extended
//!   attributes), a tarball (the capped [`layer::tar`] reader, hashed as it streams), an OCI
//!   layout (its one layer, found and checked by [`oci`], read as a tarball), a
//!   directory (walked, hashed on every core) or a stock tool's mtree spec, noting what a
//!   source could not say ([`tree::Lacks`]).
//! - [`diff`] compares two trees in one linear merge, and two records; [`diff::Attribution`]
//!   names the patch that last touched a path. [`audit`] decides which differences count.
//!
//! The operations loop around the build:
//!
//! - `intake` and `defer` edit the recipe through [`recipe::edit`] (toml_edit: comments,
//!   order and spacing kept), after [`trust`] verified what comes in.
//! - [`plan`] computes due dates from `[policy]` and the order patches should go in; it reads
//!   the recipes and the newest `baseline.toml` of each image. [`date`] is the calendar.
//! - [`rollout`] holds `channels.toml` (history, revocations) and the promotion rules.
//! - [`journal`] is hash-chained; `log --verify` walks it and checks the heads that
//!   `baseline.toml` and `channels.toml` record. Every command that writes takes the image's
//!   lock ([`ops::lock_to_write`]), first records as `recovered` a build whose journal line
//!   could not be written ([`ops::recover`]), and replaces files by rename.
//! - `show`, `list` and `prune` read the records through [`rollout::Versions`], where
//!   "newest" means the newest version not revoked; `init` starts a workspace.
//! - [`ops`] holds the commands as plain functions; [`cli`] maps flags to them (and generates
//!   completions and man pages from its definition) and [`output`] is the only writer to
//!   stdout and stderr. Every error gives an [`error::Report`] (message, causes, help) that
//!   `output` renders as text and as JSON; [`error`] decides exit codes.
//!
//! The formats and rules are documented in the repository's `docs/`.

pub mod audit;
pub mod baseline;
pub mod cache;
pub mod check;
pub mod cli;
pub mod date;
pub mod deb;
pub mod diff;
pub mod error;
pub mod hex;
pub mod image;
pub mod interrupt;
pub mod journal;
pub mod layer;
pub mod limits;
pub mod oci;
pub mod ops;
pub mod output;
pub mod plan;
pub mod progress;
pub mod recipe;
pub mod rollout;
pub mod sign;
pub mod spool;
pub mod tree;
pub mod trust;
pub mod workspace;

/// What a test needs from the machine (a stock tool as the judge), and the rule when it is
/// missing; shared with `build.rs` and the integration tests, each of which uses a part.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../tests/support/needs.rs"]
pub(crate) mod needs;

pub use error::Error;
