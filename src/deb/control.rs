//! deb822 control data: a package's `DEBIAN/control` and dpkg's `var/lib/dpkg/status`.
//!
//! The grammar is dpkg's own (`lib/dpkg/parse.c`, 1.21), checked against `dpkg-deb --build`
//! and `dpkg -i`, so that gild accepts what dpkg accepts and writes what dpkg writes:
//!
//! - A field line is `Name:` then the value; the name runs to the first whitespace or `:`
//!   (whitespace between name and `:` is allowed), may not start with `-`, and a name dpkg
//!   does not know must be at least two bytes. Names compare case-insensitively; a name twice
//!   in one stanza is an error.
//! - A line starting with whitespace (space, tab, `\r`, `\v`, `\f`) continues the value; a
//!   continuation line of nothing but whitespace is an error ("blank line in value").
//! - A stanza ends at an empty line; only truly empty lines separate stanzas (a line of
//!   whitespace is an error, and so is a `\r\n` separator).
//! - There are no comments: dpkg reads `# text` as a bad field name and `#Name: value` as a
//!   field. gild does the same.
//! - Every line ends in `\n`; a file that ends right after an empty-valued field is refused
//!   too, as dpkg refuses it. NUL and `^Z` bytes are refused (dpkg stops at NUL, and takes
//!   `^Z` as an end of line); the text must be UTF-8.
//!
//! A value is kept as dpkg keeps it: whitespace after the `:` is dropped, continuation lines
//! are kept verbatim (joined by `\n`, each with its leading whitespace), and whitespace is
//! trimmed from the end of the whole value only, so a multi-line value keeps trailing spaces
//! on its first and middle lines (dpkg writes them back). A value whose first line is empty
//! starts with `\n`.
//!
//! Parsing is one pass over the text; stanzas are small, so a field lookup is a scan of its
//! stanza, while [`Status`] finds packages through a map.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

/// Why control data could not be read; each names the line (counted from 1).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("line {line}: {why}")]
    Syntax { line: usize, why: String },
    #[error("line {line}: field `{field}` appears twice in the stanza (names are case-insensitive)")]
    DuplicateField { line: usize, field: String },
    #[error("line {line}: the stanza has no `Package` field")]
    NoPackage { line: usize },
    #[error("no stanza: the control data is empty")]
    Empty,
    #[error("line {line}: a second stanza, where a control file holds exactly one")]
    SeveralStanzas { line: usize },
    #[error("line {line}: a second stanza for {package} (the first is at line {first})")]
    DuplicatePackage { line: usize, first: usize, package: String },
    #[error("line {line}: not UTF-8")]
    Utf8 { line: usize },
    #[error("field `{field}`: {why}")]
    Field { field: String, why: String },
}

/// The fields dpkg knows, in the order it writes them into `status` (`fieldinfos` in
/// `lib/dpkg/parse.c`), spelled as it writes them.
const DPKG_ORDER: [&str; 28] = [
    "Package",
    "Essential",
    "Protected",
    "Status",
    "Priority",
    "Section",
    "Installed-Size",
    "Origin",
    "Maintainer",
    "Bugs",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Config-Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
    "Conffiles",
    "Description",
    "Triggers-Pending",
    "Triggers-Awaited",
];

/// Fields of the `available` file (and of `Packages` indexes) that dpkg never writes into
/// `status`.
const NOT_IN_STATUS: [&str; 4] = ["Filename", "Size", "MD5sum", "MSDOS-Filename"];

/// dpkg's `c_isspace`: what separates and continues, everywhere in the grammar.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Whitespace that is not a line end: what starts a continuation line.
fn is_blank(c: char) -> bool {
    c != '\n' && is_space(c)
}

