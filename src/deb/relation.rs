//! Relationship fields (`Depends`, `Pre-Depends`, `Conflicts`, `Breaks`, `Provides`,
//! `Replaces`) and whether what is installed satisfies or hits them, as dpkg decides.
//!
//! Parsing follows dpkg's `f_dependency` (lib/dpkg/fields.c); the architecture rules follow
//! `deparchsatisfied` (lib/dpkg/depcon.c) and the use of virtual packages `depisok` and
//! `breakses_ok` (src/main/depcon.c, src/main/packages.c). Package names are compared
//! without regard to ASCII case, as dpkg's package hash does.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::deb::version::{Version, VersionError};

/// A version relation: `<<`, `<=`, `=`, `>=`, `>>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    /// Whether `installed` stands in this relation to `wanted` (`installed >= wanted`, …).
    pub fn matches(self, installed: &Version, wanted: &Version) -> bool {
        let order = installed.cmp(wanted);
        match self {
            Op::Lt => order.is_lt(),
            Op::Le => order.is_le(),
            Op::Eq => order.is_eq(),
            Op::Ge => order.is_ge(),
            Op::Gt => order.is_gt(),
        }
    }

    /// The operator as control files write it today.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One package reference: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    /// The package name, in lower case (dpkg folds it).
    pub name: String,
    /// The architecture qualifier as written: `any`, `amd64`, … (`None`: unqualified).
    pub arch: Option<String>,
    pub version: Option<(Op, Version)>,
}

/// Alternatives of which one must hold: `a | b (>= 1)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub alternatives: Vec<Atom>,
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some((op, version)) = &self.version {
            write!(f, " ({op} {version})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, atom) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{atom}")?;
        }
        Ok(())
    }
}

/// A relationship field dpkg would refuse, naming the text at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    /// Holds where: the text that should have been a name, or "the end of the field".
    #[error("missing package name, or garbage where a package name is expected, at {0}")]
    MissingName(String),
    #[error("invalid package name `{name}`: {why}")]
    BadName { name: String, why: String },
    #[error("reference to `{name}`: missing architecture name after `:`")]
    MissingArch { name: String },
    #[error("reference to `{name}`: invalid architecture name `{arch}`: {why}")]
    BadArch { name: String, arch: String, why: String },
    #[error("reference to `{name}`: bad version relationship `{op}`")]
    BadOp { name: String, op: String },
    #[error("reference to `{name}`: version unterminated")]
    Unterminated { name: String },
    #[error("reference to `{name}`: version contains `{found}` instead of `)`")]
    VersionJunk { name: String, found: char },
    #[error("reference to `{name}`: {source}")]
    BadVersion { name: String, source: VersionError },
    #[error("reference to `{name}`: `{open}` restriction is not closed")]
    UnclosedRestriction { name: String, open: char },
    #[error("syntax error after reference to package `{name}`: `{rest}`")]
    Syntax { name: String, rest: String },
    #[error("alternatives (`|`) are not allowed here, after `{name}`")]
    Alternatives { name: String },
    #[error("unknown Multi-Arch value `{0}` (expected no, same, foreign or allowed)")]
    BadMultiArch(String),
}

/// Parses a `Depends`-style field: relations separated by `,`, alternatives by `|`.
///
/// Whitespace (newlines of folded fields included) may surround every token. Build-profile
/// (`<!nocheck>`) and architecture (`[amd64]`) restrictions, which only source packages
/// carry, are accepted and dropped. An empty field is no relations; an empty relation
/// (`a, , b` or a trailing comma) is an error, as in dpkg. Linear in the field's length.
pub fn parse(field: &str) -> Result<Vec<Relation>, RelationError> {
    let mut parser = Parser { s: field.trim_matches(is_space).as_bytes(), at: 0 };
    let mut relations = Vec::new();
    if parser.s.is_empty() {
        return Ok(relations);
    }
    let mut alternatives = Vec::new();
    loop {
        alternatives.push(parser.atom()?);
        match parser.next_byte() {
            None => break,
            Some(b',') => relations.push(Relation { alternatives: std::mem::take(&mut alternatives) }),
            Some(_) => {} // `|`: the next alternative.
        }
        parser.skip_space();
    }
    relations.push(Relation { alternatives });
    Ok(relations)
}

/// Parses a field where dpkg allows no alternatives: `Conflicts`, `Breaks`, `Provides`,
/// `Replaces`.
pub fn parse_atoms(field: &str) -> Result<Vec<Atom>, RelationError> {
    let mut atoms = Vec::new();
    for mut relation in parse(field)? {
        if relation.alternatives.len() > 1 {
            return Err(RelationError::Alternatives { name: relation.alternatives.swap_remove(0).name });
        }
        atoms.extend(relation.alternatives);
    }
    Ok(atoms)
}

/// dpkg's `c_isspace`: what may surround the tokens of a field.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn is_space_byte(b: u8) -> bool {
    is_space(char::from(b))
}

