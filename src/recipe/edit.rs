//! Edits of the recipe file that keep what people wrote: comments, key order, spacing.
//!
//! `intake` appends a `[[patch]]`; `defer` moves a patch into `[[deferred]]` (or records a
//! decision about one never listed) and `--undo` moves it back. Everything else in the file
//! stays byte for byte. A new table goes right after the last table of its kind (after
//! `[base]` when there is none), with the tables below it moved down one place.

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use crate::date::Date;
use crate::error::Report;
use crate::recipe::Severity;

/// Why an edit cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    Shape { key: &'static str },
    DuplicateId { id: String, section: &'static str },
    DuplicateDigest { artifact: String, id: String, sha256: String },
    NotDeferred { id: String },
    NoPin { id: String },
    NotListed { id: String },
}

crate::error::display_report!(EditError);

impl EditError {
    pub fn report(&self) -> Report {
        match self {
            EditError::Shape { key } => {
                Report::new(format!("`{key}` in the recipe is not written as `[[{key}]]` tables"))
                    .help(format!("write each entry as a `[[{key}]]` table so gild can edit it"))
            }
            EditError::DuplicateId { id, section } => {
                let r = Report::new(format!("patch id `{id}` is already used in the recipe by a `[[{section}]]`"));
                match *section {
                    "deferred" => {
                        r.help("`gild defer --undo` brings a deferred patch back; `gild defer --drop` removes it")
                    }
                    _ => r,
                }
            }
            EditError::DuplicateDigest { artifact, id, sha256 } => {
                Report::new(format!("artifact `{artifact}` is already pinned in the recipe, as `{id}`"))
                    .cause(format!("sha256 {sha256}"))
                    .help(format!("`gild defer RECIPE {id} --drop --reason …` removes `{id}` from the recipe"))
            }
            EditError::NotDeferred { id } => Report::new(format!("`{id}` is not deferred in the recipe")),
            EditError::NotListed { id } => {
                Report::new(format!("`{id}` is neither a `[[patch]]` nor a `[[deferred]]` of the recipe"))
            }
            EditError::NoPin { id } => {
                Report::new(format!("`{id}` was deferred without its pin, so there is no patch to restore"))
                    .help("run `gild intake` with the artifact to add it")
            }
        }
    }
}

/// A patch to append, as it will be written.
#[derive(Debug, Clone)]
pub struct NewPatch {
    pub id: String,
    /// Relative to the recipe file.
    pub artifact: String,
    pub sha256: String,
    pub signed_by: Vec<String>,
    pub threshold: usize,
    /// `None` for the default `ARTIFACT.minisig`.
    pub signatures: Option<Vec<String>>,
    pub severity: Severity,
    pub fixes: Vec<String>,
    pub exploited: bool,
    pub released: Option<Date>,
    pub change: String,
    pub approved_by: String,
    pub date: Date,
    pub backout: Option<String>,
}

/// A decision not to apply a patch.
#[derive(Debug, Clone)]
pub struct Decision {
    pub reason: String,
    pub mitigation: Option<String>,
    pub review_by: Option<Date>,
}

/// What `defer` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// A listed patch moved to `[[deferred]]`, keeping its keys.
    Moved,
    /// An existing `[[deferred]]` got the new reason (and mitigation, review date).
    Updated,
    /// A new `[[deferred]]` for a patch the recipe does not list.
    Recorded,
}

/// The keys a `[[deferred]]` adds to a patch's; dropped when it moves back.
const DECISION_KEYS: [&str; 3] = ["reason", "mitigation", "review-by"];

pub struct Editor {
    doc: DocumentMut,
}

impl Editor {
    /// The recipe's text; it has been checked as a recipe already, so it parses.
    pub fn parse(text: &str) -> Result<Editor, toml_edit::TomlError> {
        Ok(Editor { doc: text.parse()? })
    }

