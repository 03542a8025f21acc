//! A Debian package applied as `dpkg --unpack` then `dpkg --configure` leave the tree and
//! the database (docs/debian.md), except that maintainer scripts are not run.
//!
//! The decompressing thread splits the `.deb` ([`decode_deb`]): the control tar, small and
//! capped, goes first in the stream behind its length, then the decompressed `data.tar`.
//! The layering thread reads the database from the tree so far, places the data entries with
//! dpkg's rules (diversions, stat overrides, conffiles, existing directories kept, files of
//! other packages only with `Replaces`), removes what the old version had and the new one
//! lacks, and writes `status` and `info/` back. The `.deb` is read in [`archive`], the
//! database in [`database`], and written back in [`record`].

mod archive;
mod database;
mod record;

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufRead, Read};

use md5::{Digest, Md5};

use super::resolve::Resolver;
use super::tar::{self, Archive, TarError};
use super::{components, EntryError, LayerError, Layering, Pass, Refusal};
use crate::deb::control::Stanza;
use crate::deb::relation::{self, Atom};
use crate::deb::version::Version;
use crate::tree::{self, Kind, Node};
pub(crate) use archive::decode_deb;
pub use archive::{inspect, InspectError, Inspected};
use archive::{parse_control_tar, Control};
pub(super) use database::read_after_patches;
use database::Db;
pub use database::Packages;

/// The most bytes a decompressed control tar may take in memory. Real ones are kilobytes
/// (a kernel's md5sums, the largest, is under a megabyte).
const CONTROL_MAX: u64 = 64 << 20;

/// The database directory, as every Debian tree has it.
const ADMIN: &[u8] = b"var/lib/dpkg";

/// Maintainer scripts: copied to `info/` executable, never run at build time.
pub const SCRIPTS: [&str; 5] = ["preinst", "postinst", "prerm", "postrm", "config"];

/// What applying one package did, as the baseline records it.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The database name: `PACKAGE`, or `PACKAGE:ARCH` for `Multi-Arch: same`.
    pub db_name: String,
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// The version installed before, if any.
    pub previous: Option<String>,
    /// Maintainer scripts the package ships (not run at build time).
    pub scripts: Vec<String>,
    /// Triggers it activates: its own `activate` directives and the file triggers whose
    /// interest covers a path it installs (`NAME (interested package)`).
    pub triggers: Vec<String>,
    /// Edited conffiles kept, with the new version written beside as `PATH.dpkg-dist`.
    pub dist: Vec<String>,
    /// The bytes of `usr/share/doc/*/changelog.Debian.gz` it installs, for the CVEs it fixes.
    pub changelog: Option<Vec<u8>>,
    /// Where its conffiles are in the tree: `install.sh` checks a host's before changing any.
    pub conffiles: Vec<Vec<u8>>,
}

/// Errors of one package's application; each names the package.
fn refused(why: impl Into<Refusal>) -> EntryError {
    EntryError::Refused(why.into())
}

/// A refusal with its fix.
fn refused_help(why: impl Into<String>, help: impl Into<String>) -> EntryError {
    EntryError::Refused(Refusal::from(why.into()).help(help))
}

/// `/usr/bin/x` as `info/*.list` spells the archive entry `./usr/bin/x/` (`/.` for the root).
fn list_path(archive_name: &[u8]) -> Vec<u8> {
    let clean = tree::clean_path(archive_name).unwrap_or_default();
    if clean.is_empty() {
        return b"/.".to_vec();
    }
    let mut p = Vec::with_capacity(clean.len() + 1);
    p.push(b'/');
    p.extend_from_slice(&clean);
    p
}

fn md5_hex(bytes: &[u8]) -> String {
    crate::hex::encode(&Md5::digest(bytes))
}

/// The parsed control file of the package being applied.
struct Package {
    stanza: Stanza,
    name: String,
    version: Version,
    arch: String,
    db_name: String,
    replaces: Vec<relation::Relation>,
}