/// A cursor over a field; every method moves forward only, so parsing is linear.
struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space_byte) {
            self.at += 1;
        }
    }

    /// Text from `from` to the cursor (the field is a `&str`, cut only at ASCII bytes).
    fn text(&self, from: usize) -> String {
        String::from_utf8_lossy(&self.s[from..self.at]).into_owned()
    }

    /// Up to 40 bytes from the cursor on, to show where an error is.
    fn rest(&self) -> String {
        let end = (self.at + 40).min(self.s.len());
        String::from_utf8_lossy(&self.s[self.at..end]).into_owned()
    }

    /// Where the cursor is, for an error: "`text`" or "the end of the field".
    fn place(&self) -> String {
        if self.at < self.s.len() {
            format!("`{}`", self.rest())
        } else {
            "the end of the field".into()
        }
    }

    /// The character at the cursor (which is on a character boundary when called).
    fn current_char(&self) -> char {
        let rest = &self.s[self.at..(self.at + 4).min(self.s.len())];
        let decoded = String::from_utf8_lossy(rest);
        decoded.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER)
    }

    /// Advances over bytes until one of `stops` or whitespace; returns what it passed.
    fn token(&mut self, stops: &[u8]) -> String {
        let from = self.at;
        while self.peek().is_some_and(|b| !is_space_byte(b) && !stops.contains(&b)) {
            self.at += 1;
        }
        self.text(from)
    }

    /// After an atom: the separator (`,` or `|`) consumed, or `None` at the end.
    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    /// `name[:arch] [(op version)] [restrictions]`, and the whitespace after it; stops
    /// before `,`, `|` or the end, and refuses anything else.
    fn atom(&mut self) -> Result<Atom, RelationError> {
        let name = self.token(b":(,|[<");
        if name.is_empty() {
            return Err(RelationError::MissingName(self.place()));
        }
        if let Some(why) = name_problem(&name, b"-+._") {
            return Err(RelationError::BadName { name, why });
        }
        let name = name.to_ascii_lowercase();
        let arch = if self.peek() == Some(b':') { Some(self.arch(&name)?) } else { None };
        self.skip_space();
        let version = if self.peek() == Some(b'(') { Some(self.version(&name)?) } else { None };
        self.skip_restrictions(&name)?;
        match self.peek() {
            None | Some(b',' | b'|') => Ok(Atom { name, arch, version }),
            Some(_) => Err(RelationError::Syntax { name, rest: self.rest() }),
        }
    }

    /// `:arch`, the cursor on the colon.
    fn arch(&mut self, name: &str) -> Result<String, RelationError> {
        self.at += 1;
        let arch = self.token(b"(,|[<");
        if arch.is_empty() {
            return Err(RelationError::MissingArch { name: name.to_string() });
        }
        match name_problem(&arch, b"-") {
            Some(why) => Err(RelationError::BadArch { name: name.to_string(), arch, why }),
            None => Ok(arch),
        }
    }

    /// `(op version)`, the cursor on the parenthesis; leaves it after the whitespace that
    /// follows. A missing operator means `=`, obsolete `<` and `>` mean `<=` and `>=`.
    fn version(&mut self, name: &str) -> Result<(Op, Version), RelationError> {
        self.at += 1;
        self.skip_space();
        let op = self.op(name)?;
        self.skip_space();
        let from = self.at;
        while self.peek().is_some_and(|b| !is_space_byte(b) && b != b')' && b != b'(') {
            self.at += 1;
        }
        let text = self.text(from);
        self.skip_space();
        match self.peek() {
            None => return Err(RelationError::Unterminated { name: name.to_string() }),
            Some(b')') => self.at += 1,
            Some(_) => return Err(RelationError::VersionJunk { name: name.to_string(), found: self.current_char() }),
        }
        self.skip_space();
        let version =
            Version::parse(&text).map_err(|source| RelationError::BadVersion { name: name.to_string(), source })?;
        Ok((op, version))
    }

    /// The relation operator, as dpkg reads it.
    fn op(&mut self, name: &str) -> Result<Op, RelationError> {
        let (first, second) = (self.peek(), self.s.get(self.at + 1).copied());
        let (op, len) = match (first, second) {
            (Some(b'<'), Some(b'<')) => (Op::Lt, 2),
            (Some(b'>'), Some(b'>')) => (Op::Gt, 2),
            (Some(b'<'), Some(b'=')) => (Op::Le, 2),
            (Some(b'>'), Some(b'=')) => (Op::Ge, 2),
            (Some(b'<' | b'>'), Some(b'<' | b'>')) => {
                let op = String::from_utf8_lossy(&self.s[self.at..self.at + 2]).into_owned();
                return Err(RelationError::BadOp { name: name.to_string(), op });
            }
            (Some(b'<'), _) => (Op::Le, 1),
            (Some(b'>'), _) => (Op::Ge, 1),
            (Some(b'='), _) => (Op::Eq, 1),
            _ => (Op::Eq, 0),
        };
        self.at += len;
        Ok(op)
    }

    /// Drops `[arch …]` and `<profile …>` groups (and the whitespace after each).
    fn skip_restrictions(&mut self, name: &str) -> Result<(), RelationError> {
        while let Some(open @ (b'[' | b'<')) = self.peek() {
            let close = if open == b'[' { b']' } else { b'>' };
            match self.s[self.at..].iter().position(|&b| b == close) {
                Some(len) => self.at += len + 1,
                None => {
                    return Err(RelationError::UnclosedRestriction { name: name.to_string(), open: char::from(open) })
                }
            }
            self.skip_space();
        }
        Ok(())
    }
}