    /// `(id, sha256)` of every `[[deferred]]` that keeps a pin.
    pub fn deferred_pins(&self) -> Vec<(String, String)> {
        let Some(Item::ArrayOfTables(aot)) = self.doc.get("deferred") else { return Vec::new() };
        aot.iter()
            .filter_map(|t| Some((t.get("id")?.as_str()?.to_string(), t.get("sha256")?.as_str()?.to_string())))
            .collect()
    }

    /// Appends a `[[patch]]` after the last one.
    pub fn append_patch(&mut self, p: &NewPatch) -> Result<(), EditError> {
        let mut t = Table::new();
        t.insert("id", value(&p.id));
        t.insert("artifact", value(&p.artifact));
        t.insert("sha256", value(&p.sha256));
        t.insert("signed-by", Item::Value(strings(&p.signed_by)));
        t.insert("threshold", Item::Value(Value::from(p.threshold as i64)));
        if let Some(sigs) = &p.signatures {
            t.insert("signatures", Item::Value(strings(sigs)));
        }
        t.insert("severity", value(severity_str(p.severity)));
        t.insert("fixes", Item::Value(strings(&p.fixes)));
        if p.exploited {
            t.insert("exploited", Item::Value(Value::from(true)));
        }
        if let Some(d) = p.released {
            t.insert("released", Item::Value(Value::from(d.to_toml())));
        }
        let mut approval = InlineTable::new();
        approval.insert("change", Value::from(p.change.as_str()));
        approval.insert("by", Value::from(p.approved_by.as_str()));
        approval.insert("date", Value::from(p.date.to_toml()));
        approval.fmt();
        t.insert("approval", Item::Value(Value::InlineTable(approval)));
        if let Some(b) = &p.backout {
            t.insert("backout", value(b));
        }
        self.push("patch", &["patch"], t)
    }

    /// Records a decision not to apply `id`; a listed patch moves to `[[deferred]]` with all
    /// its keys.
    pub fn defer(&mut self, id: &str, d: &Decision) -> Result<Deferral, EditError> {
        if let Some(i) = find(self.tables("patch")?, id) {
            let patch = self.take("patch", i)?;
            let mut t = Table::new();
            let mut patch = patch;
            if let Some((key, item)) = patch.remove_entry("id") {
                t.insert_formatted(&key, item);
            }
            set_decision(&mut t, d);
            let keys: Vec<String> = patch.iter().map(|(k, _)| k.to_string()).collect();
            for k in keys {
                if let Some((key, item)) = patch.remove_entry(&k) {
                    t.insert_formatted(&key, item);
                }
            }
            self.push("deferred", &["deferred", "patch"], t)?;
            return Ok(Deferral::Moved);
        }
        if let Some(i) = find(self.tables("deferred")?, id) {
            let Some(Item::ArrayOfTables(aot)) = self.doc.get_mut("deferred") else { unreachable!("found above") };
            let t = aot.get_mut(i).expect("found above");
            set_decision(t, d);
            return Ok(Deferral::Updated);
        }
        let mut t = Table::new();
        t.insert("id", value(id));
        set_decision(&mut t, d);
        self.push("deferred", &["deferred", "patch"], t)?;
        Ok(Deferral::Recorded)
    }

    /// Moves a deferred patch back to the end of the `[[patch]]` list, without the decision.
    pub fn undefer(&mut self, id: &str) -> Result<(), EditError> {
        let Some(i) = find(self.tables("deferred")?, id) else {
            return Err(EditError::NotDeferred { id: id.to_string() });
        };
        let aot = self.tables("deferred")?.expect("found above");
        let has_pin = ["artifact", "sha256", "signed-by", "severity", "approval"]
            .iter()
            .all(|k| aot.get(i).is_some_and(|t| t.contains_key(k)));
        if !has_pin {
            return Err(EditError::NoPin { id: id.to_string() });
        }
        let mut deferred = self.take("deferred", i)?;
        let mut t = Table::new();
        let keys: Vec<String> = deferred.iter().map(|(k, _)| k.to_string()).collect();
        for k in keys.iter().filter(|k| !DECISION_KEYS.contains(&k.as_str())) {
            if let Some((key, item)) = deferred.remove_entry(k) {
                t.insert_formatted(&key, item);
            }
        }
        self.push("patch", &["patch"], t)
    }