/// One stanza: fields in their order (see the module documentation for what a value holds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// Parses exactly one stanza, as in a `DEBIAN/control` file: empty lines around it are
    /// fine, a second stanza is an error, and it must have a `Package` field. Other checks
    /// dpkg makes on a control file (a `Version`, valid names and versions) are the
    /// caller's.
    pub fn parse(text: &str) -> Result<Stanza, ControlError> {
        let mut parser = Parser::new(text);
        let found = parser.next_stanza()?.ok_or(ControlError::Empty)?;
        parser.skip_empty_lines();
        if parser.pos < text.len() {
            return Err(ControlError::SeveralStanzas { line: parser.line });
        }
        found.stanza.package().ok_or(ControlError::NoPackage { line: found.line })?;
        Ok(found.stanza)
    }

    /// The value of field `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Sets field `name`: the value is replaced in place (the name keeps its spelling), or
    /// the field is appended.
    ///
    /// # Panics
    ///
    /// When the field could not be written back and read again as it is: see
    /// [`Stanza::try_set`], the choice for values that come from input.
    pub fn set(&mut self, name: &str, value: &str) {
        if let Err(e) = self.try_set(name, value) {
            panic!("{e}");
        }
    }

    /// [`Stanza::set`], or an error when `name` is not a field name dpkg reads (empty, with
    /// whitespace or `:`, starting with `-`, a single byte) or `value` is not a value it
    /// reads back unchanged: leading or trailing whitespace, a continuation line that does
    /// not start with whitespace or holds nothing else, a NUL or `^Z`.
    pub fn try_set(&mut self, name: &str, value: &str) -> Result<(), ControlError> {
        let invalid = |why: &str| ControlError::Field { field: name.to_string(), why: why.to_string() };
        check_name(name).map_err(invalid)?;
        check_value(value).map_err(invalid)?;
        match self.fields.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, v)) => value.clone_into(v),
            None => self.fields.push((name.to_string(), value.to_string())),
        }
        Ok(())
    }

    /// Removes field `name` (case-insensitively), if there.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The fields, in their order, as `(name, value)`.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The stanza as dpkg writes it into `status`: the fields dpkg knows in its order and
    /// spelling, then every other field in this stanza's order; never `Filename`, `Size`,
    /// `MD5sum`, `MSDOS-Filename`. Each is `Name: value\n` (`Conffiles:` then its lines).
    /// No blank line follows.
    ///
    /// What dpkg's writers do to known fields and can be done on the text is done too: an
    /// empty known field is left out, `Essential`/`Protected: no`, `Multi-Arch: no` and
    /// `Priority: unknown` are left out, the words of those fields are lower-cased, and so is
    /// the `Package` name. dpkg rewrites the rest from what it parsed: relation fields
    /// (`Depends` …) come out as `a (>= 1), b | c` on one line, versions without a zero
    /// epoch. gild writes those values as they are, so they match only when already in that
    /// form, as `dpkg-gencontrol` writes them. The obsolete fields dpkg folds into others
    /// (`Recommended`, `Optional`, `Class`, `Revision`, `Package-Revision`,
    /// `Package_Revision`) are written as they are, where dpkg would fold them.
    pub fn to_status(&self) -> String {
        let mut known: [Option<&str>; DPKG_ORDER.len()] = [None; DPKG_ORDER.len()];
        let mut others = Vec::new();
        for (name, value) in &self.fields {
            match DPKG_ORDER.iter().position(|k| k.eq_ignore_ascii_case(name)) {
                Some(i) => known[i] = Some(value),
                None if NOT_IN_STATUS.iter().any(|k| k.eq_ignore_ascii_case(name)) => {}
                None => others.push((name.as_str(), value.as_str())),
            }
        }
        let mut out = String::new();
        for (name, value) in DPKG_ORDER.iter().zip(known) {
            match value.and_then(|value| status_value(name, value)) {
                Some(value) if *name == "Conffiles" && value.starts_with('\n') => {
                    out.extend([name, ":", &value, "\n"]);
                }
                Some(value) => out.extend([name, ": ", &value, "\n"]),
                None => {}
            }
        }
        for (name, value) in others {
            out.extend([name, ": ", value, "\n"]);
        }
        out
    }

    /// The `Package` value.
    /// The package name; an empty `Package:` names none (dpkg would drop the field).
    fn package(&self) -> Option<&str> {
        self.get("Package").filter(|p| !p.trim().is_empty())
    }

    /// Whether this is a `Multi-Arch: same` instance, told from its siblings by architecture.
    fn is_same(&self) -> bool {
        self.get("Multi-Arch").is_some_and(|m| m.eq_ignore_ascii_case("same"))
    }
}

/// A known field's value as dpkg writes it, or `None` when dpkg leaves the field out.
fn status_value(name: &str, value: &str) -> Option<String> {
    let word = |words: &[&str]| words.iter().find(|w| w.eq_ignore_ascii_case(value)).map(|w| w.to_string());
    let written = match name {
        _ if value.is_empty() => return None,
        "Package" => value.to_ascii_lowercase(),
        "Essential" | "Protected" if value.eq_ignore_ascii_case("no") => return None,
        "Essential" | "Protected" => word(&["yes"]).unwrap_or_else(|| value.to_string()),
        "Multi-Arch" if value.eq_ignore_ascii_case("no") => return None,
        "Multi-Arch" => word(&["same", "allowed", "foreign"]).unwrap_or_else(|| value.to_string()),
        "Priority" if value.eq_ignore_ascii_case("unknown") => return None,
        "Priority" => {
            word(&["required", "important", "standard", "optional", "extra"]).unwrap_or_else(|| value.to_string())
        }
        _ => value.to_string(),
    };
    Some(written)
}

/// A field name dpkg reads back as the same name.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.len() < 2 {
        return Err("a field name takes at least two bytes");
    }
    if name.starts_with('-') {
        return Err("a field name cannot start with `-`");
    }
    if name.chars().any(|c| is_space(c) || c == ':' || c == '\0' || c == '\x1a') {
        return Err("a field name cannot hold whitespace, `:`, NUL or ^Z");
    }
    Ok(())
}

