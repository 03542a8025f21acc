//! A Debian package applied as `dpkg --unpack` then `dpkg --configure` leave the tree and
//! the database (docs/debian.md), except that maintainer scripts are not run.
//!
//! The decompressing thread splits the `.deb` ([`decode_deb`]): the control tar, small and
//! capped, goes first in the stream behind its length, then the decompressed `data.tar`.
//! The layering thread reads the database from the tree so far, places the data entries with
//! dpkg's rules (diversions, stat overrides, conffiles, existing directories kept, files of
//! other packages only with `Replaces`), removes what the old version had and the new one
//! lacks, and writes `status` and `info/` back.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read};

use md5::{Digest, Md5};

use super::decompress::{self, Compression, Sink};
use super::resolve::Resolver;
use super::tar::{self, Archive, TarError};
use super::{components, EntryError, LayerError, Layering, Pass, Refusal};
use crate::deb::ar::Deb;
use crate::deb::control::{Stanza, Status};
use crate::deb::installed;
use crate::deb::relation::{self, Atom};
use crate::deb::version::Version;
use crate::limits::Limits;
use crate::tree::{self, Kind, Node, Origin};

/// The most bytes a decompressed control tar may take in memory. Real ones are kilobytes
/// (a kernel's md5sums, the largest, is under a megabyte).
const CONTROL_MAX: u64 = 64 << 20;

/// The database directory, as every Debian tree has it.
const ADMIN: &[u8] = b"var/lib/dpkg";

/// Maintainer scripts: copied to `info/` executable, never run at build time.
pub const SCRIPTS: [&str; 5] = ["preinst", "postinst", "prerm", "postrm", "config"];

/// Splits a verified `.deb` for the layering thread: the control tar's length (8 bytes, little
/// endian) and bytes, then the decompressed `data.tar`. Returns the data's compression.
pub(crate) fn decode_deb(input: &mut impl Read, limits: &Limits, sink: &mut impl Sink) -> io::Result<Compression> {
    let mut deb = match Deb::open(input) {
        Ok(d) => d,
        Err(e) => return Err(failed(sink, io::Error::other(e))),
    };
    let control = match read_control_member(&mut deb, limits) {
        Ok(c) => c,
        Err(e) => return Err(failed(sink, e)),
    };
    let kind = {
        let member = match deb.data() {
            Ok(m) => m,
            Err(e) => return Err(failed(sink, io::Error::other(e))),
        };
        let name = member.name.clone();
        let mut member = BufReader::new(member);
        let bzip2 = match member.fill_buf() {
            Ok(head) => head.starts_with(b"BZh"),
            Err(e) => return Err(failed(sink, io::Error::other(format!("member `{name}`: {e}")))),
        };
        // dpkg still reads `data.tar.bz2` (old packages); gild's layers never are.
        let (kind, data): (Compression, Box<dyn Read>) = if bzip2 {
            (Compression::None, Box::new(bzip2::bufread::MultiBzDecoder::new(member)))
        } else {
            match decompress::decoder(member, limits) {
                Ok(d) => d,
                Err(e) => return Err(failed(sink, io::Error::other(format!("member `{name}`: {e}")))),
            }
        };
        let frame = io::Cursor::new((control.len() as u64).to_le_bytes()).chain(io::Cursor::new(control));
        sink.pump(&mut frame.chain(data))?;
        kind
    };
    deb.finish().map_err(io::Error::other)?;
    Ok(kind)
}

fn failed(sink: &mut impl Sink, e: io::Error) -> io::Error {
    sink.fail(&e);
    e
}

fn read_control_member<R: Read>(deb: &mut Deb<R>, limits: &Limits) -> io::Result<Vec<u8>> {
    let member = deb.control().map_err(io::Error::other)?;
    let name = member.name.clone();
    let (_, reader) = decompress::decoder(BufReader::new(member), limits)
        .map_err(|e| io::Error::other(format!("member `{name}`: {e}")))?;
    let mut out = Vec::new();
    reader.take(CONTROL_MAX + 1).read_to_end(&mut out)?;
    if out.len() as u64 > CONTROL_MAX {
        return Err(io::Error::other(format!(
            "member `{name}` unpacks to more than {} MiB; no real package's control data is that large",
            CONTROL_MAX >> 20
        )));
    }
    Ok(out)
}

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