fn package(control: &Control) -> Result<Package, EntryError> {
    let text = String::from_utf8_lossy(&control.members["control"]).into_owned();
    let stanza = Stanza::parse(&text).map_err(|e| refused(format!("control file: {e}")))?;
    let field = |name: &str| {
        stanza.get(name).map(str::to_string).ok_or_else(|| refused(format!("control file has no `{name}` field")))
    };
    let name = field("Package")?;
    let version_text = field("Version")?;
    let version = Version::parse(&version_text).map_err(|e| refused(format!("control file: `Version`: {e}")))?;
    let arch = field("Architecture")?;
    let same = stanza.get("Multi-Arch").is_some_and(|m| m.trim() == "same");
    let db_name = if same { format!("{name}:{arch}") } else { name.clone() };
    let replaces = relation::parse(stanza.get("Replaces").unwrap_or(""))
        .map_err(|e| refused(format!("control file: `Replaces`: {e}")))?;
    Ok(Package { stanza, name, version, arch, db_name, replaces })
}

/// One `Conffiles:` line of the status: path, md5, obsolete.
fn conffiles(stanza: Option<&Stanza>) -> BTreeMap<Vec<u8>, (String, bool)> {
    let mut out = BTreeMap::new();
    let Some(text) = stanza.and_then(|s| s.get("Conffiles")) else { return out };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 2 {
            out.insert(f[0].as_bytes().to_vec(), (f[1].to_string(), f.get(2) == Some(&"obsolete")));
        }
    }
    out
}

/// The status of the installed instance, if it counts as installed.
fn installed_version(stanza: Option<&Stanza>) -> Result<Option<Version>, EntryError> {
    let Some(s) = stanza else { return Ok(None) };
    let state = s.get("Status").unwrap_or("").split_whitespace().nth(2).unwrap_or("").to_string();
    match state.as_str() {
        "installed" => Ok(s.get("Version").and_then(|v| Version::parse(v).ok())),
        "not-installed" | "config-files" => Ok(None),
        other => Err(refused_help(
            format!("the installed `{}` is in state `{other}`", s.get("Package").unwrap_or("?")),
            "finish `dpkg --configure -a` in the base first",
        )),
    }
}

/// What happens to one data entry of the package.
struct Placing<'a> {
    db: &'a Db,
    pkg: &'a Package,
    old_conffiles: &'a BTreeMap<Vec<u8>, (String, bool)>,
    /// The new version's conffiles, in the order of its `conffiles` member (as `Conffiles:`
    /// lists them).
    new_conffiles: Vec<Vec<u8>>,
    /// The same, for lookups.
    is_conffile: HashSet<Vec<u8>>,
    /// Listed paths in archive order.
    list: Vec<Vec<u8>>,
    /// Regular files: listed path → md5 of the new bytes (for `md5sums` and `Conffiles`).
    md5: BTreeMap<Vec<u8>, String>,
    /// Other packages' listed paths this one takes over (`Replaces`).
    taken: Vec<(String, Vec<u8>)>,
    dist: Vec<String>,
    /// Tree paths of the conffiles it ships.
    conffile_paths: Vec<Vec<u8>>,
}