/// A value dpkg reads back unchanged: the form [`Parser`] produces.
fn check_value(value: &str) -> Result<(), &'static str> {
    if value.contains(['\0', '\x1a']) {
        return Err("a value cannot hold NUL or ^Z");
    }
    if value.starts_with(is_blank) || value.ends_with(is_space) {
        return Err("a value cannot start or end with whitespace");
    }
    for line in value.split('\n').skip(1) {
        if !line.starts_with(is_blank) {
            return Err("each continuation line must start with a space or tab");
        }
        if line.chars().all(is_space) {
            return Err("a continuation line cannot be blank (write ` .` for an empty line)");
        }
    }
    Ok(())
}

/// One stanza found in a text, and where it stands.
struct Found {
    stanza: Stanza,
    /// Byte range of its lines, its final `\n` included.
    span: Range<usize>,
    /// Number of its first line.
    line: usize,
}

/// A single pass over deb822 text, one stanza at a time.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Number of the line that starts at `pos` (from 1).
    line: usize,
    /// Lower-cased names of the current stanza's fields, for duplicates.
    seen: HashSet<String>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { text, pos: 0, line: 1, seen: HashSet::new() }
    }

    fn error(&self, line: usize, why: String) -> ControlError {
        ControlError::Syntax { line, why }
    }

    fn skip_empty_lines(&mut self) {
        while self.text[self.pos..].starts_with('\n') {
            self.pos += 1;
            self.line += 1;
        }
    }

    /// The next stanza, or `None` when only empty lines are left.
    fn next_stanza(&mut self) -> Result<Option<Found>, ControlError> {
        self.skip_empty_lines();
        let (start, line) = (self.pos, self.line);
        if start == self.text.len() {
            return Ok(None);
        }
        let mut fields = Vec::new();
        self.seen.clear();
        while self.pos < self.text.len() && !self.text[self.pos..].starts_with('\n') {
            let field_line = self.line;
            let (name, value) = self.field()?;
            if !self.seen.insert(name.to_ascii_lowercase()) {
                return Err(ControlError::DuplicateField { line: field_line, field: name.to_string() });
            }
            fields.push((name.to_string(), value.to_string()));
        }
        Ok(Some(Found { stanza: Stanza { fields }, span: start..self.pos, line }))
    }

    /// Takes the next line, which must end in `\n`; returns it without the `\n`.
    fn take_line(&mut self) -> Result<&'a str, ControlError> {
        let rest = &self.text[self.pos..];
        let Some(len) = rest.find('\n') else {
            return Err(self.error(self.line, "the file ends without a final newline".to_string()));
        };
        let line = &rest[..len];
        if line.contains(['\0', '\x1a']) {
            return Err(self.error(self.line, "a NUL or ^Z (MS-DOS end of file) byte".to_string()));
        }
        self.pos += len + 1;
        self.line += 1;
        Ok(line)
    }

    /// One field: its name line and continuation lines.
    fn field(&mut self) -> Result<(&'a str, &'a str), ControlError> {
        let line_no = self.line;
        let start = self.pos;
        let line = self.take_line()?;
        let name = self.field_name(line, line_no)?;
        let after_colon = line.find(':').map_or(line.len(), |i| i + 1);
        let value_start = start + line.len() - line[after_colon..].trim_start_matches(is_blank).len();
        let mut value_end = start + line.len();
        if value_start == value_end && self.pos == self.text.len() {
            let why = format!("the file ends right after the empty field `{name}`, which dpkg refuses");
            return Err(self.error(line_no, why));
        }
        while self.text[self.pos..].starts_with(is_blank) {
            let (cont_no, cont_start) = (self.line, self.pos);
            let cont = self.take_line()?;
            if cont.chars().all(is_space) {
                return Err(self.error(cont_no, format!("blank line in the value of field `{name}`")));
            }
            value_end = cont_start + cont.len();
        }
        Ok((name, self.text[value_start..value_end].trim_end_matches(is_space)))
    }

    /// The name at the start of a field line, checked as dpkg checks it.
    fn field_name(&self, line: &'a str, line_no: usize) -> Result<&'a str, ControlError> {
        if line.starts_with(is_blank) {
            let why = if line.chars().all(is_space) {
                "a line of whitespace: stanzas are separated by empty lines only"
            } else {
                "a continuation line (it starts with whitespace) where a field should start"
            };
            return Err(self.error(line_no, why.to_string()));
        }
        let name = &line[..line.find(|c| is_space(c) || c == ':').unwrap_or(line.len())];
        if !line[name.len()..].trim_start_matches(is_blank).starts_with(':') {
            return Err(self.error(line_no, format!("field name `{name}` must be followed by a colon")));
        }
        // dpkg's "user-defined field name too short" rule covers every name: none it knows is shorter.
        check_name(name).map_err(|why| self.error(line_no, format!("field name `{name}`: {why}")))?;
        Ok(name)
    }
}