/// The control tar's members by name (`control`, `md5sums`, `postinst`…).
struct Control {
    members: BTreeMap<String, Vec<u8>>,
    mtime: i64,
}

fn parse_control_tar(bytes: &[u8], limits: &Limits) -> Result<Control, String> {
    let mut archive = Archive::new(bytes, *limits);
    let mut members = BTreeMap::new();
    let mut mtime = 0;
    while let Some(h) = archive.next_entry().map_err(|e| format!("control tar: {e}"))? {
        let name = String::from_utf8_lossy(&h.path).trim_start_matches("./").trim_end_matches('/').to_string();
        match h.kind {
            tar::Kind::Dir if name.is_empty() || name == "." => mtime = h.mtime,
            tar::Kind::File if !name.is_empty() && !name.contains('/') => {
                let mut data = Vec::new();
                archive.data().read_to_end(&mut data).map_err(|e| format!("control tar, `{name}`: {e}"))?;
                mtime = mtime.max(h.mtime);
                members.insert(name, data);
            }
            _ => return Err(format!("control tar: unexpected entry `{}`", String::from_utf8_lossy(&h.path))),
        }
    }
    if !members.contains_key("control") {
        return Err("control tar has no `control` file".into());
    }
    Ok(Control { members, mtime })
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

/// The database as it stands in the tree before a package is applied.
struct Db {
    admin: Vec<u8>,
    status: Status,
    native: String,
    foreign: Vec<String>,
    /// Diverted path → (divert-to path, owning package or `:` for local).
    diversions: HashMap<Vec<u8>, (Vec<u8>, String)>,
    /// Path → (uid, gid, mode).
    overrides: HashMap<Vec<u8>, (u64, u64, u32)>,
    /// Listed path → database names of the packages whose `.list` has it.
    owners: HashMap<Vec<u8>, Vec<String>>,
}

impl Layering {
    /// The bytes of the regular file at `path` (resolved through symlinked parents), if any.
    fn read_tree_file(&mut self, path: &[u8]) -> Result<Option<Vec<u8>>, EntryError> {
        let Some(resolved) = self.resolve_existing(path) else { return Ok(None) };
        match self.tree.get(&resolved).map(|n| n.kind.clone()) {
            Some(Kind::File(c)) => self.spool.read(&c).map(Some).map_err(EntryError::Spool),
            _ => Ok(None),
        }
    }

    /// `path` with its parent directories resolved, without creating any; `None` when a
    /// parent is missing or is not a directory.
    fn resolve_existing(&mut self, path: &[u8]) -> Option<Vec<u8>> {
        let comps: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").collect();
        let (name, parents) = comps.split_last()?;
        let dir = Resolver::new(&self.limits).dir(&mut self.tree, parents, None).ok()??;
        Some(tree::join(&dir, name))
    }

    /// Writes a file gild generates (the database), owned by this layer.
    fn put_generated(
        &mut self,
        pass: &mut Pass,
        path: &[u8],
        bytes: &[u8],
        mode: u32,
        mtime: i64,
    ) -> Result<(), EntryError> {
        let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        let (name, parents) = comps.split_last().expect("a generated path has a name");
        let dir = Resolver::new(&self.limits)
            .dir(&mut self.tree, parents, Some((pass, self.epoch.unwrap_or(0))))
            .map_err(EntryError::Refused)?
            .expect("created");
        let content = self.spool.store(&mut &bytes[..]).map_err(EntryError::Spool)?;
        let node =
            Node { kind: Kind::File(content), mode, uid: 0, gid: 0, mtime, xattrs: Vec::new(), origin: pass.index };
        let path = tree::join(&dir, name);
        self.replace(pass, path.clone(), node);
        pass.sources.insert(path.clone(), super::Source::Generated);
        pass.generated.insert(path);
        Ok(())
    }

    fn admin_file(&mut self, db: &Db, name: &str) -> Result<Option<Vec<u8>>, EntryError> {
        self.read_tree_file(&tree::join(&db.admin, name.as_bytes()))
    }

    fn read_db(&mut self) -> Result<Db, EntryError> {
        let admin = ADMIN.to_vec();
        let status_bytes = self.read_tree_file(&tree::join(&admin, b"status"))?.ok_or_else(|| {
            refused_help(
                "not a dpkg-managed tree: the layers below have no `var/lib/dpkg/status`",
                "a Debian package needs a Debian base; use a tar layer for other trees",
            )
        })?;
        let updates = self.resolve_existing(&tree::join(&admin, b"updates"));
        if let Some(dir) = updates {
            if self.tree.descendants(&dir).any(|(p, _)| !p.ends_with(b"/tmp.i")) {
                return Err(refused_help(
                    "the base has pending records in `var/lib/dpkg/updates/`",
                    "finish `dpkg --configure -a` in the base first",
                ));
            }
        }
        let status = Status::parse(&status_bytes).map_err(|e| refused(format!("`var/lib/dpkg/status`: {e}")))?;
        let native = status
            .get("dpkg", None)
            .and_then(|s| s.get("Architecture"))
            .map(str::to_string)
            .unwrap_or_else(|| "amd64".to_string());
        let mut db = Db {
            admin,
            status,
            native,
            foreign: Vec::new(),
            diversions: HashMap::new(),
            overrides: HashMap::new(),
            owners: HashMap::new(),
        };
        if let Some(arch) = self.admin_file(&db, "arch")? {
            db.foreign = String::from_utf8_lossy(&arch).split_whitespace().map(str::to_string).collect();
        }
        if let Some(div) = self.admin_file(&db, "diversions")? {
            let lines: Vec<&[u8]> = div.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
            for triple in lines.chunks(3) {
                if let [from, to, owner] = triple {
                    db.diversions.insert(from.to_vec(), (to.to_vec(), String::from_utf8_lossy(owner).into_owned()));
                }
            }
        }
        if let Some(so) = self.admin_file(&db, "statoverride")? {
            self.read_overrides(&mut db, &so)?;
        }
        self.read_owners(&mut db)?;
        Ok(db)
    }

    fn read_overrides(&mut self, db: &mut Db, text: &[u8]) -> Result<(), EntryError> {
        let passwd = self.read_tree_file(b"etc/passwd")?.unwrap_or_default();
        let group = self.read_tree_file(b"etc/group")?.unwrap_or_default();
        let id_of = |table: &[u8], name: &str| -> Option<u64> {
            if let Some(n) = name.strip_prefix('#') {
                return n.parse().ok();
            }
            String::from_utf8_lossy(table).lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[0] == name).then(|| f[2].parse().ok()).flatten()
            })
        };
        for line in String::from_utf8_lossy(text).lines() {
            let f: Vec<&str> = line.splitn(4, ' ').collect();
            let [user, group_name, mode, path] = f[..] else { continue };
            let (Some(uid), Some(gid), Ok(mode)) =
                (id_of(&passwd, user), id_of(&group, group_name), u32::from_str_radix(mode, 8))
            else {
                return Err(refused(format!(
                    "`var/lib/dpkg/statoverride`: cannot resolve `{line}` through the image's `etc/passwd` and `etc/group`"
                )));
            };
            db.overrides.insert(path.as_bytes().to_vec(), (uid, gid, mode & 0o7777));
        }
        Ok(())
    }

    /// Every package's `.list`, inverted: who owns each listed path.
    fn read_owners(&mut self, db: &mut Db) -> Result<(), EntryError> {
        let info = tree::join(&db.admin, b"info");
        let lists: Vec<(Vec<u8>, String)> = self
            .tree
            .descendants(&info)
            .filter_map(|(p, _)| {
                let name = p.strip_prefix(&tree::child_prefix(&info)[..])?.strip_suffix(b".list")?;
                (!name.contains(&b'/')).then(|| (p.clone(), String::from_utf8_lossy(name).into_owned()))
            })
            .collect();
        for (path, pkg) in lists {
            let Some(Kind::File(c)) = self.tree.get(&path).map(|n| n.kind.clone()) else { continue };
            let bytes = self.spool.read(&c).map_err(EntryError::Spool)?;
            for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                db.owners.entry(line.to_vec()).or_default().push(pkg.clone());
            }
        }
        Ok(())
    }
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

    /// `status`, `info/NAME.*` and `triggers/File`, as dpkg writes them after `--configure`.
    /// Returns the triggers the package activates.
    fn write_database(
        &mut self,
        pass: &mut Pass,
        placing: &Placing,
        control: &Control,
        mtime: i64,
    ) -> Result<Vec<String>, EntryError> {
        let db = placing.db;
        let pkg = placing.pkg;
        let info = |member: &str| tree::join(&db.admin, format!("info/{}.{member}", pkg.db_name).as_bytes());
        // Other packages' lists and md5sums lose the files this one took over.
        let mut taken: BTreeMap<&str, HashSet<&[u8]>> = BTreeMap::new();
        for (owner, path) in &placing.taken {
            taken.entry(owner).or_default().insert(path);
        }
        for (owner, paths) in taken {
            // Only the list: dpkg 1.21 leaves the old owner's md5sums line in place.
            self.drop_lines(pass, db, &format!("info/{owner}.list"), |l| paths.contains(l), mtime)?;
        }
        let mut list = Vec::new();
        for p in &placing.list {
            list.extend_from_slice(p);
            list.push(b'\n');
        }
        // dpkg keeps a conffile the new version dropped in the list, after the archive's paths.
        let shipped: HashSet<&[u8]> = placing.list.iter().map(Vec::as_slice).collect();
        for path in placing.old_conffiles.keys().filter(|p| !shipped.contains(&p[..])) {
            list.extend_from_slice(path);
            list.push(b'\n');
        }
        self.put_generated(pass, &info("list"), &list, 0o644, mtime)?;
        // Absent from the control tar, dpkg computes it: archive order, conffiles included.
        let md5sums = match control.members.get("md5sums") {
            Some(m) => m.clone(),
            None => placing.list.iter().filter_map(|p| placing.md5.get(p).map(|m| (p, m))).fold(
                Vec::new(),
                |mut out, (p, md5)| {
                    out.extend_from_slice(format!("{md5}  ").as_bytes());
                    out.extend_from_slice(&p[1..]);
                    out.push(b'\n');
                    out
                },
            ),
        };
        if !md5sums.is_empty() {
            self.put_generated(pass, &info("md5sums"), &md5sums, 0o644, mtime)?;
        }
        let mut keep: HashSet<String> = ["list".to_string(), "md5sums".to_string()].into();
        for (name, bytes) in &control.members {
            if name == "control" || name == "md5sums" || name.contains('.') {
                continue;
            }
            let mode = if SCRIPTS.contains(&name.as_str()) { 0o755 } else { 0o644 };
            self.put_generated(pass, &info(name), bytes, mode, mtime)?;
            keep.insert(name.clone());
        }
        // Members the installed version had and this one lacks.
        let prefix = info("");
        let stale: Vec<Vec<u8>> = self
            .tree
            .descendants(&tree::join(&db.admin, b"info"))
            .filter_map(|(p, _)| {
                let member = p.strip_prefix(&prefix[..])?;
                (!keep.contains(&*String::from_utf8_lossy(member)) && !member.contains(&b'/')).then(|| p.clone())
            })
            .collect();
        for p in stale {
            pass.delete(&mut self.tree, &p);
        }
        self.write_status(pass, placing, mtime)?;
        self.triggers(pass, placing, control, mtime)
    }

    fn write_status(&mut self, pass: &mut Pass, placing: &Placing, mtime: i64) -> Result<(), EntryError> {
        let mut status = placing.db.status.clone();
        let mut stanza = placing.pkg.stanza.clone();
        let bad = |e: crate::deb::control::ControlError| refused(format!("control file: {e}"));
        // `dpkg -i` selects what it installs: a held or deselected package ends `install`.
        stanza.try_set("Status", "install ok installed").map_err(bad)?;
        let mut lines = Vec::new();
        let mut seen = HashSet::new();
        for (path, md5) in placing.new_conffiles.iter().filter_map(|p| placing.md5.get(p).map(|m| (p, m))) {
            if !seen.insert(path) {
                continue;
            }
            lines.push(format!(" {} {md5}", String::from_utf8_lossy(path)));
        }
        for (path, (md5, _)) in placing.old_conffiles {
            if !placing.is_conffile.contains(path) {
                lines.push(format!(" {} {md5} obsolete", String::from_utf8_lossy(path)));
            }
        }
        stanza.remove("Conffiles");
        if !lines.is_empty() {
            stanza.try_set("Conffiles", &format!("\n{}", lines.join("\n"))).map_err(bad)?;
        }
        status.put(stanza);
        let bytes = status.render();
        self.put_generated(pass, &tree::join(&placing.db.admin, b"status"), &bytes, 0o644, mtime)
    }

    /// Rewrites an admin file without the lines `drop` picks (absent files stay absent).
    fn drop_lines(
        &mut self,
        pass: &mut Pass,
        db: &Db,
        name: &str,
        drop: impl Fn(&[u8]) -> bool,
        mtime: i64,
    ) -> Result<(), EntryError> {
        let Some(bytes) = self.admin_file(db, name)? else { return Ok(()) };
        let mut out = Vec::with_capacity(bytes.len());
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if !drop(line.strip_suffix(b"\n").unwrap_or(line)) {
                out.extend_from_slice(line);
            }
        }
        if out != bytes {
            let path = tree::join(&db.admin, name.as_bytes());
            let mode = self.tree.get(&path).map_or(0o644, |n| n.mode);
            self.put_generated(pass, &path, &out, mode, mtime)?;
        }
        Ok(())
    }

    /// Keeps `triggers/File` in step with the package's file-trigger interests, and lists the
    /// triggers its installation activates.
    fn triggers(
        &mut self,
        pass: &mut Pass,
        placing: &Placing,
        control: &Control,
        mtime: i64,
    ) -> Result<Vec<String>, EntryError> {
        let db = placing.db;
        let pkg = placing.pkg;
        let directives: Vec<(String, String)> = control
            .members
            .get("triggers")
            .map(|t| {
                String::from_utf8_lossy(t)
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
                    .filter_map(|l| {
                        let mut f = l.split_whitespace();
                        Some((f.next()?.to_string(), f.next()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut activated: BTreeSet<String> =
            directives.iter().filter(|(d, _)| d.starts_with("activate")).map(|(_, name)| name.clone()).collect();
        let file_path = tree::join(&db.admin, b"triggers/File");
        let current = self.read_tree_file(&file_path)?;
        let interests: Vec<(String, String)> = current
            .as_deref()
            .map(|b| {
                String::from_utf8_lossy(b)
                    .lines()
                    .filter_map(|l| l.split_once(' ').map(|(p, w)| (p.to_string(), w.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        for (path, who) in &interests {
            let who_name = who.split('/').next().unwrap_or(who);
            let covered = placing.list.iter().any(|l| {
                let l = String::from_utf8_lossy(l);
                *l == **path || l.starts_with(&format!("{path}/"))
            });
            if covered && who_name != pkg.name && who_name != pkg.db_name {
                activated.insert(format!("{path} ({who_name})"));
            }
        }
        // The package's own file interests, as `PATH PACKAGE[/noawait]` lines.
        let mine = |w: &str| {
            let n = w.split('/').next().unwrap_or(w);
            n == pkg.name || n == pkg.db_name
        };
        let new_interests: Vec<String> = directives
            .iter()
            .filter(|(d, name)| d.starts_with("interest") && name.starts_with('/'))
            .map(|(d, name)| {
                let suffix = if d.ends_with("-noawait") { "/noawait" } else { "" };
                format!("{name} {}{suffix}", pkg.db_name)
            })
            .collect();
        let old_interests: Vec<String> =
            interests.iter().filter(|(_, w)| mine(w)).map(|(p, w)| format!("{p} {w}")).collect();
        self.explicit_interests(pass, placing, &directives, mtime)?;
        if old_interests != new_interests && (current.is_some() || !new_interests.is_empty()) {
            let mut lines: Vec<String> =
                interests.iter().filter(|(_, w)| !mine(w)).map(|(p, w)| format!("{p} {w}")).collect();
            lines.extend(new_interests);
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            self.put_generated(pass, &file_path, text.as_bytes(), 0o644, mtime)?;
        }
        Ok(activated.into_iter().collect())
    }
}

impl Layering {
    /// `triggers/NAME` lists the packages interested in explicit trigger NAME, one a line
    /// (`PACKAGE` or `PACKAGE/noawait`), as dpkg registers a package's `interest` directives.
    fn explicit_interests(
        &mut self,
        pass: &mut Pass,
        placing: &Placing,
        directives: &[(String, String)],
        mtime: i64,
    ) -> Result<(), EntryError> {
        let pkg = placing.pkg;
        for (directive, name) in directives {
            if !directive.starts_with("interest")
                || name.starts_with('/')
                || name.contains('/')
                || name.starts_with('.')
            {
                continue;
            }
            let line =
                if directive.ends_with("-noawait") { format!("{}/noawait", pkg.db_name) } else { pkg.db_name.clone() };
            let path = tree::join(&placing.db.admin, format!("triggers/{name}").as_bytes());
            let current = self.read_tree_file(&path)?.unwrap_or_default();
            let text = String::from_utf8_lossy(&current);
            if text.lines().any(|l| l == line) {
                continue;
            }
            let mut out: String =
                text.lines().filter(|l| l.split('/').next() != Some(&pkg.db_name)).map(|l| format!("{l}\n")).collect();
            out.push_str(&line);
            out.push('\n');
            self.put_generated(pass, &path, out.as_bytes(), 0o644, mtime)?;
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

/// The installed packages after the last layer, and what the database leaves unmet.
#[derive(Debug, Default)]
pub struct Packages {
    /// Each package with the layer that last installed it (0: the base).
    pub inventory: Vec<(installed::Package, Origin)>,
    /// Each unmet relation with the latest layer that installed one of the packages it names.
    pub unmet: Vec<(installed::Unmet, Origin)>,
    /// `ID` and `VERSION_ID` of `etc/os-release`.
    pub os: Option<crate::deb::sbom::Os>,
}

impl Layering {
    /// What the tree's database says is installed, or `None` for a tree dpkg does not manage.
    pub fn packages(&mut self) -> Result<Option<Packages>, LayerError> {
        let entry = |e: EntryError| match e {
            EntryError::Refused(why) => LayerError::Entry {
                layer: "var/lib/dpkg/status".into(),
                id: "packages".into(),
                entry: "var/lib/dpkg/status".into(),
                why,
            },
            EntryError::Tar(e) => LayerError::archive("var/lib/dpkg/status", "packages", e),
            EntryError::Spool(e) => LayerError::Spool(e),
        };
        let Some(bytes) = self.read_tree_file(&tree::join(ADMIN, b"status")).map_err(entry)? else {
            return Ok(None);
        };
        let status = Status::parse(&bytes).map_err(|e| entry(refused(format!("`var/lib/dpkg/status`: {e}"))))?;
        let native = status.get("dpkg", None).and_then(|s| s.get("Architecture")).unwrap_or("amd64").to_string();
        let by = |name: &str| self.installed_by.get(name).copied().unwrap_or(0);
        let inventory = installed::inventory(&status).into_iter().map(|p| {
            let origin = by(&p.db_name);
            (p, origin)
        });
        let inventory = inventory.collect();
        let unmet = installed::unmet(&status, &native)
            .into_iter()
            .map(|u| {
                let origin = u.names.iter().map(|n| by(n)).chain([by(&u.package)]).max().unwrap_or(0);
                (u, origin)
            })
            .collect();
        let os = match self.read_tree_file(b"etc/os-release").map_err(entry)? {
            Some(b) => crate::deb::sbom::os_release(&String::from_utf8_lossy(&b)),
            None => match self.read_tree_file(b"usr/lib/os-release").map_err(entry)? {
                Some(b) => crate::deb::sbom::os_release(&String::from_utf8_lossy(&b)),
                None => None,
            },
        };
        Ok(Some(Packages { inventory, unmet, os }))
    }
}

impl Layering {
    /// The sha256 of every regular file at or below each of `roots`: what `install.sh` checks
    /// a host's database and conffiles against.
    pub fn digests(&self, roots: &[&[u8]]) -> HashMap<Vec<u8>, [u8; 32]> {
        let mut out = HashMap::new();
        for root in roots {
            let own = self.tree.get(root).map(|n| (root.to_vec(), n));
            for (path, node) in own.into_iter().chain(self.tree.descendants(root).map(|(p, n)| (p.clone(), n))) {
                if let Kind::File(c) = &node.kind {
                    out.insert(path, c.sha256);
                }
            }
        }
        out
    }
}

/// What `intake` needs to know of a `.deb` before it goes into a recipe.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// `usr/share/doc/PACKAGE/changelog.Debian.gz` as the package ships it, if it does.
    pub changelog: Option<Vec<u8>>,
}

/// Why a `.deb` could not be inspected.
#[derive(Debug)]
pub enum InspectError {
    /// The package changed since it was verified (a trust failure, whatever else went wrong).
    Changed(crate::trust::TrustError),
    /// It is not a package gild can install.
    Invalid(String),
}

/// Reads a verified `.deb` through: its control file, and its changelog from `data.tar`. The
/// whole package is read, so one that gild could not layer is refused here, not at the build.
pub fn inspect(artifact: &crate::trust::Verified, limits: &Limits) -> Result<Inspected, InspectError> {
    let (writer, pipe) = decompress::pipe();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || super::decode(artifact, limits, writer));
        let read = read_inspected(pipe, limits);
        let produced = producer
            .join()
            .unwrap_or_else(|_| super::Decoded::failed(io::Error::other("the decompression thread panicked")));
        if let Some(changed) = produced.changed(artifact) {
            return Err(InspectError::Changed(changed));
        }
        let inspected = read.map_err(InspectError::Invalid)?;
        produced.result.map_err(|e| InspectError::Invalid(e.to_string()))?;
        produced.digest.map_err(|e| InspectError::Invalid(e.to_string()))?;
        Ok(inspected)
    })
}

fn read_inspected(mut stream: impl BufRead, limits: &Limits) -> Result<Inspected, String> {
    let mut len = [0u8; 8];
    stream.read_exact(&mut len).map_err(|e| e.to_string())?;
    let mut control = Vec::new();
    (&mut stream).take(u64::from_le_bytes(len)).read_to_end(&mut control).map_err(|e| e.to_string())?;
    let control = parse_control_tar(&control, limits)?;
    let pkg = package(&control).map_err(|e| match e {
        EntryError::Refused(why) => why.why,
        EntryError::Tar(e) => e.to_string(),
        EntryError::Spool(e) => e.to_string(),
    })?;
    let wanted = format!("usr/share/doc/{}/changelog.Debian.gz", pkg.name);
    let mut changelog = None;
    let mut archive = Archive::new(stream, *limits);
    while let Some(h) = archive.next_entry().map_err(|e| format!("data.tar: {e}"))? {
        components(&h.path).map_err(|e| match e {
            EntryError::Refused(why) => format!("data.tar, `{}`: {why}", String::from_utf8_lossy(&h.path)),
            _ => "data.tar: unreadable entry".to_string(),
        })?;
        if h.kind == tar::Kind::File && tree::clean_path(&h.path).is_some_and(|p| p == wanted.as_bytes()) {
            let mut bytes = Vec::new();
            archive.data().take(CONTROL_MAX).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            changelog = Some(bytes);
        }
    }
    Ok(Inspected { package: pkg.name, version: pkg.version.to_string(), architecture: pkg.arch, changelog })
}