    /// Removes `id` from the recipe, listed or deferred: the way back from an intake, which
    /// leaves the id and the artifact free to take again (the journal keeps the history).
    /// Returns the section it was in and its pin, when it had one.
    pub fn drop(&mut self, id: &str) -> Result<(&'static str, Option<String>), EditError> {
        for key in ["patch", "deferred"] {
            if let Some(i) = find(self.tables(key)?, id) {
                let t = self.take(key, i)?;
                return Ok((key, t.get("sha256").and_then(|v| v.as_str()).map(str::to_string)));
            }
        }
        Err(EditError::NotListed { id: id.to_string() })
    }

    pub fn to_text(&self) -> String {
        self.doc.to_string()
    }

    fn tables(&self, key: &'static str) -> Result<Option<&ArrayOfTables>, EditError> {
        match self.doc.get(key) {
            None => Ok(None),
            Some(Item::ArrayOfTables(aot)) => Ok(Some(aot)),
            Some(_) => Err(EditError::Shape { key }),
        }
    }

    /// Removes the `i`th table of `key`; comments above its header stay where they were
    /// (they may introduce a whole section), handed to the table that follows.
    fn take(&mut self, key: &'static str, i: usize) -> Result<Table, EditError> {
        let Some(Item::ArrayOfTables(aot)) = self.doc.get_mut(key) else { return Err(EditError::Shape { key }) };
        let table = aot.get(i).cloned().expect("index from find");
        aot.remove(i);
        if aot.is_empty() {
            self.doc.remove(key);
        }
        let prefix = table.decor().prefix().and_then(|p| p.as_str()).unwrap_or_default().to_string();
        if prefix.contains('#') {
            let after = table.position().unwrap_or(0);
            let target = next_position(self.doc.as_table(), after);
            let mut moved = false;
            if let Some(target) = target {
                each_table(self.doc.as_table_mut(), &mut |t| {
                    if !moved && t.position() == Some(target) {
                        let old = t.decor().prefix().and_then(|p| p.as_str()).unwrap_or_default().to_string();
                        t.decor_mut().set_prefix(format!("{prefix}{}", old.trim_start_matches('\n')));
                        moved = true;
                    }
                });
            }
            if !moved {
                let trailing = self.doc.trailing().as_str().unwrap_or_default().to_string();
                self.doc.set_trailing(format!("{trailing}{prefix}"));
            }
        }
        let mut table = table;
        table.decor_mut().set_prefix("\n");
        Ok(table)
    }

    /// Adds `table` to the `[[key]]` list, placed after the last table of the first of
    /// `after` that has any (else after `[base]`).
    fn push(&mut self, key: &'static str, after: &[&'static str], mut table: Table) -> Result<(), EditError> {
        let mut anchor = None;
        for k in after {
            if let Some(aot) = self.tables(k)? {
                if let Some(last) = aot.iter().last() {
                    anchor = Some(last_position(last));
                    break;
                }
            }
        }
        let anchor = anchor
            .or_else(|| self.doc.get("base").and_then(Item::as_table).map(last_position))
            .unwrap_or_else(|| last_position(self.doc.as_table()));
        let at = anchor + 1;
        each_table(self.doc.as_table_mut(), &mut |t| {
            if let Some(p) = t.position().filter(|&p| p >= at) {
                t.set_position(p + 1);
            }
        });
        table.set_position(at);
        table.decor_mut().set_prefix("\n");
        match self.doc.get_mut(key) {
            Some(Item::ArrayOfTables(aot)) => aot.push(table),
            Some(_) => return Err(EditError::Shape { key }),
            None => {
                let mut aot = ArrayOfTables::new();
                aot.push(table);
                self.doc.insert(key, Item::ArrayOfTables(aot));
            }
        }
        Ok(())
    }
}