/// dpkg's rule for package (`also` = `-+._`) and architecture (`-`) names: not empty,
/// starting with an ASCII letter or digit, then those or `also`.
fn name_problem(name: &str, also: &[u8]) -> Option<String> {
    let first = name.bytes().next()?;
    if !first.is_ascii_alphanumeric() {
        return Some("must start with an alphanumeric character".into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || u8::try_from(c).is_ok_and(|b| also.contains(&b));
    let bad = name.chars().find(|&c| !allowed(c))?;
    Some(format!(
        "character `{}` not allowed (only letters, digits and `{}`)",
        bad.escape_debug(),
        String::from_utf8_lossy(also)
    ))
}

/// A package's `Multi-Arch` field (absent means `No`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MultiArch {
    #[default]
    No,
    Same,
    Foreign,
    Allowed,
}

impl FromStr for MultiArch {
    type Err = RelationError;

    fn from_str(s: &str) -> Result<MultiArch, RelationError> {
        match s.trim_matches(is_space) {
            "no" => Ok(MultiArch::No),
            "same" => Ok(MultiArch::Same),
            "foreign" => Ok(MultiArch::Foreign),
            "allowed" => Ok(MultiArch::Allowed),
            other => Err(RelationError::BadMultiArch(other.to_string())),
        }
    }
}

/// What one installed package offers to relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    /// `amd64`, `all`, …
    pub arch: String,
    pub multi_arch: MultiArch,
    pub version: Version,
    /// The parsed `Provides` field: names, each with an optional `(= V)`.
    pub provides: Vec<Atom>,
}

/// The installed packages, indexed by name and by provided name, so that a lookup costs
/// the packages of that name, not all of them.
#[derive(Debug, Clone)]
pub struct Universe {
    pkgs: Vec<Installed>,
    native: String,
    /// Lower-cased name → indices into `pkgs`.
    by_name: HashMap<String, Vec<usize>>,
    /// Lower-cased provided name → (index into `pkgs`, index into its `provides`).
    by_provided: HashMap<String, Vec<(usize, usize)>>,
}

/// An architecture as dpkg's `deparchsatisfied` compares them: `all` (and none) stand for
/// the native architecture, `any` is a wildcard, anything else is itself (so `native`,
/// which only source packages know, names no binary package's architecture).
#[derive(Debug, PartialEq, Eq)]
enum Arch<'a> {
    Wildcard,
    Named(&'a str),
}

/// Which kind of field an atom comes from: dpkg gives unqualified `Conflicts`/`Breaks`
/// atoms the wildcard architecture, and unqualified `Depends` atoms the depender's.
#[derive(Clone, Copy)]
enum Field<'a> {
    Depends { from_arch: &'a str },
    Conflicts,
}

impl Universe {
    /// Indexes `pkgs`; `native_arch` is the image's (`dpkg --print-architecture`).
    pub fn new(pkgs: Vec<Installed>, native_arch: &str) -> Universe {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_provided: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (i, pkg) in pkgs.iter().enumerate() {
            by_name.entry(pkg.name.to_ascii_lowercase()).or_default().push(i);
            for (k, provided) in pkg.provides.iter().enumerate() {
                by_provided.entry(provided.name.to_ascii_lowercase()).or_default().push((i, k));
            }
        }
        Universe { pkgs, native: native_arch.to_string(), by_name, by_provided }
    }

    /// The installed packages, in the order given.
    pub fn packages(&self) -> &[Installed] {
        &self.pkgs
    }

    /// Does some installed package satisfy `atom`, for a depender of architecture
    /// `from_arch`? As when dpkg configures the depender (`dependencies_ok`).
    ///
    /// A real package must match name, version and architecture; a provider must match
    /// architecture (its own, or the one its `Provides` names) and, for a versioned atom,
    /// provide a `(= V)` that satisfies it. Architectures follow dpkg, not intuition: `all`
    /// (of either side) stands for the native architecture, so a foreign-arch depender is
    /// not served by an arch-`all` package unless it is `Multi-Arch: foreign`; unqualified
    /// atoms accept any arch from `Multi-Arch: foreign` packages; `:any` accepts only
    /// `Multi-Arch: allowed` ones (of any arch, but not others of the same arch); and
    /// `:native` names no architecture of a binary package, so it is never satisfied.
    pub fn satisfies(&self, atom: &Atom, from_arch: &str) -> bool {
        let field = Field::Depends { from_arch };
        let key = lower(&atom.name);
        let real = self
            .named(&key)
            .any(|pkg| version_holds(atom, &pkg.version) && self.arch_holds(atom, field, pkg.multi_arch, &pkg.arch));
        real || self.providers(&key).any(|(pkg, provided)| {
            let provided_arch = provided.arch.as_deref().unwrap_or(&pkg.arch);
            provided_satisfies(atom, provided) && self.arch_holds(atom, field, pkg.multi_arch, provided_arch)
        })
    }

    /// Whether any alternative of `relation` is satisfied (see [`Universe::satisfies`]).
    pub fn satisfies_relation(&self, relation: &Relation, from_arch: &str) -> bool {
        relation.alternatives.iter().any(|atom| self.satisfies(atom, from_arch))
    }

