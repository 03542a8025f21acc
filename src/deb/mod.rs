//! Debian packages as patches (docs/debian.md): the formats dpkg reads and writes, kept pure.
//!
//! - [`ar`] reads the `.deb` container, [`control`] the deb822 stanzas of control files and
//!   of `var/lib/dpkg/status`, [`version`] compares versions as dpkg does and [`relation`]
//!   parses `Depends`-style fields and checks them against what is installed.
//! - [`changelog`] finds the CVEs a package's changelog says it fixes; [`sbom`] writes the
//!   CycloneDX SBOM of an image's packages.
//!
//! Applying a package to a tree, the way `dpkg --unpack` and `--configure` leave it, is the
//! layer's job ([`crate::layer`]); these modules only know the formats.

pub mod ar;
pub mod changelog;
pub mod control;
pub mod installed;
pub mod relation;
pub mod sbom;
pub mod version;