/// One instance in [`Status`]: the parsed stanza and, while gild has not replaced it, the
/// exact bytes it was read from.
#[derive(Debug, Clone)]
struct Entry {
    stanza: Stanza,
    raw: Option<String>,
    line: usize,
}

/// Where an instance sorts, as dpkg sorts `status`: package name in byte order, then the
/// instance that needs no architecture qualifier (`false`: not `Multi-Arch: same`), then by
/// architecture.
type Key = (String, bool, String);

/// `var/lib/dpkg/status`: stanzas with their exact bytes, so that those gild does not change
/// are written back byte for byte.
///
/// Instances are told apart as dpkg tells them in `status`: one slot per package and
/// architecture. Package names are compared lower-cased, as dpkg stores them.
#[derive(Debug, Clone, Default)]
pub struct Status {
    entries: BTreeMap<Key, Entry>,
}

impl Status {
    /// Parses a whole `status` file (empty is fine). Every stanza needs a `Package` field,
    /// and no two may share a package and architecture.
    pub fn parse(bytes: &[u8]) -> Result<Status, ControlError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ControlError::Utf8 {
            line: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
        })?;
        let mut parser = Parser::new(text);
        let mut status = Status::default();
        while let Some(Found { stanza, span, line }) = parser.next_stanza()? {
            let key = entry_key(&stanza).ok_or(ControlError::NoPackage { line })?;
            let twin = (key.0.clone(), !key.1, key.2.clone());
            if let Some(first) = status.entries.get(&key).or_else(|| status.entries.get(&twin)) {
                let package = match key.2.as_str() {
                    "" => format!("`{}`", key.0),
                    arch => format!("`{}:{arch}`", key.0),
                };
                return Err(ControlError::DuplicatePackage { line, first: first.line, package });
            }
            let raw = Some(text[span].to_string());
            status.entries.insert(key, Entry { stanza, raw, line });
        }
        Ok(status)
    }

    /// The instance of `package`: with `arch` `None`, the one that needs no architecture
    /// qualifier (not `Multi-Arch: same`; the first by architecture should a broken file
    /// hold several); else the one whose `Architecture` is `arch`.
    pub fn get(&self, package: &str, arch: Option<&str>) -> Option<&Stanza> {
        self.find(package, arch).map(|(_, entry)| &entry.stanza)
    }

    /// Every instance of `package`, `Multi-Arch: same` ones included, in render order.
    pub fn instances(&self, package: &str) -> impl Iterator<Item = &Stanza> {
        self.entries.range(range_of(&package.to_ascii_lowercase())).map(|(_, e)| &e.stanza)
    }

    /// Every stanza, in the order [`Status::render`] writes them.
    pub fn iter(&self) -> impl Iterator<Item = &Stanza> {
        self.entries.values().map(|e| &e.stanza)
    }

    /// Puts `stanza` in place of the instance it replaces, or adds it. A `Multi-Arch: same`
    /// stanza replaces the instance of its package with the same `Architecture`; any other
    /// replaces the instances that need no qualifier (an architecture change, as dpkg makes
    /// when one instance is installed) and any instance with its `Architecture`. A stanza
    /// without `Package` is kept under the empty name (dpkg would refuse the file).
    pub fn put(&mut self, stanza: Stanza) {
        let key = entry_key(&stanza).unwrap_or_default();
        let (name, same, arch) = &key;
        let stale: Vec<Key> = self
            .entries
            .range(range_of(name))
            .map(|(k, _)| k)
            .filter(|(_, s, a)| a == arch || (!same && !s))
            .cloned()
            .collect();
        for k in stale {
            self.entries.remove(&k);
        }
        self.entries.insert(key, Entry { stanza, raw: None, line: 0 });
    }

    /// Removes the instance [`Status::get`] finds, and returns it.
    pub fn remove(&mut self, package: &str, arch: Option<&str>) -> Option<Stanza> {
        let key = self.find(package, arch)?.0.clone();
        self.entries.remove(&key).map(|e| e.stanza)
    }

    /// dpkg's bytes: the stanzas sorted by package name in byte order, the instance that
    /// needs no architecture qualifier first, then by architecture; each stanza followed by
    /// one empty line (so a non-empty file ends in `\n\n`). Stanzas read and not replaced
    /// are written as read, byte for byte; others as [`Stanza::to_status`] writes them.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in self.entries.values() {
            match &entry.raw {
                Some(raw) => out.extend_from_slice(raw.as_bytes()),
                None => out.extend_from_slice(entry.stanza.to_status().as_bytes()),
            }
            out.push(b'\n');
        }
        out
    }

    fn find(&self, package: &str, arch: Option<&str>) -> Option<(&Key, &Entry)> {
        let mut found = self.entries.range(range_of(&package.to_ascii_lowercase()));
        match arch {
            None => found.find(|((_, same, _), _)| !same),
            Some(arch) => found.find(|((_, _, a), _)| a == arch),
        }
    }
}