    /// The installed packages, as (name, arch) in the order given, other than those named
    /// `self_name`, that `atom` from a `Conflicts` or `Breaks` of `self_name` hits, as dpkg
    /// decides when it unpacks `self_name` (`depisok`).
    ///
    /// A package never hits itself, nor through its own `Provides` (the way a package
    /// claims a virtual name alone). A real package must match version and architecture,
    /// where an unqualified atom means every architecture. Through another's `Provides`, an
    /// unversioned atom hits any provider and a versioned one only a provider of a matching
    /// `(= V)`, whatever the architectures. So `_from_arch` does not change the answer; it
    /// is taken for symmetry with [`Universe::satisfies`].
    pub fn hits(&self, atom: &Atom, self_name: &str, _from_arch: &str) -> Vec<(String, String)> {
        let key = lower(&atom.name);
        let self_key = lower(self_name);
        let is_self = |pkg: &Installed| lower(&pkg.name) == self_key;
        let mut hit: Vec<usize> = Vec::new();
        if key != self_key {
            let real = self.by_name.get(key.as_ref()).into_iter().flatten().copied();
            hit.extend(real.filter(|&i| {
                let pkg = &self.pkgs[i];
                version_holds(atom, &pkg.version) && self.arch_holds(atom, Field::Conflicts, pkg.multi_arch, &pkg.arch)
            }));
        }
        // As in dpkg's `depisok`, a provider's architecture is not looked at.
        let provided = self.by_provided.get(key.as_ref()).into_iter().flatten().copied();
        hit.extend(
            provided
                .filter(|&(i, k)| {
                    let pkg = &self.pkgs[i];
                    !is_self(pkg) && provided_satisfies(atom, &pkg.provides[k])
                })
                .map(|(i, _)| i),
        );
        hit.sort_unstable();
        hit.dedup();
        hit.into_iter().map(|i| (self.pkgs[i].name.clone(), self.pkgs[i].arch.clone())).collect()
    }

    fn named<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a Installed> + 'a {
        self.by_name.get(key).into_iter().flatten().map(|&i| &self.pkgs[i])
    }

    fn providers<'a>(&'a self, key: &str) -> impl Iterator<Item = (&'a Installed, &'a Atom)> + 'a {
        self.by_provided.get(key).into_iter().flatten().map(|&(i, k)| (&self.pkgs[i], &self.pkgs[i].provides[k]))
    }

    /// dpkg's `deparchsatisfied`: whether a candidate of `multi_arch`, offering `cand_arch`,
    /// meets the architecture of `atom` from a field of kind `field`.
    fn arch_holds(&self, atom: &Atom, field: Field<'_>, multi_arch: MultiArch, cand_arch: &str) -> bool {
        if atom.arch.is_none() && multi_arch == MultiArch::Foreign {
            return true;
        }
        let wanted = match (&atom.arch, field) {
            (Some(arch), _) => self.resolve(arch),
            (None, Field::Depends { from_arch }) => self.resolve(from_arch),
            (None, Field::Conflicts) => Arch::Wildcard,
        };
        if wanted == Arch::Wildcard && (multi_arch == MultiArch::Allowed || matches!(field, Field::Conflicts)) {
            return true;
        }
        wanted == self.resolve(cand_arch)
    }

    fn resolve<'a>(&'a self, arch: &'a str) -> Arch<'a> {
        match arch {
            "any" => Arch::Wildcard,
            "" | "all" => Arch::Named(&self.native),
            other => Arch::Named(other),
        }
    }
}

/// The name as dpkg's package hash sees it.
fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// Whether a real package's version meets the atom's relation (any, if unversioned).
fn version_holds(atom: &Atom, installed: &Version) -> bool {
    match &atom.version {
        None => true,
        Some((op, wanted)) => op.matches(installed, wanted),
    }
}