fn find(aot: Option<&ArrayOfTables>, id: &str) -> Option<usize> {
    aot?.iter().position(|t| t.get("id").and_then(Item::as_str) == Some(id))
}

fn set_decision(t: &mut Table, d: &Decision) {
    // Keep the decision keys right after `id`, whether they are new or replaced.
    let rest: Vec<(toml_edit::Key, Item)> = {
        let keys: Vec<String> = t
            .iter()
            .map(|(k, _)| k.to_string())
            .filter(|k| k != "id" && !DECISION_KEYS.contains(&k.as_str()))
            .collect();
        keys.iter().filter_map(|k| t.remove_entry(k)).collect()
    };
    for k in DECISION_KEYS {
        t.remove(k);
    }
    t.insert("reason", value(&d.reason));
    if let Some(m) = &d.mitigation {
        t.insert("mitigation", value(m));
    }
    if let Some(r) = d.review_by {
        t.insert("review-by", Item::Value(Value::from(r.to_toml())));
    }
    for (k, item) in rest {
        t.insert_formatted(&k, item);
    }
}

fn value(s: &str) -> Item {
    Item::Value(Value::from(s))
}

fn strings(list: &[String]) -> Value {
    let mut a: Array = list.iter().map(String::as_str).collect();
    a.fmt();
    Value::Array(a)
}

fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    }
}

/// The largest document position in `t` and the tables nested in it.
fn last_position(t: &Table) -> usize {
    let mut max = t.position().unwrap_or(0);
    each_table_ref(t, &mut |n| max = max.max(n.position().unwrap_or(0)));
    max
}

/// The smallest position greater than `after` of any table in the document.
fn next_position(root: &Table, after: usize) -> Option<usize> {
    let mut best: Option<usize> = None;
    each_table_ref(root, &mut |t| {
        if let Some(p) = t.position().filter(|&p| p > after) {
            best = Some(best.map_or(p, |b| b.min(p)));
        }
    });
    best
}

fn each_table(t: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    f(t);
    for (_, item) in t.iter_mut() {
        match item {
            Item::Table(sub) => each_table(sub, f),
            Item::ArrayOfTables(aot) => {
                for sub in aot.iter_mut() {
                    each_table(sub, f);
                }
            }
            _ => {}
        }
    }
}

