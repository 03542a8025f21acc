//! What a `status` database says is installed: the inventory a baseline records and the
//! consistency a build must leave (docs/debian.md: every `Depends`/`Pre-Depends` met, no
//! `Conflicts`/`Breaks` between installed packages).

use std::collections::HashMap;

use super::control::{Stanza, Status};
use super::relation::{self, Installed, MultiArch, Universe};
use super::version::Version;

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// `PACKAGE`, or `PACKAGE:ARCH` for a `Multi-Arch: same` instance.
    pub db_name: String,
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The source package, and its version when the `Source` field names one.
    pub source: String,
    pub source_version: String,
}

/// Does this stanza describe a package that counts as installed (`… ok installed`)?
pub fn is_installed(stanza: &Stanza) -> bool {
    stanza.get("Status").and_then(|s| s.split_whitespace().nth(2)) == Some("installed")
}

/// The installed packages, in the status file's order (sorted by name, as dpkg keeps it).
pub fn inventory(status: &Status) -> Vec<Package> {
    status.iter().filter(|s| is_installed(s)).filter_map(package).collect()
}

fn package(s: &Stanza) -> Option<Package> {
    let name = s.get("Package")?.trim().to_string();
    let version = s.get("Version")?.trim().to_string();
    let architecture = s.get("Architecture").unwrap_or("").trim().to_string();
    let same = s.get("Multi-Arch").is_some_and(|m| m.trim() == "same");
    let db_name = if same { format!("{name}:{architecture}") } else { name.clone() };
    let (source, source_version) = match s.get("Source").map(str::trim) {
        None | Some("") => (name.clone(), version.clone()),
        Some(src) => match src.split_once('(') {
            Some((n, v)) => (n.trim().to_string(), v.trim_end_matches(')').trim().to_string()),
            None => (src.to_string(), version.clone()),
        },
    };
    Some(Package { db_name, name, version, architecture, source, source_version })
}

/// One relation an installed package has that the database does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// The database name of the package whose field it is.
    pub package: String,
    pub version: String,
    /// `Depends`, `Pre-Depends`, `Conflicts` or `Breaks`.
    pub field: &'static str,
    /// The relation as written (for a conflict: the atom that hit).
    pub relation: String,
    /// The packages the relation names (alternatives), and for a conflict the ones it hit.
    pub names: Vec<String>,
}

/// Every unmet dependency and every conflict among installed packages. A field that does not
/// parse counts as unmet, naming the parse error.
pub fn unmet(status: &Status, native_arch: &str) -> Vec<Unmet> {
    let installed: Vec<&Stanza> = status.iter().filter(|s| is_installed(s)).collect();
    let universe = Universe::new(installed.iter().filter_map(|s| offer(s)).collect(), native_arch);
    let mut out = Vec::new();
    for s in installed {
        let Some(p) = package(s) else { continue };
        let arch = if p.architecture == "all" { native_arch } else { &p.architecture };
        for field in ["Pre-Depends", "Depends"] {
            let Some(text) = s.get(field) else { continue };
            let relations = match relation::parse(text) {
                Ok(r) => r,
                Err(e) => {
                    out.push(unmet_of(&p, field, format!("{text} (does not parse: {e})"), Vec::new()));
                    continue;
                }
            };
            for r in relations {
                if !r.alternatives.iter().any(|a| universe.satisfies(a, arch)) {
                    let names = r.alternatives.iter().map(|a| a.name.clone()).collect();
                    out.push(unmet_of(&p, field, r.to_string(), names));
                }
            }
        }
        for field in ["Conflicts", "Breaks"] {
            let Some(text) = s.get(field) else { continue };
            let Ok(relations) = relation::parse(text) else {
                out.push(unmet_of(&p, field, format!("{text} (does not parse)"), Vec::new()));
                continue;
            };
            for atom in relations.iter().flat_map(|r| &r.alternatives) {
                let hit = universe.hits(atom, &p.name, arch);
                if !hit.is_empty() {
                    let names = hit.iter().map(|(n, _)| n.clone()).chain([atom.name.clone()]).collect();
                    out.push(unmet_of(&p, field, atom.to_string(), names));
                }
            }
        }
    }
    out
}

fn unmet_of(p: &Package, field: &'static str, relation: String, names: Vec<String>) -> Unmet {
    Unmet { package: p.db_name.clone(), version: p.version.clone(), field, relation, names }
}

/// What an installed package offers to relations: itself and what it `Provides`.
fn offer(s: &Stanza) -> Option<Installed> {
    let p = package(s)?;
    let version = Version::parse(&p.version).ok()?;
    let multi_arch = match s.get("Multi-Arch").map(str::trim) {
        Some("same") => MultiArch::Same,
        Some("foreign") => MultiArch::Foreign,
        Some("allowed") => MultiArch::Allowed,
        _ => MultiArch::No,
    };
    let provides = s
        .get("Provides")
        .and_then(|t| relation::parse(t).ok())
        .map(|rs| rs.into_iter().flat_map(|r| r.alternatives).collect())
        .unwrap_or_default();
    Some(Installed { name: p.name, arch: p.architecture, multi_arch, version, provides })
}

/// Which database names are installed, with their versions: to tell what a build changed.
pub fn versions(status: &Status) -> HashMap<String, String> {
    inventory(status).into_iter().map(|p| (p.db_name, p.version)).collect()
}