/// dpkg's `pkg_virtual_deppossi_satisfied`: an unversioned `Provides` meets only
/// unversioned atoms; `Provides: x (= V)` meets those V satisfies; any other operator in
/// `Provides` (which dpkg warns about) meets nothing.
fn provided_satisfies(atom: &Atom, provided: &Atom) -> bool {
    match (&provided.version, &atom.version) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some((Op::Eq, _)), None) => true,
        (Some((Op::Eq, offered)), Some((op, wanted))) => op.matches(offered, wanted),
        (Some(_), _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::{require, Need};

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rels(field: &str) -> Vec<Relation> {
        parse(field).unwrap_or_else(|e| panic!("{field}: {e}"))
    }

    fn atom(text: &str) -> Atom {
        let mut atoms = parse_atoms(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(atoms.len(), 1, "{text}");
        atoms.remove(0)
    }

    fn err(field: &str) -> RelationError {
        match parse(field) {
            Ok(parsed) => panic!("`{field}` parsed as {parsed:?}"),
            Err(e) => e,
        }
    }

    fn rendered(field: &str) -> String {
        rels(field).iter().map(Relation::to_string).collect::<Vec<_>>().join(", ")
    }

    /// An installed package: `pkg("foo", "amd64", MultiArch::No, "1.0", "bar, baz (= 2)")`.
    fn pkg(name: &str, arch: &str, multi_arch: MultiArch, version: &str, provides: &str) -> Installed {
        let provides = parse_atoms(provides).unwrap_or_else(|e| panic!("{provides}: {e}"));
        Installed { name: name.into(), arch: arch.into(), multi_arch, version: v(version), provides }
    }

    fn universe(pkgs: Vec<Installed>) -> Universe {
        Universe::new(pkgs, "amd64")
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, a)| (n.to_string(), a.to_string())).collect()
    }

    #[test]
    fn fields_render_canonically() {
        assert_eq!(rendered("libc6 (>= 2.36)"), "libc6 (>= 2.36)");
        assert_eq!(rendered("a|b(>=1),c:any ( <<2~ ),\n d:amd64"), "a | b (>= 1), c:any (<< 2~), d:amd64");
        assert_eq!(rendered("  Foo-Bar  "), "foo-bar");
        assert_eq!(rendered(""), "");
        assert_eq!(rendered(" \n "), "");
    }

    #[test]
    fn alternatives_group_within_commas() {
        let parsed = rels("a | b (>= 1), c");
        assert_eq!(parsed.len(), 2);
        let names: Vec<&str> = parsed[0].alternatives.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(parsed[0].alternatives[1].version, Some((Op::Ge, v("1"))));
    }

    #[test]
    fn operators_read_as_dpkg_reads_them() {
        let op = |text: &str| atom(text).version.map(|(op, _)| op);
        assert_eq!(op("a (<< 1)"), Some(Op::Lt));
        assert_eq!(op("a (<= 1)"), Some(Op::Le));
        assert_eq!(op("a (= 1)"), Some(Op::Eq));
        assert_eq!(op("a (>= 1)"), Some(Op::Ge));
        assert_eq!(op("a (>> 1)"), Some(Op::Gt));
        // Obsolete: `<` and `>` mean `<=` and `>=`; no operator means `=`.
        assert_eq!(op("a (< 1)"), Some(Op::Le));
        assert_eq!(op("a (>1)"), Some(Op::Ge));
        assert_eq!(op("a (1)"), Some(Op::Eq));
        assert_eq!(op("a"), None);
    }

    #[test]
    fn restrictions_of_source_packages_are_dropped() {
        assert_eq!(
            rendered("foo [amd64 i386] <!nocheck>, bar (>= 1) [!i386] <stage1> <!nocheck cross>, baz:any<x>"),
            "foo, bar (>= 1), baz:any"
        );
    }

    #[test]
    fn bad_fields_are_refused_naming_the_text() {
        assert!(matches!(err("a,"), RelationError::MissingName(_)));
        assert!(matches!(err("a, , b"), RelationError::MissingName(_)));
        assert!(matches!(err("a |"), RelationError::MissingName(_)));
        assert!(matches!(err("(>= 1)"), RelationError::MissingName(_)));
        assert!(matches!(err("a_b?"), RelationError::BadName { name, .. } if name == "a_b?"));
        assert!(matches!(err("-a"), RelationError::BadName { .. }));
        assert!(matches!(err("a:"), RelationError::MissingArch { .. }));
        assert!(matches!(err("a:amd_64"), RelationError::BadArch { arch, .. } if arch == "amd_64"));
        assert!(matches!(err("a (<> 1)"), RelationError::BadOp { op, .. } if op == "<>"));
        assert!(matches!(err("a (>= 1"), RelationError::Unterminated { .. }));
        assert!(matches!(err("a (>= 1 2)"), RelationError::VersionJunk { found: '2', .. }));
        assert!(matches!(err("a (>= 1 é)"), RelationError::VersionJunk { found: 'é', .. }));
        assert!(matches!(err("a (>= )"), RelationError::BadVersion { .. }));
        assert!(matches!(err("a (>= 1.0-)"), RelationError::BadVersion { .. }));
        assert!(matches!(err("a [amd64"), RelationError::UnclosedRestriction { open: '[', .. }));
        assert!(matches!(err("a b"), RelationError::Syntax { name, rest } if name == "a" && rest == "b"));
        assert!(matches!(err("a :amd64"), RelationError::Syntax { .. }));
        let alternatives = parse_atoms("a, b | c").map(|_| ()).unwrap_err();
        assert_eq!(alternatives, RelationError::Alternatives { name: "b".into() });
        assert!(err("a |").to_string().ends_with("at the end of the field"), "{}", err("a |"));
        assert!(err("a, (>= 1)").to_string().ends_with("at `(>= 1)`"), "{}", err("a, (>= 1)"));
        let message = err("libc6 (>= 2.36-)").to_string();
        assert_eq!(message, "reference to `libc6`: bad version `2.36-`: revision number is empty");
    }

    #[test]
    fn huge_fields_parse_in_linear_time() {
        let field = vec!["pkg (>= 1.0) | other:any"; 50_000].join(",\n ");
        assert_eq!(rels(&field).len(), 50_000);
        let unclosed = format!("a {}", "[".repeat(100_000));
        assert!(matches!(err(&unclosed), RelationError::UnclosedRestriction { .. }));
    }

    #[test]
    fn real_packages_satisfy_by_name_version_and_arch() {
        let u = universe(vec![pkg("libc6", "amd64", MultiArch::Same, "2.36-9", "")]);
        assert!(u.satisfies(&atom("libc6 (>= 2.36)"), "amd64"));
        assert!(u.satisfies(&atom("LibC6"), "amd64"));
        assert!(!u.satisfies(&atom("libc6 (>= 2.37)"), "amd64"));
        assert!(!u.satisfies(&atom("libc6 (<< 2.36-9)"), "amd64"));
        assert!(!u.satisfies(&atom("libc6"), "i386"), "Multi-Arch: same serves its own arch only");
        assert!(u.satisfies(&atom("libc6:amd64"), "i386"));
        assert!(!u.satisfies(&atom("libc6:i386"), "amd64"));
        assert!(!u.satisfies(&atom("glibc"), "amd64"));
    }

    #[test]
    fn one_satisfied_alternative_is_enough() {
        let u = universe(vec![pkg("mawk", "amd64", MultiArch::No, "1.3.4", "awk")]);
        assert!(u.satisfies_relation(&rels("gawk | mawk (>= 1.3)")[0], "amd64"));
        assert!(u.satisfies_relation(&rels("gawk | awk")[0], "amd64"));
        assert!(!u.satisfies_relation(&rels("gawk | mawk (>= 2)")[0], "amd64"));
    }

    #[test]
    fn provides_satisfy_versioned_atoms_only_with_an_exact_version() {
        let u = universe(vec![
            pkg("postfix", "amd64", MultiArch::No, "3.7", "mail-transport-agent"),
            pkg("libfoo-dev", "amd64", MultiArch::No, "5", "libfoo-api (= 2.1)"),
        ]);
        assert!(u.satisfies(&atom("mail-transport-agent"), "amd64"));
        assert!(!u.satisfies(&atom("mail-transport-agent (>= 1)"), "amd64"));
        assert!(u.satisfies(&atom("libfoo-api"), "amd64"));
        assert!(u.satisfies(&atom("libfoo-api (>= 2)"), "amd64"));
        assert!(u.satisfies(&atom("libfoo-api (= 2.1)"), "amd64"));
        assert!(!u.satisfies(&atom("libfoo-api (>= 3)"), "amd64"), "the provider's own version 5 does not count");
        assert!(!u.satisfies(&atom("libfoo-api"), "i386"), "a provider keeps its architecture");
    }

    #[test]
    fn any_wants_multi_arch_allowed() {
        let u = universe(vec![
            pkg("python3", "amd64", MultiArch::Allowed, "3.11", ""),
            pkg("perl", "amd64", MultiArch::No, "5.36", ""),
            pkg("make", "amd64", MultiArch::Foreign, "4.3", ""),
        ]);
        assert!(u.satisfies(&atom("python3:any"), "i386"));
        assert!(u.satisfies(&atom("python3:any (>= 3.9)"), "amd64"));
        assert!(u.satisfies(&atom("python3"), "amd64"));
        assert!(!u.satisfies(&atom("python3"), "i386"), "allowed is not foreign");
        assert!(
            !u.satisfies(&atom("perl:any"), "amd64"),
            "dpkg: `:any` needs Multi-Arch: allowed, even on the same arch"
        );
        assert!(!u.satisfies(&atom("make:any"), "amd64"), "nor does foreign do");
    }

    #[test]
    fn multi_arch_foreign_serves_every_arch() {
        let u = universe(vec![pkg("make", "amd64", MultiArch::Foreign, "4.3", "build-tool")]);
        assert!(u.satisfies(&atom("make"), "i386"));
        assert!(u.satisfies(&atom("make (>= 4)"), "arm64"));
        assert!(u.satisfies(&atom("build-tool"), "i386"), "its provides too");
        assert!(!u.satisfies(&atom("make:i386"), "i386"), "an explicit arch is taken literally");
    }

    #[test]
    fn arch_all_counts_as_native() {
        let u = universe(vec![pkg("tzdata", "all", MultiArch::No, "2024a", "")]);
        assert!(u.satisfies(&atom("tzdata"), "amd64"));
        assert!(u.satisfies(&atom("tzdata"), "all"));
        assert!(u.satisfies(&atom("tzdata:amd64"), "i386"));
        assert!(!u.satisfies(&atom("tzdata"), "i386"), "dpkg treats arch all as native, so foreign dependers miss it");
        let foreign_all = universe(vec![pkg("tzdata", "all", MultiArch::Foreign, "2024a", "")]);
        assert!(foreign_all.satisfies(&atom("tzdata"), "i386"));
    }

    #[test]
    fn native_is_not_an_architecture_dpkg_knows_in_binary_packages() {
        let u = universe(vec![pkg("gcc", "amd64", MultiArch::No, "12", "")]);
        assert!(!u.satisfies(&atom("gcc:native"), "amd64"));
    }

    #[test]
    fn conflicts_never_hit_their_own_package() {
        let u = universe(vec![
            pkg("postfix", "amd64", MultiArch::No, "3.7", "mail-transport-agent"),
            pkg("exim4", "amd64", MultiArch::No, "4.96", "mail-transport-agent"),
            pkg("libx", "amd64", MultiArch::Same, "1", ""),
            pkg("libx", "i386", MultiArch::Same, "1", ""),
        ]);
        let mta = atom("mail-transport-agent");
        assert_eq!(u.hits(&mta, "postfix", "amd64"), pairs(&[("exim4", "amd64")]));
        assert_eq!(u.hits(&mta, "sendmail", "amd64"), pairs(&[("postfix", "amd64"), ("exim4", "amd64")]));
        assert!(u.hits(&atom("libx"), "libx", "i386").is_empty(), "nor another arch of itself");
        assert!(u.hits(&atom("postfix"), "Postfix", "amd64").is_empty());
    }

    #[test]
    fn conflicts_hit_every_architecture_unless_qualified() {
        let u = universe(vec![
            pkg("libx", "amd64", MultiArch::Same, "1", ""),
            pkg("libx", "i386", MultiArch::Same, "1", ""),
        ]);
        assert_eq!(u.hits(&atom("libx"), "liby", "amd64"), pairs(&[("libx", "amd64"), ("libx", "i386")]));
        assert_eq!(u.hits(&atom("libx:i386"), "liby", "amd64"), pairs(&[("libx", "i386")]));
        assert_eq!(u.hits(&atom("libx:any"), "liby", "amd64").len(), 2);
    }

    #[test]
    fn breaks_with_a_version_range_hit_only_inside_it() {
        let old = universe(vec![pkg("foo", "amd64", MultiArch::No, "1.5", "")]);
        let rc = universe(vec![pkg("foo", "amd64", MultiArch::No, "2.0~rc1", "")]);
        let new = universe(vec![pkg("foo", "amd64", MultiArch::No, "2.0", "")]);
        let breaks = atom("foo (<< 2.0)");
        assert_eq!(old.hits(&breaks, "bar", "amd64"), pairs(&[("foo", "amd64")]));
        assert_eq!(rc.hits(&breaks, "bar", "amd64"), pairs(&[("foo", "amd64")]));
        assert!(new.hits(&breaks, "bar", "amd64").is_empty());
        let range: Vec<Atom> = parse_atoms("foo (>= 1.0), foo (<< 1.8)").unwrap_or_else(|e| panic!("{e}"));
        let hit_by_all = |u: &Universe| range.iter().all(|a| !u.hits(a, "bar", "amd64").is_empty());
        assert!(hit_by_all(&old));
        assert!(!hit_by_all(&new));
    }

    #[test]
    fn versioned_conflicts_through_provides_need_a_matching_exact_version() {
        let u = universe(vec![
            pkg("a", "amd64", MultiArch::No, "9", "virt"),
            pkg("b", "amd64", MultiArch::No, "9", "virt (= 1.0)"),
            pkg("c", "amd64", MultiArch::No, "9", "virt (= 3.0)"),
        ]);
        assert_eq!(u.hits(&atom("virt (<< 2)"), "z", "amd64"), pairs(&[("b", "amd64")]));
        assert_eq!(u.hits(&atom("virt"), "z", "amd64").len(), 3);
    }

    #[test]
    fn a_package_hit_twice_is_listed_once() {
        let u = universe(vec![pkg("foo", "amd64", MultiArch::No, "1", "foo, foo (= 1)")]);
        assert_eq!(u.hits(&atom("foo"), "bar", "amd64"), pairs(&[("foo", "amd64")]));
    }

    #[test]
    fn multi_arch_values_parse() {
        assert_eq!("foreign".parse::<MultiArch>(), Ok(MultiArch::Foreign));
        assert_eq!(" same\n".parse::<MultiArch>(), Ok(MultiArch::Same));
        assert!(matches!("Foreign".parse::<MultiArch>(), Err(RelationError::BadMultiArch(s)) if s == "Foreign"));
    }

    // The judges: dpkg itself, on a throwaway root. `dpkg --no-act --configure` of a package
    // left unpacked checks its Depends (`dependencies_ok`); `dpkg --no-act --unpack` of a
    // package with Conflicts or Breaks lists what they hit (`depisok`).

    /// A small deterministic generator (xorshift64*), so that a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// Installed packages named `p` and `q` (one of them perhaps in two architectures),
    /// some providing `v` or `q`, in every Multi-Arch flavour dpkg accepts.
    fn random_world(rng: &mut Rng) -> Vec<Installed> {
        const VERSIONS: &[&str] = &["1.0", "2.0", "1.0~rc1"];
        let mut world = Vec::new();
        for name in ["p", "q"] {
            if rng.below(5) == 0 {
                continue;
            }
            let arch = rng.pick(&["amd64", "i386", "all"]);
            let flavours: &[MultiArch] = if arch == "all" {
                &[MultiArch::No, MultiArch::Foreign, MultiArch::Allowed]
            } else {
                &[MultiArch::No, MultiArch::Same, MultiArch::Foreign, MultiArch::Allowed]
            };
            let multi_arch = flavours[rng.below(flavours.len())];
            let version = rng.pick(VERSIONS);
            let mut provides = rng.pick(&["", "", "v", "v (= 1.0)", "v (= 2.0)"]).to_string();
            if name == "p" && rng.below(4) == 0 {
                provides = if provides.is_empty() { "q".into() } else { format!("{provides}, q") };
            }
            world.push(pkg(name, arch, multi_arch, version, &provides));
            if multi_arch == MultiArch::Same && rng.below(2) == 0 {
                let other = if arch == "amd64" { "i386" } else { "amd64" };
                world.push(pkg(name, other, multi_arch, version, &provides));
            }
        }
        world
    }

    fn random_atom(rng: &mut Rng) -> String {
        let name = rng.pick(&["p", "q", "v"]);
        let arch = rng.pick(&["", "", "", ":any", ":amd64", ":i386", ":all", ":native"]);
        let version = match rng.below(6) {
            0..=2 => String::new(),
            _ => format!(" ({} {})", rng.pick(&["<<", "<=", "=", ">=", ">>"]), rng.pick(&["1.0", "2.0", "1.0~"])),
        };
        format!("{name}{arch}{version}")
    }

    fn stanza(p: &Installed, status: &str, extra: &str) -> String {
        let multi_arch = match p.multi_arch {
            MultiArch::No => "no",
            MultiArch::Same => "same",
            MultiArch::Foreign => "foreign",
            MultiArch::Allowed => "allowed",
        };
        let provides: Vec<String> = p.provides.iter().map(Atom::to_string).collect();
        format!(
            "Package: {}\nStatus: install ok {status}\nArchitecture: {}\nMulti-Arch: {multi_arch}\n\
             Version: {}\nMaintainer: m <m@example.org>\nDescription: d\nProvides: {}\n{extra}\n",
            p.name,
            p.arch,
            p.version,
            provides.join(", ")
        )
        .replace("Provides: \n", "")
    }

    /// A dpkg root whose database holds `stanzas`, with i386 as a foreign architecture.
    fn dpkg_root(stanzas: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let admin = root.path().join("var/lib/dpkg");
        for dir in ["info", "updates", "triggers"] {
            std::fs::create_dir_all(admin.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        }
        for (file, text) in [("status", stanzas), ("arch", "amd64\ni386\n"), ("available", "")] {
            std::fs::write(admin.join(file), text).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        root
    }

    /// Runs dpkg on `root` with `args`; returns whether it succeeded, and its output.
    fn dpkg(root: &std::path::Path, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args(["--log=/dev/null", "--no-act"])
            .env("LC_ALL", "C")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run dpkg: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// Runs `case(seed)` for `n` seeds on four threads, each case saying whether the
    /// relation held (`Ok`) or how gild and dpkg disagree (`Err`). Fails on any
    /// disagreement, and unless the relation held in some cases and not in others.
    fn judge_cases(n: u64, case: fn(u64) -> Result<bool, String>) {
        let results: Vec<Result<bool, String>> = std::thread::scope(|scope| {
            let workers: Vec<_> =
                (0..4).map(|t| scope.spawn(move || (t..n).step_by(4).map(case).collect::<Vec<_>>())).collect();
            workers.into_iter().flat_map(|w| w.join().expect("judge worker")).collect()
        });
        let held = results.iter().filter(|r| matches!(r, Ok(true))).count();
        let disagreements: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        println!("judged {n} cases with dpkg: {held} held, {} disagreements", disagreements.len());
        assert!(disagreements.is_empty(), "{} disagreements:\n{disagreements:#?}", disagreements.len());
        assert!(held > n as usize / 10 && held < n as usize * 9 / 10, "the cases are too one-sided to judge");
    }

    /// One Depends atom from a depender `foo` of a random arch, against a random world.
    fn depends_case(seed: u64) -> Result<bool, String> {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (seed + 1).wrapping_mul(0x2545_f491));
        let world = random_world(&mut rng);
        let text = random_atom(&mut rng);
        let from_arch = rng.pick(&["amd64", "i386", "all"]);
        let ours = universe(world.clone()).satisfies(&atom(&text), from_arch);
        let foo = pkg("foo", from_arch, MultiArch::No, "1", "");
        let mut db = stanza(&foo, "unpacked", &format!("Depends: {text}\n"));
        db.extend(world.iter().map(|p| stanza(p, "installed", "")));
        let root = dpkg_root(&db);
        let target = if from_arch == "i386" { "foo:i386" } else { "foo" };
        let (theirs, output) = dpkg(root.path(), &["--configure", target]);
        if ours != theirs {
            return Err(format!("Depends: {text} from {from_arch}: dpkg {theirs}, gild {ours}\n{db}{output}"));
        }
        Ok(ours)
    }

    /// 160 Depends atoms against `dpkg --configure`: real packages, provides, every
    /// Multi-Arch value and architecture qualifier.
    #[test]
    #[cfg_attr(gild_no_dpkg, ignore = "dpkg not installed")]
    fn satisfies_agrees_with_dpkg() {
        require(&[Need::Dpkg]);
        judge_cases(160, depends_case);
    }

    /// How dpkg names a package in messages (`pnaw_nonambig`).
    fn nonambiguous(name: &str, arch: &str, multi_arch: MultiArch) -> String {
        if multi_arch == MultiArch::Same || !matches!(arch, "amd64" | "all") {
            format!("{name}:{arch}")
        } else {
            name.to_string()
        }
    }

    /// A `Conflicts` or `Breaks` atom of a new package `z` (which may provide `v` itself),
    /// against a random world: the packages dpkg names as hit, and ours.
    fn conflicts_case(seed: u64) -> Result<bool, String> {
        let mut rng = Rng(0x51_7cc1_b727_220a ^ (seed + 1).wrapping_mul(0x2545_f491));
        let mut world = random_world(&mut rng);
        let text = random_atom(&mut rng);
        let field = rng.pick(&["Conflicts", "Breaks"]);
        let z = pkg("z", "amd64", MultiArch::No, "1", rng.pick(&["", "v", "v (= 1.0)"]));
        let root = dpkg_root(&world.iter().map(|p| stanza(p, "installed", "")).collect::<String>());
        let control =
            stanza(&z, "installed", &format!("{field}: {text}\n")).replace("Status: install ok installed\n", "");
        let deb = build_deb(root.path(), &control);
        let (_, output) = dpkg(root.path(), &["--unpack", &deb]);
        let mut theirs: Vec<String> = output
            .lines()
            .filter(|l| l.starts_with("  ") && l.contains(" is present and "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        theirs.sort();
        world.push(z);
        let by_arch: HashMap<(String, String), MultiArch> =
            world.iter().map(|p| ((p.name.clone(), p.arch.clone()), p.multi_arch)).collect();
        let hits = universe(world).hits(&atom(&text), "z", "amd64");
        let mut ours: Vec<String> =
            hits.iter().map(|(n, a)| nonambiguous(n, a, by_arch[&(n.clone(), a.clone())])).collect();
        ours.sort();
        if ours != theirs {
            return Err(format!("{field}: {text}: dpkg {theirs:?}, gild {ours:?}\n{control}{output}"));
        }
        Ok(!ours.is_empty())
    }

    /// Builds `z.deb` from a control stanza, in `dir`; returns its path.
    fn build_deb(dir: &std::path::Path, control: &str) -> String {
        let tree = dir.join("z");
        std::fs::create_dir_all(tree.join("DEBIAN")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(tree.join("DEBIAN/control"), control).unwrap_or_else(|e| panic!("{e}"));
        let deb = dir.join("z.deb").display().to_string();
        let built = std::process::Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Znone", "--build"])
            .arg(&tree)
            .arg(&deb)
            .output()
            .unwrap_or_else(|e| panic!("cannot run dpkg-deb: {e}"));
        assert!(built.status.success(), "dpkg-deb: {}", String::from_utf8_lossy(&built.stderr));
        deb
    }

    /// 80 Conflicts and Breaks atoms against `dpkg --unpack`: what they hit, by name and
    /// architecture, real or through provides, never the package itself.
    #[test]
    #[cfg_attr(gild_no_dpkg, ignore = "dpkg not installed")]
    fn hits_agree_with_dpkg() {
        require(&[Need::Dpkg]);
        judge_cases(80, conflicts_case);
    }
}
