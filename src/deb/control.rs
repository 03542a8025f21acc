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
    fn package(&self) -> Option<&str> {
        self.get("Package")
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
        "Priority" => word(&["required", "important", "standard", "optional", "extra"])
            .unwrap_or_else(|| value.to_string()),
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
                let package = format!("`{}` (architecture `{}`)", key.0, key.2);
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
            .range(instances(name))
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
        let mut found = self.entries.range(instances(&package.to_ascii_lowercase()));
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
fn instances(name: &str) -> Range<Key> {
    (name.to_string(), false, String::new())..(format!("{name}\0"), false, String::new())
}