/// Where a stanza stands in [`Status`]: lower-cased package name, whether it is
/// `Multi-Arch: same`, its architecture (empty when it has none).
fn entry_key(stanza: &Stanza) -> Option<Key> {
    let name = stanza.package()?.to_ascii_lowercase();
    let arch = stanza.get("Architecture").unwrap_or("").to_string();
    Some((name, stanza.is_same(), arch))
}

/// The range of keys of every instance of package `name` (lower-cased).
fn range_of(name: &str) -> Range<Key> {
    (name.to_string(), false, String::new())..(format!("{name}\0"), false, String::new())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use proptest::prelude::*;

    use super::*;
    use crate::deb::ar::tests::run;
    use crate::needs::{require, Need};

    fn line_of(err: ControlError) -> usize {
        match err {
            ControlError::Syntax { line, .. }
            | ControlError::DuplicateField { line, .. }
            | ControlError::NoPackage { line }
            | ControlError::SeveralStanzas { line }
            | ControlError::DuplicatePackage { line, .. }
            | ControlError::Utf8 { line } => line,
            ControlError::Empty | ControlError::Field { .. } => 0,
        }
    }

    /// Found by the property test below: an empty `Package:` named no package, yet parsed,
    /// and its stanza then did not read back (dpkg drops empty known fields).
    #[test]
    fn an_empty_package_name_is_no_package() {
        assert!(matches!(Stanza::parse("Package:\nX-a: b\n"), Err(ControlError::NoPackage { .. })));
    }

    #[test]
    fn values_are_kept_as_dpkg_keeps_them() {
        let text = "\n\nPackage : demo\nVersion:\t1.0  \nDescription: short  \n long line  \n .\n\tmore\t\n\
                    X-List:\n a\n b\nX-Empty:\n#X-Hash: not a comment\nX-Cr: value\r\n\n\n";
        let stanza = Stanza::parse(text).expect("parses");
        let fields: Vec<_> = stanza.fields().collect();
        assert_eq!(
            fields,
            [
                ("Package", "demo"),
                ("Version", "1.0"),
                ("Description", "short  \n long line  \n .\n\tmore"),
                ("X-List", "\n a\n b"),
                ("X-Empty", ""),
                ("#X-Hash", "not a comment"),
                ("X-Cr", "value"),
            ]
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let cases: &[(&str, usize)] = &[
            ("Package: a\nVersion: 1", 2),
            ("Package: a\n# a comment\n", 2),
            ("Package: a\nDescription: x\n \t\n more\n", 3),
            ("Package: a\n \nVersion: 1\n", 2),
            (" Package: a\n", 1),
            ("Package: a\n-X: y\n", 2),
            ("Package: a\nX: y\n", 2),
            ("Package: a\nNo colon\n", 2),
            ("Package: a\nX-Foo: 1\nx-foo: 2\n", 3),
            ("Package: a\nX-Nul: a\0b\n", 2),
            ("Package: a\nX-Eof: \x1a\n", 2),
            ("Package: a\nX-Empty:\n", 2),
            ("Package: a\nDescription: a\n b", 3),
            ("Package: a\r\n\r\nPackage: b\n", 2),
            ("Package: a\n\nPackage: b\n", 3),
            ("\n\nVersion: 1\n", 3),
        ];
        for (text, line) in cases {
            let err = Stanza::parse(text).expect_err(text);
            assert!(!err.to_string().is_empty());
            assert_eq!(line_of(err), *line, "{text:?}");
        }
        assert!(matches!(Stanza::parse("\n\n"), Err(ControlError::Empty)));
        assert!(Stanza::parse("Package: a\nX-Empty:\n\n").is_ok(), "only the very end of the file is refused");
    }

    #[test]
    fn get_set_remove() {
        let mut stanza = Stanza::parse("Package: a\nVersion: 1\nX-Foo: x\n").expect("parses");
        assert_eq!(stanza.get("PACKAGE"), Some("a"));
        assert_eq!(stanza.get("x-foo"), Some("x"));
        stanza.set("version", "2");
        stanza.set("Status", "install ok installed");
        stanza.remove("X-FOO");
        let fields: Vec<_> = stanza.fields().collect();
        assert_eq!(fields, [("Package", "a"), ("Version", "2"), ("Status", "install ok installed")]);
        stanza.set("Conffiles", "\n /etc/a 0123\n /etc/b 4567");
        for bad in ["x\nPackage: evil", "x\n", "x\n\n more", " x", "x ", "\n", "a\0"] {
            let err = stanza.try_set("X-Bad", bad).expect_err(bad);
            assert!(matches!(err, ControlError::Field { .. }), "{bad:?}");
        }
        for bad in ["", "X", "-X", "X Y", "X:Y", "X\n"] {
            assert!(stanza.try_set(bad, "v").is_err(), "{bad:?}");
        }
        assert_eq!(stanza.get("X-Bad"), None);
    }

    #[test]
    fn to_status_writes_dpkg_order() {
        let control = "Version: 1.0-1\nX-Custom: z\nHomepage: https://example.org\nPackage: Demo\n\
                       Built-Using: foo (= 1)\nDepends: libc6 (>= 2.3), bar\nArchitecture: all\nEssential: no\n\
                       Multi-Arch: Foreign\nDescription: test  \n long line  \n .\n more\nMaintainer: Me <me@x>\n\
                       Section: misc\nPriority: Optional\nInstalled-Size: 5\nfilename: pool/d.deb\nSize: 9\n\
                       Bugs:\nMD5sum: 00\nsection-extra: kept\nsource: demo-src\n";
        let mut stanza = Stanza::parse(control).expect("parses");
        stanza.set("Status", "install ok installed");
        assert_eq!(
            stanza.to_status(),
            "Package: demo\nStatus: install ok installed\nPriority: optional\nSection: misc\n\
             Installed-Size: 5\nMaintainer: Me <me@x>\nArchitecture: all\nMulti-Arch: foreign\n\
             Source: demo-src\nVersion: 1.0-1\nDepends: libc6 (>= 2.3), bar\n\
             Description: test  \n long line  \n .\n more\n\
             X-Custom: z\nHomepage: https://example.org\nBuilt-Using: foo (= 1)\nsection-extra: kept\n"
        );
        let mut stanza =
            Stanza::parse("Package: c\nConffiles:\n /etc/c 01\nEssential: YES\nX-E:\nX-D:\n  d\n\n").expect("parses");
        stanza.set("Multi-Arch", "no");
        assert_eq!(stanza.to_status(), "Package: c\nEssential: yes\nConffiles:\n /etc/c 01\nX-E: \nX-D: \n  d\n");
    }

    const STATUS: &str = "Package: zed\nStatus: install ok installed\nVersion: 1\n\n\
        Package: lib\nStatus: install ok installed\nArchitecture: i386\nMulti-Arch: same\nVersion: 1\n\n\
        Package: lib\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1\n\n\
        Package: alpha\nVersion: 1\nStatus: install ok installed\nArchitecture: all\n\n";

    #[test]
    fn status_lookup_put_remove_render() {
        let mut status = Status::parse(STATUS.as_bytes()).expect("parses");
        let names: Vec<_> = status.iter().map(|s| (s.get("Package"), s.get("Architecture"))).collect();
        assert_eq!(
            names,
            [
                (Some("alpha"), Some("all")),
                (Some("lib"), Some("amd64")),
                (Some("lib"), Some("i386")),
                (Some("zed"), None)
            ]
        );
        assert_eq!(status.get("lib", None), None, "every instance of lib needs a qualifier");
        assert_eq!(status.instances("lib").count(), 2);
        assert_eq!(status.instances("li").count(), 0);
        assert_eq!(status.get("lib", Some("i386")).and_then(|s| s.get("Version")), Some("1"));
        assert_eq!(status.get("ALPHA", None).and_then(|s| s.get("Architecture")), Some("all"));
        assert_eq!(status.get("alpha", Some("all")).and_then(|s| s.get("Version")), Some("1"));

        let rendered = String::from_utf8(status.render()).expect("UTF-8");
        assert!(rendered.starts_with("Package: alpha\nVersion: 1\n"), "read stanzas keep their bytes");
        assert!(rendered.ends_with("Package: zed\nStatus: install ok installed\nVersion: 1\n\n"));

        let mut alpha = status.get("alpha", None).cloned().expect("alpha");
        alpha.set("Version", "2");
        alpha.set("Architecture", "amd64");
        status.put(alpha);
        assert_eq!(status.get("alpha", Some("all")), None, "an architecture change replaces the instance");
        let rendered = String::from_utf8(status.render()).expect("UTF-8");
        assert!(
            rendered.starts_with("Package: alpha\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2\n\n")
        );

        let mut lib = status.get("lib", Some("amd64")).cloned().expect("lib");
        lib.set("Architecture", "arm64");
        status.put(lib);
        let arches: Vec<_> =
            status.iter().filter(|s| s.get("Package") == Some("lib")).map(|s| s.get("Architecture")).collect();
        assert_eq!(arches, [Some("amd64"), Some("arm64"), Some("i386")], "Multi-Arch: same instances are added");

        assert!(status.remove("lib", Some("amd64")).is_some());
        assert!(status.remove("lib", Some("amd64")).is_none());
        assert!(status.remove("zed", None).is_some());
        assert_eq!(status.iter().count(), 3);
        assert!(Status::parse(b"").expect("empty").render().is_empty());
    }

    #[test]
    fn status_errors_name_the_line() {
        let dup = format!("{STATUS}Package: lib\nArchitecture: amd64\nMulti-Arch: foreign\n");
        let err = Status::parse(dup.as_bytes()).expect_err("two lib:amd64");
        assert!(matches!(&err, ControlError::DuplicatePackage { line: 22, first: 11, .. }), "{err}");
        let err = Status::parse(b"Package: a\n\nVersion: 1\n").expect_err("no Package");
        assert_eq!(line_of(err), 3);
        let err = Status::parse(b"Package: a\n\nPackage: b\nDescription: \xff\n").expect_err("Latin-1");
        assert!(matches!(err, ControlError::Utf8 { line: 4 }));
    }

    #[test]
    fn parsing_is_linear() {
        let fields: String = (0..100_000).map(|i| format!("X-F{i}: {i}\n")).collect();
        let stanza = Stanza::parse(&format!("Package: big\n{fields}")).expect("parses");
        assert_eq!(stanza.fields().count(), 100_001);
        let lines = " .\n".repeat(200_000);
        assert!(Stanza::parse(&format!("Package: long\nDescription: x\n{lines}")).is_ok());
        let arches: String =
            (0..50_000).map(|i| format!("Package: p\nArchitecture: a{i}\nMulti-Arch: same\n\n")).collect();
        assert_eq!(Status::parse(arches.as_bytes()).expect("parses").iter().count(), 50_000);
    }

    /// Text made of the characters the grammar turns on.
    fn deb822ish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("\n"),
                Just(" "),
                Just("\t"),
                Just(":"),
                Just("Package"),
                Just("X-a"),
                Just("\r"),
                Just("b")
            ],
            0..60,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn never_panics(text in deb822ish(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Stanza::parse(&text);
            let _ = Status::parse(text.as_bytes()).map(|s| s.render());
            let _ = Status::parse(&bytes).map(|s| s.render());
        }

        #[test]
        fn to_status_reads_back(text in deb822ish()) {
            if let Ok(stanza) = Stanza::parse(&text) {
                let written = stanza.to_status();
                // dpkg refuses a file ending right after an empty field; `status` has a blank line there.
                let again = Stanza::parse(&format!("{written}\n"));
                prop_assert!(again.is_ok(), "{written:?}: {again:?}");
                prop_assert_eq!(again.map(|s| s.to_status()).ok(), Some(written));
            }
        }
    }

    /// This machine's `status`, written by dpkg: read and rendered byte for byte, and each
    /// stanza is what `to_status` writes.
    #[test]
    #[cfg_attr(gild_no_dpkg_status, ignore = "no /var/lib/dpkg/status with packages here")]
    fn real_status_round_trips() {
        require(&[Need::DpkgStatus]);
        let bytes = std::fs::read("/var/lib/dpkg/status").expect("read");
        let status = Status::parse(&bytes).expect("dpkg's status parses");
        assert!(status.render() == bytes, "render gives back the file");
        for entry in status.entries.values() {
            assert_eq!(Some(entry.stanza.to_status()), entry.raw, "to_status writes what dpkg wrote");
        }
    }

    #[test]
    #[cfg_attr(gild_no_dpkg_status, ignore = "no /var/lib/dpkg/status with packages here")]
    fn real_status_changes_only_the_stanza_put() {
        require(&[Need::DpkgStatus]);
        let bytes = std::fs::read("/var/lib/dpkg/status").expect("read");
        let mut status = Status::parse(&bytes).expect("parses");
        let entry = status.entries.values().nth(status.entries.len() / 2).cloned().expect("a package");
        let raw = entry.raw.expect("read");
        let start = bytes.windows(raw.len()).position(|w| w == raw.as_bytes()).expect("its bytes are in the file");
        let mut changed = entry.stanza.clone();
        changed.set("Status", "hold ok installed");
        changed.set("X-Gild", "changed");
        let new = changed.to_status();
        status.put(changed);
        let after = status.render();
        let end = start + raw.len();
        assert_eq!(after[..start], bytes[..start]);
        assert_eq!(&after[start..start + new.len()], new.as_bytes());
        assert_eq!(after[start + new.len()..], bytes[end..]);
    }

    /// Builds a package from `control` (plus a conffile when `conffile`) with `dpkg-deb`.
    fn build_deb(dir: &Path, name: &str, control: &str, conffile: bool) -> std::path::PathBuf {
        let root = dir.join(format!("src-{name}"));
        std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
        std::fs::create_dir_all(root.join("usr/share/gild-judge")).expect("mkdir");
        std::fs::write(root.join("DEBIAN/control"), control).expect("write");
        std::fs::write(root.join("usr/share/gild-judge").join(name), "shared\n").expect("write");
        if conffile {
            std::fs::create_dir_all(root.join("etc")).expect("mkdir");
            std::fs::write(root.join("etc/gild-judge.conf"), "setting = 1\n").expect("write");
            std::fs::write(root.join("DEBIAN/conffiles"), "/etc/gild-judge.conf\n").expect("write");
        }
        let deb = dir.join(format!("{name}.deb"));
        run(Command::new("dpkg-deb").args(["--root-owner-group", "-Znone", "--build"]).arg(&root).arg(&deb));
        deb
    }

    /// Runs `dpkg` on the throw-away root `root` (its own admin directory, no log, no chroot).
    fn dpkg(root: &Path, args: &[&std::ffi::OsStr]) {
        let admin = root.join("var/lib/dpkg");
        let path = format!("/usr/local/sbin:/usr/sbin:/sbin:{}", std::env::var("PATH").unwrap_or_default());
        let mut command = Command::new("dpkg");
        command.env("PATH", path).arg(format!("--root={}", root.display()));
        command.arg(format!("--admindir={}", admin.display()));
        command.args(["--force-not-root", "--force-script-chrootless", "--log=/dev/null", "--force-unsafe-io"]);
        run(command.args(args));
    }

    /// The judge: dpkg installs packages with fields in odd orders into a throw-away root,
    /// and gild's `Status` built from the same control files renders dpkg's `status` byte for
    /// byte (instances sorted, the file's ending, dpkg's field order and rewrites). Then dpkg
    /// upgrades one package, and `put` of its new stanza gives dpkg's new file.
    #[test]
    #[cfg_attr(gild_no_dpkg, ignore = "dpkg not installed")]
    fn matches_what_dpkg_writes() {
        require(&[Need::Dpkg]);
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        for sub in ["info", "updates", "triggers"] {
            std::fs::create_dir_all(root.join("var/lib/dpkg").join(sub)).expect("mkdir");
        }
        std::fs::write(root.join("var/lib/dpkg/status"), "").expect("write");
        let native = String::from_utf8(run(Command::new("dpkg").arg("--print-architecture"))).expect("UTF-8");
        let native = native.trim();
        let foreign = if native == "i386" { "amd64" } else { "i386" };
        dpkg(&root, &["--add-architecture".as_ref(), foreign.as_ref()]);

        let judge = |version: &str| {
            format!(
                "Version: {version}\nX-Custom: z\nHomepage: https://example.org\nPackage: gild-judge\n\
                 Built-Using: foo (= 1)\nArchitecture: all\nEssential: no\nMulti-Arch: Foreign\n\
                 Description: judged  \n long line  \n .\n more\nMaintainer: Gild <gild@example.org>\n\
                 X-List:\n a\n  b\nSection: misc\nPriority: optional\nInstalled-Size: 5\nX-Last: end\n"
            )
        };
        let same = |arch: &str| {
            format!(
                "Package: gild-same\nArchitecture: {arch}\nVersion: 1\nMulti-Arch: same\n\
                 Maintainer: Gild <gild@example.org>\nDescription: one per architecture\n"
            )
        };
        let controls = [
            ("judge", judge("1.0-1"), true),
            ("same-foreign", same(foreign), false),
            ("same-native", same(native), false),
            ("alpha", "Description: first\nPackage: gild-alpha\nVersion: 0.1\nArchitecture: all\n".to_string(), false),
        ];
        let debs: Vec<_> = controls.iter().map(|(n, c, conf)| build_deb(dir.path(), n, c, *conf)).collect();
        let mut args: Vec<&std::ffi::OsStr> = vec!["-i".as_ref()];
        args.extend(debs.iter().map(|d| d.as_os_str()));
        dpkg(&root, &args);
        let written = std::fs::read(root.join("var/lib/dpkg/status")).expect("dpkg wrote status");
        let dpkgs = Status::parse(&written).expect("dpkg's status parses");

        let mut ours = Status::default();
        for (_, control, _) in controls.iter().rev() {
            ours.put(installed(control, &dpkgs));
        }
        assert_eq!(String::from_utf8_lossy(&ours.render()), String::from_utf8_lossy(&written));

        let deb = build_deb(dir.path(), "judge-2", &judge("2.0-1"), true);
        dpkg(&root, &["-i".as_ref(), deb.as_os_str()]);
        let written = std::fs::read(root.join("var/lib/dpkg/status")).expect("dpkg wrote status");
        let mut before = dpkgs.clone();
        before.put(installed(&judge("2.0-1"), &Status::parse(&written).expect("parses")));
        assert_eq!(String::from_utf8_lossy(&before.render()), String::from_utf8_lossy(&written));
    }

    /// The stanza gild would write for an installed package: its control file, `Status`, and
    /// `Conffiles` as dpkg recorded them (gild computes no md5 here).
    fn installed(control: &str, dpkgs: &Status) -> Stanza {
        let mut stanza = Stanza::parse(control).expect("control parses");
        stanza.set("Status", "install ok installed");
        let arch = stanza.get("Architecture").map(str::to_string);
        let package = stanza.get("Package").unwrap_or_default().to_string();
        let recorded = dpkgs.get(&package, arch.as_deref()).expect("dpkg installed it");
        if let Some(conffiles) = recorded.get("Conffiles") {
            stanza.set("Conffiles", conffiles);
        }
        stanza
    }
}
