//! The database written back after a package is placed, as dpkg leaves it after
//! `--configure`: `status`, `info/NAME.*`, and the trigger registrations.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::archive::Control;
use super::database::Db;
use super::{refused, Placing, SCRIPTS};
use crate::layer::{EntryError, Layering, Pass};
use crate::tree;

impl Layering {
    /// `status`, `info/NAME.*` and `triggers/File`, as dpkg writes them after `--configure`.
    /// Returns the triggers the package activates.
    pub(super) fn write_database(
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