impl Layering {
    /// Applies one verified `.deb`: its control tar `control`, then its data tar `stream`.
    pub(crate) fn apply_deb(
        &mut self,
        pass: &mut Pass,
        mut stream: impl BufRead,
        downgrade: bool,
        layer: &str,
        id: &str,
    ) -> Result<Applied, LayerError> {
        let entry_err = |entry: &str, e: EntryError| match e {
            EntryError::Refused(why) => {
                LayerError::Entry { layer: layer.to_string(), id: id.to_string(), entry: entry.to_string(), why }
            }
            EntryError::Tar(e) => LayerError::archive(layer, id, e),
            EntryError::Spool(e) => LayerError::Spool(e),
        };
        let mut len = [0u8; 8];
        stream.read_exact(&mut len).map_err(|e| LayerError::archive(layer, id, TarError::Io(e)))?;
        let mut control = Vec::new();
        (&mut stream)
            .take(u64::from_le_bytes(len))
            .read_to_end(&mut control)
            .map_err(|e| LayerError::archive(layer, id, TarError::Io(e)))?;
        let control = parse_control_tar(&control, &self.limits).map_err(|e| entry_err("control.tar", refused(e)))?;
        let pkg = package(&control).map_err(|e| entry_err("control", e))?;
        let db = self.read_db().map_err(|e| entry_err("var/lib/dpkg", e))?;
        let ctx = format!("package `{}` {}", pkg.db_name, pkg.version);
        let here = |e: EntryError| entry_err(&ctx, e);
        if pkg.arch != "all" && pkg.arch != db.native && !db.foreign.contains(&pkg.arch) {
            return Err(here(refused(format!(
                "architecture `{}` is neither `all`, the tree's native `{}`, nor listed in `var/lib/dpkg/arch`",
                pkg.arch, db.native
            ))));
        }
        let key_arch = (pkg.db_name != pkg.name).then_some(pkg.arch.as_str());
        let old = db.status.get(&pkg.name, key_arch).cloned();
        let previous = installed_version(old.as_ref()).map_err(here)?;
        if let Some(prev) = &previous {
            if pkg.version < *prev && !downgrade {
                return Err(here(refused_help(
                    format!("{} would downgrade the installed {prev}", pkg.version),
                    "set `downgrade = true` on this patch if the downgrade is intended",
                )));
            }
        }
        // A package removed but not purged (`config-files`) still has its conffiles' md5s.
        let old_conffiles = conffiles(old.as_ref());
        let new_conffiles: Vec<Vec<u8>> = control
            .members
            .get("conffiles")
            .map(|c| {
                String::from_utf8_lossy(c)
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with('/'))
                    .map(|l| l.as_bytes().to_vec())
                    .collect()
            })
            .unwrap_or_default();
        let mut placing = Placing {
            db: &db,
            pkg: &pkg,
            old_conffiles: &old_conffiles,
            is_conffile: new_conffiles.iter().cloned().collect(),
            new_conffiles,
            list: Vec::new(),
            md5: BTreeMap::new(),
            taken: Vec::new(),
            dist: Vec::new(),
            conffile_paths: Vec::new(),
        };
        let mut archive = Archive::new(stream, self.limits);
        loop {
            crate::interrupt::check().map_err(|e| LayerError::archive(layer, id, e.into()))?;
            let header = match archive.next_entry() {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => return Err(LayerError::archive(layer, id, e)),
            };
            let entry = String::from_utf8_lossy(&header.path).into_owned();
            self.deb_entry(pass, &mut placing, header, &mut archive).map_err(|e| entry_err(&entry, e))?;
        }
        let old_list = self.admin_file(&db, &format!("info/{}.list", pkg.db_name)).map_err(here)?.unwrap_or_default();
        self.remove_vanished(pass, &placing, &old_list).map_err(here)?;
        let mtime = self.epoch.map_or(control.mtime, |e| control.mtime.min(e));
        let triggers = self.write_database(pass, &placing, &control, mtime).map_err(here)?;
        let changelog = self.changelog(&pkg).map_err(here)?;
        self.installed_by.insert(pkg.db_name.clone(), pass.index);
        let scripts = SCRIPTS.iter().filter(|s| control.members.contains_key(**s)).map(|s| s.to_string()).collect();
        Ok(Applied {
            db_name: pkg.db_name.clone(),
            package: pkg.name.clone(),
            version: pkg.version.to_string(),
            architecture: pkg.arch.clone(),
            previous: previous.map(|v| v.to_string()),
            scripts,
            triggers,
            dist: placing.dist.clone(),
            changelog,
            conffiles: placing.conffile_paths.clone(),
        })
    }

    /// Places one data entry; returns the bytes of the package's changelog when this is it.
    fn deb_entry<R: BufRead>(
        &mut self,
        pass: &mut Pass,
        placing: &mut Placing,
        h: tar::Header,
        archive: &mut Archive<R>,
    ) -> Result<(), EntryError> {
        let comps = components(&h.path)?;
        super::xattr_names(&h)?;
        let listed = list_path(&h.path);
        placing.list.push(listed.clone());
        let Some(name) = comps.last() else {
            return Ok(()); // `./`: dpkg leaves the root as it is
        };
        if name.starts_with(b".wh.") {
            return Err(refused("a name starting with `.wh.` is a whiteout in an image; a package may not ship one"));
        }
        // A diversion by another package (or a local one) sends the file elsewhere.
        let target = match placing.db.diversions.get(&listed) {
            Some((to, owner)) if *owner != placing.pkg.name && h.kind != tar::Kind::Dir => to.clone(),
            _ => listed.clone(),
        };
        let comps: Vec<&[u8]> = target.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
        let (name, parents) = comps.split_last().expect("not the root");
        let mtime = self.epoch.map_or(h.mtime, |e| h.mtime.min(e));
        let parent = super::resolve::Resolver::new(&self.limits)
            .dir(&mut self.tree, parents, Some((pass, self.epoch.unwrap_or(0))))
            .map_err(EntryError::Refused)?
            .expect("created");
        let path = tree::join(&parent, name);
        if path == super::RELEASE_PATH {
            return Err(refused("`etc/gild/release` is written by gild; a package may not ship it"));
        }
        let existing = self.tree.get(&path).map(|n| n.kind.clone());
        let (uid, gid, mode) = placing.db.overrides.get(&target).copied().unwrap_or((h.uid, h.gid, h.mode));
        let node = Node { kind: Kind::Dir, mode, uid, gid, mtime, xattrs: h.xattrs.clone(), origin: pass.index };
        match h.kind {
            tar::Kind::Dir => {
                match existing {
                    // An existing directory keeps its owner and mode; a symlink to one stays.
                    Some(Kind::Dir) => {}
                    Some(Kind::Symlink(_)) if self.is_dir_link(&path) => {}
                    _ => self.replace(pass, path, node),
                }
                return Ok(());
            }
            tar::Kind::Symlink if matches!(existing, Some(Kind::Dir)) => return Ok(()),
            _ => {}
        }
        self.check_owner(placing, &target)?;
        let kind = match h.kind {
            tar::Kind::File => {
                let mut md5 = Md5::new();
                let content = self.spool.store_seen(&mut archive.data(), |b| md5.update(b)).map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::Other {
                        EntryError::Tar(TarError::Io(e))
                    } else {
                        EntryError::Spool(e)
                    }
                })?;
                placing.md5.insert(listed.clone(), crate::hex::encode(&md5.finalize()));
                if pass.track {
                    pass.sources.insert(path.clone(), super::Source::Member(h.path.clone()));
                }
                if placing.is_conffile.contains(&listed) {
                    let bytes = self.spool.read(&content).map_err(EntryError::Spool)?;
                    return self.conffile(
                        pass,
                        placing,
                        &listed,
                        path,
                        Node { kind: Kind::File(content), ..node },
                        &bytes,
                    );
                }
                self.replace(pass, path, Node { kind: Kind::File(content), ..node });
                return Ok(());
            }
            tar::Kind::Symlink if h.link.is_empty() => return Err(refused("symlink with an empty target")),
            tar::Kind::Symlink => Kind::Symlink(h.link.clone()),
            tar::Kind::HardLink => {
                return self.hard_link(pass, path, &h);
            }
            _ => {
                if !self.allow_devices {
                    return Err(refused_help(
                        "a patch may not add device nodes or fifos",
                        "set `allow-devices = true` in `[image]` if this patch must",
                    ));
                }
                match h.kind {
                    tar::Kind::Char => Kind::Char(h.dev.0, h.dev.1),
                    tar::Kind::Block => Kind::Block(h.dev.0, h.dev.1),
                    _ => Kind::Fifo,
                }
            }
        };
        self.replace(pass, path, Node { kind, ..node });
        Ok(())
    }

    fn is_dir_link(&mut self, path: &[u8]) -> bool {
        let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        matches!(Resolver::new(&self.limits).dir(&mut self.tree, &comps, None), Ok(Some(t)) if self.tree.get(&t).is_some_and(Node::is_dir))
    }

    /// A file another installed package lists may be taken only by one that `Replaces` it.
    fn check_owner(&mut self, placing: &mut Placing, listed: &[u8]) -> Result<(), EntryError> {
        let Some(owners) = placing.db.owners.get(listed) else { return Ok(()) };
        for owner in owners {
            let owner_name = owner.split(':').next().unwrap_or(owner);
            if owner_name == placing.pkg.name {
                continue;
            }
            let owner_arch = owner.split(':').nth(1);
            let version = placing
                .db
                .status
                .get(owner_name, owner_arch)
                .and_then(|s| s.get("Version"))
                .and_then(|v| Version::parse(v).ok());
            let replaced = placing
                .pkg
                .replaces
                .iter()
                .flat_map(|r| &r.alternatives)
                .any(|a| replaces(a, owner_name, version.as_ref()));
            if !replaced {
                return Err(refused_help(
                    format!("`{}` is also in package `{owner}`", String::from_utf8_lossy(listed)),
                    format!("a package that takes another's file must declare `Replaces: {owner_name}`"),
                ));
            }
            placing.taken.push((owner.clone(), listed.to_vec()));
        }
        Ok(())
    }

    /// dpkg's conffile rules with `--force-confold`.
    fn conffile(
        &mut self,
        pass: &mut Pass,
        placing: &mut Placing,
        listed: &[u8],
        path: Vec<u8>,
        node: Node,
        new: &[u8],
    ) -> Result<(), EntryError> {
        placing.conffile_paths.push(path.clone());
        let current = match self.tree.get(&path).map(|n| n.kind.clone()) {
            Some(Kind::File(c)) => Some(self.spool.read(&c).map_err(EntryError::Spool)?),
            _ => None,
        };
        let known = placing.old_conffiles.get(listed).map(|(md5, _)| md5.as_str());
        let new_md5 = md5_hex(new);
        // What dpkg's `--force-confold` does: the new version where nobody changed the file;
        // otherwise the file stays as it is (deleted stays deleted, a file no package knew
        // stays) and the new version goes beside it when it differs.
        let (take_new, dist) = match (known, &current) {
            (None, None) => (true, false),
            (Some(old), None) => (false, old != new_md5),
            (_, Some(cur)) if cur == new => (true, false),
            (Some(old), Some(cur)) if md5_hex(cur) == old => (true, false),
            (Some(old), Some(_)) => (false, old != new_md5),
            (None, Some(_)) => (false, true),
        };
        if take_new {
            self.replace(pass, path, node);
            return Ok(());
        }
        if dist {
            let mut dist = path.clone();
            dist.extend_from_slice(b".dpkg-dist");
            self.replace(pass, dist.clone(), node);
            pass.sources.insert(dist.clone(), super::Source::Generated);
            pass.generated.insert(dist.clone());
            placing.dist.push(String::from_utf8_lossy(listed).into_owned());
        }
        Ok(())
    }

    /// The package's `changelog.Debian.gz` as the tree now has it (its doc directory may be a
    /// symlink to another package's of the same source).
    fn changelog(&mut self, pkg: &Package) -> Result<Option<Vec<u8>>, EntryError> {
        for file in ["changelog.Debian.gz".to_string(), format!("changelog.Debian.{}.gz", pkg.arch)] {
            if let Some(b) = self.read_tree_file(format!("usr/share/doc/{}/{file}", pkg.name).as_bytes())? {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// Removes what the installed version listed and the new one does not ship.
    fn remove_vanished(&mut self, pass: &mut Pass, placing: &Placing, old_list: &[u8]) -> Result<(), EntryError> {
        let new: HashSet<&[u8]> = placing.list.iter().map(Vec::as_slice).collect();
        let mut dirs = Vec::new();
        for line in old_list.split(|&b| b == b'\n').filter(|l| !l.is_empty() && *l != b"/.") {
            if new.contains(line) || placing.old_conffiles.contains_key(line) {
                continue;
            }
            let others = placing.db.owners.get(line).is_some_and(|o| o.iter().any(|p| *p != placing.pkg.db_name));
            let target = match placing.db.diversions.get(line) {
                Some((to, owner)) if *owner != placing.pkg.name => to.clone(),
                _ => line.to_vec(),
            };
            let Some(path) = self.resolve_existing(&target) else { continue };
            match self.tree.get(&path) {
                _ if others => {}
                Some(n) if n.is_dir() => dirs.push(path),
                Some(_) => pass.delete(&mut self.tree, &path),
                None => {}
            }
        }
        dirs.sort();
        for d in dirs.iter().rev() {
            if !self.tree.has_children(d) {
                pass.delete(&mut self.tree, d);
            }
        }
        Ok(())
    }
}

/// Does a `Replaces` atom name this installed package (and its version)?
fn replaces(atom: &Atom, name: &str, version: Option<&Version>) -> bool {
    atom.name == name
        && match (&atom.version, version) {
            (None, _) => true,
            (Some((op, wanted)), Some(v)) => op.matches(v, wanted),
            (Some(_), None) => false,
        }
}
