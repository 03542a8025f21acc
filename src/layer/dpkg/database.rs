//! The package database as it stands in the tree: read before a package is applied, and what
//! it says is installed after the last layer.

use std::collections::HashMap;

use super::{refused, refused_help, ADMIN};
use crate::deb::control::Status;
use crate::deb::installed;
use crate::layer::resolve::Resolver;
use crate::layer::{EntryError, LayerError, Layering, Pass};
use crate::tree::{self, Kind, Node, Origin};

/// The database as it stands in the tree before a package is applied.
pub(super) struct Db {
    pub(super) admin: Vec<u8>,
    pub(super) status: Status,
    pub(super) native: String,
    pub(super) foreign: Vec<String>,
    /// Diverted path → (divert-to path, owning package or `:` for local).
    pub(super) diversions: HashMap<Vec<u8>, (Vec<u8>, String)>,
    /// Path → (uid, gid, mode).
    pub(super) overrides: HashMap<Vec<u8>, (u64, u64, u32)>,
    /// Listed path → database names of the packages whose `.list` has it.
    pub(super) owners: HashMap<Vec<u8>, Vec<String>>,
}

impl Layering {
    /// The bytes of the regular file at `path` (resolved through symlinked parents), if any.
    pub(super) fn read_tree_file(&mut self, path: &[u8]) -> Result<Option<Vec<u8>>, EntryError> {
        let Some(resolved) = self.resolve_existing(path) else { return Ok(None) };
        match self.tree.get(&resolved).map(|n| n.kind.clone()) {
            Some(Kind::File(c)) => self.spool.read(&c).map(Some).map_err(EntryError::Spool),
            _ => Ok(None),
        }
    }

    /// `path` with its parent directories resolved, without creating any; `None` when a
    /// parent is missing or is not a directory.
    pub(super) fn resolve_existing(&mut self, path: &[u8]) -> Option<Vec<u8>> {
        let comps: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").collect();
        let (name, parents) = comps.split_last()?;
        let dir = Resolver::new(&self.limits).dir(&mut self.tree, parents, None).ok()??;
        Some(tree::join(&dir, name))
    }

    /// Writes a file gild generates (the database), owned by this layer.
    pub(super) fn put_generated(
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
        pass.sources.insert(path.clone(), crate::layer::Source::Generated);
        pass.generated.insert(path);
        Ok(())
    }

    pub(super) fn admin_file(&mut self, db: &Db, name: &str) -> Result<Option<Vec<u8>>, EntryError> {
        self.read_tree_file(&tree::join(&db.admin, name.as_bytes()))
    }

    pub(super) fn read_db(&mut self) -> Result<Db, EntryError> {
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

    pub(super) fn read_overrides(&mut self, db: &mut Db, text: &[u8]) -> Result<(), EntryError> {
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
    pub(super) fn read_owners(&mut self, db: &mut Db) -> Result<(), EntryError> {
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
        let mut os = None;
        for path in OS_RELEASE {
            if let Some(b) = self.read_tree_file(path).map_err(entry)? {
                os = crate::deb::sbom::os_release(&String::from_utf8_lossy(&b));
                break;
            }
        }
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

/// Where [`Layering::packages`] looks for `os-release`, in order: the first file found counts.
const OS_RELEASE: [&[u8]; 2] = [b"etc/os-release", b"usr/lib/os-release"];

/// The base files [`Layering::packages`] reads whole, for a base index to decode ahead: the
/// package database's `status` and `os-release` (in either place); none without a database.
pub(crate) fn read_after_patches(tree: &tree::Tree) -> Vec<crate::spool::Content> {
    let file = |path: &[u8]| match tree.get(path).map(|n| &n.kind) {
        Some(Kind::File(c)) => Some(c.clone()),
        _ => None,
    };
    let Some(status) = file(&tree::join(ADMIN, b"status")) else { return Vec::new() };
    let os = OS_RELEASE.into_iter().find_map(file);
    std::iter::once(status).chain(os).collect()
}