fn each_table_ref(t: &Table, f: &mut dyn FnMut(&Table)) {
    f(t);
    for (_, item) in t.iter() {
        match item {
            Item::Table(sub) => each_table_ref(sub, f),
            Item::ArrayOfTables(aot) => {
                for sub in aot.iter() {
                    each_table_ref(sub, f);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &str = r#"# top comment
[image]
name = "web"   # trailing comment
version = "1.0.0"

[keys]
vendor = { key = "x" }

[base]
artifact = "base.tar"
sha256 = "aa"
signed-by = ["vendor"]

# The patches, in order.

[[patch]]
# first patch
id = "P-1"
artifact = "p1.tar"
sha256 = "bb"
signed-by = ["vendor"]
severity = "high"
approval = { change = "C", by = "b", date = 2026-11-20 }

[[check]]
name = "c"
run = "true"

[rollout]
channels = ["test"]
"#;

    fn patch(id: &str) -> NewPatch {
        NewPatch {
            id: id.into(),
            artifact: "../a/p.tar".into(),
            sha256: "cc".into(),
            signed_by: vec!["vendor".into()],
            threshold: 1,
            signatures: None,
            severity: Severity::Critical,
            fixes: vec!["CVE-1".into()],
            exploited: true,
            released: Date::parse("2026-11-18"),
            change: "CHG-1".into(),
            approved_by: "j.doe".into(),
            date: Date::parse("2026-11-20").unwrap(),
            backout: None,
        }
    }

    fn decision() -> Decision {
        Decision { reason: "breaks billing".into(), mitigation: None, review_by: Date::parse("2026-12-15") }
    }

    #[test]
    fn append_lands_after_the_last_patch_and_keeps_the_rest() {
        let mut e = Editor::parse(RECIPE).unwrap();
        e.append_patch(&patch("P-2")).unwrap();
        let out = e.to_text();
        let expected_new = "\n[[patch]]\nid = \"P-2\"\nartifact = \"../a/p.tar\"\nsha256 = \"cc\"\nsigned-by = [\"vendor\"]\nthreshold = 1\nseverity = \"critical\"\nfixes = [\"CVE-1\"]\nexploited = true\nreleased = 2026-11-18\napproval = { change = \"CHG-1\", by = \"j.doe\", date = 2026-11-20 }\n";
        let at = RECIPE.find("\n[[check]]").unwrap();
        let want = format!("{}{expected_new}{}", &RECIPE[..at], &RECIPE[at..]);
        assert_eq!(out, want);
    }

    #[test]
    fn append_without_patches_lands_after_base() {
        let text =
            RECIPE.replace("[[patch]]\n# first patch\nid = \"P-1\"", "[[deferred]]\nid = \"P-1\"\nreason = \"r\"");
        let mut e = Editor::parse(&text).unwrap();
        e.append_patch(&patch("P-2")).unwrap();
        let out = e.to_text();
        let (base, patch, deferred) =
            (out.find("[base]").unwrap(), out.find("[[patch]]").unwrap(), out.find("[[deferred]]").unwrap());
        assert!(base < patch && patch < deferred, "{out}");
    }

    #[test]
    fn defer_moves_a_patch_with_its_keys_and_undo_brings_it_back() {
        let mut e = Editor::parse(RECIPE).unwrap();
        assert_eq!(e.defer("P-1", &decision()).unwrap(), Deferral::Moved);
        let out = e.to_text();
        assert!(!out.contains("[[patch]]"), "{out}");
        assert!(out.contains("# The patches, in order."), "section comment kept: {out}");
        assert!(
            out.contains("[[deferred]]\n# first patch\nid = \"P-1\"\nreason = \"breaks billing\"\nreview-by = 2026-12-15\nartifact = \"p1.tar\""),
            "{out}"
        );
        assert_eq!(e.deferred_pins(), vec![("P-1".to_string(), "bb".to_string())]);
        e.undefer("P-1").unwrap();
        let back = e.to_text();
        assert!(!back.contains("reason"), "{back}");
        assert!(back.contains("[[patch]]\n# first patch\nid = \"P-1\"\nartifact = \"p1.tar\""), "{back}");
        assert!(back.find("[[patch]]") < back.find("[[check]]"), "{back}");
    }

    #[test]
    fn defer_of_an_unlisted_patch_records_it_and_again_updates_it() {
        let mut e = Editor::parse(RECIPE).unwrap();
        assert_eq!(e.defer("P-9", &decision()).unwrap(), Deferral::Recorded);
        let d2 = Decision { reason: "still broken".into(), mitigation: Some("firewall".into()), review_by: None };
        assert_eq!(e.defer("P-9", &d2).unwrap(), Deferral::Updated);
        let out = e.to_text();
        assert!(
            out.contains("[[deferred]]\nid = \"P-9\"\nreason = \"still broken\"\nmitigation = \"firewall\"\n"),
            "{out}"
        );
        assert!(out.find("[[patch]]") < out.find("[[deferred]]") && out.find("[[deferred]]") < out.find("[[check]]"));
        assert!(matches!(e.undefer("P-9"), Err(EditError::NoPin { .. })));
        assert!(matches!(e.undefer("P-7"), Err(EditError::NotDeferred { .. })));
    }
}
