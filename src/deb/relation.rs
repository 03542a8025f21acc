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
    #[error("missing package name, or garbage where a package name is expected: `{0}`")]
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
            return Err(RelationError::MissingName(self.rest()));
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
            Some(other) => return Err(RelationError::VersionJunk { name: name.to_string(), found: char::from(other) }),
        }
        self.skip_space();
        let version = Version::parse(&text).map_err(|source| RelationError::BadVersion { name: name.to_string(), source })?;
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
                None => return Err(RelationError::UnclosedRestriction { name: name.to_string(), open: char::from(open) }),
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
    let bad = name.chars().find(|&c| !c.is_ascii_alphanumeric() && !(c.is_ascii() && also.contains(&(c as u8))))?;
    Some(format!("character `{}` not allowed (only letters, digits and `{}`)", bad.escape_debug(), String::from_utf8_lossy(also)))
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
    /// `from_arch` (`all` counts as native)? A real package must match name, version and
    /// architecture; a provider must match architecture (its own, or the one its
    /// `Provides` names) and provide `(= V)` for a versioned atom.
    pub fn satisfies(&self, atom: &Atom, from_arch: &str) -> bool {
        let field = Field::Depends { from_arch };
        let key = lower(&atom.name);
        let real = self.named(&key).any(|pkg| {
            version_holds(atom, &pkg.version) && self.arch_holds(atom, field, pkg.multi_arch, &pkg.arch)
        });
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
    /// `self_name`, that `atom` from a `Conflicts` or `Breaks` of `self_name` hits.
    ///
    /// A package never hits itself, nor through its own `Provides` (the way a package
    /// claims a virtual name alone). Through another's `Provides`, an unversioned atom hits
    /// any provider and a versioned one only a provider of a matching `(= V)`. Unqualified
    /// atoms hit every architecture, so `_from_arch` does not change the answer; it is
    /// taken for symmetry with [`Universe::satisfies`].
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
        let provided = self.by_provided.get(key.as_ref()).into_iter().flatten().copied();
        hit.extend(provided.filter(|&(i, k)| {
            let pkg = &self.pkgs[i];
            !is_self(pkg)
                && provided_satisfies(atom, &pkg.provides[k])
                && self.arch_holds(atom, Field::Conflicts, pkg.multi_arch, &pkg.arch)
        }).map(|(i, _)| i));
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
    atom.version.as_ref().is_none_or(|(op, wanted)| op.matches(installed, wanted))
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
